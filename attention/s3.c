// `s3`: S3Attention = smoother + skeleton attention (attention.md §2.18; see s3.h).
//
// Smoother (pre_transform, on LN1(X) [B, n, D]), paper version (default, `smoother=paper`):
//   u = segment average of X over r groups of s = D/r features              [B, n, r]
//   Msm = irfft(rfft_t(u)[.., c mod r] * L[:, c])  (circular conv along n)    [B, n, D]
//   H = Dropout(ReLU(BN_pos(Conv1d_{2D->D, k=3, pad 1}([Msm, X]))))
// `smoother=code` (the repository): no segment average (r = D), kernel 1, ELU, L ~ Kaiming-uniform.  (The repo
// also computes and discards a second BN+ELU branch on Msm; it has no effect on the output and is left out.)
// BN_pos is a BatchNorm whose channels are the n sequence positions (statistics over batch and features).
// Its running statistics are fixed (non-trainable) entries of the parameter store, so checkpoints carry
// them; a training-mode forward updates them IN PLACE (momentum 0.1, unbiased variance), like PyTorch,
// including forwards without gradient (S3's reference validation runs in training mode).  Evaluation mode
// normalises with them.  The input length must equal the configured sequence length.
//
// Skeleton attention (forward): K <- m.K, V <- m.V (Q unmasked);
//   token branch  A1 = softmax(Q K[I_tok]^T / sqrt(p)) [n, s1], dropout, Y1 = A1 V[I_tok];
//   feature branch A2 = softmax_s2(Q^T K[:, I_feat] / sqrt(n)) [p, s2], dropout, Y2 = V[:, I_feat] A2^T;
//   Out = (LN_a(merge(Y1)) + LN_b(merge(Y2))) / 2, split back into heads.
// The index sets (first s1 of a random permutation of [0, n), first s2 of one of [0, p)) are drawn once at
// init from the run seed, shared by heads and examples, and stored as fixed entries of the parameter store
// (so a resumed run uses the same sets: §3(a) default).  `index_sets=per_call` redraws them at every call.
// Sampled padded tokens take part with score 0 and value 0 (reference, §3(b)); `token_mask=1` excludes them.
// The attention is written as a chain of differentiable ops (sgemm-backed matmuls, small [n, s] softmaxes).
#include "core/gemm.h"
#include "attention/s3.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/layer_norm_rows.h"
#include "core/fft.h"
#include "core/ops.h"
#include "core/rng.h"

#define S3_BN_EPS 1e-5f
// Below this many elements the BatchNorm loops stay on one thread (starting threads costs more).
#define S3_PAR_MIN 32768
#define S3_BN_MOMENTUM 0.1f

enum { SMOOTHER_PAPER = 0, SMOOTHER_CODE = 1 };
enum { INDEX_FIXED = 0, INDEX_PER_CALL = 1 };

static const lra_attn_option k_options[] = {
    {"smoother", LRA_OPT_ENUM, 0, 0, 0, "paper|code",
     "paper: segment average r, conv k=3, ReLU, Kaiming-normal L; code: the repository's variant (r=D, k=1, ELU)", 0},
    {"r", LRA_OPT_INT, 8, 1, 4096, NULL, "segments of the smoother's feature average (paper 'fold'; divides D)", 0},
    {"s1", LRA_OPT_INT, 8, 1, 1 << 20, NULL, "sampled token positions (token branch; all tokens if >= n)", LRA_OPT_COUNT},
    {"s2", LRA_OPT_INT, 8, 1, 4096, NULL, "sampled head features (feature branch; all features if >= p)", 0},
    {"dropout", LRA_OPT_FLOAT, 0.1, 0.0, 0.99, NULL,
     "attention dropout on both branches (LRA: 0 ListOps/Pathfinder, 0.1 Text/Retrieval/Image)", 0},
    {"smoother_dropout", LRA_OPT_FLOAT, 0.5, 0.0, 0.99, NULL,
     "dropout after the smoother (LRA: 0 ListOps, 0.5 Text/Image/Pathfinder, 0.1 Retrieval)", 0},
    {"index_sets", LRA_OPT_ENUM, 0, 0, 0, "fixed|per_call",
     "fixed: drawn once at init and stored (spec); per_call: fresh sets at every call", 0},
    {"token_mask", LRA_OPT_BOOL, 0, 0, 1, NULL, "exclude sampled padded tokens from the token softmax (reference: 0)", 0},
};

typedef struct {
    int smoother, r, k, D, H, p, layer, index_mode, token_mask;
    int64_t n, s1, s2;
    float drop_attn, drop_sm;
    int iL, iconv_w, iconv_b, ibn_w, ibn_b, ibn_mean, ibn_var, ilna_w, ilna_b, ilnb_w, ilnb_b, itok, ifeat;
} s3_state;

// ---------------------------------------------------------------------------------------------- FFT filter

// After U = rfft(u) [B, nf, r, 2] (an op of its own), one op does Y = U[.., c mod r] * L[:, c] and
// msm = irfft(Y) per example and group of FILTER_GROUP channels in a per-thread buffer, so neither the
// tiled copy of U nor Y is stored.  Backward forms dY = irfft's adjoint of dmsm the same way, and dL and
// dU with the arithmetic and summation orders of cmul's and index_select's backwards: values and
// gradients equal the chain of ops.
#define FILTER_GROUP 8

typedef struct {
    int64_t B, n, nf, r, D;
} filter_extra;

// dY for example b and channels [c0, c0 + cnt): irfft's adjoint of those columns of dmsm, into Y
// [nf, cnt, 2] (zeroed first: the adjoint adds).
static void filter_dY(const filter_extra *fe, const lra_fft_plan *plan, const float *dmsm, int64_t b, int64_t c0,
                      int64_t cnt, float *Y) {
    memset(Y, 0, (size_t)(fe->nf * cnt * 2) * sizeof(float));
    const lra_fft_layout l = {.outer = 1, .inner = cnt, .in_outer = 0, .in_inner = 1, .in_stride = fe->D,
                              .out_outer = 0, .out_inner = 2, .out_stride = 2 * cnt};
    lra_fft_many(plan, LRA_FFT_IRFFT_BACKWARD, &l, dmsm + b * fe->n * fe->D + c0, Y);
}

