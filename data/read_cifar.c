// CIFAR-10 binary batches from a directory or a tar(.gz): each needed batch is converted to gray
// records as it streams in, then the split's records are appended in batch order.
#include "data/read_cifar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "data/tar.h"

#define N_TRAIN_BATCHES 5
#define CHUNK_RECORDS 256

static const char *const k_class_names[LRA_CIFAR_CLASSES] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                             "dog",      "frog",       "horse", "ship", "truck"};

const char *lra_cifar_class_name(int label) {
    return (label >= 0 && label < LRA_CIFAR_CLASSES) ? k_class_names[label] : "?";
}

// One batch file converted: labels [n], gray [n][1024].
typedef struct {
    int present;
    int64_t n;
    uint8_t *labels;
    uint8_t *gray;
} cifar_batch;

// Where records come from: a plain file or the current member of a tar archive.
typedef struct {
    FILE *fp;
    lra_tar *tar;
} record_source;

// Converts n records of `src` into b.  `what` names the file (or archive: member) in messages.
static lra_status convert_batch(record_source *src, int64_t n, const char *what, cifar_batch *b) {
    b->n = n;
    b->labels = lra_xmalloc((size_t)n);
    b->gray = lra_xmalloc((size_t)n * LRA_CIFAR_PIXELS);
    b->present = 1;
    uint8_t *buf = lra_xmalloc((size_t)CHUNK_RECORDS * LRA_CIFAR_RECORD);
    lra_status s = LRA_OK;
    for (int64_t r0 = 0; r0 < n && s == LRA_OK; r0 += CHUNK_RECORDS) {
        int64_t k = n - r0 < CHUNK_RECORDS ? n - r0 : CHUNK_RECORDS;
        size_t bytes = (size_t)k * LRA_CIFAR_RECORD;
        if (src->tar) {
            s = lra_tar_read(src->tar, buf, (int64_t)bytes);
        } else {
            size_t got = fread(buf, 1, bytes, src->fp);
            if (got != bytes)
                s = lra_error(ferror(src->fp) ? LRA_ERR_IO : LRA_ERR_FORMAT,
                              "%s: truncated: record %lld is incomplete (file shrank while reading?)", what,
                              (long long)(r0 + (int64_t)got / LRA_CIFAR_RECORD));
        }
        for (int64_t i = 0; i < k && s == LRA_OK; i++) {
            const uint8_t *rec = buf + (size_t)i * LRA_CIFAR_RECORD;
            if (rec[0] >= LRA_CIFAR_CLASSES) {
                s = lra_error(LRA_ERR_FORMAT, "%s: record %lld has label %d (expected 0..9)", what,
                              (long long)(r0 + i), rec[0]);
                break;
            }
            b->labels[r0 + i] = rec[0];
            const uint8_t *R = rec + 1, *G = R + LRA_CIFAR_PIXELS, *B = G + LRA_CIFAR_PIXELS;
            uint8_t *out = b->gray + (size_t)(r0 + i) * LRA_CIFAR_PIXELS;
            for (int p = 0; p < LRA_CIFAR_PIXELS; p++) out[p] = lra_image_rgb_to_gray(R[p], G[p], B[p]);
        }
    }
    free(buf);
    return s;
}

static void free_batches(cifar_batch *b, int n) {
    for (int i = 0; i < n; i++) {
        free(b[i].labels);
        free(b[i].gray);
        memset(&b[i], 0, sizeof b[i]);
    }
}

// Batch slot of a member/file name: 0..4 for data_batch_1..5.bin, 5 for test_batch.bin, -1 otherwise.
static int batch_slot(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!strcmp(base, "test_batch.bin")) return N_TRAIN_BATCHES;
    if (!strncmp(base, "data_batch_", 11) && base[11] >= '1' && base[11] <= '5' && !strcmp(base + 12, ".bin"))
        return base[11] - '1';
    return -1;
}

static const char *slot_file(int slot) {
    static const char *const names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    return names[slot];
}

static lra_status check_size(const char *what, int64_t size, int64_t *n) {
    if (size <= 0 || size % LRA_CIFAR_RECORD != 0)
        return lra_error(LRA_ERR_FORMAT, "%s: size %lld is not a positive multiple of the %d-byte record "
                         "(truncated or not a CIFAR-10 batch)", what, (long long)size, LRA_CIFAR_RECORD);
    *n = size / LRA_CIFAR_RECORD;
    return LRA_OK;
}

