// Tests of the tar reader: ustar / GNU long names / pax / multi-member gzip fixtures written by
// tests/fixtures/tar/make_fixtures.py, partial reads and skipping, and damaged archives (truncated,
// members cut short, bad header checksums), whose errors must name the archive and member.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "data/tar.h"
#include "tests/harness.h"

typedef struct {
    char archive[64];
    char name[512];
    int64_t size;
    int seed;
} manifest_row;

static int load_manifest(manifest_row *rows, int cap) {
    char path[512];
    snprintf(path, sizeof path, "%s/tar/manifest.txt", lra_test_fixtures());
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    char line[1024];
    while (n < cap && fgets(line, sizeof line, f)) {
        long long size;
        if (sscanf(line, "%63[^\t]\t%511[^\t]\t%lld\t%d", rows[n].archive, rows[n].name, &size, &rows[n].seed) == 4) {
            rows[n].size = size;
            n++;
        }
    }
    fclose(f);
    return n;
}

static uint8_t pattern(int64_t j, int seed) { return (uint8_t)((j * 7 + seed * 13) % 251); }

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

// Writes buf to a new temporary file; its name goes to path (>= 64 bytes).
static void write_tmp(const uint8_t *buf, size_t len, char *path, const char *suffix) {
    snprintf(path, 64, "/tmp/lra_tar_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    LRA_ASSERT(fd >= 0);
    LRA_ASSERT(write(fd, buf, len) == (ssize_t)len);
    close(fd);
}

// Reads every regular member of `archive` and checks names, sizes and bytes against the manifest.
// mode 0: whole members in uneven chunks; 1: only the first 10 bytes (the rest must be skipped).
static void check_archive(const char *archive, const manifest_row *rows, int nrows, int mode) {
    char path[512];
    snprintf(path, sizeof path, "%s/tar/%s", lra_test_fixtures(), archive);
    lra_tar *t;
    lra_status s = lra_tar_open(path, &t);
    CHECK_MSG(s == LRA_OK, "%s", lra_error_message());
    if (s != LRA_OK) return;
    int k = 0;
    uint8_t *buf = malloc(1 << 16);
    for (;;) {
        const char *name;
        int64_t size;
        int done;
        s = lra_tar_next(t, &name, &size, &done);
        CHECK_MSG(s == LRA_OK, "%s: %s", archive, lra_error_message());
        if (s != LRA_OK || done) break;
        while (k < nrows && strcmp(rows[k].archive, archive) != 0) k++;
        CHECK_MSG(k < nrows, "%s: extra member '%s'", archive, name);
        if (k >= nrows) break;
        CHECK_MSG(!strcmp(name, rows[k].name), "%s: member '%s', expected '%s'", archive, name, rows[k].name);
        CHECK_EQ_INT(size, rows[k].size);
        CHECK_EQ_INT(lra_tar_remaining(t), size);
        int64_t want = mode == 0 ? size : (size < 10 ? size : 10);
        int64_t got = 0, chunk = 1;
        int bad = 0;
        while (got < want) {
            int64_t n = want - got < chunk ? want - got : chunk;
            CHECK_OK(lra_tar_read(t, buf, n));
            for (int64_t j = 0; j < n; j++)
                if (buf[j] != pattern(got + j, rows[k].seed)) bad++;
            got += n;
            chunk = chunk * 3 + 7;   // 1, 10, 37, ... crosses block boundaries at odd places
            if (chunk > (1 << 16)) chunk = 1 << 16;
        }
        CHECK_MSG(bad == 0, "%s: %d wrong bytes in '%s'", archive, bad, name);
        CHECK_EQ_INT(lra_tar_remaining(t), size - want);
        k++;
    }
    int rest = 0;
    for (int i = k; i < nrows; i++) rest += !strcmp(rows[i].archive, archive);
    CHECK_MSG(rest == 0, "%s: %d members missing", archive, rest);
    // After the end it stays at the end.
    const char *name;
    int64_t size;
    int done = 0;
    CHECK_OK(lra_tar_next(t, &name, &size, &done));
    CHECK(done == 1 && name == NULL);
    free(buf);
    lra_tar_close(t);
}

static void test_formats(void) {
    manifest_row rows[64];
    int n = load_manifest(rows, 64);
    REQUIRE(n == 20);
    const char *archives[] = {"ustar.tar", "gnu.tar.gz", "pax.tgz", "multi.tar.gz"};
    for (int a = 0; a < 4; a++) {
        check_archive(archives[a], rows, n, 0);
        check_archive(archives[a], rows, n, 1);
    }
}

static void test_read_past_member(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tar/ustar.tar", lra_test_fixtures());
    lra_tar *t;
    REQUIRE(lra_tar_open(path, &t) == LRA_OK);
    CHECK(!strcmp(lra_tar_path(t), path));
    const char *name;
    int64_t size;
    int done;
    CHECK_OK(lra_tar_next(t, &name, &size, &done));   // top/empty.txt
    CHECK_OK(lra_tar_next(t, &name, &size, &done));   // top/b.bin, 1000 bytes
    REQUIRE(size == 1000);
    uint8_t buf[1100];
    CHECK_OK(lra_tar_read(t, buf, 600));
    CHECK_EQ_INT(lra_tar_read(t, buf, 401), LRA_ERR_ARG);
    CHECK(contains(lra_error_message(), "top/b.bin") && contains(lra_error_message(), "only 400 left"));
    CHECK_OK(lra_tar_read(t, buf, 400));
    CHECK(buf[399] == pattern(999, 2));
    lra_tar_close(t);
}

static void test_open_errors(void) {
    lra_tar *t = (lra_tar *)1;
    CHECK_EQ_INT(lra_tar_open("/nonexistent/a.tar.gz", &t), LRA_ERR_IO);
    CHECK(t == NULL && contains(lra_error_message(), "/nonexistent/a.tar.gz"));
    // A file that is not a tar: the first header's checksum fails.
    char path[512];
    snprintf(path, sizeof path, "%s/png/pf_32x32.png", lra_test_fixtures());
    REQUIRE(lra_tar_open(path, &t) == LRA_OK);
    const char *name;
    int64_t size;
    int done;
    CHECK_EQ_INT(lra_tar_next(t, &name, &size, &done), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), path));
    lra_tar_close(t);
}

