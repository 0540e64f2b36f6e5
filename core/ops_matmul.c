// Matrix products through lra_gemm (core/gemm.h): lra_op_matmul (batched, broadcasting, transpose flags) and
// lra_op_linear (PyTorch layout weight, one sgemm over all rows).  See core/ops.h.
//
// Every product, forward or backward, is phrased as D[j] (+)= X[i] . Y[i] summed over the output
// batches i that map to the destination batch j (broadcast batch dims of the destination are summed).
// Each destination batch is owned by one thread and its terms are added in increasing i, so results do
// not depend on the thread count.  When the batch folds into the rows (or into the inner dimension)
// of one operand the whole product is one big sgemm instead.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/gemm.h"
#include "core/ops_internal.h"
#include "core/ops.h"
#include "core/optable.h"
#include "core/status.h"

// A logical matrix: element (i, j) at p[i * rs + j * cs].
typedef struct {
    float *p;
    int64_t rows, cols, rs, cs;
} mat;

// A batch of matrices over (up to) two batch dims: batch (b0, b1) starts at p + b0*bstr[0] + b1*bstr[1].
// bsz[d] == 1 means the operand is broadcast (or summed, for a destination) over that dim.
typedef struct {
    mat m;
    int64_t bsz[2], bstr[2];
} bmat;

static mat mat_t(mat m) {
    mat t = {m.p, m.cols, m.rows, m.cs, m.rs};
    return t;
}

static bmat bmat_t(bmat b) {
    b.m = mat_t(b.m);
    return b;
}

// How cblas (row-major) sees m: NoTrans with ld = rs, or Trans of a stored [cols, rows] with ld = cs.
// Returns 0 when neither stride is unit (the caller must make a copy).
static int blas_layout(mat m, CBLAS_TRANSPOSE *t, int64_t *ld) {
    if (m.rows <= 1 && m.cols <= 1) {
        *t = CblasNoTrans;
        *ld = 1;
        return 1;
    }
    if (m.cols == 1 || m.cs == 1) {  // one column: any positive row stride works
        int64_t l = m.rows == 1 ? m.cols : m.rs;
        if (l >= m.cols && l >= 1) {
            *t = CblasNoTrans;
            *ld = l;
            return 1;
        }
    }
    if (m.rows == 1 || m.rs == 1) {
        int64_t l = m.cols == 1 ? m.rows : m.cs;
        if (l >= m.rows && l >= 1) {
            *t = CblasTrans;
            *ld = l;
            return 1;
        }
    }
    return 0;
}

// c = x . y + beta * c; c must be row-major (cs == 1).  direct: one untiled BLAS call (inside the
// parallel loop over many destinations), else the tiled lra_gemm.
static void gemm_with(mat c, mat x, mat y, float beta, int direct) {
    LRA_ASSERT(c.rows == x.rows && c.cols == y.cols && x.cols == y.rows);
    if (c.rows == 0 || c.cols == 0) return;
    if (x.cols == 0) {  // empty inner dimension: the product is zero
        if (beta == 0.0f)
            for (int64_t r = 0; r < c.rows; r++) memset(c.p + r * c.rs, 0, (size_t)c.cols * sizeof(float));
        return;
    }
    CBLAS_TRANSPOSE tx, ty, tc;
    int64_t lx, ly, lc;
    LRA_ASSERT(blas_layout(x, &tx, &lx) && blas_layout(y, &ty, &ly));
    LRA_ASSERT(blas_layout(c, &tc, &lc) && tc == CblasNoTrans);
    if (direct)
        lra_gemm_direct(tx == CblasTrans, ty == CblasTrans, c.rows, c.cols, x.cols, 1.0f, x.p, lx, y.p, ly, beta, c.p, lc);
    else
        lra_gemm(tx == CblasTrans, ty == CblasTrans, c.rows, c.cols, x.cols, 1.0f, x.p, lx, y.p, ly, beta, c.p, lc);
}

static void gemm(mat c, mat x, mat y, float beta) { gemm_with(c, x, y, beta, 0); }

