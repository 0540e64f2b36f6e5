// `cosformer` (cosFormer, Qin et al. 2022; github:OpenNLPLab/cosFormer cosformer.py, non-causal branch):
// linear attention with ReLU features re-weighted by cos(pi/2 (i - j) / M), written through
// cos(a - b) = sin a sin b + cos a cos b as features of twice the head width:
//   phi(x_i) = [act(x_i) sin(w_i), act(x_i) cos(w_i)],  w_i = pi/2 (i + 1) / M   (x = q or k; [2p])
//   O_i = phi(q_i)^T (sum_j phi(k_j) v_j^T) / max(phi(q_i)^T sum_j phi(k_j), eps)
// M is the sequence length.  The reference uses the tensor's (padded) length; here M is each example's
// real length (1 + its last real position), so a padded batch re-weights an example as it would be
// alone (`padded_length=true` restores the reference).  Padded keys get phi = 0.  No 1/sqrt(p) scale
// (the reference has none).  A chain of ops: every tensor is O(n p).
#include <math.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

enum { ACT_RELU = 0, ACT_ELU1 };

static const lra_attn_option k_options[] = {
    {"act", LRA_OPT_ENUM, ACT_RELU, 0, 0, "relu|elu1",
     "feature activation (the reference's 'elu' branch, 1 + elu, is written as elu1)", 0},
    {"padded_length", LRA_OPT_BOOL, 0, 0, 1, NULL, "re-weight with the padded length n instead of each example's (reference)", 0},
    {"eps", LRA_OPT_FLOAT, 1e-6, 0.0, 1.0, NULL, "lower clamp of the normaliser (reference 1e-6)", 0},
};

typedef struct {
    int act, padded_length;
    float eps;
} cosformer_state;

static void *cosformer_create(const lra_attn_setup *setup, lra_params *params) {
    (void)params;
    cosformer_state *s = lra_xcalloc(1, sizeof *s);
    s->act = (int)lra_attn_value(setup->opts, "act");
    s->padded_length = lra_attn_value(setup->opts, "padded_length") != 0;
    s->eps = (float)lra_attn_value(setup->opts, "eps");
    return s;
}

static void cosformer_destroy(void *state) { free(state); }

static lra_tensor *activate(lra_ctx *ctx, lra_tensor *x, int act) {
    return act == ACT_RELU ? lra_op_relu(ctx, x) : lra_op_add_scalar(ctx, lra_op_elu(ctx, x, 1.0f), 1.0f);
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *cosformer_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                     lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    (void)params, (void)call;
    const cosformer_state *s = state;
    const int64_t B = q->shape[0], n = q->shape[2];
    // Re-weighting constants [B, 1, n, 1]: sin/cos of w_i for queries, times the mask for keys.
    lra_tensor *qs = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, n, 1));
    lra_tensor *qc = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, n, 1));
    lra_tensor *ks = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, n, 1));
    lra_tensor *kc = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, n, 1));
    const float *m = lra_f32(mask);
    for (int64_t b = 0; b < B; b++) {
        int64_t len = n;
        if (!s->padded_length) {
            len = 0;
            for (int64_t j = 0; j < n; j++)
                if (m[b * n + j] != 0.0f) len = j + 1;
            if (len == 0) len = n;
        }
        for (int64_t i = 0; i < n; i++) {
            // The reference's float32 index pi/2 * (i+1), divided by M, then sin/cos.
            const float w = (float)(M_PI / 2) * (float)(i + 1) / (float)len;
            const float sw = sinf(w), cw = cosf(w), keep = m[b * n + i] != 0.0f ? 1.0f : 0.0f;
            lra_f32(qs)[b * n + i] = sw;
            lra_f32(qc)[b * n + i] = cw;
            lra_f32(ks)[b * n + i] = sw * keep;
            lra_f32(kc)[b * n + i] = cw * keep;
        }
    }
    lra_tensor *qa = activate(ctx, q, s->act), *ka = activate(ctx, k, s->act);
    lra_tensor *qf = lra_op_concat(ctx, (lra_tensor *[]){lra_op_mul(ctx, qa, qs), lra_op_mul(ctx, qa, qc)}, 2, 3);
    lra_tensor *kf = lra_op_concat(ctx, (lra_tensor *[]){lra_op_mul(ctx, ka, ks), lra_op_mul(ctx, ka, kc)}, 2, 3);
    lra_tensor *kv = lra_op_matmul(ctx, kf, v, 1, 0);                     // [B, H, 2p, p]
    lra_tensor *ksum = lra_op_sum(ctx, kf, 2, 1);                         // [B, H, 1, 2p]
    lra_tensor *den = lra_op_matmul(ctx, qf, ksum, 0, 1);                 // [B, H, n, 1]
    den = lra_op_add_scalar(ctx, lra_op_relu(ctx, lra_op_add_scalar(ctx, den, -s->eps)), s->eps);  // max(den, eps)
    return lra_op_div(ctx, lra_op_matmul(ctx, qf, kv, 0, 0), den);
}

const lra_attn_kernel_def lra_attn_cosformer = {
    .name = "cosformer",
    .summary = "cosFormer: ReLU linear attention re-weighted by cos(pi/2 (i-j)/M); O(n p^2)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = cosformer_create,
    .forward = cosformer_forward,
    .destroy = cosformer_destroy,
    .conformance = {.grad_eps = 1e-3},  // a 1e-2 step crosses the ReLU kink of an input near 0
};
