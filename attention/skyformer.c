// `skyformer` (Skyformer, attention.md §2.12): Gaussian-kernel attention approximated by a Nystrom
// method on the stacked matrix X = [q~; k~] (2n x p), q~ = m c q, k~ = m c k, c = p^-1/4 (32^-1/4
// with `reference_scale`), v~ = m v.  Landmarks: d rows of X drawn every call (floor(u_t n_b), the
// second half offset by n so half come from keys), uniforms shared over examples and heads, keyed by
// (step, layer, LANDMARKS, tower).  kappa(x, y) = exp(x.y - |x|^2/2 - |y|^2/2);
// AS = kappa(X, X_S) (2n x d); C = AS[S] + 0.1 I; delta = rowsum(C)^-1/2; Z = NS(diag(delta) C diag(delta));
// O = Q̂ ((m * (K̂ diag(delta) Z diag(delta)))^T v~) with Q̂ = AS[:n], K̂ = AS[n:].  No softmax normalisation.
// Autograd through everything (landmark rows and the Newton iterations included); indices constant.
// The kernel matrix is one composite node; the rest are ops on d x d / d x p matrices plus two n x d products.
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/fastmath.h"
#include "core/gemm.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"nb_features", LRA_OPT_INT, 128, 2, 1 << 16, NULL, "landmarks d (Skyformer LRA config 128)", LRA_OPT_COUNT},
    {"pinv_iters", LRA_OPT_INT, 6, 0, 100, NULL, "Newton-Schulz iterations", 0},
    {"pinv_init", LRA_OPT_ENUM, 0, 0, 0, LRA_PINV_INIT_CHOICES, "scale of Z0: per matrix (default) or global (reference)", 0},
    {"reference_scale", LRA_OPT_BOOL, 0, 0, 1, NULL, "hard-coded 32^-1/4 instead of p^-1/4 (reference; same at p = 32)", 0},
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

// ------------------------------------------------------------------ Gaussian kernel, one composite node
// out[b,h,i,j] = exp(x_i.y_j - |x_i|^2/2 - |y_j|^2/2); backward with L = dOut * out:
// dx_i = sum_j L_ij y_j - (sum_j L_ij) x_i, dy_j = sum_i L_ij x_i - (sum_i L_ij) y_j.
static void gauss_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0], *y = node->in[1];
    const int64_t B = x->shape[0], H = x->shape[1], N = x->shape[2], p = x->shape[3], d = y->shape[2];
    float *dx = x->requires_grad ? lra_grad(ctx, x) : NULL, *dy = y->requires_grad ? lra_grad(ctx, y) : NULL;
    const float *g = node->out->grad, *o = lra_f32(node->out);
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)((N * d + N + d + 15) / 16 * 16);
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * per * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *L = scratch + (size_t)omp_get_thread_num() * per, *rs = L + N * d, *cs = rs + N;
        const float *xb = lra_f32(x) + bh * N * p, *yb = lra_f32(y) + bh * d * p;
        for (int64_t j = 0; j < d; j++) cs[j] = 0.0f;
        for (int64_t i = 0; i < N; i++) {
            double r = 0.0;
            for (int64_t j = 0; j < d; j++) {
                const float l = g[(bh * N + i) * d + j] * o[(bh * N + i) * d + j];
                L[i * d + j] = l;
                r += l;
                cs[j] += l;
            }
            rs[i] = (float)r;
        }
        if (dx) {
            float *dxb = dx + bh * N * p;
            lra_gemm(false, false, (int)N, (int)p, (int)d, 1.0f, L, (int)d, yb, (int)p,
                        1.0f, dxb, (int)p);
            for (int64_t i = 0; i < N; i++)
                for (int64_t c = 0; c < p; c++) dxb[i * p + c] -= rs[i] * xb[i * p + c];
        }
        if (dy) {
            float *dyb = dy + bh * d * p;
            lra_gemm(true, false, (int)d, (int)p, (int)N, 1.0f, L, (int)d, xb, (int)p,
                        1.0f, dyb, (int)p);
            for (int64_t j = 0; j < d; j++)
                for (int64_t c = 0; c < p; c++) dyb[j * p + c] -= cs[j] * yb[j * p + c];
        }
    }
}

