// Pathfinder release reader: list metadata records in order, drop empty images, permute with the
// numpy-compatible generator, decode the PNGs of the requested split.
#include "data/read_pathfinder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checked.h"
#include "core/fileio.h"
#include "core/log.h"
#include "data/nprandom.h"
#include "data/png.h"

static const char *const k_folders[3] = {"curv_baseline", "curv_contour_length_9", "curv_contour_length_14"};

void lra_pathfinder_options_default(lra_pathfinder_options *opt) {
    memset(opt, 0, sizeof *opt);
    lra_image_options_default(&opt->image);
    opt->seed = LRA_PATHFINDER_SEED;
}

const char *lra_pathfinder_folder(lra_pf_difficulty d) {
    return (d >= LRA_PF_EASY && d <= LRA_PF_HARD) ? k_folders[d] : "?";
}

lra_status lra_pathfinder_parse_difficulty(const char *s, lra_pf_difficulty *d) {
    static const char *const alias[3][2] = {{"easy", "6"}, {"intermediate", "9"}, {"hard", "14"}};
    for (int i = 0; s && i < 3; i++) {
        if (!strcmp(s, alias[i][0]) || !strcmp(s, alias[i][1]) || !strcmp(s, k_folders[i])) {
            *d = (lra_pf_difficulty)i;
            return LRA_OK;
        }
    }
    return lra_error(LRA_ERR_ARG, "unknown Pathfinder difficulty '%s' (expected easy, intermediate, hard, 6, 9, 14 "
                     "or a curv_* folder name)", s ? s : "(null)");
}

// "a/b" as a new string (free()).
static char *join2(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = lra_xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int has_metadata(const char *dir) {
    char *p = join2(dir, "metadata");
    struct stat sb;
    int ok = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
    free(p);
    return ok;
}

char *lra_pathfinder_find(const char *root, int resolution, lra_pf_difficulty d) {
    const char *f = lra_pathfinder_folder(d);
    char sub[3][96];
    snprintf(sub[0], sizeof sub[0], "lra_release/lra_release/pathfinder%d/%s", resolution, f);
    snprintf(sub[1], sizeof sub[1], "lra_release/pathfinder%d/%s", resolution, f);
    snprintf(sub[2], sizeof sub[2], "pathfinder%d/%s", resolution, f);
    for (int i = 0; i < 4; i++) {
        char *c = join2(root, i < 3 ? sub[i] : f);
        if (has_metadata(c)) return c;
        free(c);
    }
    if (has_metadata(root)) return lra_xstrdup(root);
    lra_error(LRA_ERR_IO, "%s: no Pathfinder folder pathfinder%d/%s with a metadata/ directory under it", root,
              resolution, f);
    return NULL;
}

typedef struct {
    size_t path;     // offset of the image path in the pool
    int32_t label;
    int32_t meta;    // index of the metadata file
    int64_t line;    // 1-based line in it
} pf_record;

typedef struct {
    char *pool;
    size_t pool_len, pool_cap;
    pf_record *rec;
    int64_t n, cap;
    char **meta;     // metadata file paths, in numeric order
    int n_meta;
    int64_t listed, skipped_empty;
    uint64_t image_bytes;   // total size of the listed image files
} pf_list;

static void list_free(pf_list *l) {
    free(l->pool);
    free(l->rec);
    for (int i = 0; i < l->n_meta; i++) free(l->meta[i]);
    free(l->meta);
    memset(l, 0, sizeof *l);
}

static size_t pool_add(pf_list *l, const char *a, size_t na, const char *b, size_t nb, const char *c, size_t nc) {
    size_t need = l->pool_len + na + nb + nc + 3;
    if (need > l->pool_cap) {
        size_t cap = l->pool_cap ? l->pool_cap : 1 << 16;
        while (cap < need) cap *= 2;
        l->pool = lra_xrealloc(l->pool, cap);
        l->pool_cap = cap;
    }
    size_t off = l->pool_len;
    char *p = l->pool + off;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb);
    p[na + 1 + nb] = '/';
    memcpy(p + na + 2 + nb, c, nc);
    p[na + 2 + nb + nc] = '\0';
    l->pool_len = need;
    return off;
}

typedef struct {
    unsigned long long num;
    char *name;
} meta_entry;

static int cmp_meta(const void *a, const void *b) {
    const meta_entry *x = a, *y = b;
    if (x->num != y->num) return x->num < y->num ? -1 : 1;
    return strcmp(x->name, y->name);
}

