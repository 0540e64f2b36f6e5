// Loading and caching of dataset splits (see load.h); the tasks' sources are tasks/task_*.c.
#include "data/load.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/log.h"
#include "data/cache.h"
#include "data/read_pathfinder.h"

// Bump when a reader's output changes for the same input, so old caches become stale.
#define LRA_READERS_VERSION 1

void lra_load_options_default(lra_load_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->image_pixel_offset = 1;
    opt->pathfinder_seed = LRA_PATHFINDER_SEED;
}

char *lra_data_find_in_release(const char *dir, const char *sub, const char *name) {
    const char *pre[4] = {NULL, "", "lra_release/", "lra_release/lra_release/"};
    for (int k = 0; k < 4; k++) {
        char *p = lra_xmalloc(strlen(dir) + strlen(sub) + strlen(name) + 40);
        if (k == 0)
            sprintf(p, "%s/%s", dir, name);
        else
            sprintf(p, "%s/%s%s/%s", dir, pre[k], sub, name);
        if (lra_path_is_file(p)) return p;
        free(p);
    }
    lra_error(LRA_ERR_IO, "%s: no %s found (looked in it, %s/, lra_release/%s/ and lra_release/lra_release/%s/)", dir,
              name, sub, sub, sub);
    return NULL;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

typedef struct {
    int64_t entries, bytes;
    uint64_t hash;
} tree_sum;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Folds (name, size, mtime) of everything under `path`, `depth` levels down, into `t` in sorted order.
static void sum_tree(const char *path, const char *name, int depth, tree_sum *t) {
    struct stat st;
    if (stat(path, &st) != 0) return;
    int64_t v[2] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
    if (S_ISDIR(st.st_mode)) v[0] = 0;  // directory sizes depend on the file system
    t->hash = fnv1a(t->hash, name, strlen(name) + 1);
    t->hash = fnv1a(t->hash, v, sizeof v);
    t->entries++;
    t->bytes += v[0];
    if (!S_ISDIR(st.st_mode) || depth <= 0) return;
    DIR *d = opendir(path);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = lra_xrealloc(names, cap * sizeof *names);
        }
        names[n++] = lra_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *p = lra_path_join(path, names[i]);
        sum_tree(p, names[i], depth - 1, t);
        free(p);
        free(names[i]);
    }
    free(names);
}

struct lra_data_key {
    FILE *f;            // open_memstream over text
    char *text;
    size_t len;
    int with_state;     // 0: the key hashed into the cache file's name (options only)
    const char *source; // the plan's source, resolved by realpath when possible
};

void lra_data_key_printf(lra_data_key *k, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(k->f, fmt, ap);
    va_end(ap);
}

