// Neural-network ops (see ops.h): softmax / log-softmax with an additive mask, cross-entropy fused with
// log-softmax, layer norm, dropout, embedding and L2 normalisation, each with its backward (its
// gradient-check case is in tests/gradcheck_cases.c).
// Every kernel is parallel over rows (or fixed blocks of rows) and each output element is written by one
// thread in a fixed order, so the results are bitwise identical at any thread count.  Long sums are
// accumulated in double.
#include "core/ops.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/ops_internal.h"
#include "core/layer_norm_rows.h"
#include "core/optable.h"
#include "core/rng.h"
#include "core/status.h"

// Below this many elements a loop stays on one thread (starting threads costs more than the work).
#define NN_PAR_MIN 16384
// Elements per dropout chunk: the mask is drawn chunk by chunk into a stack buffer and never stored.
#define DROPOUT_CHUNK 2048

// ---------------------------------------------------------------------------------------------- helpers

// A copy in the arena of n 4-byte elements that a tape node keeps (ids, labels), so that the caller may reuse
// its buffer before backward.
static void *node_copy(lra_ctx *ctx, const void *src, int64_t n) {
    void *d = lra_arena_alloc(ctx->arena, (size_t)(n > 0 ? n : 1) * 4);
    memcpy(d, src, (size_t)n * 4);
    return d;
}

// An additive mask broadcast against x [..., n]: the element offset of the mask row that goes with row r
// of x, and the mask's stride along the last axis (0 when it broadcasts there).
typedef struct {
    const float *data;
    int64_t lead_shape[3];   // x's leading dims, right-aligned, padded with 1
    int64_t lead_stride[3];  // the mask's strides for them (0 where the mask broadcasts)
    int64_t last_stride;
} bcast_mask;

static void mask_setup(bcast_mask *m, const lra_tensor *x, const lra_tensor *mask) {
    memset(m, 0, sizeof *m);
    if (!mask) return;
    LRA_ASSERT_MSG(mask->dtype == LRA_F32, "softmax mask must be f32");
    LRA_ASSERT_MSG(mask->ndim <= x->ndim, "softmax mask has more dims (%d) than x (%d)", mask->ndim, x->ndim);
    int64_t mstride[LRA_MAX_DIMS] = {0, 0, 0, 0};
    int pad = x->ndim - mask->ndim;
    for (int d = 0; d < mask->ndim; d++) {
        int64_t ms = mask->shape[d], xs = x->shape[pad + d];
        LRA_ASSERT_MSG(ms == xs || ms == 1, "softmax mask dim %d (%lld) does not broadcast to %lld", d, (long long)ms,
                       (long long)xs);
        mstride[pad + d] = (ms == 1) ? 0 : mask->stride[d];
    }
    m->data = lra_f32(mask);
    m->last_stride = mstride[x->ndim - 1];
    for (int i = 0; i < 3; i++) {
        m->lead_shape[i] = 1;
        m->lead_stride[i] = 0;
    }
    int nlead = x->ndim - 1;
    for (int d = 0; d < nlead; d++) {
        m->lead_shape[3 - nlead + d] = x->shape[d];
        m->lead_stride[3 - nlead + d] = mstride[d];
    }
}

static inline const float *mask_row(const bcast_mask *m, int64_t r) {
    int64_t i2 = r % m->lead_shape[2];
    r /= m->lead_shape[2];
    int64_t i1 = r % m->lead_shape[1];
    int64_t i0 = r / m->lead_shape[1];
    return m->data + i0 * m->lead_stride[0] + i1 * m->lead_stride[1] + i2 * m->lead_stride[2];
}

// ---------------------------------------------------------------------------------------------- softmax

typedef struct {
    uint8_t *dead;  // [rows] 1 where every logit of the row was -inf (the output row is zeros)
    int64_t rows, n;
} softmax_extra;

// y[rows, n] = (log-)softmax(x + mask) per row; rows whose logits are all -inf become zeros.
static void softmax_rows(const float *x, const bcast_mask *m, float *y, uint8_t *dead, int64_t rows, int64_t n,
                         int log_mode) {
#pragma omp parallel for schedule(static) if (rows * n >= NN_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        const float *mr = m->data ? mask_row(m, r) : NULL;
        float mx = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            float z = mr ? xr[i] + mr[i * m->last_stride] : xr[i];
            yr[i] = z;
            if (z > mx) mx = z;
        }
        if (mx == -INFINITY) {  // fully masked: zeros rather than NaN
            memset(yr, 0, (size_t)n * sizeof(float));
            dead[r] = 1;
            continue;
        }
        dead[r] = 0;
        if (log_mode) {
            // log-softmax = z - lse; the exps written by lra_softmax_row are not needed.
            const float lse = lra_softmax_row(yr, n);
            for (int64_t i = 0; i < n; i++) yr[i] = (mr ? xr[i] + mr[i * m->last_stride] : xr[i]) - lse;
        } else {
            (void)lra_softmax_row(yr, n);
        }
    }
}

