// Row-blocked exact attention (see attn_flash.h).
#include "attention/attn_flash.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/gemm.h"
#include "core/rng.h"
#include "core/status.h"

typedef struct {
    lra_flash_opts o;
    int64_t example_offset;
} flash_saved;

// Keys a row can attend to: with a prefix (right-padded) mask only keys [0, kv) can be valid, so the
// kernel never touches the padded tail.  kv = 1 + the last valid key.  *masked = whether some key in
// [0, kv) is padding, i.e. the scores need masking at all (0 for no mask, for a prefix mask, and for an
// all-padding example, which attends to every key uniformly, as the references do).
static int64_t key_extent(const float *mask_row, int64_t nk, int *masked) {
    *masked = 0;
    if (!mask_row) return nk;
    int64_t kv = 0, valid = 0;
    for (int64_t j = 0; j < nk; j++)
        if (mask_row[j] != 0.0f) kv = j + 1, valid++;
    *masked = kv > 0 && valid < kv;
    return kv > 0 ? kv : nk;
}

// xt[c * n + j] = x[j * w + c]: one head's keys (or values) [n, w] as [w, n], once per (example, head),
// so that every block's Q K^T (and dO V^T) reads B's rows in place instead of transposing the keys into
// panels again for each block of query rows (15 % of Q K^T's time at n 2000).
static void transpose_head(const float *x, int64_t n, int64_t w, float *xt) {
    for (int64_t j0 = 0; j0 < n; j0 += 64) {
        const int64_t j1 = j0 + 64 < n ? j0 + 64 : n;
        for (int64_t c = 0; c < w; c++)
            for (int64_t j = j0; j < j1; j++) xt[c * n + j] = x[j * w + c];
    }
}

// Probabilities of rb query rows of one (example, head) over keys [0, kv): P = softmax(S) with masked
// keys at 0.  kt: the head's keys transposed, [p, nk].  s: [rb, kv] scratch (row stride kv), filled with
// P.  lse_out: when non-NULL receives the log-sum-exp per row (forward); when lse_in is given the rows
// are normalised with it instead (backward).
static void block_probs(const float *q, const float *kt, int64_t nk, const float *mask_row, int masked, int64_t kv,
                        int64_t p, int64_t rb, float scale, float *s, float *lse_out, const float *lse_in) {
    lra_gemm(false, false, (int)rb, (int)kv, (int)p, scale, q, (int)p, kt, (int)nk, 0.0f, s, (int)kv);
    for (int64_t r = 0; r < rb; r++) {
        float *row = s + r * kv;
        if (masked) {
#pragma omp simd
            for (int64_t j = 0; j < kv; j++) row[j] = mask_row[j] != 0.0f ? row[j] : -INFINITY;
        }
        if (lse_in)
            lra_softmax_row_from_lse(row, kv, lse_in[r]);
        else
            lse_out[r] = lra_softmax_row(row, kv);
    }
}

// The keep mask (one byte per element, lra_rng_fill_keep) of rows [r0, r0+rb) of slice global_bh, keys
// [0, kv) of each: keep [rb, kv].  Element (i, j) of the slice is element (global_bh nq + i) nk + j of the
// stream, so the mask does not depend on blocks or threads.  One call when the rows are whole (kv = nk).
static void draw_keep(const flash_saved *sv, int64_t global_bh, int64_t r0, int64_t rb, int64_t nq, int64_t nk,
                      int64_t kv, uint8_t *keep) {
    const uint64_t first = ((uint64_t)global_bh * (uint64_t)nq + (uint64_t)r0) * (uint64_t)nk;
    if (kv == nk) {
        lra_rng_fill_keep(sv->o.seed, sv->o.stream, first, keep, (size_t)(rb * kv), sv->o.p_drop);
        return;
    }
    for (int64_t r = 0; r < rb; r++)
        lra_rng_fill_keep(sv->o.seed, sv->o.stream, first + (uint64_t)(r * nk), keep + r * kv, (size_t)kv,
                          sv->o.p_drop);
}

// s[e] *= keep[e] / (1 - p) over rb kv elements (the dropout ops' expression, so the same bits).
static void apply_keep(const flash_saved *sv, float *s, const uint8_t *keep, int64_t count) {
    const float scale = 1.0f / (1.0f - sv->o.p_drop);
    for (int64_t e = 0; e < count; e++) s[e] *= scale * (float)keep[e];
}

