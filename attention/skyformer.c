// `skyformer` (Skyformer, attention.md §2.12): Gaussian-kernel attention approximated by a Nystrom
// method on the stacked matrix X = [q~; k~] (2n x p), q~ = m c q, k~ = m c k, c = p^-1/4 (32^-1/4
// with `reference_scale`), v~ = m v.  Landmarks: d rows of X drawn every call (floor(u_t n_b), the
// second half offset by n so half come from keys), uniforms shared over examples and heads, keyed by
// (step, layer, LANDMARKS, tower).  kappa(x, y) = exp(x.y - |x|^2/2 - |y|^2/2);
// AS = kappa(X, X_S) (2n x d); C = AS[S] + 0.1 I; delta = rowsum(C)^-1/2; Z = NS(diag(delta) C diag(delta));
// O = Q̂ ((m * (K̂ diag(delta) Z diag(delta)))^T v~) with Q̂ = AS[:n], K̂ = AS[n:].  No softmax normalisation.
// Autograd through everything (landmark rows and the Newton iterations included); indices constant.
#include <math.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"nb_features", LRA_OPT_INT, 128, 2, 1 << 16, NULL, "landmarks d (Skyformer LRA config 128)"},
    {"pinv_iters", LRA_OPT_INT, 6, 0, 100, NULL, "Newton-Schulz iterations"},
    {"pinv_init", LRA_OPT_ENUM, 0, 0, 0, LRA_PINV_INIT_CHOICES, "scale of Z0: per matrix (default) or global (reference)"},
    {"reference_scale", LRA_OPT_BOOL, 0, 0, 1, NULL, "hard-coded 32^-1/4 instead of p^-1/4 (reference; same at p = 32)"},
};

typedef struct {
    int64_t d;
    int iters;
    lra_pinv_init init;
    int ref_scale;
} skyformer_state;

static void *skyformer_create(const lra_attn_setup *setup, lra_params *params) {
    skyformer_state *s = lra_xcalloc(1, sizeof *s);
    s->d = (int64_t)lra_attn_value(setup->opts, "nb_features");
    s->iters = (int)lra_attn_value(setup->opts, "pinv_iters");
    s->init = (lra_pinv_init)lra_attn_value(setup->opts, "pinv_init");
    s->ref_scale = lra_attn_value(setup->opts, "reference_scale") != 0;
    return s;
}

static void skyformer_destroy(void *state) { free(state); }

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *skyformer_forward(void *state, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                                     lra_tensor *mask, const lra_attn_call *call) {
    const skyformer_state *s = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], d = s->d;
    const float c = powf(s->ref_scale ? 32.0f : (float)p, -0.25f);
    lra_tensor *mrow = lra_attn_mask_rows(ctx, mask);
    lra_tensor *mc = lra_op_scale(ctx, mrow, c);
    lra_tensor *X = lra_op_concat(ctx, (lra_tensor *[]){lra_op_mul(ctx, q, mc), lra_op_mul(ctx, k, mc)}, 2, 2);
    lra_tensor *vt = lra_op_mul(ctx, v, mrow);
    // Landmark indices [B, H, d]: the same uniforms for every example (scaled by its n_b) and head.
    lra_tensor *mcont = lra_op_contiguous(ctx, mask);
    float *u = lra_arena_alloc(ctx->arena, (size_t)d * sizeof(float));
    lra_rng_fill_uniform(call->seed, lra_attn_stream(call, LRA_ATTN_RNG_LANDMARKS), 0, u, (size_t)d);
    lra_tensor *idx = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(B, H, d));
    int32_t *valid = lra_arena_alloc(ctx->arena, (size_t)n * sizeof(int32_t));
    for (int64_t b = 0; b < B; b++) {
        int64_t nb = lra_attn_valid_positions(lra_f32(mcont) + b * n, n, valid);
        if (nb == 0) {  // no real token: treat every position as real
            for (int64_t j = 0; j < n; j++) valid[j] = (int32_t)j;
            nb = n;
        }
        for (int64_t t = 0; t < d; t++) {
            int64_t pos = (int64_t)(u[t] * (float)nb);
            if (pos >= nb) pos = nb - 1;
            const int32_t row = valid[pos] + (t >= d / 2 ? (int32_t)n : 0);
            for (int64_t h = 0; h < H; h++) lra_i32(idx)[(b * H + h) * d + t] = row;
        }
    }
    lra_tensor *XS = lra_op_gather_rows(ctx, X, idx);                                  // [B, H, d, p]
    lra_tensor *sq = lra_op_scale(ctx, lra_op_sum(ctx, lra_op_mul(ctx, X, X), 3, 1), 0.5f);    // [B, H, 2n, 1]
    lra_tensor *sqS = lra_op_scale(ctx, lra_op_sum(ctx, lra_op_mul(ctx, XS, XS), 3, 0), 0.5f); // [B, H, d]
    sqS = lra_op_reshape(ctx, sqS, LRA_DIMS(B, H, 1, d));
    lra_tensor *AS = lra_op_exp(ctx, lra_op_sub(ctx, lra_op_sub(ctx, lra_op_matmul(ctx, X, XS, 0, 1), sq), sqS));
    lra_tensor *Qh = lra_op_slice(ctx, AS, 2, 0, n), *Kh = lra_op_slice(ctx, AS, 2, n, 2 * n);
    lra_tensor *C = lra_op_add(ctx, lra_op_gather_rows(ctx, AS, idx), lra_op_scale(ctx, lra_attn_eye(ctx, d), 0.1f));
    lra_tensor *delta = lra_op_rsqrt(ctx, lra_op_sum(ctx, C, 3, 1));                  // [B, H, d, 1]
    lra_tensor *deltaT = lra_op_reshape(ctx, delta, LRA_DIMS(B, H, 1, d));
    lra_tensor *Cn = lra_op_mul(ctx, lra_op_mul(ctx, C, delta), deltaT);
    lra_tensor *Z = lra_attn_newton_pinv(ctx, Cn, s->iters, s->init);
    lra_tensor *K2 = lra_op_mul(ctx, lra_op_matmul(ctx, lra_op_mul(ctx, Kh, deltaT), Z, 0, 0), deltaT);
    K2 = lra_op_mul(ctx, K2, mrow);
    return lra_op_matmul(ctx, Qh, lra_op_matmul(ctx, K2, vt, 1, 0), 0, 0);
}

const lra_attn_kernel_def lra_attn_skyformer = {
    .name = "skyformer",
    .summary = "Skyformer: Nystrom approximation of Gaussian-kernel attention on stacked [Q; K] landmarks",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = skyformer_create,
    .forward = skyformer_forward,
    .destroy = skyformer_destroy,
};