// softmax: gx += y * (gy - sum(gy * y));  log-softmax: gx += gy - exp(y) * sum(gy).
static void softmax_backward_impl(lra_ctx *ctx, lra_node *node, int log_mode) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    const softmax_extra *ex = node->extra;
    float *gx = lra_grad(ctx, x);
    const float *gy = node->out->grad, *y = lra_f32(node->out);
    int64_t rows = ex->rows, n = ex->n;
#pragma omp parallel for schedule(static) if (rows * n >= NN_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        if (ex->dead[r]) continue;
        const float *yr = y + r * n, *gr = gy + r * n;
        float *gxr = gx + r * n;
        double s = 0.0;
        if (log_mode) {
            for (int64_t i = 0; i < n; i++) s += (double)gr[i];
            float sf = (float)s;
            for (int64_t i = 0; i < n; i++) gxr[i] += gr[i] - expf(yr[i]) * sf;
        } else {
            for (int64_t i = 0; i < n; i++) s += (double)gr[i] * (double)yr[i];
            float sf = (float)s;
            for (int64_t i = 0; i < n; i++) gxr[i] += yr[i] * (gr[i] - sf);
        }
    }
}

static void softmax_backward(lra_ctx *ctx, lra_node *node) { softmax_backward_impl(ctx, node, 0); }
static void log_softmax_backward(lra_ctx *ctx, lra_node *node) { softmax_backward_impl(ctx, node, 1); }

// x: [..., n], mask_add: NULL or broadcastable to x -> [..., n]
static lra_tensor *softmax_common(lra_ctx *ctx, lra_tensor *x, lra_tensor *mask_add, int log_mode) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim >= 1, "softmax needs an f32 tensor with at least one dim");
    int64_t n = x->shape[x->ndim - 1];
    int64_t rows = n ? lra_tensor_numel(x) / n : 0;
    bcast_mask m;
    mask_setup(&m, x, mask_add);
    const float *xd = lra_ops_contig_data(ctx, x);
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
    uint8_t *dead = lra_arena_alloc(ctx->arena, (size_t)(rows > 0 ? rows : 1));
    softmax_rows(xd, &m, lra_f32(y), dead, rows, n, log_mode);
    lra_node *nd = lra_tape_record(ctx, log_mode ? "log_softmax" : "softmax",
                                   log_mode ? log_softmax_backward : softmax_backward, y, 1, (lra_tensor *[]){x});
    if (nd) {
        softmax_extra *ex = lra_node_alloc(ctx, sizeof *ex);
        ex->dead = dead;
        ex->rows = rows;
        ex->n = n;
        nd->extra = ex;
    }
    return y;
}

lra_tensor *lra_op_softmax(lra_ctx *ctx, lra_tensor *x, lra_tensor *mask_add) {
    return softmax_common(ctx, x, mask_add, 0);
}

lra_tensor *lra_op_log_softmax(lra_ctx *ctx, lra_tensor *x, lra_tensor *mask_add) {
    return softmax_common(ctx, x, mask_add, 1);
}

// ---------------------------------------------------------------------------------------------- cross-entropy

typedef struct {
    const float *z;        // [B, C] contiguous logits
    const int32_t *label;  // [B]
    float *lse;            // [B] log-sum-exp of each row
    double denom;
    int64_t B, C;
} ce_extra;

// d loss / d z[b, c] = g * (softmax(z_b)[c] - [c == label_b]) / denom
static void cross_entropy_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *logits = node->in[0];
    if (!logits->requires_grad) return;
    const ce_extra *ex = node->extra;
    float *gx = lra_grad(ctx, logits);
    float g = (float)((double)node->out->grad[0] / ex->denom);
    int64_t B = ex->B, C = ex->C;
#pragma omp parallel for schedule(static) if (B * C >= NN_PAR_MIN)
    for (int64_t b = 0; b < B; b++) {
        const float *zr = ex->z + b * C;
        float *gr = gx + b * C;
        float lse = ex->lse[b];
        for (int64_t c = 0; c < C; c++) gr[c] += g * expf(zr[c] - lse);
        gr[ex->label[b]] -= g;
    }
}

