// `synthesizer` (Tay et al. 2021, "Synthesizer: Rethinking Self-Attention"), following the LRA baseline
// google-research/long-range-arena lra_benchmarks/models/synthesizer/synthesizer_attention.py.
// Logits of head h, summed over the parts `mode` and `dot_product` select ([n, n] per example and head):
//   random:            R_h[:n, :n],        R [H, L, L] learned (L = the model's length)
//   factorized_random: R1_h[:n] R2_h[:, :n], R1 [H, L, k], R2 [H, k, L] learned
//   dense:             relu(q_i W1_h) W2[:, :n], W1 [H, p, p], W2 [p, L] learned (W2 shared by heads)
//   dot_product:       q_i . k_j / sqrt(p)
// then padded keys at -inf, P = softmax_row, dropout(P) in training, O = P V.
// The kernel sees the projected q, k, v, so `dense` computes its logits from the query rows q: the
// reference's first dense layer (dense_syn, D -> H x p on the layer input) is here the layer's W_q
// followed by W1 (an affine map of x either way); the reference has no biases (bias=False) and neither
// has this kernel.  The LRA encoder (synthesizer.py) runs mode=random with the dot product
// (ignore_dot_product=False) and attention dropout 0.1: the defaults here.  Xavier-uniform init as there.
// Written as a chain of ops: O(n^2) time and memory per (example, head), like exact attention.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/keys.h"
#include "core/ops.h"

enum { SYN_RANDOM = 1, SYN_FACTORIZED = 2, SYN_DENSE = 4 };
static const int k_mode_parts[] = {SYN_RANDOM, SYN_FACTORIZED, SYN_DENSE, SYN_DENSE | SYN_RANDOM,
                                   SYN_DENSE | SYN_FACTORIZED};

static const lra_attn_option k_options[] = {
    {"mode", LRA_OPT_ENUM, 0, 0, 0, "random|factorized_random|dense|dense+random|dense+factorized_random",
     "synthetic logits (the reference's synthesizer_mode; LRA encoder: random)", 0},
    {"dot_product", LRA_OPT_BOOL, 1, 0, 1, NULL, "add q.k/sqrt(p) logits (LRA encoder: ignore_dot_product=False)", 0},
    {"k", LRA_OPT_INT, 32, 1, 65536, NULL, "rank of factorized_random (reference k=32)", 0},
    {"dropout", LRA_OPT_FLOAT, 0.1, 0.0, 0.99, NULL, "attention dropout on the probabilities (reference 0.1)", 0},
    {"unmasked_synthetic", LRA_OPT_BOOL, 0, 0, 1, NULL,
     "without dot_product, padded keys are not masked (reference: it masks only with the dot product)", 0},
    {"dense_reshape", LRA_OPT_BOOL, 0, 0, 1, NULL,
     "dense logits [B, n, H, L] reshaped (not transposed) to [B, H, n, L], mixing rows (reference)", 0},
};

typedef struct {
    int parts, dot, unmasked, dense_reshape;
    float dropout;
    int64_t L, k;
    int iR, iR1, iR2, iW1, iW2;  // parameter indices (-1 when unused)
} syn_state;

static void *syn_create(const lra_attn_setup *setup, lra_params *params) {
    syn_state *s = lra_xcalloc(1, sizeof *s);
    s->parts = k_mode_parts[(int)lra_attn_value(setup->opts, "mode")];
    s->dot = lra_attn_value(setup->opts, "dot_product") != 0;
    s->unmasked = lra_attn_value(setup->opts, "unmasked_synthetic") != 0;
    s->dense_reshape = lra_attn_value(setup->opts, "dense_reshape") != 0;
    s->dropout = (float)lra_attn_value(setup->opts, "dropout");
    s->k = (int64_t)lra_attn_value(setup->opts, "k");
    s->L = setup->seq_len;
    s->iR = s->iR1 = s->iR2 = s->iW1 = s->iW2 = -1;
    const int64_t H = setup->n_heads, L = s->L, p = setup->head_dim, k = s->k;
    char name[LRA_PARAM_NAME_MAX];
    // Xavier uniform bounds sqrt(6 / (fan_in + fan_out)); flax counts the head axis in both fans.
    if (s->parts & SYN_RANDOM) {
        snprintf(name, sizeof name, "%srandom", setup->prefix);
        s->iR = lra_params_add(params, name, LRA_DIMS(H, L, L), LRA_INIT_UNIFORM, sqrtf(6.0f / (float)(2 * H * L)));
    }
    if (s->parts & SYN_FACTORIZED) {
        const float a = sqrtf(6.0f / (float)(H * (L + k)));
        snprintf(name, sizeof name, "%srandom1", setup->prefix);
        s->iR1 = lra_params_add(params, name, LRA_DIMS(H, L, k), LRA_INIT_UNIFORM, a);
        snprintf(name, sizeof name, "%srandom2", setup->prefix);
        s->iR2 = lra_params_add(params, name, LRA_DIMS(H, k, L), LRA_INIT_UNIFORM, a);
    }
    if (s->parts & SYN_DENSE) {
        snprintf(name, sizeof name, "%sdense1", setup->prefix);
        s->iW1 = lra_params_add(params, name, LRA_DIMS(H, p, p), LRA_INIT_UNIFORM, sqrtf(6.0f / (float)(2 * p)));
        snprintf(name, sizeof name, "%sdense2", setup->prefix);
        s->iW2 = lra_params_add(params, name, LRA_DIMS(p, L), LRA_INIT_UNIFORM, sqrtf(6.0f / (float)(p + L)));
    }
    return s;
}