static void flash_backward(lra_ctx *ctx, lra_node *node) {
    const flash_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const lra_tensor *out = node->saved[0], *lse = node->saved[1];
    const int64_t B = q->shape[0], H = q->shape[1], nq = q->shape[2], p = q->shape[3];
    const int64_t nk = k->shape[2], pv = v->shape[3];
    const int64_t rbmax = sv->o.block_rows < nq ? sv->o.block_rows : nq;
    float *dq = q->requires_grad ? lra_grad(ctx, q) : NULL;
    float *dk = k->requires_grad ? lra_grad(ctx, k) : NULL;
    float *dv = v->requires_grad ? lra_grad(ctx, v) : NULL;
    const float *dO = node->out->grad;
    const int nt = omp_get_max_threads();
    const size_t keep_floats = (size_t)((rbmax * nk + 3) / 4);  // the block's keep mask, one byte per element
    const size_t per = (size_t)(3 * rbmax * nk + rbmax + (p + pv) * nk) + keep_floats;
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * per * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *P = scratch + (size_t)omp_get_thread_num() * per;
        float *Pd = P + rbmax * nk, *dP = Pd + rbmax * nk, *Drow = dP + rbmax * nk;
        float *kt = Drow + rbmax, *vt = kt + p * nk;  // K^T [p, nk], V^T [pv, nk]
        uint8_t *keep = (uint8_t *)(vt + pv * nk);
        const int64_t b = bh / H, h = bh % H;
        const float *mrow = sv->o.key_mask ? sv->o.key_mask + b * nk : NULL;
        int masked;
        const int64_t kv = key_extent(mrow, nk, &masked);
        const float *qh = lra_f32(q) + (size_t)bh * (size_t)(nq * p), *kh = lra_f32(k) + (size_t)bh * (size_t)(nk * p);
        const float *vh = lra_f32(v) + (size_t)bh * (size_t)(nk * pv);
        const float *oh = lra_f32(out) + (size_t)bh * (size_t)(nq * pv), *dOh = dO + (size_t)bh * (size_t)(nq * pv);
        const int64_t global_bh = (sv->example_offset + b) * H + h;
        transpose_head(kh, nk, p, kt);
        if (dq || dk) transpose_head(vh, nk, pv, vt);
        for (int64_t r0 = 0; r0 < nq; r0 += rbmax) {
            const int64_t rb = r0 + rbmax <= nq ? rbmax : nq - r0;
            const float *qb = qh + r0 * p, *dOb = dOh + r0 * pv;
            block_probs(qb, kt, nk, mrow, masked, kv, p, rb, sv->o.scale, P, NULL, lra_f32(lse) + bh * nq + r0);
            const float *Pused = P;
            if (sv->o.p_drop > 0.0f) {
                memcpy(Pd, P, (size_t)(rb * kv) * sizeof(float));
                draw_keep(sv, global_bh, r0, rb, nq, nk, kv, keep);  // once for Pd and dP
                apply_keep(sv, Pd, keep, rb * kv);
                Pused = Pd;
            }
            // dV += Pd^T dO (keys beyond kv have zero probability)
            if (dv)
                lra_gemm(true, false, (int)kv, (int)pv, (int)rb, 1.0f, Pused, (int)kv, dOb, (int)pv, 1.0f,
                         dv + (size_t)bh * (size_t)(nk * pv), (int)pv);
            if (!dq && !dk) continue;
            // dPd = dO V^T, then through the dropout mask
            lra_gemm(false, false, (int)rb, (int)kv, (int)pv, 1.0f, dOb, (int)pv, vt, (int)nk, 0.0f, dP, (int)kv);
            if (sv->o.p_drop > 0.0f) apply_keep(sv, dP, keep, rb * kv);
            // D_i = dO_i . O_i  (= sum_j dPd_ij Pd_ij)
            for (int64_t r = 0; r < rb; r++) {
                Drow[r] = (float)lra_dot_double(dOb + r * pv, oh + (r0 + r) * pv, pv);
            }
            // dS = P (dP - D), stored in dP
            for (int64_t r = 0; r < rb; r++)
                for (int64_t j = 0; j < kv; j++) dP[r * kv + j] = P[r * kv + j] * (dP[r * kv + j] - Drow[r]);
            // dQ = scale dS K ; dK += scale dS^T Q
            if (dq)
                lra_gemm(false, false, (int)rb, (int)p, (int)kv, sv->o.scale, dP, (int)kv, kh, (int)p, 1.0f,
                         dq + (size_t)bh * (size_t)(nq * p) + r0 * p, (int)p);
            if (dk)
                lra_gemm(true, false, (int)kv, (int)p, (int)rb, sv->o.scale, dP, (int)kv, qb, (int)p, 1.0f,
                         dk + (size_t)bh * (size_t)(nk * p), (int)p);
        }
    }
}

