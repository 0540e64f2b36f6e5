// Random-stream keys: every random draw of a run (dropout masks, attention kernels' samples, init-time
// buffers, batch order) comes from Philox keyed by (seed, stream), and every stream is built here from
// a purpose and named coordinates:
//   lra_key k = lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_DROPOUT_ATTN_OUT, .seed = ctx->seed,
//                                              .step = ctx->step, .layer = l, .tower = tower});
//   lra_op_dropout(ctx, x, p, k.stream);   or   lra_rng r = lra_key_rng(k);
// Coordinates a purpose does not use are ignored (see the table in keys.c).  Because a stream depends on
// (step, layer, tower, example, head) and not on batch splitting or thread counts, runs are reproducible
// and a resumed run draws what an uninterrupted one would.
//
// The purposes that existed before this header keep their historical stream words exactly (word order
// and salts differ between them; keys.c lists them), so trained weights and kernel outputs did not change.
// A new purpose needs only its enum line: purposes without a table row get the default recipe
// stream(step, layer, purpose, tower) with a per-(example, head) sub-stream.
// Not covered here: parameter initialisation (core/params.c) and the data generators, whose streams are
// part of their own file formats.
#ifndef LRA_CORE_KEYS_H
#define LRA_CORE_KEYS_H

#include <stdint.h>

#include "core/rng.h"

typedef enum {
    // Dropout of the encoder (layers/): per step, layer (-1 for the embedding) and tower.
    LRA_KEY_DROPOUT_EMBEDDING = 0,
    LRA_KEY_DROPOUT_ATTN_OUT,      // attention branch before the residual add
    LRA_KEY_DROPOUT_MLP_HIDDEN,    // after GELU
    LRA_KEY_DROPOUT_MLP_OUT,       // MLP output before the residual add
    // Dropout inside attention kernels: per step, layer and tower.
    LRA_KEY_DROPOUT_ATTN_PROBS,    // softmax probabilities (offset per example and head inside the stream)
    LRA_KEY_S3_DROPOUT_TOKEN,      // S3 token branch
    LRA_KEY_S3_DROPOUT_FEATURE,    // S3 feature branch
    LRA_KEY_S3_DROPOUT_SMOOTHER,   // after S3's smoother
    // Sampling kernels' draws: per step, layer and tower; those marked (e, h) per example and head too.
    LRA_KEY_SKEIN_PILOT,           // Skeinformer pilot rows (e; example 0 when shared)
    LRA_KEY_SKEIN_COLUMNS,         // Skeinformer column samples (e, h)
    LRA_KEY_INFORMER_KEYS,         // Informer key samples (shared by examples and heads)
    LRA_KEY_SKYFORMER_LANDMARKS,   // Skyformer landmarks (shared)
    LRA_KEY_YOSO_HASH,             // YOSO hash functions (e, h)
    LRA_KEY_S3_INDEX_CALL,         // S3 index sets drawn per call (shared)
    LRA_KEY_REFORMER_ROTATIONS,    // Reformer LSH rotations (h; example 0: shared by the batch)
    // Drawn once at init: per layer only.
    LRA_KEY_PERFORMER_FEATURES,    // Performer's orthogonal random features
    LRA_KEY_S3_INDEX_INIT,         // S3's fixed index sets
    LRA_KEY_SCATTERBRAIN_FEATURES, // Scatterbrain's orthogonal random features
    // Data: per epoch.
    LRA_KEY_BATCH_ORDER,           // the batcher's shuffle
    // Fixed sparsity patterns: per run seed, layer and head (step and tower unused).
    LRA_KEY_BIGBIRD_BLOCKS,        // BigBird's random key blocks
    LRA_KEY_COUNT
} lra_key_purpose;

// Named coordinates of one stream; zero-initialise and set what the purpose uses.
typedef struct {
    lra_key_purpose purpose;
    uint64_t seed;     // run seed (or the data seed for LRA_KEY_BATCH_ORDER)
    uint64_t step;     // training step or evaluation counter
    int layer;         // encoder layer; -1 for model-level sites
    uint64_t tower;    // 0, or 1 for the second document of the retrieval dual encoder
    uint64_t example;  // global example index (ctx->example_offset + b)
    uint64_t head;
    uint64_t epoch;
} lra_key_fields;

typedef struct {
    uint64_t seed, stream;
} lra_key;

lra_key lra_key_make(const lra_key_fields *f);
static inline lra_rng lra_key_rng(lra_key k) { return lra_rng_make(k.seed, k.stream); }

#endif
