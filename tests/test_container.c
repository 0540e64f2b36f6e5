// Tests of the checkpoint container: round trips of every dtype, and refusal of damaged files
// (truncated, flipped bits, wrong version, bad magic) with messages naming the file and tensor;
// atomicity (abandoned writer, writer SIGKILLed mid-write).
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/container.h"
#include "core/fileio.h"
#include "tests/harness.h"

static char g_dir[256];
static void tmp_dir(void) {
    lra_test_mkdtemp(g_dir, sizeof g_dir, "test_container");
}
static void tmp_done(void) { lra_test_rmtree(g_dir); }

// Sample tensors of every dtype, with values that differ per generation.
typedef struct {
    float f32[2][3];
    int32_t i32[5];
    uint8_t u8[4 * 4 * 2];
    uint64_t u64[3];
    double f64[2][2];
    int64_t i64;
} sample;

static void make_sample(sample *s, int gen) {
    for (int i = 0; i < 6; i++) s->f32[i / 3][i % 3] = (float)(i * 0.37 - 1.0) * (float)gen;
    s->f32[1][2] = -0.0f;
    for (int i = 0; i < 5; i++) s->i32[i] = (i - 2) * 1000003 * gen;
    for (int i = 0; i < 32; i++) s->u8[i] = (uint8_t)(i * 7 + gen);
    s->u64[0] = UINT64_MAX - (uint64_t)gen;
    s->u64[1] = 0;
    s->u64[2] = 1234567890123ull * (uint64_t)gen;
    s->f64[0][0] = 1e-300;
    s->f64[0][1] = -2.5 * gen;
    s->f64[1][0] = 3.141592653589793;
    s->f64[1][1] = 1e300;
    s->i64 = -9000000000000000000LL + gen;
}

static lra_status write_sample(const char *path, int level, int gen) {
    sample s;
    make_sample(&s, gen);
    lra_container_writer *w;
    LRA_TRY(lra_container_begin(&w, path, level));
    char g[16];
    snprintf(g, sizeof g, "%d", gen);
    const int64_t sh_f32[] = {2, 3}, sh_i32[] = {5}, sh_u8[] = {4, 4, 2, 1}, sh_u64[] = {3}, sh_f64[] = {2, 2},
                  sh_empty[] = {0, 5};
    lra_status st = LRA_OK;
    if (!st) st = lra_container_put_meta(w, "generation", g);
    if (!st) st = lra_container_put_meta(w, "config", "train:\n  lr: 0.0001\n");
    if (!st) st = lra_container_put_meta(w, "empty", "");
    if (!st) st = lra_container_put_tensor(w, "layer0.w", LRA_CONTAINER_F32, 2, sh_f32, s.f32);
    if (!st) st = lra_container_put_tensor(w, "ids", LRA_CONTAINER_I32, 1, sh_i32, s.i32);
    if (!st) st = lra_container_put_tensor(w, "bytes", LRA_CONTAINER_U8, 4, sh_u8, s.u8);
    if (!st) st = lra_container_put_tensor(w, "rng.counters", LRA_CONTAINER_U64, 1, sh_u64, s.u64);
    if (!st) st = lra_container_put_tensor(w, "adam.m", LRA_CONTAINER_F64, 2, sh_f64, s.f64);
    if (!st) st = lra_container_put_tensor(w, "step", LRA_CONTAINER_I64, 0, NULL, &s.i64);
    if (!st) st = lra_container_put_tensor(w, "empty", LRA_CONTAINER_F32, 2, sh_empty, NULL);
    if (st) {
        lra_container_abort(w);
        return st;
    }
    return lra_container_commit(w);
}