// logits: [B, C], labels: int32 [B] -> [1]
lra_tensor *lra_op_cross_entropy(lra_ctx *ctx, lra_tensor *logits, lra_tensor *labels, double weight_sum) {
    LRA_ASSERT_MSG(logits->dtype == LRA_F32 && logits->ndim == 2, "cross_entropy: logits must be f32 [B, C]");
    LRA_ASSERT_MSG(labels->dtype == LRA_I32 && labels->ndim == 1 && labels->shape[0] == logits->shape[0],
                   "cross_entropy: labels must be int32 [%lld]", (long long)logits->shape[0]);
    int64_t B = logits->shape[0], C = logits->shape[1];
    LRA_ASSERT_MSG(C > 0, "cross_entropy: no classes");
    const float *z = lra_ops_contig_data(ctx, logits);
    const int32_t *lab = lra_ops_contig_data(ctx, labels);
    for (int64_t b = 0; b < B; b++)
        LRA_ASSERT_MSG(lab[b] >= 0 && lab[b] < C, "cross_entropy: label %d of example %lld not in [0, %lld)", lab[b],
                       (long long)b, (long long)C);
    float *lse = lra_arena_alloc(ctx->arena, (size_t)(B > 0 ? B : 1) * sizeof(float));
    double *row_loss = lra_arena_alloc(ctx->arena, (size_t)(B > 0 ? B : 1) * sizeof(double));
#pragma omp parallel for schedule(static) if (B * C >= NN_PAR_MIN)
    for (int64_t b = 0; b < B; b++) {
        const float *zr = z + b * C;
        float mx = zr[0];
        for (int64_t c = 1; c < C; c++)
            if (zr[c] > mx) mx = zr[c];
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += (double)expf(zr[c] - mx);
        double l = (double)mx + log(s);
        lse[b] = (float)l;
        row_loss[b] = l - (double)zr[lab[b]];
    }
    double total = 0.0;  // in example order, whatever the thread count
    for (int64_t b = 0; b < B; b++) total += row_loss[b];
    double denom = weight_sum > 0 ? weight_sum : (double)(B > 0 ? B : 1);
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(1));
    lra_f32(out)[0] = (float)(total / denom);
    lra_node *nd = lra_tape_record(ctx, "cross_entropy", cross_entropy_backward, out, 1, (lra_tensor *[]){logits});
    if (nd) {
        ce_extra *ex = lra_node_alloc(ctx, sizeof *ex);
        ex->z = z;
        ex->label = lab == labels->data ? node_copy(ctx, lab, B) : lab;
        ex->lse = lse;
        ex->denom = denom;
        ex->B = B;
        ex->C = C;
        nd->extra = ex;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------- layer norm

typedef struct {
    const float *x;      // [rows, d] contiguous input
    float *mean, *rstd;  // [rows]
    int64_t rows, d;
} ln_extra;

// PyTorch's backward: with xh = (x - mean) * rstd and g = gy * gamma,
//   gx = rstd * (g - mean(g) - xh * mean(g * xh)),  dgamma = sum_rows gy * xh,  dbeta = sum_rows gy.
// The parameter sums go through per-block partials (blocks of LN_BLOCK_ROWS rows, summed in block order).
void lra_layer_norm_backward_rows(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta, const float *xd,
                                  const float *mean, const float *rstd, int64_t rows, int64_t d,
                                  lra_ln_row_grad_fn row_grad, const void *arg) {
    const float *gam = gamma ? lra_ops_contig_data(ctx, gamma) : NULL;
    int gx_add = 0;
    float *gx = x->requires_grad ? lra_grad_for_write(ctx, x, &gx_add) : NULL;
    float *gg = (gamma && gamma->requires_grad) ? lra_grad(ctx, gamma) : NULL;
    float *gb = (beta && beta->requires_grad) ? lra_grad(ctx, beta) : NULL;
    const int64_t nblk = (rows + LN_BLOCK_ROWS - 1) / LN_BLOCK_ROWS;
    double *pg = NULL, *pb = NULL;
    if (gg) pg = lra_arena_calloc(ctx->arena, (size_t)(nblk * d > 0 ? nblk * d : 1) * sizeof(double));
    if (gb) pb = lra_arena_calloc(ctx->arena, (size_t)(nblk * d > 0 ? nblk * d : 1) * sizeof(double));
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)omp_get_max_threads() * (size_t)(d > 0 ? d : 1) * sizeof(float));
#pragma omp parallel for schedule(static) if (rows * d >= NN_PAR_MIN)
    for (int64_t blk = 0; blk < nblk; blk++) {
        float *g = scratch + (size_t)omp_get_thread_num() * (size_t)d;
        const int64_t r1 = (blk + 1) * LN_BLOCK_ROWS < rows ? (blk + 1) * LN_BLOCK_ROWS : rows;
        for (int64_t r = blk * LN_BLOCK_ROWS; r < r1; r++) {
            const float *gr = row_grad(arg, r, g);
            if (!gr) {  // no gradient reaches the row: it adds exact zeros
                if (gx && !gx_add) memset(gx + r * d, 0, (size_t)d * sizeof(float));
                continue;
            }
            const float *xr = xd + r * d;
            if (gx) ln_row_backward(xr, gr, gam, mean[r], rstd[r], d, gx_add, gx + r * d);
            ln_row_param_sums(xr, gr, mean[r], rstd[r], d, pg ? pg + blk * d : NULL, pb ? pb + blk * d : NULL);
        }
    }
    ln_param_partials_add(pg, pb, nblk, d, gg, gb);
}

