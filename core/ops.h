// Primitive differentiable ops.  Every op takes the step context first, allocates its output in the
// context's arena (contiguous unless it is a view op), records a tape node when an input requires
// grad, and has a backward that ADDS into input gradients.  Inputs may be non-contiguous views unless
// a comment says otherwise (ops copy to contiguous internally when a kernel needs it).
// Broadcasting follows NumPy rules over up to 4 dims.  Axis arguments may be negative (-1 = last).
// Deterministic: each output element is computed by one thread in a fixed order, so results are
// bitwise identical at any thread count.
//
// Implementation files: ops_matmul.c, ops_elementwise.c, ops_reduce.c, ops_view.c (basic), and
// ops_nn.c, ops_index.c, ops_fft.c (neural-network and indexing ops).  optable.c lists every op with
// its forward and backward; tests/gradcheck_cases.c holds each op's gradient-check case.
#ifndef LRA_CORE_OPS_H
#define LRA_CORE_OPS_H

#include <stdint.h>

#include "core/autograd.h"
#include "core/tensor.h"

// ---------------------------------------------------------------- matmul (ops_matmul.c, cblas_sgemm)
// a: [..., M, K] (or [..., K, M] when trans_a), b: [..., K, N] (or [..., N, K] when trans_b)
// -> [..., M, N].  Leading (batch) dims broadcast, e.g. a [B, H, n, p] x b [p, p].
lra_tensor *lra_op_matmul(lra_ctx *ctx, lra_tensor *a, lra_tensor *b, int trans_a, int trans_b);
// x: [..., in], w: [out, in] (PyTorch layout), bias: [out] or NULL -> [..., out]; one sgemm over all rows.
lra_tensor *lra_op_linear(lra_ctx *ctx, lra_tensor *x, lra_tensor *w, lra_tensor *bias);

// ---------------------------------------------------------------- projections with heads (ops_heads.c)
// x: [B, n, D], w: [H*p, D], bias: [H*p] or NULL -> [B, H, n, p] (linear, then the heads split off and
// moved before the sequence axis, with no transposed copy).
lra_tensor *lra_op_linear_heads(lra_ctx *ctx, lra_tensor *x, lra_tensor *w, lra_tensor *bias, int heads);
// o: [B, H, n, p], w: [E, H*p], bias: [E] or NULL -> [B, n, E] (the heads merged back, then linear).
lra_tensor *lra_op_heads_linear(lra_ctx *ctx, lra_tensor *o, lra_tensor *w, lra_tensor *bias);

// ---------------------------------------------------------------- elementwise (ops_elementwise.c)
lra_tensor *lra_op_add(lra_ctx *ctx, lra_tensor *a, lra_tensor *b);  // broadcasting
lra_tensor *lra_op_sub(lra_ctx *ctx, lra_tensor *a, lra_tensor *b);
lra_tensor *lra_op_mul(lra_ctx *ctx, lra_tensor *a, lra_tensor *b);
lra_tensor *lra_op_div(lra_ctx *ctx, lra_tensor *a, lra_tensor *b);
lra_tensor *lra_op_scale(lra_ctx *ctx, lra_tensor *x, float s);       // s * x
lra_tensor *lra_op_add_scalar(lra_ctx *ctx, lra_tensor *x, float s);  // x + s
lra_tensor *lra_op_exp(lra_ctx *ctx, lra_tensor *x);
lra_tensor *lra_op_log(lra_ctx *ctx, lra_tensor *x);
lra_tensor *lra_op_sqrt(lra_ctx *ctx, lra_tensor *x);
lra_tensor *lra_op_rsqrt(lra_ctx *ctx, lra_tensor *x);
lra_tensor *lra_op_pow(lra_ctx *ctx, lra_tensor *x, float p);          // x^p (x > 0 unless p is an integer)
lra_tensor *lra_op_tanh(lra_ctx *ctx, lra_tensor *x);
// arccos of x clamped to [-1+eps, 1-eps] (the gradient is that of the clamped value: 0 outside).
lra_tensor *lra_op_acos(lra_ctx *ctx, lra_tensor *x, float eps);
lra_tensor *lra_op_abs(lra_ctx *ctx, lra_tensor *x);
lra_tensor *lra_op_gelu(lra_ctx *ctx, lra_tensor *x);                  // erf form (PyTorch default)
lra_tensor *lra_op_relu(lra_ctx *ctx, lra_tensor *x);
lra_tensor *lra_op_elu(lra_ctx *ctx, lra_tensor *x, float alpha);

// ---------------------------------------------------------------- reductions (ops_reduce.c)
// Over one axis; keepdim keeps it with size 1.  Accumulation in double, fixed order.
lra_tensor *lra_op_sum(lra_ctx *ctx, lra_tensor *x, int axis, int keepdim);
lra_tensor *lra_op_mean(lra_ctx *ctx, lra_tensor *x, int axis, int keepdim);
lra_tensor *lra_op_max(lra_ctx *ctx, lra_tensor *x, int axis, int keepdim);  // grad to the first argmax
lra_tensor *lra_op_sum_all(lra_ctx *ctx, lra_tensor *x);                      // -> [1]

