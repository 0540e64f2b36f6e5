// Hostile data files: headers that lie about sizes and counts, paths that leave the data folder, and data
// paths of the wrong kind.  Every case is built here in a temporary folder, must be refused with an
// LRA_ERR_* status (never an abort or a huge allocation) and a message naming the file and what was
// expected.  Run under `make asan` too: some cases were undefined behaviour, not crashes.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/status.h"
#include "data/cache.h"
#include "data/load.h"
#include "data/png.h"
#include "data/read_cifar.h"
#include "data/read_idx.h"
#include "data/read_imdb.h"
#include "data/read_pathfinder.h"
#include "data/tar.h"
#include "tasks/task.h"
#include "tests/harness.h"

static char g_dir[512];

static const char *tmpdir(void) {
    if (!g_dir[0]) lra_test_mkdtemp(g_dir, sizeof g_dir, "hostile");
    return g_dir;
}

// tmpdir()/leaf into buf; the parent folders of leaf must exist.
static const char *tpath(const char *leaf, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", tmpdir(), leaf);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    LRA_ASSERT(f != NULL);
    LRA_ASSERT(n == 0 || fwrite(data, 1, n, f) == n);
    LRA_ASSERT(fclose(f) == 0);
}

static void write_gz(const char *path, const void *data, size_t n) {
    gzFile g = gzopen(path, "wb");
    LRA_ASSERT(g != NULL);
    LRA_ASSERT(n == 0 || gzwrite(g, data, (unsigned)n) == (int)n);
    LRA_ASSERT(gzclose(g) == Z_OK);
}

static void mkdirs(const char *leaf) {
    char p[1024];
    tpath(leaf, p, sizeof p);
    for (char *s = p + strlen(tmpdir()) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0777);
            *s = '/';
        }
    mkdir(p, 0777);
}

// The recorded message contains every needle.
static int msg_has(const char *a, const char *b) {
    const char *m = lra_error_message();
    int ok = strstr(m, a) != NULL && (!b || strstr(m, b) != NULL);
    if (!ok) printf("    message was: %s\n", m);
    return ok;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// ---- PNG ------------------------------------------------------------------------------------------

// Appends a chunk with its CRC at buf + *n.
static void png_chunk(uint8_t *buf, size_t *n, const char *type, const uint8_t *data, uint32_t len) {
    put_be32(buf + *n, len);
    memcpy(buf + *n + 4, type, 4);
    if (len) memcpy(buf + *n + 8, data, len);
    put_be32(buf + *n + 8 + len, (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf + *n + 4, len + 4));
    *n += 12 + len;
}

static void test_png_huge_ihdr(void) {
    // 16384x16384 RGBA 16-bit (2 GiB of filtered data) with an 11-byte IDAT: 68 bytes in all.
    uint8_t buf[128];
    size_t n = 8;
    memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, 16384);
    put_be32(ihdr + 4, 16384);
    ihdr[8] = 16;
    ihdr[9] = 6;
    png_chunk(buf, &n, "IHDR", ihdr, 13);
    uint8_t z[16];
    uLongf zn = sizeof z;
    const uint8_t zero[2] = {0, 0};
    LRA_ASSERT(compress(z, &zn, zero, 2) == Z_OK);
    LRA_ASSERT(zn == 10);
    z[10] = 0;  // one spare byte so the file is 68 bytes
    png_chunk(buf, &n, "IDAT", z, 11);
    png_chunk(buf, &n, "IEND", NULL, 0);
    CHECK_EQ_INT(n, 68);
    uint8_t *px = NULL;
    int w = 0, h = 0;
    CHECK_EQ_INT(lra_png_decode_gray8(buf, n, "huge.png", &px, &w, &h), LRA_ERR_FORMAT);
    CHECK(px == NULL);
    CHECK(msg_has("huge.png", "declares 2147500032 bytes"));
}

// ---- IDX ------------------------------------------------------------------------------------------

// An IDX header (unsigned bytes) with `nd` dims, followed by `data` bytes of zeros.
static void write_idx(const char *path, int nd, const uint32_t *dims, size_t data, int gz) {
    size_t n = 4 + 4 * (size_t)nd + data;
    uint8_t *b = calloc(n, 1);
    b[2] = 0x08;
    b[3] = (uint8_t)nd;
    for (int i = 0; i < nd; i++) put_be32(b + 4 + 4 * i, dims[i]);
    if (gz)
        write_gz(path, b, n);
    else
        write_bytes(path, b, n);
    free(b);
}

