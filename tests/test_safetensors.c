// Tests of the safetensors reader and writer: a fixture written by Python
// (tools/ref/make_safetensors_fixture.py), round trips, and refusal of malformed files.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/safetensors.h"
#include "tests/harness.h"

static char g_dir[256];
static void tmp_dir(void) {
    lra_test_mkdtemp(g_dir, sizeof g_dir, "test_safetensors");
}
static void tmp_done(void) { lra_test_rmtree(g_dir); }

static void test_reads_python_fixture(void) {
    char *p = lra_path_join(lra_test_fixtures(), "safetensors/ref.safetensors");
    lra_safetensors *f;
    CHECK_OK(lra_safetensors_open(&f, p));
    REQUIRE(f != NULL);
    CHECK_EQ_INT(lra_safetensors_count(f), 7);
    CHECK(lra_safetensors_meta(f, "format") && !strcmp(lra_safetensors_meta(f, "format"), "pt"));
    CHECK(lra_safetensors_meta(f, "note") &&
          !strcmp(lra_safetensors_meta(f, "note"), "quote \" backslash \\ newline \n tab \t"));

    float w[4][3];
    const int64_t wshape[] = {4, 3};
    CHECK_OK(lra_safetensors_read(f, "embed.weight", LRA_CONTAINER_F32, 2, wshape, w, sizeof w));
    for (int i = 0; i < 12; i++) CHECK(w[i / 3][i % 3] == (float)i * 0.25f - 1.0f);
    double b[2];
    CHECK_OK(lra_safetensors_read(f, "head.bias", LRA_CONTAINER_F64, 1, NULL, b, sizeof b));
    CHECK(b[0] == 1.0 / 3.0 && b[1] == -2e-300);
    int32_t ids[5];
    CHECK_OK(lra_safetensors_read(f, "ids", LRA_CONTAINER_I32, 1, NULL, ids, sizeof ids));
    CHECK(ids[0] == -2 && ids[2] == 0 && ids[4] == INT32_MAX);
    uint8_t mask[8];
    const int64_t mshape[] = {2, 2, 2};
    CHECK_OK(lra_safetensors_read(f, "mask", LRA_CONTAINER_U8, 3, mshape, mask, sizeof mask));
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(mask[i], (uint8_t)(i * 37));
    int64_t step;
    const lra_safetensors_entry *e = lra_safetensors_find(f, "step");
    REQUIRE(e != NULL);
    CHECK_EQ_INT(e->ndim, 0);
    CHECK(!strcmp(e->dtype_name, "I64"));
    CHECK_OK(lra_safetensors_read(f, "step", LRA_CONTAINER_I64, 0, NULL, &step, sizeof step));
    CHECK(step == -((int64_t)1 << 40));
    CHECK_OK(lra_safetensors_read(f, "empty", LRA_CONTAINER_F32, 2, NULL, NULL, 0));
    float u;  // the name was written with \u escapes
    CHECK_OK(lra_safetensors_read(f, "\xc3\xbcn\xc3\xaf.w", LRA_CONTAINER_F32, 1, NULL, &u, sizeof u));
    CHECK(u == 1.5f);

    // Mismatches are refused with the tensor named.
    lra_status s = lra_safetensors_read(f, "ids", LRA_CONTAINER_F32, 1, NULL, ids, sizeof ids);
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "'ids' has dtype I32 but F32"), "message: %s", lra_error_message());
    const int64_t wrong[] = {3, 4};
    s = lra_safetensors_read(f, "embed.weight", LRA_CONTAINER_F32, 2, wrong, w, sizeof w);
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "[4, 3]"), "message: %s", lra_error_message());
    CHECK_EQ_INT(lra_safetensors_read(f, "nope", LRA_CONTAINER_F32, 1, NULL, &u, 4), LRA_ERR_FORMAT);
    lra_safetensors_close(f);
    free(p);
}

