// Tests of the image-side readers: the grayscale recipe, token ids, CIFAR-10 (directory and .tar.gz),
// IDX (raw and .gz), Pathfinder (fixture tree with three batches and an empty image, and the real
// samples in ../shared/data when present), and bad inputs of each format.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/read_cifar.h"
#include "data/read_idx.h"
#include "data/read_pathfinder.h"
#include "data/split.h"
#include "tests/harness.h"

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    LRA_ASSERT(f != NULL);
    LRA_ASSERT(fwrite(buf, 1, len, f) == len);
    fclose(f);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    uint8_t *b = slurp(from, &n);
    LRA_ASSERT(b != NULL);
    spit(to, b, n);
    free(b);
}

static void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

// ---- gray recipe, tokens, splits ---------------------------------------------------------------

// The counts of data.md §7.2, measured there over all 16,777,216 RGB triples.
static void test_gray_recipe(void) {
    long long vs_rational = 0, zeros = 0, vs_pil = 0, pil_lower = 0, pil_far = 0;
    for (int r = 0; r < 256; r++)
        for (int g = 0; g < 256; g++)
            for (int b = 0; b < 256; b++) {
                int y = lra_image_rgb_to_gray((uint8_t)r, (uint8_t)g, (uint8_t)b);
                long long rat = (2989LL * r + 5870LL * g + 1140LL * b) * 511 / 5100000;
                int pil = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
                vs_rational += y != rat;
                zeros += y == 0;
                if (y != pil) {
                    vs_pil++;
                    if (y > pil) pil_lower++;
                    if (pil - y != 1) pil_far++;
                }
            }
    CHECK_EQ_INT(vs_rational, 237);
    CHECK_EQ_INT(zeros, 26);
    CHECK_EQ_INT(vs_pil, 4408543);
    CHECK_EQ_INT(pil_lower, 0);
    CHECK_EQ_INT(pil_far, 0);
    for (int v = 0; v < 256; v++) CHECK_EQ_INT(lra_image_rgb_to_gray((uint8_t)v, (uint8_t)v, (uint8_t)v), v);
}

static void test_tokens_and_splits(void) {
    lra_image_options o;
    lra_image_options_default(&o);
    CHECK_EQ_INT(o.pixel_offset, 1);
    CHECK_EQ_INT(lra_image_vocab_size(&o), 257);
    CHECK_EQ_INT(lra_image_vocab_size(NULL), 257);
    uint8_t px[3] = {0, 17, 255};
    uint16_t t[3];
    lra_image_tokens(&o, px, 3, t);
    CHECK(t[0] == 1 && t[1] == 18 && t[2] == 256);
    o.pixel_offset = 0;
    CHECK_EQ_INT(lra_image_vocab_size(&o), 256);
    lra_image_tokens(&o, px, 3, t);
    CHECK(t[0] == 0 && t[1] == 17 && t[2] == 255);
    lra_split s;
    CHECK_OK(lra_split_parse("train", &s));
    CHECK_EQ_INT(s, LRA_SPLIT_TRAIN);
    CHECK_OK(lra_split_parse("validation", &s));
    CHECK_EQ_INT(s, LRA_SPLIT_VAL);
    CHECK_OK(lra_split_parse("test", &s));
    CHECK_EQ_INT(s, LRA_SPLIT_TEST);
    CHECK(!strcmp(lra_split_name(LRA_SPLIT_VAL), "val"));
    CHECK_EQ_INT(lra_split_parse("training", &s), LRA_ERR_ARG);
    CHECK(contains(lra_error_message(), "'training'"));
}

// ---- CIFAR-10 ----------------------------------------------------------------------------------

