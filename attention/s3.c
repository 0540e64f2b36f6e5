// `s3`: S3Attention = smoother + skeleton attention (attention.md §2.18; see s3.h).
//
// Smoother (pre_transform, on LN1(X) [B, n, D]), paper version (default, `smoother=paper`):
//   u = segment average of X over r groups of s = D/r features              [B, n, r]
//   Msm = irfft(rfft_t(u)[.., c mod r] * L[:, c])  (circular conv along n)    [B, n, D]
//   H = Dropout(ReLU(BN_pos(Conv1d_{2D->D, k=3, pad 1}([Msm, X]))))
// `smoother=code` (the repository): no segment average (r = D), kernel 1, ELU, L ~ Kaiming-uniform.  (The repo
// also computes and discards a second BN+ELU branch on Msm; it has no effect on the output and is left out.)
// BN_pos is a BatchNorm whose channels are the n sequence positions (statistics over batch and features).
// Its running statistics are fixed (non-trainable) entries of the parameter store, so checkpoints carry
// them; a training-mode forward updates them IN PLACE (momentum 0.1, unbiased variance), like PyTorch,
// including forwards without gradient (S3's reference validation runs in training mode).  Evaluation mode
// normalises with them.  The input length must equal the configured sequence length.
//
// Skeleton attention (forward): K <- m.K, V <- m.V (Q unmasked);
//   token branch  A1 = softmax(Q K[I_tok]^T / sqrt(p)) [n, s1], dropout, Y1 = A1 V[I_tok];
//   feature branch A2 = softmax_s2(Q^T K[:, I_feat] / sqrt(n)) [p, s2], dropout, Y2 = V[:, I_feat] A2^T;
//   Out = (LN_a(merge(Y1)) + LN_b(merge(Y2))) / 2, split back into heads.
// The index sets (first s1 of a random permutation of [0, n), first s2 of one of [0, p)) are drawn once at
// init from the run seed, shared by heads and examples, and stored as fixed entries of the parameter store
// (so a resumed run uses the same sets: §3(a) default).  `index_sets=per_call` redraws them at every call.
// Sampled padded tokens take part with score 0 and value 0 (reference, §3(b)); `token_mask=1` excludes them.
// The attention is a chain of differentiable ops (sgemm-backed matmuls, small [n, s] softmaxes) between two
// fused ops of this file: the masked selections of K and V, and the output (both branch products and the
// norms, computed row by row).  The smoother's ops
// (FFT filter, conv1d, BatchNorm with activation and dropout) are in attention/s3_smoother.c.
#include "attention/s3.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/fastmath.h"
#include "core/layer_norm_rows.h"
#include "core/ops.h"
#include "core/rng.h"

#define S3_BN_MOMENTUM 0.1f

enum { SMOOTHER_PAPER = 0, SMOOTHER_CODE = 1 };
enum { INDEX_FIXED = 0, INDEX_PER_CALL = 1 };

static const lra_attn_option k_options[] = {
    {"smoother", LRA_OPT_ENUM, 0, 0, 0, "paper|code",
     "paper: segment average r, conv k=3, ReLU, Kaiming-normal L; code: the repository's variant (r=D, k=1, ELU)", 0},
    {"r", LRA_OPT_INT, 8, 1, 4096, NULL, "segments of the smoother's feature average (paper 'fold'; divides D)", 0},
    {"s1", LRA_OPT_INT, 8, 1, 1 << 20, NULL, "sampled token positions (token branch; all tokens if >= n)", LRA_OPT_COUNT},
    {"s2", LRA_OPT_INT, 8, 1, 4096, NULL, "sampled head features (feature branch; all features if >= p)", 0},
    {"dropout", LRA_OPT_FLOAT, 0.1, 0.0, 0.99, NULL,
     "attention dropout on both branches (LRA: 0 ListOps/Pathfinder, 0.1 Text/Retrieval/Image)", 0},
    {"smoother_dropout", LRA_OPT_FLOAT, 0.5, 0.0, 0.99, NULL,
     "dropout after the smoother (LRA: 0 ListOps, 0.5 Text/Image/Pathfinder, 0.1 Retrieval)", 0},
    {"index_sets", LRA_OPT_ENUM, 0, 0, 0, "fixed|per_call",
     "fixed: drawn once at init and stored (spec); per_call: fresh sets at every call", 0},
    {"token_mask", LRA_OPT_BOOL, 0, 0, 1, NULL, "exclude sampled padded tokens from the token softmax (reference: 0)", 0},
};

