// Elementwise ops: broadcasting add/sub/mul/div and the unary maps (scale, add_scalar, exp, log, sqrt,
// rsqrt, pow, tanh, acos, abs, gelu, relu, elu).  See core/ops.h.
//
// Shapes are right-aligned into 4 dims.  Contiguous inputs run flat, vectorisable loops over fixed-size
// chunks (OpenMP, static schedule); other layouts run row by row with the inputs' strides (stride 0 for
// broadcast dims).  The backward of a broadcast input sums the gradient over the broadcast dims in
// double, each input element by one thread in row-major order of the output, so results do not depend
// on the thread count.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/ops.h"
#include "core/ops_internal.h"
#include "core/optable.h"
#include "core/status.h"

#define EW_CHUNK 16384    // elements per parallel work item of the flat loops
#define EW_PAR_MIN 32768  // below this many elements everything stays on one thread
#define EW_RED_CHUNK 256  // output columns per work item of the broadcast-gradient reduction

// ---------------------------------------------------------------- shapes

// Right-aligns t's shape/strides into 4 dims; broadcast (size-1) dims get stride 0.
static void pad4(const lra_tensor *t, int64_t sh[4], int64_t st[4]) {
    for (int i = 0; i < 4; i++) {
        sh[i] = 1;
        st[i] = 0;
    }
    for (int i = 0; i < t->ndim; i++) {
        sh[4 - t->ndim + i] = t->shape[i];
        st[4 - t->ndim + i] = t->shape[i] == 1 ? 0 : t->stride[i];
    }
}

// ---------------------------------------------------------------- binary kernels

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

// o[i] = x[i*sx] OP y[i*sy] for i < n, with the unit/zero-stride cases spelled out so they vectorise.
#define BIN_KERNEL(NAME, OP)                                                                                      \
    static void NAME(float *restrict o, const float *restrict x, int64_t sx, const float *restrict y, int64_t sy, \
                     int64_t n) {                                                                                 \
        if (sx == 1 && sy == 1) {                                                                                 \
            for (int64_t i = 0; i < n; i++) o[i] = x[i] OP y[i];                                                  \
        } else if (sx == 1 && sy == 0) {                                                                          \
            const float c = y[0];                                                                                 \
            for (int64_t i = 0; i < n; i++) o[i] = x[i] OP c;                                                     \
        } else if (sx == 0 && sy == 1) {                                                                          \
            const float c = x[0];                                                                                 \
            for (int64_t i = 0; i < n; i++) o[i] = c OP y[i];                                                     \
        } else {                                                                                                  \
            for (int64_t i = 0; i < n; i++) o[i] = x[i * sx] OP y[i * sy];                                        \
        }                                                                                                         \
    }
BIN_KERNEL(bin_add, +)
BIN_KERNEL(bin_sub, -)
BIN_KERNEL(bin_mul, *)
BIN_KERNEL(bin_div, /)

typedef void (*bin_kernel)(float *, const float *, int64_t, const float *, int64_t, int64_t);
static const bin_kernel BIN_KERNELS[] = {bin_add, bin_sub, bin_mul, bin_div};

// out (contiguous, shape os) = x (strides xs) OP y (strides ys); strides 0 on broadcast dims.
static void binary_apply(int kind, float *out, const int64_t os[4], const float *x, const int64_t xs[4], const float *y,
                         const int64_t ys[4]) {
    bin_kernel k = BIN_KERNELS[kind];
    int64_t n = os[0] * os[1] * os[2] * os[3];
    int64_t cs[4];
    lra_ops_contiguous_strides(os, 4, cs);
    int flat_x = 1, flat_y = 1;
    for (int i = 0; i < 4; i++) {
        if (os[i] > 1 && xs[i] != cs[i]) flat_x = 0;
        if (os[i] > 1 && ys[i] != cs[i]) flat_y = 0;
    }
    if (flat_x && flat_y) {
        int64_t nch = (n + EW_CHUNK - 1) / EW_CHUNK;
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
        for (int64_t c = 0; c < nch; c++) {
            int64_t i0 = c * EW_CHUNK, len = n - i0 < EW_CHUNK ? n - i0 : EW_CHUNK;
            k(out + i0, x + i0, 1, y + i0, 1, len);
        }
        return;
    }
    int64_t rows = os[0] * os[1] * os[2], len = os[3];
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN && rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i2 = r % os[2], i1 = (r / os[2]) % os[1], i0 = r / (os[2] * os[1]);
        k(out + r * len, x + i0 * xs[0] + i1 * xs[1] + i2 * xs[2], xs[3], y + i0 * ys[0] + i1 * ys[1] + i2 * ys[2],
          ys[3], len);
    }
}