// Checks `ds` against records [first, first + n) of expected_gray.bin.
static void check_cifar(const lra_dataset *ds, const uint8_t *exp, int first, int n, int offset, const char *what) {
    CHECK_MSG(ds->count == n, "%s: %lld examples, expected %d", what, (long long)ds->count, n);
    if (ds->count != n) return;
    CHECK_EQ_INT(ds->vocab_size, offset ? 257 : 256);
    CHECK_EQ_INT(ds->num_classes, 10);
    CHECK_EQ_INT(ds->max_seq_len, 1024);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *rec = exp + (size_t)(first + i) * 1025;
        if (ds->labels[i] != rec[0]) bad++;
        CHECK_EQ_INT(lra_dataset_len(ds, i, 0), 1024);
        const uint16_t *t = lra_dataset_seq(ds, i, 0);
        for (int p = 0; p < 1024; p++)
            if (t[p] != rec[1 + p] + offset) bad++;
    }
    CHECK_MSG(bad == 0, "%s: %d mismatches", what, bad);
    CHECK_OK(lra_dataset_validate(ds, what));
}

static void test_cifar(void) {
    char parent[256], dir[512], tgz[512], expp[512];
    snprintf(parent, sizeof parent, "%s/cifar", lra_test_fixtures());
    snprintf(dir, sizeof dir, "%s/cifar-10-batches-bin", parent);
    snprintf(tgz, sizeof tgz, "%s/cifar-10-binary.tar.gz", parent);
    snprintf(expp, sizeof expp, "%s/expected_gray.bin", parent);
    size_t elen;
    uint8_t *exp = slurp(expp, &elen);
    REQUIRE(exp != NULL && elen == 13 * 1025);
    // 10 training records: train = first 9, val = last 1 (N/10); test = 3 records.
    const char *paths[3] = {dir, parent, tgz};
    for (int k = 0; k < 3; k++) {
        lra_dataset ds;
        CHECK_OK(lra_cifar_read(paths[k], LRA_SPLIT_TRAIN, NULL, &ds));
        check_cifar(&ds, exp, 0, 9, 1, paths[k]);
        lra_dataset_free(&ds);
        CHECK_OK(lra_cifar_read(paths[k], LRA_SPLIT_VAL, NULL, &ds));
        check_cifar(&ds, exp, 9, 1, 1, paths[k]);
        lra_dataset_free(&ds);
        CHECK_OK(lra_cifar_read(paths[k], LRA_SPLIT_TEST, NULL, &ds));
        check_cifar(&ds, exp, 10, 3, 1, paths[k]);
        lra_dataset_free(&ds);
    }
    lra_image_options raw = {0};
    lra_dataset ds;
    CHECK_OK(lra_cifar_read(tgz, LRA_SPLIT_TEST, &raw, &ds));
    check_cifar(&ds, exp, 10, 3, 0, "tgz, pixel_offset 0");
    lra_dataset_free(&ds);
    CHECK(!strcmp(lra_cifar_class_name(0), "airplane") && !strcmp(lra_cifar_class_name(9), "truck"));
    free(exp);
}

