// `nystrom` (Nystromformer, attention.md §2.7): q~ = m rho q, k~ = m rho k; landmarks = segment means of
// q~ and k~ (l segments of n/l rows, padded rows count as zeros); F = softmax(q~ K̄^T) [n, l],
// A = softmax(Q̄ K̄^T) [l, l], B = softmax(Q̄ k~^T, padded keys excluded) [l, n];
// O = (F NS(A)) (B V), NS = 6 Newton-Schulz iterations of the pseudo-inverse.  With l = n it is the
// exact masked softmax.  Optional depthwise convolution of m*V along the sequence (conv_kernel > 0; one
// kernel per head, init U(-1/sqrt(k), 1/sqrt(k))) added to O.  Everything is differentiable.  l < n runs
// as one composite node with a hand-written backward (below); l >= n and the convolution are small ops.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/fastmath.h"
#include "core/gemm.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"num_landmarks", LRA_OPT_INT, 128, 1, 1 << 20, NULL, "landmarks l (Skeinformer code 128; paper 256); n % l == 0",
     LRA_OPT_COUNT},
    {"pinv_iters", LRA_OPT_INT, 6, 0, 100, NULL, "Newton-Schulz iterations of the pseudo-inverse", 0},
    {"pinv_init", LRA_OPT_ENUM, 0, 0, 0, LRA_PINV_INIT_CHOICES,
     "scale of Z0 = A^T / c0: per matrix (default) or over the batch (global = reference)", 0},
    {"conv_kernel", LRA_OPT_INT, 0, 0, 1025, NULL, "depthwise conv of m*V along the sequence (0 = off; 35 in Nystromformer LRA)", 0},
};

typedef struct {
    int64_t landmarks;
    int iters;
    lra_pinv_init init;
    int conv;
    int conv_index;
} nystrom_state;

static lra_status nystrom_validate(const lra_attn_setup *setup) {
    const int64_t l = (int64_t)lra_attn_value(setup->opts, "num_landmarks");
    if (setup->seq_len % l)
        return lra_error(LRA_ERR_CONFIG,
                         "attention 'nystrom' option 'num_landmarks': expected a divisor of the sequence length %lld "
                         "(segment-mean landmarks), got %lld",
                         (long long)setup->seq_len, (long long)l);
    return LRA_OK;
}

static void *nystrom_create(const lra_attn_setup *setup, lra_params *params) {
    nystrom_state *s = lra_xcalloc(1, sizeof *s);
    s->landmarks = (int64_t)lra_attn_value(setup->opts, "num_landmarks");
    s->iters = (int)lra_attn_value(setup->opts, "pinv_iters");
    s->init = (lra_pinv_init)lra_attn_value(setup->opts, "pinv_init");
    s->conv = (int)lra_attn_value(setup->opts, "conv_kernel");
    s->conv_index = -1;
    if (s->conv > 0) {
        char name[LRA_PARAM_NAME_MAX];
        snprintf(name, sizeof name, "%sconv.weight", setup->prefix);
        s->conv_index = lra_params_add(params, name, LRA_DIMS(setup->n_heads, s->conv), LRA_INIT_UNIFORM,
                                       1.0f / sqrtf((float)s->conv));
    }
    return s;
}

static void nystrom_destroy(void *state) { free(state); }

