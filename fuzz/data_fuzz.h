// Helpers shared by the data-reader fuzz targets (fuzz/fuzz_{tar,idx,cifar,imdb,...}.c): gzip in
// memory, a bound on what a gzip input inflates to (so one 64 KB input cannot make a target use
// gigabytes legitimately), and sub-folders of the fuzz scratch folder.
#ifndef LRA_FUZZ_DATA_FUZZ_H
#define LRA_FUZZ_DATA_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fuzz/fuzz.h"

// Inflated size above which a gzip input is skipped: the readers bound their allocations by the
// deflate ratio, which is what the tests check; the fuzzer should spend its time on parsing instead.
#define LRA_FUZZ_MAX_INFLATED ((size_t)16 << 20)

// 1 when data is gzip (any number of members) inflating to at most LRA_FUZZ_MAX_INFLATED bytes, or
// not gzip at all; 0 when it would inflate to more.
static inline int lra_fuzz_inflate_ok(const uint8_t *data, size_t size) {
    if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) return 1;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) return 0;
    static uint8_t out[65536];
    size_t total = 0;
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    int ok = 1;
    for (;;) {
        z.next_out = out;
        z.avail_out = sizeof out;
        int r = inflate(&z, Z_NO_FLUSH);
        total += sizeof out - z.avail_out;
        if (total > LRA_FUZZ_MAX_INFLATED) {
            ok = 0;
            break;
        }
        if (r == Z_STREAM_END) {
            if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) break;
            inflateReset(&z);   // another gzip member
            continue;
        }
        if (r != Z_OK) break;   // corrupt or cut short: the reader will say so
    }
    inflateEnd(&z);
    return ok;
}

// gzip of data[0..size) into a malloc'd buffer (*out, *out_len).
static inline void lra_fuzz_gzip(const uint8_t *data, size_t size, uint8_t **out, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)size) + 32;
    *out = malloc(cap);
    if (!*out) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
}

// lra_fuzz_tmpdir()/sub (created if missing) into buf.
static inline const char *lra_fuzz_subdir(const char *sub, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", lra_fuzz_tmpdir(), sub);
    for (char *p = buf + strlen(lra_fuzz_tmpdir()) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    mkdir(buf, 0700);
    return buf;
}

#endif
