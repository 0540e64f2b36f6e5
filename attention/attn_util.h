// Helpers shared by the attention kernels in attention/*.c: random-draw keys, padding masks, exact
// softmax over a chosen set of query rows (forward and hand-written backward), the Newton-Schulz
// pseudo-inverse and small tensor helpers for kernels written as chains of ops.
#ifndef LRA_ATTENTION_ATTN_UTIL_H
#define LRA_ATTENTION_ATTN_UTIL_H

#include <stdint.h>

#include "attention/attention.h"
#include "core/keys.h"
#include "core/rng.h"

// The key (core/keys.h) of a kernel's draw at this call: the call's seed, step, layer and tower, plus the
// global example index and head for purposes drawn per example and head (ignored by shared ones).
lra_key lra_attn_draw_key(const lra_attn_call *call, lra_key_purpose purpose, uint64_t example, uint64_t head);

// Real tokens of one mask row [n]; when `valid` is non-NULL it receives their positions (ascending).
int64_t lra_attn_valid_positions(const float *mask_row, int64_t n, int32_t *valid);

// Exact softmax attention for r query rows against all n keys (one example and head).
// qr: [r, p] (gathered query rows), k, v: [n, p], kmask: [n] (0 = excluded key) or NULL (all keys).
// P: scratch [r, n].  out: [r, p], lse: [r] (log-sum-exp of the scaled scores).
void lra_attn_rows_softmax(const float *qr, int64_t r, const float *k, const float *v, const float *kmask, int64_t n,
                           int64_t p, float scale, float *P, float *out, float *lse);
// Backward of lra_attn_rows_softmax: ADDS into dqr [r, p], dk [n, p], dv [n, p] (any may be NULL).
// P, dP: scratch [r, n].  out: the forward output rows; dout: their gradient [r, p].
void lra_attn_rows_softmax_backward(const float *qr, int64_t r, const float *k, const float *v, const float *kmask,
                                    int64_t n, int64_t p, float scale, const float *lse, const float *out,
                                    const float *dout, float *P, float *dP, float *dqr, float *dk, float *dv);

// Ops helpers (differentiable): mask [B, n] -> [B, 1, n, 1] view for multiplying [B, H, n, p] tensors,
// and an additive key mask [B, 1, 1, n] (0 for real tokens, -inf for padding; constant).
lra_tensor *lra_attn_mask_rows(lra_ctx *ctx, lra_tensor *mask);
lra_tensor *lra_attn_mask_add(lra_ctx *ctx, lra_tensor *mask);
// Identity [m, m] (constant).
lra_tensor *lra_attn_eye(lra_ctx *ctx, int64_t m);
// Orthogonal random features w [rows, p] drawn from r (Performer's gaussian_orthogonal_random_matrix,
// scaling 0): blocks of p orthonormal rows (modified Gram-Schmidt of a Gaussian block; the last block
// truncated), then row i scaled by the norm of a fresh N(0, I_p) draw.
void lra_attn_orthogonal_features(lra_rng *r, float *w, int64_t rows, int64_t p);

// Newton-Schulz iterative pseudo-inverse of A [B, H, m, m] (Nystromformer): Z0 = A^T / c0, then `iters`
// times Z <- Z (13I - AZ (15I - AZ (7I - AZ))) / 4.  A is non-negative.  c0 by `init`:
//   LRA_PINV_PER_MATRIX: max column sum of each matrix (default; no coupling between examples);
//   LRA_PINV_GLOBAL: max column sum over the whole batch and all heads (Nystromformer/Skyformer repos);
//   LRA_PINV_GLOBAL_ABS_PROD: global max column sum x global max row sum (YOSO repo).
// Differentiable (c0 included, as in the references).
typedef enum { LRA_PINV_PER_MATRIX = 0, LRA_PINV_GLOBAL, LRA_PINV_GLOBAL_ABS_PROD } lra_pinv_init;
#define LRA_PINV_INIT_CHOICES "per_matrix|global|global_abs_prod"
lra_tensor *lra_attn_newton_pinv(lra_ctx *ctx, lra_tensor *A, int iters, lra_pinv_init init);

// Parameters of a Linear in -> out (PyTorch layout and default init U(+-1/sqrt(in)) for weight and bias),
// named "<prefix><name>.weight" / ".bias", for kernels that own projections (token mixers).
typedef struct {
    int w, b;  // indices in the store (b = -1: no bias)
} lra_attn_linear;
lra_attn_linear lra_attn_linear_declare(lra_params *params, const char *prefix, const char *name, int in, int out,
                                        int bias);
lra_tensor *lra_attn_linear_forward(lra_ctx *ctx, lra_params *params, lra_attn_linear l, lra_tensor *x);
// LayerNorm parameters "<prefix><name>.weight" (ones) / ".bias" (zeros) over d, and the op (eps 1e-5).
lra_attn_linear lra_attn_layernorm_declare(lra_params *params, const char *prefix, const char *name, int d);
lra_tensor *lra_attn_layernorm_forward(lra_ctx *ctx, lra_params *params, lra_attn_linear ln, lra_tensor *x);
// [B, n, H*p] -> contiguous [B, H, n, p], and back.
lra_tensor *lra_attn_split_heads(lra_ctx *ctx, lra_tensor *x, int heads);
lra_tensor *lra_attn_merge_heads(lra_ctx *ctx, lra_tensor *x);

#endif
