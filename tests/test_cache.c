// Tests of the binary dataset cache (data/cache.h) and of the loader that uses it (data/load.h):
// round trips (uint8 and uint16 tokens, one and two sequences, empty), missing / stale / corrupt /
// truncated files, atomic replacement, and cache hits, staleness and rebuilds through lra_data_load.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/log.h"
#include "data/cache.h"
#include "data/load.h"
#include "data/read_aan.h"
#include "data/read_cifar.h"
#include "data/read_idx.h"
#include "data/read_imdb.h"
#include "data/read_pathfinder.h"
#include "data/read_listops.h"
#include "tasks/task.h"
#include "tests/harness.h"

static char g_tmp[256];

static const char *tmpdir(void) {
    if (!g_tmp[0]) {
        lra_test_mkdtemp(g_tmp, sizeof g_tmp, "test_cache");
    }
    return g_tmp;
}

static char *tpath(const char *name) {
    char *p = malloc(strlen(tmpdir()) + strlen(name) + 2);
    sprintf(p, "%s/%s", tmpdir(), name);
    return p;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    LRA_ASSERT(f != NULL);
    LRA_ASSERT(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    LRA_ASSERT(fread(b, 1, (size_t)sz, f) == (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    char *b = read_file(from, &n);
    LRA_ASSERT(b != NULL);
    write_file(to, b, n);
    free(b);
}

static int datasets_equal(const lra_dataset *a, const lra_dataset *b) {
    if (a->count != b->count || a->n_seq != b->n_seq || a->vocab_size != b->vocab_size ||
        a->num_classes != b->num_classes || a->max_seq_len != b->max_seq_len)
        return 0;
    int64_t n = a->count * a->n_seq;
    if (memcmp(a->offsets, b->offsets, (size_t)(n + 1) * sizeof *a->offsets)) return 0;
    if (a->count && memcmp(a->labels, b->labels, (size_t)a->count * sizeof *a->labels)) return 0;
    return a->offsets[n] == 0 || !memcmp(a->tokens, b->tokens, (size_t)a->offsets[n] * sizeof *a->tokens);
}

// A deterministic synthetic dataset: `count` examples of n_seq sequences with ids < vocab.
static void make_dataset(lra_dataset *ds, int64_t count, int n_seq, int32_t vocab, int32_t classes, uint32_t seed) {
    lra_dataset_init(ds, n_seq, vocab, classes);
    uint32_t x = seed * 2654435761u + 1;
    uint16_t buf[2][600];
    for (int64_t i = 0; i < count; i++) {
        int64_t lens[2];
        const uint16_t *seqs[2] = {buf[0], buf[1]};
        for (int s = 0; s < n_seq; s++) {
            x = x * 1664525u + 1013904223u;
            lens[s] = (x >> 8) % 600;
            for (int64_t k = 0; k < lens[s]; k++) {
                x = x * 1664525u + 1013904223u;
                buf[s][k] = (uint16_t)(1 + (x >> 8) % (uint32_t)(vocab - 1));
            }
        }
        lra_dataset_push(ds, seqs, lens, (int32_t)(i % classes));
    }
}

static uint32_t header_flags(const char *path) {
    size_t n;
    unsigned char *b = (unsigned char *)read_file(path, &n);
    LRA_ASSERT(b != NULL && n >= 24);
    uint32_t v = b[20] | b[21] << 8 | (uint32_t)b[22] << 16 | (uint32_t)b[23] << 24;
    free(b);
    return v;
}

static int count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

// ---- the cache file ----------------------------------------------------------------------------

static void test_roundtrip_u8(void) {
    lra_dataset a, b;
    make_dataset(&a, 300, 1, 17, 10, 1);
    char *p = tpath("u8.lrac");
    CHECK_OK(lra_cache_save(p, "key one", &a));
    CHECK_EQ_INT(header_flags(p), 1);  // ids up to 16 (< 256): stored as bytes
    struct stat st;
    REQUIRE(stat(p, &st) == 0);
    CHECK((int64_t)st.st_size < lra_dataset_num_tokens(&a));  // compressed below one byte per token
    CHECK_OK(lra_cache_load(p, "key one", &b));
    CHECK(datasets_equal(&a, &b));
    CHECK_OK(lra_dataset_validate(&b, p));
    // The loaded dataset is an ordinary one: it can grow.
    uint16_t t[2] = {3, 4};
    lra_dataset_push1(&b, t, 2, 7);
    CHECK_EQ_INT(b.count, 301);
    CHECK_EQ_INT(lra_dataset_seq(&b, 300, 0)[1], 4);
    lra_dataset_free(&a);
    lra_dataset_free(&b);
    free(p);
}

static void test_roundtrip_u4(void) {
    lra_dataset a, b;
    make_dataset(&a, 301, 1, 16, 10, 6);  // ids 1..15: two per byte
    if (lra_dataset_num_tokens(&a) % 2 == 0) {
        uint16_t t = 15;
        lra_dataset_push1(&a, &t, 1, 0);  // an odd token count exercises the half-filled last byte
    }
    char *p = tpath("u4.lrac");
    CHECK_OK(lra_cache_save(p, "nibbles", &a));
    CHECK_EQ_INT(header_flags(p), 2);
    CHECK_OK(lra_cache_load(p, "nibbles", &b));
    CHECK(datasets_equal(&a, &b));
    lra_dataset_free(&b);
    // A vocabulary of 10 whose ids all fit in a nibble loads too (the id check uses the real maximum).
    lra_dataset_free(&a);
    make_dataset(&a, 40, 2, 10, 2, 7);
    CHECK_OK(lra_cache_save(p, "small", &a));
    CHECK_EQ_INT(header_flags(p), 2);
    CHECK_OK(lra_cache_load(p, "small", &b));
    CHECK(datasets_equal(&a, &b));
    lra_dataset_free(&b);
    lra_dataset_free(&a);
    free(p);
}

static void test_roundtrip_u16_pairs(void) {
    lra_dataset a, b;
    make_dataset(&a, 120, 2, 1000, 2, 2);
    char *p = tpath("u16.lrac");
    CHECK_OK(lra_cache_save(p, "pairs", &a));
    CHECK_EQ_INT(header_flags(p), 0);  // ids up to 999 need 16 bits
    CHECK_OK(lra_cache_load(p, "pairs", &b));
    CHECK(datasets_equal(&a, &b));
    lra_dataset_free(&a);
    lra_dataset_free(&b);
    // An empty dataset round-trips too.
    lra_dataset_init(&a, 1, 17, 10);
    CHECK_OK(lra_cache_save(p, "empty", &a));
    CHECK_OK(lra_cache_load(p, "empty", &b));
    CHECK(b.count == 0 && b.n_seq == 1 && b.vocab_size == 17 && b.num_classes == 10);
    lra_dataset_free(&a);
    lra_dataset_free(&b);
    free(p);
}

static void test_missing_stale_corrupt(void) {
    lra_dataset a, b;
    make_dataset(&a, 200, 1, 17, 10, 3);
    char *p = tpath("c.lrac");
    CHECK_EQ_INT(lra_cache_load(p, "k", &b), LRA_ERR_IO);  // no file yet
    CHECK_OK(lra_cache_save(p, "source x size 10 mtime 5", &a));
    CHECK_EQ_INT(lra_cache_load(p, "source x size 10 mtime 6", &b), LRA_ERR_STATE);
    CHECK(strstr(lra_error_message(), "stale") != NULL && strstr(lra_error_message(), p) != NULL);
    CHECK(b.count == 0 && b.tokens == NULL);

    size_t n;
    char *good = read_file(p, &n);
    REQUIRE(good != NULL);
    char *bad = malloc(n);
    struct {
        const char *what;
        size_t at;  // byte to flip; SIZE_MAX = truncate instead
        lra_status want;
        const char *msg;
    } cases[] = {
        {"magic", 0, LRA_ERR_FORMAT, "magic"},
        {"version", 8, LRA_ERR_STATE, "version"},
        {"count", 24, LRA_ERR_FORMAT, "CRC"},
        {"key", 140, LRA_ERR_FORMAT, "CRC"},
        {"payload start", 200, LRA_ERR_FORMAT, "corrupt"},
        {"payload middle", 0, LRA_ERR_FORMAT, "corrupt"},
        {"payload end", 0, LRA_ERR_FORMAT, "corrupt"},
        {"truncated", (size_t)-1, LRA_ERR_FORMAT, "truncated"},
    };
    cases[5].at = n / 2;
    cases[6].at = n - 2;
    for (int i = 0; i < (int)(sizeof cases / sizeof *cases); i++) {
        memcpy(bad, good, n);
        size_t len = n;
        if (cases[i].at == (size_t)-1)
            len = n - 7;
        else
            bad[cases[i].at] ^= 0x5A;
        write_file(p, bad, len);
        lra_status st = lra_cache_load(p, "source x size 10 mtime 5", &b);
        CHECK_MSG(st == cases[i].want, "%s: status %d (%s)", cases[i].what, (int)st, lra_error_message());
        CHECK_MSG(strstr(lra_error_message(), cases[i].msg) != NULL, "%s: %s", cases[i].what, lra_error_message());
        CHECK(b.count == 0 && b.tokens == NULL);
    }
    // A section CRC that disagrees with the data (header CRC recomputed so only the section check fires).
    memcpy(bad, good, n);
    bad[64 + 24 * 1 + 16] ^= 1;  // the tokens section's CRC-32
    size_t klen = strlen("source x size 10 mtime 5");
    uint32_t hc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)bad, (uInt)(136 + klen));
    for (int i = 0; i < 4; i++) bad[136 + klen + i] = (char)(hc >> (8 * i));
    write_file(p, bad, n);
    CHECK_EQ_INT(lra_cache_load(p, "source x size 10 mtime 5", &b), LRA_ERR_FORMAT);
    CHECK(strstr(lra_error_message(), "CRC-32 mismatch in the tokens section") != NULL);
    // Restored, it loads again.
    write_file(p, good, n);
    CHECK_OK(lra_cache_load(p, "source x size 10 mtime 5", &b));
    CHECK(datasets_equal(&a, &b));
    lra_dataset_free(&b);
    free(good);
    free(bad);
    lra_dataset_free(&a);
    free(p);
}

static void test_atomic_replace(void) {
    char *dir = tpath("atomic");
    mkdir(dir, 0777);
    char *p = tpath("atomic/x.lrac");
    lra_dataset a, b, c;
    make_dataset(&a, 50, 1, 17, 10, 4);
    make_dataset(&b, 70, 1, 17, 10, 5);
    CHECK_OK(lra_cache_save(p, "a", &a));
    CHECK_OK(lra_cache_save(p, "b", &b));  // replaces the file
    CHECK_EQ_INT(count_dir_entries(dir), 1);  // no temporary file left behind
    CHECK_OK(lra_cache_load(p, "b", &c));
    CHECK(datasets_equal(&b, &c));
    lra_dataset_free(&c);
    // Saving into a missing directory fails cleanly and leaves nothing.
    char *q = tpath("no/such/dir/x.lrac");
    CHECK(lra_cache_save(q, "a", &a) != LRA_OK);
    lra_dataset_free(&a);
    lra_dataset_free(&b);
    free(q);
    free(p);
    free(dir);
}

// ---- lra_data_load -----------------------------------------------------------------------------

static void set_mtime(const char *path, time_t sec) {
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    LRA_ASSERT(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static void test_load_listops_cached(void) {
    lra_log_set_level(LRA_LOG_ERROR);  // the rebuild warnings below are expected
    char *dir = tpath("lo"), *sub = tpath("lo/listops-1000"), *src = tpath("lo/listops-1000/basic_train.tsv");
    char *cache = tpath("lo_cache/sub");
    mkdir(dir, 0777);
    mkdir(sub, 0777);
    char fix[512];
    snprintf(fix, sizeof fix, "%s/listops/basic_train.tsv", lra_test_fixtures());
    copy_file(fix, src);
    set_mtime(src, 1000000000);

    lra_dataset ref, d;
    CHECK_OK(lra_listops_read(src, NULL, &ref));
    lra_load_options o;
    lra_load_options_default(&o);
    o.cache_dir = cache;  // created on demand, two levels
    char *cpath = lra_task_cache_path("listops", dir, LRA_SPLIT_TRAIN, &o);
    REQUIRE(cpath != NULL);
    CHECK(access(cpath, F_OK) != 0);
    // 1: read from the source (found under listops-1000/), cache written.
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &d));
    CHECK(datasets_equal(&ref, &d));
    lra_dataset_free(&d);
    CHECK(access(cpath, F_OK) == 0);
    // 2: a hit.  Garble the source without changing its size or time: the cache must be used.
    size_t n;
    char *orig = read_file(src, &n);
    char *garbled = malloc(n);
    memset(garbled, '#', n);
    write_file(src, garbled, n);
    set_mtime(src, 1000000000);
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &d));
    CHECK(datasets_equal(&ref, &d));
    lra_dataset_free(&d);
    // 3: stale.  A new row (size and time change) makes the loader re-read the source.
    write_file(src, orig, n);
    FILE *f = fopen(src, "ab");
    fputs("( ( [MAX 4 ) ] )\t4\r\n", f);
    fclose(f);
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &d));
    CHECK_EQ_INT(d.count, ref.count + 1);
    lra_dataset_free(&d);
    // ... and the rebuilt cache is then hit: garble again keeping size and time.
    struct stat st;
    REQUIRE(stat(src, &st) == 0);
    char *now = read_file(src, &n);
    free(garbled);
    garbled = malloc(n);
    memset(garbled, '#', n);
    write_file(src, garbled, n);
    struct timespec ts[2] = {st.st_mtim, st.st_mtim};
    utimensat(AT_FDCWD, src, ts, 0);
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &d));
    CHECK_EQ_INT(d.count, ref.count + 1);
    lra_dataset_free(&d);
    write_file(src, now, n);
    // 4: a corrupt cache file is detected and rebuilt.
    write_file(cpath, "LRACACHE garbage", 16);
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &d));
    CHECK_EQ_INT(d.count, ref.count + 1);
    lra_dataset_free(&d);
    REQUIRE(stat(cpath, &st) == 0);
    CHECK(st.st_size > 100);
    char *cdir = tpath("lo_cache/sub");
    CHECK_EQ_INT(count_dir_entries(cdir), 1);  // one file per split, no temporaries
    // Other options (max_len) get their own cache file.
    o.max_len = 2;
    char *cpath2 = lra_task_cache_path("listops", dir, LRA_SPLIT_TRAIN, &o);
    CHECK(cpath2 && strcmp(cpath, cpath2) != 0);
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &d));
    CHECK_EQ_INT(d.max_seq_len, 2);
    lra_dataset_free(&d);
    CHECK_EQ_INT(count_dir_entries(cdir), 2);
    free(cpath2);
    free(cdir);
    free(now);
    free(orig);
    free(garbled);
    free(cpath);
    lra_dataset_free(&ref);
    free(dir);
    free(sub);
    free(src);
    free(cache);
    lra_log_set_level(LRA_LOG_INFO);
}

