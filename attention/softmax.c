// `softmax`: exact attention O = dropout(softmax(Q K^T / sqrt(p) + key mask)) V  (attention.md §2.1),
// computed by the row-blocked exact attention of attn_flash.h: memory linear in n, probabilities
// recomputed in backward, the dropout mask regenerated from its position-keyed Philox stream.
#include <math.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_flash.h"
#include "core/ops.h"
#include "core/keys.h"

static const lra_attn_option k_options[] = {
    {"dropout", LRA_OPT_FLOAT, 0.1, 0.0, 0.99, NULL, "attention dropout on the probabilities (0 = paper's 'w/o dropout')", 0},
    {"block_rows", LRA_OPT_INT, 64, 1, 4096, NULL, "query rows per block (memory = threads x block_rows x n floats)", 0},
};

typedef struct {
    float dropout;
    int block_rows;
} softmax_state;

static void *softmax_create(const lra_attn_setup *setup, lra_params *params) {
    softmax_state *s = lra_xcalloc(1, sizeof *s);
    s->dropout = (float)lra_attn_value(setup->opts, "dropout");
    s->block_rows = (int)lra_attn_value(setup->opts, "block_rows");
    return s;
}

static void softmax_destroy(void *state) { free(state); }

// q, k, v: [B, H, n, p], mask [B, n] (contiguous) -> [B, H, n, p]
static lra_tensor *softmax_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                   lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    (void)params;
    const softmax_state *st = state;
    const lra_flash_opts o = {
        .scale = 1.0f / sqrtf((float)q->shape[3]),
        .p_drop = call->training ? st->dropout : 0.0f,
        .block_rows = st->block_rows,
        .seed = call->seed,
        .stream = lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_DROPOUT_ATTN_PROBS, .step = call->step,
                                                 .layer = call->layer, .tower = call->tower})
                      .stream,
        .key_mask = lra_f32(mask),
        .op_name = "attention.softmax",
    };
    return lra_attn_flash(ctx, q, k, v, &o);
}

const lra_attn_kernel_def lra_attn_softmax = {
    .name = "softmax",
    .summary = "exact softmax attention with attention dropout; row blocks, O(n) memory",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = softmax_create,
    .forward = softmax_forward,
    .destroy = softmax_destroy,
    .conformance = {.exact_opts = "dropout=0"},
};