void lra_data_key_source(lra_data_key *k, const char *sub, int depth) {
    if (!k->with_state) return;
    char *path = sub ? lra_path_join(k->source, sub) : lra_xstrdup(k->source);
    struct stat st;
    if (stat(path, &st) != 0) {
        lra_data_key_printf(k, "source %s: missing\n", path);
    } else if (S_ISREG(st.st_mode)) {
        lra_data_key_printf(k, "source %s: size %lld mtime %lld.%09ld\n", path, (long long)st.st_size,
                            (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    } else {
        tree_sum t = {0, 0, 0xCBF29CE484222325ull};
        sum_tree(path, "", depth, &t);
        lra_data_key_printf(k, "source %s: tree entries %lld bytes %lld hash %016llx\n", path, (long long)t.entries,
                            (long long)t.bytes, (unsigned long long)t.hash);
    }
    free(path);
}

// Checks the path and lets the source find its files.
static lra_status make_plan(const char *task, const lra_data_source *src, const char *path, lra_split split,
                            const lra_load_options *opt, lra_data_plan *p) {
    memset(p, 0, sizeof *p);
    if (!path || !*path) return lra_error(LRA_ERR_ARG, "%s: no data path given", task);
    struct stat sb;
    if (stat(path, &sb) != 0)  // the reason, e.g. "Permission denied" on a folder above it
        return lra_error(LRA_ERR_IO, "%s: %s", path, errno == ENOENT ? "no such file or directory" : strerror(errno));
    return src->plan(path, split, opt, p);
}

// The cache key: every input that changes the reader's output.
static char *make_key(const char *task, const lra_data_source *src, const lra_data_plan *p, lra_split split,
                      const lra_load_options *opt, int with_state) {
    lra_data_key k = {0};
    k.f = open_memstream(&k.text, &k.len);
    LRA_ASSERT_MSG(k.f, "out of memory");
    k.with_state = with_state;
    lra_data_key_printf(&k, "lra dataset cache\nreaders %d\ntask %s\nsplit %s\n", LRA_READERS_VERSION, task,
                        lra_split_name(split));
    char *real = realpath(p->source, NULL);
    k.source = real ? real : p->source;
    lra_data_key_printf(&k, "path %s\n", k.source);
    src->key(p, split, opt, &k);
    const int closed = fclose(k.f);  // finishes k.text
    LRA_ASSERT_MSG(closed == 0 && k.text, "out of memory");
    free(real);
    return k.text;
}

static char *cache_file(const char *task, const lra_data_source *src, const lra_data_plan *p, lra_split split,
                        const lra_load_options *opt) {
    char *id = make_key(task, src, p, split, opt, 0);
    uint64_t h = fnv1a(0xCBF29CE484222325ull, id, strlen(id));
    free(id);
    char name[96];
    snprintf(name, sizeof name, "%s-%s-%016llx.lrac", task, lra_split_name(split), (unsigned long long)h);
    return lra_path_join(opt->cache_dir, name);
}

char *lra_data_cache_path(const char *task, const lra_data_source *src, const char *path, lra_split split,
                          const lra_load_options *opt) {
    if (!opt || !opt->cache_dir) {
        lra_error(LRA_ERR_ARG, "no cache directory set");
        return NULL;
    }
    lra_data_plan p;
    if (make_plan(task, src, path, split, opt, &p) != LRA_OK) {
        free(p.source);
        return NULL;
    }
    char *c = cache_file(task, src, &p, split, opt);
    free(p.source);
    return c;
}

lra_status lra_data_load(const char *task, const lra_data_source *src, const char *path, lra_split split,
                         const lra_load_options *opt, lra_dataset *out) {
    lra_load_options defaults;
    lra_load_options_default(&defaults);
    if (!opt) opt = &defaults;
    memset(out, 0, sizeof *out);
    lra_data_plan p;
    lra_status st = make_plan(task, src, path, split, opt, &p);
    if (st != LRA_OK) {
        free(p.source);
        return lra_error_context(st, "loading %s %s: ", task, lra_split_name(split));
    }
    char *cpath = NULL, *key = NULL;
    if (opt->cache_dir) {
        cpath = cache_file(task, src, &p, split, opt);
        key = make_key(task, src, &p, split, opt, 1);
        st = lra_cache_load(cpath, key, out);
        if (st == LRA_OK) {
            LRA_LOG_I("%s %s: %lld examples from the cache %s", task, lra_split_name(split), (long long)out->count,
                      cpath);
            goto done;
        }
        if (st != LRA_ERR_IO) LRA_LOG_W("%s; rebuilding it", lra_error_message());
    }
    st = src->read(&p, split, opt, out);
    if (st != LRA_OK) {
        lra_error_context(st, "loading %s %s: ", task, lra_split_name(split));
        goto done;
    }
    if (cpath) {
        lra_status cs = lra_path_mkdirs(opt->cache_dir);
        if (cs == LRA_OK) cs = lra_cache_save(cpath, key, out);
        if (cs != LRA_OK)
            LRA_LOG_W("could not write the dataset cache (continuing without it): %s", lra_error_message());
        else
            LRA_LOG_I("%s %s: %lld examples cached in %s", task, lra_split_name(split), (long long)out->count, cpath);
        lra_error_clear();
    }
done:
    free(cpath);
    free(key);
    free(p.source);
    return st;
}

// ---- which data set ---------------------------------------------------------------------------

lra_status lra_data_mark_generated(const char *dir, const char *what) {
    char *path = lra_path_join(dir, LRA_GENERATED_MARKER);
    char line[600];
    snprintf(line, sizeof line, "%s\n", what);
    lra_status st = lra_atomic_write_file(path, line, strlen(line));
    free(path);
    return st;
}

// The first line of DIR/lra-generated.txt into out (1), or 0 when there is no marker.
static int read_marker(const char *dir, char *out, size_t cap) {
    char *path = lra_path_join(dir, LRA_GENERATED_MARKER);
    char *text = NULL;
    size_t n = 0;
    int found = lra_path_is_file(path) && lra_file_read_all(path, &text, &n) == LRA_OK;
    free(path);
    if (!found) return 0;
    size_t k = 0;
    while (k < n && text[k] != '\n' && text[k] != '\r') k++;
    snprintf(out, cap, "generated: %.*s", (int)(k < 400 ? k : 400), text);
    free(text);
    return 1;
}

lra_status lra_data_describe(const char *task, const lra_data_source *src, const char *path,
                             const lra_load_options *opt, char *label, size_t cap) {
    lra_load_options defaults;
    lra_load_options_default(&defaults);
    if (!opt) opt = &defaults;
    label[0] = '\0';
    lra_data_plan p;
    lra_status st = make_plan(task, src, path, LRA_SPLIT_TRAIN, opt, &p);
    if (st != LRA_OK) {
        free(p.source);
        return st;
    }
    // The source may be a file (retrieval, CIFAR-10 archive) or a folder; look beside it and one level up.
    char *d = lra_path_is_dir(p.source) ? lra_xstrdup(p.source) : lra_path_dirname(p.source);
    char *dir = realpath(d, NULL);
    if (!dir) dir = lra_xstrdup(d);
    free(d);
    char *parent = lra_path_dirname(dir);
    if (!read_marker(path, label, cap) && !read_marker(dir, label, cap) && !read_marker(parent, label, cap)) {
        const char *what = src->dataset ? src->dataset(&p) : NULL;
        if (what) snprintf(label, cap, "%s", what);
    }
    free(parent);
    free(dir);
    free(p.source);
    return LRA_OK;
}