static void test_cifar_errors(void) {
    char src[512], tmp[256], p[1024], q[1024];
    snprintf(src, sizeof src, "%s/cifar/cifar-10-batches-bin", lra_test_fixtures());
    lra_test_mkdtemp(tmp, sizeof tmp, "cifar");
    const char *files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                           "data_batch_5.bin", "test_batch.bin"};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", src, files[i]);
        snprintf(q, sizeof q, "%s/%s", tmp, files[i]);
        copy_file(p, q);
    }
    lra_dataset ds;
    // Truncated batch: size not a multiple of 3073.
    snprintf(q, sizeof q, "%s/data_batch_3.bin", tmp);
    size_t n;
    uint8_t *b = slurp(q, &n);
    spit(q, b, n - 100);
    CHECK_EQ_INT(lra_cifar_read(tmp, LRA_SPLIT_TRAIN, NULL, &ds), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), q) && contains(lra_error_message(), "3073"));
    CHECK(ds.count == 0 && ds.tokens == NULL);
    // Bad label in record 1.
    b[3073] = 10;
    spit(q, b, n);
    CHECK_EQ_INT(lra_cifar_read(tmp, LRA_SPLIT_VAL, NULL, &ds), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), q) && contains(lra_error_message(), "record 1 has label 10"));
    free(b);
    // The test split does not need the damaged training batch.
    CHECK_OK(lra_cifar_read(tmp, LRA_SPLIT_TEST, NULL, &ds));
    CHECK_EQ_INT(ds.count, 3);
    lra_dataset_free(&ds);
    // Missing batch.
    unlink(q);
    CHECK_EQ_INT(lra_cifar_read(tmp, LRA_SPLIT_TRAIN, NULL, &ds), LRA_ERR_IO);
    CHECK(contains(lra_error_message(), "data_batch_3.bin"));
    // Truncated archive: cut inside a member.
    snprintf(p, sizeof p, "%s/../cifar-10-binary.tar.gz", src);
    b = slurp(p, &n);
    REQUIRE(b != NULL);
    snprintf(q, sizeof q, "%s/cut.tar.gz", tmp);
    spit(q, b, n / 2);
    CHECK_EQ_INT(lra_cifar_read(q, LRA_SPLIT_TRAIN, NULL, &ds), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), q));
    free(b);
    CHECK_EQ_INT(lra_cifar_read("/nonexistent/cifar", LRA_SPLIT_TEST, NULL, &ds), LRA_ERR_IO);
    CHECK(contains(lra_error_message(), "/nonexistent/cifar"));
    rm_rf(tmp);
}

// ---- IDX ---------------------------------------------------------------------------------------

static int idx_pixel(int i, int r, int c) { return (r + c + i) % 3 == 0 ? (i * 31 + r * 7 + c * 3) % 256 : 0; }

static void check_idx(const lra_dataset *ds, int first, int n, int offset, const char *what) {
    CHECK_MSG(ds->count == n, "%s: %lld examples, expected %d", what, (long long)ds->count, n);
    if (ds->count != n) return;
    int bad = 0;
    for (int k = 0; k < n; k++) {
        int i = first + k;
        if (ds->labels[k] != (i * 3 + 1) % 10) bad++;
        if (lra_dataset_len(ds, k, 0) != 784) bad++;
        const uint16_t *t = lra_dataset_seq(ds, k, 0);
        for (int p = 0; p < 784; p++)
            if (t[p] != idx_pixel(i, p / 28, p % 28) + offset) bad++;
    }
    CHECK_MSG(bad == 0, "%s: %d mismatches", what, bad);
}

static void test_idx(void) {
    char dir[512], ip[600], lp[600];
    snprintf(dir, sizeof dir, "%s/idx", lra_test_fixtures());
    lra_dataset ds;
    CHECK_OK(lra_idx_read(dir, LRA_SPLIT_TRAIN, NULL, &ds));
    check_idx(&ds, 0, 9, 1, "train");
    CHECK_EQ_INT(ds.vocab_size, 257);
    lra_dataset_free(&ds);
    CHECK_OK(lra_idx_read(dir, LRA_SPLIT_VAL, NULL, &ds));
    check_idx(&ds, 9, 1, 1, "val");
    lra_dataset_free(&ds);
    lra_image_options raw = {0};
    CHECK_OK(lra_idx_read(dir, LRA_SPLIT_TEST, &raw, &ds));   // the .gz pair
    check_idx(&ds, 0, 4, 0, "test");
    CHECK_EQ_INT(ds.vocab_size, 256);
    lra_dataset_free(&ds);
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", dir);
    CHECK_OK(lra_idx_read_files(ip, lp, NULL, &ds));
    check_idx(&ds, 0, 4, 1, "files");
    lra_dataset_free(&ds);
}

// Writes `len` bytes of `b` to dir/name (gzip when gz) and expects reading the pair to fail.
static void idx_expect(const char *ip, const char *lp, lra_status code, const char *named, const char *what) {
    lra_dataset ds;
    lra_status s = lra_idx_read_files(ip, lp, NULL, &ds);
    CHECK_MSG(s == code, "expected status %d, got %d: %s", (int)code, (int)s, lra_error_message());
    CHECK_MSG(contains(lra_error_message(), named) && contains(lra_error_message(), what),
              "message lacks '%s' or '%s': %s", named, what, lra_error_message());
    CHECK(ds.count == 0 && ds.tokens == NULL);
}