static void test_load_dispatch(void) {
    lra_log_set_level(LRA_LOG_ERROR);
    char fx[512];
    lra_dataset a, b;
    lra_load_options o;
    lra_load_options_default(&o);
    char *cache = tpath("dispatch_cache");
    // ListOps: the fixture directory, every split, with and without cache.
    snprintf(fx, sizeof fx, "%s/listops", lra_test_fixtures());
    static const char *lo_files[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    for (int s = 0; s < 3; s++) {
        char f[600];
        snprintf(f, sizeof f, "%s/%s", fx, lo_files[s]);
        CHECK_OK(lra_listops_read(f, NULL, &a));
        for (int pass = 0; pass < 3; pass++) {  // no cache; cache miss; cache hit
            o.cache_dir = pass ? cache : NULL;
            CHECK_OK(lra_task_load("listops", fx, (lra_split)s, &o, &b));
            CHECK_MSG(datasets_equal(&a, &b), "listops split %d pass %d", s, pass);
            lra_dataset_free(&b);
        }
        lra_dataset_free(&a);
    }
    // Text: directory and archive give the same data, cached or not.
    snprintf(fx, sizeof fx, "%s/imdb", lra_test_fixtures());
    char tgz[600];
    snprintf(tgz, sizeof tgz, "%s/imdb/aclImdb_v1.tar.gz", lra_test_fixtures());
    for (int s = 0; s < 3; s++) {
        CHECK_OK(lra_imdb_read(fx, (lra_split)s, NULL, &a));
        for (int pass = 0; pass < 3; pass++) {
            o.cache_dir = pass ? cache : NULL;
            CHECK_OK(lra_task_load("text", pass == 1 ? tgz : fx, (lra_split)s, &o, &b));
            CHECK_MSG(datasets_equal(&a, &b), "text split %d pass %d", s, pass);
            lra_dataset_free(&b);
        }
        lra_dataset_free(&a);
    }
    // Retrieval: eval file for the validation split.
    snprintf(fx, sizeof fx, "%s/aan", lra_test_fixtures());
    static const char *aan_files[3] = {"new_aan_pairs.train.tsv", "new_aan_pairs.eval.tsv", "new_aan_pairs.test.tsv"};
    for (int s = 0; s < 3; s++) {
        char f[600];
        snprintf(f, sizeof f, "%s/%s", fx, aan_files[s]);
        CHECK_OK(lra_aan_read(f, NULL, &a));
        for (int pass = 0; pass < 3; pass++) {
            o.cache_dir = pass ? cache : NULL;
            CHECK_OK(lra_task_load("retrieval", fx, (lra_split)s, &o, &b));
            CHECK_MSG(datasets_equal(&a, &b), "retrieval split %d pass %d", s, pass);
            lra_dataset_free(&b);
        }
        lra_dataset_free(&a);
    }
    // Errors: unknown task, missing path, directory without the file.
    CHECK_EQ_INT(lra_task_load("sorting", fx, LRA_SPLIT_TRAIN, &o, &b), LRA_ERR_ARG);
    CHECK(strstr(lra_error_message(), "sorting") != NULL);
    CHECK_EQ_INT(lra_task_load("listops", "/nonexistent/dir", LRA_SPLIT_TRAIN, &o, &b), LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "/nonexistent/dir") != NULL);
    CHECK_EQ_INT(lra_task_load("listops", fx, LRA_SPLIT_TRAIN, &o, &b), LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "basic_train.tsv") != NULL);
    CHECK(b.count == 0 && b.tokens == NULL);
    free(cache);
    lra_log_set_level(LRA_LOG_INFO);
}

