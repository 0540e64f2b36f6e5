// `sinkhorn`: Sparse Sinkhorn attention (Tay et al. 2020; LRA's baseline, google-research/long-range-arena
// lra_benchmarks/models/sinkhorn_transformer/sinkhorn_attention.py).  Per (example, head), with nb = n / b
// blocks of b tokens and m the mask:
//   K', V' = m K, m V (padded rows zeroed, so they reach nothing);  s_l = sum of the keys of block l [p];
//   R = s W^T + c  [nb, nb] (sorting network: W [nb, p], c [nb], learned, shared by heads as in LRA);
//   P = Sinkhorn(R / temperature): `sinkhorn_iters` times normalise rows then columns in log space, exp;
//   sorted block i: K^_i = sum_l P_il K'_l, V^_i = sum_l P_il V'_l;
//   each query block i attends with one softmax (scale p^-1/2) to the keys of its own block and of its
//   sorted block; a sorted key slot j is excluded when slot j is padding in every block.
// Reference switches (defaults are the sensible behaviour): sort_activation=softmax (LRA's default call:
// a row softmax instead of Sinkhorn), clip (LRA clips the log-permutation to [-1, 1]), separate_softmax
// (LRA sums two separately normalised attentions), block_sum (LRA's einsum 'bskhd,bnhl->bsnhd' sums over
// both block indices, so every sorted block is rowsum(P)_i times the sum of all blocks), strided_blocks
// (LRA's reshape [n] -> [b, nb] puts token t in block t mod nb).
// Written as a chain of ops (autograd backward); every tensor is O(n p + nb^2).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"block_size", LRA_OPT_INT, 64, 1, 65536, NULL, "tokens per block (LRA image/pathfinder configs 64)", LRA_OPT_COUNT},
    {"sinkhorn_iters", LRA_OPT_INT, 1, 0, 100, NULL, "Sinkhorn normalisation rounds (LRA sinkhorn_operator 1)", 0},
    {"temperature", LRA_OPT_FLOAT, 1.0, 1e-3, 1e3, NULL, "divides the sorting logits before Sinkhorn (LRA 1)", 0},
    {"sort_activation", LRA_OPT_ENUM, 0, 0, 0, "sinkhorn|softmax", "block permutation: Sinkhorn or a row softmax (LRA default)", 0},
    {"clip", LRA_OPT_FLOAT, 0.0, 0.0, 1e6, NULL, "clip the log-permutation to [-clip, clip] before exp (0 = off; LRA 1)", 0},
    {"separate_softmax", LRA_OPT_BOOL, 0, 0, 1, NULL, "own and sorted blocks normalised separately and summed (LRA)", 0},
    {"block_sum", LRA_OPT_BOOL, 0, 0, 1, NULL, "sorted block i = rowsum(P)_i x sum of all blocks (LRA's einsum)", 0},
    {"strided_blocks", LRA_OPT_BOOL, 0, 0, 1, NULL, "token t in block t mod nb (LRA's reshape)", 0},
};

typedef struct {
    int64_t bs, nb, n;
    int iters, softmax_sort, separate, block_sum, strided;
    float temp, clip;
    int w_index, c_index;
} sinkhorn_state;

static lra_status sinkhorn_validate(const lra_attn_setup *setup) {
    const int64_t b = (int64_t)lra_attn_value(setup->opts, "block_size");
    if (setup->seq_len % b)
        return lra_error(LRA_ERR_CONFIG,
                         "attention 'sinkhorn' option 'block_size': expected a divisor of the sequence length %lld, "
                         "got %lld",
                         (long long)setup->seq_len, (long long)b);
    return LRA_OK;
}

