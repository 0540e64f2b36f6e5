// IDX files streamed through zlib's gz* API (which passes uncompressed files through unchanged).
#include "data/read_idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/checked.h"

#define IDX_MAX_DIMS 8

typedef struct {
    const char *path;
    gzFile gz;
    int ndim;
    uint32_t dims[IDX_MAX_DIMS];
    int64_t data_bytes;   // product of the dims
    int64_t file_bytes;   // size of the file on disk
} idx_file;

// Reads exactly n bytes; a short read names the file and `what`.
static lra_status idx_read(idx_file *f, void *buf, size_t n, const char *what) {
    size_t total = 0;
    while (total < n) {
        size_t want = n - total > (1u << 30) ? (1u << 30) : n - total;
        int r = gzread(f->gz, (char *)buf + total, (unsigned)want);
        if (r < 0) {
            int errnum;
            const char *msg = gzerror(f->gz, &errnum);
            if (errnum == Z_BUF_ERROR) break;   // gzip stream cut short
            return lra_error(LRA_ERR_FORMAT, "%s: read/decompression error in %s: %s", f->path, what,
                             errnum == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) break;
        total += (size_t)r;
    }
    if (total < n)
        return lra_error(LRA_ERR_FORMAT, "%s: truncated: file ends inside %s", f->path, what);
    return LRA_OK;
}

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static const char *type_name(int t) {
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    }
    return "unknown";
}

// Opens an IDX file and checks its magic against the expected number of dimensions.
static lra_status idx_open(idx_file *f, const char *path, int want_ndim, const char *kind) {
    memset(f, 0, sizeof *f);
    f->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0) return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (sb.st_size == 0) return lra_error(LRA_ERR_FORMAT, "%s: empty file (0 bytes), expected an IDX %s file", path, kind);
    f->gz = gzopen(path, "rb");
    if (!f->gz) return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(f->gz, 1 << 17);
    uint8_t m[4];
    LRA_TRY(idx_read(f, m, 4, "the magic number"));
    if (m[0] != 0 || m[1] != 0)
        return lra_error(LRA_ERR_FORMAT, "%s: bad IDX magic %02x %02x %02x %02x (expected 00 00 08 %02x for %s)", path,
                         m[0], m[1], m[2], m[3], want_ndim, kind);
    if (m[2] != 0x08)
        return lra_error(m[2] == 0x09 || m[2] == 0x0B || m[2] == 0x0C || m[2] == 0x0D || m[2] == 0x0E
                             ? LRA_ERR_UNSUPPORTED : LRA_ERR_FORMAT,
                         "%s: IDX element type 0x%02x (%s) is not supported; %s files must hold unsigned bytes (0x08)",
                         path, m[2], type_name(m[2]), kind);
    if (m[3] != want_ndim)
        return lra_error(LRA_ERR_FORMAT, "%s: IDX file has %d dimensions, expected %d for %s (magic 00 00 08 %02x)",
                         path, m[3], want_ndim, kind, want_ndim);
    f->ndim = m[3];
    uint8_t d[4 * IDX_MAX_DIMS];
    LRA_TRY(idx_read(f, d, (size_t)4 * f->ndim, "the dimension sizes"));
    uint64_t prod = 1;
    for (int i = 0; i < f->ndim; i++) {
        f->dims[i] = be32(d + 4 * i);
        if (!lra_mul_u64(prod, f->dims[i], &prod))
            return lra_error(LRA_ERR_FORMAT, "%s: IDX sizes overflow 64 bits", path);
    }
    // Every data byte must come from the file: raw, or inflated at most LRA_ZLIB_MAX_RATIO times.
    uint64_t header = 4 + 4 * (uint64_t)f->ndim, avail = (uint64_t)sb.st_size;
    if (gzdirect(f->gz)) {
        avail = avail > header ? avail - header : 0;
        if (prod > avail) {   // a plain file: say which item it ends inside
            uint64_t item = prod / f->dims[0];
            return lra_error(LRA_ERR_FORMAT, "%s: truncated: file ends inside %.*s %llu of %u (the header declares %llu "
                             "data bytes, only %llu are present)", path, (int)strlen(kind) - 1, kind,
                             (unsigned long long)(avail / item), f->dims[0], (unsigned long long)prod,
                             (unsigned long long)avail);
        }
    }
    LRA_TRY(lra_size_check(prod, avail, gzdirect(f->gz) ? 1 : LRA_ZLIB_MAX_RATIO, path, "the IDX header"));
    f->data_bytes = (int64_t)prod;
    f->file_bytes = (int64_t)sb.st_size;
    return LRA_OK;
}

// After all data was read: the file must end here.
static lra_status idx_expect_end(idx_file *f) {
    uint8_t extra;
    int r = gzread(f->gz, &extra, 1);
    if (r > 0)
        return lra_error(LRA_ERR_FORMAT, "%s: more bytes than the IDX sizes announce (%lld data bytes)", f->path,
                         (long long)f->data_bytes);
    int errnum = Z_OK;
    const char *msg = gzerror(f->gz, &errnum);
    if (r < 0 || errnum != Z_OK) {   // a cut-off gzip trailer reads as 0 bytes with Z_BUF_ERROR set
        return lra_error(LRA_ERR_FORMAT, "%s: %s at the end of the file", f->path,
                         errnum == Z_BUF_ERROR ? "gzip stream cut short" : msg);
    }
    return LRA_OK;
}