static void test_idx_errors(void) {
    char dir[512], tmp[256], ip[600], lp[600], p[600], q[600];
    snprintf(dir, sizeof dir, "%s/idx", lra_test_fixtures());
    lra_test_mkdtemp(tmp, sizeof tmp, "idx");
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte", dir);
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte", dir);
    size_t ni, nl;
    uint8_t *im = slurp(ip, &ni), *lb = slurp(lp, &nl);
    REQUIRE(im && lb);
    snprintf(p, sizeof p, "%s/images", tmp);
    snprintf(q, sizeof q, "%s/labels", tmp);
    spit(q, lb, nl);
    // Wrong magic: the label file given as images, a nonzero first byte, a float element type.
    idx_expect(lp, lp, LRA_ERR_FORMAT, lp, "1 dimensions, expected 3");
    im[0] = 1;
    spit(p, im, ni);
    idx_expect(p, q, LRA_ERR_FORMAT, p, "bad IDX magic 01 00 08 03");
    im[0] = 0;
    im[2] = 0x0D;
    spit(p, im, ni);
    idx_expect(p, q, LRA_ERR_UNSUPPORTED, p, "float32");
    im[2] = 0x08;
    // Truncated image data, extra bytes, truncated header.
    spit(p, im, ni - 5);
    idx_expect(p, q, LRA_ERR_FORMAT, p, "truncated: file ends inside image 9");
    spit(p, im, 10);
    idx_expect(p, q, LRA_ERR_FORMAT, p, "truncated");
    uint8_t *big = malloc(ni + 1);
    memcpy(big, im, ni);
    big[ni] = 7;
    spit(p, big, ni + 1);
    idx_expect(p, q, LRA_ERR_FORMAT, p, "more bytes");
    free(big);
    // Bad label, count mismatch, empty file.
    spit(p, im, ni);
    lb[8 + 4] = 12;
    spit(q, lb, nl);
    idx_expect(p, q, LRA_ERR_FORMAT, q, "label 4 is 12");
    lb[8 + 4] = 3;
    lb[7] = 9;   // 9 labels for 10 images
    spit(q, lb, nl - 1);
    idx_expect(p, q, LRA_ERR_FORMAT, p, "10 images but");
    spit(q, lb, nl);   // a count that does not match the data length
    idx_expect(p, q, LRA_ERR_FORMAT, q, "10 images but");
    lb[7] = 10;
    spit(q, lb, nl - 2);
    idx_expect(p, q, LRA_ERR_FORMAT, q, "truncated");
    spit(q, lb, 0);
    idx_expect(p, q, LRA_ERR_FORMAT, q, "empty file");
    // A truncated .gz (cut inside the deflate data).
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", dir);
    size_t ng;
    uint8_t *gz = slurp(ip, &ng);
    REQUIRE(gz);
    snprintf(p, sizeof p, "%s/images.gz", tmp);
    spit(p, gz, ng / 2);
    idx_expect(p, lp, LRA_ERR_FORMAT, p, "truncated");
    spit(p, gz, ng - 3);   // only the gzip trailer is cut
    idx_expect(p, lp, LRA_ERR_FORMAT, p, "cut short");
    free(gz);
    free(im);
    free(lb);
    rm_rf(tmp);
}

// ---- Pathfinder --------------------------------------------------------------------------------

typedef struct {
    int label, empty;
    char split[8];
} pf_expect;

static int load_pf_expected(pf_expect *e, int cap) {
    char path[512];
    snprintf(path, sizeof path, "%s/pathfinder/expected.txt", lra_test_fixtures());
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int k, n = 0;
    pf_expect x;
    while (n < cap && fscanf(f, "%d %d %d %7s", &k, &x.label, &x.empty, x.split) == 4) {
        if (k != n) break;
        e[n++] = x;
    }
    fclose(f);
    return n;
}

