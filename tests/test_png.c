// Tests of the PNG decoder: every colour type / bit depth / interlace fixture against the gray pixels
// computed independently by tests/fixtures/png/make_fixtures.py, malformed files, truncations and
// bit-flip fuzzing (run it under ASan: `make asan T=png`).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/status.h"
#include "data/png.h"
#include "tests/harness.h"

// Reads a whole fixture file; NULL when missing.
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

static uint8_t *fixture(const char *name, const char *ext, size_t *len, char *path, size_t pcap) {
    snprintf(path, pcap, "%s/png/%s%s", lra_test_fixtures(), name, ext);
    return slurp(path, len);
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static void test_all_types(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/png/cases.txt", lra_test_fixtures());
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    char name[128];
    int w, h, n = 0, interlaced = 0;
    while (fscanf(f, "%127s %d %d", name, &w, &h) == 3) {
        size_t glen;
        uint8_t *want = fixture(name, ".gray", &glen, path, sizeof path);
        REQUIRE(want != NULL);
        CHECK_EQ_INT(glen, (size_t)w * h);
        free(fixture(name, ".png", &glen, path, sizeof path));   // sets path
        uint8_t *px = NULL;
        int gw = 0, gh = 0;
        lra_status s = lra_png_read_gray8(path, &px, &gw, &gh);
        CHECK_MSG(s == LRA_OK, "%s: %s", name, lra_error_message());
        if (s == LRA_OK) {
            CHECK_EQ_INT(gw, w);
            CHECK_EQ_INT(gh, h);
            int bad = -1;
            for (int i = 0; i < w * h && bad < 0; i++)
                if (px[i] != want[i]) bad = i;
            CHECK_MSG(bad < 0, "%s: pixel (%d,%d) is %d, expected %d", name, bad % w, bad / w, px[bad], want[bad]);
        }
        if (strstr(name, "_i")) interlaced++;
        free(px);
        free(want);
        n++;
    }
    fclose(f);
    CHECK_EQ_INT(n, 34);   // 15 type/depth pairs x 2 interlace + 4 edge cases
    CHECK(interlaced >= 17);
}

static void test_decode_buffer_matches_file(void) {
    char path[512];
    size_t len;
    uint8_t *buf = fixture("pf_32x32", ".png", &len, path, sizeof path);
    REQUIRE(buf != NULL);
    uint8_t *a = NULL, *b = NULL;
    int w, h, w2, h2;
    CHECK_OK(lra_png_decode_gray8(buf, len, "mem", &a, &w, &h));
    CHECK_OK(lra_png_read_gray8(path, &b, &w2, &h2));
    REQUIRE(a && b);
    CHECK_EQ_INT(w, 32);
    CHECK_EQ_INT(h, 32);
    CHECK(memcmp(a, b, 1024) == 0);
    free(a);
    free(b);
    free(buf);
}

// Decoding `name` must fail with `code` and a message naming the file and containing `what`.
static void expect_error(const char *name, lra_status code, const char *what) {
    char path[512];
    size_t len;
    free(fixture(name, ".png", &len, path, sizeof path));
    uint8_t *px = (uint8_t *)1;
    int w, h;
    lra_status s = lra_png_read_gray8(path, &px, &w, &h);
    CHECK_MSG(s == code, "%s: status %d, expected %d (%s)", name, (int)s, (int)code, lra_error_message());
    CHECK(px == NULL);
    CHECK_MSG(contains(lra_error_message(), path), "%s: message does not name the file: %s", name,
              lra_error_message());
    CHECK_MSG(contains(lra_error_message(), what), "%s: message lacks '%s': %s", name, what, lra_error_message());
}

static void test_malformed_files(void) {
    expect_error("bad_filter", LRA_ERR_FORMAT, "bad filter type 5 in row 3");
    expect_error("short_data", LRA_ERR_FORMAT, "too short");
    expect_error("long_data", LRA_ERR_FORMAT, "more image data");
    expect_error("bad_zlib", LRA_ERR_FORMAT, "corrupt compressed data");
    expect_error("no_adler", LRA_ERR_FORMAT, "does not end");
    expect_error("bad_depth", LRA_ERR_FORMAT, "bit depth 3");
    expect_error("no_plte", LRA_ERR_FORMAT, "PLTE");
    expect_error("no_iend", LRA_ERR_FORMAT, "before the IEND");
    expect_error("unknown_critical", LRA_ERR_UNSUPPORTED, "'ABCD'");
    expect_error("bad_index", LRA_ERR_FORMAT, "palette index");
}

static void test_signature_crc_empty(void) {
    char path[512];
    size_t len;
    uint8_t *buf = fixture("c0_d8", ".png", &len, path, sizeof path);
    REQUIRE(buf != NULL);
    uint8_t *px;
    int w, h;
    // Zero bytes, in memory and as a file.
    CHECK_EQ_INT(lra_png_decode_gray8(buf, 0, "sample_172.png", &px, &w, &h), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), "sample_172.png") && contains(lra_error_message(), "empty"));
    char tmp[] = "/tmp/lra_png_empty_XXXXXX";
    int fd = mkstemp(tmp);
    REQUIRE(fd >= 0);
    close(fd);
    CHECK_EQ_INT(lra_png_read_gray8(tmp, &px, &w, &h), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), tmp) && contains(lra_error_message(), "empty file (0 bytes)"));
    unlink(tmp);
    CHECK_EQ_INT(lra_png_read_gray8("/nonexistent/x.png", &px, &w, &h), LRA_ERR_IO);
    CHECK(contains(lra_error_message(), "/nonexistent/x.png"));
    // Bad signature.
    uint8_t *c = malloc(len);
    memcpy(c, buf, len);
    c[1] = 'Q';
    CHECK_EQ_INT(lra_png_decode_gray8(c, len, "sig.png", &px, &w, &h), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), "sig.png") && contains(lra_error_message(), "bad signature"));
    // CRC mismatch in IHDR (a width byte changed, CRC left alone).
    memcpy(c, buf, len);
    c[8 + 8 + 3] ^= 1;
    CHECK_EQ_INT(lra_png_decode_gray8(c, len, "crc.png", &px, &w, &h), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), "crc.png") && contains(lra_error_message(), "CRC mismatch in chunk 'IHDR'"));
    // CRC mismatch in the last IDAT's stored CRC (just before IEND).
    memcpy(c, buf, len);
    c[len - 13] ^= 0x40;
    CHECK_EQ_INT(lra_png_decode_gray8(c, len, "crc2.png", &px, &w, &h), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), "CRC mismatch in chunk 'IDAT'"));
    free(c);
    free(buf);
}

