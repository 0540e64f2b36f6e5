// `yoso_e` and `yoso` (attention.md §2.19-§2.21; see yoso.h).
//
// Both kernels run  q^ = q/|q|, k^ = k/|k| (lra_op_l2_normalize)  ->  Y = core(q^, k^, V)  ->  O = Y/|Y|
// (lra_op_l2_normalize)  [-> O += depthwise conv of m*V when conv_window > 0 (YOSO-C)].  The core is one
// composite tape node with a hand-written backward:
//   yoso_e: Y = E V with E_ij = (1 - arccos(q^_i.k^_j)/pi)^tau m_i m_j, computed in row blocks (memory
//           threads x block_rows x n), recomputed in backward.  Backward (v1): W = (dY V^T) .* E,
//           dq^ = (tau/2) W k^, dk^ = (tau/2) W^T q^, dV = E^T dY; exact_grad uses dE/dx instead of (tau/2) E.
//   yoso:   per (example, head), m tau-bit SimHash codes of every valid q^_i and k^_j (fast hash: three
//           rounds of random sign flips and an unnormalised Walsh-Hadamard transform; or Gaussian
//           projections), fresh at every call.  For each code f the values of the valid keys are summed
//           into a 2^tau-bucket table and each valid query reads its bucket: Y_i = (1/m) sum_f T_f[code_f(q_i)].
//           Backward `lsh` (the paper's): dV by the same table trick with dY, and dq^, dk^ with eps_ij = c_ij/m
//           by bucket (pairwise inside small buckets, p x p outer-product sums inside large ones), so the cost
//           is O(n m p^2) at most; `exact` uses the O(n^2) expectation formulas of yoso_e; `v2` the YOSO-v2
//           backward: the true derivative at x = 0.99 q^.k^ summed once over every key colliding in >= 1 code.
// Head dims below 32 are zero-padded to 32 for hashing (the reference pads Q, K, V and crops the output;
// padding V and cropping change nothing, so only the hash sees the padding).  The hash width is the next
// power of two >= max(p, 32).
#include "core/gemm.h"
#include "attention/yoso.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attn_util.h"
#include "core/fastmath.h"
#include "core/ops.h"
#include "core/rng.h"

#define YOSO_PI 3.14159265358979323846
// Below this many elements of q a loop over (example, head) slices stays on one thread.
#define YOSO_PAR_MIN 16384
// Floor of 1 - x^2 in the exact derivative (caps 1/sqrt(1-x^2) at 1000 where q^.k^ rounds to +-1).
#define YOSO_DERIV_FLOOR 1e-6f

enum { BWD_LSH = 0, BWD_EXACT = 1, BWD_V2 = 2 };

static const lra_attn_option k_yoso_e_options[] = {
    {"hash_code_len", LRA_OPT_INT, 12, 1, 16, NULL,
     "tau, exponent of the collision probability (LRA yoso: 11 ListOps, 12 Text/Retrieval, 10 Image/Pathfinder)", 0},
    {"exact_grad", LRA_OPT_BOOL, 0, 0, 1, NULL, "true derivative of E instead of the v1 (tau/2)E surrogate", 0},
    {"acos_scale", LRA_OPT_FLOAT, 1.0, 0.5, 1.0, NULL, "x is scaled by this inside arccos (0.98 = YOSO v2's yoso_e)", 0},
    {"conv_window", LRA_OPT_INT, 0, 0, 1025, NULL, "depthwise conv of m*V along the sequence added to O (0 = off)", 0},
    {"block_rows", LRA_OPT_INT, 64, 1, 4096, NULL, "query rows per block (memory = threads x 2 x block_rows x n)", 0},
};

static const lra_attn_option k_yoso_options[] = {
    {"num_hash", LRA_OPT_INT, 32, 1, 1024, NULL, "m, number of hash functions (LRA yoso-v1-32: 32; yoso-v2-16: 16)",
     LRA_OPT_COUNT},
    {"hash_code_len", LRA_OPT_INT, 12, 1, 16, NULL,
     "tau, bits per code (LRA: 11 ListOps, 12 Text/Retrieval, 10 Image/Pathfinder)", 0},
    {"hash", LRA_OPT_ENUM, 0, 0, 0, "fast|gaussian",
     "fast = sign flips + Hadamard (reference); gaussian = exact SimHash", 0},
    {"backward", LRA_OPT_ENUM, 0, 0, 0, "lsh|exact|v2",
     "lsh = paper's LSH-accumulated backward; exact = O(n^2) expectation formulas; v2 = YOSO-v2 backward", 0},
    {"exact_grad", LRA_OPT_BOOL, 0, 0, 1, NULL, "with backward=exact: true derivative of E instead of (tau/2)E", 0},
    {"conv_window", LRA_OPT_INT, 0, 0, 1025, NULL, "depthwise conv of m*V along the sequence added to O (0 = off)", 0},
    {"block_rows", LRA_OPT_INT, 64, 1, 4096, NULL, "query rows per block of backward=exact", 0},
};