static lra_status load_from_dir(const char *dir, const int *want, cifar_batch *b) {
    char path[4096];
    // Prefer the batches directly in `dir`, else dir/cifar-10-batches-bin.
    snprintf(path, sizeof path, "%s/%s", dir, "test_batch.bin");
    int direct = lra_path_is_file(path);
    snprintf(path, sizeof path, "%s/%s", dir, "data_batch_1.bin");
    direct = direct || lra_path_is_file(path);
    for (int slot = 0; slot <= N_TRAIN_BATCHES; slot++) {
        if (!want[slot]) continue;
        snprintf(path, sizeof path, direct ? "%s/%s" : "%s/cifar-10-batches-bin/%s", dir, slot_file(slot));
        FILE *fp = fopen(path, "rb");
        if (!fp)
            return lra_error(LRA_ERR_IO, "%s: cannot open: %s (expected the CIFAR-10 binary batches in %s or "
                             "%s/cifar-10-batches-bin)", path, strerror(errno), dir, dir);
        struct stat sb;
        int64_t n = 0;
        lra_status s = fstat(fileno(fp), &sb) == 0
                           ? check_size(path, (int64_t)sb.st_size, &n)
                           : lra_error(LRA_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        record_source src = {fp, NULL};
        if (s == LRA_OK) s = convert_batch(&src, n, path, &b[slot]);
        fclose(fp);
        LRA_TRY(s);
    }
    return LRA_OK;
}

static lra_status load_from_tar(const char *archive, const int *want, cifar_batch *b) {
    lra_tar *t;
    LRA_TRY(lra_tar_open(archive, &t));
    int missing = 0;
    for (int slot = 0; slot <= N_TRAIN_BATCHES; slot++) missing += want[slot];
    lra_status s = LRA_OK;
    char what[4096];
    while (missing > 0) {
        const char *name;
        int64_t size;
        int done;
        if ((s = lra_tar_next(t, &name, &size, &done)) != LRA_OK) break;
        if (done) break;
        int slot = batch_slot(name);
        if (slot < 0 || !want[slot]) continue;
        snprintf(what, sizeof what, "%s: member '%s'", archive, name);
        if (b[slot].present) {
            s = lra_error(LRA_ERR_FORMAT, "%s: a second copy of %s", what, slot_file(slot));
            break;
        }
        int64_t n = 0;
        if ((s = check_size(what, size, &n)) != LRA_OK) break;
        record_source src = {NULL, t};
        if ((s = convert_batch(&src, n, what, &b[slot])) != LRA_OK) break;
        missing--;
    }
    lra_tar_close(t);
    LRA_TRY(s);
    for (int slot = 0; slot <= N_TRAIN_BATCHES; slot++)
        if (want[slot] && !b[slot].present)
            return lra_error(LRA_ERR_FORMAT, "%s: no member named %s (is this cifar-10-binary.tar.gz?)", archive,
                             slot_file(slot));
    return LRA_OK;
}

lra_status lra_cifar_read(const char *path, lra_split split, const lra_image_options *opt, lra_dataset *out) {
    if ((unsigned)split > (unsigned)LRA_SPLIT_TEST) {
        memset(out, 0, sizeof *out);
        return lra_error(LRA_ERR_ARG, "bad split value %d (expected train, val or test)", (int)split);
    }
    lra_dataset_init(out, 1, lra_image_vocab_size(opt), LRA_CIFAR_CLASSES);
    int want[N_TRAIN_BATCHES + 1] = {0};
    if (split == LRA_SPLIT_TEST) {
        want[N_TRAIN_BATCHES] = 1;
    } else {
        for (int i = 0; i < N_TRAIN_BATCHES; i++) want[i] = 1;
    }
    cifar_batch b[N_TRAIN_BATCHES + 1];
    memset(b, 0, sizeof b);
    lra_status s;
    if (lra_path_is_dir(path)) {
        s = load_from_dir(path, want, b);
    } else if (lra_path_is_file(path)) {
        s = load_from_tar(path, want, b);
    } else {
        s = lra_error(LRA_ERR_IO, "%s: no such file or directory (expected cifar-10-batches-bin/ or "
                      "cifar-10-binary.tar.gz)", path);
    }
    if (s == LRA_OK) {
        // Global record range [lo, hi) of the split over the wanted batches in order.
        int64_t total = 0;
        for (int slot = 0; slot <= N_TRAIN_BATCHES; slot++)
            if (want[slot]) total += b[slot].n;
        int64_t lo = 0, hi = total;
        if (split == LRA_SPLIT_TRAIN) hi = total - total / 10;
        if (split == LRA_SPLIT_VAL) lo = total - total / 10;
        lra_dataset_reserve(out, hi - lo, (hi - lo) * LRA_CIFAR_PIXELS);
        uint16_t tok[LRA_CIFAR_PIXELS];
        int64_t g = 0;
        for (int slot = 0; slot <= N_TRAIN_BATCHES; slot++) {
            if (!want[slot]) continue;
            for (int64_t i = 0; i < b[slot].n; i++, g++) {
                if (g < lo || g >= hi) continue;
                lra_image_tokens(opt, b[slot].gray + (size_t)i * LRA_CIFAR_PIXELS, LRA_CIFAR_PIXELS, tok);
                lra_dataset_push1(out, tok, LRA_CIFAR_PIXELS, b[slot].labels[i]);
            }
        }
    }
    free_batches(b, N_TRAIN_BATCHES + 1);
    if (s != LRA_OK) lra_dataset_free(out);
    return s;
}