// Two passes, each recomputing dY per (example, channel group) in a per-thread buffer, so no full-size dY
// is stored: dL by channel group (examples in order, as cmul sums its broadcast), then dU by example
// (channels in order, as index_select's backward adds).
static void filter_backward(lra_ctx *ctx, lra_node *node) {
    const filter_extra *fe = node->extra;
    lra_tensor *U = node->in[0], *L = node->in[1];
    const int64_t B = fe->B, n = fe->n, nf = fe->nf, r = fe->r, D = fe->D;
    const int64_t G = (D + FILTER_GROUP - 1) / FILTER_GROUP, per = nf * FILTER_GROUP * 2;
    const float *Ud = lra_f32(U), *Ld = lra_f32(L), *dmsm = node->out->grad;
    const lra_fft_plan *plan = lra_fft_plan_get(n);
    const int nt = omp_get_max_threads();
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)per * sizeof(float));
    double *acc = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)per * sizeof(double));
    if (L->requires_grad) {  // dL[k, c] += sum over b (in order, in double) of dY conj(U[b, k, c mod r])
        float *dL = lra_grad(ctx, L);
#pragma omp parallel for schedule(static)
        for (int64_t g = 0; g < G; g++) {
            const int64_t c0 = g * FILTER_GROUP, cnt = D - c0 < FILTER_GROUP ? D - c0 : FILTER_GROUP;
            float *Y = scratch + (size_t)omp_get_thread_num() * (size_t)per;
            double *a = acc + (size_t)omp_get_thread_num() * (size_t)per;
            memset(a, 0, (size_t)(nf * cnt * 2) * sizeof(double));
            for (int64_t b = 0; b < B; b++) {
                filter_dY(fe, plan, dmsm, b, c0, cnt, Y);
                for (int64_t k = 0; k < nf; k++)
                    for (int64_t v = 0; v < cnt; v++) {
                        const float *gr = Y + (k * cnt + v) * 2, *ub = Ud + ((b * nf + k) * r + (c0 + v) % r) * 2;
                        const float br = ub[0], bi = ub[1];
                        a[(k * cnt + v) * 2] += (double)(gr[0] * br + gr[1] * bi);
                        a[(k * cnt + v) * 2 + 1] += (double)(gr[1] * br - gr[0] * bi);
                    }
            }
            for (int64_t k = 0; k < nf; k++)
                for (int64_t v = 0; v < cnt; v++) {
                    dL[(k * D + c0 + v) * 2] += (float)a[(k * cnt + v) * 2];
                    dL[(k * D + c0 + v) * 2 + 1] += (float)a[(k * cnt + v) * 2 + 1];
                }
        }
    }
    if (U->requires_grad) {  // dU[b, k, c mod r] += dY conj(L[k, c]), channels in order
        float *dU = lra_grad(ctx, U);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            float *Y = scratch + (size_t)omp_get_thread_num() * (size_t)per;
            for (int64_t g = 0; g < G; g++) {
                const int64_t c0 = g * FILTER_GROUP, cnt = D - c0 < FILTER_GROUP ? D - c0 : FILTER_GROUP;
                filter_dY(fe, plan, dmsm, b, c0, cnt, Y);
                for (int64_t k = 0; k < nf; k++)
                    for (int64_t v = 0; v < cnt; v++) {
                        const float *gr = Y + (k * cnt + v) * 2, *lb = Ld + (k * D + c0 + v) * 2;
                        const float br = lb[0], bi = lb[1];
                        float *du = dU + ((b * nf + k) * r + (c0 + v) % r) * 2;
                        du[0] += gr[0] * br + gr[1] * bi;
                        du[1] += gr[1] * br - gr[0] * bi;
                    }
            }
        }
    }
}

// U: [B, nf, r, 2], L: [nf, D, 2] -> msm [B, n, D]
static lra_tensor *filter_apply(lra_ctx *ctx, lra_tensor *U, lra_tensor *L, int64_t n) {
    U = lra_op_contiguous(ctx, U);
    L = lra_op_contiguous(ctx, L);
    const int64_t B = U->shape[0], nf = U->shape[1], r = U->shape[2], D = L->shape[1];
    const int64_t G = (D + FILTER_GROUP - 1) / FILTER_GROUP;
    filter_extra *fe = lra_arena_alloc(ctx->arena, sizeof *fe);
    *fe = (filter_extra){B, n, nf, r, D};
    lra_tensor *msm = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, n, D));
    const float *Ud = lra_f32(U), *Ld = lra_f32(L);
    float *md = lra_f32(msm);
    const lra_fft_plan *plan = lra_fft_plan_get(n);
    const int nt = omp_get_max_threads();
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)(nf * FILTER_GROUP * 2) * sizeof(float));
    // One task per (example, channel group); the transforms' own loop then runs on this thread.  Always a
    // taken region, so that loop never opens a region inside one that was not taken.
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < B * G; t++) {
        const int64_t b = t / G, c0 = (t % G) * FILTER_GROUP, cnt = D - c0 < FILTER_GROUP ? D - c0 : FILTER_GROUP;
        float *Y = scratch + (size_t)omp_get_thread_num() * (size_t)(nf * FILTER_GROUP * 2);
        for (int64_t k = 0; k < nf; k++)
            for (int64_t v = 0; v < cnt; v++) {
                const int64_t c = c0 + v;
                const float *pa = Ud + ((b * nf + k) * r + c % r) * 2, *pb = Ld + (k * D + c) * 2;
                const float ar = pa[0], ai = pa[1], br = pb[0], bi = pb[1];
                Y[(k * cnt + v) * 2] = ar * br - ai * bi;  // as cmul
                Y[(k * cnt + v) * 2 + 1] = ar * bi + ai * br;
            }
        const lra_fft_layout l = {.outer = 1, .inner = cnt, .in_outer = 0, .in_inner = 2, .in_stride = 2 * cnt,
                                  .out_outer = 0, .out_inner = 1, .out_stride = D};
        lra_fft_many(plan, LRA_FFT_IRFFT, &l, Y, md + b * n * D + c0);
    }
    lra_node *nd = lra_tape_record(ctx, "s3.filter", filter_backward, msm, 2, (lra_tensor *[]){U, L});
    if (nd) nd->extra = fe;
    return msm;
}

lra_tensor *lra_s3_fft_filter(lra_ctx *ctx, lra_tensor *u, lra_tensor *L, int64_t D) {
    LRA_ASSERT_MSG(u->ndim == 3 && L->ndim == 3 && L->shape[2] == 2, "s3 filter: u [B, n, r], L [n/2+1, D, 2]");
    const int64_t n = u->shape[1], r = u->shape[2];
    LRA_ASSERT_MSG(L->shape[0] == n / 2 + 1 && L->shape[1] == D && D % r == 0,
                   "s3 filter: L is [%lld, %lld], expected [%lld, %lld] with r=%lld dividing D", (long long)L->shape[0],
                   (long long)L->shape[1], (long long)(n / 2 + 1), (long long)D, (long long)r);
    return filter_apply(ctx, lra_op_rfft(ctx, u, 1), L, n);  // rfft: [B, nf, r, 2], r transforms per example
}

// ---------------------------------------------------------------------------------------------- conv1d
// The B sequences lie end to end in x [B n, cin], so tap j of the convolution (row shift s = j - pad) is ONE
// product over all rows -- three long products instead of one short product per example and tap, so
// OpenBLAS packs its operands once per tap.  Only the `pad` rows at each end of a sequence ("edge rows")
// see a neighbour's rows through the shift; their results are recomputed exactly afterwards (forward,
// input gradient), and for the weight gradient the offending output-gradient rows are zeroed for that tap.

#define CONV_MAX_PARTS 2

typedef struct {
    int64_t B, n, cout, k, parts;
    int64_t cin, c[CONV_MAX_PARTS], off[CONV_MAX_PARTS];  // input channels: all, per part, part's first
    float *wj[CONV_MAX_PARTS];  // per part [k, cout, c] repacked weights
} conv_extra;

// Rows [r0, r0 + m) of the output side meet rows [r0 + s, r0 + s + m) of the input side in tap j.
static void tap_rows(int64_t rows, int64_t j, int64_t pad, int64_t *r0, int64_t *m, int64_t *s) {
    *s = j - pad;
    *r0 = *s < 0 ? -*s : 0;
    *m = rows - (*s < 0 ? -*s : *s);
}

// Edge row e < edges of a sequence of length n: rows 0 .. pad-1 and n-pad .. n-1 (each once when they meet).
static int64_t edge_count(int64_t n, int64_t pad) { return 2 * pad < n ? 2 * pad : n; }
static int64_t edge_row(int64_t e, int64_t n, int64_t pad) { return e < pad && 2 * pad < n ? e : n - edge_count(n, pad) + e; }

// acc[cols] += Wj-row products: acc[i] += sum_c a[c] m[i * ld + c] (trans 0) or sum_c a[c] m[c * ld + i] (trans 1).
static void row_times(float *acc, const float *a, const float *m, int64_t cols, int64_t inner, int64_t ld, int trans) {
    for (int64_t i = 0; i < cols; i++) {
        float t = 0.0f;
        for (int64_t c = 0; c < inner; c++) t += a[c] * (trans ? m[c * ld + i] : m[i * ld + c]);
        acc[i] += t;
    }
}