// The image tasks are wired to the readers of data/read_cifar.h, read_idx.h and read_pathfinder.h.
static void test_load_image_tasks(void) {
    lra_log_set_level(LRA_LOG_ERROR);
    char *cache = tpath("image_cache");
    char cifar_dir[512], cifar_tgz[512], idx_dir[512], pf_root[512];
    snprintf(cifar_dir, sizeof cifar_dir, "%s/cifar", lra_test_fixtures());
    snprintf(cifar_tgz, sizeof cifar_tgz, "%s/cifar/cifar-10-binary.tar.gz", lra_test_fixtures());
    snprintf(idx_dir, sizeof idx_dir, "%s/idx", lra_test_fixtures());
    snprintf(pf_root, sizeof pf_root, "%s/pathfinder", lra_test_fixtures());
    for (int offset = 0; offset < 2; offset++) {
        lra_image_options img;
        lra_image_options_default(&img);
        img.pixel_offset = offset;
        lra_load_options o;
        lra_load_options_default(&o);
        o.image_pixel_offset = offset;
        o.pathfinder_resolution = 8;
        for (int s = 0; s < 3; s++) {
            lra_dataset ref, got;
            // CIFAR from the directory and from the archive.
            CHECK_OK(lra_cifar_read(cifar_dir, (lra_split)s, &img, &ref));
            CHECK_EQ_INT(ref.vocab_size, offset ? 257 : 256);
            for (int pass = 0; pass < 3; pass++) {
                o.cache_dir = pass ? cache : NULL;
                CHECK_OK(lra_task_load("image", pass == 1 ? cifar_tgz : cifar_dir, (lra_split)s, &o, &got));
                CHECK_MSG(datasets_equal(&ref, &got), "cifar offset %d split %d pass %d", offset, s, pass);
                lra_dataset_free(&got);
            }
            lra_dataset_free(&ref);
            // IDX, detected from the file names.
            CHECK_OK(lra_idx_read(idx_dir, (lra_split)s, &img, &ref));
            for (int pass = 0; pass < 3; pass++) {
                o.cache_dir = pass ? cache : NULL;
                CHECK_OK(lra_task_load("image", idx_dir, (lra_split)s, &o, &got));
                CHECK_MSG(datasets_equal(&ref, &got), "idx offset %d split %d pass %d", offset, s, pass);
                lra_dataset_free(&got);
            }
            lra_dataset_free(&ref);
            // Pathfinder (an 8x8 fixture release tree), hard difficulty by default.
            char *dir = lra_pathfinder_find(pf_root, 8, LRA_PF_HARD);
            REQUIRE(dir != NULL);
            lra_pathfinder_options po;
            lra_pathfinder_options_default(&po);
            po.image = img;
            CHECK_OK(lra_pathfinder_read(dir, (lra_split)s, &po, &ref, NULL));
            free(dir);
            for (int pass = 0; pass < 3; pass++) {
                o.cache_dir = pass ? cache : NULL;
                CHECK_OK(lra_task_load("pathfinder", pf_root, (lra_split)s, &o, &got));
                CHECK_MSG(datasets_equal(&ref, &got), "pathfinder offset %d split %d pass %d", offset, s, pass);
                lra_dataset_free(&got);
            }
            lra_dataset_free(&ref);
        }
    }
    free(cache);
    lra_log_set_level(LRA_LOG_INFO);
}