typedef struct {
    int smoother, r, k, D, H, p, layer, index_mode, token_mask;
    int64_t n, s1, s2;
    float drop_attn, drop_sm;
    int iL, iconv_w, iconv_b, ibn_w, ibn_b, ibn_mean, ibn_var, ilna_w, ilna_b, ilnb_w, ilnb_b, itok, ifeat;
} s3_state;

// ---------------------------------------------------------------------------------------------- kernel

static int add_param(lra_params *p, const char *prefix, const char *name, const int64_t *shape, int nd,
                     lra_init_kind init, float a, int trainable) {
    char buf[LRA_PARAM_NAME_MAX];
    snprintf(buf, sizeof buf, "%s%s", prefix ? prefix : "", name);
    int i = lra_params_add(p, buf, shape, nd, init, a);
    if (!trainable) lra_params_set_trainable(p, i, 0);
    return i;
}

static lra_status s3_validate(const lra_attn_setup *setup) {
    const int r = (int)lra_attn_value(setup->opts, "r");
    const int code = (int)lra_attn_value(setup->opts, "smoother") == 1;
    if (setup->n_heads * setup->head_dim != setup->model_dim)
        return lra_error(LRA_ERR_CONFIG, "attention 's3': heads x head_dim (%d x %d) must equal the model width %d",
                         setup->n_heads, setup->head_dim, setup->model_dim);
    if (!code && setup->model_dim % r)
        return lra_error(LRA_ERR_CONFIG, "attention 's3' option 'r': expected a divisor of the model width %d, got %d",
                         setup->model_dim, r);
    return LRA_OK;
}

// ------------------------------------------------------------------ masked selection
// m.K and m.V restricted to the sampled tokens (axis 2) or features (axis 3) as one op: out = x[.., idx, ..]
// * m[b, position], equal to index_select followed by the mask product (and their gradients), without
// the selected copy and the product's buffers.
typedef struct {
    int axis;
    const int32_t *idx;
    const float *mask;  // [B, n]
    int64_t B, H, n, p, k;
} msel_extra;

static void msel_backward(lra_ctx *ctx, lra_node *node) {
    const msel_extra *me = node->extra;
    lra_tensor *x = node->in[0];
    if (!x->requires_grad) return;
    const int64_t B = me->B, H = me->H, n = me->n, p = me->p, k = me->k;
    const float *gy = node->out->grad;
    float *dx = lra_grad(ctx, x);
#pragma omp parallel for schedule(static) if (B * H * n * k >= LRA_S3_PAR_MIN)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const float *m = me->mask + (bh / H) * n;
        if (me->axis == 2) {  // rows idx[j] of dx += m * rows j of gy, j in order
            for (int64_t j = 0; j < k; j++) {
                const float mj = m[me->idx[j]];
                float *d = dx + (bh * n + me->idx[j]) * p;
                const float *g = gy + (bh * k + j) * p;
                for (int64_t c = 0; c < p; c++) d[c] += g[c] * mj;
            }
        } else {  // columns idx[j] of each row
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < k; j++) dx[(bh * n + i) * p + me->idx[j]] += gy[(bh * n + i) * k + j] * m[i];
        }
    }
}

// x: [B, H, n, p] contiguous, idx: [k] positions (axis 2) or features (axis 3), mask [B, n]
static lra_tensor *masked_select(lra_ctx *ctx, lra_tensor *x, int axis, const lra_tensor *idx, const lra_tensor *mask) {
    x = lra_op_contiguous(ctx, x);
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], k = lra_tensor_numel(idx);
    msel_extra *me = lra_arena_alloc(ctx->arena, sizeof *me);
    *me = (msel_extra){axis, lra_i32(idx), lra_f32(mask), B, H, n, p, k};
    const int64_t shape[4] = {B, H, axis == 2 ? k : n, axis == 2 ? p : k};
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, shape, 4);
    const float *xd = lra_f32(x);
    float *o = lra_f32(out);