static void syn_destroy(void *state) { free(state); }

// Leading [.., :n] block of the last axes of a parameter, made contiguous (the tensor itself when n = L).
static lra_tensor *first_cols(lra_ctx *ctx, lra_tensor *t, int axis, int64_t n) {
    return t->shape[axis] == n ? t : lra_op_contiguous(ctx, lra_op_slice(ctx, t, axis, 0, n));
}

static lra_tensor *add_part(lra_ctx *ctx, lra_tensor *acc, lra_tensor *part) {
    return acc ? lra_op_add(ctx, acc, part) : part;
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *syn_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                               lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const syn_state *s = state;
    const int64_t H = q->shape[1], n = q->shape[2], p = q->shape[3];
    LRA_ASSERT_MSG(n <= s->L, "synthesizer: sequence length %lld > the model's length %lld", (long long)n,
                   (long long)s->L);
    lra_tensor *logits = NULL;  // [B, H, n, n] or [1, H, n, n]
    if (s->dot) logits = lra_op_matmul(ctx, lra_op_scale(ctx, q, 1.0f / sqrtf((float)p)), k, 0, 1);  // scale n p, not n^2
    if (s->parts & SYN_RANDOM) {
        lra_tensor *R = lra_params_tensor(params, s->iR);
        R = first_cols(ctx, first_cols(ctx, R, 1, n), 2, n);
        logits = add_part(ctx, logits, lra_op_reshape(ctx, R, LRA_DIMS(1, H, n, n)));
    }
    if (s->parts & SYN_FACTORIZED) {
        lra_tensor *R1 = first_cols(ctx, lra_params_tensor(params, s->iR1), 1, n);  // [H, n, k]
        lra_tensor *R2 = first_cols(ctx, lra_params_tensor(params, s->iR2), 2, n);  // [H, k, n]
        logits = add_part(ctx, logits, lra_op_reshape(ctx, lra_op_matmul(ctx, R1, R2, 0, 0), LRA_DIMS(1, H, n, n)));
    }
    if (s->parts & SYN_DENSE) {
        lra_tensor *W1 = lra_op_reshape(ctx, lra_params_tensor(params, s->iW1), LRA_DIMS(1, H, p, p));
        lra_tensor *W2 = first_cols(ctx, lra_params_tensor(params, s->iW2), 1, n);  // [p, n]
        lra_tensor *hid = lra_op_relu(ctx, lra_op_matmul(ctx, q, W1, 0, 0));      // [B, H, n, p]
        lra_tensor *dl = lra_op_matmul(ctx, hid, W2, 0, 0);                       // [B, H, n, n]
        if (s->dense_reshape)  // the reference's layout: row (h, i) gets token (h n + i) / H, head (h n + i) % H
            dl = lra_op_reshape(ctx, lra_op_contiguous(ctx, lra_op_transpose(ctx, dl, 1, 2)), dl->shape, 4);
        logits = add_part(ctx, logits, dl);
    }
    // Padded keys at -inf (an all-padding row attends uniformly, as lra_attn_mask_add does).
    lra_tensor *madd = (s->dot || !s->unmasked) ? lra_attn_mask_add(ctx, mask) : NULL;
    if (logits->shape[0] != q->shape[0])  // synthetic-only logits are shared by the batch: expand them
        logits = lra_op_add(ctx, logits, lra_op_full(ctx, LRA_DIMS(q->shape[0], 1, 1, 1), 0.0f));
    lra_tensor *P = lra_op_softmax(ctx, logits, madd);
    if (call->training && s->dropout > 0.0f) {
        const uint64_t stream = lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_DROPOUT_ATTN_PROBS,
                                                               .step = call->step, .layer = call->layer,
                                                               .tower = call->tower})
                                    .stream;
        P = lra_op_dropout(ctx, P, s->dropout, stream);
    }
    return lra_op_matmul(ctx, P, v, 0, 0);
}

const lra_attn_kernel_def lra_attn_synthesizer = {
    .name = "synthesizer",
    .summary = "Synthesizer: learned random / factorized / dense (from q) logits, plus q.k by default (LRA's)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = syn_create,
    .forward = syn_forward,
    .destroy = syn_destroy,
    .conformance = {.small_opts = "k=4"},
};
