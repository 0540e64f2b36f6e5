// Banded attention helpers (see band_window.h).
#include "attention/band_window.h"

#include "core/ops.h"

static int64_t chunks(int64_t n, int64_t w) { return (n + w - 1) / w; }

// x [B, H, n, p] with `front` zero rows before and `back` after.
static lra_tensor *pad_rows(lra_ctx *ctx, lra_tensor *x, int64_t front, int64_t back) {
    const int64_t B = x->shape[0], H = x->shape[1], p = x->shape[3];
    lra_tensor *parts[3];
    int np = 0;
    if (front) parts[np++] = lra_op_full(ctx, LRA_DIMS(B, H, front, p), 0.0f);
    parts[np++] = x;
    if (back) parts[np++] = lra_op_full(ctx, LRA_DIMS(B, H, back, p), 0.0f);
    return np == 1 ? x : lra_op_concat(ctx, parts, np, 2);
}

lra_tensor *lra_bw_queries(lra_ctx *ctx, lra_tensor *x, int64_t w) {
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], nc = chunks(n, w);
    return lra_op_reshape(ctx, pad_rows(ctx, x, 0, nc * w - n), LRA_DIMS(B * H, nc, w, p));
}

lra_tensor *lra_bw_keys(lra_ctx *ctx, lra_tensor *x, int64_t w) {
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], nc = chunks(n, w);
    lra_tensor *c = lra_op_reshape(ctx, pad_rows(ctx, x, w, nc * w - n + w), LRA_DIMS(B * H, nc + 2, w, p));
    lra_tensor *parts[3] = {lra_op_slice(ctx, c, 1, 0, nc), lra_op_slice(ctx, c, 1, 1, nc + 1),
                            lra_op_slice(ctx, c, 1, 2, nc + 2)};
    return lra_op_concat(ctx, parts, 3, 2);
}

lra_tensor *lra_bw_merge(lra_ctx *ctx, lra_tensor *y, int64_t B, int64_t H, int64_t n) {
    const int64_t nc = y->shape[1], w = y->shape[2], p = y->shape[3];
    lra_tensor *r = lra_op_reshape(ctx, y, LRA_DIMS(B, H, nc * w, p));
    return nc * w == n ? r : lra_op_slice(ctx, r, 2, 0, n);
}

lra_tensor *lra_bw_mask(lra_ctx *ctx, lra_tensor *mask, int64_t H, int64_t w, int64_t lo, int64_t hi, float in,
                        float out) {
    const int64_t B = mask->shape[0], n = mask->shape[1], nc = chunks(n, w);
    lra_tensor *m = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B * H, nc, w, 3 * w));
    const float *mk = lra_f32(mask);
    float *o = lra_f32(m);
    for (int64_t b = 0; b < B; b++) {
        int any = 0;
        for (int64_t j = 0; j < n; j++) any |= mk[b * n + j] != 0.0f;
        float *ob = o + b * H * nc * w * 3 * w;
        for (int64_t c = 0; c < nc; c++)
            for (int64_t r = 0; r < w; r++)
                for (int64_t t = 0; t < 3 * w; t++) {
                    const int64_t i = c * w + r, j = c * w - w + t;
                    const int ok = j >= 0 && j < n && j - i >= lo && j - i <= hi && (!any || mk[b * n + j] != 0.0f);
                    ob[(c * w + r) * 3 * w + t] = ok ? in : out;
                }
        for (int64_t h = 1; h < H; h++)
            for (int64_t e = 0; e < nc * w * 3 * w; e++) ob[h * nc * w * 3 * w + e] = ob[e];
    }
    return m;
}
