// The attention layer's projections fused with the head split and merge (see ops.h):
//   linear_heads: x [B, n, D] . W^T + b, W [H*p, D]  -> [B, H, n, p]   (Q, K, V projections)
//   heads_linear: o [B, H, n, p] -> [B, n, H*p] . W^T + b, W [E, H*p] -> [B, n, E]   (output projection)
// Written this way, the per-head layout the kernels need costs no transposed copy forward or backward:
// each (example, head) block is one product with the right strides.  Every product goes through
// core/gemm.h, and every sum over examples runs in example order, so results are bitwise the same at any
// thread count (they differ from linear + reshape + transpose only by summation order).
#include <omp.h>
#include <string.h>

#include "core/gemm.h"
#include "core/ops.h"
#include "core/ops_internal.h"
#include "core/optable.h"
#include "core/status.h"

typedef struct {
    int64_t B, H, n, p, D;  // heads_linear: D is the output width E
    const float *x, *w;     // contiguous copies of the inputs (x: linear_heads' x or heads_linear's o)
} heads_extra;

// gb[s * width + j] += sum over blocks b and rows i of gy[b][s][i][j], gy being [nb][nseg][rows][width]:
// one double partial per block (in parallel), then the partials in block order.
static void bias_grad_blocks(lra_ctx *ctx, float *gb, const float *gy, int64_t nb, int64_t nseg, int64_t rows,
                             int64_t width) {
    const int64_t cols = nseg * width;
    double *part = lra_arena_alloc(ctx->arena, (size_t)(nb * cols > 0 ? nb * cols : 1) * sizeof(double));
#pragma omp parallel for schedule(static) if (nb > 1 && nb * rows * cols >= 65536)
    for (int64_t b = 0; b < nb; b++) {
        double *acc = part + b * cols;
        for (int64_t c = 0; c < cols; c++) acc[c] = 0.0;
        for (int64_t s = 0; s < nseg; s++)
            for (int64_t i = 0; i < rows; i++) {
                const float *g = gy + ((b * nseg + s) * rows + i) * width;
                for (int64_t j = 0; j < width; j++) acc[s * width + j] += g[j];
            }
    }
    for (int64_t c = 0; c < cols; c++) {
        double s = 0.0;
        for (int64_t b = 0; b < nb; b++) s += part[b * cols + c];
        gb[c] += (float)s;
    }
}

// ------------------------------------------------------------------------------------------- linear_heads

static void linear_heads_backward(lra_ctx *ctx, lra_node *node) {
    const heads_extra *e = node->extra;
    const int64_t B = e->B, H = e->H, n = e->n, p = e->p, D = e->D;
    lra_tensor *x = node->in[0], *w = node->in[1], *bias = node->in[2];
    const float *gy = node->out->grad;  // [B, H, n, p]
    if (x->requires_grad) {  // gx[b] (+)= sum_h gy[b, h] . W_h, heads in order
        int add;
        float *gx = lra_grad_for_write(ctx, x, &add);
        for (int64_t h = 0; h < H; h++)
            lra_gemm_batched(B, false, false, n, D, p, 1.0f, gy + h * n * p, p, H * n * p, e->w + h * p * D, D, 0,
                             (h == 0 && !add) ? 0.0f : 1.0f, gx, D, n * D);
    }
    if (w->requires_grad) {  // gW_h += sum_b gy[b, h]^T . x[b], examples in order; heads in parallel
        int add;
        float *gw = lra_grad_for_write(ctx, w, &add);
#pragma omp parallel for schedule(static)
        for (int64_t h = 0; h < H; h++)
            for (int64_t b = 0; b < B; b++)
                lra_gemm_direct(true, false, p, D, n, 1.0f, gy + (b * H + h) * n * p, p, e->x + b * n * D, D,
                                (b == 0 && !add) ? 0.0f : 1.0f, gw + h * p * D, D);
    }
    if (bias && bias->requires_grad) bias_grad_blocks(ctx, lra_grad(ctx, bias), gy, B, H, n, p);
}