static void test_load_real_listops(void) {
    const char *root = lra_test_shared_data();
    if (!root) SKIP("no ../shared/data");
    lra_log_set_level(LRA_LOG_ERROR);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/listops", root);
    lra_load_options o;
    lra_load_options_default(&o);
    char *cache = tpath("real_cache");
    o.cache_dir = cache;
    lra_dataset a, b;
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &a));
    CHECK_EQ_INT(a.count, 2000);
    CHECK_OK(lra_task_load("listops", dir, LRA_SPLIT_TRAIN, &o, &b));
    CHECK(datasets_equal(&a, &b));
    char *cp = lra_task_cache_path("listops", dir, LRA_SPLIT_TRAIN, &o);
    struct stat st;
    REQUIRE(cp && stat(cp, &st) == 0);
    // 2.1 M tokens of 17 symbols: the cache is far smaller than the 13.6 MB source.
    CHECK(st.st_size < 2000000);
    free(cp);
    lra_dataset_free(&a);
    lra_dataset_free(&b);
    free(cache);
    lra_log_set_level(LRA_LOG_INFO);
}

static void test_cleanup(void) {
    lra_test_rmtree(tmpdir());
    CHECK(access(g_tmp, F_OK) != 0);
}

static const lra_test_case TESTS[] = {
    {"roundtrip_u8", test_roundtrip_u8},
    {"roundtrip_u4", test_roundtrip_u4},
    {"roundtrip_u16_pairs", test_roundtrip_u16_pairs},
    {"missing_stale_corrupt", test_missing_stale_corrupt},
    {"atomic_replace", test_atomic_replace},
    {"load_listops_cached", test_load_listops_cached},
    {"load_dispatch", test_load_dispatch},
    {"load_image_tasks", test_load_image_tasks},
    {"load_real_listops", test_load_real_listops},
    {"cleanup", test_cleanup},
};
LRA_TEST_MAIN(TESTS)