typedef struct {
    int sampled;          // 0 yoso_e, 1 yoso
    int tau, m, gaussian, backward, exact_grad, block_rows;
    float acos_scale;
    int conv_window, conv_index, heads;
} yoso_state;

// Hash geometry of one slice.
typedef struct {
    int tau, m, hp, per_part, parts, gaussian;
} hash_cfg;

typedef struct {
    int sampled, tau, m, backward, exact_grad, block_rows;
    float acos_scale;
    int64_t B, H, n, p;
    const float *mask;     // [B, n]
    uint16_t *qcode, *kcode;  // [B*H, m, n] (sampled only)
    hash_cfg hc;
} yoso_saved;

// ---------------------------------------------------------------------------------------------- helpers

// base^e for 0 <= e < 32 (hash_code_len <= 16) by binary powering written out: five branch-free steps,
// so loops over it vectorise (a loop of e multiplications would not).
static inline __attribute__((always_inline)) float pow_int(float base, int e) {
    const float b2 = base * base, b4 = b2 * b2, b8 = b4 * b4, b16 = b8 * b8;
    float r = e & 1 ? base : 1.0f;
    r = e & 2 ? r * b2 : r;
    r = e & 4 ? r * b4 : r;
    r = e & 8 ? r * b8 : r;
    return e & 16 ? r * b16 : r;
}

// (1 - arccos(a x)/pi)^tau with a x clamped to [-1, 1]; inlined and branch-free so row loops vectorise.
static inline __attribute__((always_inline)) float collision_prob(float x, float a, int tau) {
    float z = a * x;
    z = z > 1.0f ? 1.0f : (z < -1.0f ? -1.0f : z);
    return pow_int(1.0f - lra_acosf(z) / (float)YOSO_PI, tau);
}

float lra_yoso_collision_prob(float x, float a, int tau) { return collision_prob(x, a, tau); }

// d/dx (1 - arccos(a x)/pi)^tau, with 1 - (a x)^2 floored.
static inline __attribute__((always_inline)) float collision_deriv(float x, float a, int tau) {
    float z = a * x;
    z = z > 1.0f ? 1.0f : (z < -1.0f ? -1.0f : z);
    const float r = pow_int(1.0f - lra_acosf(z) / (float)YOSO_PI, tau - 1);
    float om = 1.0f - z * z;
    if (om < YOSO_DERIV_FLOOR) om = YOSO_DERIV_FLOOR;
    return (float)tau * r * a / ((float)YOSO_PI * sqrtf(om));
}

static hash_cfg hash_config(int tau, int m, int gaussian, int64_t p) {
    hash_cfg c = {.tau = tau, .m = m, .gaussian = gaussian};
    int hp = 32;
    while (hp < p) hp *= 2;
    c.hp = hp;
    LRA_ASSERT_MSG(tau <= hp, "yoso: hash_code_len %d exceeds the hash width %d", tau, hp);
    c.per_part = hp / tau;
    c.parts = (m + c.per_part - 1) / c.per_part;
    return c;
}

static int64_t hash_draw_count(const hash_cfg *c) {
    return c->gaussian ? (int64_t)c->hp * c->m * c->tau : 3LL * c->parts * c->hp;
}

// The random draws of slice (global example gb, head h): fast: signs [3][hp][parts] (+-1; part a's diagonal
// D_{round+1} is the column a); gaussian: R [hp][m*tau].
static void hash_draw(const hash_cfg *c, const lra_attn_call *call, int64_t gb, int64_t h, float *draws) {
    lra_rng r = lra_key_rng(lra_attn_draw_key(call, LRA_KEY_YOSO_HASH, (uint64_t)gb, (uint64_t)h));
    int64_t cnt = hash_draw_count(c);
    if (c->gaussian) {
        for (int64_t i = 0; i < cnt; i++) draws[i] = lra_rng_normal(&r);
    } else {
        uint32_t bits = 0;
        for (int64_t i = 0; i < cnt; i++) {
            if (i % 32 == 0) bits = lra_rng_u32(&r);
            draws[i] = (bits >> (i % 32)) & 1u ? 1.0f : -1.0f;
        }
    }
}

// Unnormalised Walsh-Hadamard transform (Sylvester order) of each of the P columns of w [hp][P] at once
// (the inner loop runs across the parts, so it vectorises).
static void wht_columns(float *w, int hp, int P) {
    for (int len = 1; len < hp; len <<= 1)
        for (int i = 0; i < hp; i += len << 1)
            for (int j = i; j < i + len; j++) {
                float *a = w + (int64_t)j * P, *b = w + (int64_t)(j + len) * P;
                for (int k = 0; k < P; k++) {
                    const float t = a[k];
                    a[k] = t + b[k];
                    b[k] = t - b[k];
                }
            }
}