// The gradient of part q's input x [B, n, c]: dx[r + s] += dout[r] Wj over all rows; then each edge row =
// its old value + its own taps only.
static void conv1d_input_grad(lra_ctx *ctx, const conv_extra *ce, int q, const float *dout, float *dx) {
    const int64_t B = ce->B, n = ce->n, cin = ce->c[q], cout = ce->cout, k = ce->k, pad = k / 2, rows = B * n;
    const int64_t edges = edge_count(n, pad);
    const float *wq = ce->wj[q];
    float *saved = lra_arena_alloc(ctx->arena, (size_t)(B * edges * cin) * sizeof(float));
    for (int64_t b = 0; b < B; b++)
        for (int64_t e = 0; e < edges; e++)
            memcpy(saved + (b * edges + e) * cin, dx + (b * n + edge_row(e, n, pad)) * cin, (size_t)cin * sizeof(float));
    for (int64_t j = 0; j < k; j++) {
        int64_t r0, m, s;
        tap_rows(rows, j, pad, &r0, &m, &s);
        if (m > 0)
            lra_gemm(false, false, m, cin, cout, 1.0f, dout + r0 * cout, cout, wq + j * cout * cin, cin, 1.0f,
                     dx + (r0 + s) * cin, cin);
    }
#pragma omp parallel for schedule(static) if (B * edges * k * cin * cout >= S3_PAR_MIN)
    for (int64_t b = 0; b < B; b++)
        for (int64_t e = 0; e < edges; e++) {
            const int64_t t = edge_row(e, n, pad);
            float *row = dx + (b * n + t) * cin;
            memcpy(row, saved + (b * edges + e) * cin, (size_t)cin * sizeof(float));
            for (int64_t j = 0; j < k; j++) {
                const int64_t r = t - (j - pad);  // the output row that reads x row t through tap j
                if (r >= 0 && r < n) row_times(row, dout + (b * n + r) * cout, wq + j * cout * cin, cin, cout, cin, 1);
            }
        }
}

static void conv1d_backward(lra_ctx *ctx, lra_node *node) {
    const conv_extra *ce = node->extra;
    lra_tensor *w = node->in[ce->parts], *bias = node->in[ce->parts + 1];
    const int64_t B = ce->B, n = ce->n, cin = ce->cin, cout = ce->cout, k = ce->k, pad = k / 2, rows = B * n;
    float *dout = node->out->grad;
    for (int q = 0; q < ce->parts; q++)
        if (node->in[q]->requires_grad) conv1d_input_grad(ctx, ce, q, dout, lra_grad(ctx, node->in[q]));
    if (w->requires_grad) {
        // dWj = sum_r dout[r]^T x[r + s]; for the tap, the rows whose x[r + s] is in another sequence are
        // zeroed in dout (and put back), so those pairs add exactly 0
        float *dw = lra_grad(ctx, w);
        int64_t cmax = 0;
        for (int q = 0; q < ce->parts; q++) cmax = ce->c[q] > cmax ? ce->c[q] : cmax;
        float *dwj = lra_arena_alloc(ctx->arena, (size_t)(cout * cmax) * sizeof(float));
        float *hold = lra_arena_alloc(ctx->arena, (size_t)(B * (pad > 0 ? pad : 1) * cout) * sizeof(float));
        for (int64_t j = 0; j < k; j++) {
            int64_t r0, m, s;
            tap_rows(rows, j, pad, &r0, &m, &s);
            if (m <= 0) continue;
            const int64_t nz = s < 0 ? -s : s, t0 = s < 0 ? 0 : n - s;  // rows t0 .. t0+nz-1 of each sequence
            const int64_t nzc = nz < n ? nz : n, t0c = t0 > 0 ? t0 : 0;
            for (int64_t b = 0; b < B; b++) {
                memcpy(hold + b * nzc * cout, dout + (b * n + t0c) * cout, (size_t)(nzc * cout) * sizeof(float));
                memset(dout + (b * n + t0c) * cout, 0, (size_t)(nzc * cout) * sizeof(float));
            }
            for (int q = 0; q < ce->parts; q++) {
                const int64_t c = ce->c[q];
                lra_gemm(true, false, cout, c, m, 1.0f, dout + r0 * cout, cout, lra_f32(node->in[q]) + (r0 + s) * c, c,
                         0.0f, dwj, c);
                for (int64_t o = 0; o < cout; o++)
                    for (int64_t i = 0; i < c; i++) dw[(o * cin + ce->off[q] + i) * k + j] += dwj[o * c + i];
            }
            for (int64_t b = 0; b < B; b++)
                memcpy(dout + (b * n + t0c) * cout, hold + b * nzc * cout, (size_t)(nzc * cout) * sizeof(float));
        }
    }
    if (bias && bias->requires_grad) {
        // column sums over the B n rows, row by row (each column in row order, in double)
        float *db = lra_grad(ctx, bias);
        double *acc = lra_arena_calloc(ctx->arena, (size_t)cout * sizeof(double));
        for (int64_t t = 0; t < rows; t++)
            for (int64_t o = 0; o < cout; o++) acc[o] += dout[t * cout + o];
        for (int64_t o = 0; o < cout; o++) db[o] += (float)acc[o];
    }
}

lra_tensor *lra_s3_conv1d_parts(lra_ctx *ctx, int parts, lra_tensor *const *xs, lra_tensor *w, lra_tensor *bias) {
    LRA_ASSERT_MSG(parts >= 1 && parts <= CONV_MAX_PARTS, "s3 conv1d: 1 to %d inputs", CONV_MAX_PARTS);
    LRA_ASSERT_MSG(w->ndim == 3 && (w->shape[2] & 1), "s3 conv1d: w [Cout, Cin, k odd]");
    LRA_ASSERT_MSG(lra_tensor_is_contiguous(w) && (!bias || lra_tensor_is_contiguous(bias)),
                   "s3 conv1d: w and bias must be contiguous");
    lra_tensor *x[CONV_MAX_PARTS];
    conv_extra *ce = lra_arena_calloc(ctx->arena, sizeof *ce);
    for (int q = 0; q < parts; q++) {
        x[q] = lra_op_contiguous(ctx, xs[q]);
        LRA_ASSERT_MSG(x[q]->ndim == 3 && x[q]->shape[0] == x[0]->shape[0] && x[q]->shape[1] == x[0]->shape[1],
                       "s3 conv1d: inputs [B, n, C_q] with the same B and n");
        ce->c[q] = x[q]->shape[2];
        ce->off[q] = ce->cin;
        ce->cin += ce->c[q];
    }
    LRA_ASSERT_MSG(w->shape[1] == ce->cin, "s3 conv1d: w has %lld input channels, the inputs %lld",
                   (long long)w->shape[1], (long long)ce->cin);
    const int64_t B = x[0]->shape[0], n = x[0]->shape[1], cin = ce->cin, cout = w->shape[0], k = w->shape[2],
                  pad = k / 2, rows = B * n, edges = edge_count(n, pad);
    ce->B = B, ce->n = n, ce->cout = cout, ce->k = k, ce->parts = parts;
    for (int q = 0; q < parts; q++) {
        const int64_t c = ce->c[q];
        ce->wj[q] = lra_arena_alloc(ctx->arena, (size_t)(k * cout * c) * sizeof(float));
        for (int64_t j = 0; j < k; j++)
            for (int64_t o = 0; o < cout; o++)
                for (int64_t i = 0; i < c; i++)
                    ce->wj[q][(j * cout + o) * c + i] = lra_f32(w)[(o * cin + ce->off[q] + i) * k + j];
    }
    const float *bd = bias ? lra_f32(bias) : NULL;
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, n, cout));
    float *od = lra_f32(out);
    // out[r] = bias + sum_j sum_q x_q[r + s_j] Wj_q^T over all rows, then the edge rows again from their
    // own sequence
    for (int64_t t = 0; t < rows; t++)
        for (int64_t o = 0; o < cout; o++) od[t * cout + o] = bd ? bd[o] : 0.0f;
    for (int64_t j = 0; j < k; j++) {
        int64_t r0, m, s;
        tap_rows(rows, j, pad, &r0, &m, &s);
        if (m > 0)
            for (int q = 0; q < parts; q++)
                lra_gemm(false, true, m, cout, ce->c[q], 1.0f, lra_f32(x[q]) + (r0 + s) * ce->c[q], ce->c[q],
                         ce->wj[q] + j * cout * ce->c[q], ce->c[q], 1.0f, od + r0 * cout, cout);
    }