static void test_round_trip(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "model.safetensors");
    float a[2][3] = {{1, -2, 3.5f}, {1e-30f, -0.0f, 7}};
    double d[3] = {0.1, 0.2, 0.3};
    int32_t i32[2] = {INT32_MIN, 5};
    int64_t i64 = INT64_MAX;
    uint8_t u8[3] = {0, 128, 255};
    uint64_t u64[1] = {UINT64_MAX};
    const int64_t sa[] = {2, 3}, sd[] = {3}, si[] = {2}, su[] = {3, 1}, s1[] = {1};
    lra_safetensors_tensor t[] = {
        {"b/weight \"quoted\"", LRA_CONTAINER_F32, 2, sa, a}, {"a.d", LRA_CONTAINER_F64, 1, sd, d},
        {"ids", LRA_CONTAINER_I32, 1, si, i32},             {"step", LRA_CONTAINER_I64, 0, NULL, &i64},
        {"bytes", LRA_CONTAINER_U8, 2, su, u8},              {"big", LRA_CONTAINER_U64, 1, s1, u64},
    };
    const char *meta[] = {"task", "listops", "line\nbreak", "\x01 control"};
    CHECK_OK(lra_safetensors_write(p, t, 6, meta, 2));

    // Header length is a multiple of 8 and the file size is exactly header + data.
    size_t n;
    char *raw;
    CHECK_OK(lra_file_read_all(p, &raw, &n));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | (unsigned char)raw[i];
    CHECK_EQ_INT(hlen % 8, 0);
    CHECK_EQ_INT(n, 8 + hlen + 24 + 24 + 8 + 8 + 3 + 8);
    free(raw);

    lra_safetensors *f;
    CHECK_OK(lra_safetensors_open(&f, p));
    REQUIRE(f != NULL);
    CHECK_EQ_INT(lra_safetensors_count(f), 6);
    for (int i = 0; i < 6; i++) CHECK(!strcmp(lra_safetensors_entry_at(f, i)->name, t[i].name));  // written order
    CHECK_EQ_INT(lra_safetensors_entry_at(f, 1)->begin, 24);  // back to back
    CHECK(!strcmp(lra_safetensors_meta(f, "task"), "listops"));
    CHECK(!strcmp(lra_safetensors_meta(f, "line\nbreak"), "\x01 control"));
    float a2[2][3];
    double d2[3];
    int32_t i2[2];
    int64_t j2;
    uint8_t u2[3];
    uint64_t v2[1];
    CHECK_OK(lra_safetensors_read(f, t[0].name, LRA_CONTAINER_F32, 2, sa, a2, sizeof a2));
    CHECK_OK(lra_safetensors_read(f, "a.d", LRA_CONTAINER_F64, 1, sd, d2, sizeof d2));
    CHECK_OK(lra_safetensors_read(f, "ids", LRA_CONTAINER_I32, 1, si, i2, sizeof i2));
    CHECK_OK(lra_safetensors_read(f, "step", LRA_CONTAINER_I64, 0, NULL, &j2, sizeof j2));
    CHECK_OK(lra_safetensors_read(f, "bytes", LRA_CONTAINER_U8, 2, su, u2, sizeof u2));
    CHECK_OK(lra_safetensors_read(f, "big", LRA_CONTAINER_U64, 1, s1, v2, sizeof v2));
    CHECK(!memcmp(a, a2, sizeof a) && !memcmp(d, d2, sizeof d) && !memcmp(i32, i2, sizeof i2) && j2 == i64 &&
          !memcmp(u8, u2, 3) && v2[0] == UINT64_MAX);
    lra_safetensors_close(f);

    // Repeated and reserved names are refused by the writer.
    lra_safetensors_tensor dup[] = {{"x", LRA_CONTAINER_F32, 1, s1, a}, {"x", LRA_CONTAINER_F32, 1, s1, a}};
    CHECK_EQ_INT(lra_safetensors_write(p, dup, 2, NULL, 0), LRA_ERR_ARG);
    dup[0].name = "__metadata__";
    CHECK_EQ_INT(lra_safetensors_write(p, dup, 1, NULL, 0), LRA_ERR_ARG);
    free(p);
    tmp_done();
}