// Codes of one vector x[p] into codes[f * stride] for f < m.  work: [hash_work_floats].
// Fast hash: part a computes y = H D3 H D2 H D1 x (x zero-padded to hp), all parts side by side.
static void hash_vector(const hash_cfg *c, const float *draws, const float *x, int64_t p, float *work,
                        uint16_t *codes, int64_t stride) {
    const int tau = c->tau, hp = c->hp;
    if (c->gaussian) {
        const int w = c->m * tau;
        for (int u = 0; u < w; u++) work[u] = 0.0f;
        for (int64_t d = 0; d < p; d++) {
            const float xd = x[d], *row = draws + d * w;
            for (int u = 0; u < w; u++) work[u] += xd * row[u];
        }
        for (int f = 0; f < c->m; f++) {
            unsigned code = 0;
            for (int t = 0; t < tau; t++) code |= (work[f * tau + t] > 0.0f ? 1u : 0u) << t;
            codes[f * stride] = (uint16_t)code;
        }
        return;
    }
    const int P = c->parts;
    const int64_t block = (int64_t)hp * P;
    for (int d = 0; d < hp; d++) {
        const float xd = d < p ? x[d] : 0.0f, *sg = draws + (int64_t)d * P;
        float *wr = work + (int64_t)d * P;
        for (int a = 0; a < P; a++) wr[a] = xd * sg[a];
    }
    wht_columns(work, hp, P);
    for (int round = 1; round < 3; round++) {
        const float *sg = draws + round * block;
        for (int64_t e = 0; e < block; e++) work[e] *= sg[e];
        wht_columns(work, hp, P);
    }
    for (int a = 0; a < P; a++)
        for (int j = 0; j < c->per_part; j++) {
            const int f = a * c->per_part + j;
            if (f >= c->m) break;
            unsigned code = 0;
            for (int t = 0; t < tau; t++) code |= (work[(int64_t)(j * tau + t) * P + a] > 0.0f ? 1u : 0u) << t;
            codes[f * stride] = (uint16_t)code;
        }
}

static int64_t hash_work_floats(const hash_cfg *c) {
    int64_t w = (int64_t)c->m * c->tau, f = (int64_t)c->hp * c->parts;
    return w > f ? w : f;
}

// Codes of every row of x [n, p] (valid rows only when mask is given) into codes [m, n].
static void hash_rows(const hash_cfg *c, const float *draws, const float *x, const float *mask, int64_t n, int64_t p,
                      float *work, uint16_t *codes) {
    for (int64_t i = 0; i < n; i++) {
        if (mask && mask[i] == 0.0f) continue;
        hash_vector(c, draws, x + i * p, p, work, codes + i, n);
    }
}

void lra_yoso_collisions(const lra_attn_values *opts, const lra_tensor *qn, const lra_tensor *kn, int64_t b,
                         int64_t h, int64_t example_offset, const lra_attn_call *call, int32_t *counts) {
    const int64_t H = qn->shape[1], n = qn->shape[2], p = qn->shape[3];
    hash_cfg c = hash_config((int)lra_attn_value(opts, "hash_code_len"), (int)lra_attn_value(opts, "num_hash"),
                             (int)lra_attn_value(opts, "hash"), p);
    float *draws = lra_xmalloc((size_t)hash_draw_count(&c) * sizeof(float));
    float *work = lra_xmalloc((size_t)hash_work_floats(&c) * sizeof(float));
    uint16_t *qc = lra_xmalloc((size_t)(c.m * n) * sizeof(uint16_t));
    uint16_t *kc = lra_xmalloc((size_t)(c.m * n) * sizeof(uint16_t));
    hash_draw(&c, call, example_offset + b, h, draws);
    const size_t base = (size_t)(b * H + h) * (size_t)(n * p);
    hash_rows(&c, draws, lra_f32(qn) + base, NULL, n, p, work, qc);
    hash_rows(&c, draws, lra_f32(kn) + base, NULL, n, p, work, kc);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            int32_t cnt = 0;
            for (int f = 0; f < c.m; f++) cnt += qc[f * n + i] == kc[f * n + j];
            counts[i * n + j] = cnt;
        }
    free(draws);
    free(work);
    free(qc);
    free(kc);
}

// Counting sort of the valid positions of one code row by code: bucket c holds order[start[c] .. start[c+1])
// in ascending position.  start: [nb + 1].
static void bucket_sort(const uint16_t *code, const float *mask, int64_t n, int nb, int32_t *start, int32_t *order) {
    memset(start, 0, (size_t)(nb + 1) * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++)
        if (mask[i] != 0.0f) start[code[i] + 1]++;
    for (int c = 0; c < nb; c++) start[c + 1] += start[c];
    for (int64_t i = 0; i < n; i++)
        if (mask[i] != 0.0f) order[start[code[i]]++] = (int32_t)i;
    // start[c] now points at the end of bucket c: shift back.
    for (int c = nb; c > 0; c--) start[c] = start[c - 1];
    start[0] = 0;
}

static float dot(const float *a, const float *b, int64_t p) {
    float s = 0.0f;
    for (int64_t d = 0; d < p; d++) s += a[d] * b[d];
    return s;
}

static void axpy(float a, const float *x, float *y, int64_t p) {
    for (int64_t d = 0; d < p; d++) y[d] += a * x[d];
}

// ---------------------------------------------------------------------------------------------- expectation

