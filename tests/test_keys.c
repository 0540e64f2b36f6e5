// Tests of the random-stream keys (core/keys.h): every purpose that existed before the keys were unified
// keeps its historical stream words (written out here as they were in the callers), coordinates a
// purpose uses change its stream, and purposes never share a stream.
#include "core/keys.h"
#include "core/rng.h"
#include "tests/harness.h"

#define S lra_rng_stream

static uint64_t key_stream(lra_key_purpose purpose, uint64_t step, int layer, uint64_t tower, uint64_t example,
                           uint64_t head, uint64_t epoch) {
    lra_key k = lra_key_make(&(lra_key_fields){.purpose = purpose, .seed = 99, .step = step, .layer = layer,
                                               .tower = tower, .example = example, .head = head, .epoch = epoch});
    CHECK_EQ_INT(k.seed, 99);
    return k.stream;
}

// The formulas of layers/dropout.c, attention/attn_util.c, softmax.c, s3.c, performer.c and data/batcher.c
// before core/keys.h.
static void test_historical_streams(void) {
    const uint64_t steps[] = {0, 1, 7, 123456789};
    const int layers[] = {-1, 0, 3};
    for (size_t a = 0; a < sizeof steps / sizeof steps[0]; a++)
        for (size_t b = 0; b < sizeof layers / sizeof layers[0]; b++)
            for (uint64_t tower = 0; tower < 2; tower++) {
                const uint64_t st = steps[a], ly = (uint64_t)(int64_t)layers[b], e = 5 + st, h = 1 + tower;
                const int l = layers[b];
                // Encoder dropout sites 1..4, salt 0xd00.
                CHECK_EQ_INT(key_stream(LRA_KEY_DROPOUT_EMBEDDING, st, l, tower, e, h, 0), S(st, ly, 1, 0xd00 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_DROPOUT_ATTN_OUT, st, l, tower, e, h, 0), S(st, ly, 2, 0xd00 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_DROPOUT_MLP_HIDDEN, st, l, tower, e, h, 0), S(st, ly, 3, 0xd00 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_DROPOUT_MLP_OUT, st, l, tower, e, h, 0), S(st, ly, 4, 0xd00 + tower));
                // Kernel dropout: softmax probabilities (site 5), S3's branches, salt 0xa77; S3's smoother 0xd00.
                CHECK_EQ_INT(key_stream(LRA_KEY_DROPOUT_ATTN_PROBS, st, l, tower, e, h, 0), S(st, ly, 5, 0xa77 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_S3_DROPOUT_TOKEN, st, l, tower, e, h, 0),
                             S(st, ly, 0x5a52, 0xa77 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_S3_DROPOUT_FEATURE, st, l, tower, e, h, 0),
                             S(st, ly, 0x5a53, 0xa77 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_S3_DROPOUT_SMOOTHER, st, l, tower, e, h, 0),
                             S(st, ly, 0x5a54, 0xd00 + tower));
                // Kernel draws, salt 0xa770; per (example, head) ones through the 0x5eed sub-stream.
                CHECK_EQ_INT(key_stream(LRA_KEY_SKEIN_PILOT, st, l, tower, e, 0, 0),
                             S(S(st, ly, 0x5a01, 0xa770 + tower), e, 0, 0x5eed));
                CHECK_EQ_INT(key_stream(LRA_KEY_SKEIN_COLUMNS, st, l, tower, e, h, 0),
                             S(S(st, ly, 0x5a02, 0xa770 + tower), e, h, 0x5eed));
                CHECK_EQ_INT(key_stream(LRA_KEY_INFORMER_KEYS, st, l, tower, e, h, 0), S(st, ly, 0x5a03, 0xa770 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_SKYFORMER_LANDMARKS, st, l, tower, e, h, 0),
                             S(st, ly, 0x5a04, 0xa770 + tower));
                CHECK_EQ_INT(key_stream(LRA_KEY_YOSO_HASH, st, l, tower, e, h, 0),
                             S(S(st, ly, 0x5a40, 0xa770 + tower), e, h, 0x5eed));
                CHECK_EQ_INT(key_stream(LRA_KEY_S3_INDEX_CALL, st, l, tower, 0, 0, 0),
                             S(S(st, ly, 0x5a51, 0xa770 + tower), 0, 0, 0x5eed));
                // Drawn once at init, per layer.
                CHECK_EQ_INT(key_stream(LRA_KEY_PERFORMER_FEATURES, st, l, tower, e, h, 0), S(ly, 0x5a05, 0xfa70, 0));
                CHECK_EQ_INT(key_stream(LRA_KEY_S3_INDEX_INIT, st, l, tower, e, h, 0), S(0x5a50, ly, 0, 0));
                // The batcher's order, per epoch.
                CHECK_EQ_INT(key_stream(LRA_KEY_BATCH_ORDER, st, l, tower, e, h, st), S(0x44415441, st, 0, 0));
            }
}

// All purposes give distinct streams at the same coordinates (a new purpose without a table row too).
static void test_distinct(void) {
    uint64_t seen[LRA_KEY_COUNT];
    for (int p = 0; p < LRA_KEY_COUNT; p++) {
        seen[p] = key_stream((lra_key_purpose)p, 3, 1, 0, 2, 1, 4);
        for (int q = 0; q < p; q++) CHECK_MSG(seen[q] != seen[p], "purposes %d and %d share a stream", q, p);
    }
    // Coordinates a per-call purpose uses change the stream.
    const uint64_t base = key_stream(LRA_KEY_SKEIN_COLUMNS, 3, 1, 0, 2, 1, 0);
    CHECK(key_stream(LRA_KEY_SKEIN_COLUMNS, 4, 1, 0, 2, 1, 0) != base);
    CHECK(key_stream(LRA_KEY_SKEIN_COLUMNS, 3, 2, 0, 2, 1, 0) != base);
    CHECK(key_stream(LRA_KEY_SKEIN_COLUMNS, 3, 1, 1, 2, 1, 0) != base);
    CHECK(key_stream(LRA_KEY_SKEIN_COLUMNS, 3, 1, 0, 3, 1, 0) != base);
    CHECK(key_stream(LRA_KEY_SKEIN_COLUMNS, 3, 1, 0, 2, 0, 0) != base);
    // lra_key_rng is lra_rng_make(seed, stream).
    lra_key k = lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_YOSO_HASH, .seed = 7, .step = 1});
    lra_rng a = lra_key_rng(k), b = lra_rng_make(7, k.stream);
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(lra_rng_u32(&a), lra_rng_u32(&b));
}

static const lra_test_case TESTS[] = {
    {"historical_streams", test_historical_streams},
    {"distinct", test_distinct},
};
LRA_TEST_MAIN(TESTS)
