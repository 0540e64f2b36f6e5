// `longformer`: sliding-window attention with global tokens, as HF's LongformerSelfAttention runs in the
// YOSO repo's LRA code (encoders/backbones/efficient_attentions/attention_longformer.py, window 128 and
// first_token_view in efficiency/profile_*.py).  Token i attends to keys j with |i - j| <= window/2 and
// to the global tokens; the first num_global tokens (the CLS token) are global: they attend to every key
// and every token attends to them (once: HF removes global keys from the window).  Padded keys are
// excluded and output rows of padded queries are zero (HF zeroes their probabilities).  Queries are
// processed in blocks of 64 rows against the union of their windows (O(n * window) time and memory).
#include <stdlib.h>

#include "attention/attn_util.h"
#include "attention/block_sparse.h"

static const lra_attn_option k_options[] = {
    {"window", LRA_OPT_INT, 128, 2, 1 << 20, NULL, "attention window (each side window/2), as HF attention_window",
     LRA_OPT_COUNT},
    {"num_global", LRA_OPT_INT, 1, 0, 1 << 20, NULL, "leading tokens with global attention (1 = CLS)", 0},
};

#define LONGFORMER_ROWS 64  // query rows per group

typedef struct {
    int window, num_global;
} longformer_state;

typedef struct {
    int32_t g, w;  // global tokens, one-sided window
} window_rule;

static int window_allow(const void *arg, int32_t i, int32_t j) {
    const window_rule *r = arg;
    return i < r->g || j < r->g || (i - j <= r->w && j - i <= r->w);
}

static void *longformer_create(const lra_attn_setup *setup, lra_params *params) {
    longformer_state *s = lra_xcalloc(1, sizeof *s);
    s->window = (int)lra_attn_value(setup->opts, "window");
    s->num_global = (int)lra_attn_value(setup->opts, "num_global");
    return s;
}

static void longformer_destroy(void *state) { free(state); }

static lra_tensor *longformer_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                      lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const longformer_state *st = state;
    const int64_t n = q->shape[2], g = st->num_global < n ? st->num_global : n, w = st->window / 2;
    window_rule *rule = lra_arena_alloc(ctx->arena, sizeof *rule);
    rule->g = (int32_t)g, rule->w = (int32_t)w;
    lra_bsp_builder b;
    lra_bsp_builder_init(&b);
    if (g > 0) {  // global rows: every key
        lra_bsp_add_q(&b, 0, g);
        lra_bsp_add_k(&b, 0, n);
        lra_bsp_end_group(&b);
    }
    for (int64_t q0 = g; q0 < n; q0 += LONGFORMER_ROWS) {
        const int64_t q1 = q0 + LONGFORMER_ROWS < n ? q0 + LONGFORMER_ROWS : n;
        const int64_t k0 = q0 - w > g ? q0 - w : g, k1 = q1 + w < n ? q1 + w : n;
        lra_bsp_add_q(&b, q0, q1);
        lra_bsp_add_k(&b, 0, g);
        lra_bsp_add_k(&b, k0, k1);
        lra_bsp_end_group(&b);
    }
    lra_bsp_pattern *pt = lra_arena_alloc(ctx->arena, sizeof *pt);
    *pt = lra_bsp_finish(&b, ctx->arena);
    lra_bsp_builder_free(&b);
    const lra_bsp_spec spec = {
        .patterns = pt, .shared_pattern = 1, .allow = window_allow, .allow_arg = rule, .zero_padded_queries = 1};
    return lra_bsp_attention(ctx, "attention.longformer", q, k, v, mask, &spec);
}

const lra_attn_kernel_def lra_attn_longformer = {
    .name = "longformer",
    .summary = "Longformer: sliding window of window/2 tokens each side plus global leading tokens (HF)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = longformer_create,
    .forward = longformer_forward,
    .destroy = longformer_destroy,
    .conformance = {.small_opts = "window=4,num_global=1", .exact_opts = "num_global=N"},
};