#pragma omp parallel for schedule(static) if (B * edges * k * cin * cout >= S3_PAR_MIN)
    for (int64_t b = 0; b < B; b++)
        for (int64_t e = 0; e < edges; e++) {
            const int64_t t = edge_row(e, n, pad);
            float *row = od + (b * n + t) * cout;
            for (int64_t o = 0; o < cout; o++) row[o] = bd ? bd[o] : 0.0f;
            for (int64_t j = 0; j < k; j++) {
                const int64_t tt = t + j - pad;  // the input row tap j reads
                if (tt < 0 || tt >= n) continue;
                for (int q = 0; q < parts; q++)
                    row_times(row, lra_f32(x[q]) + (b * n + tt) * ce->c[q], ce->wj[q] + j * cout * ce->c[q], cout,
                              ce->c[q], ce->c[q], 0);
            }
        }
    lra_tensor *in[CONV_MAX_PARTS + 2];
    for (int q = 0; q < parts; q++) in[q] = x[q];
    in[parts] = w;
    in[parts + 1] = bias;
    lra_node *nd = lra_tape_record(ctx, "s3.conv1d", conv1d_backward, out, parts + (bias ? 2 : 1), in);
    if (nd) nd->extra = ce;
    return out;
}

lra_tensor *lra_s3_conv1d(lra_ctx *ctx, lra_tensor *x, lra_tensor *w, lra_tensor *bias) {
    return lra_s3_conv1d_parts(ctx, 1, &x, w, bias);
}

// ---------------------------------------------------------------------------------------------- BatchNorm

// Position t's sums over (batch, features) of [B, n, D] arrays, in double over eight fixed lanes of the
// feature index (lanes added pairwise at the end), so they vectorise and depend on the shape only:
//   x - c (squares 0) or (x - c)^2 (squares 1) with x = a; or, with b given, a and a * b (two sums).
static void bn_position_sums(const float *a, const float *b, int64_t B, int64_t n, int64_t D, int64_t t, double c,
                             int squares, double *s1, double *s2) {
    double l1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, l2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t bb = 0; bb < B; bb++) {
        const float *ar = a + (bb * n + t) * D, *br = b ? b + (bb * n + t) * D : NULL;
        for (int64_t i = 0; i < D; i++) {
            const double x = (double)ar[i];
            if (br) {
                l1[i % 8] += x;
                l2[i % 8] += x * (double)br[i];
            } else {
                const double d = x - c;
                l1[i % 8] += squares ? d * d : d;
            }
        }
    }
    *s1 = ((l1[0] + l1[1]) + (l1[2] + l1[3])) + ((l1[4] + l1[5]) + (l1[6] + l1[7]));
    if (s2) *s2 = ((l2[0] + l2[1]) + (l2[2] + l2[3])) + ((l2[4] + l2[5]) + (l2[6] + l2[7]));
}

// Position t's mean and 1/std over (batch, features) of x [B, n, D]: batch statistics in training (and the
// running ones updated in place; each position is owned by one thread), else the running statistics.
static void bn_position_stats(const float *xd, int64_t B, int64_t n, int64_t D, int64_t t, int training,
                              float *running_mean, float *running_var, float momentum, float *mean, float *inv_std) {
    const int64_t cnt = B * D;
    double mu, var;
    if (training) {
        double s, ss;
        bn_position_sums(xd, NULL, B, n, D, t, 0.0, 0, &s, NULL);
        mu = s / (double)cnt;
        bn_position_sums(xd, NULL, B, n, D, t, mu, 1, &ss, NULL);
        var = ss / (double)cnt;
        const double unbiased = cnt > 1 ? ss / (double)(cnt - 1) : var;
        running_mean[t] = (float)((1.0 - momentum) * running_mean[t] + momentum * mu);
        running_var[t] = (float)((1.0 - momentum) * running_var[t] + momentum * unbiased);
    } else {
        mu = running_mean[t];
        var = running_var[t];
    }
    *inv_std = (float)(1.0 / sqrt(var + (double)S3_BN_EPS));
    *mean = (float)mu;
}

// The gradient of position t through the BatchNorm, from dy (the gradient at its output) and x-hat (XHAT,
// an expression of the element index e): dgamma, dbeta and (when dx) dx += gamma inv_std (dy - mean(dy) -
// x-hat mean(dy x-hat)), the means only with batch statistics (training).  Uses B, n, D, g, inv_std,
// training and cnt from the caller.
#define BN_POSITION_BACKWARD(t, dy, XHAT, dx, dg, db)                                                     \
    do {                                                                                                  \
        double l1_[8] = {0, 0, 0, 0, 0, 0, 0, 0}, l2_[8] = {0, 0, 0, 0, 0, 0, 0, 0};                     \
        for (int64_t b = 0; b < B; b++)                                                                   \
            for (int64_t c = 0; c < D; c++) {                                                             \
                const int64_t e = (b * n + (t)) * D + c;                                                  \
                l1_[c % 8] += (dy)[e];                                                                    \
                l2_[c % 8] += (double)(dy)[e] * (XHAT);                                                   \
            }                                                                                             \
        const double sdy = ((l1_[0] + l1_[1]) + (l1_[2] + l1_[3])) + ((l1_[4] + l1_[5]) + (l1_[6] + l1_[7])); \
        const double sdyx = ((l2_[0] + l2_[1]) + (l2_[2] + l2_[3])) + ((l2_[4] + l2_[5]) + (l2_[6] + l2_[7])); \
        if (dg) (dg)[t] += (float)sdyx;                                                                   \
        if (db) (db)[t] += (float)sdy;                                                                    \
        if (dx) {                                                                                         \
            const float a_ = g[t] * inv_std[t];                                                           \
            const float mdy = training ? (float)(sdy / cnt) : 0.0f;                                       \
            const float mdyx = training ? (float)(sdyx / cnt) : 0.0f;                                     \
            for (int64_t b = 0; b < B; b++)                                                               \
                for (int64_t c = 0; c < D; c++) {                                                         \
                    const int64_t e = (b * n + (t)) * D + c;                                              \
                    (dx)[e] += a_ * ((dy)[e] - mdy - (XHAT) * mdyx);                                      \
                }                                                                                         \
        }                                                                                                 \
    } while (0)

typedef struct {
    int64_t B, n, D;
    int training;
    float *xhat;        // [B, n, D] normalised input (before the affine)
    float *inv_std;     // [n]
} bn_extra;

static void bn_backward(lra_ctx *ctx, lra_node *node) {
    const bn_extra *be = node->extra;
    lra_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    const int64_t B = be->B, n = be->n, D = be->D;
    const int training = be->training;
    const float *dy = node->out->grad, *g = lra_f32(gamma), *inv_std = be->inv_std;
    float *dx = x->requires_grad ? lra_grad(ctx, x) : NULL;
    float *dg = gamma->requires_grad ? lra_grad(ctx, gamma) : NULL;
    float *db = beta->requires_grad ? lra_grad(ctx, beta) : NULL;
    const double cnt = (double)(B * D);
#pragma omp parallel for schedule(static) if (B * n * D >= S3_PAR_MIN)
    for (int64_t t = 0; t < n; t++) BN_POSITION_BACKWARD(t, dy, be->xhat[e], dx, dg, db);
}