// c = x . y + bias in every row (bias [c.cols]), c's old contents ignored; c row-major.
static void gemm_bias(mat c, mat x, mat y, const float *bias) {
    LRA_ASSERT(c.rows == x.rows && c.cols == y.cols && x.cols == y.rows);
    CBLAS_TRANSPOSE tx, ty, tc;
    int64_t lx, ly, lc;
    LRA_ASSERT(blas_layout(c, &tc, &lc) && tc == CblasNoTrans);
    if (x.cols == 0) {  // empty inner dimension: the bias alone
        for (int64_t r = 0; r < c.rows; r++) memcpy(c.p + r * c.rs, bias, (size_t)c.cols * sizeof(float));
        return;
    }
    LRA_ASSERT(blas_layout(x, &tx, &lx) && blas_layout(y, &ty, &ly));
    lra_gemm_bias_batched(1, tx == CblasTrans, ty == CblasTrans, c.rows, c.cols, x.cols, 1.0f, x.p, lx, 0, y.p, ly, 0,
                          bias, c.p, lc, 0);
}

static float *bmat_at(const bmat *b, int64_t i0, int64_t i1) {
    return b->m.p + (b->bsz[0] == 1 ? 0 : i0 * b->bstr[0]) + (b->bsz[1] == 1 ? 0 : i1 * b->bstr[1]);
}

// Collapses batch dims (sizes must equal ob where ob > 1) and one matrix dim (n, s) into a single dim.
// Returns 0 if the layout does not allow it; else the folded size and stride.
static int fold_dim(const bmat *b, const int64_t ob[2], int64_t n, int64_t s, int64_t *fn, int64_t *fs) {
    int64_t sz[3] = {b->bsz[0], b->bsz[1], n}, st[3] = {b->bstr[0], b->bstr[1], s};
    for (int d = 0; d < 2; d++)
        if (ob[d] > 1 && sz[d] != ob[d]) return 0;
    int64_t cur_n = 1, cur_s = 1;
    int have = 0;
    for (int d = 2; d >= 0; d--) {
        if (sz[d] == 1) continue;
        if (have && st[d] != cur_s * cur_n) return 0;
        if (!have) cur_s = st[d];
        cur_n *= sz[d];
        have = 1;
    }
    *fn = cur_n;
    *fs = have ? cur_s : 1;
    return 1;
}

// D[j] = X[i] . Y[i] (+ D[j] when accumulate) summed over output batches i (shape ob) mapping to j.
// Products of at most this many flops, summed into one destination, are gathered into one product (see
// batched_gemm); larger ones run well one after another (measured on Linformer's dE: gathering cuts the
// step's matmul backward at n 256 (135 -> 50 ms) and n 1024 (131 -> 108 ms) and slows it at n 2000, whose
// single products are 33 MFLOP).
#define GATHER_MAX_FLOPS (24.0 * 1024 * 1024)

// The matrices of output batches [lo0, hi0) x [lo1, hi1), in batch order, side by side in row-major
// copies: X's as the column blocks of xf [x.rows, cnt x.cols], Y's as the row blocks of a [cnt y.rows,
// y.cols] matrix, stored transposed (yf [y.cols, cnt y.rows]) when Y's columns are its contiguous dim,
// so every copy reads along memory.  Returns the gathered X and Y as mats.
static void gather_batches(const bmat *x, const bmat *y, const int64_t lo[2], const int64_t hi[2], float *xf,
                           float *yf, mat *xm, mat *ym) {
    const int64_t n1 = hi[1] - lo[1], cnt = (hi[0] - lo[0]) * n1;
    const int64_t xr = x->m.rows, xc = x->m.cols, yr = y->m.rows, yc = y->m.cols;
    const int y_by_cols = y->m.rs == 1 && y->m.cs != 1;
#pragma omp parallel for schedule(static) if (cnt * (xr * xc + yr * yc) >= 65536)
    for (int64_t i = 0; i < cnt; i++) {
        const int64_t i0 = lo[0] + i / n1, i1 = lo[1] + i % n1;
        const float *xp = bmat_at(x, i0, i1), *yp = bmat_at(y, i0, i1);
        for (int64_t r = 0; r < xr; r++)
            for (int64_t c = 0; c < xc; c++) xf[r * cnt * xc + i * xc + c] = xp[r * x->m.rs + c * x->m.cs];
        if (y_by_cols)
            for (int64_t c = 0; c < yc; c++)
                for (int64_t r = 0; r < yr; r++) yf[c * cnt * yr + i * yr + r] = yp[r + c * y->m.cs];
        else
            for (int64_t r = 0; r < yr; r++)
                for (int64_t c = 0; c < yc; c++) yf[(i * yr + r) * yc + c] = yp[r * y->m.rs + c * y->m.cs];
    }
    *xm = (mat){xf, xr, cnt * xc, cnt * xc, 1};
    *ym = y_by_cols ? (mat){yf, cnt * yr, yc, 1, cnt * yr} : (mat){yf, cnt * yr, yc, yc, 1};
}

