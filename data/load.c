// Task dispatch and caching of dataset splits (see load.h).
#include "data/load.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/fileio.h"
#include "core/log.h"
#include "data/cache.h"
#include "data/read_aan.h"
#include "data/read_cifar.h"
#include "data/read_idx.h"
#include "data/read_imdb.h"
#include "data/read_listops.h"
#include "data/read_pathfinder.h"

// Bump when a reader's output changes for the same input, so old caches become stale.
#define LRA_READERS_VERSION 1

typedef enum { T_LISTOPS, T_TEXT, T_RETRIEVAL, T_IMAGE, T_PATHFINDER, T_PATHX } task_id;
static const char *const TASK_NAME[] = {"listops", "text", "retrieval", "image", "pathfinder", "pathx"};

typedef struct {
    char *s;
    size_t n, cap;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        LRA_ASSERT(k >= 0);
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap ? b->cap : 256) * 2 + (size_t)k;
        b->s = lra_xrealloc(b->s, b->cap);
        b->s[b->n] = '\0';
    }
}

void lra_load_options_default(lra_load_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->image_pixel_offset = 1;
    opt->pathfinder_seed = LRA_PATHFINDER_SEED;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join(const char *a, const char *b) {
    char *p = lra_xmalloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

// Finds `name` in dir, dir/sub, dir/lra_release/sub, dir/lra_release/lra_release/sub (data.md §2).
static char *find_in_release(const char *dir, const char *sub, const char *name) {
    const char *pre[4] = {NULL, "", "lra_release/", "lra_release/lra_release/"};
    for (int k = 0; k < 4; k++) {
        char *p = lra_xmalloc(strlen(dir) + strlen(sub) + strlen(name) + 40);
        if (k == 0)
            sprintf(p, "%s/%s", dir, name);
        else
            sprintf(p, "%s/%s%s/%s", dir, pre[k], sub, name);
        if (is_file(p)) return p;
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
        char *p = join(path, names[i]);
        sum_tree(p, names[i], depth - 1, t);
        free(p);
        free(names[i]);
    }
    free(names);
}

// Adds one line describing the state of a source (a file, or a directory `depth` levels down).
static void key_source(strbuf *key, const char *path, int depth) {
    struct stat st;
    if (stat(path, &st) != 0) {
        sb_printf(key, "source %s: missing\n", path);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        sb_printf(key, "source %s: size %lld mtime %lld.%09ld\n", path, (long long)st.st_size,
                  (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
        return;
    }
    tree_sum t = {0, 0, 0xCBF29CE484222325ull};
    sum_tree(path, "", depth, &t);
    sb_printf(key, "source %s: tree entries %lld bytes %lld hash %016llx\n", path, (long long)t.entries,
              (long long)t.bytes, (unsigned long long)t.hash);
}

static lra_status parse_task(const char *task, task_id *t) {
    for (int k = 0; k < (int)(sizeof TASK_NAME / sizeof *TASK_NAME); k++)
        if (task && !strcmp(task, TASK_NAME[k])) {
            *t = (task_id)k;
            return LRA_OK;
        }
    return lra_error(LRA_ERR_ARG, "unknown task '%s' (expected listops, text, retrieval, image, pathfinder or pathx)",
                     task ? task : "(null)");
}

static int is_idx_dir(const char *dir) {
    const char *names[2] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"};
    for (int k = 0; k < 2; k++) {
        char *p = join(dir, names[k]);
        int ok = is_file(p);
        free(p);
        if (ok) return 1;
    }
    return 0;
}

// 1 when the file starts (after gunzip, if compressed) with an IDX magic: 00 00 <type> <dims>.
static int looks_like_idx(const char *path) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) return 0;
    unsigned char m[4];
    int n = gzread(gz, m, 4);
    gzclose(gz);
    return n == 4 && m[0] == 0 && m[1] == 0 && (m[2] == 0x08 || m[2] == 0x09 || (m[2] >= 0x0B && m[2] <= 0x0E)) &&
           m[3] >= 1 && m[3] <= 3;
}

// Where a task's split comes from, and the options that change what the reader produces.
typedef struct {
    task_id task;
    char *source;        // file or directory actually read
    int idx;             // image task from IDX files
    int resolution;
    lra_pf_difficulty difficulty;
} plan;

static lra_status make_plan(const char *task, const char *path, lra_split split, const lra_load_options *opt, plan *p) {
    memset(p, 0, sizeof *p);
    LRA_TRY(parse_task(task, &p->task));
    if (!path || !*path) return lra_error(LRA_ERR_ARG, "%s: no data path given", task);
    if (!is_dir(path) && !is_file(path)) return lra_error(LRA_ERR_IO, "%s: no such file or directory", path);
    static const char *const LISTOPS_FILE[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    static const char *const AAN_FILE[3] = {"new_aan_pairs.train.tsv", "new_aan_pairs.eval.tsv",
                                            "new_aan_pairs.test.tsv"};
    switch (p->task) {
    case T_LISTOPS:
    case T_RETRIEVAL: {
        int lo = p->task == T_LISTOPS;
        // One file cannot be train, val and test at once: ListOps needs the folder of all three.
        if (lo && !is_dir(path))
            return lra_error(LRA_ERR_ARG, "%s: is a file; data.path for listops must be a folder holding "
                             "basic_train.tsv, basic_val.tsv and basic_test.tsv (or listops-1000/ with them)", path);
        p->source = is_dir(path) ? find_in_release(path, lo ? "listops-1000" : "tsv_data",
                                                   lo ? LISTOPS_FILE[split] : AAN_FILE[split])
                                 : lra_xstrdup(path);
        if (!p->source) return LRA_ERR_IO;
        break;
    }
    case T_TEXT:
        if (is_dir(path)) {
            p->source = lra_imdb_find_root(path);
            if (!p->source) return LRA_ERR_IO;
        } else {
            p->source = lra_xstrdup(path);
        }
        break;
    case T_IMAGE:
        if (!is_dir(path) && looks_like_idx(path))
            return lra_error(LRA_ERR_ARG, "%s: is a single IDX file; data.path for image must be a folder of IDX files "
                             "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                             "t10k-labels-idx1-ubyte, each optionally .gz) or a CIFAR-10 archive "
                             "(cifar-10-binary.tar.gz) or folder (cifar-10-batches-bin/)", path);
        p->idx = is_dir(path) && is_idx_dir(path);
        p->source = lra_xstrdup(path);
        break;
    case T_PATHFINDER:
    case T_PATHX: {
        p->resolution = opt->pathfinder_resolution > 0 ? opt->pathfinder_resolution : (p->task == T_PATHX ? 128 : 32);
        p->difficulty = LRA_PF_HARD;
        if (opt->pathfinder_difficulty)
            LRA_TRY(lra_pathfinder_parse_difficulty(opt->pathfinder_difficulty, &p->difficulty));
        p->source = lra_pathfinder_find(path, p->resolution, p->difficulty);
        if (!p->source) return LRA_ERR_IO;
        break;
    }
    }
    return LRA_OK;
}

// The cache key: every input that changes the reader's output.
static char *make_key(const plan *p, lra_split split, const lra_load_options *opt, int with_state) {
    strbuf k = {0};
    sb_printf(&k, "lra dataset cache\nreaders %d\ntask %s\nsplit %s\n", LRA_READERS_VERSION, TASK_NAME[p->task],
              lra_split_name(split));
    char *real = realpath(p->source, NULL);
    sb_printf(&k, "path %s\n", real ? real : p->source);
    switch (p->task) {
    case T_LISTOPS:
        sb_printf(&k, "max_len %lld\nallow_unknown %d\n", (long long)opt->max_len, opt->listops_allow_unknown != 0);
        if (with_state) key_source(&k, real ? real : p->source, 0);
        break;
    case T_RETRIEVAL:
        sb_printf(&k, "max_len %lld\n", (long long)opt->max_len);
        if (with_state) key_source(&k, real ? real : p->source, 0);
        break;
    case T_TEXT:
        sb_printf(&k, "max_len %lld\n", (long long)opt->max_len);
        if (with_state) {
            if (is_dir(p->source)) {
                const char *sd = split == LRA_SPLIT_TRAIN ? "train" : "test";
                for (int l = 0; l < 2; l++) {
                    char sub[32];
                    snprintf(sub, sizeof sub, "%s/%s", sd, l ? "pos" : "neg");
                    char *d = join(real ? real : p->source, sub);
                    key_source(&k, d, 1);
                    free(d);
                }
            } else {
                key_source(&k, real ? real : p->source, 0);
            }
        }
        break;
    case T_IMAGE:
        sb_printf(&k, "format %s\npixel_offset %d\n", p->idx ? "idx" : "cifar", opt->image_pixel_offset != 0);
        if (with_state) key_source(&k, real ? real : p->source, 2);
        break;
    case T_PATHFINDER:
    case T_PATHX: {
        uint32_t seed = opt->pathfinder_seed ? opt->pathfinder_seed : LRA_PATHFINDER_SEED;
        sb_printf(&k, "resolution %d\ndifficulty %d\nseed %u\nmax_examples %lld\npixel_offset %d\n", p->resolution,
                  (int)p->difficulty, seed, (long long)opt->max_examples, opt->image_pixel_offset != 0);
        if (with_state) {
            // Metadata files one by one; image folders by their modification times (not 200,000 stats).
            char *m = join(real ? real : p->source, "metadata");
            key_source(&k, m, 1);
            free(m);
            m = join(real ? real : p->source, "imgs");
            key_source(&k, m, 1);
            free(m);
        }
        break;
    }
    }
    free(real);
    return k.s;
}

static char *cache_file(const plan *p, lra_split split, const lra_load_options *opt) {
    char *id = make_key(p, split, opt, 0);
    uint64_t h = fnv1a(0xCBF29CE484222325ull, id, strlen(id));
    free(id);
    char name[96];
    snprintf(name, sizeof name, "%s-%s-%016llx.lrac", TASK_NAME[p->task], lra_split_name(split), (unsigned long long)h);
    return join(opt->cache_dir, name);
}

char *lra_data_cache_path(const char *task, const char *path, lra_split split, const lra_load_options *opt) {
    if (!opt || !opt->cache_dir) {
        lra_error(LRA_ERR_ARG, "no cache directory set");
        return NULL;
    }
    plan p;
    if (make_plan(task, path, split, opt, &p) != LRA_OK) {
        free(p.source);
        return NULL;
    }
    char *c = cache_file(&p, split, opt);
    free(p.source);
    return c;
}

static lra_status read_source(const plan *p, lra_split split, const lra_load_options *opt, lra_dataset *out) {
    lra_image_options img;
    lra_image_options_default(&img);
    img.pixel_offset = opt->image_pixel_offset != 0;
    switch (p->task) {
    case T_LISTOPS: {
        lra_listops_options o = {0};
        o.allow_unknown = opt->listops_allow_unknown;
        o.max_len = opt->max_len;
        return lra_listops_read(p->source, &o, out);
    }
    case T_RETRIEVAL: {
        lra_aan_options o = {0};
        o.max_len = opt->max_len;
        return lra_aan_read(p->source, &o, out);
    }
    case T_TEXT: {
        lra_imdb_options o = {0};
        o.max_len = opt->max_len;
        return lra_imdb_read(p->source, split, &o, out);
    }
    case T_IMAGE: {
        if (p->idx) return lra_idx_read(p->source, split, &img, out);
        lra_status st = lra_cifar_read(p->source, split, &img, out);
        if (st == LRA_ERR_FORMAT && !is_dir(p->source))   // say what a file path was expected to be
            lra_error_context(st, "%s: expected a CIFAR-10 archive (cifar-10-binary.tar.gz) or a folder of CIFAR-10 "
                              "or IDX files: ", p->source);
        return st;
    }
    case T_PATHFINDER:
    case T_PATHX: {
        lra_pathfinder_options o;
        lra_pathfinder_options_default(&o);
        o.image = img;
        o.seed = opt->pathfinder_seed ? opt->pathfinder_seed : LRA_PATHFINDER_SEED;
        o.max_examples = opt->max_examples;
        lra_pathfinder_info info;
        lra_status st = lra_pathfinder_read(p->source, split, &o, out, &info);
        if (st == LRA_OK && info.skipped_empty > 0)
            LRA_LOG_I("%s: %lld empty image file(s) skipped", p->source, (long long)info.skipped_empty);
        return st;
    }
    }
    return lra_error(LRA_ERR_ARG, "unknown task");
}

lra_status lra_data_load(const char *task, const char *path, lra_split split, const lra_load_options *opt,
                         lra_dataset *out) {
    lra_load_options def;
    lra_load_options_default(&def);
    if (!opt) opt = &def;
    memset(out, 0, sizeof *out);
    plan p;
    lra_status st = make_plan(task, path, split, opt, &p);
    if (st != LRA_OK) {
        free(p.source);
        return lra_error_context(st, "loading %s %s: ", task ? task : "?", lra_split_name(split));
    }
    char *cpath = NULL, *key = NULL;
    if (opt->cache_dir) {
        cpath = cache_file(&p, split, opt);
        key = make_key(&p, split, opt, 1);
        st = lra_cache_load(cpath, key, out);
        if (st == LRA_OK) {
            LRA_LOG_I("%s %s: %lld examples from the cache %s", TASK_NAME[p.task], lra_split_name(split),
                      (long long)out->count, cpath);
            goto done;
        }
        if (st != LRA_ERR_IO) LRA_LOG_W("%s; rebuilding it", lra_error_message());
    }
    st = read_source(&p, split, opt, out);
    if (st != LRA_OK) {
        lra_error_context(st, "loading %s %s: ", TASK_NAME[p.task], lra_split_name(split));
        goto done;
    }
    if (cpath) {
        lra_status cs = lra_path_mkdirs(opt->cache_dir);
        if (cs == LRA_OK) cs = lra_cache_save(cpath, key, out);
        if (cs != LRA_OK)
            LRA_LOG_W("could not write the dataset cache (continuing without it): %s", lra_error_message());
        else
            LRA_LOG_I("%s %s: %lld examples cached in %s", TASK_NAME[p.task], lra_split_name(split),
                      (long long)out->count, cpath);
        lra_error_clear();
    }
done:
    free(cpath);
    free(key);
    free(p.source);
    return st;
}