lra_tensor *lra_s3_batchnorm_positions(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta,
                                       float *running_mean, float *running_var, float momentum, int training) {
    x = lra_op_contiguous(ctx, x);
    LRA_ASSERT_MSG(x->ndim == 3 && gamma->shape[0] == x->shape[1] && beta->shape[0] == x->shape[1],
                   "s3 batchnorm: x [B, n, D], gamma/beta [n]");
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2];
    bn_extra *be = lra_arena_alloc(ctx->arena, sizeof *be);
    be->B = B, be->n = n, be->D = D, be->training = training;
    be->xhat = lra_arena_alloc(ctx->arena, (size_t)(B * n * D) * sizeof(float));
    be->inv_std = lra_arena_alloc(ctx->arena, (size_t)n * sizeof(float));
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, 3);
    const float *xd = lra_f32(x), *g = lra_f32(gamma), *bt = lra_f32(beta);
#pragma omp parallel for schedule(static) if (B * n * D >= S3_PAR_MIN)
    for (int64_t t = 0; t < n; t++) {
        float m, inv;
        bn_position_stats(xd, B, n, D, t, training, running_mean, running_var, momentum, &m, &inv);
        be->inv_std[t] = inv;
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 0; c < D; c++) {
                const int64_t e = (b * n + t) * D + c;
                const float xh = (xd[e] - m) * inv;
                be->xhat[e] = xh;
                lra_f32(y)[e] = g[t] * xh + bt[t];
            }
    }
    lra_node *nd = lra_tape_record(ctx, "s3.batchnorm", bn_backward, y, 3, (lra_tensor *[]){x, gamma, beta});
    if (nd) nd->extra = be;
    return y;
}

// BatchNorm over positions, then ReLU or ELU(1), then dropout, as one op (the smoother's tail): only the
// output and the keep mask are stored; backward recomputes x-hat and the BatchNorm output from x and the
// statistics.  Each step rounds as its own op does, so values and gradients equal the chain.
typedef struct {
    int64_t B, n, D;
    int training, elu;
    float scale;            // dropout's 1 / (1 - p); 1 without dropout
    float *mean, *inv_std;  // [n]
    uint8_t *keep;          // [B n D] dropout's mask (NULL: no dropout)
} bnad_extra;

// The activation and its derivative as lra_op_relu and lra_op_elu (alpha 1) compute them.
static inline float bnad_act(float z, int elu) { return elu ? (z > 0.0f ? z : 1.0f * expm1f(z)) : (z > 0.0f ? z : 0.0f); }
static inline float bnad_act_dx(float g, float z, int elu) {
    return elu ? (z > 0.0f ? g : g * 1.0f * expf(z)) : (z > 0.0f ? g : 0.0f);
}

static void bnad_backward(lra_ctx *ctx, lra_node *node) {
    const bnad_extra *ex = node->extra;
    lra_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    const int64_t B = ex->B, n = ex->n, D = ex->D, N = B * n * D;
    const int training = ex->training, elu = ex->elu;
    const float *xd = lra_f32(x), *g = lra_f32(gamma), *bt = lra_f32(beta), *mean = ex->mean, *inv_std = ex->inv_std;
    float *dx = x->requires_grad ? lra_grad(ctx, x) : NULL;
    float *dg = gamma->requires_grad ? lra_grad(ctx, gamma) : NULL;
    float *db = beta->requires_grad ? lra_grad(ctx, beta) : NULL;
    // Through dropout and the activation, in the output gradient's buffer (dead once this node has run,
    // unless the context keeps every gradient).
    float *dz = node->out->grad;
    if (ctx->retain_grads) {
        dz = lra_arena_alloc(ctx->arena, (size_t)N * sizeof(float));
        memcpy(dz, node->out->grad, (size_t)N * sizeof(float));
    }
#pragma omp parallel for schedule(static) if (N >= S3_PAR_MIN)
    for (int64_t row = 0; row < B * n; row++) {
        const int64_t t = row % n;
        const float gt = g[t], bt_ = bt[t], m = mean[t], inv = inv_std[t];
        float *dzr = dz + row * D;
        const float *xr = xd + row * D;
        const uint8_t *kr = ex->keep ? ex->keep + row * D : NULL;
        for (int64_t c = 0; c < D; c++) {
            const float gd = kr ? dzr[c] * (ex->scale * (float)kr[c]) : dzr[c];
            const float z = gt * ((xr[c] - m) * inv) + bt_;
            dzr[c] = bnad_act_dx(gd, z, elu);
        }
    }
    const double cnt = (double)(B * D);
#pragma omp parallel for schedule(static) if (N >= S3_PAR_MIN)
    for (int64_t t = 0; t < n; t++) BN_POSITION_BACKWARD(t, dz, ((xd[e] - mean[t]) * inv_std[t]), dx, dg, db);
}

lra_tensor *lra_s3_bn_act_dropout(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta,
                                  float *running_mean, float *running_var, float momentum, int training, int elu,
                                  float p, uint64_t stream) {
    x = lra_op_contiguous(ctx, x);
    LRA_ASSERT_MSG(x->ndim == 3 && gamma->shape[0] == x->shape[1] && beta->shape[0] == x->shape[1],
                   "s3 batchnorm: x [B, n, D], gamma/beta [n]");
    LRA_ASSERT_MSG(p >= 0.0f && p < 1.0f, "s3 smoother dropout p=%g outside [0, 1)", (double)p);
    LRA_ASSERT_MSG(ctx->example_offset >= 0, "s3 smoother: negative example_offset");
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2], N = B * n * D;
    const int drop = ctx->training && p > 0.0f;
    bnad_extra *ex = lra_arena_calloc(ctx->arena, sizeof *ex);
    *ex = (bnad_extra){.B = B, .n = n, .D = D, .training = training, .elu = elu,
                       .scale = drop ? 1.0f / (1.0f - p) : 1.0f};
    ex->mean = lra_arena_alloc(ctx->arena, (size_t)n * sizeof(float));
    ex->inv_std = lra_arena_alloc(ctx->arena, (size_t)n * sizeof(float));
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, 3);
    const float *xd = lra_f32(x), *g = lra_f32(gamma), *bt = lra_f32(beta);
    float *yd = lra_f32(y);
#pragma omp parallel for schedule(static) if (N >= S3_PAR_MIN)
    for (int64_t t = 0; t < n; t++) {
        bn_position_stats(xd, B, n, D, t, training, running_mean, running_var, momentum, &ex->mean[t],
                          &ex->inv_std[t]);
        const float m = ex->mean[t], inv = ex->inv_std[t];
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 0; c < D; c++) {
                const int64_t e = (b * n + t) * D + c;
                yd[e] = bnad_act(g[t] * ((xd[e] - m) * inv) + bt[t], elu);
            }
    }
    if (drop) {
        // lra_op_dropout's mask: element i of example b is element (example_offset + b) n D + i
        ex->keep = lra_arena_alloc(ctx->arena, (size_t)N);
        const uint64_t base = (uint64_t)ctx->example_offset * (uint64_t)(n * D);
        const int64_t chunk = 2048, nchunk = (N + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (N >= S3_PAR_MIN)
        for (int64_t c = 0; c < nchunk; c++) {
            const int64_t i0 = c * chunk, len = N - i0 < chunk ? N - i0 : chunk;
            lra_rng_fill_keep(ctx->seed, stream, base + (uint64_t)i0, ex->keep + i0, (size_t)len, p);
            for (int64_t i = i0; i < i0 + len; i++) yd[i] = yd[i] * (ex->scale * (float)ex->keep[i]);
        }
    }
    lra_node *nd = lra_tape_record(ctx, "s3.bn_act_dropout", bnad_backward, y, 3, (lra_tensor *[]){x, gamma, beta});
    if (nd) nd->extra = ex;
    return y;
}