// ------------------------------------------------------------------ depthwise convolution along n
// out[b,h,i,:] = sum_t w[h,t] x[b,h,i+t-k/2,:] (zero padding).
static void dwconv_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0], *w = node->in[1];
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], kc = w->shape[1];
    const float *g = node->out->grad, *xd = lra_f32(x), *wd = lra_f32(w);
    float *dx = x->requires_grad ? lra_grad(ctx, x) : NULL;
    if (dx) {
#pragma omp parallel for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t h = bh % H;
            for (int64_t j = 0; j < n; j++)
                for (int64_t t = 0; t < kc; t++) {
                    const int64_t i = j - (t - kc / 2);
                    if (i < 0 || i >= n) continue;
                    for (int64_t c = 0; c < p; c++) dx[(bh * n + j) * p + c] += wd[h * kc + t] * g[(bh * n + i) * p + c];
                }
        }
    }
    if (w->requires_grad) {
        float *dw = lra_grad(ctx, w);
        for (int64_t h = 0; h < H; h++)  // fixed order over (b, i): deterministic
            for (int64_t t = 0; t < kc; t++) {
                double acc = 0.0;
                for (int64_t b = 0; b < B; b++)
                    for (int64_t i = 0; i < n; i++) {
                        const int64_t j = i + t - kc / 2;
                        if (j < 0 || j >= n) continue;
                        for (int64_t c = 0; c < p; c++)
                            acc += (double)g[((b * H + h) * n + i) * p + c] * xd[((b * H + h) * n + j) * p + c];
                    }
                dw[h * kc + t] += (float)acc;
            }
    }
}

// x: [B, H, n, p] contiguous, w: [H, k] -> [B, H, n, p]
static lra_tensor *dwconv(lra_ctx *ctx, lra_tensor *x, lra_tensor *w) {
    x = lra_op_contiguous(ctx, x);
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], kc = w->shape[1];
    lra_tensor *out = lra_tensor_zeros(ctx->arena, LRA_F32, x->shape, 4);
    const float *xd = lra_f32(x), *wd = lra_f32(w);
    float *o = lra_f32(out);
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t h = bh % H;
        for (int64_t i = 0; i < n; i++)
            for (int64_t t = 0; t < kc; t++) {
                const int64_t j = i + t - kc / 2;
                if (j < 0 || j >= n) continue;
                for (int64_t c = 0; c < p; c++) o[(bh * n + i) * p + c] += wd[h * kc + t] * xd[(bh * n + j) * p + c];
            }
    }
    lra_tape_record(ctx, "attention.nystrom.conv", dwconv_backward, out, 2, (lra_tensor *[]){x, w});
    return out;
}

// ------------------------------------------------------------------ fused landmark path (l < n)
// One tape node per call.  Per (example, head) forward keeps the log-sum-exp of the rows of Bm [l]
// (backward recomputes Bm [l, n] from Ql and k, and F [n, l] exactly as forward did from q and Kl, which
// costs little next to the iterations and spares the largest saved block, n l per head), A [l, l], the
// Newton-Schulz iterates Z_0..Z_T and the terms t2, t3 below [l, l] (O(T l^2); keeping them spares
// backward two l^3 products per iteration, while A Z_t, one product, is recomputed), the landmarks
// Ql, Kl [l, p], W = Bm V and U = Z_T W [l, p]; O = F U.  Backward first runs through O = F U and the iterations down
// to dA (per matrix), then adds the gradient of the init scale c0 (which may couple the batch), then
// goes through the three softmaxes and the landmark means.
typedef struct {
    int64_t B, H, n, p, l;
    int iters;
    lra_pinv_init init;
    float scale;           // p^-1/4
    const float *mask;     // [B, n]
    float *Blse, *A, *Zs, *T2s, *T3s, *Ql, *Kl, *W, *U;  // per bh blocks (sizes above)
    float *c0;             // [B*H] (the same value everywhere for the global inits)
    float *cm, *rm;        // global_abs_prod: the two maxima
    int64_t *col_arg;      // per_matrix: [B*H] argmax column; global: [0] = flat index bh*l + j
    int64_t row_arg;       // global_abs_prod: flat index bh*l + i of the max row sum
} nys_saved;

// Scaled, masked rows of one example-head: xt[i] = x[i] * (m_i * scale).  x, xt: [n, p]
static void nys_scaled_rows(const float *x, const float *mrow, float scale, int64_t n, int64_t p, float *xt) {
    for (int64_t i = 0; i < n; i++) {
        const float ms = mrow[i] * scale;
        for (int64_t c = 0; c < p; c++) xt[i * p + c] = x[i * p + c] * ms;
    }
}

