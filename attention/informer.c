// `informer` and `informer_masked`: ProbSparse attention as used by Skeinformer (attention.md §2.5, §2.6).
//   informer:        U = u = min(ceil(F / ln n) * ceil(ln n), n); key samples uniform over [0, n) (padding
//                    included), shared by all examples and heads; M_i = max_t q_i.k_idx - sum_t q_i.k_idx / n;
//                    the u rows of largest M get exact softmax over ALL n keys (raw q, k, v; no mask), the
//                    others the plain mean of V over all n rows.  The padding mask is ignored (the paper's
//                    baseline as run, §3a).
//   informer_masked: U = u = min(F, n); q, k, v multiplied by the mask; samples floor(u * n_b) over the
//                    real prefix (uniforms shared over examples and heads); selected rows use a key mask;
//                    default rows the mean of the real value rows.  Padded queries are not eligible for
//                    the top-u unless `pad_queries_eligible` (reference).
// Draws are fresh every call (train and eval), keyed by (step, layer, KEYS, tower).  One composite node:
// memory O(u n) scratch per thread, time ~ n U p + 2 u n p per (example, head).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/fastmath.h"
#include "core/ops.h"

static const lra_attn_option k_opts_informer[] = {
    {"in_nb_features", LRA_OPT_INT, 128, 1, 100000000, NULL, "F: U = u = ceil(F / ln n) * ceil(ln n) (code 128; paper 256)",
     LRA_OPT_COUNT},
};
static const lra_attn_option k_opts_masked[] = {
    {"in_nb_features", LRA_OPT_INT, 128, 1, 100000000, NULL, "F: U = u = min(F, n) (code 128)", LRA_OPT_COUNT},
    {"pad_queries_eligible", LRA_OPT_BOOL, 0, 0, 1, NULL, "padded queries (M = 0) may win the top-u (reference)", 0},
};

typedef struct {
    int masked;
    int64_t F;
    int pad_eligible;
} informer_state;

typedef struct {
    const informer_state *st;
    int64_t B, H, n, p, u;
    float scale;
    const float *mask;   // [B, n]
    const float *q, *k, *v;  // the (masked, for informer_masked) inputs [B, H, n, p]
    int32_t *top;        // [B, H, u] selected rows (-1 = unused slot)
    uint8_t *selected;   // [B, H, n]
    float *otop, *lse;   // [B, H, u, p], [B, H, u]
} informer_saved;

static void *informer_create_variant(const lra_attn_setup *setup, int masked) {
    informer_state *s = lra_xcalloc(1, sizeof *s);
    s->masked = masked;
    s->F = (int64_t)lra_attn_value(setup->opts, "in_nb_features");
    s->pad_eligible = masked && lra_attn_value(setup->opts, "pad_queries_eligible") != 0;
    return s;
}
static void *create_plain(const lra_attn_setup *s, lra_params *p) { return informer_create_variant(s, 0); }
static void *create_masked(const lra_attn_setup *s, lra_params *p) { return informer_create_variant(s, 1); }
static void informer_destroy(void *state) { free(state); }

typedef struct {
    float m;
    int32_t i;
} scored;

static int scored_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->m != y->m) return x->m > y->m ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

