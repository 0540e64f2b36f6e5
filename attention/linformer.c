// `linformer` (attention.md §2.3): K' = E_h (m*K), V' = E_h (m*V) with E [H, k, n] ~ N(0, 0.02^2);
// O = softmax(Q K'^T / sqrt(p)) V'.  No mask inside the softmax (padded rows are zeroed before the
// projection).  E is a trainable parameter per layer by default (§3: the Skeinformer repo never trains
// it, `train_E=false` reproduces that; `share_layers=true` shares one E over all layers as the
// Nystromformer/YOSO repos do).  The projections are ops (O(nk) tensors); the attention over the k
// projected keys is the row-blocked exact attention, which keeps no [n, k] tensor.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_flash.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"k", LRA_OPT_INT, 128, 1, 65536, NULL, "projected length (Skeinformer code 128; paper 256)", LRA_OPT_COUNT},
    {"train_E", LRA_OPT_BOOL, 1, 0, 1, NULL, "train E (false = fixed random buffer, as the Skeinformer repo)", 0},
    {"share_layers", LRA_OPT_BOOL, 0, 0, 1, NULL, "one E shared by all layers (Nystromformer/YOSO repos)", 0},
};

typedef struct {
    int index;   // of E in the parameter store
    int64_t k, n;
} linformer_state;

static void *linformer_create(const lra_attn_setup *setup, lra_params *params) {
    linformer_state *s = lra_xcalloc(1, sizeof *s);
    s->k = (int64_t)lra_attn_value(setup->opts, "k");
    s->n = setup->seq_len;
    char name[LRA_PARAM_NAME_MAX];
    if (lra_attn_value(setup->opts, "share_layers") != 0)
        snprintf(name, sizeof name, "model.attention_shared.linformer.E");
    else
        snprintf(name, sizeof name, "%sE", setup->prefix);
    s->index = lra_params_find(params, name);
    if (s->index < 0) {
        s->index = lra_params_add(params, name, LRA_DIMS(setup->n_heads, s->k, s->n), LRA_INIT_NORMAL, 0.02f);
        if (lra_attn_value(setup->opts, "train_E") == 0) lra_params_set_trainable(params, s->index, 0);
    }
    return s;
}

static void linformer_destroy(void *state) { free(state); }

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *linformer_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                     lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const linformer_state *s = state;
    const int64_t H = q->shape[1], n = q->shape[2], p = q->shape[3];
    LRA_ASSERT_MSG(n == s->n, "linformer: sequence length %lld != the model's n %lld (E is [h, k, n])", (long long)n,
                   (long long)s->n);
    lra_tensor *E = lra_params_tensor(params, s->index);
    lra_tensor *E4 = lra_op_reshape(ctx, E, LRA_DIMS(1, H, s->k, n));
    lra_tensor *m = lra_attn_mask_rows(ctx, mask);
    lra_tensor *kp = lra_op_matmul(ctx, E4, lra_op_mul(ctx, k, m), 0, 0);  // [B, H, k, p]
    lra_tensor *vp = lra_op_matmul(ctx, E4, lra_op_mul(ctx, v, m), 0, 0);
    // softmax(Q K'^T / sqrt(p)) V' without storing the [n, k] scores (attn_flash.h)
    return lra_attn_flash(ctx, q, kp, vp,
                          &(lra_flash_opts){.scale = 1.0f / sqrtf((float)p), .op_name = "attention.linformer"});
}

const lra_attn_kernel_def lra_attn_linformer = {
    .name = "linformer",
    .summary = "Linformer: keys/values projected to k rows by a learned E [h, k, n]",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = linformer_create,
    .forward = linformer_forward,
    .destroy = linformer_destroy,
    .conformance = {.small_opts = "k=8"},
};
