// IMDb reader (see read_imdb.h and data.md §5).
#include "data/read_imdb.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "data/tar.h"

typedef struct {
    int32_t label;
    int64_t id, rating;
    int64_t off, len;  // bytes in the pool
} review;

// Reviews gathered in any order; sorted and turned into tokens at the end.
typedef struct {
    review *r;
    int64_t n, cap;
    uint8_t *pool;
    int64_t pool_n, pool_cap;
    int64_t max_len, max_review;
} collection;

static const char *const LABEL_DIR[2] = {"neg", "pos"};

static const char *split_dir(lra_split s) { return s == LRA_SPLIT_TRAIN ? "train" : "test"; }

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// "<id>_<rating>.txt" -> 1 and the two numbers, else 0.
static int parse_name(const char *name, int64_t *id, int64_t *rating) {
    const char *p = name;
    int64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (*p < '0' || *p > '9') return 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 12) return 0;
            v[k] = v[k] * 10 + (*p++ - '0');
        }
        if (k == 0 && *p++ != '_') return 0;
    }
    if (strcmp(p, ".txt") != 0) return 0;
    *id = v[0];
    *rating = v[1];
    return 1;
}

static void add_review(collection *c, int32_t label, int64_t id, int64_t rating, const uint8_t *bytes, int64_t n) {
    int64_t a = 0, b = n;
    while (a < b && is_space(bytes[a])) a++;
    while (b > a && is_space(bytes[b - 1])) b--;
    int64_t len = b - a;
    if (c->max_len > 0 && len > c->max_len) len = c->max_len;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->r = lra_xrealloc(c->r, (size_t)c->cap * sizeof *c->r);
    }
    if (c->pool_n + len > c->pool_cap) {
        int64_t cap = c->pool_cap ? c->pool_cap : ((int64_t)1 << 20);
        while (cap < c->pool_n + len) cap *= 2;
        c->pool = lra_xrealloc(c->pool, (size_t)cap);
        c->pool_cap = cap;
    }
    if (len > 0) memcpy(c->pool + c->pool_n, bytes + a, (size_t)len);
    c->r[c->n++] = (review){label, id, rating, c->pool_n, len};
    c->pool_n += len;
}

static int cmp_review(const void *pa, const void *pb) {
    const review *a = pa, *b = pb;
    if (a->label != b->label) return a->label < b->label ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    if (a->rating != b->rating) return a->rating < b->rating ? -1 : 1;
    return 0;
}

// Sorts, checks for duplicate ids and appends the token sequences to `out`.
static lra_status finish(collection *c, const char *where, lra_dataset *out) {
    if (c->n == 0)
        return lra_error(LRA_ERR_FORMAT, "%s: no reviews found (expected <id>_<rating>.txt files under neg/ and pos/)",
                         where);
    qsort(c->r, (size_t)c->n, sizeof *c->r, cmp_review);
    int64_t maxlen = 0;
    for (int64_t i = 0; i < c->n; i++) {
        if (i > 0 && c->r[i].label == c->r[i - 1].label && c->r[i].id == c->r[i - 1].id)
            return lra_error(LRA_ERR_FORMAT, "%s: review id %lld appears twice in %s/", where, (long long)c->r[i].id,
                             LABEL_DIR[c->r[i].label]);
        if (c->r[i].len > maxlen) maxlen = c->r[i].len;
    }
    lra_dataset_reserve(out, c->n, c->pool_n);
    uint16_t *ids = lra_xmalloc((size_t)(maxlen > 0 ? maxlen : 1) * sizeof *ids);
    for (int64_t i = 0; i < c->n; i++) {
        // The pool stays NULL when every review is empty: no pointer arithmetic on it then.
        for (int64_t k = 0; k < c->r[i].len; k++) ids[k] = (uint16_t)(c->pool[c->r[i].off + k] + 1);
        lra_dataset_push1(out, ids, c->r[i].len, c->r[i].label);
    }
    free(ids);
    return LRA_OK;
}

