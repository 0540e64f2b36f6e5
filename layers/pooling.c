// MEAN and CLS pooling (see pooling.h).
#include "layers/pooling.h"

#include <string.h>

#include "core/ops.h"

lra_tensor *lra_pooling_forward(lra_ctx *ctx, lra_tensor *x, lra_pooling mode) {
    if (mode == LRA_POOL_MEAN) return lra_op_mean(ctx, x, 1, 0);
    lra_tensor *first = lra_op_slice(ctx, x, 1, 0, 1);  // [B, 1, D]
    return lra_op_reshape(ctx, first, LRA_DIMS(x->shape[0], x->shape[2]));
}

lra_status lra_pooling_parse(const char *name, lra_pooling *out) {
    if (!strcmp(name, "mean")) *out = LRA_POOL_MEAN;
    else if (!strcmp(name, "cls")) *out = LRA_POOL_CLS;
    else return lra_error(LRA_ERR_CONFIG, "unknown pooling '%s' (expected mean or cls)", name);
    return LRA_OK;
}