// M_i = max_t q_i . k_{j(i,t)} - sum_t q_i . k_{j(i,t)} / n over the u sampled keys j(i, t) =
// floor(unif[i, t] range) (through valid[] when given), for the n queries of one (example, head).
// Inlined into calls with a constant p.
static inline __attribute__((always_inline)) void sparsity_measure(const float *restrict qb,
                                                                   const float *restrict kb,
                                                                   const float *restrict unif,
                                                                   const int32_t *restrict valid, int64_t range,
                                                                   int64_t n, int64_t p, int64_t u, scored *restrict M) {
    for (int64_t i = 0; i < n; i++) {
        // four lanes of running max and (double) sum, one per slot of the groups of four samples
        lra_v4f mx4 = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        lra_v4d sum4 = {0.0, 0.0, 0.0, 0.0};
        const float *qi = qb + i * p;
        for (int64_t t0 = 0; t0 < u; t0 += 4) {
            const float *kr[4];
            const int64_t cnt = u - t0 < 4 ? u - t0 : 4;
            for (int64_t e = 0; e < 4; e++) {
                int64_t j = (int64_t)(unif[i * u + t0 + (e < cnt ? e : 0)] * (float)range);
                if (j >= range) j = range - 1;
                if (valid) j = valid[j];
                kr[e] = kb + j * p;
            }
            float dots[4];
            lra_dotf4(qi, kr[0], kr[1], kr[2], kr[3], p, dots);
            lra_v4f s4;
            __builtin_memcpy(&s4, dots, sizeof s4);
            for (int64_t e = cnt; e < 4; e++) s4[e] = -INFINITY;  // the last group's unused slots
            const lra_v4i gt = s4 > mx4;  // mx4 = s4 > mx4 ? s4 : mx4 per lane
            mx4 = (lra_v4f)(((lra_v4i)s4 & gt) | ((lra_v4i)mx4 & ~gt));
            for (int64_t e = cnt; e < 4; e++) s4[e] = 0.0f;
            sum4 += __builtin_convertvector(s4, lra_v4d);
        }
        const float mxa = mx4[0] > mx4[1] ? mx4[0] : mx4[1], mxb = mx4[2] > mx4[3] ? mx4[2] : mx4[3];
        const float mx = mxa > mxb ? mxa : mxb;
        const double sum = (sum4[0] + sum4[1]) + (sum4[2] + sum4[3]);
        M[i].m = mx - (float)(sum / (double)n);
        M[i].i = (int32_t)i;
    }
}