// Every strict prefix of a valid file is an error naming it.
static void test_truncations(void) {
    const char *names[] = {"pf_32x32", "c3_d4_i", "c6_d16"};
    for (int k = 0; k < 3; k++) {
        char path[512];
        size_t len;
        uint8_t *buf = fixture(names[k], ".png", &len, path, sizeof path);
        REQUIRE(buf != NULL);
        int failures = 0;
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *part = malloc(cut ? cut : 1);   // exact size so ASan sees any over-read
            memcpy(part, buf, cut);
            uint8_t *px = NULL;
            int w, h;
            lra_status s = lra_png_decode_gray8(part, cut, "cut.png", &px, &w, &h);
            if (s == LRA_OK || !contains(lra_error_message(), "cut.png")) failures++;
            free(px);
            free(part);
        }
        CHECK_MSG(failures == 0, "%s: %d truncations decoded or gave a message without the name", names[k], failures);
        free(buf);
    }
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

// Recomputes the CRC of every chunk (so flipped bits reach inflate and the unfilter code).
static void fix_crcs(uint8_t *b, size_t len) {
    size_t pos = 8;
    while (pos + 12 <= len) {
        uint32_t n = ((uint32_t)b[pos] << 24) | ((uint32_t)b[pos + 1] << 16) | ((uint32_t)b[pos + 2] << 8) | b[pos + 3];
        if (n > len - pos - 12) return;
        uint32_t c = (uint32_t)crc32(0, b + pos + 4, n + 4);
        b[pos + 8 + n] = (uint8_t)(c >> 24);
        b[pos + 9 + n] = (uint8_t)(c >> 16);
        b[pos + 10 + n] = (uint8_t)(c >> 8);
        b[pos + 11 + n] = (uint8_t)c;
        pos += 12 + n;
    }
}

// Random bit flips, with and without CRC repair: decode or error, never a crash or an over-read.
static void test_fuzz_bitflips(void) {
    const char *names[] = {"pf_32x32", "c0_d1_i", "c2_d16", "c3_d2", "c4_d8_i", "c6_d8"};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int ok = 0, err = 0;
    for (int k = 0; k < 6; k++) {
        char path[512];
        size_t len;
        uint8_t *buf = fixture(names[k], ".png", &len, path, sizeof path);
        REQUIRE(buf != NULL);
        for (int it = 0; it < 400; it++) {
            uint8_t *c = malloc(len);
            memcpy(c, buf, len);
            int flips = 1 + (int)(xorshift(&seed) % 4);
            for (int f = 0; f < flips; f++) {
                size_t pos = 8 + (size_t)(xorshift(&seed) % (len - 8));
                c[pos] ^= (uint8_t)(1u << (xorshift(&seed) % 8));
            }
            if (it % 2) fix_crcs(c, len);
            size_t n = (it % 5 == 0) ? (size_t)(xorshift(&seed) % len) : len;
            uint8_t *px = NULL;
            int w, h;
            lra_status s = lra_png_decode_gray8(c, n, "fuzz.png", &px, &w, &h);
            if (s == LRA_OK) {
                ok++;
                CHECK(px != NULL && w > 0 && h > 0);
            } else {
                err++;
                CHECK(px == NULL && contains(lra_error_message(), "fuzz.png"));
            }
            free(px);
            free(c);
        }
        free(buf);
    }
    CHECK(err > 0);
    printf("  fuzz: %d decoded, %d rejected\n", ok, err);
}

static const lra_test_case TESTS[] = {
    {"all_types", test_all_types},
    {"decode_buffer_matches_file", test_decode_buffer_matches_file},
    {"malformed_files", test_malformed_files},
    {"signature_crc_empty", test_signature_crc_empty},
    {"truncations", test_truncations},
    {"fuzz_bitflips", test_fuzz_bitflips},
};
LRA_TEST_MAIN(TESTS)
