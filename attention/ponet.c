// `ponet`: Pooling Network token mixing (Tan et al., PoNet), a token mixer (attention.h `mix`), after
// github:lxchtan/PoNet examples/LRA/code/attention_ponet.py and attention.py (the LRA wiring):
//   Q, K, O = split_heads(W_q x, W_k x, W_v x)   [B, H, n, p];  L = W_local x, S = W_segment x  [B, n, D]
//   global:  g = masked mean over tokens of Q          [B, H, p]
//            a = softmax_j(g . K_j / sqrt(p)) (padded keys excluded);  v = sum_j a_j K_j   (values = K)
//   segment: S with padded rows at -10000, max over each segment, broadcast back to its tokens; segments
//            have length n / segment_num + 1 (integer division), the reference's index rule
//   local:   L with padded rows at -10000, max over a window of 3 tokens (stride 1, edges padded)
//   out = ff( merge_heads( (v + split(seg)) .* O + split(local) ) .* mask )
// Parameters: W_q, W_k, W_v, W_local, W_segment, ff (Linear D -> D with bias each).
// Written as a chain of differentiable ops (the max-pools route gradients to the first maximum).  O(n D^2).
#include <math.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"segment_num", LRA_OPT_INT, 64, 1, 1 << 20, NULL, "segments of the segment max-pooling (LRA ListOps config: 64)", 0},
};

typedef struct {
    int heads, segment_num;
    lra_attn_linear wq, wk, wv, wlocal, wseg, ff;
} ponet_state;

static void *ponet_create(const lra_attn_setup *setup, lra_params *params) {
    ponet_state *s = lra_xcalloc(1, sizeof *s);
    const int D = setup->model_dim, inner = setup->n_heads * setup->head_dim;
    s->heads = setup->n_heads;
    s->segment_num = (int)lra_attn_value(setup->opts, "segment_num");
    s->wq = lra_attn_linear_declare(params, setup->prefix, "W_q", D, inner, 1);
    s->wk = lra_attn_linear_declare(params, setup->prefix, "W_k", D, inner, 1);
    s->wv = lra_attn_linear_declare(params, setup->prefix, "W_v", D, inner, 1);
    s->wlocal = lra_attn_linear_declare(params, setup->prefix, "W_local", D, inner, 1);
    s->wseg = lra_attn_linear_declare(params, setup->prefix, "W_segment", D, inner, 1);
    s->ff = lra_attn_linear_declare(params, setup->prefix, "ff", inner, D, 1);
    return s;
}

static lra_status ponet_validate(const lra_attn_setup *setup) {
    if (setup->model_dim != setup->n_heads * setup->head_dim)
        return lra_error(LRA_ERR_CONFIG, "attention 'ponet': needs model dim = heads x head_dim (got %d vs %d x %d)",
                         setup->model_dim, setup->n_heads, setup->head_dim);
    return LRA_OK;
}

static void ponet_destroy(void *state) { free(state); }

// Constant [B, n, 1]: `v` at padded rows, 0 at real ones.
static lra_tensor *pad_fill(lra_ctx *ctx, const lra_tensor *mask, float v) {
    const int64_t B = mask->shape[0], n = mask->shape[1];
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, n, 1));
    for (int64_t e = 0; e < B * n; e++) lra_f32(t)[e] = lra_f32(mask)[e] != 0.0f ? 0.0f : v;
    return t;
}

// Segment max over rows of x [B, n, D]: segments of `len` rows (the last may be shorter), broadcast back.
static lra_tensor *segment_max(lra_ctx *ctx, lra_tensor *x, int64_t len) {
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2], nseg = (n + len - 1) / len;
    lra_tensor *xp = x;
    if (nseg * len > n) {  // pad the last segment with a value below any real one
        lra_tensor *pad = lra_op_full(ctx, LRA_DIMS(B, nseg * len - n, D), -1e30f);
        xp = lra_op_concat(ctx, (lra_tensor *[]){x, pad}, 2, 1);
    }
    lra_tensor *m = lra_op_max(ctx, lra_op_reshape(ctx, xp, LRA_DIMS(B, nseg, len, D)), 2, 1);  // [B, nseg, 1, D]
    lra_tensor *b = lra_op_add(ctx, m, lra_op_full(ctx, LRA_DIMS(B, nseg, len, D), 0.0f));
    return lra_op_slice(ctx, lra_op_reshape(ctx, b, LRA_DIMS(B, nseg * len, D)), 1, 0, n);
}

