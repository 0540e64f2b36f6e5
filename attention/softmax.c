// `softmax`: exact attention O = dropout(softmax(Q K^T / sqrt(p) + key mask)) V  (attention.md §2.1).
// Memory grows linearly in n: rows are processed in blocks of `block_rows` against all keys, only the
// per-row log-sum-exp is kept, and backward recomputes the probabilities block by block.  The dropout
// mask of element (example, head, i, j) comes from Philox at a fixed counter, so forward and backward
// regenerate the same mask without storing it, and the mask does not depend on batch splitting.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/fastmath.h"
#include "core/gemm.h"
#include "core/ops.h"
#include "core/keys.h"
#include "core/rng.h"

static const lra_attn_option k_options[] = {
    {"dropout", LRA_OPT_FLOAT, 0.1, 0.0, 0.99, NULL, "attention dropout on the probabilities (0 = paper's 'w/o dropout')", 0},
    {"block_rows", LRA_OPT_INT, 64, 1, 4096, NULL, "query rows per block (memory = threads x block_rows x n floats)", 0},
};

typedef struct {
    float dropout;
    int block_rows;
} softmax_state;

typedef struct {
    float scale, p_drop;
    int block_rows;
    uint64_t seed, stream;
    int64_t example_offset;
    const float *mask;  // [B, n]
} softmax_saved;

static void *softmax_create(const lra_attn_setup *setup, lra_params *params) {
    softmax_state *s = lra_xcalloc(1, sizeof *s);
    s->dropout = (float)lra_attn_value(setup->opts, "dropout");
    s->block_rows = (int)lra_attn_value(setup->opts, "block_rows");
    return s;
}

static void softmax_destroy(void *state) { free(state); }

// Keys a row can attend to: with a prefix (right-padded) mask only keys [0, kv) can be valid, so the
// kernel never touches the padded tail.  kv = 1 + the last valid key; *any = whether a key is valid
// (an all-padding example attends to every key uniformly, as the references do).
static int64_t key_extent(const float *mask_row, int64_t n, int *any) {
    int64_t kv = 0;
    for (int64_t j = 0; j < n; j++)
        if (mask_row[j] != 0.0f) kv = j + 1;
    *any = kv > 0;
    return kv > 0 ? kv : n;
}

// Probabilities of rows [r0, r0+rb) of one (example, head) over keys [0, kv): P = softmax(S) with
// masked keys at 0.  s: [rb, kv] scratch (row stride kv), filled with P.  lse_out: when non-NULL receives
// log-sum-exp per row (forward); when lse_in is given the rows are normalised with it instead
// (backward recomputation).
static void block_probs(const float *q, const float *k, const float *mask_row, int any_valid, int64_t kv, int64_t p,
                        int64_t rb, float scale, float *s, float *lse_out, const float *lse_in) {
    lra_gemm(false, true, (int)rb, (int)kv, (int)p, scale, q, (int)p, k, (int)p, 0.0f,
                s, (int)kv);
    for (int64_t r = 0; r < rb; r++) {
        float *row = s + r * kv;
        if (any_valid) {
#pragma omp simd
            for (int64_t j = 0; j < kv; j++) row[j] = mask_row[j] != 0.0f ? row[j] : -INFINITY;
        }
        if (lse_in)
            lra_softmax_row_from_lse(row, kv, lse_in[r]);
        else
            lse_out[r] = lra_softmax_row(row, kv);
    }
}

// Multiplies rows of P ([rb, kv], row stride kv) by the dropout mask of rows [r0, r0+rb) of slice bh.
// The mask of element (i, j) is word (bh*n + i)*n + j of the stream, whatever kv is.
static void apply_dropout(const softmax_saved *sv, int64_t global_bh, int64_t r0, int64_t rb, int64_t n, int64_t kv,
                          float *s, float *mask_scratch) {
    for (int64_t r = 0; r < rb; r++) {
        uint64_t off = ((uint64_t)global_bh * (uint64_t)n + (uint64_t)(r0 + r)) * (uint64_t)n;
        lra_rng_fill_dropout(sv->seed, sv->stream, off, mask_scratch, (size_t)kv, sv->p_drop);
        float *row = s + r * kv;
        for (int64_t j = 0; j < kv; j++) row[j] *= mask_scratch[j];
    }
}

