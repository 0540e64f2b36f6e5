// `reformer`: LSH attention of Hugging Face's LSHSelfAttention (transformers 4.5, what the Skeinformer
// repo's attention_reformer.py wraps; attention.md §2.9), per (example, head), with u = q the shared
// query/key (k is unused):
//   1. hashing (constant): rotations R [p, n_hashes, NB/2] ~ N(0, 1) per head, fresh every call and shared
//      by the batch; bucket_r(i) = argmax [u_i R_r, -u_i R_r]; padded tokens get bucket NB;
//   2. stable sort of the n_hashes * n (round, position) items by (round, bucket), cut into chunks;
//   3. keys k^_i = u_i (mean(u_i^2) + 1e-6)^-1/2 / sqrt(p); each chunk's queries u attend to the keys of
//      their chunk and of the previous one (circular); padded keys are excluded, the token's own position
//      scores -1e5 (used only when nothing else is available);
//   4. per round: o^r_i, l^r_i = log-sum-exp of the scores; O_i = sum_r softmax_r(l^r_i) o^r_i.
// With n <= chunk_length there is one round of plain attention over all n keys (HF's
// do_standard_self_attention).  A last chunk may be shorter than chunk_length (HF requires
// n_hashes * n to be a multiple of it; the results are the same where it is).
// One composite node with a hand-written backward (the sort permutation is constant); memory per
// (example, head): n_hashes * n * (p + 2) floats.
#include "attention/reformer.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attn_util.h"
#include "core/fastmath.h"
#include "core/gemm.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"n_hashes", LRA_OPT_INT, 2, 1, 1024, NULL, "hash rounds (Skeinformer LRA setting 2)", LRA_OPT_COUNT},
    {"num_buckets", LRA_OPT_INT, 0, 0, 1 << 16, NULL,
     "buckets NB, even (0 = HF: largest power of two <= 2 n / chunk_length)", 0},
    {"chunk_length", LRA_OPT_INT, 64, 1, 1 << 20, NULL, "items per chunk (HF lsh_attn_chunk_length 64)", 0},
};

typedef struct {
    int64_t n_hashes, nb, chunk;
} reformer_state;

static int64_t auto_buckets(int64_t n, int64_t chunk) {
    int64_t nb = 2;
    while (nb * 2 <= 2 * (n / chunk)) nb *= 2;
    return nb;
}

static lra_status reformer_validate(const lra_attn_setup *setup) {
    const int64_t nb = (int64_t)lra_attn_value(setup->opts, "num_buckets");
    if (nb % 2)
        return lra_error(LRA_ERR_CONFIG,
                         "attention 'reformer' option 'num_buckets': expected an even number (rotations give NB/2 "
                         "directions and their negations) or 0, got %lld",
                         (long long)nb);
    return LRA_OK;
}

static void *reformer_create(const lra_attn_setup *setup, lra_params *params) {
    reformer_state *s = lra_xcalloc(1, sizeof *s);
    s->n_hashes = (int64_t)lra_attn_value(setup->opts, "n_hashes");
    s->chunk = (int64_t)lra_attn_value(setup->opts, "chunk_length");
    s->nb = (int64_t)lra_attn_value(setup->opts, "num_buckets");
    if (s->nb == 0) s->nb = auto_buckets(setup->seq_len, s->chunk);  // HF sets it from the first call's n
    return s;
}

static void reformer_destroy(void *state) { free(state); }

typedef struct {
    int64_t B, H, n, p, rounds, C, nchunks, L;
    const float *mask;  // [B, n]
    int32_t *idx;       // [B, H, L] flattened item (round * n + position) at each sorted place
    float *osort;       // [B, H, L, p] per-round outputs in sorted order
    float *lse;         // [B, H, L] their log-sum-exps
    float *out;         // [B, H, n, p]
} reformer_saved;

// Length-normalised keys of one slice: kh = u * r / sqrt(p), r = (mean(u^2) + 1e-6)^-1/2 (rn receives r).
static void norm_keys(const float *u, int64_t n, int64_t p, float *kh, float *rn) {
    const float isp = 1.0f / sqrtf((float)p);
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t c = 0; c < p; c++) ss += (double)u[i * p + c] * u[i * p + c];
        const float r = (float)(1.0 / sqrt(ss / (double)p + 1e-6));
        rn[i] = r;
        for (int64_t c = 0; c < p; c++) kh[i * p + c] = u[i * p + c] * r * isp;
    }
}