// Max over a window of 3 rows (stride 1, rows beyond the ends excluded) of x [B, n, D].
static lra_tensor *window_max3(lra_ctx *ctx, lra_tensor *x) {
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2];
    lra_tensor *edge = lra_op_full(ctx, LRA_DIMS(B, 1, D), -1e30f);
    lra_tensor *prev = n > 1 ? lra_op_concat(ctx, (lra_tensor *[]){edge, lra_op_slice(ctx, x, 1, 0, n - 1)}, 2, 1) : edge;
    lra_tensor *next = n > 1 ? lra_op_concat(ctx, (lra_tensor *[]){lra_op_slice(ctx, x, 1, 1, n), edge}, 2, 1) : edge;
    lra_tensor *parts[3];
    lra_tensor *src[3] = {prev, x, next};
    for (int i = 0; i < 3; i++) parts[i] = lra_op_reshape(ctx, lra_op_contiguous(ctx, src[i]), LRA_DIMS(B, n, 1, D));
    return lra_op_reshape(ctx, lra_op_max(ctx, lra_op_concat(ctx, parts, 3, 2), 2, 0), LRA_DIMS(B, n, D));
}

// x: [B, n, D], mask [B, n] (contiguous) -> [B, n, D]
static lra_tensor *ponet_mix(void *state, lra_params *P, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                             const lra_attn_call *call) {
    const ponet_state *s = state;
    const int64_t B = x->shape[0], n = x->shape[1];
    lra_tensor *Q = lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->wq, x), s->heads);
    lra_tensor *K = lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->wk, x), s->heads);
    lra_tensor *O = lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->wv, x), s->heads);
    const int64_t p = Q->shape[3];
    lra_tensor *m3 = lra_op_reshape(ctx, mask, LRA_DIMS(B, n, 1));
    // global: masked mean of Q as the one query, attention over the real keys, values = K
    lra_tensor *cnt = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, 1, 1));
    for (int64_t b = 0; b < B; b++) {
        double c = 0;
        for (int64_t j = 0; j < n; j++) c += lra_f32(mask)[b * n + j] != 0.0f;
        lra_f32(cnt)[b] = (float)(c > 0 ? c : 1);  // an all-padding example: 0 / 1 instead of 0 / 0
    }
    lra_tensor *g = lra_op_div(ctx, lra_op_sum(ctx, lra_op_mul(ctx, Q, lra_attn_mask_rows(ctx, mask)), 2, 1), cnt);
    lra_tensor *att = lra_op_scale(ctx, lra_op_matmul(ctx, g, K, 0, 1), 1.0f / sqrtf((float)p));  // [B, H, 1, n]
    lra_tensor *v = lra_op_matmul(ctx, lra_op_softmax(ctx, att, lra_attn_mask_add(ctx, mask)), K, 0, 0);  // [B, H, 1, p]
    // segment and local max-pooling with padded rows at -10000
    lra_tensor *fill = pad_fill(ctx, mask, -10000.0f);
    lra_tensor *S = lra_op_add(ctx, lra_op_mul(ctx, lra_attn_linear_forward(ctx, P, s->wseg, x), m3), fill);
    lra_tensor *L = lra_op_add(ctx, lra_op_mul(ctx, lra_attn_linear_forward(ctx, P, s->wlocal, x), m3), fill);
    lra_tensor *seg = lra_attn_split_heads(ctx, segment_max(ctx, S, n / s->segment_num + 1), s->heads);
    lra_tensor *loc = lra_attn_split_heads(ctx, window_max3(ctx, L), s->heads);
    lra_tensor *c = lra_op_add(ctx, lra_op_mul(ctx, lra_op_add(ctx, v, seg), O), loc);  // [B, H, n, p]
    lra_tensor *merged = lra_op_mul(ctx, lra_attn_merge_heads(ctx, c), m3);              // padded rows 0
    return lra_attn_linear_forward(ctx, P, s->ff, merged);
}

const lra_attn_kernel_def lra_attn_ponet = {
    .name = "ponet",
    .summary = "PoNet token mixer: global attention pooling + segment and local max-pooling (multiplicative)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = ponet_validate,
    .create = ponet_create,
    .mix = ponet_mix,
    .destroy = ponet_destroy,
    // max-pooling is piecewise linear: a smaller step keeps the finite differences off the kinks
    .conformance = {.small_opts = "segment_num=4", .grad_eps = 1e-3},
};
