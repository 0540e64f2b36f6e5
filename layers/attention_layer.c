// Multi-head attention layer (see attention_layer.h).
#include "layers/attention_layer.h"

#include <stdio.h>

#include "core/ops.h"

void lra_attention_layer_declare(lra_attention_layer *a, lra_params *p, const char *name, int dim, int heads,
                                 int head_dim, int64_t seq_len, int layer, const lra_attn_kernel_def *kernel,
                                 const lra_attn_values *opts) {
    char buf[LRA_PARAM_NAME_MAX];
    const int inner = heads * head_dim, mixer = kernel->mix != NULL;  // a mixer owns all its projections
    if (!mixer) {
        snprintf(buf, sizeof buf, "%s.W_q", name);
        lra_linear_declare(&a->wq, p, buf, dim, inner, 1);
        snprintf(buf, sizeof buf, "%s.W_k", name);
        lra_linear_declare(&a->wk, p, buf, dim, inner, 1);
        snprintf(buf, sizeof buf, "%s.W_v", name);
        lra_linear_declare(&a->wv, p, buf, dim, inner, 1);
    }
    snprintf(buf, sizeof buf, "%s.attn.", name);
    lra_attn_setup setup = {.layer = layer, .n_heads = heads, .head_dim = head_dim, .model_dim = dim,
                            .seq_len = seq_len, .opts = opts, .prefix = buf};
    lra_status st = lra_attn_instance_make(&a->attn, kernel, &setup, p, 0);
    LRA_ASSERT_MSG(st == LRA_OK, "%s: %s", name, lra_error_message());
    if (!mixer) {
        snprintf(buf, sizeof buf, "%s.ff", name);
        lra_linear_declare(&a->ff, p, buf, inner, dim, 1);
    }
    a->layer = layer;
    a->heads = heads;
    a->head_dim = head_dim;
    a->dim = dim;
}

void lra_attention_layer_init_params(lra_attention_layer *a, lra_params *p, uint64_t seed) {
    LRA_ASSERT(a->attn.params == p);
    lra_attn_instance_init(&a->attn, seed);
}

void lra_attention_layer_destroy(lra_attention_layer *a) { lra_attn_instance_free(&a->attn); }

lra_tensor *lra_attention_layer_forward(const lra_attention_layer *a, lra_params *p, lra_ctx *ctx, lra_tensor *x,
                                        lra_tensor *mask, uint64_t tower, lra_tensor **carry) {
    lra_attn_call call = {.seed = ctx->seed, .step = ctx->step, .layer = a->layer, .training = ctx->training,
                          .tower = tower, .carry = carry};
    LRA_ASSERT(a->attn.params == p);
    if (a->attn.def->mix) return lra_attn_instance_mix(&a->attn, ctx, x, mask, &call);
    lra_tensor *h = lra_attn_instance_pre(&a->attn, ctx, x, mask, &call);
    // The projections write the heads' layout directly, and the output projection reads it.
    lra_tensor *q = lra_linear_forward_heads(&a->wq, p, ctx, h, a->heads);  // [B, H, n, p]
    lra_tensor *k = lra_linear_forward_heads(&a->wk, p, ctx, h, a->heads);
    lra_tensor *v = lra_linear_forward_heads(&a->wv, p, ctx, h, a->heads);
    lra_tensor *o = lra_attn_instance_forward(&a->attn, ctx, q, k, v, mask, &call);  // [B, H, n, p]
    return lra_linear_forward_merge(&a->ff, p, ctx, o);                              // [B, n, D]
}
