// `h_transformer_1d` (H-Transformer-1D, Zhu & Soricut 2021; github:lucidrains/h-transformer-1d
// h_transformer_1d/h_transformer_1d.py, HAttention1D): hierarchical (H-matrix) attention.
// The sequence is padded to N = 2^k; q is scaled by p^-1/2.  Level 0 is the sequence; level l+1 halves
// level l: q and k by the masked mean of each pair of rows, v by their masked sum, the mask by "any".
// With blocks of b rows at every level:
//   - diagonal: each level-0 block attends to itself;
//   - level l: each block attends to its sibling block (the other block of its aligned pair), so the
//     levels 0..F-1 together cover every key once, with F = log2(N/b);
//   - per level, Y_l = exp(S - c) V and A_l = exp(S - c) cnt over the block (cnt: tokens per row of V), both repeated 2^l times
//     down to the tokens; O = sum_l Y_l / (sum_l A_l + eps), summed coarsest first so each level is
//     repeated only to the next finer one.
// Defaults differ from the reference in three places (each an option):
//   - the reference stops at log2(N/b) - 1 levels (`reference_levels`), so a token never sees the far
//     half of the sequence;
//   - the reference subtracts each level's and block's own row maximum c (`per_level_max`), so levels
//     are summed with different scales, and a row whose keys are all masked gives each of them weight 1
//     (padding then leaks into real rows).  By default every level is rescaled to the row's overall
//     maximum (exact softmax weights) and masked keys get weight 0;
//   - the reference's normaliser counts a coarse key once although its value row is the sum of its
//     tokens (`reference_normaliser`); by default a coarse key weighs its number of real tokens in A_l, as
//     the paper's restriction of the all-ones vector does (then equal tokens give exact attention).
// A chain of ops; O(N b p) per (example, head).
#include <math.h>
#include <stdlib.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"block_size", LRA_OPT_INT, 16, 1, 1 << 16, NULL, "block size b, a power of two (reference default 16)", LRA_OPT_COUNT},
    {"reference_levels", LRA_OPT_BOOL, 0, 0, 1, NULL, "log2(N/b)-1 levels as the reference (the far half is never attended)", 0},
    {"per_level_max", LRA_OPT_BOOL, 0, 0, 1, NULL, "each level and block subtracts its own row max; all-masked rows weigh 1 (reference)", 0},
    {"reference_normaliser", LRA_OPT_BOOL, 0, 0, 1, NULL, "a coarse key counts once in the normaliser though its value sums its tokens (reference)", 0},
    {"eps", LRA_OPT_FLOAT, 1e-8, 0.0, 1.0, NULL, "added to the normaliser (reference 1e-8)", 0},
};

typedef struct {
    int64_t block;
    int ref_levels, per_level, ref_norm;
    float eps;
} ht_state;

static lra_status ht_validate(const lra_attn_setup *setup) {
    const int64_t b = (int64_t)lra_attn_value(setup->opts, "block_size");
    if (b & (b - 1))
        return lra_error(LRA_ERR_CONFIG, "h_transformer_1d: block_size must be a power of two, got %lld", (long long)b);
    return LRA_OK;
}

static void *ht_create(const lra_attn_setup *setup, lra_params *params) {
    ht_state *s = lra_xcalloc(1, sizeof *s);
    s->block = (int64_t)lra_attn_value(setup->opts, "block_size");
    s->ref_levels = lra_attn_value(setup->opts, "reference_levels") != 0;
    s->per_level = lra_attn_value(setup->opts, "per_level_max") != 0;
    s->ref_norm = lra_attn_value(setup->opts, "reference_normaliser") != 0;
    s->eps = (float)lra_attn_value(setup->opts, "eps");
    return s;
}

static void ht_destroy(void *state) { free(state); }

typedef struct {
    lra_tensor *q, *k, *v;  // [B, H, Nl, p]
    float *mask;            // [B, Nl]
    float *count;           // [B, Nl]: real tokens summed into each row of v
} level;

// Level l+1 from level l: masked pair means of q, k, masked pair sums of v, "any" of the mask.
static level coarsen(lra_ctx *ctx, const level *L, int64_t B, int64_t H, int64_t Nl, int64_t p) {
    const int64_t Nh = Nl / 2;
    lra_tensor *me = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, Nh, 1));
    lra_tensor *mo = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, Nh, 1));
    lra_tensor *inv = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, Nh, 1));
    level out;
    out.mask = lra_arena_alloc(ctx->arena, (size_t)(B * Nh) * sizeof(float));
    out.count = lra_arena_alloc(ctx->arena, (size_t)(B * Nh) * sizeof(float));
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < Nh; c++) {
            const float e = L->mask[b * Nl + 2 * c], o = L->mask[b * Nl + 2 * c + 1];
            lra_f32(me)[b * Nh + c] = e;
            lra_f32(mo)[b * Nh + c] = o;
            lra_f32(inv)[b * Nh + c] = 1.0f / (e + o > 1.0f ? e + o : 1.0f);
            out.mask[b * Nh + c] = (e != 0.0f || o != 0.0f) ? 1.0f : 0.0f;
            out.count[b * Nh + c] = e * L->count[b * Nl + 2 * c] + o * L->count[b * Nl + 2 * c + 1];
        }
    lra_tensor *src[3] = {L->q, L->k, L->v}, *dst[3];
    for (int t = 0; t < 3; t++) {
        lra_tensor *pairs = lra_op_reshape(ctx, src[t], LRA_DIMS(B, H, Nh, 2 * p));
        lra_tensor *sum = lra_op_add(ctx, lra_op_mul(ctx, lra_op_slice(ctx, pairs, 3, 0, p), me),
                                     lra_op_mul(ctx, lra_op_slice(ctx, pairs, 3, p, 2 * p), mo));
        dst[t] = t < 2 ? lra_op_mul(ctx, sum, inv) : sum;
    }
    out.q = dst[0], out.k = dst[1], out.v = dst[2];
    return out;
}

