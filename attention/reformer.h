// Test-only entry point of the `reformer` kernel (attention/reformer.c): the forward with injected LSH
// rotations, so that tests/test_attn_ref_lsh.c can compare with a PyTorch transcription that uses the same
// draws.  Not used by the library.
#ifndef LRA_ATTENTION_REFORMER_H
#define LRA_ATTENTION_REFORMER_H

#include "attention/attention.h"

// Buckets NB of a reformer instance (the option, or its value derived from the sequence length).
int64_t lra_reformer_num_buckets(const lra_attn_instance *in);
// The kernel on u = q (shared query/key) and v [B, H, n, p] (contiguous), mask [B, n], with rotations
// rot [H, p, n_hashes, NB/2] in place of the drawn ones.  k is unused, as in the kernel.
lra_tensor *lra_reformer_forward_rot(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *q, lra_tensor *v,
                                     lra_tensor *mask, const float *rot);

#endif