static void test_pathfinder_fixture(void) {
    pf_expect e[64];
    int n = load_pf_expected(e, 64);
    REQUIRE(n == 21);
    char root[512];
    snprintf(root, sizeof root, "%s/pathfinder", lra_test_fixtures());
    char *dir = lra_pathfinder_find(root, 8, LRA_PF_HARD);
    REQUIRE(dir != NULL);
    CHECK(contains(dir, "pathfinder8/curv_contour_length_14"));
    CHECK(lra_pathfinder_find(root, 32, LRA_PF_HARD) == NULL);
    CHECK(contains(lra_error_message(), "pathfinder32/curv_contour_length_14"));
    int seen[64] = {0};
    const lra_split splits[3] = {LRA_SPLIT_TRAIN, LRA_SPLIT_VAL, LRA_SPLIT_TEST};
    const int sizes[3] = {16, 2, 2};   // N = 20 usable of 21 listed
    for (int si = 0; si < 3; si++) {
        lra_dataset ds;
        lra_pathfinder_info info;
        CHECK_OK(lra_pathfinder_read(dir, splits[si], NULL, &ds, &info));
        CHECK_EQ_INT(info.listed, 21);
        CHECK_EQ_INT(info.skipped_empty, 1);
        CHECK_EQ_INT(info.usable, 20);
        CHECK_EQ_INT(info.split_size[splits[si]], sizes[si]);
        CHECK(info.width == 8 && info.height == 8);
        CHECK_EQ_INT(ds.count, sizes[si]);
        CHECK_EQ_INT(ds.vocab_size, 257);
        CHECK_EQ_INT(ds.num_classes, 2);
        int prev = -1;
        for (int64_t i = 0; i < ds.count; i++) {
            REQUIRE(lra_dataset_len(&ds, i, 0) == 64);
            int k = lra_dataset_seq(&ds, i, 0)[0] - 2;   // pixel (0,0) = k + 1, token = pixel + 1
            REQUIRE(k >= 0 && k < n);
            CHECK(k > prev);   // listing order within a split
            prev = k;
            seen[k]++;
            CHECK_EQ_INT(ds.labels[i], e[k].label);
            CHECK_MSG(!strcmp(e[k].split, lra_split_name(splits[si])), "image %d is in %s, expected %s", k,
                      lra_split_name(splits[si]), e[k].split);
        }
        CHECK_OK(lra_dataset_validate(&ds, "pathfinder"));
        lra_dataset_free(&ds);
    }
    for (int k = 0; k < n; k++) CHECK_MSG(seen[k] == !e[k].empty, "image %d read %d times", k, seen[k]);
    // Another seed gives another split of the same sizes; max_examples caps a split; offset 0.
    lra_pathfinder_options o;
    lra_pathfinder_options_default(&o);
    CHECK_EQ_INT(o.seed, 42);
    o.seed = 7;
    o.max_examples = 5;
    o.image.pixel_offset = 0;
    lra_dataset ds;
    CHECK_OK(lra_pathfinder_read(dir, LRA_SPLIT_TRAIN, &o, &ds, NULL));
    CHECK_EQ_INT(ds.count, 5);
    CHECK_EQ_INT(ds.vocab_size, 256);
    int differs = 0;
    for (int64_t i = 0; i < ds.count; i++) {
        int k = lra_dataset_seq(&ds, i, 0)[0] - 1;
        differs += strcmp(e[k].split, "train") != 0;
    }
    lra_dataset_free(&ds);
    o.max_examples = 0;
    CHECK_OK(lra_pathfinder_read(dir, LRA_SPLIT_TEST, &o, &ds, NULL));
    for (int64_t i = 0; i < ds.count; i++) differs += strcmp(e[lra_dataset_seq(&ds, i, 0)[0] - 1].split, "test");
    lra_dataset_free(&ds);
    CHECK(differs > 0);
    free(dir);
    lra_pf_difficulty d;
    CHECK_OK(lra_pathfinder_parse_difficulty("intermediate", &d));
    CHECK_EQ_INT(d, LRA_PF_INTERMEDIATE);
    CHECK_OK(lra_pathfinder_parse_difficulty("curv_contour_length_14", &d));
    CHECK_EQ_INT(d, LRA_PF_HARD);
    CHECK(!strcmp(lra_pathfinder_folder(LRA_PF_EASY), "curv_baseline"));
    CHECK_EQ_INT(lra_pathfinder_parse_difficulty("medium", &d), LRA_ERR_ARG);
}