// ---------------------------------------------------------------------------------------------- kernel

static int add_param(lra_params *p, const char *prefix, const char *name, const int64_t *shape, int nd,
                     lra_init_kind init, float a, int trainable) {
    char buf[LRA_PARAM_NAME_MAX];
    snprintf(buf, sizeof buf, "%s%s", prefix ? prefix : "", name);
    int i = lra_params_add(p, buf, shape, nd, init, a);
    if (!trainable) lra_params_set_trainable(p, i, 0);
    return i;
}

static lra_status s3_validate(const lra_attn_setup *setup) {
    const int r = (int)lra_attn_value(setup->opts, "r");
    const int code = (int)lra_attn_value(setup->opts, "smoother") == 1;
    if (setup->n_heads * setup->head_dim != setup->model_dim)
        return lra_error(LRA_ERR_CONFIG, "attention 's3': heads x head_dim (%d x %d) must equal the model width %d",
                         setup->n_heads, setup->head_dim, setup->model_dim);
    if (!code && setup->model_dim % r)
        return lra_error(LRA_ERR_CONFIG, "attention 's3' option 'r': expected a divisor of the model width %d, got %d",
                         setup->model_dim, r);
    return LRA_OK;
}

// ------------------------------------------------------------------ masked selection
// m.K and m.V restricted to the sampled tokens (axis 2) or features (axis 3) as one op: out = x[.., idx, ..]
// * m[b, position], equal to index_select followed by the mask product (and their gradients), without
// the selected copy and the product's buffers.
typedef struct {
    int axis;
    const int32_t *idx;
    const float *mask;  // [B, n]
    int64_t B, H, n, p, k;
} msel_extra;

static void msel_backward(lra_ctx *ctx, lra_node *node) {
    const msel_extra *me = node->extra;
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    const int64_t B = me->B, H = me->H, n = me->n, p = me->p, k = me->k;
    const float *gy = node->out->grad;
    float *dx = lra_grad(ctx, x);
#pragma omp parallel for schedule(static) if (B * H * n * k >= S3_PAR_MIN)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const float *m = me->mask + (bh / H) * n;
        if (me->axis == 2) {  // rows idx[j] of dx += m * rows j of gy, j in order
            for (int64_t j = 0; j < k; j++) {
                const float mj = m[me->idx[j]];
                float *d = dx + (bh * n + me->idx[j]) * p;
                const float *g = gy + (bh * k + j) * p;
                for (int64_t c = 0; c < p; c++) d[c] += g[c] * mj;
            }
        } else {  // columns idx[j] of each row
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < k; j++) dx[(bh * n + i) * p + me->idx[j]] += gy[(bh * n + i) * k + j] * m[i];
        }
    }
}

// x: [B, H, n, p] contiguous, idx: [k] positions (axis 2) or features (axis 3), mask [B, n]
static lra_tensor *masked_select(lra_ctx *ctx, lra_tensor *x, int axis, const lra_tensor *idx, const lra_tensor *mask) {
    x = lra_op_contiguous(ctx, x);
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], k = lra_tensor_numel(idx);
    msel_extra *me = lra_arena_alloc(ctx->arena, sizeof *me);
    *me = (msel_extra){axis, lra_i32(idx), lra_f32(mask), B, H, n, p, k};
    const int64_t shape[4] = {B, H, axis == 2 ? k : n, axis == 2 ? p : k};
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, shape, 4);
    const float *xd = lra_f32(x);
    float *o = lra_f32(out);
#pragma omp parallel for schedule(static) if (B * H * n * k >= S3_PAR_MIN)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const float *m = me->mask + (bh / H) * n;
        if (axis == 2) {
            for (int64_t j = 0; j < k; j++) {
                const float mj = m[me->idx[j]];
                for (int64_t c = 0; c < p; c++) o[(bh * k + j) * p + c] = xd[(bh * n + me->idx[j]) * p + c] * mj;
            }
        } else {
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < k; j++) o[(bh * n + i) * k + j] = xd[(bh * n + i) * p + me->idx[j]] * m[i];
        }
    }
    lra_node *nd = lra_tape_record(ctx, "s3.masked_select", msel_backward, out, 1, (lra_tensor *[]){x});
    if (nd) nd->extra = me;
    return out;
}

// ------------------------------------------------------------------ output fusion
// O = (LN_a(merge(y1)) + LN_b(merge(y2))) / 2, split back into heads, as one op: the rows over the merged
// heads are gathered into per-thread buffers, so neither the merged copies, the two normalised tensors, their
// sum nor the split copy exist.  The row arithmetic is layer norm's own (core/layer_norm_rows.h) and the
// sum and halving are those of the add and scale ops, so values and gradients equal the chain of ops.
typedef struct {
    const float *y[2], *w[2], *b[2];  // inputs [B, H, n, p] and the two norms' parameters [H p]
    float *mean[2], *rstd[2];         // [B n] each
    int64_t B, H, n, p;
} fuse_saved;

// Row r = (b, i) over the merged heads: x[h p + c] = y[b, h, i, c].
static void fuse_gather(const fuse_saved *f, const float *y, int64_t r, float *x) {
    const int64_t b = r / f->n, i = r % f->n, p = f->p;
    for (int64_t h = 0; h < f->H; h++) memcpy(x + h * p, y + ((b * f->H + h) * f->n + i) * p, (size_t)p * sizeof(float));
}

static void fuse_backward(lra_ctx *ctx, lra_node *node) {
    const fuse_saved *f = node->extra;
    const int64_t R = f->B * f->n, D = f->H * f->p, p = f->p, nblk = (R + LN_BLOCK_ROWS - 1) / LN_BLOCK_ROWS;
    const float *gy = node->out->grad;
    float *gx[2] = {NULL, NULL}, *gw[2] = {NULL, NULL}, *gb[2] = {NULL, NULL};
    double *pw[2] = {NULL, NULL}, *pb[2] = {NULL, NULL};
    int add[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        lra_tensor *y = node->in[t], *w = node->in[2 + 2 * t], *b = node->in[3 + 2 * t];
        if (y->requires_grad) gx[t] = lra_grad_for_write(ctx, y, &add[t]);
        if (w->requires_grad) {
            gw[t] = lra_grad(ctx, w);
            pw[t] = lra_arena_calloc(ctx->arena, (size_t)(nblk * D) * sizeof(double));
        }
        if (b->requires_grad) {
            gb[t] = lra_grad(ctx, b);
            pb[t] = lra_arena_calloc(ctx->arena, (size_t)(nblk * D) * sizeof(double));
        }
    }
    const int nt = omp_get_max_threads();
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)(3 * D) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblk; blk++) {
        float *g = scratch + (size_t)omp_get_thread_num() * (size_t)(3 * D), *x = g + D, *gxr = x + D;
        const int64_t r1 = (blk + 1) * LN_BLOCK_ROWS < R ? (blk + 1) * LN_BLOCK_ROWS : R;
        for (int64_t r = blk * LN_BLOCK_ROWS; r < r1; r++) {
            fuse_gather(f, gy, r, g);
            for (int64_t j = 0; j < D; j++) g[j] *= 0.5f;  // the scale op's backward; the add passes it to both
            const int64_t b = r / f->n, i = r % f->n;
            for (int t = 0; t < 2; t++) {
                if (!gx[t] && !pw[t] && !pb[t]) continue;
                fuse_gather(f, f->y[t], r, x);
                if (gx[t]) {
                    for (int64_t h = 0; h < f->H && add[t]; h++)
                        memcpy(gxr + h * p, gx[t] + ((b * f->H + h) * f->n + i) * p, (size_t)p * sizeof(float));
                    ln_row_backward(x, g, f->w[t], f->mean[t][r], f->rstd[t][r], D, add[t], gxr);
                    for (int64_t h = 0; h < f->H; h++)
                        memcpy(gx[t] + ((b * f->H + h) * f->n + i) * p, gxr + h * p, (size_t)p * sizeof(float));
                }
                ln_row_param_sums(x, g, f->mean[t][r], f->rstd[t][r], D, pw[t] ? pw[t] + blk * D : NULL,
                                  pb[t] ? pb[t] + blk * D : NULL);
            }
        }
    }
    for (int t = 0; t < 2; t++)
        for (int64_t j = 0; j < D; j++) {
            double sw = 0.0, sb = 0.0;
            for (int64_t blk = 0; blk < nblk; blk++) {
                if (pw[t]) sw += pw[t][blk * D + j];
                if (pb[t]) sb += pb[t][blk * D + j];
            }
            if (gw[t]) gw[t][j] += (float)sw;
            if (gb[t]) gb[t][j] += (float)sb;
        }
}

