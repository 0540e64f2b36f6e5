// Reductions: sum, mean and max over one axis (keepdim), and sum_all.  See core/ops.h.
//
// Sums accumulate in double.  Every output element is reduced by one thread, over the axis in
// increasing index order; sum_all adds fixed-size blocks (independent of the thread count) and then
// the block sums in order.  So results are bitwise identical at any thread count.
#include <stdio.h>
#include <string.h>

#include "core/ops.h"
#include "core/ops_internal.h"
#include "core/optable.h"
#include "core/status.h"

#define RED_CHUNK 256        // output elements per work item
#define RED_PAR_MIN 32768    // input elements below which a reduction stays on one thread
#define SUM_ALL_BLOCK 65536  // elements per partial sum of sum_all

enum { RED_SUM, RED_MEAN, RED_MAX };

// x's dims other than `axis`, right-aligned into 3 slots (size 1, stride 0 when absent), and the axis.
typedef struct {
    int64_t sh[3], st[3];
    int64_t len, sl;
} red_layout;

static red_layout layout_of(const int64_t *shape, const int64_t *stride, int nd, int ax) {
    red_layout L;
    for (int i = 0; i < 3; i++) {
        L.sh[i] = 1;
        L.st[i] = 0;
    }
    int slot = 2;
    for (int i = nd - 1; i >= 0; i--) {
        if (i == ax) continue;
        L.sh[slot] = shape[i];
        L.st[slot] = stride[i];
        slot--;
    }
    L.len = shape[ax];
    L.sl = stride[ax];
    return L;
}

// out[o] = reduction over the axis of x at output position o (row-major over the kept dims);
// argmax[o] (for RED_MAX) = the first index of the maximum.
static void reduce_axis(int kind, const float *x, red_layout L, float *out, int32_t *argmax) {
    int64_t nout = L.sh[0] * L.sh[1] * L.sh[2];
    int64_t nch = (L.sh[2] + RED_CHUNK - 1) / RED_CHUNK, ntask = L.sh[0] * L.sh[1] * nch;
    // Walk memory along whichever of the axis and the innermost kept dim has the smaller stride.
    int axis_inner = L.sl < 0 || L.st[2] < 0 ? 1 : (L.sl <= L.st[2]);
#pragma omp parallel for schedule(static) if (nout * L.len >= RED_PAR_MIN && ntask > 1)
    for (int64_t t = 0; t < ntask; t++) {
        int64_t row = t / nch, c0 = (t % nch) * RED_CHUNK;
        int64_t c1 = c0 + RED_CHUNK < L.sh[2] ? c0 + RED_CHUNK : L.sh[2];
        const float *base = x + (row / L.sh[1]) * L.st[0] + (row % L.sh[1]) * L.st[1];
        double acc[RED_CHUNK];
        float best[RED_CHUNK];
        int32_t arg[RED_CHUNK];
        int64_t m = c1 - c0;
        if (kind == RED_MAX) {
            for (int64_t c = 0; c < m; c++) {
                best[c] = base[(c0 + c) * L.st[2]];
                arg[c] = 0;
            }
            if (axis_inner) {
                for (int64_t c = 0; c < m; c++) {
                    const float *p = base + (c0 + c) * L.st[2];
                    for (int64_t j = 1; j < L.len; j++)
                        if (p[j * L.sl] > best[c]) {
                            best[c] = p[j * L.sl];
                            arg[c] = (int32_t)j;
                        }
                }
            } else {
                for (int64_t j = 1; j < L.len; j++) {
                    const float *p = base + j * L.sl;
                    for (int64_t c = 0; c < m; c++)
                        if (p[(c0 + c) * L.st[2]] > best[c]) {
                            best[c] = p[(c0 + c) * L.st[2]];
                            arg[c] = (int32_t)j;
                        }
                }
            }
            for (int64_t c = 0; c < m; c++) {
                out[row * L.sh[2] + c0 + c] = best[c];
                argmax[row * L.sh[2] + c0 + c] = arg[c];
            }
            continue;
        }
        if (axis_inner) {
            for (int64_t c = 0; c < m; c++) {
                const float *p = base + (c0 + c) * L.st[2];
                double s = 0.0;
                for (int64_t j = 0; j < L.len; j++) s += p[j * L.sl];
                acc[c] = s;
            }
        } else {
            for (int64_t c = 0; c < m; c++) acc[c] = 0.0;
            for (int64_t j = 0; j < L.len; j++) {
                const float *p = base + j * L.sl;
                for (int64_t c = 0; c < m; c++) acc[c] += p[(c0 + c) * L.st[2]];
            }
        }
        double sc = kind == RED_MEAN ? 1.0 / (double)L.len : 1.0;
        for (int64_t c = 0; c < m; c++) out[row * L.sh[2] + c0 + c] = (float)(acc[c] * sc);
    }
}

