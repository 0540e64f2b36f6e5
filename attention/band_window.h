// Banded (sliding-window) attention as chains of ops, shared by `fmmformer` and `scatterbrain`.
// The sequence is cut into nc = ceil(n / w) chunks of w rows; the queries of chunk c see the keys of
// chunks c-1, c, c+1 (3w keys, zero rows beyond the ends), which holds every key j with
// j - i in [-w, w] for i in the chunk.  A constant mask then keeps the band the kernel wants.
// Cost O(n w p) per (example, head): linear in n for a fixed band.
#ifndef LRA_ATTENTION_BAND_WINDOW_H
#define LRA_ATTENTION_BAND_WINDOW_H

#include "attention/attention.h"

// x [B, H, n, p] -> [B*H, nc, w, p] (rows beyond n are zero).
lra_tensor *lra_bw_queries(lra_ctx *ctx, lra_tensor *x, int64_t w);
// x [B, H, n, p] -> [B*H, nc, 3w, p]: row t of chunk c is position c*w - w + t (zero outside [0, n)).
lra_tensor *lra_bw_keys(lra_ctx *ctx, lra_tensor *x, int64_t w);
// y [B*H, nc, w, p] -> [B, H, n, p].
lra_tensor *lra_bw_merge(lra_ctx *ctx, lra_tensor *y, int64_t B, int64_t H, int64_t n);
// Constant [B*H, nc, w, 3w]: `in` where key j = c*w - w + t of query i = c*w + r has j - i in [lo, hi],
// 0 <= j < n and mask[b, j] != 0 (when the example has a real key at all), `out` elsewhere.
lra_tensor *lra_bw_mask(lra_ctx *ctx, lra_tensor *mask, int64_t H, int64_t w, int64_t lo, int64_t hi, float in,
                        float out);

#endif