// Destination j of batched_gemm: the sum over its output batches, one product after another (direct:
// one untiled BLAS call each, from inside the caller's parallel loop), or gathered into one product when
// xf and yf are given.
static void one_destination(const bmat *d, const bmat *x, const bmat *y, const int64_t ob[2], int64_t j, float beta0,
                            int accumulate, int direct, float *xf, float *yf) {
    int64_t j0 = j / d->bsz[1], j1 = j % d->bsz[1];
    int64_t lo0 = d->bsz[0] == 1 ? 0 : j0, hi0 = d->bsz[0] == 1 ? ob[0] : j0 + 1;
    int64_t lo1 = d->bsz[1] == 1 ? 0 : j1, hi1 = d->bsz[1] == 1 ? ob[1] : j1 + 1;
    mat dm = d->m;
    dm.p = bmat_at(d, j0, j1);
    if (xf) {
        mat xm, ym;
        gather_batches(x, y, (const int64_t[]){lo0, lo1}, (const int64_t[]){hi0, hi1}, xf, yf, &xm, &ym);
        gemm(dm, xm, ym, beta0);
        return;
    }
    int first = 1;
    for (int64_t i0 = lo0; i0 < hi0; i0++)
        for (int64_t i1 = lo1; i1 < hi1; i1++) {
            mat xm = x->m, ym = y->m;
            xm.p = bmat_at(x, i0, i1);
            ym.p = bmat_at(y, i0, i1);
            gemm_with(dm, xm, ym, first ? beta0 : 1.0f, direct);
            first = 0;
        }
    if (first && !accumulate) {  // empty batch range: D = 0
        for (int64_t r = 0; r < dm.rows; r++) memset(dm.p + r * dm.rs, 0, (size_t)dm.cols * sizeof(float));
    }
}

// scratch: an arena for gathered copies (NULL: never gather).
static void batched_gemm(bmat d, bmat x, bmat y, const int64_t ob[2], int accumulate, lra_arena *scratch) {
    int64_t nb_out = ob[0] * ob[1];
    float beta0 = accumulate ? 1.0f : 0.0f;
    int y_bcast = y.bsz[0] * y.bsz[1] == 1, d_full = d.bsz[0] * d.bsz[1] == nb_out;
    // Batch folded into the rows of D and X (Y shared by all batches): one sgemm.
    if (nb_out > 1 && y_bcast && d_full) {
        int64_t dn, ds, xn, xs;
        if (fold_dim(&d, ob, d.m.rows, d.m.rs, &dn, &ds) && d.m.cs == 1 &&
            fold_dim(&x, ob, x.m.rows, x.m.rs, &xn, &xs)) {
            mat dm = {d.m.p, dn, d.m.cols, ds, 1}, xm = {x.m.p, xn, x.m.cols, xs, x.m.cs};
            CBLAS_TRANSPOSE t;
            int64_t l;
            if (blas_layout(dm, &t, &l) && t == CblasNoTrans && blas_layout(xm, &t, &l)) {
                gemm(dm, xm, y.m, beta0);
                return;
            }
        }
    }
    // Batch summed into one destination: fold it into the inner dimension (X's cols, Y's rows).
    if (nb_out > 1 && d.bsz[0] * d.bsz[1] == 1) {
        int64_t xn, xs, yn, ys;
        if (fold_dim(&x, ob, x.m.cols, x.m.cs, &xn, &xs) && fold_dim(&y, ob, y.m.rows, y.m.rs, &yn, &ys)) {
            mat xm = {x.m.p, x.m.rows, xn, x.m.rs, xs}, ym = {y.m.p, yn, y.m.cols, ys, y.m.cs};
            CBLAS_TRANSPOSE t;
            int64_t l;
            if (blas_layout(xm, &t, &l) && blas_layout(ym, &t, &l)) {
                gemm(d.m, xm, ym, beta0);
                return;
            }
        }
    }
    int64_t nd = d.bsz[0] * d.bsz[1];
    // Many destinations: parallel over them, one untiled BLAS call each (no tile packing overhead).  Few:
    // the loop is serial and each product spreads its tiles over the threads.  The choice depends on the
    // shapes only, so results do not depend on the thread count.
    const int par = nd >= LRA_GEMM_DIRECT_MIN_BATCH;
    // Few destinations, each the sum of several small products (Linformer's per-head dE = sum_b dY_b K_b^T
    // over [k, p] and [p, n] blocks): one small product after another each pays OpenBLAS's set-up and its
    // own parallel region, so each destination's batches are copied side by side into one product with a
    // long inner dimension.
    const int64_t summed = nb_out / (nd > 0 ? nd : 1);
    const double flops = 2.0 * (double)d.m.rows * (double)d.m.cols * (double)x.m.cols;
    const int gather = !par && scratch && summed > 1 && x.m.cols > 0 && flops <= GATHER_MAX_FLOPS;
    float *xf = NULL, *yf = NULL;
    if (gather) {
        xf = lra_arena_alloc(scratch, (size_t)(x.m.rows * summed * x.m.cols) * sizeof(float));
        yf = lra_arena_alloc(scratch, (size_t)(summed * y.m.rows * y.m.cols) * sizeof(float));
    }
    // Not one `parallel for if (par)`: a region that is not taken still counts as a nesting level, so
    // the products' own regions inside it would get a second team of threads while ours spin (measured:
    // Linformer's dE at n 256 took 5.8 ms at two threads against 4.4 ms at one).
    if (par) {
#pragma omp parallel for schedule(static)
        for (int64_t j = 0; j < nd; j++) one_destination(&d, &x, &y, ob, j, beta0, accumulate, 1, NULL, NULL);
    } else {
        for (int64_t j = 0; j < nd; j++) one_destination(&d, &x, &y, ob, j, beta0, accumulate, 0, xf, yf);
    }
}

