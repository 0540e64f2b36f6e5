// MEAN and CLS pooling (see pooling.h).
#include "layers/pooling.h"

#include <string.h>

#include "core/ops.h"

lra_tensor *lra_pooling_forward(lra_ctx *ctx, lra_tensor *x, lra_pooling mode) {
    if (mode == LRA_POOL_MEAN) return lra_op_mean(ctx, x, 1, 0);
    lra_tensor *first = lra_op_slice(ctx, x, 1, 0, 1);  // [B, 1, D]
    return lra_op_reshape(ctx, first, LRA_DIMS(x->shape[0], x->shape[2]));
}

void lra_pooling_prepend_cls(lra_ctx *ctx, lra_tensor *ids, lra_tensor *mask, int cls_id, lra_tensor **ids_out,
                             lra_tensor **mask_out) {
    const int64_t B = ids->shape[0], n = ids->shape[1];
    lra_tensor *ni = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(B, n));
    lra_tensor *nm = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, n));
    for (int64_t b = 0; b < B; b++) {
        lra_i32(ni)[b * n] = cls_id;
        lra_f32(nm)[b * n] = 1.0f;
        for (int64_t i = 1; i < n; i++) {
            lra_i32(ni)[b * n + i] = lra_i32(ids)[b * ids->stride[0] + (i - 1) * ids->stride[1]];
            lra_f32(nm)[b * n + i] = lra_f32(mask)[b * mask->stride[0] + (i - 1) * mask->stride[1]];
        }
    }
    *ids_out = ni;
    *mask_out = nm;
}

lra_status lra_pooling_parse(const char *name, lra_pooling *out) {
    if (!strcmp(name, "mean")) *out = LRA_POOL_MEAN;
    else if (!strcmp(name, "cls")) *out = LRA_POOL_CLS;
    else return lra_error(LRA_ERR_CONFIG, "unknown pooling '%s' (expected mean or cls)", name);
    return LRA_OK;
}