static void softmax_backward(lra_ctx *ctx, lra_node *node) {
    const softmax_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const lra_tensor *out = node->saved[0], *lse = node->saved[1];
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    const int64_t rbmax = sv->block_rows < n ? sv->block_rows : n;
    float *dq = lra_grad(ctx, q), *dk = lra_grad(ctx, k), *dv = lra_grad(ctx, v);
    const float *dO = node->out->grad;
    const int nt = omp_get_max_threads();
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)(3 * rbmax * n + n + rbmax) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *P = scratch + (size_t)omp_get_thread_num() * (size_t)(3 * rbmax * n + n + rbmax);
        float *Pd = P + rbmax * n, *dP = Pd + rbmax * n, *mscr = dP + rbmax * n, *Drow = mscr + n;
        const int64_t b = bh / H, h = bh % H;
        const float *mrow = sv->mask + b * n;
        int any;
        const int64_t kv = key_extent(mrow, n, &any);
        const size_t base = (size_t)bh * (size_t)(n * p);
        const int64_t global_bh = (sv->example_offset + b) * H + h;
        for (int64_t r0 = 0; r0 < n; r0 += rbmax) {
            const int64_t rb = r0 + rbmax <= n ? rbmax : n - r0;
            const float *qb = lra_f32(q) + base + r0 * p;
            block_probs(qb, lra_f32(k) + base, mrow, any, kv, p, rb, sv->scale, P, NULL, lra_f32(lse) + bh * n + r0);
            const float *Pused = P;
            if (sv->p_drop > 0.0f) {
                memcpy(Pd, P, (size_t)(rb * kv) * sizeof(float));
                apply_dropout(sv, global_bh, r0, rb, n, kv, Pd, mscr);
                Pused = Pd;
            }
            const float *dOb = dO + base + r0 * p;
            // dV += Pd^T dO (keys beyond kv have zero probability)
            lra_gemm(true, false, (int)kv, (int)p, (int)rb, 1.0f, Pused, (int)kv, dOb,
                        (int)p, 1.0f, dv + base, (int)p);
            // dPd = dO V^T, then through the dropout mask
            lra_gemm(false, true, (int)rb, (int)kv, (int)p, 1.0f, dOb, (int)p,
                        lra_f32(v) + base, (int)p, 0.0f, dP, (int)kv);
            if (sv->p_drop > 0.0f) apply_dropout(sv, global_bh, r0, rb, n, kv, dP, mscr);
            // D_i = dO_i . O_i  (= sum_j dPd_ij P_ij)
            for (int64_t r = 0; r < rb; r++) {
                double acc = 0.0;
                const float *o = lra_f32(out) + base + (r0 + r) * p;
                for (int64_t c = 0; c < p; c++) acc += (double)dOb[r * p + c] * o[c];
                Drow[r] = (float)acc;
            }
            // dS = P (dP - D), stored in dP
            for (int64_t r = 0; r < rb; r++)
                for (int64_t j = 0; j < kv; j++) dP[r * kv + j] = P[r * kv + j] * (dP[r * kv + j] - Drow[r]);
            // dQ = scale dS K ; dK += scale dS^T Q
            lra_gemm(false, false, (int)rb, (int)p, (int)kv, sv->scale, dP, (int)kv,
                        lra_f32(k) + base, (int)p, 1.0f, dq + base + r0 * p, (int)p);
            lra_gemm(true, false, (int)kv, (int)p, (int)rb, sv->scale, dP, (int)kv, qb,
                        (int)p, 1.0f, dk + base, (int)p);
        }
    }
}

// q, k, v: [B, H, n, p], mask [B, n] (contiguous) -> [B, H, n, p]
static lra_tensor *softmax_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                   lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const softmax_state *st = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, q->shape, 4);
    lra_tensor *lse = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, n));
    softmax_saved *sv = lra_arena_alloc(ctx->arena, sizeof *sv);
    sv->scale = 1.0f / sqrtf((float)p);
    sv->p_drop = call->training ? st->dropout : 0.0f;
    sv->block_rows = st->block_rows;
    sv->seed = call->seed;
    sv->stream = lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_DROPOUT_ATTN_PROBS, .step = call->step,
                                                .layer = call->layer, .tower = call->tower})
                     .stream;
    sv->example_offset = ctx->example_offset;
    sv->mask = lra_f32(mask);
    const int64_t rbmax = st->block_rows < n ? st->block_rows : n;
    const int64_t nblocks = (n + rbmax - 1) / rbmax;
    const int nt = omp_get_max_threads();
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)(rbmax * n + n) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t task = 0; task < B * H * nblocks; task++) {
        float *S = scratch + (size_t)omp_get_thread_num() * (size_t)(rbmax * n + n);
        float *mscr = S + rbmax * n;
        const int64_t bh = task / nblocks, r0 = (task % nblocks) * rbmax;
        const int64_t rb = r0 + rbmax <= n ? rbmax : n - r0;
        const int64_t b = bh / H, h = bh % H;
        const float *mrow = sv->mask + b * n;
        int any;
        const int64_t kv = key_extent(mrow, n, &any);
        const size_t base = (size_t)bh * (size_t)(n * p);
        block_probs(lra_f32(q) + base + r0 * p, lra_f32(k) + base, mrow, any, kv, p, rb, sv->scale, S,
                    lra_f32(lse) + bh * n + r0, NULL);
        if (sv->p_drop > 0.0f) apply_dropout(sv, (sv->example_offset + b) * H + h, r0, rb, n, kv, S, mscr);
        lra_gemm(false, false, (int)rb, (int)p, (int)kv, 1.0f, S, (int)kv,
                    lra_f32(v) + base, (int)p, 0.0f, lra_f32(out) + base + r0 * p, (int)p);
    }
    lra_node *nd = lra_tape_record(ctx, "attention.softmax", softmax_backward, out, 3, (lra_tensor *[]){q, k, v});
    if (nd) {
        nd->saved[0] = out;
        nd->saved[1] = lse;
        nd->n_saved = 2;
        nd->extra = sv;
    }
    return out;
}

const lra_attn_kernel_def lra_attn_softmax = {
    .name = "softmax",
    .summary = "exact softmax attention with attention dropout; row blocks, O(n) memory",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = softmax_create,
    .forward = softmax_forward,
    .destroy = softmax_destroy,
    .conformance = {.exact_opts = "dropout=0"},
};