lra_tensor *lra_s3_fuse_norms(lra_ctx *ctx, lra_tensor *y1, lra_tensor *y2, lra_tensor *wa, lra_tensor *ba,
                              lra_tensor *wb, lra_tensor *bb, float eps) {
    y1 = lra_op_contiguous(ctx, y1);
    y2 = lra_op_contiguous(ctx, y2);
    const int64_t B = y1->shape[0], H = y1->shape[1], n = y1->shape[2], p = y1->shape[3], R = B * n, D = H * p;
    LRA_ASSERT_MSG(y2->ndim == 4 && y2->shape[0] == B && y2->shape[1] == H && y2->shape[2] == n && y2->shape[3] == p,
                   "s3: the two branches' outputs differ in shape");
    LRA_ASSERT_MSG(lra_tensor_numel(wa) == D && lra_tensor_numel(ba) == D && lra_tensor_numel(wb) == D &&
                       lra_tensor_numel(bb) == D,
                   "s3: the output norms' parameters must have H p = %lld entries", (long long)D);
    fuse_saved *f = lra_arena_calloc(ctx->arena, sizeof *f);
    *f = (fuse_saved){.y = {lra_f32(y1), lra_f32(y2)},
                      .w = {lra_f32(wa), lra_f32(wb)},
                      .b = {lra_f32(ba), lra_f32(bb)},
                      .B = B, .H = H, .n = n, .p = p};
    for (int t = 0; t < 2; t++) {
        f->mean[t] = lra_arena_alloc(ctx->arena, (size_t)R * sizeof(float));
        f->rstd[t] = lra_arena_alloc(ctx->arena, (size_t)R * sizeof(float));
    }
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, y1->shape, 4);
    float *o = lra_f32(out);
    const int nt = omp_get_max_threads();
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)(3 * D) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        float *x = scratch + (size_t)omp_get_thread_num() * (size_t)(3 * D), *la = x + D, *lb = la + D;
        float *l[2] = {la, lb};
        for (int t = 0; t < 2; t++) {
            fuse_gather(f, f->y[t], r, x);
            ln_row_stats(x, D, eps, &f->mean[t][r], &f->rstd[t][r]);
            ln_row_forward(x, f->w[t], f->b[t], f->mean[t][r], f->rstd[t][r], D, l[t]);
        }
        const int64_t b = r / n, i = r % n;
        for (int64_t h = 0; h < H; h++) {
            float *orow = o + ((b * H + h) * n + i) * p;
            for (int64_t c = 0; c < p; c++) orow[c] = (la[h * p + c] + lb[h * p + c]) * 0.5f;
        }
    }
    lra_node *nd = lra_tape_record(ctx, "s3.fuse_norms", fuse_backward, out, 6, (lra_tensor *[]){y1, y2, wa, ba, wb, bb});
    if (nd) nd->extra = f;
    return out;
}

// ------------------------------------------------------------------ the kernel

static void *s3_create(const lra_attn_setup *setup, lra_params *params) {
    s3_state *s = lra_xcalloc(1, sizeof *s);
    const lra_attn_values *o = setup->opts;
    s->smoother = (int)lra_attn_value(o, "smoother");
    s->D = setup->model_dim;
    s->H = setup->n_heads;
    s->p = setup->head_dim;
    s->n = setup->seq_len;
    s->layer = setup->layer;
    s->r = s->smoother == SMOOTHER_CODE ? s->D : (int)lra_attn_value(o, "r");
    s->k = s->smoother == SMOOTHER_CODE ? 1 : 3;
    LRA_ASSERT_MSG(s->H * s->p == s->D, "s3: heads x head_dim (%d x %d) must equal the model width %d", s->H, s->p,
                   s->D);
    LRA_ASSERT_MSG(s->D % s->r == 0, "s3: r=%d must divide the model width %d", s->r, s->D);
    LRA_ASSERT_MSG(s->n >= 1, "s3: the sequence length must be known at construction");
    const int64_t s1 = (int64_t)lra_attn_value(o, "s1"), s2 = (int64_t)lra_attn_value(o, "s2");
    s->s1 = s1 < s->n ? s1 : s->n;
    s->s2 = s2 < s->p ? s2 : s->p;
    s->drop_attn = (float)lra_attn_value(o, "dropout");
    s->drop_sm = (float)lra_attn_value(o, "smoother_dropout");
    s->index_mode = (int)lra_attn_value(o, "index_sets");
    s->token_mask = lra_attn_value(o, "token_mask") != 0;
    const int64_t D = s->D, nf = s->n / 2 + 1;
    const char *pre = setup->prefix;
    // L: Kaiming with fan_in = D*2 (torch's fan_in of an [nf, D, 2] tensor): normal std sqrt(2/fan_in) (paper)
    // or uniform bound sqrt(6/fan_in) (code).
    if (s->smoother == SMOOTHER_CODE)
        s->iL = add_param(params, pre, "smoother.L", LRA_DIMS(nf, D, 2), LRA_INIT_UNIFORM, sqrtf(6.0f / (2.0f * D)), 1);
    else
        s->iL = add_param(params, pre, "smoother.L", LRA_DIMS(nf, D, 2), LRA_INIT_NORMAL, sqrtf(2.0f / (2.0f * D)), 1);
    // Conv1d PyTorch default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, fan_in = 2D k.
    const float cb = 1.0f / sqrtf((float)(2 * D * s->k));
    s->iconv_w = add_param(params, pre, "smoother.conv.weight", LRA_DIMS(D, 2 * D, s->k), LRA_INIT_UNIFORM, cb, 1);
    s->iconv_b = add_param(params, pre, "smoother.conv.bias", LRA_DIMS(D), LRA_INIT_UNIFORM, cb, 1);
    s->ibn_w = add_param(params, pre, "smoother.bn.weight", LRA_DIMS(s->n), LRA_INIT_ONES, 0, 1);
    s->ibn_b = add_param(params, pre, "smoother.bn.bias", LRA_DIMS(s->n), LRA_INIT_ZEROS, 0, 1);
    s->ibn_mean = add_param(params, pre, "smoother.bn.running_mean", LRA_DIMS(s->n), LRA_INIT_ZEROS, 0, 0);
    s->ibn_var = add_param(params, pre, "smoother.bn.running_var", LRA_DIMS(s->n), LRA_INIT_ONES, 0, 0);
    lra_params_set_batch_stat(params, s->ibn_mean);
    lra_params_set_batch_stat(params, s->ibn_var);
    s->ilna_w = add_param(params, pre, "ln_a.weight", LRA_DIMS(D), LRA_INIT_ONES, 0, 1);
    s->ilna_b = add_param(params, pre, "ln_a.bias", LRA_DIMS(D), LRA_INIT_ZEROS, 0, 1);
    s->ilnb_w = add_param(params, pre, "ln_b.weight", LRA_DIMS(D), LRA_INIT_ONES, 0, 1);
    s->ilnb_b = add_param(params, pre, "ln_b.bias", LRA_DIMS(D), LRA_INIT_ZEROS, 0, 1);
    s->itok = add_param(params, pre, "index_tok", LRA_DIMS(s->s1), LRA_INIT_ZEROS, 0, 0);
    s->ifeat = add_param(params, pre, "index_feat", LRA_DIMS(s->s2), LRA_INIT_ZEROS, 0, 0);
    return s;
}