// E (and, when G is non-NULL, the backward weight factor G: (tau/2) E, or dE/dx with exact) for rows
// [r0, r0+rb) of one slice.  S: [rb, n] scores in, E out (in place).
static void expect_block(const yoso_saved *sv, const float *mrow, int64_t r0, int64_t rb, float *S, float *G) {
    const int64_t n = sv->n;
    const float a = sv->acos_scale;
    const int tau = sv->tau;
    for (int64_t r = 0; r < rb; r++) {
        const float mi = mrow[r0 + r];
        float *srow = S + r * n, *grow = G ? G + r * n : NULL;
        if (mi == 0.0f) {  // a padded query: a zero row
            memset(srow, 0, (size_t)n * sizeof(float));
            if (grow) memset(grow, 0, (size_t)n * sizeof(float));
            continue;
        }
        // Branch-free over keys (padded keys get weight 0), so the loops vectorise.
        if (grow && sv->exact_grad) {
            for (int64_t j = 0; j < n; j++) {
                const float w = mi * mrow[j], x = srow[j];
                grow[j] = collision_deriv(x, a, tau) * w;
                srow[j] = collision_prob(x, a, tau) * w;
            }
        } else if (grow) {
            for (int64_t j = 0; j < n; j++) {
                const float e = collision_prob(srow[j], a, tau) * (mi * mrow[j]);
                grow[j] = 0.5f * (float)tau * e;
                srow[j] = e;
            }
        } else {
            for (int64_t j = 0; j < n; j++) srow[j] = collision_prob(srow[j], a, tau) * (mi * mrow[j]);
        }
    }
}

static void expect_forward_slice(const yoso_saved *sv, const float *q, const float *k, const float *v, const float *mrow,
                                 float *out, float *S) {
    const int64_t n = sv->n, p = sv->p, rbmax = sv->block_rows < n ? sv->block_rows : n;
    for (int64_t r0 = 0; r0 < n; r0 += rbmax) {
        const int64_t rb = r0 + rbmax <= n ? rbmax : n - r0;
        lra_gemm(false, true, (int)rb, (int)n, (int)p, 1.0f, q + r0 * p, (int)p, k,
                    (int)p, 0.0f, S, (int)n);
        expect_block(sv, mrow, r0, rb, S, NULL);
        lra_gemm(false, false, (int)rb, (int)p, (int)n, 1.0f, S, (int)n, v, (int)p, 0.0f,
                    out + r0 * p, (int)p);
    }
}

// Adds the expectation-form gradients of one slice.  S, W: scratch [block_rows, n] each.
static void expect_backward_slice(const yoso_saved *sv, const float *q, const float *k, const float *v,
                                  const float *mrow, const float *dY, float *dq, float *dk, float *dv, float *S,
                                  float *W) {
    const int64_t n = sv->n, p = sv->p, rbmax = sv->block_rows < n ? sv->block_rows : n;
    float *G = W + rbmax * n;
    for (int64_t r0 = 0; r0 < n; r0 += rbmax) {
        const int64_t rb = r0 + rbmax <= n ? rbmax : n - r0;
        lra_gemm(false, true, (int)rb, (int)n, (int)p, 1.0f, q + r0 * p, (int)p, k,
                    (int)p, 0.0f, S, (int)n);
        expect_block(sv, mrow, r0, rb, S, G);
        if (dv)
            lra_gemm(true, false, (int)n, (int)p, (int)rb, 1.0f, S, (int)n, dY + r0 * p,
                        (int)p, 1.0f, dv, (int)p);
        if (!dq && !dk) continue;
        // W = (dY V^T) .* G
        lra_gemm(false, true, (int)rb, (int)n, (int)p, 1.0f, dY + r0 * p, (int)p, v,
                    (int)p, 0.0f, W, (int)n);
        for (int64_t t = 0; t < rb * n; t++) W[t] *= G[t];
        if (dq)
            lra_gemm(false, false, (int)rb, (int)p, (int)n, 1.0f, W, (int)n, k, (int)p,
                        1.0f, dq + r0 * p, (int)p);
        if (dk)
            lra_gemm(true, false, (int)n, (int)p, (int)rb, 1.0f, W, (int)n, q + r0 * p,
                        (int)p, 1.0f, dk, (int)p);
    }
}

// ---------------------------------------------------------------------------------------------- sampled

// Y (and dV with the roles swapped) by tables: out_i += (1/m) sum_f T_f[code_f(read_i)], T_f[c] = sum of
// src_j over valid j with code_f(write_j) = c.  table: [2^tau, p] zeroed, left zeroed.
static void table_cumulate(const yoso_saved *sv, const uint16_t *wcode, const uint16_t *rcode, const float *src,
                           const float *mrow, float *out, float *table) {
    const int64_t n = sv->n, p = sv->p;
    const float inv_m = 1.0f / (float)sv->m;
    for (int f = 0; f < sv->m; f++) {
        const uint16_t *wc = wcode + (int64_t)f * n, *rc = rcode + (int64_t)f * n;
        for (int64_t j = 0; j < n; j++)
            if (mrow[j] != 0.0f) axpy(1.0f, src + j * p, table + (int64_t)wc[j] * p, p);
        for (int64_t i = 0; i < n; i++)
            if (mrow[i] != 0.0f) axpy(inv_m, table + (int64_t)rc[i] * p, out + i * p, p);
        for (int64_t j = 0; j < n; j++)
            if (mrow[j] != 0.0f) memset(table + (int64_t)wc[j] * p, 0, (size_t)p * sizeof(float));
    }
}

