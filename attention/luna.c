// `luna`: Linear Unified Nested Attention (Ma et al., Luna), a token mixer (attention.h `mix`) with an extra
// sequence P [B, l, D] carried from layer to layer (the call's carry slot), after
// github:XuezheMax/fairseq-apollo fairseq/modules/luna_attention.py (LunarMultiheadAttention),
// fairseq/modules/luna_sentence_encoder.py (the layer, normalize_before path) and
// fairseq/models/lra/luna_lra_encoder.py (the first P and the dynamic projection):
//   first layer:  P = sqrt(D) * E + sinusoid(l, D)   (E = "projected_embeddings" [l, D], N(0, 1/D))
//   Pn = LayerNorm(P)                                    ("proj_norm", the layer's self_atten_proj_layer_norm)
//   pack:    C = softmax(split(pq_proj Pn) / sqrt(p) . split(pk_proj x)^T + key mask) split(pv_proj x) [B, l, D]
//   unpack:  Y = softmax(split(q_proj x) / sqrt(p) . split(k_proj C)^T + packed mask) split(v_proj C)
//   out = out_proj(merge(Y));   next layer's P = P + C
// tie_kv=true shares one projection for the keys and values (pc_proj, c_proj) as fairseq's default;
// the LRA models untie them (default here).  With dynamic=true (the LRA encoder) example b uses only the
// first min(len_b, l) packed rows (the rest are zeroed at the first layer and masked as unpack keys).
// Written as a chain of differentiable ops.  O(n l D) time, O(n l) memory per head.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"length", LRA_OPT_INT, 256, 1, 1 << 16, NULL, "length l of the packed sequence (Luna-16/128/256 in the paper)", LRA_OPT_COUNT},
    {"tie_kv", LRA_OPT_BOOL, 0, 0, 1, NULL, "one projection for keys and values (fairseq default; the LRA models untie)", 0},
    {"dynamic", LRA_OPT_BOOL, 1, 0, 1, NULL, "example b uses min(real tokens, l) packed rows (the LRA encoder)", 0},
};

typedef struct {
    int heads, length, tie_kv, dynamic, first;
    int emb;  // projected_embeddings (first layer only), else -1
    lra_attn_linear norm, pq, pk, pv, q, k, v, out;
} luna_state;

static void *luna_create(const lra_attn_setup *setup, lra_params *params) {
    luna_state *s = lra_xcalloc(1, sizeof *s);
    const int D = setup->model_dim;
    const char *pre = setup->prefix;
    char buf[LRA_PARAM_NAME_MAX];
    s->heads = setup->n_heads;
    s->length = (int)lra_attn_value(setup->opts, "length");
    s->tie_kv = lra_attn_value(setup->opts, "tie_kv") != 0;
    s->dynamic = lra_attn_value(setup->opts, "dynamic") != 0;
    s->first = setup->layer == 0;
    s->emb = -1;
    if (s->first) {
        snprintf(buf, sizeof buf, "%sprojected_embeddings", pre);
        s->emb = lra_params_add(params, buf, LRA_DIMS(s->length, D), LRA_INIT_NORMAL, 1.0f / sqrtf((float)D));
    }
    s->norm = lra_attn_layernorm_declare(params, pre, "proj_norm", D);
    // BERT init (the LRA runs pass --apply-bert-init): weights N(0, 0.02), biases 0.
    lra_attn_linear *lins[] = {&s->pq, &s->pk, &s->pv, &s->q, &s->k, &s->v, &s->out};
    static const char *const names[] = {"pq_proj", "pk_proj", "pv_proj", "q_proj", "k_proj", "v_proj", "out_proj"};
    static const char *const tied[] = {"pq_proj", "pc_proj", NULL, "q_proj", "c_proj", NULL, "out_proj"};
    for (int i = 0; i < 7; i++) {
        const char *name = s->tie_kv ? tied[i] : names[i];
        if (!name) {
            *lins[i] = *lins[i - 1];  // tied: values use the key projection
            continue;
        }
        snprintf(buf, sizeof buf, "%s%s.weight", pre, name);
        lins[i]->w = lra_params_add(params, buf, LRA_DIMS(D, D), LRA_INIT_NORMAL, 0.02f);
        snprintf(buf, sizeof buf, "%s%s.bias", pre, name);
        lins[i]->b = lra_params_add(params, buf, LRA_DIMS(D), LRA_INIT_ZEROS, 0.0f);
    }
    return s;
}

static lra_status luna_validate(const lra_attn_setup *setup) {
    if (setup->model_dim != setup->n_heads * setup->head_dim)
        return lra_error(LRA_ERR_CONFIG, "attention 'luna': needs model dim = heads x head_dim (got %d vs %d x %d)",
                         setup->model_dim, setup->n_heads, setup->head_dim);
    return LRA_OK;
}