// Reads the whole archive; returns the first error (or LRA_OK).
static lra_status read_all(const char *path) {
    lra_tar *t;
    LRA_TRY(lra_tar_open(path, &t));
    static uint8_t buf[1 << 15];
    lra_status s;
    for (;;) {
        const char *name;
        int64_t size;
        int done;
        if ((s = lra_tar_next(t, &name, &size, &done)) != LRA_OK || done) break;
        while (size > 0 && s == LRA_OK) {
            int64_t n = size < (int64_t)sizeof buf ? size : (int64_t)sizeof buf;
            s = lra_tar_read(t, buf, n);
            size -= n;
        }
        if (s != LRA_OK) break;
    }
    lra_tar_close(t);
    return s;
}

static void test_truncated_plain(void) {
    char src[512], tmp[64];
    snprintf(src, sizeof src, "%s/tar/ustar.tar", lra_test_fixtures());
    size_t len;
    uint8_t *buf = slurp(src, &len);
    REQUIRE(buf != NULL && len == 30720);
    // Where the end-of-archive block starts: the first zero header block after the members.
    size_t end = 0;
    for (size_t off = 0; off < len;) {
        int zero = 1;
        for (int i = 0; i < 512; i++) zero &= buf[off + i] == 0;
        if (zero) {
            end = off;
            break;
        }
        long long sz = strtoll((const char *)buf + off + 124, NULL, 8);
        char ty = (char)buf[off + 156];
        off += 512 + ((ty == '0' || ty == 0) ? (size_t)((sz + 511) / 512 * 512) : 0);
    }
    REQUIRE(end > 20000);
    int wrong = 0, named_member = 0;
    for (size_t cut = 0; cut <= end + 512; cut += 97) {
        size_t c = cut > end + 512 ? end + 512 : cut;
        write_tmp(buf, c, tmp, ".tar");
        lra_status s = read_all(tmp);
        int expect_ok = c >= end + 512;
        if (expect_ok ? s != LRA_OK : (s != LRA_ERR_FORMAT || !contains(lra_error_message(), tmp))) {
            wrong++;
            printf("  cut %zu: status %d: %s\n", c, (int)s, lra_error_message());
        }
        if (s != LRA_OK && contains(lra_error_message(), "member 'top/last.bin' cut short")) named_member++;
        unlink(tmp);
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK(named_member > 100);   // cuts inside the 20,000-byte member say which member
    free(buf);
}

static void test_truncated_gzip(void) {
    char src[512], tmp[64];
    snprintf(src, sizeof src, "%s/tar/gnu.tar.gz", lra_test_fixtures());
    size_t len;
    uint8_t *buf = slurp(src, &len);
    REQUIRE(buf != NULL && len > 100);
    int wrong = 0;
    for (size_t cut = 1; cut < len; cut += 13) {
        write_tmp(buf, cut, tmp, ".tar.gz");
        lra_status s = read_all(tmp);
        if (s != LRA_ERR_FORMAT || !contains(lra_error_message(), tmp)) {
            wrong++;
            printf("  cut %zu: status %d: %s\n", cut, (int)s, lra_error_message());
        }
        unlink(tmp);
    }
    CHECK_EQ_INT(wrong, 0);
    // Corrupt compressed data (CRC-32 of the gzip trailer no longer matches).
    uint8_t *c = malloc(len);
    memcpy(c, buf, len);
    c[len / 2] ^= 0x10;
    write_tmp(c, len, tmp, ".tgz");
    CHECK_EQ_INT(read_all(tmp), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), tmp));
    unlink(tmp);
    free(c);
    free(buf);
}

