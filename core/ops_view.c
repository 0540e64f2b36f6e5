// Views and copies: reshape, transpose, permute, slice, contiguous, concat, split, and the constant
// lra_op_full.  See core/ops.h.
//
// A view's output header shares data with its input (adjusted shape/strides/data pointer).  Gradients
// are always contiguous buffers of a tensor's logical shape, so a view's backward describes the same
// view over the INPUT's contiguous gradient layout and adds the output gradient through it
// (strided_copy, rows in parallel); views are injective, so no two elements collide.
#include <stdio.h>
#include <string.h>

#include "core/ops.h"
#include "core/ops_internal.h"
#include "core/optable.h"
#include "core/status.h"

#define VIEW_PAR_MIN 32768  // elements below which copies stay single-threaded

// dst (strides dst_st) = or += src (strides src_st) over shape[nd] (nd <= 4).  Each destination
// element is written by one thread.
static void strided_copy(float *dst, const int64_t *dst_st, const float *src, const int64_t *src_st,
                         const int64_t *shape, int nd, int add) {
    int64_t sh[4] = {1, 1, 1, 1}, ds[4] = {0, 0, 0, 0}, ss[4] = {0, 0, 0, 0};
    for (int i = 0; i < nd; i++) {
        sh[4 - nd + i] = shape[i];
        ds[4 - nd + i] = dst_st[i];
        ss[4 - nd + i] = src_st[i];
    }
    int64_t rows = sh[0] * sh[1] * sh[2], len = sh[3];
#pragma omp parallel for schedule(static) if (rows * len >= VIEW_PAR_MIN && rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i2 = r % sh[2], i1 = (r / sh[2]) % sh[1], i0 = r / (sh[2] * sh[1]);
        float *d = dst + i0 * ds[0] + i1 * ds[1] + i2 * ds[2];
        const float *s = src + i0 * ss[0] + i1 * ss[1] + i2 * ss[2];
        if (add) {
            if (ds[3] == 1 && ss[3] == 1)
                for (int64_t j = 0; j < len; j++) d[j] += s[j];
            else
                for (int64_t j = 0; j < len; j++) d[j * ds[3]] += s[j * ss[3]];
        } else {
            if (ds[3] == 1 && ss[3] == 1)
                memcpy(d, s, (size_t)len * sizeof(float));
            else
                for (int64_t j = 0; j < len; j++) d[j * ds[3]] = s[j * ss[3]];
        }
    }
}

// gx[i] += gy[i] over n elements (the backward of every copy that keeps the row-major order).
static void add_flat(float *gx, const float *gy, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= VIEW_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i];
}

// A contiguous copy of x (any strides) in the arena, no tape node.
static lra_tensor *copy_contiguous(lra_ctx *ctx, const lra_tensor *x) {
    lra_tensor *y = lra_tensor_new(ctx->arena, x->dtype, x->shape, x->ndim);
    if (lra_tensor_is_contiguous(x) || x->dtype != LRA_F32) {
        lra_tensor_gather_contiguous(x, y->data);
    } else {
        strided_copy(lra_f32(y), y->stride, lra_f32(x), x->stride, x->shape, x->ndim, 0);
    }
    return y;
}

// ---------------------------------------------------------------- reshape / contiguous

// The gradient has the same elements in the same order: x takes y's buffer when it has none.
static void flat_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    int add;
    float *gx = lra_grad_take(ctx, x, node->out, &add);
    if (gx == node->out->grad) return;
    if (add) add_flat(gx, node->out->grad, lra_tensor_numel(x));
    else memcpy(gx, node->out->grad, (size_t)lra_tensor_numel(x) * sizeof(float));
}

// x: any shape; shape[ndim] with at most one -1 -> the same elements in row-major order.
lra_tensor *lra_op_reshape(lra_ctx *ctx, lra_tensor *x, const int64_t *shape, int ndim) {
    LRA_ASSERT_MSG(ndim >= 0 && ndim <= LRA_MAX_DIMS, "reshape to %d dims (at most %d)", ndim, LRA_MAX_DIMS);
    int64_t sh[LRA_MAX_DIMS], known = 1, n = lra_tensor_numel(x);
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (sh[i] == -1) {
            LRA_ASSERT_MSG(infer < 0, "reshape: more than one -1");
            infer = i;
        } else {
            LRA_ASSERT_MSG(sh[i] >= 0, "reshape: bad dimension %lld", (long long)sh[i]);
            known *= sh[i];
        }
    }
    if (infer >= 0) {
        LRA_ASSERT_MSG(known > 0 && n % known == 0, "reshape: cannot infer -1 for %lld elements", (long long)n);
        sh[infer] = n / known;
        known *= sh[infer];
    }
    char b1[96], b2[96];
    LRA_ASSERT_MSG(known == n, "reshape: %s has %lld elements, %s has %lld",
                   lra_shape_str(x->shape, x->ndim, b1, sizeof b1), (long long)n,
                   lra_shape_str(sh, ndim, b2, sizeof b2), (long long)known);
    lra_tensor *y;
    if (lra_tensor_is_contiguous(x)) {
        y = lra_tensor_view_of(ctx->arena, x);
        y->ndim = ndim;
        for (int i = 0; i < ndim; i++) y->shape[i] = sh[i];
        lra_tensor_set_contiguous(y);
    } else {
        lra_tensor *c = copy_contiguous(ctx, x);
        y = lra_tensor_wrap(ctx->arena, x->dtype, c->data, sh, ndim);
    }
    lra_tape_record(ctx, "reshape", flat_backward, y, 1, &x);
    return y;
}