// layer_norm's output gradient, row by row.
static const float *ln_out_grad_row(const void *arg, int64_t r, float *scratch) {
    (void)scratch;
    const lra_node *node = arg;
    const ln_extra *ex = node->extra;
    return node->out->grad + r * ex->d;
}

static void layer_norm_backward(lra_ctx *ctx, lra_node *node) {
    const ln_extra *ex = node->extra;
    lra_layer_norm_backward_rows(ctx, node->in[0], node->in[1], node->in[2], ex->x, ex->mean, ex->rstd, ex->rows, ex->d,
                                 ln_out_grad_row, node);
}

// x: [..., d], gamma/beta: [d] or NULL -> [..., d]
lra_tensor *lra_op_layer_norm(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta, float eps) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim >= 1, "layer_norm needs an f32 tensor");
    int64_t d = x->shape[x->ndim - 1];
    int64_t rows = d ? lra_tensor_numel(x) / d : 0;
    LRA_ASSERT_MSG(!gamma || (gamma->ndim == 1 && gamma->shape[0] == d), "layer_norm: gamma must be [%lld]",
                   (long long)d);
    LRA_ASSERT_MSG(!beta || (beta->ndim == 1 && beta->shape[0] == d), "layer_norm: beta must be [%lld]",
                   (long long)d);
    const float *xd = lra_ops_contig_data(ctx, x);
    const float *gam = gamma ? lra_ops_contig_data(ctx, gamma) : NULL;
    const float *bet = beta ? lra_ops_contig_data(ctx, beta) : NULL;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
    float *yd = lra_f32(y);
    float *mean = lra_arena_alloc(ctx->arena, (size_t)(rows > 0 ? rows : 1) * sizeof(float));
    float *rstd = lra_arena_alloc(ctx->arena, (size_t)(rows > 0 ? rows : 1) * sizeof(float));
#pragma omp parallel for schedule(static) if (rows * d >= NN_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xd + r * d;
        float *yr = yd + r * d;
        ln_row_stats(xr, d, eps, &mean[r], &rstd[r]);
        ln_row_forward(xr, gam, bet, mean[r], rstd[r], d, yr);
    }
    lra_node *nd = lra_tape_record(ctx, "layer_norm", layer_norm_backward, y, 3, (lra_tensor *[]){x, gamma, beta});
    if (nd) {
        ln_extra *ex = lra_node_alloc(ctx, sizeof *ex);
        ex->x = xd;
        ex->mean = mean;
        ex->rstd = rstd;
        ex->rows = rows;
        ex->d = d;
        nd->extra = ex;
        nd->fattr[0] = eps;
    }
    return y;
}

// ---------------------------------------------------------------------------------------------- dropout

// y[i] = x[i] * scale where keep[i], else 0 -- or y[i] += that when add -- over n elements.  The caller
// may pass y == x (in place).
static void dropout_scale(float *y, const float *x, const uint8_t *keep, int64_t n, float scale, int add) {
    if (add)
        for (int64_t i = 0; i < n; i++) y[i] += x[i] * (scale * (float)keep[i]);
    else
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * (scale * (float)keep[i]);
}

