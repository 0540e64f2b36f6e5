// Replays the fuzz regression corpus with the ordinary build: every file under tests/fuzz/<target>/
// goes through that target's entry point (fuzz/fuzz_<target>.c).  These are inputs that once crashed,
// hung or exhausted memory; each must now be rejected (or accepted) cleanly.  The seed fixtures of each
// target (fuzz/seeds/<target>) go through it too, so every target runs on real files here, and each
// target must have at least one input.  Under `make asan` the same replay runs with the sanitizers.
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "tests/harness.h"

#define LRA_FUZZ(name) int lra_fuzz_##name(const uint8_t *data, size_t size);
#include "fuzz_targets.inc"
#undef LRA_FUZZ

typedef struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} target;

static const target TARGETS[] = {
#define LRA_FUZZ(name) {#name, lra_fuzz_##name},
#include "fuzz_targets.inc"
#undef LRA_FUZZ
};

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_file(const target *t, const char *path) {
    size_t len = 0;
    unsigned char *data = slurp(path, &len);
    CHECK_MSG(data != NULL, "%s: cannot read", path);
    if (data) CHECK_MSG(t->fn(data, len) == 0, "%s: target returned non-zero", path);
    free(data);
}

// Runs the fixture files named by the globs in fuzz/seeds/<name>; returns their number.
static int replay_seeds(const target *t) {
    char list[512], line[512];
    snprintf(list, sizeof list, "fuzz/seeds/%s", t->name);
    FILE *f = fopen(list, "r");
    if (!f) return 0;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        glob_t g;
        if (glob(line, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++, n++) run_file(t, g.gl_pathv[i]);
            globfree(&g);
        }
    }
    fclose(f);
    return n;
}

// Replays tests/fuzz/<name>/* (sorted); returns the number of files replayed.
static int replay(const target *t) {
    char dir[512];
    snprintf(dir, sizeof dir, "tests/fuzz/%s", t->name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        run_file(t, path);
        free(names[i]);
    }
    return n;
}

static void replay_all(void) {
    for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++) {
        const int n = replay(&TARGETS[i]), seeds = replay_seeds(&TARGETS[i]);
        printf("  %-14s %d regression inputs, %d seed fixtures\n", TARGETS[i].name, n, seeds);
        CHECK_MSG(n + seeds > 0, "fuzz target %s has no regression input and no seed fixture", TARGETS[i].name);
    }
}

// Every target also accepts the empty input and one byte without crashing.
static void trivial_inputs(void) {
    static const uint8_t one = 0;
    for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++) {
        CHECK_EQ_INT(TARGETS[i].fn(&one, 0), 0);
        CHECK_EQ_INT(TARGETS[i].fn(&one, 1), 0);
    }
}

static const lra_test_case TESTS[] = {{"replay", replay_all}, {"trivial_inputs", trivial_inputs}};
LRA_TEST_MAIN(TESTS)