// First k entries of a random permutation of [0, n) into out (as floats when outf, else int32).
// perm: scratch [n].
static void draw_index_set(lra_rng *r, int64_t n, int64_t k, int32_t *perm, float *outf, int32_t *outi) {
    lra_rng_permutation(r, n, perm);
    for (int64_t i = 0; i < k; i++) {
        if (outf) outf[i] = (float)perm[i];
        if (outi) outi[i] = perm[i];
    }
}

static void s3_init_params(void *state, lra_params *params, uint64_t seed) {
    const s3_state *s = state;
    lra_rng r =
        lra_key_rng(lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_S3_INDEX_INIT, .seed = seed, .layer = s->layer}));
    int32_t *perm = lra_xmalloc((size_t)(s->n > s->p ? s->n : s->p) * sizeof(int32_t));
    draw_index_set(&r, s->n, s->s1, perm, lra_f32(lra_params_tensor(params, s->itok)), NULL);
    draw_index_set(&r, s->p, s->s2, perm, lra_f32(lra_params_tensor(params, s->ifeat)), NULL);
    free(perm);
}

static void s3_destroy(void *state) { free(state); }

// The stream of one of S3's dropout sites at this call (lra_op_dropout takes the seed from the context).
static uint64_t s3_dropout_stream(const lra_attn_call *call, lra_key_purpose purpose) {
    return lra_attn_draw_key(call, purpose, 0, 0).stream;
}

// x: [B, n, D] -> [B, n, D]
static lra_tensor *s3_smoother(void *state, lra_params *P, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                               const lra_attn_call *call) {
    const s3_state *s = state;
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2];
    LRA_ASSERT_MSG(n == s->n, "s3: the smoother's BatchNorm is built for length %lld, got %lld (pad to max length)",
                   (long long)s->n, (long long)n);
    LRA_ASSERT_MSG(D == s->D, "s3: model width %lld, expected %d", (long long)D, s->D);
    lra_tensor *u = x;
    if (s->r < D) u = lra_op_mean(ctx, lra_op_reshape(ctx, x, LRA_DIMS(B, n, s->r, D / s->r)), 3, 0);
    lra_tensor *msm = lra_s3_fft_filter(ctx, u, lra_params_tensor(P, s->iL), D);
    // Conv1d over [Msm, X] without the concatenated copy: the weight's input channels in two parts.
    lra_tensor *h = lra_s3_conv1d_parts(ctx, 2, (lra_tensor *[]){msm, x}, lra_params_tensor(P, s->iconv_w),
                                        lra_params_tensor(P, s->iconv_b));
    return lra_s3_bn_act_dropout(ctx, h, lra_params_tensor(P, s->ibn_w), lra_params_tensor(P, s->ibn_b),
                                 lra_f32(lra_params_tensor(P, s->ibn_mean)), lra_f32(lra_params_tensor(P, s->ibn_var)),
                                 S3_BN_MOMENTUM, ctx->training, s->smoother == SMOOTHER_CODE, s->drop_sm,
                                 s3_dropout_stream(call, LRA_KEY_S3_DROPOUT_SMOOTHER));
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *s3_forward(void *state, lra_params *P, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                              lra_tensor *mask, const lra_attn_call *call) {
    const s3_state *s = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    LRA_ASSERT_MSG(n == s->n && p == s->p && H == s->H, "s3: q is [%lld, %lld, %lld, %lld], built for H=%d n=%lld p=%d",
                   (long long)B, (long long)H, (long long)n, (long long)p, s->H, (long long)s->n, s->p);
    lra_tensor *itok = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(s->s1));
    lra_tensor *ifeat = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(s->s2));
    if (s->index_mode == INDEX_PER_CALL) {
        lra_rng r = lra_key_rng(lra_attn_draw_key(call, LRA_KEY_S3_INDEX_CALL, 0, 0));
        int32_t *perm = lra_arena_alloc(ctx->arena, (size_t)(n > p ? n : p) * sizeof(int32_t));
        draw_index_set(&r, n, s->s1, perm, NULL, lra_i32(itok));
        draw_index_set(&r, p, s->s2, perm, NULL, lra_i32(ifeat));
    } else {
        const float *ft = lra_f32(lra_params_tensor(P, s->itok)), *ff = lra_f32(lra_params_tensor(P, s->ifeat));
        for (int64_t i = 0; i < s->s1; i++) lra_i32(itok)[i] = (int32_t)ft[i];
        for (int64_t i = 0; i < s->s2; i++) lra_i32(ifeat)[i] = (int32_t)ff[i];
    }
    // K <- m.K and V <- m.V, applied to the selected rows and columns only (the same products, without
    // full-size masked copies).
    lra_tensor *mc = lra_op_contiguous(ctx, mask);
    // Token branch.
    lra_tensor *ks = masked_select(ctx, k, 2, itok, mc), *vs = masked_select(ctx, v, 2, itok, mc);
    lra_tensor *madd = NULL;
    if (s->token_mask) {
        madd = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, 1, s->s1));
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < s->s1; i++)
                lra_f32(madd)[b * s->s1 + i] = lra_f32(mask)[b * n + lra_i32(itok)[i]] != 0.0f ? 0.0f : -INFINITY;
    }
    lra_tensor *a1 = lra_op_softmax(ctx, lra_op_scale(ctx, lra_op_matmul(ctx, q, ks, 0, 1), 1.0f / sqrtf((float)p)), madd);
    if (ctx->training && s->drop_attn > 0.0f)
        a1 = lra_op_dropout(ctx, a1, s->drop_attn, s3_dropout_stream(call, LRA_KEY_S3_DROPOUT_TOKEN));
    lra_tensor *y1 = lra_op_matmul(ctx, a1, vs, 0, 0);  // [B, H, n, p]
    // Feature branch.
    lra_tensor *kf = masked_select(ctx, k, 3, ifeat, mc), *vf = masked_select(ctx, v, 3, ifeat, mc);
    lra_tensor *a2 = lra_op_softmax(ctx, lra_op_scale(ctx, lra_op_matmul(ctx, q, kf, 1, 0), 1.0f / sqrtf((float)n)), NULL);
    if (ctx->training && s->drop_attn > 0.0f)
        a2 = lra_op_dropout(ctx, a2, s->drop_attn, s3_dropout_stream(call, LRA_KEY_S3_DROPOUT_FEATURE));
    lra_tensor *y2 = lra_op_matmul(ctx, vf, a2, 0, 1);  // [B, H, n, s2] x [B, H, p, s2]^T -> [B, H, n, p]
    // Fusion over the merged heads.
    return lra_s3_fuse_norms(ctx, y1, y2, lra_params_tensor(P, s->ilna_w), lra_params_tensor(P, s->ilna_b),
                             lra_params_tensor(P, s->ilnb_w), lra_params_tensor(P, s->ilnb_b), 1e-5f);
}

const lra_attn_kernel_def lra_attn_s3 = {
    .name = "s3",
    .summary = "S3Attention: FFT smoother before the projections + skeleton attention (s1 tokens, s2 features)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = s3_validate,
    .create = s3_create,
    .init_params = s3_init_params,
    .pre_transform = s3_smoother,
    .forward = s3_forward,
    .destroy = s3_destroy,
};