// The forward of dropout and of the residual form: draws the keep mask of z [n] (the batch's first example
// at element `base` of the (seed, stream) mask, lra_rng_fill_keep) chunk by chunk and writes
// y = z * mask * scale, or y = r + z * mask * scale when r is given, or y = gelu(z) * mask * scale with
// `gelu`.  The mask goes to keep_all [n] when backward needs it (else only a stack buffer per chunk).
// Returns keep_all.
static uint8_t *dropout_forward(lra_ctx *ctx, const float *z, const float *r, float *y, int64_t n, int64_t per_example,
                                float p, uint64_t stream, int keep_mask, int gelu, const char *op) {
    LRA_ASSERT_MSG(ctx->example_offset >= 0, "%s: negative example_offset %lld", op, (long long)ctx->example_offset);
    const uint64_t base = (uint64_t)ctx->example_offset * (uint64_t)per_example;
    const float scale = 1.0f / (1.0f - p);
    uint8_t *keep_all = keep_mask ? lra_arena_alloc(ctx->arena, (size_t)(n > 0 ? n : 1)) : NULL;
    const int64_t nchunk = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
#pragma omp parallel for schedule(static) if (n >= NN_PAR_MIN)
    for (int64_t c = 0; c < nchunk; c++) {
        uint8_t local[DROPOUT_CHUNK];
        const int64_t i0 = c * DROPOUT_CHUNK, len = n - i0 < DROPOUT_CHUNK ? n - i0 : DROPOUT_CHUNK;
        uint8_t *keep = keep_all ? keep_all + i0 : local;
        lra_rng_fill_keep(ctx->seed, stream, base + (uint64_t)i0, keep, (size_t)len, p);
        if (r)
            for (int64_t i = 0; i < len; i++) y[i0 + i] = r[i0 + i] + z[i0 + i] * (scale * (float)keep[i]);
        else if (gelu)
            for (int64_t i = 0; i < len; i++) y[i0 + i] = lra_gelu(z[i0 + i]) * (scale * (float)keep[i]);
        else
            dropout_scale(y + i0, z + i0, keep, len, scale, 0);
    }
    return keep_all;
}

// The forward kept the mask (one byte per element); gx = gy * mask, in gy's buffer when x has no gradient yet.
static void dropout_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    const int64_t n = lra_tensor_numel(x);
    const float *gy = node->out->grad;
    const uint8_t *keep = node->extra;
    const float scale = (float)node->fattr[1];
    int add;
    float *gx = lra_grad_take(ctx, x, node->out, &add);
    const int64_t nchunk = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
#pragma omp parallel for schedule(static) if (n >= NN_PAR_MIN)
    for (int64_t c = 0; c < nchunk; c++) {
        const int64_t i0 = c * DROPOUT_CHUNK, len = n - i0 < DROPOUT_CHUNK ? n - i0 : DROPOUT_CHUNK;
        dropout_scale(gx + i0, gy + i0, keep + i0, len, scale, add);
    }
}

// x: [B, ...] -> same shape.  Element i of example b is element (ctx->example_offset + b) * (numel / B) + i
// of the (seed, stream) keep mask (lra_rng_fill_keep), so a batch split into micro-batches (or ranks) with
// the right example_offset draws the same mask as the whole batch.  The mask is kept for backward (one byte
// per element, a quarter of the activation) rather than drawn again.
lra_tensor *lra_op_dropout(lra_ctx *ctx, lra_tensor *x, float p, uint64_t stream) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32, "dropout needs an f32 tensor");
    LRA_ASSERT_MSG(p >= 0.0f && p < 1.0f, "dropout p=%g outside [0, 1)", (double)p);
    int identity = !ctx->training || p == 0.0f;
    if (identity && lra_tensor_is_contiguous(x)) return x;
    if (identity) return lra_op_contiguous(ctx, x);
    const float *xd = lra_ops_contig_data(ctx, x);
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
    const int64_t n = lra_tensor_numel(x);
    const int64_t per_example = x->ndim > 0 && x->shape[0] > 0 ? n / x->shape[0] : n;
    const float scale = 1.0f / (1.0f - p);
    uint8_t *keep_all = dropout_forward(ctx, xd, NULL, lra_f32(y), n, per_example, p, stream,
                                        ctx->grad_enabled && x->requires_grad, 0, "dropout");
    lra_node *nd = lra_tape_record(ctx, "dropout", dropout_backward, y, 1, (lra_tensor *[]){x});
    if (nd) {
        nd->extra = keep_all;
        nd->fattr[0] = p;
        nd->fattr[1] = scale;
    }
    return y;
}