static void *sinkhorn_create(const lra_attn_setup *setup, lra_params *params) {
    sinkhorn_state *s = lra_xcalloc(1, sizeof *s);
    s->bs = (int64_t)lra_attn_value(setup->opts, "block_size");
    s->n = setup->seq_len;
    s->nb = s->n / s->bs;
    s->iters = (int)lra_attn_value(setup->opts, "sinkhorn_iters");
    s->temp = (float)lra_attn_value(setup->opts, "temperature");
    s->softmax_sort = lra_attn_value(setup->opts, "sort_activation") == 1;
    s->clip = (float)lra_attn_value(setup->opts, "clip");
    s->separate = lra_attn_value(setup->opts, "separate_softmax") != 0;
    s->block_sum = lra_attn_value(setup->opts, "block_sum") != 0;
    s->strided = lra_attn_value(setup->opts, "strided_blocks") != 0;
    char name[LRA_PARAM_NAME_MAX];
    // LRA's DenseGeneral(head_dim -> max_num_blocks) with lecun-normal kernel and zero bias; here exactly nb outputs.
    snprintf(name, sizeof name, "%ssort_w", setup->prefix);
    s->w_index = lra_params_add(params, name, LRA_DIMS(s->nb, setup->head_dim), LRA_INIT_NORMAL,
                                1.0f / sqrtf((float)setup->head_dim));
    snprintf(name, sizeof name, "%ssort_b", setup->prefix);
    s->c_index = lra_params_add(params, name, LRA_DIMS(s->nb), LRA_INIT_ZEROS, 0.0f);
    return s;
}

static void sinkhorn_destroy(void *state) { free(state); }

// [B, H, n, p] -> blocks [B*H, nb, bs, p] (contiguous blocks, or LRA's strided layout).
static lra_tensor *to_blocks(lra_ctx *ctx, const sinkhorn_state *s, lra_tensor *x) {
    const int64_t BH = x->shape[0] * x->shape[1], p = x->shape[3];
    if (!s->strided) return lra_op_reshape(ctx, x, LRA_DIMS(BH, s->nb, s->bs, p));
    lra_tensor *t = lra_op_transpose(ctx, lra_op_reshape(ctx, x, LRA_DIMS(BH, s->bs, s->nb, p)), 1, 2);
    return lra_op_contiguous(ctx, t);
}

// Inverse of to_blocks: [B*H, nb, bs, p] -> [B, H, n, p].
static lra_tensor *from_blocks(lra_ctx *ctx, const sinkhorn_state *s, lra_tensor *x, int64_t B, int64_t H) {
    const int64_t p = x->shape[3];
    if (s->strided) x = lra_op_contiguous(ctx, lra_op_transpose(ctx, x, 1, 2));
    return lra_op_reshape(ctx, x, LRA_DIMS(B, H, s->n, p));
}