#pragma omp parallel for schedule(static) if (B * H * n * k >= LRA_S3_PAR_MIN)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const float *m = me->mask + (bh / H) * n;
        if (axis == 2) {
            for (int64_t j = 0; j < k; j++) {
                const float mj = m[me->idx[j]];
                for (int64_t c = 0; c < p; c++) o[(bh * k + j) * p + c] = xd[(bh * n + me->idx[j]) * p + c] * mj;
            }
        } else {
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < k; j++) o[(bh * n + i) * k + j] = xd[(bh * n + i) * p + me->idx[j]] * m[i];
        }
    }
    lra_node *nd = lra_tape_record(ctx, "s3.masked_select", msel_backward, out, 1, (lra_tensor *[]){x});
    if (nd) nd->extra = me;
    return out;
}

// ------------------------------------------------------------------ output fusion
// The skeleton attention's output from the two branches' factors, as one op:
//   y1 = a1 vs  ([B, H, n, s1] x [B, H, s1, p]),   y2 = vf a2^T  ([B, H, n, s2] x [B, H, p, s2]^T),
//   O = (LN_a(merge(y1)) + LN_b(merge(y2))) / 2 over the merged heads (D = H p), split back into heads.
// The branch products have an inner length of s1 or s2 (8 by default), so each row of y1 and y2 is
// computed where it is needed, in forward and again in backward: neither the two [B, H, n, p] products,
// their gradients, the merged copies, the two normalised tensors, their sum nor the split copy exist.
// The row arithmetic is layer norm's own (core/layer_norm_rows.h); the products round as fused
// multiply-adds in order of the inner index.
typedef struct {
    const float *A[2];         // a1 [B, H, n, s1], vf [B, H, n, s2]
    const float *V[2];         // vs [B, H, s1, p], a2^T [B, H, s2, p] (a transposed copy)
    const float *w[2], *b[2];  // the two norms' parameters [D]
    float *mean[2], *rstd[2];  // [B n] each
    int64_t B, H, n, p, s[2];
} out_saved;

// Row r = (b, i) of branch t over the merged heads: x[h p + c] = sum_j A_t[b, h, i, j] V_t[b, h, j, c].
static void branch_row(const out_saved *f, int t, int64_t r, float *x) {
    const int64_t b = r / f->n, i = r % f->n, p = f->p, s = f->s[t];
    for (int64_t h = 0; h < f->H; h++) {
        const int64_t bh = b * f->H + h;
        const float *a = f->A[t] + (bh * f->n + i) * s, *V = f->V[t] + bh * s * p;
        float *xh = x + h * p;
        for (int64_t c = 0; c < p; c++) xh[c] = 0.0f;
        for (int64_t j = 0; j < s; j++) {
            const float aj = a[j];
            for (int64_t c = 0; c < p; c++) xh[c] = LRA_FMAF(aj, V[j * p + c], xh[c]);
        }
    }
}

// The gradient buffer of one input (NULL when it needs none) and whether to add into it.
typedef struct {
    float *g;
    int add;
} grad_out;

static grad_out grad_of(lra_ctx *ctx, lra_tensor *t) {
    grad_out o = {NULL, 0};
    if (t->requires_grad) o.g = lra_grad_for_write(ctx, t, &o.add);
    return o;
}

