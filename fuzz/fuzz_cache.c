// Fuzz target: the binary dataset cache loader (data/cache.c).  The key asked for is the one stored in
// the input's header (when its length field is sane), so that loading gets past the key comparison.
// size % 2 == 1: the header CRC-32 and the section CRC-32s are recomputed first (the section CRCs over
// whatever the sections inflate to), so that mutations reach the payload checks.
#include <stdlib.h>
#include <string.h>

#include "data/cache.h"
#include "fuzz/data_fuzz.h"

enum { HDR = 136, SEC = 64 };

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// CRC-32 of what data[0..n) inflates to (at most LRA_FUZZ_MAX_INFLATED bytes).
static uint32_t inflated_crc(const uint8_t *d, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    if (inflateInit(&z) != Z_OK) return crc;
    static uint8_t out[65536];
    size_t total = 0;
    z.next_in = (Bytef *)d;
    z.avail_in = (uInt)n;
    for (;;) {
        z.next_out = out;
        z.avail_out = sizeof out;
        int r = inflate(&z, Z_NO_FLUSH);
        crc = (uint32_t)crc32(crc, out, (uInt)(sizeof out - z.avail_out));
        total += sizeof out - z.avail_out;
        if (r != Z_OK || total > LRA_FUZZ_MAX_INFLATED) break;
    }
    inflateEnd(&z);
    return crc;
}

LRA_FUZZ_TARGET(cache) {
    uint8_t *b = malloc(size ? size : 1);
    if (!b) abort();
    memcpy(b, data, size);
    char key[4096] = "k";
    if (size >= HDR) {
        uint32_t klen = le32(b + 16);
        if (klen < sizeof key && (uint64_t)HDR + klen + 4 <= size) {
            memcpy(key, b + HDR, klen);
            key[klen] = '\0';
            if (memchr(b + HDR, 0, klen)) key[0] = 'k';   // a key with a NUL cannot match anyway
            if (size % 2 == 1) {
                size_t pos = HDR + klen + 4;
                for (int i = 0; i < 3; i++) {
                    uint64_t comp = le64(b + SEC + 24 * i + 8);
                    if (comp > size - pos) break;
                    put32(b + SEC + 24 * i + 16, inflated_crc(b + pos, (size_t)comp));
                    pos += (size_t)comp;
                }
                put32(b + HDR + klen, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, HDR + klen));
            }
        }
    }
    char path[512];
    lra_fuzz_write_file("in.lrac", b, size, path, sizeof path);
    free(b);
    lra_dataset ds;
    if (lra_cache_load(path, key, &ds) == LRA_OK) {
        if (lra_dataset_validate(&ds, "fuzz") != LRA_OK) __builtin_trap();
        lra_dataset_free(&ds);
    }
    return 0;
}