static void test_idx_zero_items_huge_images(void) {
    char ip[1024], lp[1024];
    uint32_t di[3] = {0, 0xFFFFFFFFu, 0xFFFFFFFFu}, dl[1] = {0};
    write_idx(tpath("zero-images", ip, sizeof ip), 3, di, 0, 0);
    write_idx(tpath("zero-labels", lp, sizeof lp), 1, dl, 0, 0);
    lra_dataset d;
    CHECK_EQ_INT(lra_idx_read_files(ip, lp, NULL, &d), LRA_ERR_FORMAT);
    CHECK(msg_has(ip, "images of size 4294967295x4294967295"));
}

static void test_idx_count_beyond_data(void) {
    // 2^31 images of 1x1 and 2^31 labels, with no data at all: refused before allocating 2 GiB.
    char ip[1024], lp[1024];
    uint32_t di[3] = {0x80000000u, 1, 1}, dl[1] = {0x80000000u};
    write_idx(tpath("many-images", ip, sizeof ip), 3, di, 16, 0);
    write_idx(tpath("many-labels", lp, sizeof lp), 1, dl, 16, 0);
    lra_dataset d;
    CHECK_EQ_INT(lra_idx_read_files(ip, lp, NULL, &d), LRA_ERR_FORMAT);
    CHECK(msg_has(lp, "truncated: file ends inside label 16 of 2147483648"));
    // Compressed: the bound is the deflate ratio, still far below 2 GiB for a tiny file.
    write_idx(tpath("many-labels.gz", lp, sizeof lp), 1, dl, 16, 1);
    CHECK_EQ_INT(lra_idx_read_files(ip, lp, NULL, &d), LRA_ERR_FORMAT);
    CHECK(msg_has(lp, "more than compression can expand to"));
    // The product of the dimensions overflowing 64 bits.
    uint32_t dx[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, dl16[1] = {16};
    write_idx(ip, 3, dx, 16, 0);
    write_idx(lp, 1, dl16, 16, 1);
    CHECK_EQ_INT(lra_idx_read_files(ip, lp, NULL, &d), LRA_ERR_FORMAT);
    CHECK(msg_has(ip, "overflow"));
}

static void test_idx_count_mismatch(void) {
    mkdirs("idxdir");
    char ip[1024], lp[1024];
    uint32_t di[3] = {6, 2, 2}, dl[1] = {5};
    write_idx(tpath("idxdir/train-images-idx3-ubyte", ip, sizeof ip), 3, di, 24, 0);
    write_idx(tpath("idxdir/train-labels-idx1-ubyte", lp, sizeof lp), 1, dl, 5, 0);
    char dir[1024];
    lra_dataset d;
    for (int split = 0; split < 2; split++) {
        CHECK_EQ_INT(lra_idx_read(tpath("idxdir", dir, sizeof dir), (lra_split)split, NULL, &d), LRA_ERR_FORMAT);
        CHECK(msg_has(ip, "holds 6 images"));
        CHECK(msg_has(lp, "holds 5 labels"));
    }
    CHECK_EQ_INT(lra_idx_read_files(ip, lp, NULL, &d), LRA_ERR_FORMAT);
    CHECK(msg_has("holds 6 images but", "holds 5 labels"));
}

// ---- tar and CIFAR in a tar ------------------------------------------------------------------------

// A ustar header for a regular file `name` whose size field is given raw (12 bytes).
static void tar_header(uint8_t h[512], const char *name, const uint8_t size_field[12]) {
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    memcpy(h + 124, size_field, 12);
    memcpy(h + 136, "00000000000", 12);
    h[156] = '0';
    memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

// A base-256 size field holding v.
static void size_b256(uint8_t f[12], uint64_t v) {
    memset(f, 0, 12);
    f[0] = 0x80;
    for (int i = 0; i < 8; i++) f[11 - i] = (uint8_t)(v >> (8 * i));
}

// One header, 1024 bytes of data, the end-of-archive blocks; gzip-compressed when gz.
static void write_tar1(const char *path, const char *member, uint64_t size, int gz) {
    uint8_t buf[512 * 5] = {0};
    uint8_t f[12];
    size_b256(f, size);
    tar_header(buf, member, f);
    if (gz)
        write_gz(path, buf, sizeof buf);
    else
        write_bytes(path, buf, sizeof buf);
}

static void test_tar_int64_max_size(void) {
    char p[1024];
    write_tar1(tpath("max.tar", p, sizeof p), "big.bin", (uint64_t)INT64_MAX, 0);
    lra_tar *t;
    REQUIRE(lra_tar_open(p, &t) == LRA_OK);
    const char *name;
    int64_t size;
    int done;
    CHECK_EQ_INT(lra_tar_next(t, &name, &size, &done), LRA_ERR_FORMAT);
    CHECK(msg_has(p, "member 'big.bin'"));
    CHECK(msg_has("declares 9223372036854775807 bytes", "ends at offset 2560"));
    // The same header compressed: bounded by what the few gzip bytes can inflate to.
    write_tar1(tpath("max.tar.gz", p, sizeof p), "big.bin", (uint64_t)INT64_MAX, 1);
    lra_tar_close(t);
    REQUIRE(lra_tar_open(p, &t) == LRA_OK);
    CHECK_EQ_INT(lra_tar_next(t, &name, &size, &done), LRA_ERR_FORMAT);
    CHECK(msg_has("member 'big.bin'", "more than compression can expand to"));
    lra_tar_close(t);
    // A size with the top bit of the base-256 number set is not a size at all.
    uint8_t buf[1024] = {0}, f[12];
    memset(f, 0xFF, 12);
    f[0] = 0x80;
    tar_header(buf, "neg.bin", f);
    write_bytes(p, buf, sizeof buf);
    REQUIRE(lra_tar_open(p, &t) == LRA_OK);
    CHECK_EQ_INT(lra_tar_next(t, &name, &size, &done), LRA_ERR_FORMAT);
    CHECK(msg_has(p, "bad size field"));
    lra_tar_close(t);
}

static void test_cifar_member_341gb(void) {
    char p[1024];
    uint64_t size = (uint64_t)LRA_CIFAR_RECORD * 111000000u;  // 341 GB, a whole number of records
    for (int gz = 0; gz < 2; gz++) {
        write_tar1(tpath(gz ? "cifar.tar.gz" : "cifar.tar", p, sizeof p), "cifar-10-batches-bin/test_batch.bin",
                   size, gz);
        lra_dataset d;
        CHECK_EQ_INT(lra_cifar_read(p, LRA_SPLIT_TEST, NULL, &d), LRA_ERR_FORMAT);
        CHECK(msg_has(p, "test_batch.bin"));
        CHECK(msg_has("declares 341103000", gz ? "compression" : "truncated"));
    }
}

// ---- binary cache ---------------------------------------------------------------------------------

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// Saves a 2-example cache, then rewrites its count (and the section sizes that follow from it) and the
// header CRC, so that only the sizes lie.
static void write_lying_cache(const char *path, const char *key, uint64_t count) {
    lra_dataset ds;
    lra_dataset_init(&ds, 1, 20, 3);
    const uint16_t a[3] = {1, 2, 3}, b[2] = {4, 5};
    lra_dataset_push1(&ds, a, 3, 0);
    lra_dataset_push1(&ds, b, 2, 2);
    LRA_ASSERT(lra_cache_save(path, key, &ds) == LRA_OK);
    lra_dataset_free(&ds);
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t klen = strlen(key);
    put_le(buf + 24, count, 8);
    put_le(buf + 64, count * 4, 8);        // lengths raw bytes (wraps for huge counts, as a liar would)
    put_le(buf + 64 + 48, count * 4, 8);   // labels raw bytes
    put_le(buf + 136 + klen, crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(136 + klen)), 4);
    write_bytes(path, buf, n);
}

static void test_cache_huge_counts(void) {
    char p[1024];
    const char *key = "hostile key";
    tpath("lying.lrac", p, sizeof p);
    lra_dataset d;
    const uint64_t counts[3] = {(uint64_t)1 << 28, (uint64_t)1 << 34, ((uint64_t)1 << 62) + 1};
    for (int i = 0; i < 3; i++) {
        write_lying_cache(p, key, counts[i]);
        CHECK_EQ_INT(lra_cache_load(p, key, &d), LRA_ERR_FORMAT);
        CHECK(d.count == 0 && d.offsets == NULL);
        if (i < 2)
            CHECK(msg_has(p, "section declares"));
        else
            CHECK(msg_has(p, "overflow"));
    }
}

// ---- IMDb -----------------------------------------------------------------------------------------

static void test_imdb_all_empty_reviews(void) {
    // Empty and whitespace-only reviews: valid, each an example of length 0.
    uint8_t buf[512 * 8] = {0};
    uint8_t f[12];
    memcpy(f, "00000000000", 12);
    tar_header(buf, "aclImdb/train/neg/1_1.txt", f);
    memcpy(f, "00000000003", 12);
    tar_header(buf + 512, "aclImdb/train/pos/2_9.txt", f);
    memcpy(buf + 1024, " \n\t", 3);
    char p[1024];
    write_gz(tpath("empty_reviews.tar.gz", p, sizeof p), buf, sizeof buf);
    lra_dataset d;
    CHECK_OK(lra_imdb_read(p, LRA_SPLIT_TRAIN, NULL, &d));
    CHECK_EQ_INT(d.count, 2);
    CHECK_EQ_INT(lra_dataset_num_tokens(&d), 0);
    lra_dataset_free(&d);
}

// ---- Pathfinder -----------------------------------------------------------------------------------

static void test_pathfinder_path_escape(void) {
    mkdirs("pf/metadata");
    mkdirs("pf/imgs/0");
    char p[1024], dir[1024];
    tpath("pf", dir, sizeof dir);
    write_bytes(tpath("pf/imgs/0/sample_0.png", p, sizeof p), "x", 1);   // only stat()ed before the bad line
    const char *lines[] = {"../../../etc passwd 0 1\n", "imgs/0 ../../../../etc/passwd 0 1\n", "/etc passwd 0 0\n",
                           "imgs/0/.. x.png 0 0\n", "imgs/0 sample_0.png 0 1\n..  x 1 1\n"};
    const int bad_line[] = {1, 1, 1, 1, 2};
    for (int i = 0; i < 5; i++) {
        write_bytes(tpath("pf/metadata/0.npy", p, sizeof p), lines[i], strlen(lines[i]));
        lra_dataset d;
        CHECK_EQ_INT(lra_pathfinder_read(dir, LRA_SPLIT_TRAIN, NULL, &d, NULL), LRA_ERR_FORMAT);
        char where[64];
        snprintf(where, sizeof where, "0.npy:%d:", bad_line[i]);
        CHECK(msg_has(where, "leaves the data folder"));
    }
}

// ---- data/load.c: paths of the wrong kind ---------------------------------------------------------

static void test_load_listops_file(void) {
    char p[1024];
    snprintf(p, sizeof p, "%s/listops/basic_train.tsv", lra_test_fixtures());
    lra_dataset d;
    CHECK_EQ_INT(lra_task_load("listops", p, LRA_SPLIT_TRAIN, NULL, &d), LRA_ERR_ARG);
    CHECK(msg_has(p, "basic_train.tsv, basic_val.tsv and basic_test.tsv"));
    CHECK(msg_has("folder", NULL));
}

static void test_load_idx_file_as_image_path(void) {
    char p[1024];
    for (int gz = 0; gz < 2; gz++) {
        snprintf(p, sizeof p, "%s/idx/%s", lra_test_fixtures(),
                 gz ? "t10k-images-idx3-ubyte.gz" : "train-images-idx3-ubyte");
        lra_dataset d;
        CHECK_EQ_INT(lra_task_load("image", p, LRA_SPLIT_TEST, NULL, &d), LRA_ERR_ARG);
        CHECK(msg_has(p, "folder of IDX files"));
        CHECK(msg_has("CIFAR-10 archive", NULL));
    }
    // Any other file that is not a tar archive: the message says what was expected.
    write_bytes(tpath("notes.txt", p, sizeof p), "hello\n", 6);
    lra_dataset d;
    CHECK_EQ_INT(lra_task_load("image", p, LRA_SPLIT_TEST, NULL, &d), LRA_ERR_FORMAT);
    CHECK(msg_has(p, "expected a CIFAR-10 archive"));
}

static void cleanup(void) {
    if (g_dir[0]) lra_test_rmtree(g_dir);
}

static void test_cleanup(void) { cleanup(); }

static const lra_test_case TESTS[] = {
    {"png_huge_ihdr", test_png_huge_ihdr},
    {"idx_zero_items_huge_images", test_idx_zero_items_huge_images},
    {"idx_count_beyond_data", test_idx_count_beyond_data},
    {"idx_count_mismatch", test_idx_count_mismatch},
    {"tar_int64_max_size", test_tar_int64_max_size},
    {"cifar_member_341gb", test_cifar_member_341gb},
    {"cache_huge_counts", test_cache_huge_counts},
    {"imdb_all_empty_reviews", test_imdb_all_empty_reviews},
    {"pathfinder_path_escape", test_pathfinder_path_escape},
    {"load_listops_file", test_load_listops_file},
    {"load_idx_file_as_image_path", test_load_idx_file_as_image_path},
    {"cleanup", test_cleanup},
};
LRA_TEST_MAIN(TESTS)