// Parallel over examples, so each thread owns its examples' V gradients (summed over positions in order,
// as the product's inner sum would be, in float) and their rows of the parameter sums; the per-example parameter sums are then added in
// example order, so no result depends on the thread count.
static void out_backward(lra_ctx *ctx, lra_node *node) {
    const out_saved *f = node->extra;
    const int64_t B = f->B, H = f->H, n = f->n, p = f->p, D = H * p, sm = f->s[0] > f->s[1] ? f->s[0] : f->s[1];
    const float *dO = node->out->grad;
    // inputs: a1, vs, vf, a2, wa, ba, wb, bb
    const grad_out gA[2] = {grad_of(ctx, node->in[0]), grad_of(ctx, node->in[2])};
    const grad_out gV[2] = {grad_of(ctx, node->in[1]), grad_of(ctx, node->in[3])};
    float *gw[2] = {NULL, NULL}, *gb[2] = {NULL, NULL};
    double *pw[2] = {NULL, NULL}, *pb[2] = {NULL, NULL};
    for (int t = 0; t < 2; t++) {
        lra_tensor *w = node->in[4 + 2 * t], *b = node->in[5 + 2 * t];
        if (w->requires_grad) {
            gw[t] = lra_grad(ctx, w);
            pw[t] = lra_arena_calloc(ctx->arena, (size_t)(B * D) * sizeof(double));
        }
        if (b->requires_grad) {
            gb[t] = lra_grad(ctx, b);
            pb[t] = lra_arena_calloc(ctx->arena, (size_t)(B * D) * sizeof(double));
        }
    }
    // per thread: V gradient sums [H s p], then the row gradient g, a branch row x, its gradient gy [D]
    const size_t per = (size_t)(H * sm * p + 3 * D) * sizeof(float);
    char *scratch = lra_arena_alloc(ctx->arena, (size_t)omp_get_max_threads() * per);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        float *dV = (float *)(scratch + (size_t)omp_get_thread_num() * per);
        float *g = dV + H * sm * p, *x = g + D, *gy = x + D;
        for (int t = 0; t < 2; t++) {
            const int64_t s = f->s[t];
            if (!gA[t].g && !gV[t].g && !pw[t] && !pb[t]) continue;
            if (gV[t].g) memset(dV, 0, (size_t)(H * s * p) * sizeof(float));
            for (int64_t i = 0; i < n; i++) {
                const int64_t r = b * n + i;
                // the scale op's backward; the add passes it to both norms
                for (int64_t h = 0; h < H; h++)
                    for (int64_t c = 0; c < p; c++) g[h * p + c] = dO[((b * H + h) * n + i) * p + c] * 0.5f;
                branch_row(f, t, r, x);
                ln_row_backward(x, g, f->w[t], f->mean[t][r], f->rstd[t][r], D, 0, gy);
                ln_row_param_sums(x, g, f->mean[t][r], f->rstd[t][r], D, pw[t] ? pw[t] + b * D : NULL,
                                  pb[t] ? pb[t] + b * D : NULL);
                for (int64_t h = 0; h < H; h++) {
                    const int64_t bh = b * H + h;
                    const float *a = f->A[t] + (bh * n + i) * s, *V = f->V[t] + bh * s * p, *gyh = gy + h * p;
                    if (gA[t].g) {  // dA[i, j] = gy_h . V[j]
                        float *ga = gA[t].g + (bh * n + i) * s;
                        for (int64_t j = 0; j < s; j++) ga[j] = (gA[t].add ? ga[j] : 0.0f) + lra_dotf(gyh, V + j * p, p);
                    }
                    if (gV[t].g)  // dV[j] += A[i, j] gy_h
                        for (int64_t j = 0; j < s; j++) {
                            float *d = dV + (h * s + j) * p;
                            for (int64_t c = 0; c < p; c++) d[c] = LRA_FMAF(a[j], gyh[c], d[c]);
                        }
                }
            }
            if (!gV[t].g) continue;
            // vs's gradient is [B, H, s1, p] like dV; a2's is [B, H, p, s2], its transpose
            for (int64_t h = 0; h < H; h++)
                for (int64_t j = 0; j < s; j++)
                    for (int64_t c = 0; c < p; c++) {
                        const int64_t bh = b * H + h;
                        float *dst = gV[t].g + (t == 0 ? (bh * s + j) * p + c : (bh * p + c) * s + j);
                        const float v = dV[(h * s + j) * p + c];
                        *dst = gV[t].add ? *dst + v : v;
                    }
        }
    }
    for (int t = 0; t < 2; t++) ln_param_partials_add(pw[t], pb[t], B, D, gw[t], gb[t]);  // per example, in order
}

