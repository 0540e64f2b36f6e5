// Fuzz target: the IDX reader (data/read_idx.c).  The input is a label file followed by an image file,
// split where the image magic 00 00 08 03 first appears at offset >= 8; without it the whole input is
// the image file and a label file with the count of its header (at most 4096 labels) is made up.
// size % 4 == 1: both files are gzipped here (the reader detects gzip by content);
// (size / 4) % 3: the split read through lra_idx_read (train, val, test).
#include <stdlib.h>
#include <string.h>

#include "data/read_idx.h"
#include "fuzz/data_fuzz.h"

static void put_file(const char *dir, const char *leaf, const uint8_t *d, size_t n, int gz) {
    char rel[256], path[512];
    snprintf(rel, sizeof rel, "%s/%s", dir, leaf);
    if (gz) {
        uint8_t *z;
        size_t zn;
        lra_fuzz_gzip(d, n, &z, &zn);
        lra_fuzz_write_file(rel, z, zn, path, sizeof path);
        free(z);
    } else {
        lra_fuzz_write_file(rel, d, n, path, sizeof path);
    }
}

LRA_FUZZ_TARGET(idx) {
    size_t cut = 0;
    for (size_t k = 8; k + 4 <= size && !cut; k++)
        if (!memcmp(data + k, "\0\0\x08\x03", 4)) cut = k;
    const uint8_t *lab = data, *img = data + cut;
    size_t nlab = cut, nimg = size - cut;
    uint8_t made[8 + 4096];
    if (!cut) {
        uint32_t n = nimg >= 8 ? ((uint32_t)img[4] << 24 | (uint32_t)img[5] << 16 | (uint32_t)img[6] << 8 | img[7]) : 0;
        uint32_t m = n > 4096 ? 4096 : n;
        memcpy(made, "\0\0\x08\x01", 4);
        made[4] = (uint8_t)(n >> 24);
        made[5] = (uint8_t)(n >> 16);
        made[6] = (uint8_t)(n >> 8);
        made[7] = (uint8_t)n;
        for (uint32_t i = 0; i < m; i++) made[8 + i] = (uint8_t)(i % 10);
        lab = made;
        nlab = 8 + m;
    }
    if (!lra_fuzz_inflate_ok(lab, nlab) || !lra_fuzz_inflate_ok(img, nimg)) return 0;
    int gz = size % 4 == 1;
    lra_split split = (lra_split)((size / 4) % 3);
    const char *pre = split == LRA_SPLIT_TEST ? "t10k" : "train";
    char dir[512], leaf[64];
    lra_fuzz_subdir("idx", dir, sizeof dir);
    snprintf(leaf, sizeof leaf, "%s-labels-idx1-ubyte", pre);
    put_file("idx", leaf, lab, nlab, gz);
    snprintf(leaf, sizeof leaf, "%s-images-idx3-ubyte", pre);
    put_file("idx", leaf, img, nimg, gz);
    lra_dataset ds;
    if (lra_idx_read(dir, split, NULL, &ds) == LRA_OK) lra_dataset_free(&ds);
    return 0;
}