static void informer_backward(lra_ctx *ctx, lra_node *node) {
    const informer_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const int64_t B = sv->B, H = sv->H, n = sv->n, p = sv->p, u = sv->u;
    float *dq = q->requires_grad ? lra_grad(ctx, q) : NULL;
    float *dk = k->requires_grad ? lra_grad(ctx, k) : NULL;
    float *dv = v->requires_grad ? lra_grad(ctx, v) : NULL;
    const float *dO = node->out->grad;
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)(2 * u * n + 3 * u * p + n * p * 2 + 2 * p + 64) / 16 * 16;
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * per * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *P = scratch + (size_t)omp_get_thread_num() * per, *dP = P + u * n, *QT = dP + u * n, *GT = QT + u * p,
              *dQT = GT + u * p, *dkt = dQT + u * p, *dvt = dkt + n * p;
        double *gsum = (double *)(P + (2 * u * n + 3 * u * p + 2 * n * p + 1) / 2 * 2);
        const int64_t b = bh / H;
        const float *m = sv->mask + b * n;
        const int64_t nb = lra_attn_valid_positions(m, n, NULL);
        const size_t base = (size_t)bh * (size_t)(n * p);
        const int32_t *top = sv->top + bh * u;
        int64_t r = 0;
        while (r < u && top[r] >= 0) r++;
        for (int64_t t = 0; t < r; t++) {
            memcpy(QT + t * p, sv->q + base + top[t] * p, (size_t)p * sizeof(float));
            memcpy(GT + t * p, dO + base + top[t] * p, (size_t)p * sizeof(float));
        }
        memset(dQT, 0, (size_t)(u * p) * sizeof(float));
        memset(dkt, 0, (size_t)(2 * n * p) * sizeof(float));
        lra_attn_rows_softmax_backward(QT, r, sv->k + base, sv->v + base, sv->st->masked ? m : NULL, n, p, sv->scale,
                                       sv->lse + bh * u, sv->otop + (size_t)bh * (size_t)(u * p), GT, P, dP, dQT, dkt,
                                       dvt);
        // Default rows: O_i = sum_j coef_j v_j, so dv_j += coef_j * sum_{i not selected} dO_i.
        for (int64_t c = 0; c < p; c++) gsum[c] = 0.0;
        const uint8_t *sel = sv->selected + bh * n;
        for (int64_t i = 0; i < n; i++)
            if (!sel[i])
                for (int64_t c = 0; c < p; c++) gsum[c] += dO[base + i * p + c];
        for (int64_t j = 0; j < n; j++) {
            const double coef = sv->st->masked ? (m[j] != 0.0f ? 1.0 / (double)nb : 0.0) : 1.0 / (double)n;
            for (int64_t c = 0; c < p; c++) dvt[j * p + c] += (float)(coef * gsum[c]);
        }
        for (int64_t t = 0; t < r; t++)
            for (int64_t c = 0; c < p; c++)
                if (dq) {
                    const float mq = sv->st->masked ? m[top[t]] : 1.0f;
                    dq[base + top[t] * p + c] += mq * dQT[t * p + c];
                }
        for (int64_t j = 0; j < n; j++) {
            const float mj = sv->st->masked ? m[j] : 1.0f;
            for (int64_t c = 0; c < p; c++) {
                if (dk) dk[base + j * p + c] += mj * dkt[j * p + c];
                if (dv) dv[base + j * p + c] += mj * dvt[j * p + c];
            }
        }
    }
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *informer_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                    lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const informer_state *st = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    lra_arena *A = ctx->arena;
    informer_saved *sv = lra_arena_calloc(A, sizeof *sv);
    sv->st = st;
    sv->B = B, sv->H = H, sv->n = n, sv->p = p;
    sv->scale = 1.0f / sqrtf((float)p);
    sv->mask = lra_f32(mask);
    int64_t u;
    if (st->masked) {
        u = st->F < n ? st->F : n;
    } else {
        const double ln = log((double)n);
        const int64_t c = (int64_t)ceil((double)st->F / ln);
        u = c * (int64_t)ceil(ln);
        if (u > n) u = n;
    }
    if (u < 1) u = 1;
    sv->u = u;
    const size_t np = (size_t)(B * H * n * p);
    if (st->masked) {
        float *qm = lra_arena_alloc(A, np * sizeof(float)), *km = lra_arena_alloc(A, np * sizeof(float)),
              *vm = lra_arena_alloc(A, np * sizeof(float));
        for (size_t e = 0; e < np; e++) {
            const float mm = sv->mask[(e / (size_t)(n * p)) / (size_t)H * (size_t)n + (e / (size_t)p) % (size_t)n];
            qm[e] = mm * lra_f32(q)[e];
            km[e] = mm * lra_f32(k)[e];
            vm[e] = mm * lra_f32(v)[e];
        }
        sv->q = qm, sv->k = km, sv->v = vm;
    } else {
        sv->q = lra_f32(q), sv->k = lra_f32(k), sv->v = lra_f32(v);
    }
    // Key samples: uniforms [n, U] shared by all examples and heads.
    float *unif = lra_arena_alloc(A, (size_t)(n * u) * sizeof(float));
    const lra_key key = lra_attn_draw_key(call, LRA_KEY_INFORMER_KEYS, 0, 0);
    lra_rng_fill_uniform(key.seed, key.stream, 0, unif, (size_t)(n * u));
    sv->top = lra_arena_alloc(A, (size_t)(B * H * u) * sizeof(int32_t));
    sv->selected = lra_arena_calloc(A, (size_t)(B * H * n));
    sv->otop = lra_arena_alloc(A, (size_t)(B * H * u * p) * sizeof(float));
    sv->lse = lra_arena_alloc(A, (size_t)(B * H * u) * sizeof(float));
    lra_tensor *out = lra_tensor_new(A, LRA_F32, q->shape, 4);
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)(u * n + 2 * u * p + 2 * n + 2 * p + n * 3 + 64) / 16 * 16;
    float *scratch = lra_arena_alloc(A, (size_t)nt * per * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *P = scratch + (size_t)omp_get_thread_num() * per, *QT = P + u * n;
        double *mean = (double *)(P + (u * n + 2 * u * p + 1) / 2 * 2);
        scored *M = (scored *)(mean + p);
        int32_t *valid = (int32_t *)(M + n);
        const int64_t b = bh / H;
        const float *m = sv->mask + b * n;
        const int64_t nb = lra_attn_valid_positions(m, n, valid);
        if (nb == 0) valid[0] = 0;  // no real token (never in LRA): sample position 0
        const int64_t range = st->masked ? (nb ? nb : 1) : n;
        const size_t base = (size_t)bh * (size_t)(n * p);
        const float *qb = sv->q + base, *kb = sv->k + base, *vb = sv->v + base;
        // Sparsity measure from the sampled keys (informer_masked: the floor(u n_b)-th real position,
        // which is floor(u n_b) itself for the prefix masks of LRA).
        // the head sizes of LRA's models as constants, so the dot products unroll fully
        if (p == 32) sparsity_measure(qb, kb, unif, st->masked ? valid : NULL, range, n, 32, u, M);
        else if (p == 64) sparsity_measure(qb, kb, unif, st->masked ? valid : NULL, range, n, 64, u, M);
        else sparsity_measure(qb, kb, unif, st->masked ? valid : NULL, range, n, p, u, M);
        int64_t cand = n;
        if (st->masked && !st->pad_eligible) {  // real queries only
            cand = 0;
            for (int64_t i = 0; i < n; i++)
                if (m[i] != 0.0f) M[cand++] = M[i];
        }
        qsort(M, (size_t)cand, sizeof *M, scored_desc);
        const int64_t r = u < cand ? u : cand;
        int32_t *top = sv->top + bh * u;
        uint8_t *sel = sv->selected + bh * n;
        for (int64_t t = 0; t < u; t++) top[t] = t < r ? M[t].i : -1;
        for (int64_t t = 0; t < r; t++) {
            sel[top[t]] = 1;
            memcpy(QT + t * p, qb + top[t] * p, (size_t)p * sizeof(float));
        }
        float *otop = sv->otop + (size_t)bh * (size_t)(u * p);
        lra_attn_rows_softmax(QT, r, kb, vb, st->masked ? m : NULL, n, p, sv->scale, P, otop, sv->lse + bh * u);
        for (int64_t c = 0; c < p; c++) mean[c] = 0.0;
        for (int64_t j = 0; j < n; j++)
            for (int64_t c = 0; c < p; c++) mean[c] += vb[j * p + c];
        const double div = st->masked ? (double)(nb ? nb : 1) : (double)n;
        float *o = lra_f32(out) + base;
        for (int64_t i = 0; i < n; i++)
            if (!sel[i])
                for (int64_t c = 0; c < p; c++) o[i * p + c] = (float)(mean[c] / div);
        for (int64_t t = 0; t < r; t++) memcpy(o + top[t] * p, otop + t * p, (size_t)p * sizeof(float));
    }
    lra_node *nd = lra_tape_record(ctx, st->masked ? "attention.informer_masked" : "attention.informer",
                                   informer_backward, out, 3, (lra_tensor *[]){q, k, v});
    if (nd) nd->extra = sv;
    return out;
}