lra_tensor *lra_attn_flash(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, const lra_flash_opts *o) {
    LRA_ASSERT_MSG(q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && lra_tensor_is_contiguous(q) &&
                       lra_tensor_is_contiguous(k) && lra_tensor_is_contiguous(v),
                   "lra_attn_flash: q, k, v must be contiguous [B, H, n, p]");
    const int64_t B = q->shape[0], H = q->shape[1], nq = q->shape[2], p = q->shape[3];
    const int64_t nk = k->shape[2], pv = v->shape[3];
    LRA_ASSERT_MSG(k->shape[0] == B && v->shape[0] == B && k->shape[1] == H && v->shape[1] == H &&
                       k->shape[3] == p && v->shape[2] == nk,
                   "lra_attn_flash: shapes of q, k, v disagree");
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, nq, pv));
    lra_tensor *lse = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, nq));
    flash_saved *sv = lra_arena_alloc(ctx->arena, sizeof *sv);
    sv->o = *o;
    if (sv->o.block_rows < 1) sv->o.block_rows = 64;
    sv->example_offset = ctx->example_offset;
    const int64_t rbmax = sv->o.block_rows < nq ? sv->o.block_rows : nq;
    const int64_t nblocks = (nq + rbmax - 1) / rbmax;
    const int nt = omp_get_max_threads();
    // Per thread: scores [rbmax, nk], the head's keys transposed [p, nk], then the keep mask.
    const size_t per = (size_t)(rbmax * nk + p * nk) + (size_t)((rbmax * nk + 3) / 4);
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * per * sizeof(float));
#pragma omp parallel
    {
        float *S = scratch + (size_t)omp_get_thread_num() * per, *kt = S + rbmax * nk;
        uint8_t *keep = (uint8_t *)(kt + p * nk);
        int64_t kt_of = -1;  // the (example, head) whose keys kt holds: a thread's blocks come in head order
#pragma omp for schedule(static)
        for (int64_t task = 0; task < B * H * nblocks; task++) {
            const int64_t bh = task / nblocks, r0 = (task % nblocks) * rbmax;
            const int64_t rb = r0 + rbmax <= nq ? rbmax : nq - r0;
            const int64_t b = bh / H, h = bh % H;
            const float *mrow = sv->o.key_mask ? sv->o.key_mask + b * nk : NULL;
            int masked;
            const int64_t kv = key_extent(mrow, nk, &masked);
            if (kt_of != bh) {
                transpose_head(lra_f32(k) + (size_t)bh * (size_t)(nk * p), nk, p, kt);
                kt_of = bh;
            }
            block_probs(lra_f32(q) + (size_t)bh * (size_t)(nq * p) + r0 * p, kt, nk, mrow, masked, kv, p, rb,
                        sv->o.scale, S, lra_f32(lse) + bh * nq + r0, NULL);
            if (sv->o.p_drop > 0.0f) {
                draw_keep(sv, (sv->example_offset + b) * H + h, r0, rb, nq, nk, kv, keep);
                apply_keep(sv, S, keep, rb * kv);
            }
            lra_gemm(false, false, (int)rb, (int)pv, (int)kv, 1.0f, S, (int)kv,
                     lra_f32(v) + (size_t)bh * (size_t)(nk * pv), (int)pv, 0.0f,
                     lra_f32(out) + (size_t)bh * (size_t)(nq * pv) + r0 * pv, (int)pv);
        }
    }
    lra_node *nd = lra_tape_record(ctx, o->op_name ? o->op_name : "attention.flash", flash_backward, out, 3,
                                   (lra_tensor *[]){q, k, v});
    if (nd) {
        nd->saved[0] = out;
        nd->saved[1] = lse;
        nd->n_saved = 2;
        nd->extra = sv;
    }
    return out;
}
