// `linformer_unreduced` (paper row "Linformer w/ unreduced JLT", attention.md §2.4): the exact sketch
// D^-1 A S S^T V with a Gaussian JL matrix S [n, d] per head, entries N(0, 1/d) (so E[S S^T] = I), a fixed
// buffer drawn once at init.  O = softmax(masked Q K^T / sqrt(p)) W with W = S (S^T (m*V)) computed right
// to left.  The quadratic softmax part reuses the exact `softmax` kernel (dropout 0, O(n) memory), with W
// in place of V, so gradients flow to Q, K and (through W) V.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

extern const lra_attn_kernel_def lra_attn_softmax;

static const lra_attn_option k_options[] = {
    {"nb_features", LRA_OPT_INT, 256, 1, 1 << 16, NULL, "sketch size d (paper 256)", LRA_OPT_COUNT},
};

typedef struct {
    int index;
    int64_t d, n;
    void *exact;  // state of the softmax kernel
} unreduced_state;

static void *unreduced_create(const lra_attn_setup *setup, lra_params *params) {
    unreduced_state *s = lra_xcalloc(1, sizeof *s);
    s->d = (int64_t)lra_attn_value(setup->opts, "nb_features");
    s->n = setup->seq_len;
    char name[LRA_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%sS", setup->prefix);
    s->index = lra_params_add(params, name, LRA_DIMS(setup->n_heads, s->n, s->d), LRA_INIT_NORMAL,
                              1.0f / sqrtf((float)s->d));
    lra_params_set_trainable(params, s->index, 0);
    lra_attn_values vals;
    lra_attn_values_defaults(&lra_attn_softmax, &vals);
    LRA_ASSERT(lra_attn_values_set(&lra_attn_softmax, &vals, "dropout", "0") == LRA_OK);
    lra_attn_setup sub = *setup;
    sub.opts = &vals;
    s->exact = lra_attn_softmax.create(&sub, params);
    return s;
}

static void unreduced_destroy(void *state) {
    unreduced_state *s = state;
    if (lra_attn_softmax.destroy) lra_attn_softmax.destroy(s->exact);
    free(s);
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *unreduced_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                     lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const unreduced_state *s = state;
    const int64_t H = q->shape[1], n = q->shape[2];
    LRA_ASSERT_MSG(n == s->n, "linformer_unreduced: sequence length %lld != the model's n %lld", (long long)n,
                   (long long)s->n);
    lra_tensor *S = lra_op_reshape(ctx, lra_params_tensor(params, s->index), LRA_DIMS(1, H, n, s->d));
    lra_tensor *vm = lra_op_mul(ctx, v, lra_attn_mask_rows(ctx, mask));
    lra_tensor *W = lra_op_matmul(ctx, S, lra_op_matmul(ctx, S, vm, 1, 0), 0, 0);  // [B, H, n, p], contiguous
    lra_attn_call exact_call = *call;
    exact_call.training = 0;  // no dropout inside the sketch
    return lra_attn_softmax.forward(s->exact, params, ctx, q, k, W, mask, &exact_call);
}

const lra_attn_kernel_def lra_attn_linformer_unreduced = {
    .name = "linformer_unreduced",
    .summary = "exact softmax rows times an unreduced Gaussian JL sketch S S^T of V (quadratic)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = unreduced_create,
    .forward = unreduced_forward,
    .destroy = unreduced_destroy,
    .conformance = {.small_opts = "nb_features=8"},
};
