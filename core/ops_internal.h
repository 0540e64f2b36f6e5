// Helpers shared by the ops_*.c files (not part of the public op API).
#ifndef LRA_CORE_OPS_INTERNAL_H
#define LRA_CORE_OPS_INTERNAL_H

#include <stdint.h>

#include "core/arena.h"
#include "core/autograd.h"
#include "core/tensor.h"

// Row-major contiguous contents of t (4-byte elements: f32 or i32): t's own memory when it is
// contiguous, else a copy in the step arena.
static inline const void *lra_ops_contig_data(lra_ctx *ctx, const lra_tensor *t) {
    if (lra_tensor_is_contiguous(t)) return t->data;
    int64_t n = lra_tensor_numel(t);
    void *d = lra_arena_alloc(ctx->arena, (size_t)(n > 0 ? n : 1) * 4);
    lra_tensor_gather_contiguous(t, d);
    return d;
}

// Row-major contiguous strides of shape[nd] into st.
static inline void lra_ops_contiguous_strides(const int64_t *shape, int nd, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

// The gradient reaching row r of a layer norm's output: a pointer to its d values (gy's own row, or
// `scratch` [d] filled by the source), or NULL when none reaches it (the row then gets a zero gradient).
typedef const float *(*lra_ln_row_grad_fn)(const void *arg, int64_t r, float *scratch);

// Layer norm's backward over rows [rows, d] of x (xd, with the forward's mean and rstd per row): x's
// gradient (added when it has one), gamma's and beta's through per-block partials added in block order
// (core/layer_norm_rows.h).  Shared by layer_norm and layer_norm_pool (ops_nn.c).
void lra_layer_norm_backward_rows(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta, const float *xd,
                                  const float *mean, const float *rstd, int64_t rows, int64_t d,
                                  lra_ln_row_grad_fn row_grad, const void *arg);

#endif