// The batch-of-matrices description of t (data or a contiguous buffer `base` of t's logical shape),
// transposed when trans.  Batch dims are right-aligned into two slots.
static bmat bmat_of(const lra_tensor *t, float *base, int contiguous_layout, int trans) {
    int64_t st[LRA_MAX_DIMS] = {0, 0, 0, 0};
    LRA_ASSERT(t->ndim >= 2 && t->ndim <= LRA_MAX_DIMS);
    if (contiguous_layout) {
        int64_t s = 1;
        for (int i = t->ndim - 1; i >= 0; i--) {
            st[i] = s;
            s *= t->shape[i];
        }
    } else {
        for (int i = 0; i < t->ndim; i++) st[i] = t->stride[i];
    }
    bmat b;
    int nd = t->ndim;
    b.m.p = base;
    b.m.rows = t->shape[nd - 2];
    b.m.cols = t->shape[nd - 1];
    b.m.rs = st[nd - 2];
    b.m.cs = st[nd - 1];
    b.bsz[0] = b.bsz[1] = 1;
    b.bstr[0] = b.bstr[1] = 0;
    for (int i = nd - 3, slot = 1; i >= 0; i--, slot--) {
        b.bsz[slot] = t->shape[i];
        b.bstr[slot] = st[i];
    }
    if (trans) b.m = mat_t(b.m);
    return b;
}

// t itself when its matrices can be handed to sgemm, else a contiguous copy in the arena.
static lra_tensor *blas_ready(lra_ctx *ctx, lra_tensor *t) {
    bmat b = bmat_of(t, lra_f32(t), 0, 0);
    CBLAS_TRANSPOSE tr;
    int64_t ld;
    if (blas_layout(b.m, &tr, &ld)) return t;
    lra_tensor *c = lra_tensor_new(ctx->arena, LRA_F32, t->shape, t->ndim);
    lra_tensor_gather_contiguous(t, c->data);
    return c;
}

static void matmul_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *a = node->in[0], *b = node->in[1], *ad = node->saved[0], *bd = node->saved[1], *y = node->out;
    int ta = (int)node->iattr[0], tb = (int)node->iattr[1];
    int64_t ob[2] = {node->iattr[2], node->iattr[3]};
    bmat A = bmat_of(ad, lra_f32(ad), 0, ta), B = bmat_of(bd, lra_f32(bd), 0, tb);
    bmat G = bmat_of(y, y->grad, 1, 0);  // dC: [ob, M, N]
    if (a->requires_grad) {
        bmat gA = bmat_of(a, lra_grad(ctx, a), 1, 0);  // a's logical layout: [M, K] or [K, M] when ta
        if (!ta)
            batched_gemm(gA, G, bmat_t(B), ob, 1, ctx->arena);  // dA = dC . opB^T
        else
            batched_gemm(gA, B, bmat_t(G), ob, 1, ctx->arena);  // dA = opB . dC^T
    }
    if (b->requires_grad) {
        bmat gB = bmat_of(b, lra_grad(ctx, b), 1, 0);
        if (!tb)
            batched_gemm(gB, bmat_t(A), G, ob, 1, ctx->arena);  // dB = opA^T . dC
        else
            batched_gemm(gB, bmat_t(G), A, ob, 1, ctx->arena);  // dB = dC^T . opA
    }
}

