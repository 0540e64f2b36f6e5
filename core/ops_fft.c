// FFT ops (see ops.h): rfft / irfft along any axis of any length, and the complex product with
// broadcasting.  Complex tensors carry a trailing dimension of 2 (re, im).  The transforms use the shared
// plan cache of core/fft.h (lra_fft_plan_get: one read-only plan per length, thread-safe) and its
// adjoints for backward; every transform is computed by one thread, so results do not depend on the
// thread count.
#include "core/ops.h"

#include <math.h>
#include <string.h>

#include "core/fft.h"
#include "core/ops_internal.h"
#include "core/optable.h"
#include "core/status.h"

// Below this many complex elements cmul stays on one thread.
#define FFT_PAR_MIN 8192

// Products of the dims before and after `ax` among the first `nd` dims of shape.
static void outer_inner(const int64_t *shape, int nd, int ax, int64_t *outer, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < ax; d++) *outer *= shape[d];
    for (int d = ax + 1; d < nd; d++) *inner *= shape[d];
}

// Layout of many transforms between a contiguous real [outer, n, inner] and a contiguous complex
// [outer, nb, inner, 2]; real_in says which one is the input.
static lra_fft_layout fft_layout(int64_t outer, int64_t inner, int64_t n, int64_t nb, int real_in) {
    lra_fft_layout l;
    int64_t r_outer = n * inner, r_inner = 1, r_stride = inner;
    int64_t c_outer = nb * inner * 2, c_inner = 2, c_stride = inner * 2;
    l.outer = outer;
    l.inner = inner;
    if (real_in) {
        l.in_outer = r_outer, l.in_inner = r_inner, l.in_stride = r_stride;
        l.out_outer = c_outer, l.out_inner = c_inner, l.out_stride = c_stride;
    } else {
        l.in_outer = c_outer, l.in_inner = c_inner, l.in_stride = c_stride;
        l.out_outer = r_outer, l.out_inner = r_inner, l.out_stride = r_stride;
    }
    return l;
}

// ---------------------------------------------------------------------------------------------- rfft

static void rfft_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    int64_t outer = node->iattr[0], inner = node->iattr[1], n = node->iattr[2];
    lra_fft_layout l = fft_layout(outer, inner, n, n / 2 + 1, 0);
    lra_fft_many(lra_fft_plan_get(n), LRA_FFT_RFFT_BACKWARD, &l, node->out->grad, lra_grad(ctx, x));
}

// x: real, at most 3 dims, length n along axis -> complex: x's shape with n -> n/2+1, plus a trailing 2
lra_tensor *lra_op_rfft(lra_ctx *ctx, lra_tensor *x, int axis) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim >= 1 && x->ndim < LRA_MAX_DIMS,
                   "rfft: x must be f32 with 1 to 3 dims (got %d)", x->ndim);
    int ax = lra_tensor_axis(x, axis);
    int64_t n = x->shape[ax], nb = n / 2 + 1, outer, inner;
    LRA_ASSERT_MSG(n >= 1, "rfft: empty axis");
    outer_inner(x->shape, x->ndim, ax, &outer, &inner);
    int64_t shape[LRA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[ax] = nb;
    shape[x->ndim] = 2;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, x->ndim + 1);
    lra_fft_layout l = fft_layout(outer, inner, n, nb, 1);
    lra_fft_many(lra_fft_plan_get(n), LRA_FFT_RFFT, &l, lra_ops_contig_data(ctx, x), lra_f32(y));
    lra_node *nd = lra_tape_record(ctx, "rfft", rfft_backward, y, 1, (lra_tensor *[]){x});
    if (nd) {
        nd->iattr[0] = outer;
        nd->iattr[1] = inner;
        nd->iattr[2] = n;
    }
    return y;
}

// ---------------------------------------------------------------------------------------------- irfft

static void irfft_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *X = node->in[0];
    if (!X->requires_grad) return;
    int64_t outer = node->iattr[0], inner = node->iattr[1], n = node->iattr[2];
    lra_fft_layout l = fft_layout(outer, inner, n, n / 2 + 1, 1);
    lra_fft_many(lra_fft_plan_get(n), LRA_FFT_IRFFT_BACKWARD, &l, node->out->grad, lra_grad(ctx, X));
}