// Collects dir/metadata/<k>.npy in numeric order of k.
static lra_status list_metadata(const char *dir, pf_list *l) {
    char *mdir = join2(dir, "metadata");
    DIR *dp = opendir(mdir);
    if (!dp) {
        lra_status s = lra_error(LRA_ERR_IO, "%s: cannot open the metadata directory: %s", mdir, strerror(errno));
        free(mdir);
        return s;
    }
    meta_entry *e = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (len < 5 || strcmp(nm + len - 4, ".npy") != 0) continue;
        size_t digits = 0;
        while (digits < len - 4 && nm[digits] >= '0' && nm[digits] <= '9') digits++;
        if (digits != len - 4 || digits > 18) continue;   // not <integer>.npy
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            e = lra_xrealloc(e, (size_t)cap * sizeof *e);
        }
        e[n].num = strtoull(nm, NULL, 10);
        e[n].name = lra_xstrdup(nm);
        n++;
    }
    closedir(dp);
    if (n == 0) {
        free(e);
        lra_status s = lra_error(LRA_ERR_FORMAT, "%s: no <batch>.npy metadata files", mdir);
        free(mdir);
        return s;
    }
    qsort(e, (size_t)n, sizeof *e, cmp_meta);
    l->meta = lra_xmalloc((size_t)n * sizeof *l->meta);
    for (int i = 0; i < n; i++) {
        l->meta[i] = join2(mdir, e[i].name);
        free(e[i].name);
    }
    l->n_meta = n;
    free(e);
    free(mdir);
    return LRA_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

// 1 when the path field p[0..n) stays inside the folder it is joined to: relative, no '..' component,
// no NUL byte (which would silently cut the path short).
static int path_is_confined(const char *p, size_t n) {
    if (n == 0 || p[0] == '/' || memchr(p, '\0', n)) return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != '/') j++;
        if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') return 0;
        i = j + 1;
    }
    return 1;
}

// Parses one metadata file and appends its non-empty images to the list.
static lra_status parse_metadata(const char *dir, int mi, pf_list *l) {
    const char *path = l->meta[mi];
    char *text;
    size_t size;
    LRA_TRY(lra_file_read_all(path, &text, &size));
    if (size >= 6 && !memcmp(text, "\x93NUMPY", 6)) {
        free(text);
        return lra_error(LRA_ERR_UNSUPPORTED, "%s: binary NumPy .npy metadata (the generator's raw output); the "
                         "release uses the text form, one 'imgs/<b> sample_<i>.png <i> <label> ...' line per image",
                         path);
    }
    lra_status s = LRA_OK;
    size_t dlen = strlen(dir);
    int64_t lineno = 0;
    for (size_t pos = 0; pos < size && s == LRA_OK;) {
        size_t end = pos;
        while (end < size && text[end] != '\n') end++;
        size_t next = end + 1;
        lineno++;
        if (end > pos && text[end - 1] == '\r') end--;
        const char *f[4];
        size_t fl[4];
        int nf = 0;
        for (size_t i = pos; i < end && nf < 4;) {
            while (i < end && is_space(text[i])) i++;
            if (i >= end) break;
            size_t j = i;
            while (j < end && !is_space(text[j])) j++;
            f[nf] = text + i;
            fl[nf] = j - i;
            nf++;
            i = j;
        }
        pos = next;
        if (nf == 0) continue;   // empty line
        if (nf < 4) {
            s = lra_error(LRA_ERR_FORMAT, "%s:%lld: %d field(s), expected at least 4 (subdir, file, index, label)",
                          path, (long long)lineno, nf);
            break;
        }
        if (fl[3] != 1 || (f[3][0] != '0' && f[3][0] != '1')) {
            s = lra_error(LRA_ERR_FORMAT, "%s:%lld: label '%.*s' is not 0 or 1", path, (long long)lineno,
                          (int)(fl[3] > 32 ? 32 : fl[3]), f[3]);
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (!path_is_confined(f[k], fl[k])) {
                s = lra_error(LRA_ERR_FORMAT, "%s:%lld: image path field '%.*s' leaves the data folder (absolute paths "
                              "and '..' components are not allowed; expected e.g. 'imgs/0 sample_0.png')", path,
                              (long long)lineno, (int)(fl[k] > 200 ? 200 : fl[k]), f[k]);
                break;
            }
        }
        if (s != LRA_OK) break;
        l->listed++;
        size_t off = pool_add(l, dir, dlen, f[0], fl[0], f[1], fl[1]);
        struct stat sb;
        if (stat(l->pool + off, &sb) != 0) {
            s = lra_error(LRA_ERR_IO, "%s: cannot open the image listed at %s:%lld: %s", l->pool + off, path,
                          (long long)lineno, strerror(errno));
            break;
        }
        if (sb.st_size == 0) {   // the release's known empty image: skip it (§9.3)
            l->skipped_empty++;
            l->pool_len = off;
            continue;
        }
        if (!lra_add_u64(l->image_bytes, (uint64_t)sb.st_size, &l->image_bytes)) l->image_bytes = UINT64_MAX;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 1024;
            l->rec = lra_xrealloc(l->rec, (size_t)l->cap * sizeof *l->rec);
        }
        l->rec[l->n++] = (pf_record){off, f[3][0] - '0', mi, lineno};
    }
    free(text);
    return s;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