// Reads every tensor back and compares bit for bit with generation `gen`.
static void check_sample(const char *path, int gen) {
    sample want, got;
    make_sample(&want, gen);
    memset(&got, 0xAB, sizeof got);
    lra_container_reader *r;
    CHECK_OK(lra_container_open(&r, path));
    if (!r) return;
    char g[16];
    snprintf(g, sizeof g, "%d", gen);
    CHECK(lra_container_meta(r, "generation") && strcmp(lra_container_meta(r, "generation"), g) == 0);
    CHECK(lra_container_meta(r, "config") && strcmp(lra_container_meta(r, "config"), "train:\n  lr: 0.0001\n") == 0);
    CHECK(lra_container_meta(r, "empty") && lra_container_meta(r, "empty")[0] == '\0');
    CHECK(lra_container_meta(r, "absent") == NULL);
    CHECK_EQ_INT(lra_container_meta_count(r), 3);
    CHECK_EQ_INT(lra_container_count(r), 7);
    const int64_t sh_f32[] = {2, 3}, sh_u8[] = {4, 4, 2, 1}, sh_f64[] = {2, 2}, sh_empty[] = {0, 5};
    CHECK_OK(lra_container_read(r, "layer0.w", LRA_CONTAINER_F32, 2, sh_f32, got.f32, sizeof got.f32));
    CHECK_OK(lra_container_read(r, "ids", LRA_CONTAINER_I32, 1, NULL, got.i32, sizeof got.i32));
    CHECK_OK(lra_container_read(r, "bytes", LRA_CONTAINER_U8, 4, sh_u8, got.u8, sizeof got.u8));
    CHECK_OK(lra_container_read(r, "rng.counters", LRA_CONTAINER_U64, -1, NULL, got.u64, sizeof got.u64));
    CHECK_OK(lra_container_read(r, "adam.m", LRA_CONTAINER_F64, 2, sh_f64, got.f64, sizeof got.f64));
    CHECK_OK(lra_container_read(r, "step", LRA_CONTAINER_I64, 0, NULL, &got.i64, sizeof got.i64));
    CHECK_OK(lra_container_read(r, "empty", LRA_CONTAINER_F32, 2, sh_empty, NULL, 0));
    CHECK(memcmp(got.f32, want.f32, sizeof want.f32) == 0);
    CHECK(memcmp(got.i32, want.i32, sizeof want.i32) == 0);
    CHECK(memcmp(got.u8, want.u8, sizeof want.u8) == 0);
    CHECK(memcmp(got.u64, want.u64, sizeof want.u64) == 0);
    CHECK(memcmp(got.f64, want.f64, sizeof want.f64) == 0);
    CHECK(got.i64 == want.i64);
    const lra_container_entry *e = lra_container_find(r, "bytes");
    REQUIRE(e != NULL);
    CHECK_EQ_INT(e->dtype, LRA_CONTAINER_U8);
    CHECK_EQ_INT(e->ndim, 4);
    CHECK(e->shape[0] == 4 && e->shape[1] == 4 && e->shape[2] == 2 && e->shape[3] == 1);
    CHECK_EQ_INT(e->raw_bytes, 32);
    CHECK_EQ_INT(e->crc32, crc32(0, want.u8, 32));
    CHECK(strcmp(lra_container_entry_at(r, 0)->name, "layer0.w") == 0);  // directory keeps the order
    CHECK_OK(lra_container_verify(r));
    lra_container_close(r);
}

static void test_round_trip_every_dtype(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "ckpt.lra");
    const int levels[] = {0, -1, 9};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(write_sample(p, levels[i], 3 + i));
        check_sample(p, 3 + i);
        lra_container_reader *r;
        CHECK_OK(lra_container_open(&r, p));
        if (r) {
            CHECK_EQ_INT(lra_container_find(r, "layer0.w")->compression, levels[i] == 0 ? 0 : 1);
            lra_container_close(r);
        }
    }
    free(p);
    tmp_done();
}

