// Fuzz target: a training checkpoint (tasks/checkpoint.c over core/container.c) as `lra eval` and
// `lra train --resume` read it: open and verify the container, read the config it carries, resolve it,
// build that model (small ones only) and load every parameter, the optimizer state and the metrics.
// Input byte 0, bit 0 set: recompute the header, index and tensor CRCs and the header's sizes of the rest
// of the input first, so mutations get past the checksums to the parsers behind them.
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/config.h"
#include "core/threads.h"
#include "core/container.h"
#include "fuzz/fuzz.h"
#include "tasks/checkpoint.h"
#include "tasks/memory.h"
#include "tasks/settings.h"

#define MODEL_LIMIT (64u << 20)   // bytes a fuzzed config may make the harness allocate
#define INFLATE_LIMIT (4u << 20)  // raw bytes the CRC fixer inflates per tensor

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// CRC32 of the raw bytes of a zlib stream, or 0 when it does not inflate within the limit.
static uint32_t inflated_crc(const uint8_t *p, uint64_t n, uint64_t raw) {
    if (raw > INFLATE_LIMIT) return 0;
    uint8_t *out = malloc(raw ? (size_t)raw : 1);
    if (!out) return 0;
    uLongf len = (uLongf)raw;
    uint32_t crc = 0;
    if (uncompress(out, &len, p, (uLong)n) == Z_OK) crc = (uint32_t)crc32(0, out, (uInt)len);
    free(out);
    return crc;
}

// Rewrites sizes and checksums in place (only what lies inside the buffer).
static void fix_checksums(uint8_t *b, size_t n) {
    if (n < 64) return;
    wr64(b + 16, n);  // file_bytes
    uint64_t index = rd64(b + 24);
    if (index >= 64 && index <= n) {
        wr64(b + 32, n - index);  // index_bytes
        // Walk the index: metadata pairs, then tensor entries.
        uint8_t *ix = b + index;
        size_t m = n - (size_t)index, at = 0;
        uint32_t n_meta = rd32(b + 40), n_tensors = rd32(b + 44);
        for (uint32_t i = 0; i < 2 * n_meta && at + 4 <= m; i++) {
            uint32_t len = rd32(ix + at);
            at += 4;
            if (len > m - at) at = m;
            else at += len;
        }
        for (uint32_t i = 0; i < n_tensors && at + 4 <= m; i++) {
            uint32_t len = rd32(ix + at);
            at += 4;
            if (len > m - at || m - at - len < 80) break;
            uint8_t *e = ix + at + len;  // dtype, ndim, dims[4], offset, stored, raw, crc, comp, scrc, reserved
            uint64_t off = rd64(e + 40), stored = rd64(e + 48), raw = rd64(e + 56);
            if (off <= n && stored <= n - off) {
                uint32_t scrc = (uint32_t)crc32(0, b + off, (uInt)stored);
                uint32_t comp = rd32(e + 68);
                wr32(e + 72, scrc);
                wr32(e + 64, comp == 1 ? inflated_crc(b + off, stored, raw) : scrc);
            }
            at += len + 80;
        }
        wr32(b + 48, (uint32_t)crc32(0, ix, (uInt)m));
    }
    wr32(b + 60, (uint32_t)crc32(0, b, 60));
}

static void load(const char *path) {
    lra_container_reader *r = NULL;
    if (lra_container_open(&r, path) == LRA_OK) {
        (void)lra_container_verify(r);
        lra_container_close(r);
    }
    char *yaml = NULL;
    if (lra_checkpoint_read_config(path, &yaml) != LRA_OK) return;
    lra_config *c = NULL;
    lra_run_settings rs;
    lra_status s = lra_config_parse(&c, path, yaml);
    if (s == LRA_OK) s = lra_config_validate(c, lra_fuzz_settings_schema());
    if (s == LRA_OK) s = lra_settings_resolve(c, &rs);
    if (s == LRA_OK) s = lra_memory_check(c, &rs, MODEL_LIMIT);
    if (s == LRA_OK) {
        lra_model m;
        lra_model_build(&m, &rs.model, rs.seed);
        lra_train_state st;
        lra_train_state_init(&st, rs.seed);
        char *metrics = NULL;
        if (lra_checkpoint_load(path, &m, &st, &metrics) == LRA_OK) free(metrics);
        lra_model_free(&m);
    }
    lra_config_free(c);
    free(yaml);
}

LRA_FUZZ_TARGET(checkpoint) {
    lra_fuzz_single_thread();
    if (size == 0) return 0;
    uint8_t *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data + 1, size - 1);
    if (data[0] & 1) fix_checksums(b, size - 1);
    char path[512];
    lra_fuzz_write_file("fuzz.ckpt", b, size - 1, path, sizeof path);
    free(b);
    load(path);
    return 0;
}