// The residual form x + dropout(z): the mask is kept (one byte per element) and dropout(z) is never
// stored.  gz = gy * mask (set or added), gx = gy (x takes gy's buffer when it has no gradient yet).
static void add_dropout_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0], *z = node->in[1];
    const int64_t n = lra_tensor_numel(z);
    const float *gy = node->out->grad;
    const uint8_t *keep = node->extra;
    const float scale = (float)node->fattr[1];
    const int64_t nchunk = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
    if (z->requires_grad) {
        int add;
        float *gz = lra_grad_for_write(ctx, z, &add);
#pragma omp parallel for schedule(static) if (n >= NN_PAR_MIN)
        for (int64_t c = 0; c < nchunk; c++) {
            const int64_t i0 = c * DROPOUT_CHUNK, len = n - i0 < DROPOUT_CHUNK ? n - i0 : DROPOUT_CHUNK;
            dropout_scale(gz + i0, gy + i0, keep + i0, len, scale, add);
        }
    }
    if (x->requires_grad) {
        int add;
        float *gx = lra_grad_take(ctx, x, node->out, &add);
        if (gx != gy) {
#pragma omp parallel for schedule(static) if (n >= NN_PAR_MIN)
            for (int64_t i = 0; i < n; i++) gx[i] = add ? gx[i] + gy[i] : gy[i];
        }
    }
}

// x, z: same shape -> x + dropout(z, p, stream), with the mask of lra_op_dropout (same bits as
// lra_op_add(x, lra_op_dropout(z))).  Falls back to those two ops when the shapes differ, an input is not
// contiguous, or dropout is off.
lra_tensor *lra_op_add_dropout(lra_ctx *ctx, lra_tensor *x, lra_tensor *z, float p, uint64_t stream) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && z->dtype == LRA_F32, "add_dropout needs f32 tensors");
    LRA_ASSERT_MSG(p >= 0.0f && p < 1.0f, "add_dropout p=%g outside [0, 1)", (double)p);
    int same = x->ndim == z->ndim && lra_tensor_is_contiguous(x) && lra_tensor_is_contiguous(z);
    for (int d = 0; same && d < x->ndim; d++) same = x->shape[d] == z->shape[d];
    if (!same || !ctx->training || p == 0.0f) return lra_op_add(ctx, x, lra_op_dropout(ctx, z, p, stream));
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, z->shape, z->ndim);
    const int64_t n = lra_tensor_numel(z);
    const int64_t per_example = z->ndim > 0 && z->shape[0] > 0 ? n / z->shape[0] : n;
    const float scale = 1.0f / (1.0f - p);
    uint8_t *keep_all = dropout_forward(ctx, lra_f32(z), lra_f32(x), lra_f32(y), n, per_example, p, stream,
                                        ctx->grad_enabled && (x->requires_grad || z->requires_grad), 0, "add_dropout");
    lra_node *nd = lra_tape_record(ctx, "add_dropout", add_dropout_backward, y, 2, (lra_tensor *[]){x, z});
    if (nd) {
        nd->extra = keep_all;
        nd->fattr[0] = p;
        nd->fattr[1] = scale;
    }
    return y;
}

// ------------------------------------------------------------------------------------------ gelu_dropout

typedef struct {
    const uint8_t *keep;  // [n] the dropout mask
    const float *x;       // [n] the input (contiguous)
} gelu_dropout_saved;

// gx (+)= (gy * mask * scale) * gelu'(x): the two ops' backward expressions in their order (same bits);
// in gy's buffer when x has no gradient yet.
static void gelu_dropout_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    const gelu_dropout_saved *sv = node->extra;
    const int64_t n = lra_tensor_numel(x);
    const float *gy = node->out->grad, *xd = sv->x;
    const uint8_t *keep = sv->keep;
    const float scale = (float)node->fattr[1];
    int add;
    float *gx = lra_grad_take(ctx, x, node->out, &add);
    const int64_t nchunk = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
#pragma omp parallel for schedule(static) if (n >= NN_PAR_MIN)
    for (int64_t c = 0; c < nchunk; c++) {
        const int64_t i0 = c * DROPOUT_CHUNK, i1 = n - i0 < DROPOUT_CHUNK ? n : i0 + DROPOUT_CHUNK;
        if (add)
            for (int64_t i = i0; i < i1; i++) gx[i] += (gy[i] * (scale * (float)keep[i])) * lra_gelu_slope(xd[i]);
        else
            for (int64_t i = i0; i < i1; i++) gx[i] = (gy[i] * (scale * (float)keep[i])) * lra_gelu_slope(xd[i]);
    }
}