// ---------------------------------------------------------------- views and copies (ops_view.c)
// Views share memory with x when possible; reshape copies when x is not contiguous.
lra_tensor *lra_op_reshape(lra_ctx *ctx, lra_tensor *x, const int64_t *shape, int ndim);  // one dim may be -1
lra_tensor *lra_op_transpose(lra_ctx *ctx, lra_tensor *x, int d0, int d1);
lra_tensor *lra_op_permute(lra_ctx *ctx, lra_tensor *x, const int *perm);               // perm[x->ndim]
lra_tensor *lra_op_slice(lra_ctx *ctx, lra_tensor *x, int axis, int64_t start, int64_t end);  // [start, end)
lra_tensor *lra_op_contiguous(lra_ctx *ctx, lra_tensor *x);  // x itself when already contiguous
lra_tensor *lra_op_concat(lra_ctx *ctx, lra_tensor *const *xs, int n, int axis);
// Splits into n equal parts along axis (views); out[n].
void lra_op_split(lra_ctx *ctx, lra_tensor *x, int n, int axis, lra_tensor **out);

// ---------------------------------------------------------------- neural-network ops (ops_nn.c)
// Softmax / log-softmax over the last axis.  mask_add: NULL or a tensor broadcastable to x added to the
// logits first (e.g. 0 / -inf or -1e9); it gets no gradient.  Rows that are entirely -inf give zeros.
lra_tensor *lra_op_softmax(lra_ctx *ctx, lra_tensor *x, lra_tensor *mask_add);
lra_tensor *lra_op_log_softmax(lra_ctx *ctx, lra_tensor *x, lra_tensor *mask_add);
// logits: [B, C], labels: int32 [B] -> [1], the mean over the batch of -log softmax(logits)[label].
// Fused with log-softmax.  If weight_sum > 0 the sum is divided by it instead of B (for accumulation).
lra_tensor *lra_op_cross_entropy(lra_ctx *ctx, lra_tensor *logits, lra_tensor *labels, double weight_sum);
// Layer norm over the last axis (biased variance, eps inside the sqrt), gamma/beta: [d] or NULL.
lra_tensor *lra_op_layer_norm(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta, float eps);
// The encoder's last step: layer norm of each row of x [B, n, d] (gamma/beta [d] or NULL), the padding
// mask [B, n], then pooling over positions -> [B, d]: the mean over all n positions (padded rows count as
// zeros, training.md 1.7) or, with first_row, row 0.  Same bits as the chain layer_norm, mul by the mask,
// mean over axis 1 (or the first row), values and gradients, but no [B, n, d] tensor is kept
// (ops_pool.c).  The mask gets no gradient.
lra_tensor *lra_op_layer_norm_pool(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta, lra_tensor *mask,
                                   float eps, int first_row);
// Inverted dropout with a Philox mask keyed by (ctx->seed, stream); identity when !ctx->training or p == 0.
lra_tensor *lra_op_dropout(lra_ctx *ctx, lra_tensor *x, float p, uint64_t stream);
// The residual x + dropout(z) in one pass, storing the mask but not dropout(z); same bits as
// lra_op_add(x, lra_op_dropout(z)).  x, z: same shape.
lra_tensor *lra_op_add_dropout(lra_ctx *ctx, lra_tensor *x, lra_tensor *z, float p, uint64_t stream);
// dropout(gelu(x)) in one pass, storing the mask but not gelu(x); same bits as
// lra_op_dropout(lra_op_gelu(x)); plain gelu when dropout is off.  x: any shape.
lra_tensor *lra_op_gelu_dropout(lra_ctx *ctx, lra_tensor *x, float p, uint64_t stream);
// ids: int32 [...], table: [V, d] -> [..., d]; backward scatter-adds into the table's gradient.
lra_tensor *lra_op_embedding(lra_ctx *ctx, lra_tensor *ids, lra_tensor *table);
// x / max(||x||_2, eps) over the last axis.
lra_tensor *lra_op_l2_normalize(lra_ctx *ctx, lra_tensor *x, float eps);

// ---------------------------------------------------------------- indexing (ops_index.c)
// Selects entries idx (int32 [k]) along axis: out has shape x with that axis = k.  Backward scatter-adds.
lra_tensor *lra_op_index_select(lra_ctx *ctx, lra_tensor *x, int axis, lra_tensor *idx);
// Batched row gather: x [..., n, p], idx int32 [..., k] (same leading dims) -> [..., k, p];
// out[..., j, :] = x[..., idx[..., j], :].  Backward scatter-adds.
lra_tensor *lra_op_gather_rows(lra_ctx *ctx, lra_tensor *x, lra_tensor *idx);
// Indices of the k largest entries along the last axis (descending, ties to the lower index) -> int32
// [..., k].  No gradient.
lra_tensor *lra_op_topk_indices(lra_ctx *ctx, lra_tensor *x, int64_t k);

// ---------------------------------------------------------------- FFT (ops_fft.c, core/fft.h)
// Complex tensors carry a trailing dimension of 2 (re, im).
// x: real, transform along `axis` of length n -> complex with that axis n/2+1 and a trailing 2
// (so x may have at most 3 dims).  Same convention as torch.fft.rfft (no scaling).
lra_tensor *lra_op_rfft(lra_ctx *ctx, lra_tensor *x, int axis);
// X: complex [..., m, ..., 2] along `axis` (not counting the trailing 2) -> real of length n
// (m must be n/2+1); includes 1/n like torch.fft.irfft(X, n).
lra_tensor *lra_op_irfft(lra_ctx *ctx, lra_tensor *X, int axis, int64_t n);
// Complex product with broadcasting over the leading dims; both have a trailing 2.
lra_tensor *lra_op_cmul(lra_ctx *ctx, lra_tensor *a, lra_tensor *b);

// ---------------------------------------------------------------- constants
// A constant tensor (requires_grad 0) of the given shape filled with v.
lra_tensor *lra_op_full(lra_ctx *ctx, const int64_t *shape, int ndim, float v);

#endif