const lra_attn_kernel_def lra_attn_informer = {
    .name = "informer",
    .summary = "Informer ProbSparse (as run in the Skeinformer paper: ignores the padding mask)",
    .options = k_opts_informer,
    .n_options = 1,
    .create = create_plain,
    .forward = informer_forward,
    .destroy = informer_destroy,
    // Attends to padded keys by design (§2.5, §3).  The top-u selection is discontinuous in q and k: a
    // smaller finite-difference step keeps it fixed.  F beyond n keeps every row: exact without padding.
    .conformance = {.small_opts = "in_nb_features=8", .exact_opts = "in_nb_features=100000",
                    .exact_full_mask_only = 1, .approx_lo = 4, .approx_hi = 48, .pad_exempt = 1, .grad_eps = 1e-3},
};

const lra_attn_kernel_def lra_attn_informer_masked = {
    .name = "informer_masked",
    .summary = "Informer ProbSparse with the padding mask (paper row 'Informer w/ padding mask')",
    .options = k_opts_masked,
    .n_options = 2,
    .create = create_masked,
    .forward = informer_forward,
    .destroy = informer_destroy,
    .conformance = {.small_opts = "in_nb_features=6", .exact_opts = "in_nb_features=N", .exact_full_mask_only = 1,
                    .approx_lo = 4, .approx_hi = 56, .grad_eps = 1e-3},
};