lra_tensor *lra_op_linear_heads(lra_ctx *ctx, lra_tensor *x, lra_tensor *w, lra_tensor *bias, int heads) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && w->dtype == LRA_F32, "linear_heads needs f32 tensors");
    LRA_ASSERT_MSG(x->ndim == 3 && w->ndim == 2, "linear_heads: x must be [B, n, D] and w [H*p, D]");
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2], H = heads;
    LRA_ASSERT_MSG(H > 0 && w->shape[1] == D && w->shape[0] % H == 0,
                   "linear_heads: w [%lld, %lld] does not fit D %lld and %lld heads", (long long)w->shape[0],
                   (long long)w->shape[1], (long long)D, (long long)H);
    const int64_t p = w->shape[0] / H;
    LRA_ASSERT_MSG(!bias || (bias->ndim == 1 && bias->shape[0] == H * p), "linear_heads: bias must be [%lld]",
                   (long long)(H * p));
    heads_extra *e = lra_node_alloc(ctx, sizeof *e);
    *e = (heads_extra){B, H, n, p, D, lra_ops_contig_data(ctx, x), lra_ops_contig_data(ctx, w)};
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, n, p));
    float *yd = lra_f32(y);
    const float *bd = bias ? lra_ops_contig_data(ctx, bias) : NULL;
    for (int64_t h = 0; h < H; h++) {  // y[b, h] = x[b] . W_h^T (+ bias_h)
        if (bd)
            lra_gemm_bias_batched(B, false, true, n, p, D, 1.0f, e->x, D, n * D, e->w + h * p * D, D, 0, bd + h * p,
                                  yd + h * n * p, p, H * n * p);
        else
            lra_gemm_batched(B, false, true, n, p, D, 1.0f, e->x, D, n * D, e->w + h * p * D, D, 0, 0.0f, yd + h * n * p,
                             p, H * n * p);
    }
    lra_node *node = lra_tape_record(ctx, "linear_heads", linear_heads_backward, y, 3, (lra_tensor *[]){x, w, bias});
    if (node) node->extra = e;
    return y;
}

// ------------------------------------------------------------------------------------------- heads_linear

static void heads_linear_backward(lra_ctx *ctx, lra_node *node) {
    const heads_extra *e = node->extra;
    const int64_t B = e->B, H = e->H, n = e->n, p = e->p, E = e->D, HP = H * p;
    lra_tensor *o = node->in[0], *w = node->in[1], *bias = node->in[2];
    const float *gy = node->out->grad;  // [B, n, E]
    if (o->requires_grad) {  // go[b, h] (+)= gy[b] . W[:, h-block]
        int add;
        float *go = lra_grad_for_write(ctx, o, &add);
        for (int64_t h = 0; h < H; h++)
            lra_gemm_batched(B, false, false, n, p, E, 1.0f, gy, E, n * E, e->w + h * p, HP, 0, add ? 1.0f : 0.0f,
                             go + h * n * p, p, HP * n);
    }
    if (w->requires_grad) {  // gW[:, h-block] += sum_b gy[b]^T . o[b, h], examples in order
        int add;
        float *gw = lra_grad_for_write(ctx, w, &add);
#pragma omp parallel for schedule(static)
        for (int64_t h = 0; h < H; h++)
            for (int64_t b = 0; b < B; b++)
                lra_gemm_direct(true, false, E, p, n, 1.0f, gy + b * n * E, E, e->x + (b * H + h) * n * p, p,
                                (b == 0 && !add) ? 0.0f : 1.0f, gw + h * p, HP);
    }
    if (bias && bias->requires_grad) bias_grad_blocks(ctx, lra_grad(ctx, bias), gy, B, 1, n, E);
}

lra_tensor *lra_op_heads_linear(lra_ctx *ctx, lra_tensor *o, lra_tensor *w, lra_tensor *bias) {
    LRA_ASSERT_MSG(o->dtype == LRA_F32 && w->dtype == LRA_F32, "heads_linear needs f32 tensors");
    LRA_ASSERT_MSG(o->ndim == 4 && w->ndim == 2, "heads_linear: o must be [B, H, n, p] and w [E, H*p]");
    const int64_t B = o->shape[0], H = o->shape[1], n = o->shape[2], p = o->shape[3], E = w->shape[0];
    LRA_ASSERT_MSG(w->shape[1] == H * p, "heads_linear: w has %lld inputs, o has %lld heads of %lld",
                   (long long)w->shape[1], (long long)H, (long long)p);
    LRA_ASSERT_MSG(!bias || (bias->ndim == 1 && bias->shape[0] == E), "heads_linear: bias must be [%lld]", (long long)E);
    heads_extra *e = lra_node_alloc(ctx, sizeof *e);
    *e = (heads_extra){B, H, n, p, E, lra_ops_contig_data(ctx, o), lra_ops_contig_data(ctx, w)};
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, n, E));
    float *yd = lra_f32(y);
    for (int64_t h = 0; h < H; h++) {  // y[b] (+)= o[b, h] . W[:, h-block]^T (+ bias), heads in order
        if (h == 0 && bias)
            lra_gemm_bias_batched(B, false, true, n, E, p, 1.0f, e->x, p, H * n * p, e->w, H * p, 0,
                                  lra_ops_contig_data(ctx, bias), yd, E, n * E);
        else
            lra_gemm_batched(B, false, true, n, E, p, 1.0f, e->x + h * n * p, p, H * n * p, e->w + h * p, H * p, 0,
                             h == 0 ? 0.0f : 1.0f, yd, E, n * E);
    }
    lra_node *node = lra_tape_record(ctx, "heads_linear", heads_linear_backward, y, 3, (lra_tensor *[]){o, w, bias});
    if (node) node->extra = e;
    return y;
}

const lra_op_info lra_optable_heads[] = {
    {"linear_heads", (lra_op_fn)lra_op_linear_heads, linear_heads_backward, 0},
    {"heads_linear", (lra_op_fn)lra_op_heads_linear, heads_linear_backward, 0},
    {NULL, NULL, NULL, 0},
};
