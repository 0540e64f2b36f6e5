// Batch -> tensors (see batch_tensors.h).
#include "tasks/batch_tensors.h"

#include <string.h>

#include "core/ops.h"

void lra_batch_tensors_make(lra_ctx *ctx, const lra_batch *b, lra_batch_tensors *out) {
    memset(out, 0, sizeof *out);
    // Views of the batcher's planes, no copy: only the real rows (the first `count`), because the padding
    // rows of a last partial batch would cost time and are not valid inputs for every kernel (sampling
    // kernels need real tokens in every example).
    const int64_t L = b->length, rows = b->count > 0 ? b->count : 1;
    for (int s = 0; s < b->n_seq && s < 2; s++) {
        out->ids[s] = lra_tensor_wrap(ctx->arena, LRA_I32, lra_batch_tokens(b, s), LRA_DIMS(rows, L));
        out->mask[s] = lra_tensor_wrap(ctx->arena, LRA_F32, lra_batch_mask(b, s), LRA_DIMS(rows, L));
    }
    out->count = b->count;
    out->labels = lra_tensor_wrap(ctx->arena, LRA_I32, b->labels, LRA_DIMS(rows));
}

lra_tensor *lra_batch_logits(lra_model *m, lra_ctx *ctx, const lra_batch_tensors *t) {
    return lra_model_logits(m, ctx, t->ids[0], t->mask[0], t->ids[1], t->mask[1]);
}
