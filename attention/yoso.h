// YOSO attention (attention.md §2.19-§2.21): `yoso_e`, the expectation form E_ij = (1 - arccos(q.k)/pi)^tau on
// unit-normalised q, k, and `yoso`, its unbiased estimate by tau-bit SimHash collisions in m hash tables
// (O(n m) time).  Both L2-normalise the output rows.  The kernels themselves are reached through the
// attention registry (lra_attn_yoso_e, lra_attn_yoso); this header exposes what tests need to check the
// sampled kernel against its formulas.
#ifndef LRA_ATTENTION_YOSO_H
#define LRA_ATTENTION_YOSO_H

#include <stdint.h>

#include "attention/attention.h"

// Collision counts c_ij = number of the m hash functions in which query i and key j of slice (b, h) share a
// code, exactly as the `yoso` kernel with options `opts` draws them at call `call` (the kernel hashes the
// L2-normalised q, k, as produced by lra_op_l2_normalize(x, 1e-12)).  example_offset is the context's
// (global index of example 0 of the batch).
// qn, kn: contiguous [B, H, n, p]; counts: [n, n] (row = query, column = key; every pair, masks ignored).
void lra_yoso_collisions(const lra_attn_values *opts, const lra_tensor *qn, const lra_tensor *kn, int64_t b,
                         int64_t h, int64_t example_offset, const lra_attn_call *call, int32_t *counts);

// Expected collision probability (1 - arccos(a x)/pi)^tau with a x clamped to [-1, 1] (yoso_e's E).
float lra_yoso_collision_prob(float x, float a, int tau);

#endif
