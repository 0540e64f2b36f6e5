// Evaluation: the model in eval mode (no dropout, no tape) over a dataset split, every row once by
// default (the clean protocol of training.md §8.2), or a fixed number of batches.
#ifndef LRA_TASKS_EVALUATE_H
#define LRA_TASKS_EVALUATE_H

#include <stdint.h>

#include "data/batcher.h"
#include "data/dataset.h"
#include "tasks/model.h"

typedef struct {
    int batch_size;
    int64_t length;          // L (already rounded)
    lra_mask_mode mask_mode;
    int64_t max_batches;     // 0: the whole split once
    uint64_t seed;           // keys of sampling kernels (they still sample in eval mode)
    uint64_t eval_index;     // distinguishes evaluations (part of the key)
    int64_t shard_rank, num_shards;  // data-parallel evaluation: this rank's rows (1 shard = all)
    // Optional outputs.  confusion: [num_classes * num_classes] counts, row = label, column = prediction
    // (lra_model_prediction), ADDED to (the caller zeroes it).  on_batch: called after each batch with its
    // real rows (batch->index, batch->labels of the first batch->count rows) and their logits [count, C].
    int64_t *confusion;
    int num_classes;
    void (*on_batch)(void *user, const lra_batch *batch, const lra_tensor *logits);
    void *user;
    // Asked before each batch (NULL: never); nonzero stops the evaluation with LRA_ERR_INTERRUPTED and a
    // partial result (a stop signal during a dev evaluation).  Under MPI it must answer the same on
    // every rank.
    int (*cancel)(void *user);
    void *cancel_user;
} lra_eval_options;

typedef struct {
    double loss_sum;         // sum of per-example cross-entropy
    int64_t correct;
    int64_t examples;
} lra_eval_result;

static inline double lra_eval_loss(const lra_eval_result *r) { return r->examples ? r->loss_sum / r->examples : 0; }
static inline double lra_eval_accuracy(const lra_eval_result *r) {
    return r->examples ? (double)r->correct / r->examples : 0;
}

lra_status lra_evaluate(lra_model *m, lra_ctx *ctx, const lra_dataset *ds, const lra_eval_options *opt,
                        lra_eval_result *out);

#endif