static void luna_destroy(void *state) { free(state); }

// The first layer's P [B, l, D] = sqrt(D) E + sinusoid (fairseq's get_sinusoidal_positional_embedding),
// rows beyond an example's packed length zeroed (pmask [B, l]).
static lra_tensor *first_p(const luna_state *s, lra_params *P, lra_ctx *ctx, int64_t B, int64_t D,
                           lra_tensor *pmask) {
    const int64_t l = s->length, half = D / 2;
    lra_tensor *pos = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(l, D));
    const double step = half > 1 ? log(10000.0) / (double)(half - 1) : 0.0;
    for (int64_t t = 0; t < l; t++)
        for (int64_t c = 0; c < D; c++) {
            double v = 0.0;
            if (c < 2 * half) {
                const float f = expf((float)(c % half) * (float)-step);  // float like torch
                const float ang = (float)t * f;
                v = c < half ? sinf(ang) : cosf(ang);
            }
            lra_f32(pos)[t * D + c] = (float)v;
        }
    lra_tensor *p0 = lra_op_add(ctx, lra_op_scale(ctx, lra_params_tensor(P, s->emb), sqrtf((float)D)), pos);  // [l, D]
    lra_tensor *pm = lra_op_reshape(ctx, pmask, LRA_DIMS(B, l, 1));
    return lra_op_mul(ctx, lra_op_reshape(ctx, p0, LRA_DIMS(1, l, D)), pm);  // [B, l, D]
}

// attention of q [B, H, a, p] (already scaled) over k, v [B, H, b, p] with an additive key mask -> [B, a, H*p]
static lra_tensor *attend(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask_add) {
    lra_tensor *a = lra_op_softmax(ctx, lra_op_matmul(ctx, q, k, 0, 1), mask_add);
    return lra_attn_merge_heads(ctx, lra_op_matmul(ctx, a, v, 0, 0));
}

// x: [B, n, D], mask [B, n] (contiguous) -> [B, n, D]; *call->carry: P [B, l, D] in, the next P out.
static lra_tensor *luna_mix(void *state, lra_params *P, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                            const lra_attn_call *call) {
    const luna_state *s = state;
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2], l = s->length, H = s->heads;
    const float scale = 1.0f / sqrtf((float)(D / H));
    lra_tensor *pmask = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, l));  // packed rows in use
    for (int64_t b = 0; b < B; b++) {
        int64_t len = 0;
        for (int64_t j = 0; j < n; j++) len += lra_f32(mask)[b * n + j] != 0.0f;
        for (int64_t t = 0; t < l; t++) lra_f32(pmask)[b * l + t] = (!s->dynamic || t < len) ? 1.0f : 0.0f;
    }
    lra_tensor *Pin = *call->carry;
    if (!Pin) {
        LRA_ASSERT_MSG(s->first, "luna: layer %d got no packed sequence from the layer before", call->layer);
        Pin = first_p(s, P, ctx, B, D, pmask);
    }
    LRA_ASSERT_MSG(Pin->shape[1] == l && Pin->shape[2] == D, "luna: carried sequence is not [B, %lld, %lld]",
                   (long long)l, (long long)D);
    lra_tensor *Pn = lra_attn_layernorm_forward(ctx, P, s->norm, Pin);
    // pack: the packed rows attend to the real tokens
    lra_tensor *pq = lra_op_scale(ctx, lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->pq, Pn), (int)H), scale);
    lra_tensor *pk = lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->pk, x), (int)H);
    lra_tensor *pv = s->tie_kv ? pk : lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->pv, x), (int)H);
    lra_tensor *C = attend(ctx, pq, pk, pv, lra_attn_mask_add(ctx, mask));  // [B, l, D]
    // unpack: every token attends to the packed rows in use
    lra_tensor *q = lra_op_scale(ctx, lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->q, x), (int)H), scale);
    lra_tensor *k = lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->k, C), (int)H);
    lra_tensor *v = s->tie_kv ? k : lra_attn_split_heads(ctx, lra_attn_linear_forward(ctx, P, s->v, C), (int)H);
    lra_tensor *Y = attend(ctx, q, k, v, lra_attn_mask_add(ctx, pmask));  // [B, n, D]
    *call->carry = lra_op_add(ctx, Pin, C);
    return lra_attn_linear_forward(ctx, P, s->out, Y);
}

const lra_attn_kernel_def lra_attn_luna = {
    .name = "luna",
    .summary = "Luna token mixer: pack to a carried length-l sequence, unpack (linear); P passed between layers",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = luna_validate,
    .create = luna_create,
    .mix = luna_mix,
    .destroy = luna_destroy,
    .conformance = {.small_opts = "length=4"},
};
