// Indexing ops (see ops.h): index_select along any axis, batched row gather, top-k indices.
// The scatter-add backwards are partitioned by the gradient's destination (an outer slice and a chunk of
// columns) and add the selected rows in index order, so they are bitwise identical at any thread count.
#include "core/ops.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/ops_internal.h"
#include "core/optable.h"
#include "core/status.h"

// Below this many elements a loop stays on one thread.
#define IDX_PAR_MIN 16384
// Columns per task of the scatter-add backwards.
#define IDX_COL_CHUNK 256

// A copy in the arena of the indices a tape node keeps, so that the caller may reuse its buffer before
// backward (lra_ops_contig_data returns the caller's memory when it is contiguous).
static const int32_t *node_indices(lra_ctx *ctx, const int32_t *ix, const lra_tensor *idx, int64_t n) {
    if ((const void *)ix != idx->data) return ix;
    int32_t *d = lra_arena_alloc(ctx->arena, (size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    memcpy(d, ix, (size_t)n * sizeof(int32_t));
    return d;
}

// g [outer, n, inner] += scatter of gy [outer, k, inner] rows by idx: for slice o, idx_of(o) gives the k
// indices.  Tasks are (outer slice, column chunk); each adds its rows for j = 0..k-1 in order.
static void scatter_add_rows(float *g, const float *gy, const int32_t *idx, int64_t idx_outer_stride, int64_t outer,
                             int64_t n, int64_t k, int64_t inner) {
    int64_t nch = (inner + IDX_COL_CHUNK - 1) / IDX_COL_CHUNK;
    int64_t tasks = outer * nch;
#pragma omp parallel for schedule(static) if (outer * k * inner >= IDX_PAR_MIN)
    for (int64_t t = 0; t < tasks; t++) {
        int64_t o = t / nch, c0 = (t % nch) * IDX_COL_CHUNK;
        int64_t c1 = c0 + IDX_COL_CHUNK < inner ? c0 + IDX_COL_CHUNK : inner;
        const int32_t *ix = idx + o * idx_outer_stride;
        float *go = g + o * n * inner;
        const float *gyo = gy + o * k * inner;
        for (int64_t j = 0; j < k; j++) {
            float *dst = go + (int64_t)ix[j] * inner;
            const float *src = gyo + j * inner;
            for (int64_t c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}

// out [outer, k, inner] = rows of x [outer, n, inner] picked by idx (per slice as above).
static void gather_rows_impl(float *out, const float *x, const int32_t *idx, int64_t idx_outer_stride, int64_t outer,
                             int64_t n, int64_t k, int64_t inner) {
#pragma omp parallel for schedule(static) if (outer * k * inner >= IDX_PAR_MIN)
    for (int64_t t = 0; t < outer * k; t++) {
        int64_t o = t / k, j = t % k;
        int32_t i = idx[o * idx_outer_stride + j];
        memcpy(out + t * inner, x + (o * n + i) * inner, (size_t)inner * sizeof(float));
    }
}

// ---------------------------------------------------------------------------------------------- index_select

typedef struct {
    const int32_t *idx;  // [k]
    int64_t outer, n, k, inner;
} isel_extra;

static void index_select_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    const isel_extra *ex = node->extra;
    scatter_add_rows(lra_grad(ctx, x), node->out->grad, ex->idx, 0, ex->outer, ex->n, ex->k, ex->inner);
}

// x: [..., n, ...] (n at `axis`), idx: int32 [k] -> x's shape with n replaced by k
lra_tensor *lra_op_index_select(lra_ctx *ctx, lra_tensor *x, int axis, lra_tensor *idx) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32, "index_select: x must be f32");
    LRA_ASSERT_MSG(idx->dtype == LRA_I32 && idx->ndim == 1, "index_select: idx must be int32 [k]");
    int ax = lra_tensor_axis(x, axis);
    int64_t n = x->shape[ax], k = idx->shape[0];
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= x->shape[d];
    for (int d = ax + 1; d < x->ndim; d++) inner *= x->shape[d];
    const int32_t *ix = lra_ops_contig_data(ctx, idx);
    for (int64_t j = 0; j < k; j++)
        LRA_ASSERT_MSG(ix[j] >= 0 && ix[j] < n, "index_select: index %d at position %lld not in [0, %lld)", ix[j],
                       (long long)j, (long long)n);
    const float *xd = lra_ops_contig_data(ctx, x);
    int64_t shape[LRA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[ax] = k;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, x->ndim);
    gather_rows_impl(lra_f32(y), xd, ix, 0, outer, n, k, inner);
    lra_node *nd = lra_tape_record(ctx, "index_select", index_select_backward, y, 1, (lra_tensor *[]){x});
    if (nd) {
        isel_extra *ex = lra_node_alloc(ctx, sizeof *ex);
        *ex = (isel_extra){node_indices(ctx, ix, idx, k), outer, n, k, inner};
        nd->extra = ex;
    }
    return y;
}

// ---------------------------------------------------------------------------------------------- gather_rows

static void gather_rows_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    const isel_extra *ex = node->extra;
    scatter_add_rows(lra_grad(ctx, x), node->out->grad, ex->idx, ex->k, ex->outer, ex->n, ex->k, ex->inner);
}

// x: [..., n, p], idx: int32 [..., k] (the same leading dims) -> [..., k, p]
lra_tensor *lra_op_gather_rows(lra_ctx *ctx, lra_tensor *x, lra_tensor *idx) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim >= 2, "gather_rows: x must be f32 [..., n, p]");
    LRA_ASSERT_MSG(idx->dtype == LRA_I32 && idx->ndim == x->ndim - 1, "gather_rows: idx must be int32 with %d dims",
                   x->ndim - 1);
    int64_t outer = 1;
    for (int d = 0; d < x->ndim - 2; d++) {
        LRA_ASSERT_MSG(idx->shape[d] == x->shape[d], "gather_rows: idx dim %d is %lld, x has %lld", d,
                       (long long)idx->shape[d], (long long)x->shape[d]);
        outer *= x->shape[d];
    }
    int64_t n = x->shape[x->ndim - 2], p = x->shape[x->ndim - 1], k = idx->shape[idx->ndim - 1];
    const int32_t *ix = lra_ops_contig_data(ctx, idx);
    for (int64_t j = 0; j < outer * k; j++)
        LRA_ASSERT_MSG(ix[j] >= 0 && ix[j] < n, "gather_rows: index %d at flat position %lld not in [0, %lld)", ix[j],
                       (long long)j, (long long)n);
    const float *xd = lra_ops_contig_data(ctx, x);
    int64_t shape[LRA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 2] = k;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, x->ndim);
    gather_rows_impl(lra_f32(y), xd, ix, k, outer, n, k, p);
    lra_node *nd = lra_tape_record(ctx, "gather_rows", gather_rows_backward, y, 1, (lra_tensor *[]){x});
    if (nd) {
        isel_extra *ex = lra_node_alloc(ctx, sizeof *ex);
        *ex = (isel_extra){node_indices(ctx, ix, idx, outer * k), outer, n, k, p};
        nd->extra = ex;
    }
    return y;
}