// g (contiguous, shape gs: os with some dims 1) += scale * src (contiguous, shape os) summed over the
// dims where gs is 1 and os is not.  Sums in double, in row-major order of the output.
static void reduce_into(float *g, const int64_t gs[4], const float *src, const int64_t os[4], float scale) {
    int64_t n = os[0] * os[1] * os[2] * os[3];
    if (gs[0] == os[0] && gs[1] == os[1] && gs[2] == os[2] && gs[3] == os[3]) {
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += scale * src[i];
        return;
    }
    int64_t ss[4];
    lra_ops_contiguous_strides(os, 4, ss);
    int red3 = gs[3] != os[3];
    int64_t ch = red3 ? 1 : EW_RED_CHUNK, nch = (gs[3] + ch - 1) / ch, outer = gs[0] * gs[1] * gs[2];
    int64_t ntask = outer * nch;
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN && ntask > 1)
    for (int64_t t = 0; t < ntask; t++) {
        int64_t ao = t / nch, c0 = (t % nch) * ch, c1 = c0 + ch < gs[3] ? c0 + ch : gs[3];
        int64_t a[3] = {ao / (gs[2] * gs[1]), (ao / gs[2]) % gs[1], ao % gs[2]}, lo[3], hi[3];
        for (int d = 0; d < 3; d++) {
            lo[d] = gs[d] == os[d] ? a[d] : 0;
            hi[d] = gs[d] == os[d] ? a[d] + 1 : os[d];
        }
        double acc[EW_RED_CHUNK];
        for (int64_t c = 0; c < c1 - c0; c++) acc[c] = 0.0;
        for (int64_t i0 = lo[0]; i0 < hi[0]; i0++)
            for (int64_t i1 = lo[1]; i1 < hi[1]; i1++)
                for (int64_t i2 = lo[2]; i2 < hi[2]; i2++) {
                    const float *s = src + i0 * ss[0] + i1 * ss[1] + i2 * ss[2];
                    if (red3) {
                        double v = acc[0];
                        for (int64_t i3 = 0; i3 < os[3]; i3++) v += s[i3];
                        acc[0] = v;
                    } else {
                        for (int64_t c = c0; c < c1; c++) acc[c - c0] += s[c];
                    }
                }
        for (int64_t c = c0; c < c1; c++) g[ao * gs[3] + c] += (float)(scale * acc[c - c0]);
    }
}

// ---------------------------------------------------------------- binary ops

// t's gradient += scale * (y's gradient summed over t's broadcast axes).  Without broadcasting, t takes y's
// gradient buffer when it has none (lra_grad_take): a residual add then costs nothing.  t may be both
// inputs of the node (x + x): the second pass then adds into the buffer the first one took.  `other`: the
// node's other input, when it is a different tensor that already took y's buffer, t must not take it too
// (the two would share one gradient buffer: a later contribution to one would reach the other).
static void pass_grad(lra_ctx *ctx, lra_tensor *t, const int64_t *ts, lra_tensor *y, const int64_t *os,
                      float scale, const lra_tensor *other) {
    const float *gy = y->grad;
    const int64_t n = lra_tensor_numel(y);
    if (lra_tensor_numel(t) != n) {
        reduce_into(lra_grad(ctx, t), ts, gy, os, scale);
        return;
    }
    int add;
    const int taken = other && other != t && other->grad == gy;
    float *g = taken ? lra_grad_for_write(ctx, t, &add) : lra_grad_take(ctx, t, y, &add);
    if (g == gy && !add && scale == 1.0f) return;  // took the buffer as it is
    if (add) {
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] += scale * gy[i];
    } else {
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
        for (int64_t i = 0; i < n; i++) g[i] = scale * gy[i];
    }
}