// X: complex [..., m, ..., 2] (m = n/2+1 at `axis`, which does not count the trailing 2) -> real with m -> n
lra_tensor *lra_op_irfft(lra_ctx *ctx, lra_tensor *X, int axis, int64_t n) {
    LRA_ASSERT_MSG(X->dtype == LRA_F32 && X->ndim >= 2 && X->shape[X->ndim - 1] == 2,
                   "irfft: X must be complex f32 [..., 2]");
    int nd_c = X->ndim - 1;  // dims without the trailing 2
    int ax = axis < 0 ? axis + nd_c : axis;
    LRA_ASSERT_MSG(ax >= 0 && ax < nd_c, "irfft: axis %d out of range for %d complex dims", axis, nd_c);
    LRA_ASSERT_MSG(n >= 1 && X->shape[ax] == n / 2 + 1, "irfft: axis has %lld bins, n=%lld needs %lld",
                   (long long)X->shape[ax], (long long)n, (long long)(n / 2 + 1));
    int64_t outer, inner;
    outer_inner(X->shape, nd_c, ax, &outer, &inner);
    int64_t shape[LRA_MAX_DIMS];
    for (int d = 0; d < nd_c; d++) shape[d] = X->shape[d];
    shape[ax] = n;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, nd_c);
    lra_fft_layout l = fft_layout(outer, inner, n, n / 2 + 1, 0);
    lra_fft_many(lra_fft_plan_get(n), LRA_FFT_IRFFT, &l, lra_ops_contig_data(ctx, X), lra_f32(y));
    lra_node *nd = lra_tape_record(ctx, "irfft", irfft_backward, y, 1, (lra_tensor *[]){X});
    if (nd) {
        nd->iattr[0] = outer;
        nd->iattr[1] = inner;
        nd->iattr[2] = n;
    }
    return y;
}

// ---------------------------------------------------------------------------------------------- cmul

// Broadcast geometry of a complex operand: leading dims right-aligned into 3 slots; stride 0 where the
// operand broadcasts; cs is the stride of the (re, im) axis.
typedef struct {
    int64_t shape[3], stride[3], cs;
    const float *data;
} cplx_operand;

static void cplx_setup(cplx_operand *o, const lra_tensor *t, const int64_t *out_lead) {
    int nl = t->ndim - 1, pad = 3 - nl;
    for (int d = 0; d < 3; d++) {
        o->shape[d] = 1;
        o->stride[d] = 0;
    }
    for (int d = 0; d < nl; d++) {
        o->shape[pad + d] = t->shape[d];
        o->stride[pad + d] = t->shape[d] == 1 ? 0 : t->stride[d];
    }
    for (int d = 0; d < 3; d++)
        LRA_ASSERT_MSG(o->shape[d] == out_lead[d] || o->shape[d] == 1, "cmul: shapes do not broadcast");
    o->cs = t->stride[t->ndim - 1];
    o->data = lra_f32(t);
}

static inline const float *cplx_at(const cplx_operand *o, int64_t i0, int64_t i1, int64_t i2) {
    return o->data + i0 * o->stride[0] + i1 * o->stride[1] + i2 * o->stride[2];
}

typedef struct {
    cplx_operand a, b;
    int64_t L[3];  // output leading dims (padded to 3)
} cmul_extra;

// g_self (contiguous over self's logical shape) += sum over the broadcast of gy * conj(other).  Each row
// (i0, i1) of g_self is owned by one iteration; every element sums its broadcast partners in the fixed
// order (j0, j1, j2), accumulating a block of the row at a time so gy is read along its rows.
#define CMUL_GRAD_BLOCK 256
static void cmul_grad(float *g, const cplx_operand *self, const cplx_operand *other, const float *gy,
                      const int64_t *L) {
    const int64_t *S = self->shape;
    const int64_t rows = S[0] * S[1];
    const int64_t f0 = S[0] == 1 ? L[0] : 1, f1 = S[1] == 1 ? L[1] : 1, f2 = S[2] == 1 ? L[2] : 1;
    const int64_t cs = other->cs;
#pragma omp parallel for schedule(static) if (L[0] * L[1] * L[2] >= FFT_PAR_MIN)
    for (int64_t row = 0; row < rows; row++) {
        const int64_t i0 = row / S[1], i1 = row % S[1];
        double re[CMUL_GRAD_BLOCK], im[CMUL_GRAD_BLOCK];
        for (int64_t c0 = 0; c0 < S[2]; c0 += CMUL_GRAD_BLOCK) {
            const int64_t len = S[2] - c0 < CMUL_GRAD_BLOCK ? S[2] - c0 : CMUL_GRAD_BLOCK;
            for (int64_t c = 0; c < len; c++) re[c] = im[c] = 0.0;
            for (int64_t j0 = 0; j0 < f0; j0++)
                for (int64_t j1 = 0; j1 < f1; j1++) {
                    const int64_t o0 = S[0] == 1 ? j0 : i0, o1 = S[1] == 1 ? j1 : i1;
                    const float *gyrow = gy + (o0 * L[1] + o1) * L[2] * 2;
                    const float *obrow = cplx_at(other, o0, o1, 0);
                    for (int64_t j2 = 0; j2 < f2; j2++)
                        for (int64_t c = 0; c < len; c++) {
                            const int64_t o2 = S[2] == 1 ? j2 : c0 + c;
                            const float *gr = gyrow + o2 * 2, *ob = obrow + o2 * other->stride[2];
                            const float br = ob[0], bi = ob[cs];
                            re[c] += (double)(gr[0] * br + gr[1] * bi);
                            im[c] += (double)(gr[1] * br - gr[0] * bi);
                        }
                }
            float *gr = g + (row * S[2] + c0) * 2;
            for (int64_t c = 0; c < len; c++) {
                gr[2 * c] += (float)re[c];
                gr[2 * c + 1] += (float)im[c];
            }
        }
    }
}