// x: [B, H, N, p], y: [B, H, d, p] (contiguous) -> [B, H, N, d]
static lra_tensor *gauss_kernel(lra_ctx *ctx, lra_tensor *x, lra_tensor *y) {
    x = lra_op_contiguous(ctx, x);
    y = lra_op_contiguous(ctx, y);
    const int64_t B = x->shape[0], H = x->shape[1], N = x->shape[2], p = x->shape[3], d = y->shape[2];
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, N, d));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const float *xb = lra_f32(x) + bh * N * p, *yb = lra_f32(y) + bh * d * p;
        float *ob = lra_f32(out) + bh * N * d;
        lra_gemm(false, true, (int)N, (int)d, (int)p, 1.0f, xb, (int)p, yb, (int)p, 0.0f,
                    ob, (int)d);
        float ysq[d];
        for (int64_t j = 0; j < d; j++) {
            double s = 0.0;
            for (int64_t c = 0; c < p; c++) s += (double)yb[j * p + c] * yb[j * p + c];
            ysq[j] = (float)(0.5 * s);
        }
        for (int64_t i = 0; i < N; i++) {
            double s = 0.0;
            for (int64_t c = 0; c < p; c++) s += (double)xb[i * p + c] * xb[i * p + c];
            const float xsq = (float)(0.5 * s);
            for (int64_t j = 0; j < d; j++) ob[i * d + j] = lra_expf(ob[i * d + j] - xsq - ysq[j]);
        }
    }
    lra_tape_record(ctx, "attention.skyformer.kernel", gauss_backward, out, 2, (lra_tensor *[]){x, y});
    return out;
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *skyformer_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                     lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const skyformer_state *s = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], d = s->d;
    const float c = powf(s->ref_scale ? 32.0f : (float)p, -0.25f);
    lra_tensor *mrow = lra_attn_mask_rows(ctx, mask);
    lra_tensor *mc = lra_op_scale(ctx, mrow, c);
    lra_tensor *X = lra_op_concat(ctx, (lra_tensor *[]){lra_op_mul(ctx, q, mc), lra_op_mul(ctx, k, mc)}, 2, 2);
    lra_tensor *vt = lra_op_mul(ctx, v, mrow);
    // Landmark indices [B, H, d]: the same uniforms for every example (scaled by its n_b) and head.
    float *u = lra_arena_alloc(ctx->arena, (size_t)d * sizeof(float));
    const lra_key key = lra_attn_draw_key(call, LRA_KEY_SKYFORMER_LANDMARKS, 0, 0);
    lra_rng_fill_uniform(key.seed, key.stream, 0, u, (size_t)d);
    lra_tensor *idx = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(B, H, d));
    int32_t *valid = lra_arena_alloc(ctx->arena, (size_t)n * sizeof(int32_t));
    for (int64_t b = 0; b < B; b++) {
        int64_t nb = lra_attn_valid_positions(lra_f32(mask) + b * n, n, valid);
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
    lra_tensor *AS = gauss_kernel(ctx, X, XS);                                         // [B, H, 2n, d]
    lra_tensor *Qh = lra_op_slice(ctx, AS, 2, 0, n), *Kh = lra_op_slice(ctx, AS, 2, n, 2 * n);
    lra_tensor *C = lra_op_add(ctx, lra_op_gather_rows(ctx, AS, idx), lra_op_scale(ctx, lra_attn_eye(ctx, d), 0.1f));
    lra_tensor *delta = lra_op_rsqrt(ctx, lra_op_sum(ctx, C, 3, 1));                  // [B, H, d, 1]
    lra_tensor *deltaT = lra_op_reshape(ctx, delta, LRA_DIMS(B, H, 1, d));
    lra_tensor *Cn = lra_op_mul(ctx, lra_op_mul(ctx, C, delta), deltaT);
    lra_tensor *Z = lra_attn_newton_pinv(ctx, Cn, s->iters, s->init);
    // (m * (K̂ diag(delta) Z diag(delta)))^T v~ = (diag(delta) Z diag(delta))^T (K̂^T v~) since v~ is masked:
    // only d x d and d x p products besides the two n x d ones.
    lra_tensor *Zs = lra_op_mul(ctx, lra_op_mul(ctx, Z, delta), deltaT);
    lra_tensor *KV = lra_op_matmul(ctx, Zs, lra_op_matmul(ctx, Kh, vt, 1, 0), 1, 0);  // [B, H, d, p]
    return lra_op_matmul(ctx, Qh, KV, 0, 0);
}

const lra_attn_kernel_def lra_attn_skyformer = {
    .name = "skyformer",
    .summary = "Skyformer: Nystrom approximation of Gaussian-kernel attention on stacked [Q; K] landmarks",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = skyformer_create,
    .forward = skyformer_forward,
    .destroy = skyformer_destroy,
    .conformance = {.small_opts = "nb_features=8", .grad_atol = 3e-3, .grad_rtol = 3e-2},
};