static void binary_backward(lra_ctx *ctx, lra_node *node) {
    int kind = (int)node->iattr[0];
    lra_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    int64_t os[4], ys[4], as[4], ast[4], bs[4], bst[4];
    pad4(y, os, ys);
    pad4(a, as, ast);
    pad4(b, bs, bst);
    int64_t cs[4];
    lra_ops_contiguous_strides(os, 4, cs);
    const float *gy = y->grad;
    int64_t n = lra_tensor_numel(y);
    if (kind == BIN_ADD || kind == BIN_SUB) {
        if (a->requires_grad) pass_grad(ctx, a, as, y, os, 1.0f, NULL);
        if (b->requires_grad) pass_grad(ctx, b, bs, y, os, kind == BIN_SUB ? -1.0f : 1.0f, a);
        return;
    }
    float *tmp = NULL;  // [n] products, when a gradient is reduced or added through one
    if (a->requires_grad) {  // d(a*b)/da = b, d(a/b)/da = 1/b
        int add = 1;
        float *ga = NULL;
        if (lra_tensor_numel(a) == n && a != b) {
            // a has y's shape (x * mask, x / norm): write its gradient directly, in y's gradient buffer
            // when b's gradient will not read that afterwards
            ga = b->requires_grad ? lra_grad_for_write(ctx, a, &add) : lra_grad_take(ctx, a, y, &add);
            if (!add) binary_apply(kind, ga, os, gy, cs, lra_f32(b), bst);
        }
        if (add) {
            tmp = lra_arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof(float));
            binary_apply(kind, tmp, os, gy, cs, lra_f32(b), bst);
            reduce_into(ga ? ga : lra_grad(ctx, a), as, tmp, os, 1.0f);
        }
    }
    if (b->requires_grad) {
        if (!tmp) tmp = lra_arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof(float));
        float *gb = lra_grad(ctx, b);
        if (kind == BIN_MUL) {
            binary_apply(BIN_MUL, tmp, os, gy, cs, lra_f32(a), ast);
            reduce_into(gb, bs, tmp, os, 1.0f);
        } else {  // d(a/b)/db = -y/b
            binary_apply(BIN_MUL, tmp, os, gy, cs, lra_f32(y), cs);
            binary_apply(BIN_DIV, tmp, os, tmp, cs, lra_f32(b), bst);
            reduce_into(gb, bs, tmp, os, -1.0f);
        }
    }
}

static lra_tensor *binary_op(lra_ctx *ctx, lra_tensor *a, lra_tensor *b, int kind, const char *name) {
    LRA_ASSERT_MSG(a->dtype == LRA_F32 && b->dtype == LRA_F32, "%s needs f32 tensors", name);
    int64_t as[4], ast[4], bs[4], bst[4], os[4];
    pad4(a, as, ast);
    pad4(b, bs, bst);
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < 4; i++) {
        if (as[i] != bs[i] && as[i] != 1 && bs[i] != 1) {
            char s1[96], s2[96];
            LRA_ASSERT_MSG(0, "%s: shapes %s and %s do not broadcast", name,
                           lra_shape_str(a->shape, a->ndim, s1, sizeof s1),
                           lra_shape_str(b->shape, b->ndim, s2, sizeof s2));
        }
        os[i] = as[i] == 1 ? bs[i] : as[i];
    }
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, os + 4 - nd, nd);
    binary_apply(kind, lra_f32(y), os, lra_f32(a), ast, lra_f32(b), bst);
    lra_node *node = lra_tape_record(ctx, name, binary_backward, y, 2, (lra_tensor *[]){a, b});
    if (node) node->iattr[0] = kind;
    return y;
}

// a, b: broadcastable -> broadcast shape
lra_tensor *lra_op_add(lra_ctx *ctx, lra_tensor *a, lra_tensor *b) { return binary_op(ctx, a, b, BIN_ADD, "add"); }
lra_tensor *lra_op_sub(lra_ctx *ctx, lra_tensor *a, lra_tensor *b) { return binary_op(ctx, a, b, BIN_SUB, "sub"); }
lra_tensor *lra_op_mul(lra_ctx *ctx, lra_tensor *a, lra_tensor *b) { return binary_op(ctx, a, b, BIN_MUL, "mul"); }
lra_tensor *lra_op_div(lra_ctx *ctx, lra_tensor *a, lra_tensor *b) { return binary_op(ctx, a, b, BIN_DIV, "div"); }

// ---------------------------------------------------------------- unary ops

typedef void (*un_fwd_kernel)(float *, const float *, int64_t, int64_t, float);
typedef void (*un_bwd_kernel)(float *, const float *, const float *, const float *, int64_t, float, int);

// y: contiguous copy of x's shape = f(x), x any strides.
static lra_tensor *unary_forward(lra_ctx *ctx, lra_tensor *x, un_fwd_kernel k, float p) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32, "elementwise op needs an f32 tensor");
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
    int64_t n = lra_tensor_numel(x);
    if (lra_tensor_is_contiguous(x)) {
        int64_t nch = (n + EW_CHUNK - 1) / EW_CHUNK;
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
        for (int64_t c = 0; c < nch; c++) {
            int64_t i0 = c * EW_CHUNK, len = n - i0 < EW_CHUNK ? n - i0 : EW_CHUNK;
            k(lra_f32(y) + i0, lra_f32(x) + i0, 1, len, p);
        }
        return y;
    }
    int64_t sh[4], st[4];
    pad4(x, sh, st);
    int64_t rows = sh[0] * sh[1] * sh[2], len = sh[3];
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN && rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i2 = r % sh[2], i1 = (r / sh[2]) % sh[1], i0 = r / (sh[2] * sh[1]);
        k(lra_f32(y) + r * len, lra_f32(x) + i0 * st[0] + i1 * st[1] + i2 * st[2], st[3], len, p);
    }
    return y;
}