typedef struct {
    lra_tensor *y, *a;  // [B, H, Nl, p], [B, H, Nl, 1]
    float *rowmax;      // [B*H*Nl]: the subtracted row maximum (-inf: no key)
} level_out;

// Block attention at one level.  Groups of g = 2b rows (sibling pairs, same-block keys masked) or g = b
// rows (the diagonal); keys are masked by the level's mask.
static level_out block_attention(lra_ctx *ctx, const ht_state *st, const level *L, int64_t B, int64_t H, int64_t Nl,
                                 int64_t p, int64_t b, int siblings) {
    const int64_t g = siblings ? 2 * b : b, G = Nl / g;
    lra_tensor *qg = lra_op_reshape(ctx, L->q, LRA_DIMS(B, H * G, g, p));
    lra_tensor *kg = lra_op_reshape(ctx, L->k, LRA_DIMS(B, H * G, g, p));
    lra_tensor *vg = lra_op_reshape(ctx, L->v, LRA_DIMS(B, H * G, g, p));
    lra_tensor *S = lra_op_reshape(ctx, lra_op_matmul(ctx, qg, kg, 0, 1), LRA_DIMS(B, H, Nl, g));
    // Masks [B, 1, Nl, g] (row = position at this level, column = key within the group).
    lra_tensor *add = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, Nl, g));
    lra_tensor *mul = NULL, *cnt = NULL;
    if (!st->ref_norm && siblings) cnt = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, Nl, g));
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t i = 0; i < Nl; i++) {
            const int64_t grp = i / g, r = i % g;
            float *row = lra_f32(add) + (bb * Nl + i) * g;
            if (cnt)
                for (int64_t c = 0; c < g; c++) lra_f32(cnt)[(bb * Nl + i) * g + c] = L->count[bb * Nl + grp * g + c];
            int any = 0;
            for (int64_t c = 0; c < g; c++) {
                const int other = !siblings || (r / b) != (c / b);
                const int ok = other && L->mask[bb * Nl + grp * g + c] != 0.0f;
                row[c] = ok ? 0.0f : -INFINITY;
                any |= ok;
            }
            if (!any && st->per_level) {  // reference: scores -max minus their max -> weight 1 for each key
                if (!mul) {
                    mul = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, Nl, g));
                    for (int64_t e = 0; e < B * Nl * g; e++) lra_f32(mul)[e] = 1.0f;
                }
                for (int64_t c = 0; c < g; c++) {
                    lra_f32(mul)[(bb * Nl + i) * g + c] = 0.0f;
                    row[c] = (!siblings || (r / b) != (c / b)) ? 0.0f : -INFINITY;
                }
            }
        }
    lra_tensor *Sm = lra_op_add(ctx, mul ? lra_op_mul(ctx, S, mul) : S, add);  // [B, H, Nl, g]
    level_out o;
    o.rowmax = lra_arena_alloc(ctx->arena, (size_t)(B * H * Nl) * sizeof(float));
    lra_tensor *c = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, Nl, 1));
    for (int64_t r = 0; r < B * H * Nl; r++) {
        const float *row = lra_f32(Sm) + r * g;
        float mx = -INFINITY;
        for (int64_t t = 0; t < g; t++) mx = row[t] > mx ? row[t] : mx;
        o.rowmax[r] = mx;
        lra_f32(c)[r] = isinf(mx) ? 0.0f : mx;
    }
    // The reference's per-level maximum is part of its function (levels are summed with their own
    // scales), so its gradient flows; the consistent rescaling cancels out and is a constant.
    lra_tensor *E = lra_op_exp(ctx, lra_op_sub(ctx, Sm, st->per_level ? lra_op_max(ctx, Sm, 3, 1) : c));
    o.a = lra_op_sum(ctx, cnt ? lra_op_mul(ctx, E, cnt) : E, 3, 1);
    lra_tensor *y = lra_op_matmul(ctx, lra_op_reshape(ctx, E, LRA_DIMS(B, H * G, g, g)), vg, 0, 0);
    o.y = lra_op_reshape(ctx, y, LRA_DIMS(B, H, Nl, p));
    return o;
}

