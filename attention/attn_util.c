// Helpers shared by the attention kernels (see attn_util.h).
#include "core/gemm.h"
#include "attention/attn_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/ops.h"

lra_key lra_attn_draw_key(const lra_attn_call *call, lra_key_purpose purpose, uint64_t example, uint64_t head) {
    return lra_key_make(&(lra_key_fields){.purpose = purpose, .seed = call->seed, .step = call->step,
                                          .layer = call->layer, .tower = call->tower, .example = example,
                                          .head = head});
}

int64_t lra_attn_valid_positions(const float *mask_row, int64_t n, int32_t *valid) {
    int64_t c = 0;
    for (int64_t j = 0; j < n; j++)
        if (mask_row[j] != 0.0f) {
            if (valid) valid[c] = (int32_t)j;
            c++;
        }
    return c;
}

// Scores of the rows into P with excluded keys at -inf (a mask without any real key is ignored).
static void rows_scores(const float *qr, int64_t r, const float *k, const float *kmask, int64_t n, int64_t p,
                        float scale, float *P) {
    lra_gemm(false, true, (int)r, (int)n, (int)p, scale, qr, (int)p, k, (int)p, 0.0f,
                P, (int)n);
    if (!kmask || lra_attn_valid_positions(kmask, n, NULL) == 0) return;
    for (int64_t t = 0; t < r; t++)
        for (int64_t j = 0; j < n; j++)
            if (kmask[j] == 0.0f) P[t * n + j] = -INFINITY;
}

// Rows per block of lra_attn_rows_softmax: a block's scores (64 x 2000 floats, 512 KiB) stay in L2 between
// the product, the softmax and P V, where all r rows at once (informer's 272 x 2000, 2.2 MiB) did not;
// and a block of 64 rows or more is one tile of lra_gemm, which the own kernel serves.
#define ROWS_BLOCK 64

void lra_attn_rows_softmax(const float *qr, int64_t r, const float *k, const float *v, const float *kmask, int64_t n,
                           int64_t p, float scale, float *P, float *out, float *lse) {
    for (int64_t r0 = 0; r0 < r;) {
        const int64_t rb = r - r0 < 2 * ROWS_BLOCK ? r - r0 : ROWS_BLOCK;  // a short remainder joins the last block
        rows_scores(qr + r0 * p, rb, k, kmask, n, p, scale, P);
        for (int64_t t = 0; t < rb; t++) lse[r0 + t] = lra_softmax_row(P + t * n, n);
        lra_gemm(false, false, (int)rb, (int)p, (int)n, 1.0f, P, (int)n, v, (int)p, 0.0f, out + r0 * p, (int)p);
        r0 += rb;
    }
}

void lra_attn_rows_softmax_backward(const float *qr, int64_t r, const float *k, const float *v, const float *kmask,
                                    int64_t n, int64_t p, float scale, const float *lse, const float *out,
                                    const float *dout, float *P, float *dP, float *dqr, float *dk, float *dv) {
    for (int64_t r0 = 0; r0 < r;) {  // blocks as in the forward; dk and dv add the blocks in order
        const int64_t rb = r - r0 < 2 * ROWS_BLOCK ? r - r0 : ROWS_BLOCK;
        const float *qb = qr + r0 * p, *db = dout + r0 * p;
        rows_scores(qb, rb, k, kmask, n, p, scale, P);
        for (int64_t t = 0; t < rb; t++) lra_softmax_row_from_lse(P + t * n, n, lse[r0 + t]);
        if (dv) lra_gemm(true, false, (int)n, (int)p, (int)rb, 1.0f, P, (int)n, db, (int)p, 1.0f, dv, (int)p);
        if (dqr || dk) {
            lra_gemm(false, true, (int)rb, (int)n, (int)p, 1.0f, db, (int)p, v, (int)p, 0.0f, dP, (int)n);
            for (int64_t t = 0; t < rb; t++) {
                const double D = lra_dot_double(db + t * p, out + (r0 + t) * p, p);
                for (int64_t j = 0; j < n; j++) dP[t * n + j] = P[t * n + j] * (dP[t * n + j] - (float)D);
            }
            if (dqr)
                lra_gemm(false, false, (int)rb, (int)p, (int)n, scale, dP, (int)n, k, (int)p, 1.0f, dqr + r0 * p, (int)p);
            if (dk) lra_gemm(true, false, (int)n, (int)p, (int)rb, scale, dP, (int)n, qb, (int)p, 1.0f, dk, (int)p);
        }
        r0 += rb;
    }
}