// How a backward kernel writes gx: add into it, set it, or set it in place over gy's buffer (gx == gy).
enum { GRAD_ADD = 0, GRAD_SET = 1, GRAD_INPLACE = 2 };

// gx (+)= g(gy, x, y): x is read contiguous (copied in the arena first when it is a strided view).
static void unary_backward_common(lra_ctx *ctx, lra_node *node, un_bwd_kernel k, int needs_x) {
    lra_tensor *x = node->in[0], *y = node->out;
    if (!x->requires_grad) return;
    int add;
    float *gx = lra_grad_take(ctx, x, y, &add);
    const int mode = add ? GRAD_ADD : gx == y->grad ? GRAD_INPLACE : GRAD_SET;
    int64_t n = lra_tensor_numel(x);
    const float *xc = lra_f32(y);  // a stand-in when the derivative needs only y
    if (needs_x) xc = lra_ops_contig_data(ctx, x);
    float p = (float)node->fattr[0];
    int64_t nch = (n + EW_CHUNK - 1) / EW_CHUNK;
#pragma omp parallel for schedule(static) if (n >= EW_PAR_MIN)
    for (int64_t c = 0; c < nch; c++) {
        int64_t i0 = c * EW_CHUNK, len = n - i0 < EW_CHUNK ? n - i0 : EW_CHUNK;
        k(gx + i0, y->grad + i0, xc + i0, lra_f32(y) + i0, len, p, mode);
    }
}

// Defines NAME's forward kernel (FWD in xv and p), backward kernel (BWD in g, xv, yv, p), backward
// function and op.  NEEDS_X: whether BWD reads xv.
#define UNARY_OP(NAME, NEEDS_X, FWD, BWD)                                                                \
    static void NAME##_fwd(float *restrict y, const float *restrict x, int64_t sx, int64_t n, float p) { \
        if (sx == 1) {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                            \
                const float xv = x[i];                                                                   \
                y[i] = (FWD);                                                                            \
            }                                                                                            \
        } else {                                                                                         \
            for (int64_t i = 0; i < n; i++) {                                                            \
                const float xv = x[i * sx];                                                              \
                y[i] = (FWD);                                                                            \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    static inline __attribute__((always_inline)) float NAME##_dx(float g, float xv, float yv, float p) { \
        (void)xv;                                                                                        \
        (void)yv;                                                                                        \
        (void)p;                                                                                         \
        return (BWD);                                                                                    \
    }                                                                                                    \
    static void NAME##_bwd(float *gx, const float *gy, const float *restrict x, const float *restrict y, \
                           int64_t n, float p, int mode) {                                               \
        if (mode == GRAD_INPLACE) {                                                                      \
            for (int64_t i = 0; i < n; i++) gx[i] = NAME##_dx(gx[i], x[i], y[i], p);                     \
        } else if (mode == GRAD_SET) {                                                                   \
            float *restrict o = gx;                                                                      \
            const float *restrict g = gy;                                                                \
            for (int64_t i = 0; i < n; i++) o[i] = NAME##_dx(g[i], x[i], y[i], p);                       \
        } else {                                                                                         \
            float *restrict o = gx;                                                                      \
            const float *restrict g = gy;                                                                \
            for (int64_t i = 0; i < n; i++) o[i] += NAME##_dx(g[i], x[i], y[i], p);                      \
        }                                                                                                \
    }                                                                                                    \
    static void NAME##_backward(lra_ctx *ctx, lra_node *node) {                                          \
        unary_backward_common(ctx, node, NAME##_bwd, NEEDS_X);                                           \
    }                                                                                                    \
    static lra_tensor *NAME##_apply(lra_ctx *ctx, lra_tensor *x, float p) {                              \
        lra_tensor *y = unary_forward(ctx, x, NAME##_fwd, p);                                            \
        lra_node *node = lra_tape_record(ctx, #NAME, NAME##_backward, y, 1, &x);                         \
        if (node) node->fattr[0] = p;                                                                    \
        return y;                                                                                        \
    }

static inline float sign_of(float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); }
// acos's input clamped to [-1+eps, 1-eps]; the gradient passes inside the closed interval (as torch.clamp).
static inline float acos_in(float v, float eps) { return fminf(fmaxf(v, -1.0f + eps), 1.0f - eps); }
static inline float acos_grad(float g, float v, float eps) {
    return (v >= -1.0f + eps && v <= 1.0f - eps) ? -g / sqrtf(1.0f - v * v) : 0.0f;
}

