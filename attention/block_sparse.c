// Pattern-restricted exact softmax attention (see block_sparse.h).
#include "attention/block_sparse.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/gemm.h"

// ---- builder ------------------------------------------------------------------------------------
void lra_bsp_builder_init(lra_bsp_builder *b) {
    memset(b, 0, sizeof *b);
    b->cap_groups = 16;
    b->q_off = lra_xmalloc((size_t)(b->cap_groups + 1) * sizeof(int64_t));
    b->k_off = lra_xmalloc((size_t)(b->cap_groups + 1) * sizeof(int64_t));
    b->q_off[0] = b->k_off[0] = 0;
}

void lra_bsp_builder_free(lra_bsp_builder *b) {
    free(b->q_off), free(b->k_off), free(b->qidx), free(b->kidx);
    memset(b, 0, sizeof *b);
}

static void grow_idx(int32_t **buf, int64_t *cap, int64_t need) {
    if (need <= *cap) return;
    int64_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    *buf = lra_xrealloc(*buf, (size_t)c * sizeof(int32_t));
    *cap = c;
}

void lra_bsp_add_q(lra_bsp_builder *b, int64_t lo, int64_t hi) {
    if (hi <= lo) return;
    grow_idx(&b->qidx, &b->cap_q, b->nq + (hi - lo));
    for (int64_t i = lo; i < hi; i++) b->qidx[b->nq++] = (int32_t)i;
}

void lra_bsp_add_k(lra_bsp_builder *b, int64_t lo, int64_t hi) {
    if (hi <= lo) return;
    grow_idx(&b->kidx, &b->cap_k, b->nk + (hi - lo));
    for (int64_t j = lo; j < hi; j++) b->kidx[b->nk++] = (int32_t)j;
}

void lra_bsp_end_group(lra_bsp_builder *b) {
    if (b->n_groups + 1 > b->cap_groups) {
        b->cap_groups *= 2;
        b->q_off = lra_xrealloc(b->q_off, (size_t)(b->cap_groups + 1) * sizeof(int64_t));
        b->k_off = lra_xrealloc(b->k_off, (size_t)(b->cap_groups + 1) * sizeof(int64_t));
    }
    b->n_groups++;
    b->q_off[b->n_groups] = b->nq;
    b->k_off[b->n_groups] = b->nk;
}

lra_bsp_pattern lra_bsp_finish(lra_bsp_builder *b, lra_arena *arena) {
    LRA_ASSERT_MSG(b->q_off[b->n_groups] == b->nq && b->k_off[b->n_groups] == b->nk, "bsp: group left open");
    lra_bsp_pattern pt = {.n_groups = b->n_groups};
    int64_t *qo = lra_arena_alloc(arena, (size_t)(b->n_groups + 1) * sizeof(int64_t));
    int64_t *ko = lra_arena_alloc(arena, (size_t)(b->n_groups + 1) * sizeof(int64_t));
    int32_t *qi = lra_arena_alloc(arena, (size_t)(b->nq > 0 ? b->nq : 1) * sizeof(int32_t));
    int32_t *ki = lra_arena_alloc(arena, (size_t)(b->nk > 0 ? b->nk : 1) * sizeof(int32_t));
    memcpy(qo, b->q_off, (size_t)(b->n_groups + 1) * sizeof(int64_t));
    memcpy(ko, b->k_off, (size_t)(b->n_groups + 1) * sizeof(int64_t));
    if (b->nq) memcpy(qi, b->qidx, (size_t)b->nq * sizeof(int32_t));
    if (b->nk) memcpy(ki, b->kidx, (size_t)b->nk * sizeof(int32_t));
    for (int64_t g = 0; g < b->n_groups; g++) {
        if (qo[g + 1] - qo[g] > pt.max_q) pt.max_q = qo[g + 1] - qo[g];
        if (ko[g + 1] - ko[g] > pt.max_k) pt.max_k = ko[g + 1] - ko[g];
    }
    pt.q_off = qo, pt.k_off = ko, pt.qidx = qi, pt.kidx = ki;
    b->n_groups = b->nq = b->nk = 0;
    return pt;
}

// ---- attention ------------------------------------------------------------------------------------
typedef struct {
    lra_bsp_spec spec;
    const float *mask;  // [B, n]
    float scale;
    int64_t max_q, max_k;
} bsp_saved;

static const lra_bsp_pattern *pattern_of(const lra_bsp_spec *s, int64_t h) {
    return &s->patterns[s->shared_pattern ? 0 : h];
}