// Items of chunk c: [lo, hi) in sorted order; the window is the previous chunk (if there are several)
// followed by the chunk itself.  Fills wpos with the window's positions and returns its length.
static int64_t window(const reformer_saved *sv, const int32_t *idx, int64_t c, int64_t *lo, int64_t *hi,
                      int32_t *wpos) {
    const int64_t C = sv->C, L = sv->L, n = sv->n;
    int64_t w = 0;
    if (sv->nchunks > 1) {
        const int64_t pc = (c + sv->nchunks - 1) % sv->nchunks;
        const int64_t plo = pc * C, phi = plo + C < L ? plo + C : L;
        for (int64_t a = plo; a < phi; a++) wpos[w++] = idx[a] % (int32_t)n;
    }
    *lo = c * C;
    *hi = *lo + C < L ? *lo + C : L;
    for (int64_t a = *lo; a < *hi; a++) wpos[w++] = idx[a] % (int32_t)n;
    return w;
}

// Scores of a chunk's queries qc [rc, p] against the window keys kw [w, p]: padded keys -inf, the
// query's own position -1e5 (after the padding, as HF).
static void chunk_scores(const float *qc, const float *kw, const int32_t *wpos, const int32_t *qpos, int64_t rc,
                         int64_t w, int64_t p, const float *mrow, float *S) {
    lra_gemm_direct(false, true, rc, w, p, 1.0f, qc, p, kw, p, 0.0f, S, w);
    // padded keys first (rare: a column at a time), then each query's own position (overriding the mask)
    for (int64_t j = 0; j < w; j++)
        if (mrow[wpos[j]] == 0.0f)
            for (int64_t r = 0; r < rc; r++) S[r * w + j] = -INFINITY;
    for (int64_t r = 0; r < rc; r++) {
        const int32_t self = qpos[r];
        float *Sr = S + r * w;
        for (int64_t j = 0; j < w; j++) Sr[j] = wpos[j] == self ? -1e5f : Sr[j];
    }
}

// Sort of one slice's items by (round, bucket); idx receives the flattened items in sorted order.
static void hash_sort(const reformer_saved *sv, const reformer_state *st, const float *u, const float *mrow,
                      const float *rot_h, float *Y, int32_t *cnt, int32_t *idx) {
    const int64_t n = sv->n, p = sv->p, R = sv->rounds;
    if (R == 1 && sv->nchunks == 1 && sv->C == n) {  // plain attention (n <= chunk_length): identity order
        for (int64_t i = 0; i < n; i++) idx[i] = (int32_t)i;
        return;
    }
    const int64_t half = st->nb / 2, cols = R * half, nkeys = R * (st->nb + 1);
    lra_gemm_direct(false, false, n, cols, p, 1.0f, u, p, rot_h, cols, 0.0f, Y, cols);
    int32_t *code = idx;  // codes first, in place of the result (rewritten below from cnt)
    int32_t *tmp = cnt + nkeys + 1;
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < n; i++) {
            int64_t b = st->nb;
            if (mrow[i] != 0.0f) {
                const float *y = Y + i * cols + r * half;
                float best = y[0];
                b = 0;
                for (int64_t j = 1; j < half; j++)
                    if (y[j] > best) best = y[j], b = j;
                for (int64_t j = 0; j < half; j++)
                    if (-y[j] > best) best = -y[j], b = half + j;
            }
            code[r * n + i] = (int32_t)(r * (st->nb + 1) + b);
        }
    // Stable counting sort: ties keep the flattened (round-major) order, as a stable argsort.
    memset(cnt, 0, (size_t)(nkeys + 1) * sizeof(int32_t));
    for (int64_t t = 0; t < R * n; t++) cnt[code[t] + 1]++;
    for (int64_t k = 0; k < nkeys; k++) cnt[k + 1] += cnt[k];
    for (int64_t t = 0; t < R * n; t++) tmp[cnt[code[t]]++] = (int32_t)t;
    memcpy(idx, tmp, (size_t)(R * n) * sizeof(int32_t));
}

