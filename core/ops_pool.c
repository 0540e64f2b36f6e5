// The encoder's last step as one op: layer norm of every row, the padding mask, pooling over positions.
// See core/ops.h (lra_op_layer_norm_pool).
//
// The chain it replaces -- layer_norm, mul by the mask, mean over positions (or the first row) -- keeps
// three [B, n, d] tensors (the normalised rows, the masked copy, the mean's gradient) for a [B, d]
// result.  This op keeps only the row statistics and recomputes each row in backward.  Its arithmetic
// is the chain's, step for step (the layer norm rows of core/layer_norm_rows.h, the product by the
// mask, the mean's double sum in position order and its 1/n, the parameter sums in blocks of
// LN_BLOCK_ROWS rows, through layer_norm's own backward, lra_layer_norm_backward_rows), so values and
// gradients are the chain's bits.
#include <omp.h>

#include "core/layer_norm_rows.h"
#include "core/ops.h"
#include "core/ops_internal.h"
#include "core/optable.h"
#include "core/status.h"

#define POOL_PAR_MIN 16384  // elements below which the op stays on one thread

typedef struct {
    const float *x;      // [B, n, d] contiguous input
    const float *mask;   // [B, n] contiguous
    float *mean, *rstd;  // [B n] row statistics (first: only the rows i = 0 are set)
    int64_t B, n, d;
    int first;
} pool_extra;

// The gradient reaching row r = (b, i) of the normalised sequence: the mean's (gy / n, written into a
// zeroed buffer as its backward does) or the slice's (gy at i = 0, none elsewhere), times the mask.
typedef struct {
    const pool_extra *ex;
    const float *gy;  // [B, d]
    float sc;         // (float)(1 / n), the mean backward's factor
} pool_grad_src;

static const float *pool_row_grad(const void *arg, int64_t r, float *g) {
    const pool_grad_src *src = arg;
    const pool_extra *ex = src->ex;
    const int64_t b = r / ex->n, i = r % ex->n;
    if (ex->first && i != 0) return NULL;
    const float m = ex->mask[r], *gyb = src->gy + b * ex->d;
    for (int64_t c = 0; c < ex->d; c++) g[c] = (0.0f + (ex->first ? gyb[c] : gyb[c] * src->sc)) * m;
    return g;
}

static void pool_backward(lra_ctx *ctx, lra_node *node) {
    const pool_extra *ex = node->extra;
    const pool_grad_src src = {ex, node->out->grad, (float)(1.0 / (double)ex->n)};
    lra_layer_norm_backward_rows(ctx, node->in[0], node->in[1], node->in[2], ex->x, ex->mean, ex->rstd, ex->B * ex->n,
                                 ex->d, pool_row_grad, &src);
}

lra_tensor *lra_op_layer_norm_pool(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta, lra_tensor *mask,
                                   float eps, int first_row) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim == 3, "layer_norm_pool needs an f32 [B, n, d] tensor");
    const int64_t B = x->shape[0], n = x->shape[1], d = x->shape[2];
    LRA_ASSERT_MSG(mask->dtype == LRA_F32 && lra_tensor_numel(mask) == B * n && mask->shape[0] == B,
                   "layer_norm_pool: the mask must be [%lld, %lld]", (long long)B, (long long)n);
    LRA_ASSERT_MSG(!gamma || (gamma->ndim == 1 && gamma->shape[0] == d), "layer_norm_pool: gamma must be [%lld]",
                   (long long)d);
    LRA_ASSERT_MSG(!beta || (beta->ndim == 1 && beta->shape[0] == d), "layer_norm_pool: beta must be [%lld]",
                   (long long)d);
    LRA_ASSERT_MSG(n > 0, "layer_norm_pool: an empty sequence has nothing to pool");
    pool_extra *ex = lra_arena_calloc(ctx->arena, sizeof *ex);
    *ex = (pool_extra){.x = lra_ops_contig_data(ctx, x), .mask = lra_ops_contig_data(ctx, mask),
                       .B = B, .n = n, .d = d, .first = first_row != 0};
    ex->mean = lra_arena_alloc(ctx->arena, (size_t)(B * n) * sizeof(float));
    ex->rstd = lra_arena_alloc(ctx->arena, (size_t)(B * n) * sizeof(float));
    const float *gam = gamma ? lra_ops_contig_data(ctx, gamma) : NULL;
    const float *bet = beta ? lra_ops_contig_data(ctx, beta) : NULL;
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, d));
    float *o = lra_f32(out);
    const int64_t used = first_row ? 1 : n;  // rows per example that reach the output
    const double sc = 1.0 / (double)n;
    // per thread: one normalised row [d] and the mean's double sums [d]
    const size_t per = (size_t)(d > 0 ? d : 1) * (sizeof(float) + sizeof(double));
    char *scratch = lra_arena_alloc(ctx->arena, (size_t)omp_get_max_threads() * per);
#pragma omp parallel for schedule(static) if (B * used * d >= POOL_PAR_MIN)
    for (int64_t b = 0; b < B; b++) {
        double *acc = (double *)(scratch + (size_t)omp_get_thread_num() * per);
        float *y = (float *)(acc + d);
        for (int64_t c = 0; c < d; c++) acc[c] = 0.0;
        for (int64_t i = 0; i < used; i++) {
            const int64_t r = b * n + i;
            const float m = ex->mask[r];
            ln_row_stats(ex->x + r * d, d, eps, &ex->mean[r], &ex->rstd[r]);
            ln_row_forward(ex->x + r * d, gam, bet, ex->mean[r], ex->rstd[r], d, y);
            if (first_row)
                for (int64_t c = 0; c < d; c++) o[b * d + c] = y[c] * m;
            else
                for (int64_t c = 0; c < d; c++) acc[c] += (double)(y[c] * m);
        }
        if (!first_row)
            for (int64_t c = 0; c < d; c++) o[b * d + c] = (float)(acc[c] * sc);
    }
    lra_node *nd = lra_tape_record(ctx, "layer_norm_pool", pool_backward, out, 3, (lra_tensor *[]){x, gamma, beta});
    if (nd) nd->extra = ex;
    return out;
}

const lra_op_info lra_optable_pool[] = {
    {"layer_norm_pool", (lra_op_fn)lra_op_layer_norm_pool, pool_backward, 0},
    {NULL, NULL, NULL, 0},
};