lra_tensor *lra_attn_mask_rows(lra_ctx *ctx, lra_tensor *mask) {
    return lra_op_reshape(ctx, mask, LRA_DIMS(mask->shape[0], 1, mask->shape[1], 1));
}

lra_tensor *lra_attn_mask_add(lra_ctx *ctx, lra_tensor *mask) {
    const int64_t B = mask->shape[0], n = mask->shape[1];
    lra_tensor *m = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(B, 1, 1, n));
    for (int64_t b = 0; b < B; b++) {
        int any = 0;
        for (int64_t j = 0; j < n; j++) any |= lra_tensor_get_flat(mask, b * n + j) != 0.0f;
        for (int64_t j = 0; j < n; j++)
            lra_f32(m)[b * n + j] = (!any || lra_tensor_get_flat(mask, b * n + j) != 0.0f) ? 0.0f : -INFINITY;
    }
    return m;
}

lra_tensor *lra_attn_eye(lra_ctx *ctx, int64_t m) {
    lra_tensor *e = lra_tensor_zeros(ctx->arena, LRA_F32, LRA_DIMS(m, m));
    for (int64_t i = 0; i < m; i++) lra_f32(e)[i * m + i] = 1.0f;
    return e;
}

lra_tensor *lra_attn_newton_pinv(lra_ctx *ctx, lra_tensor *A, int iters, lra_pinv_init init) {
    const int64_t B = A->shape[0], H = A->shape[1], m = A->shape[2];
    lra_tensor *colsum = lra_op_sum(ctx, A, 2, 0);  // [B, H, m]: column sums
    lra_tensor *c0;
    if (init != LRA_PINV_PER_MATRIX) {
        c0 = lra_op_max(ctx, lra_op_reshape(ctx, colsum, LRA_DIMS(B * H * m)), 0, 1);  // [1]
        if (init == LRA_PINV_GLOBAL_ABS_PROD) {
            lra_tensor *rowsum = lra_op_sum(ctx, A, 3, 0);
            c0 = lra_op_mul(ctx, c0, lra_op_max(ctx, lra_op_reshape(ctx, rowsum, LRA_DIMS(B * H * m)), 0, 1));
        }
        c0 = lra_op_reshape(ctx, c0, LRA_DIMS(1, 1, 1, 1));
    } else {
        c0 = lra_op_reshape(ctx, lra_op_max(ctx, colsum, 2, 1), LRA_DIMS(B, H, 1, 1));
    }
    lra_tensor *Z = lra_op_div(ctx, lra_op_contiguous(ctx, lra_op_transpose(ctx, A, 2, 3)), c0);
    lra_tensor *eye = lra_attn_eye(ctx, m);
    lra_tensor *I7 = lra_op_scale(ctx, eye, 7.0f), *I13 = lra_op_scale(ctx, eye, 13.0f), *I15 = lra_op_scale(ctx, eye, 15.0f);
    for (int it = 0; it < iters; it++) {
        lra_tensor *AZ = lra_op_matmul(ctx, A, Z, 0, 0);
        lra_tensor *t = lra_op_sub(ctx, I7, AZ);
        t = lra_op_sub(ctx, I15, lra_op_matmul(ctx, AZ, t, 0, 0));
        t = lra_op_sub(ctx, I13, lra_op_matmul(ctx, AZ, t, 0, 0));
        Z = lra_op_scale(ctx, lra_op_matmul(ctx, Z, t, 0, 0), 0.25f);
    }
    return Z;
}

