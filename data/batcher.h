// Batcher: turns a dataset into fixed-shape batches for training and evaluation.
//  - order: a permutation per epoch drawn from (seed, epoch) with core/rng.h (shuffle = 1), or the
//    dataset order (shuffle = 0, evaluation);
//  - shape: every sequence truncated / zero-padded to L = max_length (optionally rounded up to a power
//    of two); tokens int32, mask float (1 = real token), labels int32;
//  - masks come from the stored lengths (data.md §10); LRA_MASK_NONZERO reproduces the official
//    `token != 0` mask, which differs only for image tasks with pixel ids 0;
//  - the last partial batch of an epoch is kept (count < B, the rest zero rows with label -1) or
//    dropped (drop_last);
//  - a cursor (epoch, position) names the next batch; saving and restoring it replays exactly;
//  - sharding for data parallelism: the global batch of B rows is split into K contiguous parts,
//    rank r taking rows [floor(r*B/K), floor((r+1)*B/K)) of the same permutation;
//  - an optional thread builds the next batch while the caller uses the current one.
//
// Layout (the one the model reads, without a copy): one plane per document of a row, [n_seq][rows][L];
// real rows come first, so the first `count` rows of a plane are the model's [count, L] input.  With
// cls_token >= 0 (CLS pooling) position 0 of every sequence holds that token and the document follows
// from position 1 (its last token is dropped when it fills L).
#ifndef LRA_DATA_BATCHER_H
#define LRA_DATA_BATCHER_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"

typedef enum {
    LRA_MASK_LENGTH = 0,   // mask[t] = t < length (the default; right for every task)
    LRA_MASK_NONZERO = 1   // mask[t] = token[t] != 0 (official compatibility switch)
} lra_mask_mode;

typedef struct {
    int batch_size;          // B: examples per step over all shards
    int64_t max_length;      // L before rounding; 0 = the dataset's longest sequence
    int round_pow2;          // 1: L = the next power of two >= max_length (2000 -> 2048)
    int shuffle;             // 1: permutation per epoch from (seed, epoch); 0: dataset order
    uint64_t seed;
    int drop_last;           // 1: the last partial batch of each epoch is skipped
    int single_pass;         // 1: one epoch, then lra_batcher_next gives NULL (evaluation)
    int prefetch;            // 1: build the next batch on a background thread
    lra_mask_mode mask_mode;
    int num_shards;          // K; 0 or 1 = no sharding
    int shard_rank;          // r in [0, K)
    int cls_token;           // >= 0: written at position 0 of every sequence (CLS pooling); -1 (default): none
} lra_batcher_options;

// One batch as seen by one shard.  Rows >= count are zero padding (mask 0, label -1, index -1).
typedef struct {
    int32_t *tokens;       // [n_seq, rows, L]: use lra_batch_tokens(b, s)
    float *mask;           // [n_seq, rows, L]: use lra_batch_mask(b, s)
    int32_t *lengths;      // [rows, n_seq]: real tokens after truncation
    int32_t *labels;       // [rows]
    int64_t *index;        // [rows]: dataset example of each row
    int rows;              // rows of a plane: ceil(B / K), the same on every shard
    int count;             // real examples in this shard's part
    int global_count;      // real examples in the whole batch (all shards)
    int n_seq;
    int64_t length;        // L
    int64_t epoch;         // this batch starts at row `position` of epoch `epoch`'s order
    int64_t position;
} lra_batch;

typedef struct {
    int64_t epoch;
    int64_t position;      // row of the epoch's order where the next batch starts
} lra_batch_cursor;

// Document s of every row: [rows, L] (rows in order, real rows first).
static inline int32_t *lra_batch_tokens(const lra_batch *b, int s) {
    return b->tokens + (int64_t)s * b->rows * b->length;
}
static inline float *lra_batch_mask(const lra_batch *b, int s) { return b->mask + (int64_t)s * b->rows * b->length; }
// The same batch restricted to rows [r0, r0 + count) (for gradient shards); planes keep their stride.
static inline lra_batch lra_batch_rows(const lra_batch *b, int r0, int count) {
    lra_batch part = *b;
    part.count = count;
    part.tokens += (int64_t)r0 * b->length;
    part.mask += (int64_t)r0 * b->length;
    part.labels += r0;
    part.lengths += (int64_t)r0 * b->n_seq;
    part.index += r0;
    return part;
}

typedef struct lra_batcher lra_batcher;

// Training defaults: B 32, L = longest, shuffle, seed 0, keep the last batch, endless, prefetch on,
// length masks, no sharding.
void lra_batcher_options_default(lra_batcher_options *opt);
// Evaluation defaults: every row once in dataset order (no shuffle, no drop), then NULL.
void lra_batcher_options_eval(lra_batcher_options *opt, int batch_size, int64_t max_length);

// The dataset must outlive the batcher and not change while it exists.
lra_status lra_batcher_create(lra_batcher **out, const lra_dataset *ds, const lra_batcher_options *opt);
void lra_batcher_free(lra_batcher *b);

// The next batch; valid until the next call of lra_batcher_next / _seek / _free on this batcher.
// In single-pass mode *batch is NULL after the last batch (until lra_batcher_seek).
lra_status lra_batcher_next(lra_batcher *b, const lra_batch **batch);

// Cursor of the batch the next lra_batcher_next call returns (save it with a checkpoint).
lra_batch_cursor lra_batcher_cursor(const lra_batcher *b);
// Continues from a saved cursor; in single-pass mode the pass restarts at that cursor's epoch.
lra_status lra_batcher_seek(lra_batcher *b, lra_batch_cursor c);

int64_t lra_batcher_length(const lra_batcher *b);           // L
int lra_batcher_rows(const lra_batcher *b);                 // rows of a batch on this shard
int64_t lra_batcher_batches_per_epoch(const lra_batcher *b);

// The order of epoch `epoch` (shuffle = 1): a permutation of 0..n-1 drawn from (seed, epoch) only.
// out: [n]
void lra_batcher_epoch_order(uint64_t seed, int64_t epoch, int64_t n, int32_t *out);

#endif