// x itself when contiguous, else a contiguous copy.
lra_tensor *lra_op_contiguous(lra_ctx *ctx, lra_tensor *x) {
    if (lra_tensor_is_contiguous(x)) return x;
    lra_tensor *y = copy_contiguous(ctx, x);
    lra_tape_record(ctx, "contiguous", flat_backward, y, 1, &x);
    return y;
}

// ---------------------------------------------------------------- permute / transpose

static void permute_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0], *y = node->out;
    if (!x->requires_grad) return;
    int64_t cs[LRA_MAX_DIMS];
    lra_ops_contiguous_strides(x->shape, x->ndim, cs);
    int64_t gs[LRA_MAX_DIMS], ys[LRA_MAX_DIMS];  // the output's view over x's contiguous gradient; y's own
    for (int i = 0; i < y->ndim; i++) gs[i] = cs[node->iattr[i]];
    lra_ops_contiguous_strides(y->shape, y->ndim, ys);
    strided_copy(lra_grad(ctx, x), gs, y->grad, ys, y->shape, y->ndim, 1);
}

static lra_tensor *permute_impl(lra_ctx *ctx, lra_tensor *x, const int *perm, const char *name) {
    int seen[LRA_MAX_DIMS] = {0};
    lra_tensor *y = lra_tensor_view_of(ctx->arena, x);
    for (int i = 0; i < x->ndim; i++) {
        LRA_ASSERT_MSG(perm[i] >= 0 && perm[i] < x->ndim && !seen[perm[i]], "%s: not a permutation of %d dims", name,
                       x->ndim);
        seen[perm[i]] = 1;
        y->shape[i] = x->shape[perm[i]];
        y->stride[i] = x->stride[perm[i]];
    }
    lra_node *node = lra_tape_record(ctx, name, permute_backward, y, 1, &x);
    if (node)
        for (int i = 0; i < x->ndim; i++) node->iattr[i] = perm[i];
    return y;
}

// x: any shape, perm[x->ndim] -> view with out.shape[i] = x.shape[perm[i]]
lra_tensor *lra_op_permute(lra_ctx *ctx, lra_tensor *x, const int *perm) {
    return permute_impl(ctx, x, perm, "permute");
}

// x: any shape -> view with dims d0 and d1 swapped
lra_tensor *lra_op_transpose(lra_ctx *ctx, lra_tensor *x, int d0, int d1) {
    int a = lra_tensor_axis(x, d0), b = lra_tensor_axis(x, d1);
    int perm[LRA_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return permute_impl(ctx, x, perm, "transpose");
}

// ---------------------------------------------------------------- slice / split

static void slice_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0], *y = node->out;
    if (!x->requires_grad) return;
    int axis = (int)node->iattr[0];
    int64_t start = node->iattr[1];
    int64_t gs[LRA_MAX_DIMS], ys[LRA_MAX_DIMS];  // the slice of x's contiguous gradient; y's own strides
    lra_ops_contiguous_strides(x->shape, x->ndim, gs);
    lra_ops_contiguous_strides(y->shape, y->ndim, ys);
    strided_copy(lra_grad(ctx, x) + start * gs[axis], gs, y->grad, ys, y->shape, y->ndim, 1);
}

// x: [..., n, ...] (n at axis) -> view [..., end - start, ...]; negative start/end count from n.
lra_tensor *lra_op_slice(lra_ctx *ctx, lra_tensor *x, int axis, int64_t start, int64_t end) {
    int ax = lra_tensor_axis(x, axis);
    int64_t n = x->shape[ax];
    if (start < 0) start += n;
    if (end < 0) end += n;
    LRA_ASSERT_MSG(start >= 0 && start <= end && end <= n, "slice [%lld, %lld) out of range for dim %d of size %lld",
                   (long long)start, (long long)end, ax, (long long)n);
    lra_tensor *y = lra_tensor_view_of(ctx->arena, x);
    y->shape[ax] = end - start;
    y->data = (char *)x->data + start * x->stride[ax] * 4;  // f32 and i32 are 4 bytes
    lra_node *node = lra_tape_record(ctx, "slice", slice_backward, y, 1, &x);
    if (node) {
        node->iattr[0] = ax;
        node->iattr[1] = start;
    }
    return y;
}