lra_attn_linear lra_attn_linear_declare(lra_params *params, const char *prefix, const char *name, int in, int out,
                                        int bias) {
    char buf[LRA_PARAM_NAME_MAX];
    const float bound = 1.0f / sqrtf((float)in);
    lra_attn_linear l;
    snprintf(buf, sizeof buf, "%s%s.weight", prefix, name);
    l.w = lra_params_add(params, buf, LRA_DIMS(out, in), LRA_INIT_UNIFORM, bound);
    l.b = -1;
    if (bias) {
        snprintf(buf, sizeof buf, "%s%s.bias", prefix, name);
        l.b = lra_params_add(params, buf, LRA_DIMS(out), LRA_INIT_UNIFORM, bound);
    }
    return l;
}

lra_tensor *lra_attn_linear_forward(lra_ctx *ctx, lra_params *params, lra_attn_linear l, lra_tensor *x) {
    return lra_op_linear(ctx, x, lra_params_tensor(params, l.w), l.b >= 0 ? lra_params_tensor(params, l.b) : NULL);
}

lra_attn_linear lra_attn_layernorm_declare(lra_params *params, const char *prefix, const char *name, int d) {
    char buf[LRA_PARAM_NAME_MAX];
    lra_attn_linear l;
    snprintf(buf, sizeof buf, "%s%s.weight", prefix, name);
    l.w = lra_params_add(params, buf, LRA_DIMS(d), LRA_INIT_ONES, 0.0f);
    snprintf(buf, sizeof buf, "%s%s.bias", prefix, name);
    l.b = lra_params_add(params, buf, LRA_DIMS(d), LRA_INIT_ZEROS, 0.0f);
    return l;
}

lra_tensor *lra_attn_layernorm_forward(lra_ctx *ctx, lra_params *params, lra_attn_linear ln, lra_tensor *x) {
    return lra_op_layer_norm(ctx, x, lra_params_tensor(params, ln.w), lra_params_tensor(params, ln.b), 1e-5f);
}

lra_tensor *lra_attn_split_heads(lra_ctx *ctx, lra_tensor *x, int heads) {
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2];
    lra_tensor *r = lra_op_reshape(ctx, x, LRA_DIMS(B, n, heads, D / heads));
    return lra_op_contiguous(ctx, lra_op_transpose(ctx, r, 1, 2));
}

lra_tensor *lra_attn_merge_heads(lra_ctx *ctx, lra_tensor *x) {
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3];
    lra_tensor *t = lra_op_contiguous(ctx, lra_op_transpose(ctx, x, 1, 2));
    return lra_op_reshape(ctx, t, LRA_DIMS(B, n, H * p));
}

void lra_attn_orthogonal_features(lra_rng *r, float *w, int64_t rows, int64_t p) {
    double *G = lra_xmalloc((size_t)(p * p) * sizeof(double));
    for (int64_t r0 = 0; r0 < rows; r0 += p) {
        for (int64_t e = 0; e < p * p; e++) G[e] = lra_rng_normal(r);
        // Modified Gram-Schmidt on the rows: orthonormal rows spanning R^p (a Gaussian matrix has full rank).
        for (int64_t i = 0; i < p; i++) {
            for (int64_t j = 0; j < i; j++) {
                double dot = 0.0;
                for (int64_t c = 0; c < p; c++) dot += G[i * p + c] * G[j * p + c];
                for (int64_t c = 0; c < p; c++) G[i * p + c] -= dot * G[j * p + c];
            }
            double nrm = 0.0;
            for (int64_t c = 0; c < p; c++) nrm += G[i * p + c] * G[i * p + c];
            nrm = sqrt(nrm);
            for (int64_t c = 0; c < p; c++) G[i * p + c] /= nrm;
        }
        for (int64_t i = 0; i < p && r0 + i < rows; i++)
            for (int64_t c = 0; c < p; c++) w[(r0 + i) * p + c] = (float)G[i * p + c];
    }
    for (int64_t i = 0; i < rows; i++) {
        double nrm = 0.0;
        for (int64_t c = 0; c < p; c++) {
            const double g = lra_rng_normal(r);
            nrm += g * g;
        }
        for (int64_t c = 0; c < p; c++) w[i * p + c] *= (float)sqrt(nrm);
    }
    free(G);
}