// Builds tmp/metadata/0.npy = text and tmp/imgs/0/sample_{0,1}.png (copies of fixture images).
static void pf_tree(const char *tmp, const char *text) {
    char p[1024], q[1024];
    snprintf(p, sizeof p, "%s/metadata", tmp);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/imgs", tmp);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/imgs/0", tmp);
    mkdir(p, 0777);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/pathfinder/pathfinder8/curv_contour_length_14/imgs/0/sample_%d.png",
                 lra_test_fixtures(), i);
        snprintf(q, sizeof q, "%s/imgs/0/sample_%d.png", tmp, i);
        copy_file(p, q);
    }
    snprintf(p, sizeof p, "%s/metadata/0.npy", tmp);
    spit(p, text, strlen(text));
}

static void pf_expect_error(const char *tmp, const char *text, lra_status code, const char *what1, const char *what2) {
    pf_tree(tmp, text);
    lra_dataset ds;
    lra_status s = lra_pathfinder_read(tmp, LRA_SPLIT_TRAIN, NULL, &ds, NULL);
    CHECK_MSG(s == code, "expected %d, got %d: %s", (int)code, (int)s, lra_error_message());
    CHECK_MSG(contains(lra_error_message(), what1) && contains(lra_error_message(), what2),
              "message lacks '%s' or '%s': %s", what1, what2, lra_error_message());
    CHECK(ds.count == 0 && ds.tokens == NULL);
}

static void test_pathfinder_errors(void) {
    char tmp[256], p[1024];
    lra_test_mkdtemp(tmp, sizeof tmp, "pf");
    const char *ok = "imgs/0 sample_0.png 0 1 1.0 14 4 2 0.5 1 1\nimgs/0 sample_1.png 1 0 1.0 14 4 2 0.5 1 1\n";
    pf_tree(tmp, ok);
    lra_dataset ds;
    CHECK_OK(lra_pathfinder_read(tmp, LRA_SPLIT_TRAIN, NULL, &ds, NULL));   // N = 2: all in train
    CHECK_EQ_INT(ds.count, 2);
    lra_dataset_free(&ds);
    pf_expect_error(tmp, "imgs/0 sample_0.png 0 1 1.0\nimgs/0 sample_1.png 1 2 1.0\n", LRA_ERR_FORMAT,
                    "metadata/0.npy:2", "label '2'");
    pf_expect_error(tmp, "imgs/0 sample_0.png 0\n", LRA_ERR_FORMAT, "metadata/0.npy:1", "expected at least 4");
    pf_expect_error(tmp, "imgs/0 sample_9.png 9 1\n", LRA_ERR_IO, "imgs/0/sample_9.png", "metadata/0.npy:1");
    pf_expect_error(tmp, "\x93NUMPY\x01\x00", LRA_ERR_UNSUPPORTED, "metadata/0.npy", "binary");
    // A damaged PNG: CRC error, reported with the image path and the metadata line.
    snprintf(p, sizeof p, "%s/imgs/0/sample_1.png", tmp);
    pf_tree(tmp, ok);
    size_t n;
    uint8_t *b = slurp(p, &n);
    b[20] ^= 4;
    spit(p, b, n);
    free(b);
    CHECK_EQ_INT(lra_pathfinder_read(tmp, LRA_SPLIT_TRAIN, NULL, &ds, NULL), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), p) && contains(lra_error_message(), "CRC mismatch") &&
          contains(lra_error_message(), "metadata/0.npy:2"));
    // Images of different sizes.
    snprintf(p, sizeof p, "%s/png/c0_d8.png", lra_test_fixtures());
    char q[1024];
    snprintf(q, sizeof q, "%s/imgs/0/sample_2.png", tmp);
    copy_file(p, q);
    pf_tree(tmp, "imgs/0 sample_0.png 0 1\nimgs/0 sample_2.png 2 0\n");
    CHECK_EQ_INT(lra_pathfinder_read(tmp, LRA_SPLIT_TRAIN, NULL, &ds, NULL), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), q) && contains(lra_error_message(), "13x11"));
    // No metadata files.
    snprintf(p, sizeof p, "%s/metadata/0.npy", tmp);
    unlink(p);
    CHECK_EQ_INT(lra_pathfinder_read(tmp, LRA_SPLIT_TRAIN, NULL, &ds, NULL), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), "metadata"));
    rm_rf(tmp);
}