static void reformer_backward(lra_ctx *ctx, lra_node *node) {
    const reformer_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *v = node->in[1];
    const int64_t B = sv->B, H = sv->H, n = sv->n, p = sv->p, C = sv->C, L = sv->L, R = sv->rounds;
    float *dq = q->requires_grad ? lra_grad(ctx, q) : NULL;
    float *dv = v->requires_grad ? lra_grad(ctx, v) : NULL;
    const float *dO = node->out->grad;
    const int nt = omp_get_max_threads();
    const size_t perf = (size_t)((3 * n * p + n + L * p + L + 2 * C * 2 * C + C * p + 3 * 2 * C * p + 15) / 16 * 16);
    const size_t peri = (size_t)((L + 2 * C + C + 15) / 16 * 16);
    float *fs = lra_arena_alloc(ctx->arena, (size_t)nt * perf * sizeof(float));
    int32_t *is = lra_arena_alloc(ctx->arena, (size_t)nt * peri * sizeof(int32_t));
    const float isp = 1.0f / sqrtf((float)p);
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *kh = fs + (size_t)omp_get_thread_num() * perf, *dkh = kh + n * p, *dqs = dkh + n * p, *rn = dqs + n * p,
              *dos = rn + n, *dl = dos + L * p, *P = dl + L, *dS = P + 2 * C * C, *qc = dS + 2 * C * C,
              *kw = qc + C * p, *vw = kw + 2 * C * p, *dw = vw + 2 * C * p;
        int32_t *undo = is + (size_t)omp_get_thread_num() * peri, *wpos = undo + L, *qpos = wpos + 2 * C;
        const float *mrow = sv->mask + (bh / H) * n;
        const size_t base = (size_t)bh * (size_t)(n * p);
        const float *u = lra_f32(q) + base, *vv = lra_f32(v) + base, *G = dO + base, *O = sv->out + base;
        const int32_t *idx = sv->idx + bh * L;
        const float *os = sv->osort + (size_t)bh * (size_t)(L * p), *ls = sv->lse + bh * L;
        float *dqb = dq ? dq + base : dqs;
        norm_keys(u, n, p, kh, rn);
        memset(dkh, 0, (size_t)(n * p) * sizeof(float));
        if (!dq) memset(dqs, 0, (size_t)(n * p) * sizeof(float));
        for (int64_t a = 0; a < L; a++) undo[idx[a]] = (int32_t)a;
        // Round combination: d o_a = w_r dO_i, d l_a = w_r (dO_i . o_a - dO_i . O_i).
        for (int64_t i = 0; i < n; i++) {
            float mx = -INFINITY;
            for (int64_t r = 0; r < R; r++) mx = fmaxf(mx, ls[undo[r * n + i]]);
            double den = 0.0;
            for (int64_t r = 0; r < R; r++) den += exp((double)ls[undo[r * n + i]] - mx);
            const double gO = lra_dot_double(G + i * p, O + i * p, p);
            for (int64_t r = 0; r < R; r++) {
                const int64_t a = undo[r * n + i];
                const float w = (float)(exp((double)ls[a] - mx) / den);
                double go = 0.0;
                for (int64_t c = 0; c < p; c++) {
                    dos[a * p + c] = w * G[i * p + c];
                    go += (double)G[i * p + c] * os[a * p + c];
                }
                dl[a] = w * (float)(go - gO);
            }
        }
        for (int64_t c = 0; c < sv->nchunks; c++) {
            int64_t lo, hi;
            const int64_t w = window(sv, idx, c, &lo, &hi, wpos), rc = hi - lo;
            for (int64_t r = 0; r < rc; r++) {
                qpos[r] = idx[lo + r] % (int32_t)n;
                memcpy(qc + r * p, u + qpos[r] * p, (size_t)p * sizeof(float));
            }
            for (int64_t j = 0; j < w; j++) {
                memcpy(kw + j * p, kh + wpos[j] * p, (size_t)p * sizeof(float));
                memcpy(vw + j * p, vv + wpos[j] * p, (size_t)p * sizeof(float));
            }
            chunk_scores(qc, kw, wpos, qpos, rc, w, p, mrow, P);
            for (int64_t r = 0; r < rc; r++) lra_softmax_row_from_lse(P + r * w, w, ls[lo + r]);
            const float *dOc = dos + lo * p;
            // dP = dO_c V_w^T; dS = P (dP - D + dl) with D_a = do_a . o_a; the self score is a constant.
            lra_gemm_direct(false, true, rc, w, p, 1.0f, dOc, p, vw, p, 0.0f, dS, w);
            for (int64_t r = 0; r < rc; r++) {
                const float sh = dl[lo + r] - (float)lra_dot_double(dOc + r * p, os + (lo + r) * p, p);
                for (int64_t j = 0; j < w; j++)
                    dS[r * w + j] = wpos[j] == qpos[r] ? 0.0f : P[r * w + j] * (dS[r * w + j] + sh);
            }
            if (dv) {  // dV_w = P^T dO_c
                lra_gemm_direct(true, false, w, p, rc, 1.0f, P, w, dOc, p, 0.0f, dw, p);
                for (int64_t j = 0; j < w; j++)
                    for (int64_t e = 0; e < p; e++) dv[base + wpos[j] * p + e] += dw[j * p + e];
            }
            if (dq) {  // du_c = dS K_w, dk^_w = dS^T u_c
                lra_gemm_direct(false, false, rc, p, w, 1.0f, dS, w, kw, p, 0.0f, dw, p);
                for (int64_t r = 0; r < rc; r++)
                    for (int64_t e = 0; e < p; e++) dqb[qpos[r] * p + e] += dw[r * p + e];
                lra_gemm_direct(true, false, w, p, rc, 1.0f, dS, w, qc, p, 0.0f, dw, p);
                for (int64_t j = 0; j < w; j++)
                    for (int64_t e = 0; e < p; e++) dkh[wpos[j] * p + e] += dw[j * p + e];
            }
        }
        if (dq)  // through k^ = u r / sqrt(p): du = r/sqrt(p) (g - r^2 u (g.u) / p)
            for (int64_t i = 0; i < n; i++) {
                double gu = 0.0;
                for (int64_t e = 0; e < p; e++) gu += (double)dkh[i * p + e] * u[i * p + e];
                const float r = rn[i], f = r * r * (float)gu / (float)p;
                for (int64_t e = 0; e < p; e++) dqb[i * p + e] += r * isp * (dkh[i * p + e] - f * u[i * p + e]);
            }
    }
}