static void gather_rows(const float *src, const int32_t *idx, int64_t r, int64_t p, float *dst) {
    for (int64_t t = 0; t < r; t++) memcpy(dst + t * p, src + (int64_t)idx[t] * p, (size_t)p * sizeof(float));
}

// Scores of one group: S[t, c] = scale q_t . k_c, or -inf for a padded key or an excluded pair.
// kbad: scratch [L] (padded-key flags of the group).
static void group_scores(const bsp_saved *sv, const float *mrow, const int32_t *qi, int64_t r, const int32_t *ki,
                         int64_t L, int64_t p, const float *Qg, const float *Kg, float *S, float *kbad) {
    lra_gemm_direct(false, true, r, L, p, sv->scale, Qg, p, Kg, p, 0.0f, S, L);
    int any_bad = 0;
    for (int64_t c = 0; c < L; c++) {
        kbad[c] = mrow[ki[c]] == 0.0f ? -INFINITY : 0.0f;
        any_bad |= mrow[ki[c]] == 0.0f;
    }
    const lra_bsp_allow_fn allow = sv->spec.allow;
    for (int64_t t = 0; t < r; t++) {
        float *row = S + t * L;
        if (any_bad) {
#pragma omp simd
            for (int64_t c = 0; c < L; c++) row[c] += kbad[c];  // -inf on padded keys
        }
        if (allow)
            for (int64_t c = 0; c < L; c++)
                if (!allow(sv->spec.allow_arg, qi[t], ki[c])) row[c] = -INFINITY;
    }
}

static void bsp_backward(lra_ctx *ctx, lra_node *node) {
    const bsp_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const float *out = lra_f32(node->saved[0]), *lse = lra_f32(node->saved[1]);
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    float *dq = lra_grad(ctx, q), *dk = lra_grad(ctx, k), *dv = lra_grad(ctx, v);
    const float *dO = node->out->grad;
    const int64_t mq = sv->max_q, mk = sv->max_k;
    const size_t per = (size_t)(2 * mq * mk + 4 * mq * p + 4 * mk * p + mk);
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)omp_get_max_threads() * per * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *S = scratch + (size_t)omp_get_thread_num() * per, *dP = S + mq * mk;
        float *Qg = dP + mq * mk, *dOg = Qg + mq * p, *Og = dOg + mq * p, *dQg = Og + mq * p;
        float *Kg = dQg + mq * p, *Vg = Kg + mk * p, *dKg = Vg + mk * p, *dVg = dKg + mk * p, *kbad = dVg + mk * p;
        const int64_t b = bh / H, h = bh % H;
        const float *mrow = sv->mask + b * n;
        const lra_bsp_pattern *pt = pattern_of(&sv->spec, h);
        const size_t base = (size_t)bh * (size_t)(n * p);
        for (int64_t g = 0; g < pt->n_groups; g++) {
            const int32_t *qi = pt->qidx + pt->q_off[g], *ki = pt->kidx + pt->k_off[g];
            const int64_t r = pt->q_off[g + 1] - pt->q_off[g], L = pt->k_off[g + 1] - pt->k_off[g];
            if (r == 0 || L == 0) continue;
            gather_rows(lra_f32(q) + base, qi, r, p, Qg);
            gather_rows(lra_f32(k) + base, ki, L, p, Kg);
            gather_rows(lra_f32(v) + base, ki, L, p, Vg);
            gather_rows(dO + base, qi, r, p, dOg);
            gather_rows(out + base, qi, r, p, Og);
            group_scores(sv, mrow, qi, r, ki, L, p, Qg, Kg, S, kbad);
            for (int64_t t = 0; t < r; t++) {
                const float l = lse[bh * n + qi[t]];
                if (l == -INFINITY || (sv->spec.zero_padded_queries && mrow[qi[t]] == 0.0f)) {
                    // no allowed key, or a zeroed output row: no gradient flows through the row
                    memset(S + t * L, 0, (size_t)L * sizeof(float));
                    memset(dOg + t * p, 0, (size_t)p * sizeof(float));
                } else {
                    lra_softmax_row_from_lse(S + t * L, L, l);
                }
            }
            // dV_g = P^T dO_g ; dP = dO_g V_g^T
            lra_gemm_direct(true, false, L, p, r, 1.0f, S, L, dOg, p, 0.0f, dVg, p);
            lra_gemm_direct(false, true, r, L, p, 1.0f, dOg, p, Vg, p, 0.0f, dP, L);
            // dS = P (dP - D), D_t = dO_t . O_t
            for (int64_t t = 0; t < r; t++) {
                const double D = lra_dot_double(dOg + t * p, Og + t * p, p);
                const float Df = (float)D;
                float *dp = dP + t * L;
                const float *pr = S + t * L;
#pragma omp simd
                for (int64_t c = 0; c < L; c++) dp[c] = pr[c] * (dp[c] - Df);
            }
            lra_gemm_direct(false, false, r, p, L, sv->scale, dP, L, Kg, p, 0.0f, dQg, p);
            lra_gemm_direct(true, false, L, p, r, sv->scale, dP, L, Qg, p, 0.0f, dKg, p);
            for (int64_t t = 0; t < r; t++) {
                float *d = dq + base + (int64_t)qi[t] * p;
                for (int64_t c = 0; c < p; c++) d[c] += dQg[t * p + c];
            }
            for (int64_t t = 0; t < L; t++) {
                float *d = dk + base + (int64_t)ki[t] * p, *e = dv + base + (int64_t)ki[t] * p;
                for (int64_t c = 0; c < p; c++) {
                    d[c] += dKg[t * p + c];
                    e[c] += dVg[t * p + c];
                }
            }
        }
    }
}