// Scratch floats (as 4-byte words) one thread needs for the sampled backward.
static int64_t lsh_backward_words(const yoso_saved *sv) {
    const int64_t n = sv->n, p = sv->p, nb = 1LL << sv->tau;
    int64_t w = nb * p + 2 * (nb + 1) + 2 * n + 2 * p * p;  // lsh / dv
    int64_t w2 = nb * p + (int64_t)sv->m * (nb + 1 + n) + n;  // v2 (+ dv table)
    return w > w2 ? w : w2;
}

// The paper's backward of one slice: dq^_i = (tau/2)/m sum_f sum_{j in bucket} (dY_i.v_j) k^_j, dk^ likewise.
static void lsh_qk_backward(const yoso_saved *sv, const uint16_t *qcode, const uint16_t *kcode, const float *q,
                            const float *k, const float *v, const float *mrow, const float *dY, float *dq, float *dk,
                            int32_t *ws) {
    const int64_t n = sv->n, p = sv->p;
    const int nb = 1 << sv->tau;
    const float scale = 0.5f * (float)sv->tau / (float)sv->m;
    int32_t *ks = ws, *qs = ks + nb + 1, *ko = qs + nb + 1, *qo = ko + n;
    float *M = (float *)(qo + n), *N = M + p * p;
    for (int f = 0; f < sv->m; f++) {
        bucket_sort(kcode + (int64_t)f * n, mrow, n, nb, ks, ko);
        bucket_sort(qcode + (int64_t)f * n, mrow, n, nb, qs, qo);
        for (int c = 0; c < nb; c++) {
            const int64_t nq = qs[c + 1] - qs[c], nk = ks[c + 1] - ks[c];
            if (!nq || !nk) continue;
            const int32_t *qi = qo + qs[c], *kj = ko + ks[c];
            if (nq * nk * 2 <= (nq + nk) * p) {
                for (int64_t a = 0; a < nq; a++) {
                    const int64_t i = qi[a];
                    for (int64_t b = 0; b < nk; b++) {
                        const int64_t j = kj[b];
                        const float s = scale * dot(dY + i * p, v + j * p, p);
                        if (dq) axpy(s, k + j * p, dq + i * p, p);
                        if (dk) axpy(s, q + i * p, dk + j * p, p);
                    }
                }
                continue;
            }
            // M = sum_j k^_j v_j^T, N = sum_i q^_i dY_i^T; dq^_i += scale M dY_i, dk^_j += scale N v_j.
            if (dq) {
                memset(M, 0, (size_t)(p * p) * sizeof(float));
                for (int64_t b = 0; b < nk; b++) {
                    const int64_t j = kj[b];
                    for (int64_t r = 0; r < p; r++) axpy(k[j * p + r], v + j * p, M + r * p, p);
                }
                for (int64_t a = 0; a < nq; a++) {
                    const int64_t i = qi[a];
                    for (int64_t r = 0; r < p; r++) dq[i * p + r] += scale * dot(M + r * p, dY + i * p, p);
                }
            }
            if (dk) {
                memset(N, 0, (size_t)(p * p) * sizeof(float));
                for (int64_t a = 0; a < nq; a++) {
                    const int64_t i = qi[a];
                    for (int64_t r = 0; r < p; r++) axpy(q[i * p + r], dY + i * p, N + r * p, p);
                }
                for (int64_t b = 0; b < nk; b++) {
                    const int64_t j = kj[b];
                    for (int64_t r = 0; r < p; r++) dk[j * p + r] += scale * dot(N + r * p, v + j * p, p);
                }
            }
        }
    }
}

