// `fmmformer` (FMMformer, Nguyen et al. 2021; the authors' FMM attention in their fast-transformers fork,
// fast_transformers/attention/causal_fmm_attention.py, here in the non-causal form):
//   near field  N = softmax_band(Q K^T / sqrt(p)) V, keys with |i - j| < bandwidth (padded keys excluded);
//   far field   F_l = (Qn_l (Kn_l^T V)) / (Qn_l sum_j Kn_l,j + eps),  Qn_l = phi_l(Q) / rowsum(phi_l(Q)),
//               Kn_l = m * phi_l(K) / rowsum(phi_l(K)),  phi_1 = elu+1, phi_2 = elu(-x)+1, phi_3 = tanh+1;
//   O = W_1 * N + sum_l W_{l+1} * F_l  with learned blend weights W_* [H, p] (one per head and channel).
// Initial weights follow the reference: near 0, far 1/kernels (options near_init / far_init).
// The reference multiplies phi(K) by the key mask before the row normalisation (0/0 on padded keys);
// here the normalisation comes first.  No attention dropout.  A chain of ops (attention/band_window.h
// for the band): O(n (bandwidth + p) p) per (example, head).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "attention/band_window.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"bandwidth", LRA_OPT_INT, 10, 1, 65536, NULL, "near-field band: keys with |i-j| < bandwidth (reference default 10)",
     LRA_OPT_COUNT},
    {"kernels", LRA_OPT_INT, 1, 0, 3, NULL, "far-field feature maps, first k of elu+1, elu(-x)+1, tanh+1 (reference default 1)", 0},
    {"near", LRA_OPT_BOOL, 1, 0, 1, NULL, "include the near-field band (reference `sparse`)", 0},
    {"near_init", LRA_OPT_FLOAT, 0.0, -100, 100, NULL, "initial near-field blend weight (reference 0)", 0},
    {"far_init", LRA_OPT_FLOAT, -1.0, -100, 100, NULL, "initial far-field blend weights (-1 = 1/kernels, the reference)", 0},
    {"eps", LRA_OPT_FLOAT, 1e-6, 0.0, 1.0, NULL, "far-field normaliser stabiliser (reference 1e-6)", 0},
};

typedef struct {
    int64_t bandwidth;
    int kernels, near;
    float near_init, far_init, eps;
    int w_index[4];  // blend weights in the store: near, far 1..kernels (-1 when absent)
} fmm_state;

static void *fmm_create(const lra_attn_setup *setup, lra_params *params) {
    fmm_state *s = lra_xcalloc(1, sizeof *s);
    s->bandwidth = (int64_t)lra_attn_value(setup->opts, "bandwidth");
    s->kernels = (int)lra_attn_value(setup->opts, "kernels");
    s->near = lra_attn_value(setup->opts, "near") != 0;
    s->near_init = (float)lra_attn_value(setup->opts, "near_init");
    const double fi = lra_attn_value(setup->opts, "far_init");
    s->far_init = fi < 0 ? (s->kernels ? 1.0f / (float)s->kernels : 0.0f) : (float)fi;
    s->eps = (float)lra_attn_value(setup->opts, "eps");
    char name[LRA_PARAM_NAME_MAX];
    for (int l = 0; l < 4; l++) {
        s->w_index[l] = -1;
        if (l == 0 ? !s->near : l > s->kernels) continue;
        snprintf(name, sizeof name, "%sW%d", setup->prefix, l + 1);  // reference names W1 (near), W2..W4
        s->w_index[l] = lra_params_add(params, name, LRA_DIMS(setup->n_heads, setup->head_dim), LRA_INIT_ZEROS, 0.0f);
    }
    return s;
}

static void fmm_init(void *state, lra_params *params, uint64_t seed) {
    const fmm_state *s = state;
    for (int l = 0; l < 4; l++) {
        if (s->w_index[l] < 0) continue;
        lra_tensor *w = lra_params_tensor(params, s->w_index[l]);
        for (int64_t e = 0; e < lra_tensor_numel(w); e++) lra_f32(w)[e] = l == 0 ? s->near_init : s->far_init;
    }
}

static void fmm_destroy(void *state) { free(state); }

static lra_tensor *feature(lra_ctx *ctx, lra_tensor *x, int l) {
    switch (l) {
    case 1: return lra_op_add_scalar(ctx, lra_op_elu(ctx, x, 1.0f), 1.0f);
    case 2: return lra_op_add_scalar(ctx, lra_op_elu(ctx, lra_op_scale(ctx, x, -1.0f), 1.0f), 1.0f);
    default: return lra_op_add_scalar(ctx, lra_op_tanh(ctx, x), 1.0f);
    }
}

static lra_tensor *weight(lra_ctx *ctx, lra_params *params, int index, int64_t H, int64_t p) {
    return lra_op_reshape(ctx, lra_params_tensor(params, index), LRA_DIMS(1, H, 1, p));
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *fmm_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                               lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const fmm_state *s = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    lra_tensor *out = NULL;
    if (s->near) {
        const int64_t reach = s->bandwidth - 1 < n ? s->bandwidth - 1 : n;  // |i - j| <= reach
        const int64_t w = reach > 8 ? reach : 8;
        lra_tensor *qw = lra_bw_queries(ctx, lra_op_scale(ctx, q, 1.0f / sqrtf((float)p)), w);
        lra_tensor *sc = lra_op_matmul(ctx, qw, lra_bw_keys(ctx, k, w), 0, 1);  // [BH, nc, w, 3w]
        lra_tensor *P = lra_op_softmax(ctx, sc, lra_bw_mask(ctx, mask, H, w, -reach, reach, 0.0f, -INFINITY));
        lra_tensor *nf = lra_bw_merge(ctx, lra_op_matmul(ctx, P, lra_bw_keys(ctx, v, w), 0, 0), B, H, n);
        out = lra_op_mul(ctx, weight(ctx, params, s->w_index[0], H, p), nf);
    }
    lra_tensor *m = lra_attn_mask_rows(ctx, mask);  // [B, 1, n, 1]
    for (int l = 1; l <= s->kernels; l++) {
        lra_tensor *fq = feature(ctx, q, l), *fk = feature(ctx, k, l);
        lra_tensor *qn = lra_op_div(ctx, fq, lra_op_sum(ctx, fq, 3, 1));
        lra_tensor *kn = lra_op_mul(ctx, lra_op_div(ctx, fk, lra_op_sum(ctx, fk, 3, 1)), m);
        lra_tensor *kv = lra_op_matmul(ctx, kn, v, 1, 0);                                   // [B, H, p, p]
        lra_tensor *z = lra_op_matmul(ctx, qn, lra_op_sum(ctx, kn, 2, 1), 0, 1);            // [B, H, n, 1]
        lra_tensor *ff = lra_op_div(ctx, lra_op_matmul(ctx, qn, kv, 0, 0), lra_op_add_scalar(ctx, z, s->eps));
        ff = lra_op_mul(ctx, weight(ctx, params, s->w_index[l], H, p), ff);
        out = out ? lra_op_add(ctx, out, ff) : ff;
    }
    return out ? out : lra_op_full(ctx, q->shape, 4, 0.0f);
}

const lra_attn_kernel_def lra_attn_fmmformer = {
    .name = "fmmformer",
    .summary = "FMMformer: banded softmax near field + rank-one linear-attention far fields, learned blend",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = fmm_create,
    .init_params = fmm_init,
    .forward = fmm_forward,
    .destroy = fmm_destroy,
    .conformance = {.small_opts = "bandwidth=3,near_init=0.5", .exact_opts = "bandwidth=N,kernels=0,near_init=1"},
};