static void reduce_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    int kind = (int)node->iattr[0], ax = (int)node->iattr[1];
    int64_t cs[LRA_MAX_DIMS];
    lra_ops_contiguous_strides(x->shape, x->ndim, cs);
    red_layout L = layout_of(x->shape, cs, x->ndim, ax);
    float *gx = lra_grad(ctx, x);
    const float *gy = node->out->grad;
    const int32_t *arg = node->extra;
    int64_t nout = L.sh[0] * L.sh[1] * L.sh[2];
    float sc = kind == RED_MEAN ? (float)(1.0 / (double)L.len) : 1.0f;
    // Distinct outputs own disjoint sets of input elements, so threads never share a gradient entry.
#pragma omp parallel for schedule(static) if (nout * L.len >= RED_PAR_MIN && nout > 1)
    for (int64_t o = 0; o < nout; o++) {
        int64_t i2 = o % L.sh[2], i1 = (o / L.sh[2]) % L.sh[1], i0 = o / (L.sh[2] * L.sh[1]);
        float *g = gx + i0 * L.st[0] + i1 * L.st[1] + i2 * L.st[2];
        if (kind == RED_MAX) {
            g[arg[o] * L.sl] += gy[o];
        } else {
            float v = gy[o] * sc;
            for (int64_t j = 0; j < L.len; j++) g[j * L.sl] += v;
        }
    }
}

static lra_tensor *reduce_op(lra_ctx *ctx, lra_tensor *x, int axis, int keepdim, int kind, const char *name) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32, "%s needs an f32 tensor", name);
    int ax = lra_tensor_axis(x, axis);
    LRA_ASSERT_MSG(kind != RED_MAX || x->shape[ax] > 0, "max over an empty axis");
    int64_t shape[LRA_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != ax)
            shape[nd++] = x->shape[i];
        else if (keepdim)
            shape[nd++] = 1;
    }
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    red_layout L = layout_of(x->shape, x->stride, x->ndim, ax);
    int64_t nout = L.sh[0] * L.sh[1] * L.sh[2];
    int32_t *arg = NULL;
    if (kind == RED_MAX) arg = lra_arena_alloc(ctx->arena, (size_t)(nout ? nout : 1) * sizeof(int32_t));
    reduce_axis(kind, lra_f32(x), L, lra_f32(y), arg);
    lra_node *node = lra_tape_record(ctx, name, reduce_backward, y, 1, &x);
    if (node) {
        node->iattr[0] = kind;
        node->iattr[1] = ax;
        node->extra = arg;
    }
    return y;
}

// x: [..., n, ...] (n at axis) -> the same without that axis (or with size 1 when keepdim)
lra_tensor *lra_op_sum(lra_ctx *ctx, lra_tensor *x, int axis, int keepdim) {
    return reduce_op(ctx, x, axis, keepdim, RED_SUM, "sum");
}
lra_tensor *lra_op_mean(lra_ctx *ctx, lra_tensor *x, int axis, int keepdim) {
    return reduce_op(ctx, x, axis, keepdim, RED_MEAN, "mean");
}
lra_tensor *lra_op_max(lra_ctx *ctx, lra_tensor *x, int axis, int keepdim) {
    return reduce_op(ctx, x, axis, keepdim, RED_MAX, "max");
}

static void sum_all_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    float *gx = lra_grad(ctx, x), g = node->out->grad[0];
    int64_t n = lra_tensor_numel(x);
#pragma omp parallel for schedule(static) if (n >= RED_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gx[i] += g;
}

// x: any shape -> [1]
lra_tensor *lra_op_sum_all(lra_ctx *ctx, lra_tensor *x) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32, "sum_all needs an f32 tensor");
    int64_t n = lra_tensor_numel(x);
    const float *p = lra_ops_contig_data(ctx, x);
    int64_t nblk = (n + SUM_ALL_BLOCK - 1) / SUM_ALL_BLOCK;
    double *part = lra_arena_alloc(ctx->arena, (size_t)(nblk ? nblk : 1) * sizeof(double));
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t i1 = (b + 1) * SUM_ALL_BLOCK < n ? (b + 1) * SUM_ALL_BLOCK : n;
        double s = 0.0;
        for (int64_t i = b * SUM_ALL_BLOCK; i < i1; i++) s += p[i];
        part[b] = s;
    }
    double s = 0.0;
    for (int64_t b = 0; b < nblk; b++) s += part[b];
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(1));
    lra_f32(y)[0] = (float)s;
    lra_tape_record(ctx, "sum_all", sum_all_backward, y, 1, &x);
    return y;
}

const lra_op_info lra_optable_reduce[] = {
    {"sum", (lra_op_fn)lra_op_sum, reduce_backward, 0},
    {"mean", (lra_op_fn)lra_op_mean, reduce_backward, 0},
    {"max", (lra_op_fn)lra_op_max, reduce_backward, 0},
    {"sum_all", (lra_op_fn)lra_op_sum_all, sum_all_backward, 0},
    {NULL, NULL, NULL, 0},
};