// Segment means: xl[a] = mean of rows [a*seg, (a+1)*seg) of xt.  xt: [n, p] -> xl: [l, p]
static void nys_landmarks(const float *xt, int64_t l, int64_t seg, int64_t p, float *xl) {
    for (int64_t a = 0; a < l; a++)
        for (int64_t c = 0; c < p; c++) {
            double acc = 0.0;
            for (int64_t r = 0; r < seg; r++) acc += (double)xt[(a * seg + r) * p + c];
            xl[a * p + c] = (float)(acc / (double)seg);
        }
}

// Row softmax in place of S [rows, cols]; keys with kmask 0 excluded when kmask is given.  With lse_in
// the rows are normalised by it (recomputation); else lse_out (may be NULL) receives each row's log-sum-exp.
static void nys_softmax_rows(float *S, int64_t rows, int64_t cols, const float *kmask, const float *lse_in,
                             float *lse_out) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = S + r * cols;
        if (kmask)
            for (int64_t j = 0; j < cols; j++) row[j] = kmask[j] != 0.0f ? row[j] : -INFINITY;
        if (lse_in) {
            lra_exp_shift(row, cols, lse_in[r]);
            continue;
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
        const double sum = lra_exp_shift_sum(row, cols, mx);
        if (lse_out) lse_out[r] = mx + (float)log(sum);
        const float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < cols; j++) row[j] *= inv;
    }
}

// dP <- P * (dP - rowsum(dP * P)), in place.  P, dP: [rows, cols]
static void nys_softmax_back(const float *P, float *dP, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *pr = P + r * cols;
        float *gr = dP + r * cols;
        double s = 0.0;
        for (int64_t j = 0; j < cols; j++) s += (double)gr[j] * (double)pr[j];
        const float sf = (float)s;
        for (int64_t j = 0; j < cols; j++) gr[j] = pr[j] * (gr[j] - sf);
    }
}

static void nys_gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    lra_gemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// x <- d I - x for an [m, m] matrix computed as -x (already negated by the product) plus d on the diagonal.
static void nys_add_diag(float *x, int64_t m, float d) {
    for (int64_t i = 0; i < m; i++) x[i * m + i] += d;
}

// t1 = 7I - AZ, t2 = 15I - AZ t1, t3 = 13I - AZ t2  (all [l, l])
static void nys_ns_terms(const float *AZ, int64_t l, float *t1, float *t2, float *t3) {
    for (int64_t e = 0; e < l * l; e++) t1[e] = -AZ[e];
    nys_add_diag(t1, l, 7.0f);
    nys_gemm(0, 0, l, l, l, -1.0f, AZ, l, t1, l, 0.0f, t2, l);
    nys_add_diag(t2, l, 15.0f);
    nys_gemm(0, 0, l, l, l, -1.0f, AZ, l, t2, l, 0.0f, t3, l);
    nys_add_diag(t3, l, 13.0f);
}

// F = softmax(qt Kl^T) [n, l] of one (example, head), with qt its scaled masked query rows [n, p]
// (forward and backward compute it alike, so both see the same bits).
static void nys_landmark_scores(const nys_saved *sv, const float *q, int64_t bh, float *qt, float *F) {
    const int64_t n = sv->n, p = sv->p, l = sv->l;
    nys_scaled_rows(q, sv->mask + (bh / sv->H) * n, sv->scale, n, p, qt);
    nys_gemm(0, 1, n, l, p, 1.0f, qt, p, sv->Kl + bh * l * p, p, 0.0f, F, l);
    nys_softmax_rows(F, n, l, NULL, NULL, NULL);
}