static void cmul_backward(lra_ctx *ctx, lra_node *node) {
    const cmul_extra *ex = node->extra;
    const float *gy = node->out->grad;
    lra_tensor *a = node->in[0], *b = node->in[1];
    if (a->requires_grad) cmul_grad(lra_grad(ctx, a), &ex->a, &ex->b, gy, ex->L);
    if (b->requires_grad) cmul_grad(lra_grad(ctx, b), &ex->b, &ex->a, gy, ex->L);
}

// a: [..., 2], b: [..., 2] (leading dims broadcast) -> [broadcast leading dims, 2]
lra_tensor *lra_op_cmul(lra_ctx *ctx, lra_tensor *a, lra_tensor *b) {
    LRA_ASSERT_MSG(a->dtype == LRA_F32 && b->dtype == LRA_F32 && a->ndim >= 1 && b->ndim >= 1 &&
                       a->shape[a->ndim - 1] == 2 && b->shape[b->ndim - 1] == 2,
                   "cmul: operands must be complex f32 [..., 2]");
    int nl = a->ndim > b->ndim ? a->ndim - 1 : b->ndim - 1;
    int64_t L[3] = {1, 1, 1};
    for (int d = 0; d < 3; d++) {
        int da = d - (3 - (a->ndim - 1)), db = d - (3 - (b->ndim - 1));
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        LRA_ASSERT_MSG(sa == sb || sa == 1 || sb == 1, "cmul: leading dims %lld and %lld do not broadcast",
                       (long long)sa, (long long)sb);
        L[d] = sa == 1 ? sb : sa;
    }
    cmul_extra ex;
    cplx_setup(&ex.a, a, L);
    cplx_setup(&ex.b, b, L);
    memcpy(ex.L, L, sizeof L);
    int64_t shape[LRA_MAX_DIMS];
    for (int d = 0; d < nl; d++) shape[d] = L[3 - nl + d];
    shape[nl] = 2;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, nl + 1);
    float *yd = lra_f32(y);
    int64_t rows = L[0] * L[1];
#pragma omp parallel for schedule(static) if (rows * L[2] >= FFT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i0 = r / L[1], i1 = r % L[1];
        float *yr = yd + r * L[2] * 2;
        for (int64_t i2 = 0; i2 < L[2]; i2++) {
            const float *pa = cplx_at(&ex.a, i0, i1, i2), *pb = cplx_at(&ex.b, i0, i1, i2);
            float ar = pa[0], ai = pa[ex.a.cs], br = pb[0], bi = pb[ex.b.cs];
            yr[2 * i2] = ar * br - ai * bi;
            yr[2 * i2 + 1] = ar * bi + ai * br;
        }
    }
    lra_node *nd = lra_tape_record(ctx, "cmul", cmul_backward, y, 2, (lra_tensor *[]){a, b});
    if (nd) {
        cmul_extra *e = lra_node_alloc(ctx, sizeof *e);
        *e = ex;
        nd->extra = e;
    }
    return y;
}

const lra_op_info lra_optable_fft[] = {
    {"rfft", (lra_op_fn)lra_op_rfft, rfft_backward, 0},
    {"irfft", (lra_op_fn)lra_op_irfft, irfft_backward, 0},
    {"cmul", (lra_op_fn)lra_op_cmul, cmul_backward, 0},
    {NULL, NULL, NULL, 0},
};