// YOSO-v2 backward of one slice: over the distinct keys j colliding with query i in at least one code,
// g = tau (1 - arccos x/pi)^(tau-1) / (pi sqrt(1 - x^2)) at x = 0.99 q^_i.k^_j; dq^_i += (dY_i.v_j) g k^_j and
// dk^_j += (dY_i.v_j) g q^_i.
static void v2_qk_backward(const yoso_saved *sv, const uint16_t *qcode, const uint16_t *kcode, const float *q,
                           const float *k, const float *v, const float *mrow, const float *dY, float *dq, float *dk,
                           int32_t *ws) {
    const int64_t n = sv->n, p = sv->p;
    const int nb = 1 << sv->tau, m = sv->m, tau = sv->tau;
    int32_t *starts = ws, *orders = starts + (int64_t)m * (nb + 1), *stamp = orders + (int64_t)m * n;
    for (int f = 0; f < m; f++)
        bucket_sort(kcode + (int64_t)f * n, mrow, n, nb, starts + (int64_t)f * (nb + 1), orders + (int64_t)f * n);
    for (int64_t j = 0; j < n; j++) stamp[j] = -1;
    for (int64_t i = 0; i < n; i++) {
        if (mrow[i] == 0.0f) continue;
        for (int f = 0; f < m; f++) {
            const int32_t *st = starts + (int64_t)f * (nb + 1), *ord = orders + (int64_t)f * n;
            const int c = qcode[(int64_t)f * n + i];
            for (int32_t t = st[c]; t < st[c + 1]; t++) {
                const int64_t j = ord[t];
                if (stamp[j] == (int32_t)i) continue;
                stamp[j] = (int32_t)i;
                const float x = 0.99f * dot(q + i * p, k + j * p, p);
                float base = 1.0f - lra_acosf(x) / (float)YOSO_PI, pw = 1.0f;
                for (int u = 0; u < tau - 1; u++) pw *= base;
                const float g = (float)tau * pw / ((float)YOSO_PI * sqrtf(1.0f - x * x));
                const float s = g * dot(dY + i * p, v + j * p, p);
                if (dq) axpy(s, k + j * p, dq + i * p, p);
                if (dk) axpy(s, q + i * p, dk + j * p, p);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------- node

static void yoso_core_backward(lra_ctx *ctx, lra_node *node) {
    const yoso_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const int64_t B = sv->B, H = sv->H, n = sv->n, p = sv->p;
    float *dq = q->requires_grad ? lra_grad(ctx, q) : NULL;
    float *dk = k->requires_grad ? lra_grad(ctx, k) : NULL;
    float *dv = v->requires_grad ? lra_grad(ctx, v) : NULL;
    const float *dY = node->out->grad;
    const int expect = !sv->sampled || sv->backward == BWD_EXACT;
    const int64_t rbmax = sv->block_rows < n ? sv->block_rows : n;
    const int64_t words = expect ? 3 * rbmax * n : lsh_backward_words(sv);
    const int nt = omp_get_max_threads();
    int32_t *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)words * sizeof(int32_t));
    if (!expect) memset(scratch, 0, (size_t)nt * (size_t)words * sizeof(int32_t));  // tables start zeroed
// Always a parallel loop, even for tiny slices: the expectation kernel's products must not open their own
// region inside one that was not taken (see tests/omp_nesting.c).
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < B * H; bh++) {
        int32_t *ws = scratch + (size_t)omp_get_thread_num() * (size_t)words;
        const size_t base = (size_t)bh * (size_t)(n * p);
        const float *mrow = sv->mask + (bh / H) * n;
        const float *qs = lra_f32(q) + base, *ks = lra_f32(k) + base, *vs = lra_f32(v) + base, *dYs = dY + base;
        float *dqs = dq ? dq + base : NULL, *dks = dk ? dk + base : NULL, *dvs = dv ? dv + base : NULL;
        if (expect) {
            float *S = (float *)ws;
            expect_backward_slice(sv, qs, ks, vs, mrow, dYs, dqs, dks, dvs, S, S + rbmax * n);
            continue;
        }
        const uint16_t *qc = sv->qcode + (size_t)bh * (size_t)(sv->m * n), *kc = sv->kcode + (size_t)bh * (size_t)(sv->m * n);
        float *table = (float *)ws;
        const int64_t nb = 1LL << sv->tau;
        // dV_j = (1/m) sum_f Tq_f[code_f(k_j)] with Tq_f[c] = sum of dY_i over valid queries in bucket c.
        if (dvs) table_cumulate(sv, qc, kc, dYs, mrow, dvs, table);
        if (!dqs && !dks) continue;
        int32_t *rest = ws + nb * p;
        if (sv->backward == BWD_V2) v2_qk_backward(sv, qc, kc, qs, ks, vs, mrow, dYs, dqs, dks, rest);
        else lsh_qk_backward(sv, qc, kc, qs, ks, vs, mrow, dYs, dqs, dks, rest);
    }
}

// q, k (unit rows), v: contiguous [B, H, n, p] -> Y [B, H, n, p] (before output normalisation)
static lra_tensor *yoso_core(const yoso_state *st, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                             lra_tensor *mask, const lra_attn_call *call) {
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    LRA_ASSERT_MSG(mask->shape[0] == B && mask->shape[1] == n, "yoso: mask shape does not match q");
    yoso_saved *sv = lra_arena_alloc(ctx->arena, sizeof *sv);
    memset(sv, 0, sizeof *sv);
    sv->sampled = st->sampled;
    sv->tau = st->tau;
    sv->m = st->m;
    sv->backward = st->backward;
    sv->exact_grad = st->exact_grad;
    sv->block_rows = st->block_rows;
    sv->acos_scale = st->acos_scale;
    sv->B = B, sv->H = H, sv->n = n, sv->p = p;
    sv->mask = lra_f32(mask);
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, q->shape, 4);
    const int nt = omp_get_max_threads();
    if (!st->sampled) {
        const int64_t rbmax = st->block_rows < n ? st->block_rows : n;
        float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)(rbmax * n) * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)  // always taken: its products must not nest (see backward)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const size_t base = (size_t)bh * (size_t)(n * p);
            expect_forward_slice(sv, lra_f32(q) + base, lra_f32(k) + base, lra_f32(v) + base, sv->mask + (bh / H) * n,
                                 lra_f32(out) + base, scratch + (size_t)omp_get_thread_num() * (size_t)(rbmax * n));
        }
    } else {
        sv->hc = hash_config(st->tau, st->m, st->gaussian, p);
        const hash_cfg *hc = &sv->hc;
        const size_t ncodes = (size_t)(B * H) * (size_t)(st->m * n);
        sv->qcode = lra_arena_alloc(ctx->arena, ncodes * sizeof(uint16_t));
        sv->kcode = lra_arena_alloc(ctx->arena, ncodes * sizeof(uint16_t));
        memset(sv->qcode, 0, ncodes * sizeof(uint16_t));
        memset(sv->kcode, 0, ncodes * sizeof(uint16_t));
        const int64_t nb = 1LL << st->tau;
        const int64_t words = nb * p + hash_draw_count(hc) + hash_work_floats(hc);
        float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)words * sizeof(float));
        memset(scratch, 0, (size_t)nt * (size_t)words * sizeof(float));
        memset(lra_f32(out), 0, (size_t)lra_tensor_numel(out) * sizeof(float));
        const int64_t ex0 = ctx->example_offset;