// clamp(x, -c, c) = x - relu(x - c) + relu(-x - c) (gradient 0 outside, as a clip).
static lra_tensor *clip_op(lra_ctx *ctx, lra_tensor *x, float c) {
    lra_tensor *hi = lra_op_relu(ctx, lra_op_add_scalar(ctx, x, -c));
    lra_tensor *lo = lra_op_relu(ctx, lra_op_add_scalar(ctx, lra_op_scale(ctx, x, -1.0f), -c));
    return lra_op_add(ctx, lra_op_sub(ctx, x, hi), lo);
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *sinkhorn_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                    lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const sinkhorn_state *s = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], nb = s->nb, bs = s->bs;
    LRA_ASSERT_MSG(n == s->n, "sinkhorn: sequence length %lld != the model's n %lld (the sorting network has nb "
                   "outputs)", (long long)n, (long long)s->n);
    lra_tensor *mr = lra_attn_mask_rows(ctx, mask);
    lra_tensor *Kb = to_blocks(ctx, s, lra_op_mul(ctx, k, mr));  // [BH, nb, bs, p]
    lra_tensor *Vb = to_blocks(ctx, s, lra_op_mul(ctx, v, mr));
    lra_tensor *Qb = lra_op_reshape(ctx, to_blocks(ctx, s, q), LRA_DIMS(B * H * nb, bs, p));
    // Sorting network on the block sums -> logits [BH, nb, nb] -> block permutation P.
    lra_tensor *sum = lra_op_sum(ctx, Kb, 2, 0);  // [BH, nb, p]
    lra_tensor *R = lra_op_linear(ctx, sum, lra_params_tensor(params, s->w_index), lra_params_tensor(params, s->c_index));
    lra_tensor *P;
    if (s->softmax_sort) {
        P = lra_op_softmax(ctx, R, NULL);
    } else {
        lra_tensor *la = lra_op_scale(ctx, R, 1.0f / s->temp);
        for (int it = 0; it < s->iters; it++) {
            la = lra_op_log_softmax(ctx, la, NULL);  // rows
            la = lra_op_transpose(ctx, lra_op_log_softmax(ctx, lra_op_transpose(ctx, la, 1, 2), NULL), 1, 2);
        }
        if (s->clip > 0) la = clip_op(ctx, la, s->clip);
        P = lra_op_exp(ctx, la);
    }
    // Sorted blocks: K^ = P K' over the flattened blocks [BH, nb, bs*p].
    lra_tensor *K2 = lra_op_reshape(ctx, Kb, LRA_DIMS(B * H, nb, bs * p));
    lra_tensor *V2 = lra_op_reshape(ctx, Vb, LRA_DIMS(B * H, nb, bs * p));
    lra_tensor *Ks, *Vs;
    if (s->block_sum) {
        lra_tensor *rs = lra_op_sum(ctx, P, 2, 1);  // [BH, nb, 1]
        Ks = lra_op_mul(ctx, rs, lra_op_sum(ctx, K2, 1, 1));
        Vs = lra_op_mul(ctx, rs, lra_op_sum(ctx, V2, 1, 1));
    } else {
        Ks = lra_op_matmul(ctx, P, K2, 0, 0);
        Vs = lra_op_matmul(ctx, P, V2, 0, 0);
    }
    Ks = lra_op_reshape(ctx, Ks, LRA_DIMS(B * H * nb, bs, p));
    Vs = lra_op_reshape(ctx, Vs, LRA_DIMS(B * H * nb, bs, p));
    lra_tensor *Ko = lra_op_reshape(ctx, Kb, LRA_DIMS(B * H * nb, bs, p));
    lra_tensor *Vo = lra_op_reshape(ctx, Vb, LRA_DIMS(B * H * nb, bs, p));
    // Additive key masks [BH*nb, 1, bs]: own block keys by their mask, sorted slot j when any block has it.
    lra_tensor *mo = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B * H * nb, 1, bs));
    lra_tensor *ms = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B * H * nb, 1, bs));
    const float *md = lra_f32(mask);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < bs; j++) {
            int any = 0;
            for (int64_t l = 0; l < nb; l++) any |= md[b * n + (s->strided ? j * nb + l : l * bs + j)] != 0.0f;
            for (int64_t h = 0; h < H; h++)
                for (int64_t l = 0; l < nb; l++) {
                    const int64_t row = (b * H + h) * nb + l, t = s->strided ? j * nb + l : l * bs + j;
                    lra_f32(mo)[row * bs + j] = md[b * n + t] != 0.0f ? 0.0f : -INFINITY;
                    lra_f32(ms)[row * bs + j] = any ? 0.0f : -INFINITY;
                }
        }
    const float scale = 1.0f / sqrtf((float)p);
    lra_tensor *out;
    if (s->separate) {
        lra_tensor *ao = lra_op_softmax(ctx, lra_op_scale(ctx, lra_op_matmul(ctx, Qb, Ko, 0, 1), scale), mo);
        lra_tensor *as = lra_op_softmax(ctx, lra_op_scale(ctx, lra_op_matmul(ctx, Qb, Ks, 0, 1), scale), ms);
        out = lra_op_add(ctx, lra_op_matmul(ctx, ao, Vo, 0, 0), lra_op_matmul(ctx, as, Vs, 0, 0));
    } else {
        lra_tensor *Kc = lra_op_concat(ctx, (lra_tensor *[]){Ko, Ks}, 2, 1);  // [BH*nb, 2bs, p]
        lra_tensor *Vc = lra_op_concat(ctx, (lra_tensor *[]){Vo, Vs}, 2, 1);
        lra_tensor *mc = lra_op_concat(ctx, (lra_tensor *[]){mo, ms}, 2, 2);
        lra_tensor *a = lra_op_softmax(ctx, lra_op_scale(ctx, lra_op_matmul(ctx, Qb, Kc, 0, 1), scale), mc);
        out = lra_op_matmul(ctx, a, Vc, 0, 0);
    }
    return from_blocks(ctx, s, lra_op_reshape(ctx, out, LRA_DIMS(B * H, nb, bs, p)), B, H);
}

const lra_attn_kernel_def lra_attn_sinkhorn = {
    .name = "sinkhorn",
    .summary = "Sparse Sinkhorn attention: blocks attend to themselves and to a learned Sinkhorn-sorted block",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = sinkhorn_validate,
    .create = sinkhorn_create,
    .forward = sinkhorn_forward,
    .destroy = sinkhorn_destroy,
    // 4 blocks of 4 at the suite's n = 16; two Sinkhorn rounds exercise the column normalisation's backward.
    .conformance = {.small_opts = "block_size=4,sinkhorn_iters=2"},
};
