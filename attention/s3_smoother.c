// S3Attention's smoother ops (see attention/s3.h): the FFT filter, the sequence Conv1d over one or two
// inputs, BatchNorm over positions, and BatchNorm + activation + dropout fused.  The kernel that chains
// them is attention/s3.c.
#include "attention/s3.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/fft.h"
#include "core/gemm.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/status.h"

#define S3_BN_EPS 1e-5f

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
    if (L->requires_grad) {  // dL[k, c] += sum over b (in order, in double) of dY conj(U[b, k, c mod r])
        float *dL = lra_grad(ctx, L);
        double *acc = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)per * sizeof(double));
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
#pragma omp parallel for schedule(static) if (B * edges * k * cin * cout >= LRA_S3_PAR_MIN)
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
#pragma omp parallel for schedule(static) if (B * edges * k * cin * cout >= LRA_S3_PAR_MIN)
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

// Position t's sum over (batch, features) of x - c (squares 0) or (x - c)^2 (squares 1), x [B, n, D], in
// double over eight fixed lanes of the feature index (added pairwise at the end): vectorised, and the
// order depends on the shape only.
static double bn_position_sum(const float *x, int64_t B, int64_t n, int64_t D, int64_t t, double c, int squares) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t bb = 0; bb < B; bb++) {
        const float *xr = x + (bb * n + t) * D;
        for (int64_t i = 0; i < D; i++) {
            const double d = (double)xr[i] - c;
            l[i % 8] += squares ? d * d : d;
        }
    }
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// Position t's mean and 1/std over (batch, features) of x [B, n, D]: batch statistics in training (and the
// running ones updated in place; each position is owned by one thread), else the running statistics.
static void bn_position_stats(const float *xd, int64_t B, int64_t n, int64_t D, int64_t t, int training,
                              float *running_mean, float *running_var, float momentum, float *mean, float *inv_std) {
    const int64_t cnt = B * D;
    double mu, var;
    if (training) {
        mu = bn_position_sum(xd, B, n, D, t, 0.0, 0) / (double)cnt;
        const double ss = bn_position_sum(xd, B, n, D, t, mu, 1);
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

// BatchNorm over positions, then an activation (none, ReLU or ELU(1)), then dropout, as one op (the
// smoother's tail; lra_s3_batchnorm_positions is the op with neither): only the output and the keep mask
// are stored; backward recomputes x-hat and the BatchNorm output from x and the statistics.  Each step
// rounds as its own op does, so values and gradients equal the chain.
typedef enum { BN_ACT_NONE, BN_ACT_RELU, BN_ACT_ELU } bn_act;

typedef struct {
    int64_t B, n, D;
    int training;
    bn_act act;
    float scale;            // dropout's 1 / (1 - p); 1 without dropout
    float *mean, *inv_std;  // [n]
    uint8_t *keep;          // [B n D] dropout's mask (NULL: no dropout)
} bnad_extra;

// The activation and its derivative as lra_op_relu and lra_op_elu (alpha 1) compute them.
static inline float bnad_act(float z, bn_act act) {
    return act == BN_ACT_ELU ? (z > 0.0f ? z : 1.0f * expm1f(z)) : act == BN_ACT_RELU ? (z > 0.0f ? z : 0.0f) : z;
}
static inline float bnad_act_dx(float g, float z, bn_act act) {
    return act == BN_ACT_ELU ? (z > 0.0f ? g : g * 1.0f * expf(z)) : act == BN_ACT_RELU ? (z > 0.0f ? g : 0.0f) : g;
}

// Position t's gradient through the BatchNorm from dz (the gradient at its output): dgamma, dbeta and (when
// dx) dx += gamma inv_std (dz - mean(dz) - x-hat mean(dz x-hat)), the means only with batch statistics.
// The two sums go over eight fixed lanes of the feature index, like bn_position_sum.
static void bn_position_backward(const bnad_extra *ex, const float *xd, const float *g, const float *dz, int64_t t,
                                 float *dx, float *dg, float *db) {
    const int64_t B = ex->B, n = ex->n, D = ex->D;
    const float m = ex->mean[t], inv = ex->inv_std[t];
    double l1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, l2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < D; c++) {
            const int64_t e = (b * n + t) * D + c;
            l1[c % 8] += dz[e];
            l2[c % 8] += (double)dz[e] * ((xd[e] - m) * inv);
        }
    const double sdz = ((l1[0] + l1[1]) + (l1[2] + l1[3])) + ((l1[4] + l1[5]) + (l1[6] + l1[7]));
    const double sdzx = ((l2[0] + l2[1]) + (l2[2] + l2[3])) + ((l2[4] + l2[5]) + (l2[6] + l2[7]));
    if (dg) dg[t] += (float)sdzx;
    if (db) db[t] += (float)sdz;
    if (!dx) return;
    const double cnt = (double)(B * D);
    const float a = g[t] * inv, mdz = ex->training ? (float)(sdz / cnt) : 0.0f,
                mdzx = ex->training ? (float)(sdzx / cnt) : 0.0f;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < D; c++) {
            const int64_t e = (b * n + t) * D + c;
            dx[e] += a * (dz[e] - mdz - ((xd[e] - m) * inv) * mdzx);
        }
}