static void test_read_checks_dtype_shape_name(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "ckpt.lra");
    CHECK_OK(write_sample(p, -1, 1));
    lra_container_reader *r;
    CHECK_OK(lra_container_open(&r, p));
    REQUIRE(r != NULL);
    float buf[6];
    const int64_t wrong[] = {3, 2};
    lra_status s = lra_container_read(r, "layer0.w", LRA_CONTAINER_F32, 2, wrong, buf, sizeof buf);
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "'layer0.w' has shape [2, 3] but [3, 2] was expected") &&
                  strstr(lra_error_message(), p),
              "message: %s", lra_error_message());
    s = lra_container_read(r, "layer0.w", LRA_CONTAINER_F64, 2, NULL, buf, sizeof buf);
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "dtype f32 but f64"), "message: %s", lra_error_message());
    s = lra_container_read(r, "layer9.w", LRA_CONTAINER_F32, 2, NULL, buf, sizeof buf);
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "no tensor named 'layer9.w'"), "message: %s", lra_error_message());
    s = lra_container_read(r, "layer0.w", LRA_CONTAINER_F32, 2, NULL, buf, 8);
    CHECK_EQ_INT(s, LRA_ERR_ARG);
    lra_container_close(r);

    // Duplicate names are refused by the writer.
    lra_container_writer *w;
    CHECK_OK(lra_container_begin(&w, p, -1));
    float x = 1;
    CHECK_OK(lra_container_put_tensor(w, "a", LRA_CONTAINER_F32, 0, NULL, &x));
    CHECK_EQ_INT(lra_container_put_tensor(w, "a", LRA_CONTAINER_F32, 0, NULL, &x), LRA_ERR_ARG);
    CHECK_OK(lra_container_put_meta(w, "a", "meta keys are a separate name space"));
    CHECK_EQ_INT(lra_container_put_meta(w, "a", "again"), LRA_ERR_ARG);
    lra_container_abort(w);
    check_sample(p, 1);  // abandoned: the old file is intact
    free(p);
    tmp_done();
}

// ---- damaged files -----------------------------------------------------------------------------

static unsigned char *slurp(const char *path, size_t *n) {
    char *d;
    LRA_ASSERT(lra_file_read_all(path, &d, n) == LRA_OK);
    return (unsigned char *)d;
}
static void spit(const char *path, const unsigned char *d, size_t n) {
    FILE *fp = fopen(path, "wb");
    LRA_ASSERT(fp && fwrite(d, 1, n, fp) == n);
    fclose(fp);
}

// Opens path and, if that succeeds, reads every tensor; returns the first failure.
static lra_status open_and_read_all(const char *path) {
    lra_container_reader *r;
    LRA_TRY(lra_container_open(&r, path));
    lra_status s = lra_container_verify(r);
    lra_container_close(r);
    return s;
}

static void test_truncated_files_refused(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "ckpt.lra"), *bad = lra_path_join(g_dir, "cut.lra");
    CHECK_OK(write_sample(p, -1, 1));
    size_t n;
    unsigned char *d = slurp(p, &n);
    const size_t cuts[] = {0, 7, 63, 64, 100, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(bad, d, cuts[i]);
        lra_status s = open_and_read_all(bad);
        CHECK_MSG(s == LRA_ERR_FORMAT, "cut at %zu: status %d", cuts[i], (int)s);
        const char *m = lra_error_message();
        CHECK_MSG(strstr(m, bad) && (strstr(m, "truncated") || strstr(m, "not a container")), "cut at %zu: %s",
                  cuts[i], m);
    }
    // Trailing garbage is refused too.
    unsigned char *longer = malloc(n + 5);
    memcpy(longer, d, n);
    memset(longer + n, 0, 5);
    spit(bad, longer, n + 5);
    CHECK_EQ_INT(open_and_read_all(bad), LRA_ERR_FORMAT);
    free(longer);
    free(d);
    free(bad);
    free(p);
    tmp_done();
}