#pragma omp parallel for schedule(dynamic, 1) if (B * H * n * p >= YOSO_PAR_MIN)
        for (int64_t bh = 0; bh < B * H; bh++) {
            float *table = scratch + (size_t)omp_get_thread_num() * (size_t)words;
            float *draws = table + nb * p, *work = draws + hash_draw_count(hc);
            const int64_t b = bh / H, h = bh % H;
            const size_t base = (size_t)bh * (size_t)(n * p);
            const float *mrow = sv->mask + b * n;
            uint16_t *qc = sv->qcode + (size_t)bh * (size_t)(st->m * n), *kc = sv->kcode + (size_t)bh * (size_t)(st->m * n);
            hash_draw(hc, call, ex0 + b, h, draws);
            hash_rows(hc, draws, lra_f32(q) + base, mrow, n, p, work, qc);
            hash_rows(hc, draws, lra_f32(k) + base, mrow, n, p, work, kc);
            table_cumulate(sv, kc, qc, lra_f32(v) + base, mrow, lra_f32(out) + base, table);
        }
    }
    lra_node *nd = lra_tape_record(ctx, st->sampled ? "attention.yoso" : "attention.yoso_e", yoso_core_backward, out,
                                   3, (lra_tensor *[]){q, k, v});
    if (nd) nd->extra = sv;
    return out;
}

// ---------------------------------------------------------------------------------------------- depthwise conv

typedef struct {
    int64_t B, H, n, p, win;
} conv_saved;

// out[b,h,i,:] = sum_t w[h,t] x[b,h,i+t-win/2,:] (zero padding)
static void conv_backward(lra_ctx *ctx, lra_node *node) {
    const conv_saved *cs = node->extra;
    lra_tensor *x = node->in[0], *w = node->in[1];
    const int64_t B = cs->B, H = cs->H, n = cs->n, p = cs->p, win = cs->win, half = win / 2;
    const float *dout = node->out->grad, *xd = lra_f32(x), *wd = lra_f32(w);
    if (x->requires_grad) {
        float *dx = lra_grad(ctx, x);
#pragma omp parallel for schedule(static) if (B * H * n * p >= YOSO_PAR_MIN)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t h = bh % H;
            const size_t base = (size_t)bh * (size_t)(n * p);
            for (int64_t i = 0; i < n; i++)
                for (int64_t t = 0; t < win; t++) {
                    const int64_t s = i + t - half;
                    if (s >= 0 && s < n) axpy(wd[h * win + t], dout + base + i * p, dx + base + s * p, p);
                }
        }
    }
    if (w->requires_grad) {
        float *dw = lra_grad(ctx, w);
#pragma omp parallel for schedule(static) if (B * H * n * p >= YOSO_PAR_MIN)
        for (int64_t ht = 0; ht < H * win; ht++) {
            const int64_t h = ht / win, t = ht % win;
            double acc = 0.0;
            for (int64_t b = 0; b < B; b++) {
                const size_t base = (size_t)(b * H + h) * (size_t)(n * p);
                for (int64_t i = 0; i < n; i++) {
                    const int64_t s = i + t - half;
                    if (s >= 0 && s < n) acc += dot(dout + base + i * p, xd + base + s * p, p);
                }
            }
            dw[ht] += (float)acc;
        }
    }
}

// x: [B, H, n, p] contiguous, w: [H, win] -> [B, H, n, p]
static lra_tensor *depthwise_conv(lra_ctx *ctx, lra_tensor *x, lra_tensor *w) {
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], win = w->shape[1], half = win / 2;
    lra_tensor *out = lra_tensor_zeros(ctx->arena, LRA_F32, x->shape, 4);
    const float *xd = lra_f32(x), *wd = lra_f32(w);