static void idx_close(idx_file *f) {
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

// Appends records [lo, hi) of the pair (all of them are read and validated).
static lra_status read_pair_range(const char *images_path, const char *labels_path, int64_t lo, int64_t hi,
                                  int use_range, const lra_image_options *opt, lra_dataset *out) {
    idx_file im, lb;
    uint8_t *labels = NULL, *px = NULL;
    uint16_t *tok = NULL;
    lra_status s = idx_open(&lb, labels_path, 1, "labels");
    if (s == LRA_OK) s = idx_open(&im, images_path, 3, "images");
    else im.gz = NULL;
    if (s != LRA_OK) goto done;
    int64_t n = lb.dims[0];
    if ((int64_t)im.dims[0] != n) {
        s = lra_error(LRA_ERR_FORMAT, "%s holds %u images but %s holds %lld labels (the counts must be equal)",
                      images_path, im.dims[0], labels_path, (long long)n);
        goto done;
    }
    if (use_range && (lo < 0 || hi > n || lo > hi)) {   // the range came from an earlier read of the labels
        s = lra_error(LRA_ERR_FORMAT, "%s: holds %lld labels, expected at least %lld (file changed while reading?)",
                      labels_path, (long long)n, (long long)hi);
        goto done;
    }
    if (im.dims[1] == 0 || im.dims[2] == 0 || (uint64_t)im.dims[1] * im.dims[2] > ((uint64_t)1 << 24)) {
        s = lra_error(LRA_ERR_FORMAT, "%s: images of size %ux%u (expected 1..2^24 pixels)", images_path, im.dims[1], im.dims[2]);
        goto done;
    }
    labels = lra_xmalloc((size_t)n + 1);
    if ((s = idx_read(&lb, labels, (size_t)n, "the labels")) != LRA_OK) goto done;
    if ((s = idx_expect_end(&lb)) != LRA_OK) goto done;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] >= LRA_IDX_CLASSES) {
            s = lra_error(LRA_ERR_FORMAT, "%s: label %lld is %d (expected 0..9)", labels_path, (long long)i, labels[i]);
            goto done;
        }
    }
    if (!use_range) {
        lo = 0;
        hi = n;
    }
    int64_t npx = (int64_t)im.dims[1] * im.dims[2];
    px = lra_xmalloc((size_t)npx);
    tok = lra_xmalloc((size_t)npx * sizeof *tok);
    lra_dataset_reserve(out, hi - lo, (hi - lo) * npx);
    char what[64];
    for (int64_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "image %lld of %lld", (long long)i, (long long)n);
        if ((s = idx_read(&im, px, (size_t)npx, what)) != LRA_OK) goto done;
        if (i < lo || i >= hi) continue;
        lra_image_tokens(opt, px, npx, tok);
        lra_dataset_push1(out, tok, npx, labels[i]);
    }
    s = idx_expect_end(&im);
done:
    idx_close(&lb);
    idx_close(&im);
    free(labels);
    free(px);
    free(tok);
    return s;
}

lra_status lra_idx_read_files(const char *images_path, const char *labels_path, const lra_image_options *opt,
                              lra_dataset *out) {
    lra_dataset_init(out, 1, lra_image_vocab_size(opt), LRA_IDX_CLASSES);
    lra_status s = read_pair_range(images_path, labels_path, 0, 0, 0, opt, out);
    if (s != LRA_OK) lra_dataset_free(out);
    return s;
}

// dir/name, or dir/name.gz when only that exists.  Free with free().
static char *find_file(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 8;
    char *p = lra_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    struct stat sb;
    if (stat(p, &sb) == 0) return p;
    snprintf(p, n, "%s/%s.gz", dir, name);
    if (stat(p, &sb) == 0) return p;
    snprintf(p, n, "%s/%s", dir, name);   // report the plain name when neither exists
    return p;
}

lra_status lra_idx_read(const char *dir, lra_split split, const lra_image_options *opt, lra_dataset *out) {
    if ((unsigned)split > (unsigned)LRA_SPLIT_TEST) {
        memset(out, 0, sizeof *out);
        return lra_error(LRA_ERR_ARG, "bad split value %d (expected train, val or test)", (int)split);
    }
    const char *prefix = split == LRA_SPLIT_TEST ? "t10k" : "train";
    char img_name[64], lab_name[64];
    snprintf(img_name, sizeof img_name, "%s-images-idx3-ubyte", prefix);
    snprintf(lab_name, sizeof lab_name, "%s-labels-idx1-ubyte", prefix);
    char *ip = find_file(dir, img_name), *lp = find_file(dir, lab_name);
    lra_dataset_init(out, 1, lra_image_vocab_size(opt), LRA_IDX_CLASSES);
    lra_status s;
    if (split == LRA_SPLIT_TEST) {
        s = read_pair_range(ip, lp, 0, 0, 0, opt, out);
    } else {
        // The count comes from the label file's header; read_pair_range validates it again.
        idx_file lb;
        s = idx_open(&lb, lp, 1, "labels");
        int64_t n = s == LRA_OK ? lb.dims[0] : 0;
        idx_close(&lb);
        if (s == LRA_OK) {
            int64_t cut = n - n / 10;
            s = split == LRA_SPLIT_TRAIN ? read_pair_range(ip, lp, 0, cut, 1, opt, out)
                                         : read_pair_range(ip, lp, cut, n, 1, opt, out);
        }
    }
    free(ip);
    free(lp);
    if (s != LRA_OK) lra_dataset_free(out);
    return s;
}