static void test_bad_checksum(void) {
    char src[512], tmp[64];
    snprintf(src, sizeof src, "%s/tar/ustar.tar", lra_test_fixtures());
    size_t len;
    uint8_t *buf = slurp(src, &len);
    REQUIRE(buf != NULL);
    buf[1024 + 5] ^= 1;   // third header (top/b.bin): name changed, checksum left alone
    write_tmp(buf, len, tmp, ".tar");
    lra_status s = read_all(tmp);
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), tmp) && contains(lra_error_message(), "bad header checksum") &&
          contains(lra_error_message(), "offset 1024"));
    unlink(tmp);
    free(buf);
}


// A 512-byte header with a valid checksum.  magic: 1 = POSIX ustar, 0 = old v7 (no magic).
// base256: write the size in GNU base-256 form.
static void make_header(uint8_t *h, const char *name, int64_t size, char type, int magic, int base256) {
    memset(h, 0, 512);
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000644", 7);
    if (base256) {
        h[124] = 0x80;
        for (int i = 0; i < 8; i++) h[135 - i] = (uint8_t)(size >> (8 * i));
    } else {
        snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    }
    memcpy(h + 136, "00000000000", 11);
    h[156] = (uint8_t)type;
    if (magic) memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

static void test_handmade_headers(void) {
    // v7 header; an unknown entry type whose data is skipped; a base-256 size; a single zero block.
    uint8_t a[512 * 8];
    memset(a, 0, sizeof a);
    make_header(a, "v7.txt", 3, '0', 0, 0);
    memcpy(a + 512, "abc", 3);
    make_header(a + 1024, "weird", 600, 'Z', 1, 0);   // 600 bytes of data: 2 blocks
    make_header(a + 1024 + 512 * 3, "big256.bin", 5, '0', 1, 1);
    memcpy(a + 1024 + 512 * 4, "hello", 5);
    char tmp[64];
    write_tmp(a, 512 * 8, tmp, ".tar");   // ends with exactly one zero block
    lra_tar *t;
    REQUIRE(lra_tar_open(tmp, &t) == LRA_OK);
    const char *name;
    int64_t size;
    int done;
    char buf[8] = {0};
    CHECK_OK(lra_tar_next(t, &name, &size, &done));
    CHECK(!done && !strcmp(name, "v7.txt") && size == 3);
    CHECK_OK(lra_tar_read(t, buf, 3));
    CHECK(!memcmp(buf, "abc", 3));
    CHECK_OK(lra_tar_next(t, &name, &size, &done));
    CHECK(!done && name && !strcmp(name, "big256.bin") && size == 5);
    CHECK_OK(lra_tar_read(t, buf, 5));
    CHECK(!memcmp(buf, "hello", 5));
    CHECK_OK(lra_tar_next(t, &name, &size, &done));
    CHECK(done == 1);
    lra_tar_close(t);
    unlink(tmp);
    // A size field with a non-octal character.
    make_header(a, "bad.txt", 3, '0', 1, 0);
    a[124 + 5] = '9';
    memset(a + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += a[i];
    snprintf((char *)a + 148, 8, "%06o", sum);
    write_tmp(a, 512 * 4, tmp, ".tar");
    CHECK_EQ_INT(read_all(tmp), LRA_ERR_FORMAT);
    CHECK(contains(lra_error_message(), "bad size field") && contains(lra_error_message(), "bad.txt") &&
          contains(lra_error_message(), tmp));
    unlink(tmp);
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

// Random byte damage to the plain and the compressed archive: every read ends in OK or an error
// naming the archive, never in a crash (run under ASan).
static void test_fuzz(void) {
    const char *names[] = {"ustar.tar", "pax.tgz", "gnu.tar.gz"};
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    int ok = 0, err = 0, unnamed = 0;
    for (int k = 0; k < 3; k++) {
        char src[512], tmp[64];
        snprintf(src, sizeof src, "%s/tar/%s", lra_test_fixtures(), names[k]);
        size_t len;
        uint8_t *buf = slurp(src, &len);
        REQUIRE(buf != NULL);
        uint8_t *c = malloc(len);
        for (int it = 0; it < 60; it++) {
            memcpy(c, buf, len);
            int flips = 1 + (int)(xorshift(&seed) % 3);
            for (int f = 0; f < flips; f++) {
                // The plain tar: mostly in header blocks, where the parsing happens.
                size_t pos = k == 0 && (it % 3) ? (size_t)(xorshift(&seed) % 8) * 512 + (size_t)(xorshift(&seed) % 512)
                                                : (size_t)(xorshift(&seed) % len);
                if (pos < len) c[pos] = (uint8_t)xorshift(&seed);
            }
            write_tmp(c, len, tmp, k == 0 ? ".tar" : ".tgz");
            lra_status s = read_all(tmp);
            if (s == LRA_OK) {
                ok++;
            } else {
                err++;
                if (!contains(lra_error_message(), tmp)) unnamed++;
            }
            unlink(tmp);
        }
        free(c);
        free(buf);
    }
    CHECK(err > 0);
    CHECK_EQ_INT(unnamed, 0);
    printf("  fuzz: %d read, %d rejected\n", ok, err);
}

static const lra_test_case TESTS[] = {
    {"formats", test_formats},
    {"read_past_member", test_read_past_member},
    {"open_errors", test_open_errors},
    {"truncated_plain", test_truncated_plain},
    {"truncated_gzip", test_truncated_gzip},
    {"bad_checksum", test_bad_checksum},
    {"handmade_headers", test_handmade_headers},
    {"fuzz", test_fuzz},
};
LRA_TEST_MAIN(TESTS)
