// Exact attention with linear memory, shared by the kernels whose core is softmax(Q K^T) V:
//   O = dropout(softmax(scale Q K^T + key mask)) V
// q [B, H, nq, p], k [B, H, nk, p], v [B, H, nk, pv] (contiguous f32) -> O [B, H, nq, pv].
// Query rows are processed in blocks against all keys; only the per-row log-sum-exp is kept, and backward
// recomputes the probabilities block by block, so no [nq, nk] tensor outlives a block.  The dropout mask
// of element (example, head, i, j) is word ((example*H + head)*nq + i)*nk + j of one Philox stream, so
// forward and backward regenerate it and it does not depend on batch splitting or threads.
#ifndef LRA_ATTENTION_ATTN_FLASH_H
#define LRA_ATTENTION_ATTN_FLASH_H

#include <stdint.h>

#include "core/autograd.h"

typedef struct {
    float scale;             // multiplies Q K^T
    float p_drop;            // dropout on the probabilities (0: none)
    int block_rows;          // query rows per block, 0: 64 (scratch = threads x block_rows x nk floats)
    uint64_t seed, stream;   // the dropout stream (used when p_drop > 0)
    const float *key_mask;   // [B, nk], 1 = real key, or NULL (every key real)
    const char *op_name;     // tape/profile name (NULL: "attention.flash")
} lra_flash_opts;

lra_tensor *lra_attn_flash(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, const lra_flash_opts *o);

#endif