// ---------------------------------------------------------------------------------------------- topk_indices

// Total order of "better" entries: larger value first, NaN above everything, ties to the lower index.
static inline int topk_better(const float *x, int32_t a, int32_t b) {
    float va = x[a], vb = x[b];
    int na = isnan(va), nb = isnan(vb);
    if (na != nb) return na;
    if (!na && va != vb) return va > vb;
    return a < b;
}

// Min-heap (worst entry at the root) of h[0..m-1].
static void topk_sift_down(const float *x, int32_t *h, int64_t m, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < m && topk_better(x, h[w], h[l])) w = l;
        if (r < m && topk_better(x, h[w], h[r])) w = r;
        if (w == i) return;
        int32_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void topk_sift_up(const float *x, int32_t *h, int64_t i) {
    while (i > 0) {
        int64_t par = (i - 1) / 2;
        if (!topk_better(x, h[par], h[i])) return;
        int32_t t = h[i];
        h[i] = h[par];
        h[par] = t;
        i = par;
    }
}

// The k best indices of x[0..n-1] into out[0..k-1], best first; heap[k] is scratch.  O(n log k).
static void topk_row(const float *x, int64_t n, int64_t k, int32_t *heap, int32_t *out) {
    if (k == 0) return;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (m < k) {
            heap[m] = (int32_t)i;
            topk_sift_up(x, heap, m++);
        } else if (topk_better(x, (int32_t)i, heap[0])) {
            heap[0] = (int32_t)i;
            topk_sift_down(x, heap, m, 0);
        }
    }
    // Popping the worst repeatedly fills the output from the back.
    for (int64_t j = k - 1; j >= 0; j--) {
        out[j] = heap[0];
        heap[0] = heap[--m];
        topk_sift_down(x, heap, m, 0);
    }
}

// x: [..., n] -> int32 [..., k]
lra_tensor *lra_op_topk_indices(lra_ctx *ctx, lra_tensor *x, int64_t k) {
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim >= 1, "topk_indices: x must be f32");
    int64_t n = x->shape[x->ndim - 1];
    LRA_ASSERT_MSG(k >= 0 && k <= n, "topk_indices: k=%lld with only %lld entries", (long long)k, (long long)n);
    LRA_ASSERT_MSG(n <= INT32_MAX, "topk_indices: axis too long");
    int64_t rows = n ? lra_tensor_numel(x) / n : 0;
    const float *xd = lra_ops_contig_data(ctx, x);
    int64_t shape[LRA_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = k;
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_I32, shape, x->ndim);
    int nthr = omp_get_max_threads();
    int32_t *scratch = lra_arena_alloc(ctx->arena, (size_t)nthr * (size_t)(k > 0 ? k : 1) * sizeof(int32_t));
#pragma omp parallel for schedule(static) if (rows * n >= IDX_PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        topk_row(xd + r * n, n, k, scratch + (size_t)omp_get_thread_num() * (size_t)k, lra_i32(y) + r * k);
    return y;
}

const lra_op_info lra_optable_index[] = {
    {"index_select", (lra_op_fn)lra_op_index_select, index_select_backward, 0},
    {"gather_rows", (lra_op_fn)lra_op_gather_rows, gather_rows_backward, 0},
    {"topk_indices", (lra_op_fn)lra_op_topk_indices, NULL, 1},
    {NULL, NULL, NULL, 0},
};