// x: [B, ...] -> same shape: dropout(gelu(x), p, stream) in one pass (the MLP's hidden activation), storing
// the mask and not gelu(x); same bits as lra_op_dropout(lra_op_gelu(x)).  Plain gelu when dropout is off.
lra_tensor *lra_op_gelu_dropout(lra_ctx *ctx, lra_tensor *x, float p, uint64_t stream) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32, "gelu_dropout needs an f32 tensor");
    LRA_ASSERT_MSG(p >= 0.0f && p < 1.0f, "gelu_dropout p=%g outside [0, 1)", (double)p);
    if (!ctx->training || p == 0.0f) return lra_op_gelu(ctx, x);
    gelu_dropout_saved *sv = lra_node_alloc(ctx, sizeof *sv);
    sv->x = lra_ops_contig_data(ctx, x);
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
    const int64_t n = lra_tensor_numel(x);
    const int64_t per_example = x->ndim > 0 && x->shape[0] > 0 ? n / x->shape[0] : n;
    sv->keep = dropout_forward(ctx, sv->x, NULL, lra_f32(y), n, per_example, p, stream,
                               ctx->grad_enabled && x->requires_grad, 1, "gelu_dropout");
    lra_node *nd = lra_tape_record(ctx, "gelu_dropout", gelu_dropout_backward, y, 1, (lra_tensor *[]){x});
    if (nd) {
        nd->extra = sv;
        nd->fattr[0] = p;
        nd->fattr[1] = 1.0f / (1.0f - p);
    }
    return y;
}

// ---------------------------------------------------------------------------------------------- embedding

typedef struct {
    const int32_t *ids;  // [N] contiguous
    int64_t N, V, d;
} emb_extra;

// Scatter-add by table row: positions are bucketed by id with a stable counting sort, then each table row
// sums its positions in position order (in double), so the result does not depend on the thread count.
static void embedding_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *table = node->in[0];
    if (!table->requires_grad) return;
    const emb_extra *ex = node->extra;
    int64_t N = ex->N, V = ex->V, d = ex->d;
    float *gt = lra_grad(ctx, table);
    const float *gy = node->out->grad;
    int64_t *start = lra_arena_calloc(ctx->arena, (size_t)(V + 1) * sizeof(int64_t));
    int64_t *fill = lra_arena_alloc(ctx->arena, (size_t)(V + 1) * sizeof(int64_t));
    int64_t *order = lra_arena_alloc(ctx->arena, (size_t)(N > 0 ? N : 1) * sizeof(int64_t));
    for (int64_t i = 0; i < N; i++) start[ex->ids[i] + 1]++;
    for (int64_t v = 0; v < V; v++) start[v + 1] += start[v];
    memcpy(fill, start, (size_t)(V + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < N; i++) order[fill[ex->ids[i]]++] = i;
    int nthr = omp_get_max_threads();
    double *acc_all = lra_arena_alloc(ctx->arena, (size_t)nthr * (size_t)(d > 0 ? d : 1) * sizeof(double));
#pragma omp parallel for schedule(dynamic, 16) if (N * d >= NN_PAR_MIN)
    for (int64_t v = 0; v < V; v++) {
        int64_t a = start[v], b = start[v + 1];
        if (a == b) continue;
        double *acc = acc_all + (size_t)omp_get_thread_num() * (size_t)d;
        for (int64_t j = 0; j < d; j++) acc[j] = 0.0;
        for (int64_t k = a; k < b; k++) {
            const float *gr = gy + order[k] * d;
            for (int64_t j = 0; j < d; j++) acc[j] += (double)gr[j];
        }
        float *dst = gt + v * d;
        for (int64_t j = 0; j < d; j++) dst[j] += (float)acc[j];
    }
}

// ids: int32 [...] (at most 3 dims), table: [V, d] -> [..., d]
lra_tensor *lra_op_embedding(lra_ctx *ctx, lra_tensor *ids, lra_tensor *table) {
    LRA_ASSERT_MSG(ids->dtype == LRA_I32 && ids->ndim < LRA_MAX_DIMS, "embedding: ids must be int32 with < 4 dims");
    LRA_ASSERT_MSG(table->dtype == LRA_F32 && table->ndim == 2, "embedding: table must be f32 [V, d]");
    int64_t V = table->shape[0], d = table->shape[1];
    int64_t N = lra_tensor_numel(ids);
    const int32_t *id = lra_ops_contig_data(ctx, ids);
    for (int64_t i = 0; i < N; i++)
        LRA_ASSERT_MSG(id[i] >= 0 && id[i] < V, "embedding: id %d at position %lld not in [0, %lld)", id[i],
                       (long long)i, (long long)V);
    const float *tab = lra_ops_contig_data(ctx, table);
    int64_t shape[LRA_MAX_DIMS];
    for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
    shape[ids->ndim] = d;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, ids->ndim + 1);
    float *yd = lra_f32(y);