#pragma omp parallel for schedule(static) if (B * H * n * p >= YOSO_PAR_MIN)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t h = bh % H;
        const size_t base = (size_t)bh * (size_t)(n * p);
        for (int64_t i = 0; i < n; i++)
            for (int64_t t = 0; t < win; t++) {
                const int64_t s = i + t - half;
                if (s >= 0 && s < n) axpy(wd[h * win + t], xd + base + s * p, lra_f32(out) + base + i * p, p);
            }
    }
    lra_node *nd = lra_tape_record(ctx, "attention.yoso_conv", conv_backward, out, 2, (lra_tensor *[]){x, w});
    if (nd) {
        conv_saved *cs = lra_node_alloc(ctx, sizeof *cs);
        *cs = (conv_saved){B, H, n, p, win};
        nd->extra = cs;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------- kernels

static void *yoso_create_common(const lra_attn_setup *setup, lra_params *params, int sampled) {
    yoso_state *s = lra_xcalloc(1, sizeof *s);
    s->sampled = sampled;
    s->tau = (int)lra_attn_value(setup->opts, "hash_code_len");
    s->exact_grad = lra_attn_value(setup->opts, "exact_grad") != 0;
    s->block_rows = (int)lra_attn_value(setup->opts, "block_rows");
    s->conv_window = (int)lra_attn_value(setup->opts, "conv_window");
    s->heads = setup->n_heads;
    s->acos_scale = 1.0f;
    if (sampled) {
        s->m = (int)lra_attn_value(setup->opts, "num_hash");
        s->gaussian = (int)lra_attn_value(setup->opts, "hash");
        s->backward = (int)lra_attn_value(setup->opts, "backward");
        int hp = 32;
        while (hp < setup->head_dim) hp *= 2;
        LRA_ASSERT_MSG(s->tau <= hp, "yoso: hash_code_len %d exceeds the hash width %d", s->tau, hp);
    } else {
        s->acos_scale = (float)lra_attn_value(setup->opts, "acos_scale");
    }
    s->conv_index = -1;
    if (s->conv_window > 0) {
        char name[LRA_PARAM_NAME_MAX];
        snprintf(name, sizeof name, "%sconv.weight", setup->prefix ? setup->prefix : "");
        s->conv_index = lra_params_add(params, name, LRA_DIMS(setup->n_heads, s->conv_window), LRA_INIT_UNIFORM,
                                       1.0f / sqrtf((float)s->conv_window));
    }
    return s;
}

static void *yoso_e_create(const lra_attn_setup *setup, lra_params *params) {
    return yoso_create_common(setup, params, 0);
}

static void *yoso_create(const lra_attn_setup *setup, lra_params *params) {
    return yoso_create_common(setup, params, 1);
}

static void yoso_destroy(void *state) { free(state); }

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *yoso_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const yoso_state *st = state;
    // In eval the reference skips this normalisation for `yoso`; it does not change the codes, so it always runs.
    lra_tensor *qn = lra_op_contiguous(ctx, lra_op_l2_normalize(ctx, q, 1e-12f));
    lra_tensor *kn = lra_op_contiguous(ctx, lra_op_l2_normalize(ctx, k, 1e-12f));
    lra_tensor *y = yoso_core(st, ctx, qn, kn, v, mask, call);
    lra_tensor *o = lra_op_l2_normalize(ctx, y, 1e-12f);
    if (st->conv_index >= 0) {
        lra_tensor *vm = lra_op_mul(ctx, v, lra_attn_mask_rows(ctx, mask));
        o = lra_op_add(ctx, o, depthwise_conv(ctx, vm, lra_params_tensor(params, st->conv_index)));
    }
    return o;
}

const lra_attn_kernel_def lra_attn_yoso_e = {
    .name = "yoso_e",
    .summary = "YOSO expectation: (1-arccos(q.k)/pi)^tau on unit q, k, L2-normalised output rows; O(n^2)",
    .options = k_yoso_e_options,
    .n_options = sizeof k_yoso_e_options / sizeof k_yoso_e_options[0],
    .create = yoso_e_create,
    .forward = yoso_forward,
    .destroy = yoso_destroy,
    // The default backward is the v1 (tau/2)E surrogate (§2.19): the suite checks the true derivative.
    .conformance = {.small_opts = "exact_grad=true"},
};

const lra_attn_kernel_def lra_attn_yoso = {
    .name = "yoso",
    .summary = "YOSO: m tau-bit SimHash tables (fresh every call), LSH-accumulated backward; O(n m)",
    .options = k_yoso_options,
    .n_options = sizeof k_yoso_options / sizeof k_yoso_options[0],
    .create = yoso_create,
    .forward = yoso_forward,
    .destroy = yoso_destroy,
    // The output is piecewise constant in q and k (hash codes); the backward is the expectation's.
    .conformance = {.grad_exempt = 1},
};