static void test_flipped_bits_refused(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "ckpt.lra"), *bad = lra_path_join(g_dir, "flip.lra");
    for (int level = 0; level <= 1; level++) {
        CHECK_OK(write_sample(p, level, 2));
        size_t n;
        unsigned char *d = slurp(p, &n);
        lra_container_reader *r;
        CHECK_OK(lra_container_open(&r, p));
        REQUIRE(r != NULL);
        const lra_container_entry *e = lra_container_find(r, "adam.m");
        uint64_t off = e->offset, len = e->stored_bytes;
        lra_container_close(r);

        // Every single-bit flip inside the payload of one tensor is caught when it is read, and the
        // message names the tensor; the other tensors still read fine.
        int caught = 0, tried = 0;
        // Every bit of the first 2 and last 6 bytes (zlib header, final block and checksum, whose
        // padding bits zlib itself ignores) and every 7th bit in between.
        for (uint64_t b = 0; b < len * 8; b += (b < 16 || b + 48 >= len * 8) ? 1 : 7) {
            d[off + b / 8] ^= (unsigned char)(1u << (b % 8));
            spit(bad, d, n);
            d[off + b / 8] ^= (unsigned char)(1u << (b % 8));
            tried++;
            CHECK_OK(lra_container_open(&r, bad));  // the index is intact
            if (!r) continue;
            double buf[4];
            lra_status s = lra_container_read(r, "adam.m", LRA_CONTAINER_F64, 2, NULL, buf, sizeof buf);
            if (s == LRA_ERR_FORMAT && strstr(lra_error_message(), "'adam.m'") && strstr(lra_error_message(), bad))
                caught++;
            else
                CHECK_MSG(0, "level %d bit %llu: status %d, message %s", level, (unsigned long long)b, (int)s,
                          lra_error_message());
            float f[6];
            CHECK_OK(lra_container_read(r, "layer0.w", LRA_CONTAINER_F32, 2, NULL, f, sizeof f));
            lra_container_close(r);
        }
        CHECK(tried > 10 && caught == tried);
        if (level == 0) {  // raw payload: the CRC is what catches it
            d[off + 3] ^= 0x10;
            spit(bad, d, n);
            d[off + 3] ^= 0x10;
            CHECK_EQ_INT(open_and_read_all(bad), LRA_ERR_FORMAT);
            CHECK_MSG(strstr(lra_error_message(), "CRC32 mismatch"), "message: %s", lra_error_message());
        }

        // A flip in the header or in the index is caught by open.
        const struct {
            size_t at;
            const char *msg;
        } spots[] = {{20, "header CRC"}, {45, "header CRC"}, {61, "header CRC"}, {n - 3, "index CRC"}, {n - 70, "index CRC"}};
        for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
            d[spots[i].at] ^= 0x04;
            spit(bad, d, n);
            d[spots[i].at] ^= 0x04;
            lra_status s = lra_container_open(&r, bad);
            CHECK_MSG(s == LRA_ERR_FORMAT && strstr(lra_error_message(), spots[i].msg) &&
                          strstr(lra_error_message(), bad),
                      "flip at %zu: status %d: %s", spots[i].at, (int)s, lra_error_message());
            if (s == LRA_OK) lra_container_close(r);
        }
        free(d);
    }
    free(bad);
    free(p);
    tmp_done();
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_wrong_version_and_magic_refused(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "ckpt.lra"), *bad = lra_path_join(g_dir, "v2.lra");
    CHECK_OK(write_sample(p, -1, 1));
    size_t n;
    unsigned char *d = slurp(p, &n);
    put32(d + 8, 2);  // a consistent header of a future version
    put32(d + 60, (uint32_t)crc32(0, d, 60));
    spit(bad, d, n);
    lra_container_reader *r;
    lra_status s = lra_container_open(&r, bad);
    CHECK_EQ_INT(s, LRA_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(lra_error_message(), "version 2") && strstr(lra_error_message(), "reads version 1") &&
                  strstr(lra_error_message(), bad),
              "message: %s", lra_error_message());
    free(d);
    d = slurp(p, &n);
    d[1] = 'X';
    spit(bad, d, n);
    s = lra_container_open(&r, bad);
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "bad magic"), "message: %s", lra_error_message());
    // Damage that keeps every CRC consistent is still caught by the index checks.
    free(d);
    d = slurp(p, &n);
    uint64_t index_at = 0;
    for (int i = 7; i >= 0; i--) index_at = (index_at << 8) | d[24 + i];
    unsigned char *name = memmem(d + index_at, n - index_at, "layer0.w", 8);
    REQUIRE(name != NULL);
    put32(name + 8, 99);  // its dtype
    put32(d + 48, (uint32_t)crc32(0, d + index_at, (uInt)(n - index_at)));
    put32(d + 60, (uint32_t)crc32(0, d, 60));
    spit(bad, d, n);
    CHECK_EQ_INT(lra_container_open(&r, bad), LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "tensor 'layer0.w': unknown dtype code 99"), "message: %s",
              lra_error_message());
    free(d);
    d = slurp(p, &n);
    put32(d + 44, 1000000);  // n_tensors
    put32(d + 60, (uint32_t)crc32(0, d, 60));
    spit(bad, d, n);
    CHECK_EQ_INT(lra_container_open(&r, bad), LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "entry counts do not fit"), "message: %s", lra_error_message());
    // A damaged version field is not mistaken for a newer format.
    free(d);
    d = slurp(p, &n);
    d[8] ^= 0x02;
    spit(bad, d, n);
    CHECK_EQ_INT(lra_container_open(&r, bad), LRA_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(lra_error_message(), "version 3") && strstr(lra_error_message(), "damaged header"),
              "message: %s", lra_error_message());
    spit(bad, (const unsigned char *)"this is a text file, not a checkpoint at all. It has more than 64 bytes!!", 74);
    CHECK_EQ_INT(lra_container_open(&r, bad), LRA_ERR_FORMAT);
    s = lra_container_open(&r, "/nonexistent/ckpt.lra");
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "/nonexistent/ckpt.lra") != NULL);
    free(d);
    free(bad);
    free(p);
    tmp_done();
}