static void bnad_backward(lra_ctx *ctx, lra_node *node) {
    const bnad_extra *ex = node->extra;
    lra_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    const int64_t B = ex->B, n = ex->n, D = ex->D, N = B * n * D;
    const bn_act act = ex->act;
    const float *xd = lra_f32(x), *g = lra_f32(gamma), *bt = lra_f32(beta), *mean = ex->mean, *inv_std = ex->inv_std;
    float *dx = x->requires_grad ? lra_grad(ctx, x) : NULL;
    float *dg = gamma->requires_grad ? lra_grad(ctx, gamma) : NULL;
    float *db = beta->requires_grad ? lra_grad(ctx, beta) : NULL;
    float *dz = node->out->grad;
    if (ex->keep || act != BN_ACT_NONE) {
        // Through dropout and the activation, in the output gradient's buffer (dead once this node has
        // run, unless the context keeps every gradient).
        if (ctx->retain_grads) {
            dz = lra_arena_alloc(ctx->arena, (size_t)N * sizeof(float));
            memcpy(dz, node->out->grad, (size_t)N * sizeof(float));
        }
#pragma omp parallel for schedule(static) if (N >= LRA_S3_PAR_MIN)
        for (int64_t row = 0; row < B * n; row++) {
            const int64_t t = row % n;
            const float gt = g[t], bt_ = bt[t], m = mean[t], inv = inv_std[t];
            float *dzr = dz + row * D;
            const float *xr = xd + row * D;
            const uint8_t *kr = ex->keep ? ex->keep + row * D : NULL;
            for (int64_t c = 0; c < D; c++) {
                const float gd = kr ? dzr[c] * (ex->scale * (float)kr[c]) : dzr[c];
                const float z = gt * ((xr[c] - m) * inv) + bt_;
                dzr[c] = bnad_act_dx(gd, z, act);
            }
        }
    }
#pragma omp parallel for schedule(static) if (N >= LRA_S3_PAR_MIN)
    for (int64_t t = 0; t < n; t++) bn_position_backward(ex, xd, g, dz, t, dx, dg, db);
}

static lra_tensor *bn_act_dropout(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta,
                                  float *running_mean, float *running_var, float momentum, int training, bn_act act,
                                  float p, uint64_t stream, const char *name) {
    x = lra_op_contiguous(ctx, x);
    LRA_ASSERT_MSG(x->ndim == 3 && gamma->shape[0] == x->shape[1] && beta->shape[0] == x->shape[1],
                   "s3 batchnorm: x [B, n, D], gamma/beta [n]");
    LRA_ASSERT_MSG(p >= 0.0f && p < 1.0f, "s3 smoother dropout p=%g outside [0, 1)", (double)p);
    LRA_ASSERT_MSG(ctx->example_offset >= 0, "s3 smoother: negative example_offset");
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2], N = B * n * D;
    const int drop = ctx->training && p > 0.0f;
    bnad_extra *ex = lra_arena_calloc(ctx->arena, sizeof *ex);
    *ex = (bnad_extra){.B = B, .n = n, .D = D, .training = training, .act = act,
                       .scale = drop ? 1.0f / (1.0f - p) : 1.0f};
    ex->mean = lra_arena_alloc(ctx->arena, (size_t)n * sizeof(float));
    ex->inv_std = lra_arena_alloc(ctx->arena, (size_t)n * sizeof(float));
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, 3);
    const float *xd = lra_f32(x), *g = lra_f32(gamma), *bt = lra_f32(beta);
    float *yd = lra_f32(y);
#pragma omp parallel for schedule(static) if (N >= LRA_S3_PAR_MIN)
    for (int64_t t = 0; t < n; t++) {
        bn_position_stats(xd, B, n, D, t, training, running_mean, running_var, momentum, &ex->mean[t],
                          &ex->inv_std[t]);
        const float m = ex->mean[t], inv = ex->inv_std[t];
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 0; c < D; c++) {
                const int64_t e = (b * n + t) * D + c;
                yd[e] = bnad_act(g[t] * ((xd[e] - m) * inv) + bt[t], act);
            }
    }
    if (drop) {
        // lra_op_dropout's mask: element i of example b is element (example_offset + b) n D + i
        ex->keep = lra_arena_alloc(ctx->arena, (size_t)N);
        const uint64_t base = (uint64_t)ctx->example_offset * (uint64_t)(n * D);
        const int64_t chunk = 2048, nchunk = (N + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (N >= LRA_S3_PAR_MIN)
        for (int64_t c = 0; c < nchunk; c++) {
            const int64_t i0 = c * chunk, len = N - i0 < chunk ? N - i0 : chunk;
            lra_rng_fill_keep(ctx->seed, stream, base + (uint64_t)i0, ex->keep + i0, (size_t)len, p);
            for (int64_t i = i0; i < i0 + len; i++) yd[i] = yd[i] * (ex->scale * (float)ex->keep[i]);
        }
    }
    lra_node *nd = lra_tape_record(ctx, name, bnad_backward, y, 3, (lra_tensor *[]){x, gamma, beta});
    if (nd) nd->extra = ex;
    return y;
}

lra_tensor *lra_s3_batchnorm_positions(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta,
                                       float *running_mean, float *running_var, float momentum, int training) {
    return bn_act_dropout(ctx, x, gamma, beta, running_mean, running_var, momentum, training, BN_ACT_NONE, 0.0f, 0,
                          "s3.batchnorm");
}

lra_tensor *lra_s3_bn_act_dropout(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta,
                                  float *running_mean, float *running_var, float momentum, int training, int elu,
                                  float p, uint64_t stream) {
    return bn_act_dropout(ctx, x, gamma, beta, running_mean, running_var, momentum, training,
                          elu ? BN_ACT_ELU : BN_ACT_RELU, p, stream, "s3.bn_act_dropout");
}