static void nys_backward(lra_ctx *ctx, lra_node *node) {
    const nys_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const int64_t B = sv->B, H = sv->H, n = sv->n, p = sv->p, l = sv->l, seg = n / l, BH = B * H, T = sv->iters;
    const int64_t ll = l * l, nl = n * l, lp = l * p, np = n * p;
    float *dq = q->requires_grad ? lra_grad(ctx, q) : NULL;
    float *dk = k->requires_grad ? lra_grad(ctx, k) : NULL;
    float *dv = v->requires_grad ? lra_grad(ctx, v) : NULL;
    const float *G = node->out->grad;
    const int nt = omp_get_max_threads();
    float *dA = lra_arena_alloc(ctx->arena, (size_t)(BH * ll) * sizeof(float));
    // F's gradient, taken in phase 1 where F is recomputed: dU = F^T G (which phase 2 needs too) and
    // the landmark keys' part dF^T qt of dKl; its query part goes into dq at once.
    float *dUs = lra_arena_alloc(ctx->arena, (size_t)(BH * lp) * sizeof(float));
    float *dKls = lra_arena_alloc(ctx->arena, (size_t)(BH * lp) * sizeof(float));
    double *dc0 = lra_arena_alloc(ctx->arena, (size_t)BH * sizeof(double));
    const int64_t per1 = 7 * ll + 2 * np + 2 * nl, per2 = 2 * np + 3 * lp + 2 * nl;
    const int64_t per = per1 > per2 ? per1 : per2;
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)per * sizeof(float));
    // Phase 1: O = F U, U = Z_T W  ->  dZ_T, then through the iterations to dA and dc0.
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < BH; bh++) {
        float *s = scratch + (size_t)omp_get_thread_num() * (size_t)per;
        float *dZ = s, *dZn = dZ + ll, *t1 = dZn + ll, *dt2 = t1 + ll, *dt = dt2 + ll, *dAZ = dt + ll;
        float *qt = dAZ + ll, *dqt = qt + np, *F = dqt + np, *dF = F + nl, *AZ = dF + nl;
        const float *A = sv->A + bh * ll, *Zs = sv->Zs + bh * (T + 1) * ll, *T2s = sv->T2s + bh * T * ll, *T3s = sv->T3s + bh * T * ll, *W = sv->W + bh * lp,
                    *Kl = sv->Kl + bh * lp, *U = sv->U + bh * lp, *Gb = G + bh * np;
        const float *mrow = sv->mask + (bh / H) * n;
        float *dAb = dA + bh * ll, *dU = dUs + bh * lp;
        nys_landmark_scores(sv, lra_f32(q) + bh * np, bh, qt, F);
        nys_gemm(1, 0, l, p, n, 1.0f, F, l, Gb, p, 0.0f, dU, p);     // dU = F^T G
        nys_gemm(0, 1, n, l, p, 1.0f, Gb, p, U, p, 0.0f, dF, l);     // dF = G U^T
        nys_softmax_back(F, dF, n, l);
        nys_gemm(1, 0, l, p, n, 1.0f, dF, l, qt, p, 0.0f, dKls + bh * lp, p);  // scores F = qt Kl^T
        if (dq) {
            nys_gemm(0, 0, n, p, l, 1.0f, dF, l, Kl, p, 0.0f, dqt, p);
            for (int64_t i = 0; i < n; i++) {
                const float ms = mrow[i] * sv->scale;
                for (int64_t c = 0; c < p; c++) dq[bh * np + i * p + c] += dqt[i * p + c] * ms;
            }
        }
        nys_gemm(0, 1, l, l, p, 1.0f, dU, p, W, p, 0.0f, dZn, l);
        memset(dAb, 0, (size_t)ll * sizeof(float));
        for (int64_t t = T - 1; t >= 0; t--) {
            const float *Z = Zs + t * ll, *t2 = T2s + t * ll, *t3 = T3s + t * ll;
            nys_gemm(0, 0, l, l, l, 1.0f, A, l, Z, l, 0.0f, AZ, l);  // as forward did (same bits)
            for (int64_t e = 0; e < ll; e++) t1[e] = -AZ[e];
            nys_add_diag(t1, l, 7.0f);
            nys_gemm(0, 1, l, l, l, 0.25f, dZn, l, t3, l, 0.0f, dZ, l);   // dZ = dZ' t3^T / 4
            nys_gemm(1, 0, l, l, l, 0.25f, Z, l, dZn, l, 0.0f, dt, l);    // dt3 = Z^T dZ' / 4
            nys_gemm(0, 1, l, l, l, -1.0f, dt, l, t2, l, 0.0f, dAZ, l);   // dAZ = -dt3 t2^T
            nys_gemm(1, 0, l, l, l, -1.0f, AZ, l, dt, l, 0.0f, dt2, l);   // dt2 = -AZ^T dt3
            nys_gemm(0, 1, l, l, l, -1.0f, dt2, l, t1, l, 1.0f, dAZ, l);  // dAZ -= dt2 t1^T
            nys_gemm(1, 0, l, l, l, -1.0f, AZ, l, dt2, l, 0.0f, dt, l);   // dt1 = -AZ^T dt2
            for (int64_t e = 0; e < ll; e++) dAZ[e] -= dt[e];              // t1 = 7I - AZ
            nys_gemm(0, 1, l, l, l, 1.0f, dAZ, l, Z, l, 1.0f, dAb, l);    // dA += dAZ Z^T
            nys_gemm(1, 0, l, l, l, 1.0f, A, l, dAZ, l, 1.0f, dZ, l);     // dZ += A^T dAZ
            float *sw = dZ;
            dZ = dZn;
            dZn = sw;
        }
        // Z_0 = A^T / c0: dA += dZ_0^T / c0, dc0 = -sum(dZ_0 * Z_0) / c0
        const float c0 = sv->c0[bh];
        double acc = 0.0;
        for (int64_t i = 0; i < l; i++)
            for (int64_t j = 0; j < l; j++) {
                dAb[j * l + i] += dZn[i * l + j] / c0;
                acc += (double)dZn[i * l + j] * (double)Zs[i * l + j];
            }
        dc0[bh] = -acc / (double)c0;
    }
    // The init scale's gradient goes to the column (and row) that gave the maximum.
    if (sv->init == LRA_PINV_PER_MATRIX) {
        for (int64_t bh = 0; bh < BH; bh++) {
            const float g = (float)dc0[bh];
            for (int64_t i = 0; i < l; i++) dA[bh * ll + i * l + sv->col_arg[bh]] += g;
        }
    } else {
        double tot = 0.0;
        for (int64_t bh = 0; bh < BH; bh++) tot += dc0[bh];
        float gc = (float)tot;
        if (sv->init == LRA_PINV_GLOBAL_ABS_PROD) {
            const float gr = gc * sv->cm[0];
            gc = gc * sv->rm[0];
            const int64_t rb = sv->row_arg / l, ri = sv->row_arg % l;
            for (int64_t j = 0; j < l; j++) dA[rb * ll + ri * l + j] += gr;
        }
        const int64_t cb = sv->col_arg[0] / l, cj = sv->col_arg[0] % l;
        for (int64_t i = 0; i < l; i++) dA[cb * ll + i * l + cj] += gc;
    }
    // Phase 2: softmaxes and landmark means.
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < BH; bh++) {
        float *s = scratch + (size_t)omp_get_thread_num() * (size_t)per;
        float *kt = s, *dkt = kt + np, *dW = dkt + np, *dQl = dW + lp, *dKl = dQl + lp, *dBm = dKl + lp, *Bm = dBm + nl;
        const int64_t b = bh / H;
        const float *mrow = sv->mask + b * n;
        const float *A = sv->A + bh * ll, *Z = sv->Zs + (bh * (T + 1) + T) * ll, *Ql = sv->Ql + bh * lp,
                    *Kl = sv->Kl + bh * lp, *dU = dUs + bh * lp, *vb = lra_f32(v) + bh * np;
        float *dAb = dA + bh * ll;
        nys_scaled_rows(lra_f32(k) + bh * np, mrow, sv->scale, n, p, kt);
        nys_gemm(0, 1, l, n, p, 1.0f, Ql, p, kt, p, 0.0f, Bm, n);
        nys_softmax_rows(Bm, l, n, lra_attn_valid_positions(mrow, n, NULL) > 0 ? mrow : NULL, sv->Blse + bh * l,
                         NULL);
        nys_gemm(1, 0, l, p, l, 1.0f, Z, l, dU, p, 0.0f, dW, p);     // dW = Z^T dU
        nys_gemm(0, 1, l, n, p, 1.0f, dW, p, vb, p, 0.0f, dBm, n);   // dBm = dW V^T
        if (dv) nys_gemm(1, 0, n, p, l, 1.0f, Bm, n, dW, p, 1.0f, dv + bh * np, p);
        nys_softmax_back(Bm, dBm, l, n);  // excluded keys have P = 0: no gradient
        nys_softmax_back(A, dAb, l, l);
        memcpy(dKl, dKls + bh * lp, (size_t)lp * sizeof(float));      // F's part (phase 1)
        nys_gemm(0, 0, l, p, l, 1.0f, dAb, l, Kl, p, 0.0f, dQl, p);  // scores A = Ql Kl^T
        nys_gemm(1, 0, l, p, l, 1.0f, dAb, l, Ql, p, 1.0f, dKl, p);
        nys_gemm(0, 0, l, p, n, 1.0f, dBm, n, kt, p, 1.0f, dQl, p);  // scores Bm = Ql kt^T
        nys_gemm(1, 0, n, p, l, 1.0f, dBm, n, Ql, p, 0.0f, dkt, p);
        const float inv_seg = 1.0f / (float)seg;
        for (int64_t i = 0; i < n; i++) {
            const int64_t a = i / seg;
            const float ms = mrow[i] * sv->scale;
            for (int64_t c = 0; c < p; c++) {
                const float gq = dQl[a * p + c] * inv_seg;  // (F's part went in in phase 1)
                const float gk = dkt[i * p + c] + dKl[a * p + c] * inv_seg;
                if (dq) dq[bh * np + i * p + c] += gq * ms;
                if (dk) dk[bh * np + i * p + c] += gk * ms;
            }
        }
    }
}

