// Test runner: runs every case (or those named on the command line) and prints the closing line.
#include "tests/harness.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int lra_test_failed_ = 0;
int lra_test_skipped_ = 0;

void lra_test_fail_(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  %s:%d: ", file, line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    lra_test_failed_++;
}

const char *lra_test_shared_data(void) {
    const char *p = getenv("LRA_SHARED_DATA");
    if (!p) p = "../shared/data";
    return access(p, R_OK) == 0 ? p : NULL;
}

const char *lra_test_fixtures(void) { return "tests/fixtures"; }

const char *lra_test_mkdtemp(char *buf, size_t cap, const char *tag) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, cap, "%s/lra_%s_XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(buf)) {
        fprintf(stderr, "cannot create a temporary directory %s\n", buf);
        abort();
    }
    return buf;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void lra_test_rmtree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int lra_test_main_(int argc, char **argv, const lra_test_case *cases, int n) {
    int passed = 0, failed = 0, skipped = 0;
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    for (int i = 0; i < n; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                if (!strcmp(argv[a], cases[i].name)) wanted = 1;
            if (!wanted) continue;
        }
        lra_test_failed_ = 0;
        lra_test_skipped_ = 0;
        double t0 = now_s();
        lra_test_nested_regions_take(NULL, 0);
        cases[i].fn();
        double dt = now_s() - t0;
        char where[200];
        long nested = lra_test_nested_regions_take(where, sizeof where);
        if (nested) {
            printf("%s.%s: %ld parallel regions opened inside a region that was not taken (spinning threads "
                   "and a second team; open the inner region outside any `parallel if (..)`); first: %s\n",
                   prog, cases[i].name, nested, where);
            lra_test_failed_++;
        }
        if (lra_test_failed_) {
            failed++;
            printf("FAIL %s.%s (%.2fs)\n", prog, cases[i].name, dt);
        } else if (lra_test_skipped_) {
            skipped++;
            printf("skip %s.%s\n", prog, cases[i].name);
        } else {
            passed++;
            printf("ok   %s.%s (%.2fs)\n", prog, cases[i].name, dt);
        }
        fflush(stdout);
    }
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

int lra_test_coretypes(const char **out, int cap) {
    __builtin_cpu_init();
    const int sse3 = __builtin_cpu_supports("sse3"), sse42 = __builtin_cpu_supports("sse4.2");
    const int avx = __builtin_cpu_supports("avx"), avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const struct {
        const char *name;
        int ok;
    } types[] = {{"Prescott", sse3}, {"Nehalem", sse42}, {"Sandybridge", avx}, {"Haswell", avx2},
                 {"Zen", avx2},      {"SkylakeX", avx512}, {"Cooperlake", avx512}};
    int n = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0] && n < cap; i++)
        if (types[i].ok) out[n++] = types[i].name;
    return n;
}

double lra_test_thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
