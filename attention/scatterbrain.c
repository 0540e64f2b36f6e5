// `scatterbrain` (Scatterbrain, Chen et al. 2021; github:HazyResearch/scatterbrain
// src/models/attention/sblocal_attention.py SBLocalAttention with feature_maps_sb.py SBPerformerFeatures):
// sparse (local window) plus low-rank (Performer) attention without double counting.
//   phi: cosh Performer features of the softmax kernel exp(q.k / sqrt(p)): W [m/2, p] orthogonal Gaussian
//        rows (fixed buffer drawn at init), x' = [W x, -W x] p^-1/4, stabilised in the log domain:
//        phi(q) = e^{lq} (exp(q' - max_r q') + eps/sqrt(m)), lq = max_r q' - |q|^2/(2 sqrt p) - log(m)/2,
//        phi(k) = e^{lk} (exp(k' - |k|^2/(2 sqrt p) - log(m)/2 - lk) + eps/sqrt(m)), lk = max over the slice;
//   window: key j of query i when j - i in [-c/2, c - c/2 - 1] (c = local_context) and j is a real token;
//   A_ij = exp(q_i.k_j / sqrt p) in the window, phi(q_i).phi(k_j) outside, O = rownorm(A) V, computed as
//   O_i = [sum_win (exp(s_ij) - phi_i.phi_j) v_j + phi_i (sum_j phi_j v_j^T)] / Z_i with
//   Z_i = sum_win exp(s_ij) + max(phi_i . sum_j phi_j - sum_win phi_i.phi_j, 1e-24 e^{lq+lk})
// (the low-rank estimate is subtracted on the window, so nothing is counted twice).  Padded keys get
// phi = 0 and leave the window; the key stabiliser lk is taken over real keys (the reference includes
// padded keys: `pad_keys_in_stabiliser`, which lets padding move the eps term).  No attention dropout.
// A chain of ops (attention/band_window.h for the window): O(n (c + m) p) per (example, head).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "attention/band_window.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"nb_features", LRA_OPT_INT, 32, 2, 1 << 16, NULL, "random features m, even (cosh pairs; reference LRA configs 32)",
     LRA_OPT_COUNT},
    {"local_context", LRA_OPT_INT, 64, 1, 1 << 20, NULL, "local window width c (reference LRA configs 64)", 0},
    {"softmax_eps", LRA_OPT_FLOAT, 1e-4, 0.0, 1.0, NULL, "feature stabiliser eps (reference LRA configs 1e-4)", 0},
    {"pad_keys_in_stabiliser", LRA_OPT_BOOL, 0, 0, 1, NULL, "key stabiliser over padded keys too (reference)", 0},
};

typedef struct {
    int64_t m, context;
    float eps;
    int pad_stab, index, layer;
} sb_state;

static lra_status sb_validate(const lra_attn_setup *setup) {
    const int64_t m = (int64_t)lra_attn_value(setup->opts, "nb_features");
    if (m % 2) return lra_error(LRA_ERR_CONFIG, "scatterbrain: nb_features must be even (cosh feature pairs), got %lld", (long long)m);
    return LRA_OK;
}

static void *sb_create(const lra_attn_setup *setup, lra_params *params) {
    sb_state *s = lra_xcalloc(1, sizeof *s);
    s->m = (int64_t)lra_attn_value(setup->opts, "nb_features");
    s->context = (int64_t)lra_attn_value(setup->opts, "local_context");
    s->eps = (float)lra_attn_value(setup->opts, "softmax_eps");
    s->pad_stab = lra_attn_value(setup->opts, "pad_keys_in_stabiliser") != 0;
    s->layer = setup->layer;
    char name[LRA_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%sprojection_matrix", setup->prefix);
    s->index = lra_params_add(params, name, LRA_DIMS(s->m / 2, setup->head_dim), LRA_INIT_ZEROS, 0.0f);
    lra_params_set_trainable(params, s->index, 0);
    return s;
}

static void sb_destroy(void *state) { free(state); }

// Orthogonal Gaussian rows (the reference's gaussian_orthogonal_random_matrix; attn_util.h),
// drawn from (seed, layer) only.
static void sb_init(void *state, lra_params *params, uint64_t seed) {
    const sb_state *s = state;
    lra_tensor *Wt = lra_params_tensor(params, s->index);
    const int64_t rows = Wt->shape[0], p = Wt->shape[1];
    lra_rng r = lra_key_rng(
        lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_SCATTERBRAIN_FEATURES, .seed = seed, .layer = s->layer}));
    lra_attn_orthogonal_features(&r, lra_f32(Wt), rows, p);
}