// x: [..., n, ...] -> out[k]: views [..., n / parts, ...], k < parts
void lra_op_split(lra_ctx *ctx, lra_tensor *x, int parts, int axis, lra_tensor **out) {
    int ax = lra_tensor_axis(x, axis);
    LRA_ASSERT_MSG(parts > 0 && x->shape[ax] % parts == 0, "split: dim %d of size %lld not divisible by %d", ax,
                   (long long)x->shape[ax], parts);
    int64_t len = x->shape[ax] / parts;
    for (int k = 0; k < parts; k++) out[k] = lra_op_slice(ctx, x, ax, k * len, (k + 1) * len);
}

// ---------------------------------------------------------------- concat

static void concat_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *y = node->out;
    int ax = (int)node->iattr[0];
    int64_t off = 0;
    for (int k = 0; k < node->n_in; k++) {
        lra_tensor *x = node->in[k];
        if (x->requires_grad) {
            int64_t cs[LRA_MAX_DIMS];
            lra_ops_contiguous_strides(x->shape, x->ndim, cs);
            strided_copy(lra_grad(ctx, x), cs, y->grad + off * y->stride[ax], y->stride, x->shape, x->ndim, 1);
        }
        off += x->shape[ax];
    }
}

// xs[n]: tensors (f32, or i32 without gradient) equal in shape except along axis -> contiguous
// concatenation; n <= 8
lra_tensor *lra_op_concat(lra_ctx *ctx, lra_tensor *const *xs, int n, int axis) {
    LRA_ASSERT_MSG(n >= 1 && n <= LRA_NODE_MAX_IN, "concat of %d tensors (1..%d)", n, LRA_NODE_MAX_IN);
    int ax = lra_tensor_axis(xs[0], axis), nd = xs[0]->ndim;
    int64_t shape[LRA_MAX_DIMS];
    for (int i = 0; i < nd; i++) shape[i] = xs[0]->shape[i];
    shape[ax] = 0;
    for (int k = 0; k < n; k++) {
        LRA_ASSERT_MSG(xs[k]->ndim == nd && xs[k]->dtype == xs[0]->dtype,
                       "concat: input %d has %d dims (expected %d, same dtype)", k, xs[k]->ndim, nd);
        for (int i = 0; i < nd; i++)
            LRA_ASSERT_MSG(i == ax || xs[k]->shape[i] == shape[i], "concat: input %d differs in dim %d", k, i);
        shape[ax] += xs[k]->shape[ax];
    }
    lra_tensor *y = lra_tensor_new(ctx->arena, xs[0]->dtype, shape, nd);
    int64_t off = 0;
    for (int k = 0; k < n; k++) {  // (int32 data moves as 4-byte words through the float copy)
        strided_copy(lra_f32(y) + off * y->stride[ax], y->stride, lra_f32(xs[k]), xs[k]->stride, xs[k]->shape, nd, 0);
        off += xs[k]->shape[ax];
    }
    lra_node *node = lra_tape_record(ctx, "concat", concat_backward, y, n, xs);
    if (node) node->iattr[0] = ax;
    return y;
}

// ---------------------------------------------------------------- constants

// -> shape[ndim] filled with v, requires_grad 0
lra_tensor *lra_op_full(lra_ctx *ctx, const int64_t *shape, int ndim, float v) {
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, ndim);
    int64_t n = lra_tensor_numel(y);
    float *p = lra_f32(y);
#pragma omp parallel for schedule(static) if (n >= VIEW_PAR_MIN)
    for (int64_t i = 0; i < n; i++) p[i] = v;
    return y;
}

const lra_op_info lra_optable_view[] = {
    {"reshape", (lra_op_fn)lra_op_reshape, flat_backward, 0},
    {"transpose", (lra_op_fn)lra_op_transpose, permute_backward, 0},
    {"permute", (lra_op_fn)lra_op_permute, permute_backward, 0},
    {"slice", (lra_op_fn)lra_op_slice, slice_backward, 0},
    {"contiguous", (lra_op_fn)lra_op_contiguous, flat_backward, 0},
    {"concat", (lra_op_fn)lra_op_concat, concat_backward, 0},
    {"split", (lra_op_fn)lra_op_split, slice_backward, 0},
    {"full", (lra_op_fn)lra_op_full, NULL, 1},
    {NULL, NULL, NULL, 0},
};