// a: [..., M, K] (or [..., K, M] when trans_a), b: [..., K, N] (or [..., N, K]) -> [..., M, N]
lra_tensor *lra_op_matmul(lra_ctx *ctx, lra_tensor *a, lra_tensor *b, int trans_a, int trans_b) {
    LRA_ASSERT_MSG(a->dtype == LRA_F32 && b->dtype == LRA_F32, "matmul needs f32 tensors");
    LRA_ASSERT_MSG(a->ndim >= 2 && b->ndim >= 2, "matmul needs at least 2-d operands (got %d and %d)", a->ndim,
                   b->ndim);
    lra_tensor *ad = blas_ready(ctx, a), *bd = blas_ready(ctx, b);
    bmat A = bmat_of(ad, lra_f32(ad), 0, trans_a != 0), B = bmat_of(bd, lra_f32(bd), 0, trans_b != 0);
    LRA_ASSERT_MSG(A.m.cols == B.m.rows, "matmul inner dimensions differ: %lld vs %lld", (long long)A.m.cols,
                   (long long)B.m.rows);
    int64_t ob[2];
    for (int d = 0; d < 2; d++) {
        LRA_ASSERT_MSG(A.bsz[d] == B.bsz[d] || A.bsz[d] == 1 || B.bsz[d] == 1,
                       "matmul batch dims do not broadcast: %lld vs %lld", (long long)A.bsz[d], (long long)B.bsz[d]);
        ob[d] = A.bsz[d] > B.bsz[d] ? A.bsz[d] : B.bsz[d];
    }
    int nbd = (a->ndim > b->ndim ? a->ndim : b->ndim) - 2;
    int64_t shape[LRA_MAX_DIMS];
    int nd = 0;
    for (int d = 2 - nbd; d < 2; d++) shape[nd++] = ob[d];
    shape[nd++] = A.m.rows;
    shape[nd++] = B.m.cols;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    bmat C = bmat_of(y, lra_f32(y), 1, 0);
    batched_gemm(C, A, B, ob, 0, ctx->arena);
    lra_node *node = lra_tape_record(ctx, "matmul", matmul_backward, y, 2, (lra_tensor *[]){a, b});
    if (node) {
        node->saved[0] = ad;
        node->saved[1] = bd;
        node->n_saved = 2;
        node->iattr[0] = trans_a != 0;
        node->iattr[1] = trans_b != 0;
        node->iattr[2] = ob[0];
        node->iattr[3] = ob[1];
    }
    return y;
}

// ---------------------------------------------------------------- linear

// The rows of x [..., in] as one matrix [R, in] if the leading dims collapse; else returns 0.
static int rows_matrix(const lra_tensor *t, mat *m) {
    int nd = t->ndim;
    int64_t n = 1, s = 1;
    int have = 0;
    for (int d = nd - 2; d >= 0; d--) {
        if (t->shape[d] == 1) continue;
        if (have && t->stride[d] != s * n) return 0;
        if (!have) s = t->stride[d];
        n *= t->shape[d];
        have = 1;
    }
    m->p = lra_f32(t);
    m->rows = n;
    m->cols = t->shape[nd - 1];
    m->rs = have ? s : m->cols;
    m->cs = t->stride[nd - 1];
    CBLAS_TRANSPOSE tr;
    int64_t ld;
    return blas_layout(*m, &tr, &ld);
}

#define LINEAR_BIAS_BLOCK 1024  // rows per partial sum of the bias gradient (fixed: thread-independent)

