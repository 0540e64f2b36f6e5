// BigBird's block-sparse attention (attention/bigbird.c); the entry point below lets tests inject the
// random blocks that the kernel otherwise draws (tests/test_attn_ref_sparse.c, tools/ref/attn_bigbird.py).
#ifndef LRA_ATTENTION_BIGBIRD_H
#define LRA_ATTENTION_BIGBIRD_H

#include <stdint.h>

#include "core/autograd.h"

// q, k, v [B, H, n, p], mask [B, n].  R: [H, nb - 2, r] random key-block ids of query blocks 1..nb-2
// (nb = ceil(n / block_size)); -1 entries are skipped.  dedupe: a key block listed twice counts once.
lra_tensor *lra_bigbird_forward_blocks(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask,
                                       int block_size, int r, const int32_t *R, int dedupe);

#endif