lra_tensor *lra_s3_output(lra_ctx *ctx, lra_tensor *a1, lra_tensor *vs, lra_tensor *vf, lra_tensor *a2, lra_tensor *wa,
                          lra_tensor *ba, lra_tensor *wb, lra_tensor *bb, float eps) {
    LRA_ASSERT_MSG(a1->ndim == 4 && vs->ndim == 4 && vf->ndim == 4 && a2->ndim == 4, "s3 output: 4-d factors expected");
    a1 = lra_op_contiguous(ctx, a1), vs = lra_op_contiguous(ctx, vs);
    vf = lra_op_contiguous(ctx, vf), a2 = lra_op_contiguous(ctx, a2);
    const int64_t B = a1->shape[0], H = a1->shape[1], n = a1->shape[2], s1 = a1->shape[3], p = vs->shape[3];
    const int64_t s2 = vf->shape[3], R = B * n, D = H * p;
    LRA_ASSERT_MSG(vs->shape[0] == B && vs->shape[1] == H && vs->shape[2] == s1,
                   "s3 output: vs must be [%lld, %lld, %lld, p]", (long long)B, (long long)H, (long long)s1);
    LRA_ASSERT_MSG(vf->shape[0] == B && vf->shape[1] == H && vf->shape[2] == n,
                   "s3 output: vf must be [%lld, %lld, %lld, s2]", (long long)B, (long long)H, (long long)n);
    LRA_ASSERT_MSG(a2->shape[0] == B && a2->shape[1] == H && a2->shape[2] == p && a2->shape[3] == s2,
                   "s3 output: a2 must be [%lld, %lld, %lld, %lld]", (long long)B, (long long)H, (long long)p,
                   (long long)s2);
    LRA_ASSERT_MSG(lra_tensor_numel(wa) == D && lra_tensor_numel(ba) == D && lra_tensor_numel(wb) == D &&
                       lra_tensor_numel(bb) == D,
                   "s3: the output norms' parameters must have H p = %lld entries", (long long)D);
    float *a2t = lra_arena_alloc(ctx->arena, (size_t)(B * H * s2 * p) * sizeof(float));
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t c = 0; c < p; c++)
            for (int64_t j = 0; j < s2; j++) a2t[(bh * s2 + j) * p + c] = lra_f32(a2)[(bh * p + c) * s2 + j];
    out_saved *f = lra_arena_calloc(ctx->arena, sizeof *f);
    *f = (out_saved){.A = {lra_f32(a1), lra_f32(vf)},
                     .V = {lra_f32(vs), a2t},
                     .w = {lra_f32(wa), lra_f32(wb)},
                     .b = {lra_f32(ba), lra_f32(bb)},
                     .B = B, .H = H, .n = n, .p = p, .s = {s1, s2}};
    for (int t = 0; t < 2; t++) {
        f->mean[t] = lra_arena_alloc(ctx->arena, (size_t)R * sizeof(float));
        f->rstd[t] = lra_arena_alloc(ctx->arena, (size_t)R * sizeof(float));
    }
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, H, n, p));
    float *o = lra_f32(out);
    const int nt = omp_get_max_threads();
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * (size_t)(3 * D) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        float *x = scratch + (size_t)omp_get_thread_num() * (size_t)(3 * D), *la = x + D, *lb = la + D;
        float *l[2] = {la, lb};
        for (int t = 0; t < 2; t++) {
            branch_row(f, t, r, x);
            ln_row_stats(x, D, eps, &f->mean[t][r], &f->rstd[t][r]);
            ln_row_forward(x, f->w[t], f->b[t], f->mean[t][r], f->rstd[t][r], D, l[t]);
        }
        const int64_t b = r / n, i = r % n;
        for (int64_t h = 0; h < H; h++) {
            float *orow = o + ((b * H + h) * n + i) * p;
            for (int64_t c = 0; c < p; c++) orow[c] = (la[h * p + c] + lb[h * p + c]) * 0.5f;
        }
    }
    lra_node *nd =
        lra_tape_record(ctx, "s3.output", out_backward, out, 8, (lra_tensor *[]){a1, vs, vf, a2, wa, ba, wb, bb});
    if (nd) nd->extra = f;
    return out;
}

