// Dropout keys (see dropout.h).
#include "layers/dropout.h"

#include "core/ops.h"
#include "core/rng.h"

uint64_t lra_dropout_stream(const lra_ctx *ctx, int layer, lra_dropout_site site, uint64_t tower) {
    return lra_rng_stream(ctx->step, (uint64_t)(int64_t)layer, (uint64_t)site, 0xd00 + tower);
}

lra_tensor *lra_dropout_apply(lra_ctx *ctx, lra_tensor *x, float p, int layer, lra_dropout_site site,
                              uint64_t tower) {
    if (!ctx->training || p <= 0.0f) return x;
    return lra_op_dropout(ctx, x, p, lra_dropout_stream(ctx, layer, site, tower));
}
