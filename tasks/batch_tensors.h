// Turning a batcher batch into the model's input tensors, and running the model on it.
#ifndef LRA_TASKS_BATCH_TENSORS_H
#define LRA_TASKS_BATCH_TENSORS_H

#include "data/batcher.h"
#include "tasks/model.h"

typedef struct {
    lra_tensor *ids[2];    // int32 [count, L] per document (CLS already in place when the model pools CLS)
    lra_tensor *mask[2];   // float [count, L]
    lra_tensor *labels;    // int32 [count] (only the real rows)
    int count;             // real examples
} lra_batch_tensors;

// Tensors viewing document s of every real row (the first b->count) of the batch: [count, L], no copy
// (valid while the batch is).
void lra_batch_tensors_make(lra_ctx *ctx, const lra_batch *b, lra_batch_tensors *out);
// Logits [count, C].
lra_tensor *lra_batch_logits(lra_model *m, lra_ctx *ctx, const lra_batch_tensors *t);

#endif