lra_status lra_pathfinder_read(const char *dir, lra_split split, const lra_pathfinder_options *opt, lra_dataset *out,
                               lra_pathfinder_info *info) {
    if ((unsigned)split > (unsigned)LRA_SPLIT_TEST) {
        memset(out, 0, sizeof *out);
        return lra_error(LRA_ERR_ARG, "bad split value %d (expected train, val or test)", (int)split);
    }
    lra_pathfinder_options defaults;
    if (!opt) {
        lra_pathfinder_options_default(&defaults);
        opt = &defaults;
    }
    lra_pathfinder_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    lra_dataset_init(out, 1, lra_image_vocab_size(&opt->image), LRA_PATHFINDER_CLASSES);
    pf_list l;
    memset(&l, 0, sizeof l);
    int32_t *perm = NULL;
    uint16_t *tok = NULL;
    lra_status s = list_metadata(dir, &l);
    for (int i = 0; s == LRA_OK && i < l.n_meta; i++) s = parse_metadata(dir, i, &l);
    if (s != LRA_OK) goto done;
    info->listed = l.listed;
    info->skipped_empty = l.skipped_empty;
    info->usable = l.n;
    if (l.skipped_empty)
        LRA_LOG_W("%s: skipped %lld empty (0-byte) image file(s) of %lld listed", dir, (long long)l.skipped_empty,
                  (long long)l.listed);
    if (l.n > INT32_MAX) {
        s = lra_error(LRA_ERR_UNSUPPORTED, "%s: %lld images is more than this reader handles", dir, (long long)l.n);
        goto done;
    }
    int64_t nv = l.n / 10;
    info->split_size[LRA_SPLIT_TRAIN] = l.n - 2 * nv;
    info->split_size[LRA_SPLIT_VAL] = nv;
    info->split_size[LRA_SPLIT_TEST] = nv;
    perm = lra_xmalloc((size_t)(l.n ? l.n : 1) * sizeof *perm);
    for (int64_t i = 0; i < l.n; i++) perm[i] = (int32_t)i;
    lra_nprandom rng;
    lra_nprandom_seed(&rng, opt->seed);
    lra_nprandom_shuffle_i32(&rng, perm, l.n);
    int64_t lo = split == LRA_SPLIT_TRAIN ? 0 : split == LRA_SPLIT_VAL ? l.n - 2 * nv : l.n - nv;
    int64_t cnt = info->split_size[split];
    int32_t *sel = perm + lo;
    qsort(sel, (size_t)cnt, sizeof *sel, cmp_i32);   // listing order within the split
    if (opt->max_examples > 0 && cnt > opt->max_examples) cnt = opt->max_examples;
    for (int64_t k = 0; k < cnt; k++) {
        const pf_record *r = &l.rec[sel[k]];
        const char *ipath = l.pool + r->path;
        uint8_t *px;
        int w, h;
        if ((s = lra_png_read_gray8(ipath, &px, &w, &h)) != LRA_OK) {
            lra_error_context(s, "image listed at %s:%lld: ", l.meta[r->meta], (long long)r->line);
            goto done;
        }
        if (k == 0) {
            info->width = w;
            info->height = h;
            tok = lra_xmalloc((size_t)w * (size_t)h * sizeof *tok);
            // Pre-size for the whole split only as far as the listed files could decode to (a metadata
            // file may name one huge image many times); beyond that the dataset grows as images arrive.
            uint64_t want, bound;
            if (!lra_mul_u64((uint64_t)cnt, (uint64_t)w * (uint64_t)h, &want)) want = UINT64_MAX;
            if (!lra_mul_u64(l.image_bytes, LRA_ZLIB_MAX_RATIO, &bound)) bound = UINT64_MAX;
            lra_dataset_reserve(out, cnt, (int64_t)(want < bound ? want : bound));
        } else if (w != info->width || h != info->height) {
            free(px);
            s = lra_error(LRA_ERR_FORMAT, "%s: image is %dx%d, but the first image of the split is %dx%d", ipath, w, h,
                          info->width, info->height);
            goto done;
        }
        lra_image_tokens(&opt->image, px, (int64_t)w * h, tok);
        free(px);
        lra_dataset_push1(out, tok, (int64_t)w * h, r->label);
        info->label_count[r->label]++;
    }
done:
    free(perm);
    free(tok);
    list_free(&l);
    if (s != LRA_OK) lra_dataset_free(out);
    return s;
}