lra_tensor *lra_bsp_attention(lra_ctx *ctx, const char *op, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                              lra_tensor *mask, const lra_bsp_spec *spec) {
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    bsp_saved *sv = lra_arena_alloc(ctx->arena, sizeof *sv);
    sv->spec = *spec;
    sv->mask = lra_f32(mask);
    sv->scale = 1.0f / sqrtf((float)p);
    sv->max_q = sv->max_k = 1;
    for (int64_t h = 0; h < (spec->shared_pattern ? 1 : H); h++) {
        const lra_bsp_pattern *pt = &spec->patterns[h];
        if (pt->max_q > sv->max_q) sv->max_q = pt->max_q;
        if (pt->max_k > sv->max_k) sv->max_k = pt->max_k;
    }
    lra_tensor *out = lra_tensor_zeros(ctx->arena, LRA_F32, q->shape, 4);
    lra_tensor *lse = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, n));
    for (int64_t e = 0; e < B * H * n; e++) lra_f32(lse)[e] = -INFINITY;  // rows in no group
    const int64_t mq = sv->max_q, mk = sv->max_k;
    const size_t per = (size_t)(mq * mk + 2 * mq * p + 2 * mk * p + mk);
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)omp_get_max_threads() * per * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *S = scratch + (size_t)omp_get_thread_num() * per, *Qg = S + mq * mk, *Og = Qg + mq * p;
        float *Kg = Og + mq * p, *Vg = Kg + mk * p, *kbad = Vg + mk * p;
        const int64_t b = bh / H, h = bh % H;
        const float *mrow = sv->mask + b * n;
        const lra_bsp_pattern *pt = pattern_of(spec, h);
        const size_t base = (size_t)bh * (size_t)(n * p);
        float *o = lra_f32(out) + base, *l = lra_f32(lse) + bh * n;
        for (int64_t g = 0; g < pt->n_groups; g++) {
            const int32_t *qi = pt->qidx + pt->q_off[g], *ki = pt->kidx + pt->k_off[g];
            const int64_t r = pt->q_off[g + 1] - pt->q_off[g], L = pt->k_off[g + 1] - pt->k_off[g];
            if (r == 0 || L == 0) continue;
            gather_rows(lra_f32(q) + base, qi, r, p, Qg);
            gather_rows(lra_f32(k) + base, ki, L, p, Kg);
            gather_rows(lra_f32(v) + base, ki, L, p, Vg);
            group_scores(sv, mrow, qi, r, ki, L, p, Qg, Kg, S, kbad);
            for (int64_t t = 0; t < r; t++) l[qi[t]] = lra_softmax_row(S + t * L, L);
            lra_gemm_direct(false, false, r, p, L, 1.0f, S, L, Vg, p, 0.0f, Og, p);
            for (int64_t t = 0; t < r; t++) {
                const int zero = spec->zero_padded_queries && mrow[qi[t]] == 0.0f;
                float *dst = o + (int64_t)qi[t] * p;
                for (int64_t c = 0; c < p; c++) dst[c] = zero ? 0.0f : Og[t * p + c];
            }
        }
    }
    lra_node *nd = lra_tape_record(ctx, op, bsp_backward, out, 3, (lra_tensor *[]){q, k, v});
    if (nd) {
        nd->saved[0] = out;
        nd->saved[1] = lse;
        nd->n_saved = 2;
        nd->extra = sv;
    }
    return out;
}