// [x W^T, -x W^T] of x scaled by s: [B, H, n, p] -> [B, H, n, m]
static lra_tensor *cosh_proj(lra_ctx *ctx, lra_tensor *x, lra_tensor *W, float s) {
    lra_tensor *d = lra_op_matmul(ctx, lra_op_scale(ctx, x, s), W, 0, 1);
    return lra_op_concat(ctx, (lra_tensor *[]){d, lra_op_scale(ctx, d, -1.0f)}, 2, 3);
}

// The row stabiliser c_i = max(max over the window of s_ij, log of the low-rank remainder): a constant.
// qk: [BH, nc, w, 3w] (masked to -inf), lr: [B, H, n, 1] -> [B, H, n, 1]
static lra_tensor *row_stabiliser(lra_ctx *ctx, const lra_tensor *qk, const lra_tensor *lr) {
    const int64_t B = lr->shape[0], H = lr->shape[1], n = lr->shape[2];
    const int64_t nc = qk->shape[1], w = qk->shape[2], kw = qk->shape[3];
    lra_tensor *c = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, n, 1));
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t i = 0; i < n; i++) {
            const float *row = lra_f32(qk) + ((bh * nc + i / w) * w + i % w) * kw;
            float mx = lra_f32(lr)[bh * n + i];
            for (int64_t t = 0; t < kw; t++) mx = row[t] > mx ? row[t] : mx;
            lra_f32(c)[bh * n + i] = mx;
        }
    return c;
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *sb_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                              lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const sb_state *st = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], m = st->m;
    const float temp = 1.0f / sqrtf((float)p), dn = sqrtf(temp), lm = 0.5f * logf((float)m);
    const float feps = st->eps / sqrtf((float)m);
    lra_tensor *W = lra_params_tensor(params, st->index);
    lra_tensor *mrows = lra_attn_mask_rows(ctx, mask);                                   // [B, 1, n, 1]
    lra_tensor *madd = lra_op_reshape(ctx, lra_attn_mask_add(ctx, mask), LRA_DIMS(B, 1, n, 1));
    // Performer features with their log scales.
    lra_tensor *qd = cosh_proj(ctx, q, W, dn), *kd = cosh_proj(ctx, k, W, dn);            // [B, H, n, m]
    lra_tensor *qdiag = lra_op_scale(ctx, lra_op_sum(ctx, lra_op_mul(ctx, q, q), 3, 1), 0.5f * temp);
    lra_tensor *kdiag = lra_op_scale(ctx, lra_op_sum(ctx, lra_op_mul(ctx, k, k), 3, 1), 0.5f * temp);
    lra_tensor *qmax = lra_op_max(ctx, qd, 3, 1);                                         // [B, H, n, 1]
    lra_tensor *qls = lra_op_add_scalar(ctx, lra_op_sub(ctx, qmax, qdiag), -lm);
    lra_tensor *qp = lra_op_add_scalar(ctx, lra_op_exp(ctx, lra_op_sub(ctx, qd, qmax)), feps);
    lra_tensor *kdm = lra_op_add_scalar(ctx, lra_op_sub(ctx, kd, kdiag), -lm);
    lra_tensor *kdm_real = lra_op_add(ctx, kdm, madd);  // padded keys at -inf
    lra_tensor *kls = lra_op_max(ctx, lra_op_reshape(ctx, st->pad_stab ? kdm : kdm_real, LRA_DIMS(B, H, n * m)), 2, 1);
    kls = lra_op_reshape(ctx, kls, LRA_DIMS(B, H, 1, 1));
    lra_tensor *kp = lra_op_mul(ctx, lra_op_add_scalar(ctx, lra_op_exp(ctx, lra_op_sub(ctx, kdm_real, kls)), feps), mrows);
    lra_tensor *pls = lra_op_add(ctx, qls, kls);                                          // [B, H, n, 1]
    // Low rank over all keys.
    lra_tensor *qk1 = lra_op_matmul(ctx, qp, lra_op_sum(ctx, kp, 2, 1), 0, 1);             // [B, H, n, 1]
    lra_tensor *qkv = lra_op_matmul(ctx, qp, lra_op_matmul(ctx, kp, v, 1, 0), 0, 0);       // [B, H, n, p]
    // Window: exact scores and the low-rank estimate on the same support.
    const int64_t lo = -(st->context / 2), hi = st->context - st->context / 2 - 1;
    int64_t w = -lo > hi ? -lo : hi;
    w = w < 1 ? 1 : w > n ? n : w;
    lra_tensor *QK = lra_op_matmul(ctx, lra_bw_queries(ctx, lra_op_scale(ctx, q, temp), w), lra_bw_keys(ctx, k, w), 0, 1);
    QK = lra_op_add(ctx, QK, lra_bw_mask(ctx, mask, H, w, lo, hi, 0.0f, -INFINITY));    // [BH, nc, w, 3w]
    lra_tensor *D = lra_op_matmul(ctx, lra_bw_queries(ctx, qp, w), lra_bw_keys(ctx, kp, w), 0, 1);
    D = lra_op_mul(ctx, D, lra_bw_mask(ctx, mask, H, w, lo, hi, 1.0f, 0.0f));
    lra_tensor *sumD = lra_bw_merge(ctx, lra_op_sum(ctx, D, 3, 1), B, H, n);               // [B, H, n, 1]
    lra_tensor *R = lra_op_sub(ctx, qk1, sumD);
    R = lra_op_add_scalar(ctx, lra_op_relu(ctx, lra_op_add_scalar(ctx, R, -1e-24f)), 1e-24f);  // clamp_min 1e-24
    lra_tensor *lrlog = lra_op_add(ctx, lra_op_log(ctx, R), pls);
    lra_tensor *c = row_stabiliser(ctx, QK, lrlog);
    lra_tensor *E = lra_op_exp(ctx, lra_op_sub(ctx, QK, lra_bw_queries(ctx, c, w)));
    lra_tensor *Z = lra_op_add(ctx, lra_bw_merge(ctx, lra_op_sum(ctx, E, 3, 1), B, H, n),
                               lra_op_exp(ctx, lra_op_sub(ctx, lrlog, c)));              // Z e^{c} = normaliser
    lra_tensor *invZ = lra_op_pow(ctx, Z, -1.0f);
    lra_tensor *ps = lra_op_mul(ctx, lra_op_exp(ctx, lra_op_sub(ctx, pls, c)), invZ);      // e^{lq+lk} / normaliser
    // Window rows beyond n are padded with invZ = ps = 0, so nothing there divides by zero.
    lra_tensor *A = lra_op_sub(ctx, lra_op_mul(ctx, E, lra_bw_queries(ctx, invZ, w)),
                               lra_op_mul(ctx, D, lra_bw_queries(ctx, ps, w)));
    lra_tensor *local = lra_bw_merge(ctx, lra_op_matmul(ctx, A, lra_bw_keys(ctx, v, w), 0, 0), B, H, n);
    return lra_op_add(ctx, local, lra_op_mul(ctx, qkv, ps));
}

const lra_attn_kernel_def lra_attn_scatterbrain = {
    .name = "scatterbrain",
    .summary = "Scatterbrain: local-window softmax + Performer low rank, the estimate removed on the window",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = sb_validate,
    .create = sb_create,
    .init_params = sb_init,
    .forward = sb_forward,
    .destroy = sb_destroy,
    .conformance = {.small_opts = "nb_features=16,local_context=6", .exact_opts = "local_context=64",
                    .approx_lo = 4, .approx_hi = 256},
};
