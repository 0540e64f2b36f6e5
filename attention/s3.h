// S3Attention (attention.md §2.18, training.md §1.13): a per-layer "smoother" applied to LN1(X) before the
// Q/K/V projections (the kernel's pre_transform), and skeleton attention (token-sampled and feature-sampled
// softmax branches, each LayerNorm'ed over D, averaged).  The kernel is reached through the registry
// (lra_attn_s3); this header exposes the smoother's pieces for tests.
#ifndef LRA_ATTENTION_S3_H
#define LRA_ATTENTION_S3_H

#include <stdint.h>

#include "core/autograd.h"
#include "core/tensor.h"

// Below this many elements s3's loops stay on one thread (starting threads costs more than the work).
#define LRA_S3_PAR_MIN 32768

// The learnable frequency-domain filter: channel c of the output is the circular convolution along the
// sequence of u[:, :, c mod r] with the length-n kernel irfft(L[:, c]):  out = irfft(rfft(u)[.., c mod r] * L[:, c]).
// u: [B, n, r] (r divides D), L: [n/2+1, D, 2] (complex) -> [B, n, D].  Differentiable in u and L.
lra_tensor *lra_s3_fft_filter(lra_ctx *ctx, lra_tensor *u, lra_tensor *L, int64_t D);

// Conv1d over the sequence with zero padding k/2 (PyTorch Conv1d layout): out[b,t,o] = bias[o] +
// sum_{c,j} w[o,c,j] x[b, t+j-k/2, c].  x: [B, n, Cin], w: [Cout, Cin, k] (k odd), bias: [Cout] -> [B, n, Cout].
lra_tensor *lra_s3_conv1d(lra_ctx *ctx, lra_tensor *x, lra_tensor *w, lra_tensor *bias);
// The same over the channel concatenation of `parts` (1 or 2) inputs xs[q] [B, n, C_q], without making it:
// w [Cout, sum C_q, k].  Each part is its own product per tap, so it rounds differently from one input.
lra_tensor *lra_s3_conv1d_parts(lra_ctx *ctx, int parts, lra_tensor *const *xs, lra_tensor *w, lra_tensor *bias);

// BatchNorm whose channels are the sequence positions: statistics over (batch, features) per position t,
// affine gamma[t], beta[t], eps 1e-5.  training: batch statistics, and running_mean/running_var (fixed buffers,
// [n]) are updated in place with momentum (unbiased variance, as PyTorch); else the running statistics are used.
// x: [B, n, D] -> [B, n, D].
lra_tensor *lra_s3_batchnorm_positions(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta,
                                       float *running_mean, float *running_var, float momentum, int training);

// The smoother's tail as one op: dropout(act(BatchNorm_positions(x))) with act ReLU (elu 0) or ELU(1)
// (elu 1) and dropout p on stream `stream` (lra_op_dropout's mask; only while ctx->training).  Equal in
// values and gradients to the three ops, storing only the output and the mask.
lra_tensor *lra_s3_bn_act_dropout(lra_ctx *ctx, lra_tensor *x, lra_tensor *gamma, lra_tensor *beta,
                                  float *running_mean, float *running_var, float momentum, int training, int elu,
                                  float p, uint64_t stream);

// Skeleton attention's output from the branches' factors: y1 = a1 vs, y2 = vf a2^T, then
// (LN_a(merge(y1)) + LN_b(merge(y2))) / 2 over the merged heads (D = H p), split back into heads.
// a1: [B, H, n, s1], vs: [B, H, s1, p], vf: [B, H, n, s2], a2: [B, H, p, s2]; wa, ba, wb, bb: [D]
// -> [B, H, n, p].  The products' rows are computed where needed (forward and backward), never stored.
lra_tensor *lra_s3_output(lra_ctx *ctx, lra_tensor *a1, lra_tensor *vs, lra_tensor *vf, lra_tensor *a2, lra_tensor *wa,
                          lra_tensor *ba, lra_tensor *wb, lra_tensor *bb, float eps);

#endif