// clang-format off
UNARY_OP(scale, 0, p * xv, g * p)
UNARY_OP(add_scalar, 0, xv + p, g)
UNARY_OP(exp, 0, expf(xv), g * yv)
UNARY_OP(log, 1, logf(xv), g / xv)
UNARY_OP(sqrt, 0, sqrtf(xv), g * 0.5f / yv)
UNARY_OP(rsqrt, 0, 1.0f / sqrtf(xv), g * -0.5f * yv * yv * yv)
UNARY_OP(pow, 1, powf(xv, p), p == 0.0f ? 0.0f : g * p * powf(xv, p - 1.0f))
UNARY_OP(tanh, 0, tanhf(xv), g * (1.0f - yv * yv))
UNARY_OP(acos, 1, acosf(acos_in(xv, p)), acos_grad(g, xv, p))
UNARY_OP(abs, 1, fabsf(xv), g * sign_of(xv))
// GELU, erf form (core/fastmath.h).
UNARY_OP(gelu, 1, lra_gelu(xv), g * lra_gelu_slope(xv))
UNARY_OP(relu, 1, xv > 0.0f ? xv : 0.0f, xv > 0.0f ? g : 0.0f)
UNARY_OP(elu, 1, xv > 0.0f ? xv : p * expm1f(xv), xv > 0.0f ? g : g * p * expf(xv))
// clang-format on

// x: any shape -> same shape, contiguous
lra_tensor *lra_op_scale(lra_ctx *ctx, lra_tensor *x, float s) { return scale_apply(ctx, x, s); }
lra_tensor *lra_op_add_scalar(lra_ctx *ctx, lra_tensor *x, float s) { return add_scalar_apply(ctx, x, s); }
lra_tensor *lra_op_exp(lra_ctx *ctx, lra_tensor *x) { return exp_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_log(lra_ctx *ctx, lra_tensor *x) { return log_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_sqrt(lra_ctx *ctx, lra_tensor *x) { return sqrt_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_rsqrt(lra_ctx *ctx, lra_tensor *x) { return rsqrt_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_pow(lra_ctx *ctx, lra_tensor *x, float p) { return pow_apply(ctx, x, p); }
lra_tensor *lra_op_tanh(lra_ctx *ctx, lra_tensor *x) { return tanh_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_acos(lra_ctx *ctx, lra_tensor *x, float eps) { return acos_apply(ctx, x, eps); }
lra_tensor *lra_op_abs(lra_ctx *ctx, lra_tensor *x) { return abs_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_gelu(lra_ctx *ctx, lra_tensor *x) { return gelu_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_relu(lra_ctx *ctx, lra_tensor *x) { return relu_apply(ctx, x, 0.0f); }
lra_tensor *lra_op_elu(lra_ctx *ctx, lra_tensor *x, float alpha) { return elu_apply(ctx, x, alpha); }

const lra_op_info lra_optable_elementwise[] = {
    {"add", (lra_op_fn)lra_op_add, binary_backward, 0},
    {"sub", (lra_op_fn)lra_op_sub, binary_backward, 0},
    {"mul", (lra_op_fn)lra_op_mul, binary_backward, 0},
    {"div", (lra_op_fn)lra_op_div, binary_backward, 0},
    {"scale", (lra_op_fn)lra_op_scale, scale_backward, 0},
    {"add_scalar", (lra_op_fn)lra_op_add_scalar, add_scalar_backward, 0},
    {"exp", (lra_op_fn)lra_op_exp, exp_backward, 0},
    {"log", (lra_op_fn)lra_op_log, log_backward, 0},
    {"sqrt", (lra_op_fn)lra_op_sqrt, sqrt_backward, 0},
    {"rsqrt", (lra_op_fn)lra_op_rsqrt, rsqrt_backward, 0},
    {"pow", (lra_op_fn)lra_op_pow, pow_backward, 0},
    {"tanh", (lra_op_fn)lra_op_tanh, tanh_backward, 0},
    {"acos", (lra_op_fn)lra_op_acos, acos_backward, 0},
    {"abs", (lra_op_fn)lra_op_abs, abs_backward, 0},
    {"gelu", (lra_op_fn)lra_op_gelu, gelu_backward, 0},
    {"relu", (lra_op_fn)lra_op_relu, relu_backward, 0},
    {"elu", (lra_op_fn)lra_op_elu, elu_backward, 0},
    {NULL, NULL, NULL, 0},
};