// u (= q), v: [B, H, n, p], mask [B, n], rot [H, p, n_hashes, NB/2] -> [B, H, n, p]
static lra_tensor *reformer_core(const reformer_state *st, lra_ctx *ctx, lra_tensor *q, lra_tensor *v,
                                 lra_tensor *mask, const float *rot) {
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    lra_arena *A = ctx->arena;
    reformer_saved *sv = lra_arena_calloc(A, sizeof *sv);
    sv->B = B, sv->H = H, sv->n = n, sv->p = p;
    const int plain = n <= st->chunk;
    sv->rounds = plain ? 1 : st->n_hashes;
    sv->C = plain ? n : st->chunk;
    sv->L = sv->rounds * n;
    sv->nchunks = (sv->L + sv->C - 1) / sv->C;
    sv->mask = lra_f32(mask);
    const int64_t L = sv->L, C = sv->C, R = sv->rounds, cols = R * st->nb / 2, nkeys = R * (st->nb + 1);
    sv->idx = lra_arena_alloc(A, (size_t)(B * H * L) * sizeof(int32_t));
    sv->osort = lra_arena_alloc(A, (size_t)(B * H * L * p) * sizeof(float));
    sv->lse = lra_arena_alloc(A, (size_t)(B * H * L) * sizeof(float));
    lra_tensor *out = lra_tensor_new(A, LRA_F32, q->shape, 4);
    sv->out = lra_f32(out);
    const int nt = omp_get_max_threads();
    const size_t perf = (size_t)((2 * n * p + (plain ? 0 : n * cols) + 2 * C * C + C * p + 2 * 2 * C * p + 15) / 16 * 16);
    const size_t peri = (size_t)((nkeys + 1 + L + L + 2 * C + C + 15) / 16 * 16);
    float *fs = lra_arena_alloc(A, (size_t)nt * perf * sizeof(float));
    int32_t *is = lra_arena_alloc(A, (size_t)nt * peri * sizeof(int32_t));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *kh = fs + (size_t)omp_get_thread_num() * perf, *rn = kh + n * p, *P = rn + n * p, *qc = P + 2 * C * C,
              *kw = qc + C * p, *vw = kw + 2 * C * p, *Y = vw + 2 * C * p;
        int32_t *cnt = is + (size_t)omp_get_thread_num() * peri, *undo = cnt + nkeys + 1 + L, *wpos = undo + L,
                *qpos = wpos + 2 * C;
        const float *mrow = sv->mask + (bh / H) * n;
        const size_t base = (size_t)bh * (size_t)(n * p);
        const float *u = lra_f32(q) + base, *vv = lra_f32(v) + base;
        int32_t *idx = sv->idx + bh * L;
        float *os = sv->osort + (size_t)bh * (size_t)(L * p), *ls = sv->lse + bh * L;
        norm_keys(u, n, p, kh, rn);
        hash_sort(sv, st, u, mrow, plain ? NULL : rot + (bh % H) * p * cols, Y, cnt, idx);
        for (int64_t c = 0; c < sv->nchunks; c++) {
            int64_t lo, hi;
            const int64_t w = window(sv, idx, c, &lo, &hi, wpos), rc = hi - lo;
            for (int64_t r = 0; r < rc; r++) {
                qpos[r] = idx[lo + r] % (int32_t)n;
                memcpy(qc + r * p, u + qpos[r] * p, (size_t)p * sizeof(float));
            }
            for (int64_t j = 0; j < w; j++) {
                memcpy(kw + j * p, kh + wpos[j] * p, (size_t)p * sizeof(float));
                memcpy(vw + j * p, vv + wpos[j] * p, (size_t)p * sizeof(float));
            }
            chunk_scores(qc, kw, wpos, qpos, rc, w, p, mrow, P);
            for (int64_t r = 0; r < rc; r++) ls[lo + r] = lra_softmax_row(P + r * w, w);
            lra_gemm_direct(false, false, rc, p, w, 1.0f, P, w, vw, p, 0.0f, os + lo * p, p);
        }
        // Rounds combined by their log-sum-exps.
        for (int64_t a = 0; a < L; a++) undo[idx[a]] = (int32_t)a;
        float *o = sv->out + base;
        for (int64_t i = 0; i < n; i++) {
            float mx = -INFINITY;
            for (int64_t r = 0; r < R; r++) mx = fmaxf(mx, ls[undo[r * n + i]]);
            double den = 0.0;
            for (int64_t r = 0; r < R; r++) den += exp((double)ls[undo[r * n + i]] - mx);
            for (int64_t c = 0; c < p; c++) o[i * p + c] = 0.0f;
            for (int64_t r = 0; r < R; r++) {
                const int64_t a = undo[r * n + i];
                const float w = (float)(exp((double)ls[a] - mx) / den);
                for (int64_t c = 0; c < p; c++) o[i * p + c] += w * os[a * p + c];
            }
        }
    }
    lra_node *nd = lra_tape_record(ctx, "attention.reformer", reformer_backward, out, 2, (lra_tensor *[]){q, v});
    if (nd) nd->extra = sv;
    return out;
}