// ------------------------------------------------------------------ the kernel

static void *s3_create(const lra_attn_setup *setup, lra_params *params) {
    s3_state *s = lra_xcalloc(1, sizeof *s);
    const lra_attn_values *o = setup->opts;
    s->smoother = (int)lra_attn_value(o, "smoother");
    s->D = setup->model_dim;
    s->H = setup->n_heads;
    s->p = setup->head_dim;
    s->n = setup->seq_len;
    s->layer = setup->layer;
    s->r = s->smoother == SMOOTHER_CODE ? s->D : (int)lra_attn_value(o, "r");
    s->k = s->smoother == SMOOTHER_CODE ? 1 : 3;
    LRA_ASSERT_MSG(s->H * s->p == s->D, "s3: heads x head_dim (%d x %d) must equal the model width %d", s->H, s->p,
                   s->D);
    LRA_ASSERT_MSG(s->D % s->r == 0, "s3: r=%d must divide the model width %d", s->r, s->D);
    LRA_ASSERT_MSG(s->n >= 1, "s3: the sequence length must be known at construction");
    const int64_t s1 = (int64_t)lra_attn_value(o, "s1"), s2 = (int64_t)lra_attn_value(o, "s2");
    s->s1 = s1 < s->n ? s1 : s->n;
    s->s2 = s2 < s->p ? s2 : s->p;
    s->drop_attn = (float)lra_attn_value(o, "dropout");
    s->drop_sm = (float)lra_attn_value(o, "smoother_dropout");
    s->index_mode = (int)lra_attn_value(o, "index_sets");
    s->token_mask = lra_attn_value(o, "token_mask") != 0;
    const int64_t D = s->D, nf = s->n / 2 + 1;
    const char *pre = setup->prefix;
    // L: Kaiming with fan_in = D*2 (torch's fan_in of an [nf, D, 2] tensor): normal std sqrt(2/fan_in) (paper)
    // or uniform bound sqrt(6/fan_in) (code).
    if (s->smoother == SMOOTHER_CODE)
        s->iL = add_param(params, pre, "smoother.L", LRA_DIMS(nf, D, 2), LRA_INIT_UNIFORM, sqrtf(6.0f / (2.0f * D)), 1);
    else
        s->iL = add_param(params, pre, "smoother.L", LRA_DIMS(nf, D, 2), LRA_INIT_NORMAL, sqrtf(2.0f / (2.0f * D)), 1);
    // Conv1d PyTorch default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, fan_in = 2D k.
    const float cb = 1.0f / sqrtf((float)(2 * D * s->k));
    s->iconv_w = add_param(params, pre, "smoother.conv.weight", LRA_DIMS(D, 2 * D, s->k), LRA_INIT_UNIFORM, cb, 1);
    s->iconv_b = add_param(params, pre, "smoother.conv.bias", LRA_DIMS(D), LRA_INIT_UNIFORM, cb, 1);
    s->ibn_w = add_param(params, pre, "smoother.bn.weight", LRA_DIMS(s->n), LRA_INIT_ONES, 0, 1);
    s->ibn_b = add_param(params, pre, "smoother.bn.bias", LRA_DIMS(s->n), LRA_INIT_ZEROS, 0, 1);
    s->ibn_mean = add_param(params, pre, "smoother.bn.running_mean", LRA_DIMS(s->n), LRA_INIT_ZEROS, 0, 0);
    s->ibn_var = add_param(params, pre, "smoother.bn.running_var", LRA_DIMS(s->n), LRA_INIT_ONES, 0, 0);
    lra_params_set_batch_stat(params, s->ibn_mean);
    lra_params_set_batch_stat(params, s->ibn_var);
    s->ilna_w = add_param(params, pre, "ln_a.weight", LRA_DIMS(D), LRA_INIT_ONES, 0, 1);
    s->ilna_b = add_param(params, pre, "ln_a.bias", LRA_DIMS(D), LRA_INIT_ZEROS, 0, 1);
    s->ilnb_w = add_param(params, pre, "ln_b.weight", LRA_DIMS(D), LRA_INIT_ONES, 0, 1);
    s->ilnb_b = add_param(params, pre, "ln_b.bias", LRA_DIMS(D), LRA_INIT_ZEROS, 0, 1);
    s->itok = add_param(params, pre, "index_tok", LRA_DIMS(s->s1), LRA_INIT_ZEROS, 0, 0);
    s->ifeat = add_param(params, pre, "index_feat", LRA_DIMS(s->s2), LRA_INIT_ZEROS, 0, 0);
    return s;
}