#pragma omp parallel for schedule(static) if (N * d >= NN_PAR_MIN)
    for (int64_t i = 0; i < N; i++) memcpy(yd + i * d, tab + (int64_t)id[i] * d, (size_t)d * sizeof(float));
    lra_node *nd = lra_tape_record(ctx, "embedding", embedding_backward, y, 1, (lra_tensor *[]){table});
    if (nd) {
        emb_extra *ex = lra_node_alloc(ctx, sizeof *ex);
        ex->ids = id == ids->data ? node_copy(ctx, id, N) : id;
        ex->N = N;
        ex->V = V;
        ex->d = d;
        nd->extra = ex;
    }
    return y;
}

// ---------------------------------------------------------------------------------------------- l2_normalize

// With s = max(||x||, eps) and y = x / s:  gx = (gy - y * (gy . y)) / s when ||x|| > eps, else gy / eps.
static void l2_normalize_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    float *gx = lra_grad(ctx, x);
    const float *norm = node->extra;
    const float *gy = node->out->grad, *y = lra_f32(node->out);
    float eps = (float)node->fattr[0];
    int64_t d = node->iattr[1], rows = node->iattr[0];
#pragma omp parallel for schedule(static) if (rows * d >= NN_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *gr = gy + r * d, *yr = y + r * d;
        float *gxr = gx + r * d;
        if (norm[r] > eps) {
            double dot = 0.0;
            for (int64_t i = 0; i < d; i++) dot += (double)gr[i] * (double)yr[i];
            float df = (float)dot, inv = 1.0f / norm[r];
            for (int64_t i = 0; i < d; i++) gxr[i] += (gr[i] - yr[i] * df) * inv;
        } else {
            float inv = 1.0f / eps;
            for (int64_t i = 0; i < d; i++) gxr[i] += gr[i] * inv;
        }
    }
}

// x: [..., d] -> [..., d]
lra_tensor *lra_op_l2_normalize(lra_ctx *ctx, lra_tensor *x, float eps) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim >= 1, "l2_normalize needs an f32 tensor");
    int64_t d = x->shape[x->ndim - 1];
    int64_t rows = d ? lra_tensor_numel(x) / d : 0;
    const float *xd = lra_ops_contig_data(ctx, x);
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
    float *yd = lra_f32(y);
    float *norm = lra_arena_alloc(ctx->arena, (size_t)(rows > 0 ? rows : 1) * sizeof(float));
#pragma omp parallel for schedule(static) if (rows * d >= NN_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xd + r * d;
        double s = 0.0;
        for (int64_t i = 0; i < d; i++) s += (double)xr[i] * (double)xr[i];
        float nr = (float)sqrt(s);
        norm[r] = nr;
        float den = nr > eps ? nr : eps;
        for (int64_t i = 0; i < d; i++) yd[r * d + i] = xr[i] / den;
    }
    lra_node *nd = lra_tape_record(ctx, "l2_normalize", l2_normalize_backward, y, 1, (lra_tensor *[]){x});
    if (nd) {
        nd->extra = norm;
        nd->iattr[0] = rows;
        nd->iattr[1] = d;
        nd->fattr[0] = eps;
    }
    return y;
}

const lra_op_info lra_optable_nn[] = {
    {"softmax", (lra_op_fn)lra_op_softmax, softmax_backward, 0},
    {"log_softmax", (lra_op_fn)lra_op_log_softmax, log_softmax_backward, 0},
    {"cross_entropy", (lra_op_fn)lra_op_cross_entropy, cross_entropy_backward, 0},
    {"layer_norm", (lra_op_fn)lra_op_layer_norm, layer_norm_backward, 0},
    {"dropout", (lra_op_fn)lra_op_dropout, dropout_backward, 0},
    {"add_dropout", (lra_op_fn)lra_op_add_dropout, add_dropout_backward, 0},
    {"gelu_dropout", (lra_op_fn)lra_op_gelu_dropout, gelu_dropout_backward, 0},
    {"embedding", (lra_op_fn)lra_op_embedding, embedding_backward, 0},
    {"l2_normalize", (lra_op_fn)lra_op_l2_normalize, l2_normalize_backward, 0},
    {NULL, NULL, NULL, 0},
};