static void linear_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0], *w = node->in[1], *bias = node->in[2], *xd = node->saved[0], *y = node->out;
    int64_t in = w->shape[1], out = w->shape[0];
    mat X, W = {lra_f32(w), out, in, w->stride[0], w->stride[1]};
    if (node->n_saved > 1) W = (mat){lra_f32(node->saved[1]), out, in, in, 1};
    LRA_ASSERT(rows_matrix(xd, &X));
    int64_t R = X.rows;
    mat G = {y->grad, R, out, out, 1};
    if (x->requires_grad) {
        int add;
        mat gX = {lra_grad_for_write(ctx, x, &add), R, in, in, 1};
        gemm(gX, G, W, add ? 1.0f : 0.0f);  // dx (+)= dy . W
    }
    if (w->requires_grad) {
        mat gW = {lra_grad(ctx, w), out, in, in, 1};
        gemm(gW, mat_t(G), X, 1.0f);  // dW += dy^T . x
    }
    if (bias && bias->requires_grad) {
        float *gb = lra_grad(ctx, bias);
        const float *gy = y->grad;
        int64_t nblk = (R + LINEAR_BIAS_BLOCK - 1) / LINEAR_BIAS_BLOCK;
        double *part = lra_arena_alloc(ctx->arena, (size_t)(nblk ? nblk : 1) * (size_t)out * sizeof(double));
#pragma omp parallel for schedule(static) if (nblk > 1)
        for (int64_t k = 0; k < nblk; k++) {
            double *acc = part + k * out;
            for (int64_t j = 0; j < out; j++) acc[j] = 0.0;
            int64_t r1 = (k + 1) * LINEAR_BIAS_BLOCK < R ? (k + 1) * LINEAR_BIAS_BLOCK : R;
            for (int64_t r = k * LINEAR_BIAS_BLOCK; r < r1; r++)
                for (int64_t j = 0; j < out; j++) acc[j] += gy[r * out + j];
        }
        for (int64_t j = 0; j < out; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < nblk; k++) s += part[k * out + j];
            gb[j] += (float)s;
        }
    }
}

// x: [..., in], w: [out, in], bias: [out] or NULL -> [..., out]
lra_tensor *lra_op_linear(lra_ctx *ctx, lra_tensor *x, lra_tensor *w, lra_tensor *bias) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && w->dtype == LRA_F32, "linear needs f32 tensors");
    LRA_ASSERT_MSG(w->ndim == 2 && x->ndim >= 1, "linear: w must be [out, in] (got %d dims)", w->ndim);
    int64_t in = w->shape[1], out = w->shape[0];
    LRA_ASSERT_MSG(x->shape[x->ndim - 1] == in, "linear: x's last dim %lld != w's in %lld",
                   (long long)x->shape[x->ndim - 1], (long long)in);
    LRA_ASSERT_MSG(!bias || (bias->ndim == 1 && bias->shape[0] == out), "linear: bias must be [%lld]", (long long)out);
    mat X, W = {lra_f32(w), out, in, w->stride[0], w->stride[1]};
    lra_tensor *xd = x;
    if (!rows_matrix(x, &X)) {
        xd = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
        lra_tensor_gather_contiguous(x, xd->data);
        LRA_ASSERT(rows_matrix(xd, &X));
    }
    CBLAS_TRANSPOSE tr;
    int64_t ld;
    if (!blas_layout(W, &tr, &ld)) {  // a weight view with no unit stride: copy it for the product
        float *wc = lra_arena_alloc(ctx->arena, (size_t)(out * in) * sizeof(float));
        lra_tensor_gather_contiguous(w, wc);
        W.p = wc;
        W.rs = in;
        W.cs = 1;
    }
    int64_t shape[LRA_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = out;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, x->ndim);
    int64_t R = X.rows;
    mat Y = {lra_f32(y), R, out, out, 1};
    if (bias) gemm_bias(Y, X, mat_t(W), lra_ops_contig_data(ctx, bias));  // y = x W^T + b in one pass
    else gemm(Y, X, mat_t(W), 0.0f);
    lra_tensor *ins[3] = {x, w, bias};
    lra_node *node = lra_tape_record(ctx, "linear", linear_backward, y, 3, ins);
    if (node) {
        node->saved[0] = xd;
        node->n_saved = 1;
        if (W.p != lra_f32(w)) {  // backward reads w through the same copy
            node->saved[1] = lra_tensor_wrap(ctx->arena, LRA_F32, W.p, w->shape, 2);
            node->n_saved = 2;
        }
    }
    return y;
}

const lra_op_info lra_optable_matmul[] = {
    {"matmul", (lra_op_fn)lra_op_matmul, matmul_backward, 0},
    {"linear", (lra_op_fn)lra_op_linear, linear_backward, 0},
    {NULL, NULL, NULL, 0},
};