// First k entries of a random permutation of [0, n) into out (as floats when outf, else int32).
// perm: scratch [n].
static void draw_index_set(lra_rng *r, int64_t n, int64_t k, int32_t *perm, float *outf, int32_t *outi) {
    lra_rng_permutation(r, n, perm);
    for (int64_t i = 0; i < k; i++) {
        if (outf) outf[i] = (float)perm[i];
        if (outi) outi[i] = perm[i];
    }
}

static void s3_init_params(void *state, lra_params *params, uint64_t seed) {
    const s3_state *s = state;
    lra_rng r =
        lra_key_rng(lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_S3_INDEX_INIT, .seed = seed, .layer = s->layer}));
    int32_t *perm = lra_xmalloc((size_t)(s->n > s->p ? s->n : s->p) * sizeof(int32_t));
    draw_index_set(&r, s->n, s->s1, perm, lra_f32(lra_params_tensor(params, s->itok)), NULL);
    draw_index_set(&r, s->p, s->s2, perm, lra_f32(lra_params_tensor(params, s->ifeat)), NULL);
    free(perm);
}

static void s3_destroy(void *state) { free(state); }

// The stream of one of S3's dropout sites at this call (lra_op_dropout takes the seed from the context).
static uint64_t s3_dropout_stream(const lra_attn_call *call, lra_key_purpose purpose) {
    return lra_attn_draw_key(call, purpose, 0, 0).stream;
}

