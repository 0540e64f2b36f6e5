// Dropout of the encoder's layers (see dropout.h).
#include "layers/dropout.h"

#include "core/ops.h"

// The Philox stream of a dropout site.
static uint64_t site_stream(const lra_ctx *ctx, int layer, lra_key_purpose site, uint64_t tower) {
    return lra_key_make(&(lra_key_fields){.purpose = site, .seed = ctx->seed, .step = ctx->step, .layer = layer,
                                          .tower = tower})
        .stream;
}

lra_tensor *lra_dropout_apply(lra_ctx *ctx, lra_tensor *x, float p, int layer, lra_key_purpose site,
                              uint64_t tower) {
    if (!ctx->training || p <= 0.0f) return x;
    return lra_op_dropout(ctx, x, p, site_stream(ctx, layer, site, tower));
}

lra_tensor *lra_dropout_add(lra_ctx *ctx, lra_tensor *x, lra_tensor *z, float p, int layer, lra_key_purpose site,
                            uint64_t tower) {
    if (!ctx->training || p <= 0.0f) return lra_op_add(ctx, x, z);
    return lra_op_add_dropout(ctx, x, z, p, site_stream(ctx, layer, site, tower));
}

lra_tensor *lra_gelu_dropout(lra_ctx *ctx, lra_tensor *x, float p, int layer, lra_key_purpose site, uint64_t tower) {
    if (!ctx->training || p <= 0.0f) return lra_op_gelu(ctx, x);
    return lra_op_gelu_dropout(ctx, x, p, site_stream(ctx, layer, site, tower));
}
