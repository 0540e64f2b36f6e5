// Batch -> tensors (see batch_tensors.h).
#include "tasks/batch_tensors.h"

#include <string.h>

#include "core/ops.h"

void lra_batch_tensors_make(lra_ctx *ctx, const lra_batch *b, lra_batch_tensors *out) {
    memset(out, 0, sizeof *out);
    // Only the real rows: the padding rows of a last partial batch would cost time and are not valid
    // inputs for every kernel (sampling kernels need real tokens in every example).
    const int64_t L = b->length, rows = b->count > 0 ? b->count : 1;
    for (int s = 0; s < b->n_seq && s < 2; s++) {
        out->ids[s] = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(rows, L));
        out->mask[s] = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(rows, L));
        for (int64_t r = 0; r < rows; r++) {
            memcpy(lra_i32(out->ids[s]) + r * L, b->tokens + (r * b->n_seq + s) * L, (size_t)L * 4);
            memcpy(lra_f32(out->mask[s]) + r * L, b->mask + (r * b->n_seq + s) * L, (size_t)L * 4);
        }
    }
    out->count = b->count;
    out->labels = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(b->count > 0 ? b->count : 1));
    memcpy(out->labels->data, b->labels, (size_t)(b->count > 0 ? b->count : 1) * 4);
    if (b->count > 0) out->labels->shape[0] = b->count;
}

lra_tensor *lra_batch_logits(lra_model *m, lra_ctx *ctx, const lra_batch_tensors *t) {
    return lra_model_logits(m, ctx, t->ids[0], t->mask[0], t->ids[1], t->mask[1]);
}
