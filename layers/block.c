// Pre-LN encoder block (see block.h).
#include "layers/block.h"

#include <stdio.h>

#include "core/ops.h"
#include "layers/dropout.h"

void lra_block_declare(lra_block *b, lra_params *p, const char *name, int dim, int heads, int head_dim, int hidden,
                       int64_t seq_len, float dropout, int layer, const lra_attn_kernel_def *kernel,
                       const lra_attn_values *opts) {
    char buf[LRA_PARAM_NAME_MAX];
    snprintf(buf, sizeof buf, "%s.norm1", name);
    lra_layernorm_declare(&b->norm1, p, buf, dim);
    snprintf(buf, sizeof buf, "%s.mha", name);
    lra_attention_layer_declare(&b->mha, p, buf, dim, heads, head_dim, seq_len, layer, kernel, opts);
    snprintf(buf, sizeof buf, "%s.norm2", name);
    lra_layernorm_declare(&b->norm2, p, buf, dim);
    snprintf(buf, sizeof buf, "%s.mlpblock", name);
    lra_mlp_declare(&b->mlp, p, buf, dim, hidden, dropout, layer);
    b->dropout = dropout;
    b->layer = layer;
}

lra_tensor *lra_block_forward(const lra_block *b, lra_params *p, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                              uint64_t tower, lra_tensor **carry) {
    lra_tensor *a = lra_attention_layer_forward(&b->mha, p, ctx, lra_layernorm_forward(&b->norm1, p, ctx, x), mask,
                                                tower, carry);
    // The residual additions take the dropout in the same pass (dropout(a) is never stored).
    x = lra_dropout_add(ctx, x, a, b->dropout, b->layer, LRA_KEY_DROPOUT_ATTN_OUT, tower);
    return lra_mlp_forward_residual(&b->mlp, p, ctx, lra_layernorm_forward(&b->norm2, p, ctx, x), x, tower);
}