// x: [B, n, D] -> [B, n, D]
static lra_tensor *s3_smoother(void *state, lra_params *P, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                               const lra_attn_call *call) {
    const s3_state *s = state;
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2];
    LRA_ASSERT_MSG(n == s->n, "s3: the smoother's BatchNorm is built for length %lld, got %lld (pad to max length)",
                   (long long)s->n, (long long)n);
    LRA_ASSERT_MSG(D == s->D, "s3: model width %lld, expected %d", (long long)D, s->D);
    lra_tensor *u = x;
    if (s->r < D) u = lra_op_mean(ctx, lra_op_reshape(ctx, x, LRA_DIMS(B, n, s->r, D / s->r)), 3, 0);
    lra_tensor *msm = lra_s3_fft_filter(ctx, u, lra_params_tensor(P, s->iL), D);
    // Conv1d over [Msm, X] without the concatenated copy: the weight's input channels in two parts.
    lra_tensor *h = lra_s3_conv1d_parts(ctx, 2, (lra_tensor *[]){msm, x}, lra_params_tensor(P, s->iconv_w),
                                        lra_params_tensor(P, s->iconv_b));
    return lra_s3_bn_act_dropout(ctx, h, lra_params_tensor(P, s->ibn_w), lra_params_tensor(P, s->ibn_b),
                                 lra_f32(lra_params_tensor(P, s->ibn_mean)), lra_f32(lra_params_tensor(P, s->ibn_var)),
                                 S3_BN_MOMENTUM, ctx->training, s->smoother == SMOOTHER_CODE, s->drop_sm,
                                 s3_dropout_stream(call, LRA_KEY_S3_DROPOUT_SMOOTHER));
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *s3_forward(void *state, lra_params *P, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                              lra_tensor *mask, const lra_attn_call *call) {
    const s3_state *s = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    LRA_ASSERT_MSG(n == s->n && p == s->p && H == s->H, "s3: q is [%lld, %lld, %lld, %lld], built for H=%d n=%lld p=%d",
                   (long long)B, (long long)H, (long long)n, (long long)p, s->H, (long long)s->n, s->p);
    lra_tensor *itok = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(s->s1));
    lra_tensor *ifeat = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(s->s2));
    if (s->index_mode == INDEX_PER_CALL) {
        lra_rng r = lra_key_rng(lra_attn_draw_key(call, LRA_KEY_S3_INDEX_CALL, 0, 0));
        int32_t *perm = lra_arena_alloc(ctx->arena, (size_t)(n > p ? n : p) * sizeof(int32_t));
        draw_index_set(&r, n, s->s1, perm, NULL, lra_i32(itok));
        draw_index_set(&r, p, s->s2, perm, NULL, lra_i32(ifeat));
    } else {
        const float *ft = lra_f32(lra_params_tensor(P, s->itok)), *ff = lra_f32(lra_params_tensor(P, s->ifeat));
        for (int64_t i = 0; i < s->s1; i++) lra_i32(itok)[i] = (int32_t)ft[i];
        for (int64_t i = 0; i < s->s2; i++) lra_i32(ifeat)[i] = (int32_t)ff[i];
    }
    // K <- m.K and V <- m.V, applied to the selected rows and columns only (the same products, without
    // full-size masked copies).
    lra_tensor *mc = lra_op_contiguous(ctx, mask);
    // Token branch.
    lra_tensor *ks = masked_select(ctx, k, 2, itok, mc), *vs = masked_select(ctx, v, 2, itok, mc);
    lra_tensor *madd = NULL;
    if (s->token_mask) {
        madd = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, 1, s->s1));
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < s->s1; i++)
                lra_f32(madd)[b * s->s1 + i] = lra_f32(mask)[b * n + lra_i32(itok)[i]] != 0.0f ? 0.0f : -INFINITY;
    }
    lra_tensor *a1 = lra_op_softmax(ctx, lra_op_scale(ctx, lra_op_matmul(ctx, q, ks, 0, 1), 1.0f / sqrtf((float)p)), madd);
    if (ctx->training && s->drop_attn > 0.0f)
        a1 = lra_op_dropout(ctx, a1, s->drop_attn, s3_dropout_stream(call, LRA_KEY_S3_DROPOUT_TOKEN));
    // Feature branch.
    lra_tensor *kf = masked_select(ctx, k, 3, ifeat, mc), *vf = masked_select(ctx, v, 3, ifeat, mc);
    lra_tensor *a2 = lra_op_softmax(ctx, lra_op_scale(ctx, lra_op_matmul(ctx, q, kf, 1, 0), 1.0f / sqrtf((float)n)), NULL);
    if (ctx->training && s->drop_attn > 0.0f)
        a2 = lra_op_dropout(ctx, a2, s->drop_attn, s3_dropout_stream(call, LRA_KEY_S3_DROPOUT_FEATURE));
    // Y1 = A1 V[I_tok], Y2 = V[:, I_feat] A2^T and their fusion over the merged heads, in one op.
    return lra_s3_output(ctx, a1, vs, vf, a2, lra_params_tensor(P, s->ilna_w), lra_params_tensor(P, s->ilna_b),
                         lra_params_tensor(P, s->ilnb_w), lra_params_tensor(P, s->ilnb_b), 1e-5f);
}

const lra_attn_kernel_def lra_attn_s3 = {
    .name = "s3",
    .summary = "S3Attention: FFT smoother before the projections + skeleton attention (s1 tokens, s2 features)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = s3_validate,
    .create = s3_create,
    .init_params = s3_init_params,
    .pre_transform = s3_smoother,
    .forward = s3_forward,
    .destroy = s3_destroy,
};