// Column sums' maximum (first index) of one [m, m] matrix; *arg receives the column.
static float nys_max_colsum(const float *A, int64_t m, int64_t *arg, float *colsum) {
    for (int64_t j = 0; j < m; j++) {
        double acc = 0.0;
        for (int64_t i = 0; i < m; i++) acc += (double)A[i * m + j];
        colsum[j] = (float)acc;
    }
    float best = colsum[0];
    *arg = 0;
    for (int64_t j = 1; j < m; j++)
        if (colsum[j] > best) {
            best = colsum[j];
            *arg = j;
        }
    return best;
}

// q, k, v: [B, H, n, p] contiguous, mask [B, n] contiguous -> [B, H, n, p]
static lra_tensor *nys_fused(const nystrom_state *st, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                             lra_tensor *mask) {
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], l = st->landmarks;
    const int64_t BH = B * H, seg = n / l, T = st->iters, ll = l * l, nl = n * l, lp = l * p, np = n * p;
    nys_saved *sv = lra_arena_alloc(ctx->arena, sizeof *sv);
    *sv = (nys_saved){.B = B, .H = H, .n = n, .p = p, .l = l, .iters = st->iters, .init = st->init,
                      .scale = powf((float)p, -0.25f), .mask = lra_f32(mask)};
    lra_arena *ar = ctx->arena;
    sv->Blse = lra_arena_alloc(ar, (size_t)(BH * l) * sizeof(float));
    sv->A = lra_arena_alloc(ar, (size_t)(BH * ll) * sizeof(float));
    sv->Zs = lra_arena_alloc(ar, (size_t)(BH * (T + 1) * ll) * sizeof(float));
    sv->T2s = lra_arena_alloc(ar, (size_t)(BH * (T > 0 ? T : 1) * ll) * sizeof(float));
    sv->T3s = lra_arena_alloc(ar, (size_t)(BH * (T > 0 ? T : 1) * ll) * sizeof(float));
    sv->Ql = lra_arena_alloc(ar, (size_t)(BH * lp) * sizeof(float));
    sv->Kl = lra_arena_alloc(ar, (size_t)(BH * lp) * sizeof(float));
    sv->W = lra_arena_alloc(ar, (size_t)(BH * lp) * sizeof(float));
    sv->U = lra_arena_alloc(ar, (size_t)(BH * lp) * sizeof(float));
    sv->c0 = lra_arena_alloc(ar, (size_t)BH * sizeof(float));
    sv->cm = lra_arena_alloc(ar, 2 * sizeof(float));
    sv->rm = sv->cm + 1;
    sv->col_arg = lra_arena_alloc(ar, (size_t)BH * sizeof(int64_t));
    float *colsum = lra_arena_alloc(ar, (size_t)(BH * l) * sizeof(float));
    lra_tensor *out = lra_tensor_new(ar, LRA_F32, q->shape, 4);
    const int nt = omp_get_max_threads();
    const int64_t per = 2 * np + (nl > ll ? nl : ll) + 2 * ll;
    float *scratch = lra_arena_alloc(ar, (size_t)nt * (size_t)per * sizeof(float));
    // Pass 1: landmarks, A and Bm (F waits for pass 2, so that it lives in per-thread scratch).
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < BH; bh++) {
        float *s = scratch + (size_t)omp_get_thread_num() * (size_t)per;
        float *qt = s, *kt = qt + np, *Bm = kt + np;
        const int64_t b = bh / H;
        const float *mrow = sv->mask + b * n;
        float *A = sv->A + bh * ll, *Ql = sv->Ql + bh * lp, *Kl = sv->Kl + bh * lp;
        nys_scaled_rows(lra_f32(q) + bh * np, mrow, sv->scale, n, p, qt);
        nys_scaled_rows(lra_f32(k) + bh * np, mrow, sv->scale, n, p, kt);
        nys_landmarks(qt, l, seg, p, Ql);
        nys_landmarks(kt, l, seg, p, Kl);
        nys_gemm(0, 1, l, l, p, 1.0f, Ql, p, Kl, p, 0.0f, A, l);
        nys_softmax_rows(A, l, l, NULL, NULL, NULL);
        nys_gemm(0, 1, l, n, p, 1.0f, Ql, p, kt, p, 0.0f, Bm, n);
        // A mask without any real key is ignored (every key attended).
        nys_softmax_rows(Bm, l, n, lra_attn_valid_positions(mrow, n, NULL) > 0 ? mrow : NULL, NULL, sv->Blse + bh * l);
        nys_gemm(0, 0, l, p, n, 1.0f, Bm, n, lra_f32(v) + bh * np, p, 0.0f, sv->W + bh * lp, p);
        sv->c0[bh] = nys_max_colsum(A, l, &sv->col_arg[bh], colsum + bh * l);
    }
    // Init scale c0: per matrix, or the batch-wide maxima (first index in (example, head, column) order).
    if (st->init != LRA_PINV_PER_MATRIX) {
        float cm = colsum[0];
        int64_t carg = 0;
        for (int64_t e = 1; e < BH * l; e++)
            if (colsum[e] > cm) {
                cm = colsum[e];
                carg = e;
            }
        float c0 = cm;
        sv->cm[0] = cm;
        if (st->init == LRA_PINV_GLOBAL_ABS_PROD) {
            float rm = 0.0f;
            int64_t rarg = 0;
            for (int64_t e = 0; e < BH * l; e++) {
                const float *row = sv->A + e * l;
                double acc = 0.0;
                for (int64_t j = 0; j < l; j++) acc += (double)row[j];
                if (e == 0 || (float)acc > rm) {
                    rm = (float)acc;
                    rarg = e;
                }
            }
            sv->rm[0] = rm;
            sv->row_arg = rarg;
            c0 = cm * rm;
        }
        sv->col_arg[0] = carg;
        for (int64_t bh = 0; bh < BH; bh++) sv->c0[bh] = c0;
    }
    // Pass 2: Newton-Schulz iterations and the output.
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < BH; bh++) {
        float *s = scratch + (size_t)omp_get_thread_num() * (size_t)per;
        float *qt = s, *F = s + np, *t1 = F + (nl > ll ? nl : ll);
        const float *A = sv->A + bh * ll;
        float *Zs = sv->Zs + bh * (T + 1) * ll, *T2s = sv->T2s + bh * T * ll, *T3s = sv->T3s + bh * T * ll,
              *W = sv->W + bh * lp, *U = sv->U + bh * lp, *AZ = t1 + ll;
        const float c0 = sv->c0[bh];
        for (int64_t i = 0; i < l; i++)
            for (int64_t j = 0; j < l; j++) Zs[i * l + j] = A[j * l + i] / c0;
        for (int64_t t = 0; t < T; t++) {
            const float *Z = Zs + t * ll;
            nys_gemm(0, 0, l, l, l, 1.0f, A, l, Z, l, 0.0f, AZ, l);
            nys_ns_terms(AZ, l, t1, T2s + t * ll, T3s + t * ll);
            nys_gemm(0, 0, l, l, l, 0.25f, Z, l, T3s + t * ll, l, 0.0f, Zs + (t + 1) * ll, l);
        }
        nys_gemm(0, 0, l, p, l, 1.0f, Zs + T * ll, l, W, p, 0.0f, U, p);
        nys_landmark_scores(sv, lra_f32(q) + bh * np, bh, qt, F);
        nys_gemm(0, 0, n, p, l, 1.0f, F, l, U, p, 0.0f, lra_f32(out) + bh * np, p);
    }
    lra_node *nd = lra_tape_record(ctx, "attention.nystrom", nys_backward, out, 3, (lra_tensor *[]){q, k, v});
    if (nd) nd->extra = sv;
    return out;
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *nystrom_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                   lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const nystrom_state *s = state;
    const int64_t n = q->shape[2], p = q->shape[3], l = s->landmarks;
    lra_tensor *mrow = lra_attn_mask_rows(ctx, mask);
    lra_tensor *out;
    if (l >= n) {
        lra_tensor *mscaled = lra_op_scale(ctx, mrow, powf((float)p, -0.25f));
        lra_tensor *qt = lra_op_mul(ctx, q, mscaled), *kt = lra_op_mul(ctx, k, mscaled);
        lra_tensor *P = lra_op_softmax(ctx, lra_op_matmul(ctx, qt, kt, 0, 1), lra_attn_mask_add(ctx, mask));
        out = lra_op_matmul(ctx, P, v, 0, 0);
    } else {
        LRA_ASSERT_MSG(n % l == 0, "nystrom: n = %lld is not a multiple of num_landmarks = %lld", (long long)n,
                       (long long)l);
        out = nys_fused(s, ctx, q, k, v, mask);
    }
    if (s->conv > 0) {
        lra_tensor *w = lra_params_tensor(params, s->conv_index);
        out = lra_op_add(ctx, out, dwconv(ctx, lra_op_mul(ctx, v, mrow), w));
    }
    return out;
}

const lra_attn_kernel_def lra_attn_nystrom = {
    .name = "nystrom",
    .summary = "Nystromformer: segment-mean landmarks, Newton-Schulz pseudo-inverse, optional conv on V",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = nystrom_validate,
    .create = nystrom_create,
    .forward = nystrom_forward,
    .destroy = nystrom_destroy,
    // l = n landmarks is the exact masked softmax.
    .conformance = {.small_opts = "num_landmarks=4,conv_kernel=3", .exact_opts = "num_landmarks=N",
                    .approx_lo = 2, .approx_hi = 32},
};