// Writes an 8-byte length, the header text and `data_bytes` zero bytes.
static void write_raw(const char *path, const char *header, uint64_t fake_len, size_t data_bytes) {
    FILE *fp = fopen(path, "wb");
    LRA_ASSERT(fp);
    uint64_t len = fake_len ? fake_len : strlen(header);
    unsigned char l8[8];
    for (int i = 0; i < 8; i++) l8[i] = (unsigned char)(len >> (8 * i));
    fwrite(l8, 1, 8, fp);
    fwrite(header, 1, strlen(header), fp);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, fp);
    fclose(fp);
}

static void test_bad_files_refused(void) {
    tmp_dir();
    char *p = lra_path_join(g_dir, "bad.safetensors");
    const char *ok1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    write_raw(p, ok1, 0, 8);
    lra_safetensors *f;
    CHECK_OK(lra_safetensors_open(&f, p));  // the baseline is valid
    lra_safetensors_close(f);

    const struct {
        const char *header;
        uint64_t fake_len;
        size_t data;
        const char *msg;
    } cases[] = {
        {ok1, 0, 4, "truncated"},
        {ok1, 0, 12, "trailing bytes"},
        {ok1, 1000, 8, "truncated safetensors file"},
        {ok1, (uint64_t)1 << 40, 8, "implausible"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 0, 8, "bad safetensors header"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "tensor 'a': unknown dtype \"F33\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8, "tensor 'a': data_offsets cover 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8, "non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 0, 8, "non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8, "begin <= end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 0, 12, "tensor 'b': data starts at 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "overlap or gap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "'a' appears twice"},
        {"{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8,
         "__metadata__ value of 'k'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, 8, "tensor 'a': needs"},
        {"[1, 2]", 0, 0, "not a UTF-8 JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 0, 8, "trailing characters"},
        {"{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "UTF-8"},
        {"{\"a\\q\":{}}", 0, 0, "bad escape"},
        {"{\"\\ud800\":{}}", 0, 0, "unpaired surrogate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_raw(p, cases[i].header, cases[i].fake_len, cases[i].data);
        f = NULL;
        lra_status s = lra_safetensors_open(&f, p);
        CHECK_MSG(s == LRA_ERR_FORMAT && f == NULL, "case %zu: status %d", i, (int)s);
        CHECK_MSG(strstr(lra_error_message(), cases[i].msg) && strstr(lra_error_message(), p), "case %zu: %s", i,
                  lra_error_message());
        lra_safetensors_close(f);
    }
    // Too short to hold the length.
    FILE *fp = fopen(p, "wb");
    fwrite("abc", 1, 3, fp);
    fclose(fp);
    CHECK_EQ_INT(lra_safetensors_open(&f, p), LRA_ERR_FORMAT);
    CHECK(strstr(lra_error_message(), "only 3 bytes") != NULL);
    // A dtype without a container equivalent lists fine but is refused on read.
    write_raw(p, "{\"h\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 0, 8);
    CHECK_OK(lra_safetensors_open(&f, p));
    if (f) {
        CHECK(!strcmp(lra_safetensors_entry_at(f, 0)->dtype_name, "BF16"));
        float x[2];
        CHECK_EQ_INT(lra_safetensors_read(f, "h", LRA_CONTAINER_F32, 1, NULL, x, sizeof x), LRA_ERR_FORMAT);
        CHECK(strstr(lra_error_message(), "dtype BF16") != NULL);
        lra_safetensors_close(f);
    }
    free(p);
    tmp_done();
}

static const lra_test_case TESTS[] = {
    {"reads_python_fixture", test_reads_python_fixture},
    {"round_trip", test_round_trip},
    {"bad_files_refused", test_bad_files_refused},
};
LRA_TEST_MAIN(TESTS)