// q (shared query/key), v: [B, H, n, p], mask [B, n] -> [B, H, n, p]; k is unused.
static lra_tensor *reformer_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                    lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const reformer_state *st = state;
    const int64_t H = q->shape[1], p = q->shape[3], per = p * st->n_hashes * (st->nb / 2);
    float *rot = lra_arena_alloc(ctx->arena, (size_t)(H * per) * sizeof(float));
    for (int64_t h = 0; h < H; h++) {  // drawn per head, shared by the examples (example 0)
        const lra_key key = lra_attn_draw_key(call, LRA_KEY_REFORMER_ROTATIONS, 0, (uint64_t)h);
        lra_rng_fill_normal(key.seed, key.stream, 0, rot + h * per, (size_t)per, 0.0f, 1.0f);
    }
    return reformer_core(st, ctx, q, v, mask, rot);
}

int64_t lra_reformer_num_buckets(const lra_attn_instance *in) { return ((const reformer_state *)in->state)->nb; }

lra_tensor *lra_reformer_forward_rot(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *q, lra_tensor *v,
                                     lra_tensor *mask, const float *rot) {
    return reformer_core(in->state, ctx, q, v, mask, rot);
}

const lra_attn_kernel_def lra_attn_reformer = {
    .name = "reformer",
    .summary = "Reformer LSH attention (HF LSHSelfAttention): shared QK, hashed and sorted chunks, rounds by logsumexp",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = reformer_validate,
    .create = reformer_create,
    .forward = reformer_forward,
    .destroy = reformer_destroy,
    // n 16-32 at the suite's sizes: chunks of 4 give 8-16 chunks and 8-16 buckets.
    .conformance = {.small_opts = "chunk_length=4", .grad_eps = 1e-3},
};