static lra_status read_file(const char *path, int64_t max_bytes, uint8_t **buf, int64_t *cap, int64_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return lra_error(LRA_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if ((int64_t)st.st_size > max_bytes) {
        fclose(f);
        return lra_error(LRA_ERR_FORMAT, "%s: review of %lld bytes exceeds the limit of %lld (not an IMDb review?)", path,
                         (long long)st.st_size, (long long)max_bytes);
    }
    if ((int64_t)st.st_size + 1 > *cap) {
        *cap = (int64_t)st.st_size + 1;
        *buf = lra_xrealloc(*buf, (size_t)*cap);
    }
    size_t got = fread(*buf, 1, (size_t)st.st_size, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != (size_t)st.st_size)
        return lra_error(LRA_ERR_IO, "%s: short read (%zu of %lld bytes)", path, got, (long long)st.st_size);
    *n = (int64_t)got;
    return LRA_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static lra_status read_label_dir(collection *c, const char *dir, int32_t label) {
    DIR *d = opendir(dir);
    if (!d) return lra_error(LRA_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **names = NULL;
    int64_t nn = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;  // ".", "..", and hidden files such as macOS "._x"
        if (nn == cap) {
            cap = cap ? 2 * cap : 1024;
            names = lra_xrealloc(names, (size_t)cap * sizeof *names);
        }
        names[nn++] = lra_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_str);  // stable error reporting
    lra_status st = LRA_OK;
    uint8_t *buf = NULL;
    int64_t bcap = 0;
    size_t dl = strlen(dir);
    char *path = NULL;
    for (int64_t i = 0; i < nn && st == LRA_OK; i++) {
        path = lra_xrealloc(path, dl + strlen(names[i]) + 2);
        sprintf(path, "%s/%s", dir, names[i]);
        int64_t id, rating, n = 0;
        if (!parse_name(names[i], &id, &rating)) {
            st = lra_error(LRA_ERR_FORMAT, "%s: unexpected file name (expected <id>_<rating>.txt)", path);
            break;
        }
        st = read_file(path, c->max_review, &buf, &bcap, &n);
        if (st == LRA_OK) add_review(c, label, id, rating, buf, n);
    }
    free(path);
    free(buf);
    for (int64_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    return st;
}

char *lra_imdb_find_root(const char *path) {
    size_t n = strlen(path);
    char *p = lra_xmalloc(n + 32);
    const char *cand[2] = {"", "/aclImdb"};
    for (int k = 0; k < 2; k++) {
        sprintf(p, "%s%s/train", path, cand[k]);
        int ok = lra_path_is_dir(p);
        sprintf(p, "%s%s/test", path, cand[k]);
        if (ok || lra_path_is_dir(p)) {
            sprintf(p, "%s%s", path, cand[k]);
            return p;
        }
    }
    free(p);
    lra_error(LRA_ERR_IO, "%s: not an aclImdb directory (expected train/ and test/ in it or in %s/aclImdb)", path,
              path);
    return NULL;
}

int lra_imdb_is_archive(const char *path) {
    size_t n = strlen(path);
    const char *ext[3] = {".tar.gz", ".tgz", ".tar"};
    for (int k = 0; k < 3; k++) {
        size_t m = strlen(ext[k]);
        if (n >= m && !strcmp(path + n - m, ext[k])) return 1;
    }
    return 0;
}

static lra_status read_tree(collection *c, const char *path, lra_split split) {
    char *root = lra_imdb_find_root(path);
    if (!root) return LRA_ERR_IO;
    lra_status st = LRA_OK;
    char *dir = lra_xmalloc(strlen(root) + 32);
    for (int32_t label = 0; label < 2 && st == LRA_OK; label++) {
        sprintf(dir, "%s/%s/%s", root, split_dir(split), LABEL_DIR[label]);
        st = read_label_dir(c, dir, label);
    }
    free(dir);
    free(root);
    return st;
}

// Picks the members ".../<train|test>/<neg|pos>/<file>" of the archive, in whatever order they come.
static lra_status read_archive(collection *c, const char *path, lra_split split) {
    lra_tar *t;
    LRA_TRY(lra_tar_open(path, &t));
    lra_status st = LRA_OK;
    uint8_t *buf = NULL;
    int64_t bcap = 0;
    const char *want = split_dir(split);
    for (;;) {
        const char *name;
        int64_t size;
        int done;
        st = lra_tar_next(t, &name, &size, &done);
        if (st != LRA_OK || done) break;
        // The last three path components: split folder, label folder, file.
        const char *comp[3] = {NULL, NULL, NULL};
        size_t clen[3] = {0, 0, 0};
        const char *end = name + strlen(name);
        for (int k = 2; k >= 0 && end > name; k--) {
            const char *b = end;
            while (b > name && b[-1] != '/') b--;
            comp[k] = b;
            clen[k] = (size_t)(end - b);
            end = b > name ? b - 1 : b;
        }
        if (!comp[0] || clen[0] != strlen(want) || strncmp(comp[0], want, clen[0]) != 0) continue;
        int32_t label = -1;
        for (int32_t l = 0; l < 2; l++)
            if (clen[1] == 3 && !strncmp(comp[1], LABEL_DIR[l], 3)) label = l;
        if (label < 0 || comp[2][0] == '.') continue;
        int64_t id, rating;
        if (!parse_name(comp[2], &id, &rating)) {
            st = lra_error(LRA_ERR_FORMAT, "%s: member %s: unexpected file name (expected <id>_<rating>.txt)", path,
                           name);
            break;
        }
        if (size > c->max_review) {
            st = lra_error(LRA_ERR_FORMAT, "%s: member %s: review of %lld bytes exceeds the limit of %lld", path, name,
                           (long long)size, (long long)c->max_review);
            break;
        }
        if (size + 1 > bcap) {
            bcap = size + 1;
            buf = lra_xrealloc(buf, (size_t)bcap);
        }
        st = lra_tar_read(t, buf, size);
        if (st != LRA_OK) break;
        add_review(c, label, id, rating, buf, size);
    }
    free(buf);
    lra_tar_close(t);
    return st;
}

lra_status lra_imdb_read(const char *path, lra_split split, const lra_imdb_options *opt, lra_dataset *out) {
    lra_imdb_options def = {0};
    if (!opt) opt = &def;
    collection c = {0};
    c.max_len = opt->max_len;
    c.max_review = opt->max_review > 0 ? opt->max_review : ((int64_t)16 << 20);
    lra_dataset_init(out, 1, LRA_IMDB_VOCAB, LRA_IMDB_CLASSES);
    lra_status st;
    if (lra_imdb_is_archive(path))
        st = read_archive(&c, path, split);
    else
        st = read_tree(&c, path, split);
    if (st == LRA_OK) {
        char where[512];
        snprintf(where, sizeof where, "%s (%s split)", path, lra_split_name(split));
        st = finish(&c, where, out);
    }
    free(c.r);
    free(c.pool);
    if (st != LRA_OK) lra_dataset_free(out);
    return st;
}