// The real samples made by the original generator (data/README.md table).
static void test_pathfinder_real_samples(void) {
    const char *shared = lra_test_shared_data();
    if (!shared) SKIP("no shared data");
    const char *folders[3] = {"curv_baseline", "curv_contour_length_9", "curv_contour_length_14"};
    const int want0[3] = {159, 151, 149}, want1[3] = {141, 149, 151};
    const double want_zero[3] = {77.3, 73.5, 66.0};
    for (int f = 0; f < 3; f++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/pathfinder32/%s", shared, folders[f]);
        struct stat sb;
        if (stat(dir, &sb) != 0) SKIP("%s absent", dir);
        lra_pathfinder_options o;
        lra_pathfinder_options_default(&o);
        o.image.pixel_offset = 0;
        int64_t labels[2] = {0, 0}, zeros = 0, pixels = 0, count = 0;
        for (int s = 0; s < 3; s++) {
            lra_dataset ds;
            lra_pathfinder_info info;
            lra_status st = lra_pathfinder_read(dir, (lra_split)s, &o, &ds, &info);
            CHECK_MSG(st == LRA_OK, "%s", lra_error_message());
            if (st != LRA_OK) return;
            CHECK_EQ_INT(info.listed, 300);
            CHECK_EQ_INT(info.skipped_empty, 0);
            CHECK(info.width == 32 && info.height == 32);
            CHECK_EQ_INT(ds.max_seq_len, 1024);
            labels[0] += info.label_count[0];
            labels[1] += info.label_count[1];
            count += ds.count;
            for (int64_t t = 0; t < lra_dataset_num_tokens(&ds); t++) zeros += ds.tokens[t] == 0;
            pixels += lra_dataset_num_tokens(&ds);
            lra_dataset_free(&ds);
        }
        CHECK_EQ_INT(count, 300);
        CHECK_EQ_INT(labels[0], want0[f]);
        CHECK_EQ_INT(labels[1], want1[f]);
        double frac = 100.0 * (double)zeros / (double)pixels;
        CHECK_NEAR(frac, want_zero[f], 0.05);
        printf("  %s: labels %lld/%lld, %.2f %% zero pixels\n", folders[f], (long long)labels[0],
               (long long)labels[1], frac);
    }
}

static const lra_test_case TESTS[] = {
    {"gray_recipe", test_gray_recipe},
    {"tokens_and_splits", test_tokens_and_splits},
    {"cifar", test_cifar},
    {"cifar_errors", test_cifar_errors},
    {"idx", test_idx},
    {"idx_errors", test_idx_errors},
    {"pathfinder_fixture", test_pathfinder_fixture},
    {"pathfinder_errors", test_pathfinder_errors},
    {"pathfinder_real_samples", test_pathfinder_real_samples},
};
LRA_TEST_MAIN(TESTS)