// ---- crash safety ------------------------------------------------------------------------------

// Size of the temporary file of an unfinished write of `base` in g_dir (-1 if none).
static long long temp_size(const char *base) {
    DIR *dir = opendir(g_dir);
    long long size = -1;
    char prefix[128];
    snprintf(prefix, sizeof prefix, ".%s.tmp.", base);
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        char *full = lra_path_join(g_dir, e->d_name);
        struct stat st;
        if (stat(full, &st) == 0) size = (long long)st.st_size;
        free(full);
    }
    closedir(dir);
    return size;
}

static void test_sigkill_during_write_keeps_previous_file(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "ckpt.lra");
    CHECK_OK(write_sample(p, -1, 1));
    enum { N_TENSORS = 16, N_FLOATS = 1 << 20 };  // 64 MiB in all: takes a while to write
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        float *buf = malloc(sizeof(float) * N_FLOATS);
        uint32_t x = 12345;
        lra_container_writer *w;
        if (lra_container_begin(&w, p, -1) != LRA_OK) _exit(3);
        lra_container_put_meta(w, "generation", "2");
        for (int t = 0; t < N_TENSORS; t++) {
            for (int i = 0; i < N_FLOATS; i++) {  // poorly compressible values
                x = x * 1664525u + 1013904223u;
                buf[i] = (float)(x >> 8) * 1e-7f;
            }
            char name[32];
            snprintf(name, sizeof name, "big%d", t);
            const int64_t shape[] = {N_FLOATS};
            if (lra_container_put_tensor(w, name, LRA_CONTAINER_F32, 1, shape, buf) != LRA_OK) _exit(4);
        }
        _exit(lra_container_commit(w) == LRA_OK ? 0 : 5);
    }
    // Kill the writer once it has written a few MiB of its temporary file.
    struct timespec t0, now, nap = {0, 500000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long seen = -1;
    for (;;) {
        seen = temp_size("ckpt.lra");
        if (seen >= 4 << 20) break;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = -1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 60) break;
        nanosleep(&nap, NULL);
    }
    REQUIRE(pid > 0);  // the child must still be writing (else this test proves nothing)
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_MSG(seen >= 4 << 20, "temporary file reached only %lld bytes", seen);
    // The killed writer's temporary file is left behind, incomplete; the target is the old file.
    long long left = temp_size("ckpt.lra");
    CHECK(left >= seen && left < (long long)N_TENSORS * N_FLOATS * 4);
    check_sample(p, 1);
    // The dead writer's temporary file can be swept away; a live writer's is kept.
    lra_container_writer *live;
    CHECK_OK(lra_container_begin(&live, p, -1));
    int removed = -1;
    CHECK_OK(lra_atomic_cleanup(p, &removed));
    CHECK_EQ_INT(removed, 1);
    CHECK(temp_size("ckpt.lra") >= 0);  // the live writer's file is still there
    lra_container_abort(live);
    CHECK_EQ_INT(temp_size("ckpt.lra"), -1);
    check_sample(p, 1);
    free(p);
    tmp_done();
}

static const lra_test_case TESTS[] = {
    {"round_trip_every_dtype", test_round_trip_every_dtype},
    {"read_checks_dtype_shape_name", test_read_checks_dtype_shape_name},
    {"truncated_files_refused", test_truncated_files_refused},
    {"flipped_bits_refused", test_flipped_bits_refused},
    {"wrong_version_and_magic_refused", test_wrong_version_and_magic_refused},
    {"sigkill_during_write_keeps_previous_file", test_sigkill_during_write_keeps_previous_file},
};
LRA_TEST_MAIN(TESTS)