static int64_t ilog2(int64_t x) {
    int64_t l = 0;
    while ((1ll << l) < x) l++;
    return l;
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *ht_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                              lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const ht_state *st = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    const int64_t N = 1ll << ilog2(n), b = st->block < N ? st->block : N, nb = N / b;
    int64_t F = ilog2(nb);  // sibling levels
    if (st->ref_levels) F = F > 0 ? F - 1 : 0;
    level L0;
    lra_tensor *x[3] = {lra_op_scale(ctx, q, 1.0f / sqrtf((float)p)), k, v};
    for (int t = 0; t < 3 && N > n; t++)
        x[t] = lra_op_concat(ctx, (lra_tensor *[]){x[t], lra_op_full(ctx, LRA_DIMS(B, H, N - n, p), 0.0f)}, 2, 2);
    L0.q = x[0], L0.k = x[1], L0.v = x[2];
    L0.mask = lra_arena_calloc(ctx->arena, (size_t)(B * N) * sizeof(float));
    L0.count = L0.mask;
    for (int64_t bb = 0; bb < B; bb++) {
        int any = 0;
        for (int64_t j = 0; j < n; j++) any |= lra_f32(mask)[bb * n + j] != 0.0f;
        for (int64_t j = 0; j < n; j++) L0.mask[bb * N + j] = (!any || lra_f32(mask)[bb * n + j] != 0.0f) ? 1.0f : 0.0f;
    }
    // Outputs: index 0 the diagonal, 1 + l sibling level l.
    level_out *outs = lra_arena_alloc(ctx->arena, (size_t)(F + 1) * sizeof(level_out));
    outs[0] = block_attention(ctx, st, &L0, B, H, N, p, b, 0);
    level cur = L0;
    for (int64_t l = 0; l < F; l++) {
        if (l > 0) cur = coarsen(ctx, &cur, B, H, N >> (l - 1), p);
        outs[1 + l] = block_attention(ctx, st, &cur, B, H, N >> l, p, b, 1);
    }
    // Sum the levels from the coarsest down, Horner-style: the running sum is repeated 2x to the next
    // finer level and added there, so each level is touched at its own resolution and the whole sum
    // costs O(N p) (repeating every level to N would cost O(N p log N)).  By default each addition
    // rescales both terms to their common row maximum (online-softmax merge: the factors compose to
    // exp(rowmax_l - overall max) as in exact softmax); per_level_max adds without rescaling.
    // rowmax_l lives at level lv(l) = l ? l - 1 : 0 (outs[0] and outs[1] are both at token level).
    lra_tensor *Y = outs[F].y, *A = outs[F].a;
    const float *mz = outs[F].rowmax;  // the running sum's row maximum at its resolution
    int64_t zlv = F ? F - 1 : 0;
    for (int64_t l = F - 1; l >= 0; l--) {
        const int64_t lv = l ? l - 1 : 0, Nl = N >> lv;
        if (zlv > lv) {  // repeat each row twice: [B, H, Nl/2, .] -> [B, H, Nl, .]
            lra_tensor *idx = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(Nl));
            for (int64_t i = 0; i < Nl; i++) lra_i32(idx)[i] = (int32_t)(i >> 1);
            Y = lra_op_index_select(ctx, Y, 2, idx);
            A = lra_op_index_select(ctx, A, 2, idx);
        }
        lra_tensor *y = outs[l].y, *a = outs[l].a;
        if (!st->per_level) {
            lra_tensor *f_old = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, Nl, 1));
            lra_tensor *f_new = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, Nl, 1));
            float *m = lra_arena_alloc(ctx->arena, (size_t)(B * H * Nl) * sizeof(float));
            const int shift = zlv > lv;
            for (int64_t r = 0; r < B * H * Nl; r++) {
                const float mo = mz[shift ? (r / Nl) * (Nl / 2) + (r % Nl) / 2 : r], ml = outs[l].rowmax[r];
                const float mx = mo > ml ? mo : ml;
                m[r] = mx;
                lra_f32(f_old)[r] = isinf(mo) ? 0.0f : expf(mo - mx);
                lra_f32(f_new)[r] = isinf(ml) ? 0.0f : expf(ml - mx);
            }
            Y = lra_op_mul(ctx, Y, f_old), A = lra_op_mul(ctx, A, f_old);
            y = lra_op_mul(ctx, y, f_new), a = lra_op_mul(ctx, a, f_new);
            mz = m;
        }
        Y = lra_op_add(ctx, Y, y);
        A = lra_op_add(ctx, A, a);
        zlv = lv;
    }
    lra_tensor *out = lra_op_div(ctx, Y, lra_op_add_scalar(ctx, A, st->eps));
    return N > n ? lra_op_slice(ctx, out, 2, 0, n) : out;
}

const lra_attn_kernel_def lra_attn_h_transformer_1d = {
    .name = "h_transformer_1d",
    .summary = "H-Transformer-1D: hierarchical block attention on pairwise-coarsened levels; O(n b p)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = ht_validate,
    .create = ht_create,
    .forward = ht_forward,
    .destroy = ht_destroy,
    .conformance = {.small_opts = "block_size=4", .exact_opts = "block_size=16", .approx_lo = 4, .approx_hi = 32},
};
