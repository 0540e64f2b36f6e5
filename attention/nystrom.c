// `nystrom` (Nystromformer, attention.md §2.7): q~ = m rho q, k~ = m rho k; landmarks = segment means of
// q~ and k~ (l segments of n/l rows, padded rows count as zeros); F = softmax(q~ K̄^T) [n, l],
// A = softmax(Q̄ K̄^T) [l, l], B = softmax(Q̄ k~^T, padded keys excluded) [l, n];
// O = (F NS(A)) (B V), NS = 6 Newton-Schulz iterations of the pseudo-inverse.  With l = n it is the
// exact masked softmax.  Optional depthwise convolution of m*V along the sequence (conv_kernel > 0; one
// kernel per head, init U(-1/sqrt(k), 1/sqrt(k))) added to O.  Everything is differentiable; written as
// a chain of ops (every tensor is O(n l) or O(l^2)), with the convolution as one small composite node.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"num_landmarks", LRA_OPT_INT, 128, 1, 1 << 20, NULL, "landmarks l (Skeinformer code 128; paper 256); n % l == 0"},
    {"pinv_iters", LRA_OPT_INT, 6, 0, 100, NULL, "Newton-Schulz iterations of the pseudo-inverse"},
    {"pinv_init", LRA_OPT_ENUM, 0, 0, 0, LRA_PINV_INIT_CHOICES,
     "scale of Z0 = A^T / c0: per matrix (default) or over the batch (global = reference)"},
    {"conv_kernel", LRA_OPT_INT, 0, 0, 1025, NULL, "depthwise conv of m*V along the sequence (0 = off; 35 in Nystromformer LRA)"},
};

typedef struct {
    int64_t landmarks;
    int iters;
    lra_pinv_init init;
    int conv;
    int conv_index;
    lra_params *params;
} nystrom_state;

static lra_status nystrom_validate(const lra_attn_setup *setup) {
    const int64_t l = (int64_t)lra_attn_value(setup->opts, "num_landmarks");
    if (setup->seq_len % l)
        return lra_error(LRA_ERR_CONFIG,
                         "attention 'nystrom' option 'num_landmarks': expected a divisor of the sequence length %lld "
                         "(segment-mean landmarks), got %lld",
                         (long long)setup->seq_len, (long long)l);
    return LRA_OK;
}

static void *nystrom_create(const lra_attn_setup *setup, lra_params *params) {
    nystrom_state *s = lra_xcalloc(1, sizeof *s);
    s->landmarks = (int64_t)lra_attn_value(setup->opts, "num_landmarks");
    s->iters = (int)lra_attn_value(setup->opts, "pinv_iters");
    s->init = (lra_pinv_init)lra_attn_value(setup->opts, "pinv_init");
    s->conv = (int)lra_attn_value(setup->opts, "conv_kernel");
    s->params = params;
    s->conv_index = -1;
    if (s->conv > 0) {
        char name[LRA_PARAM_NAME_MAX];
        snprintf(name, sizeof name, "%sconv.weight", setup->prefix);
        s->conv_index = lra_params_add(params, name, LRA_DIMS(setup->n_heads, s->conv), LRA_INIT_UNIFORM,
                                       1.0f / sqrtf((float)s->conv));
    }
    return s;
}

static void nystrom_destroy(void *state) { free(state); }

// ------------------------------------------------------------------ depthwise convolution along n
// out[b,h,i,:] = sum_t w[h,t] x[b,h,i+t-k/2,:] (zero padding).
static void dwconv_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *x = node->in[0], *w = node->in[1];
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], kc = w->shape[1];
    const float *g = node->out->grad, *xd = lra_f32(x), *wd = lra_f32(w);
    float *dx = x->requires_grad ? lra_grad(ctx, x) : NULL;
    if (dx) {
#pragma omp parallel for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t h = bh % H;
            for (int64_t j = 0; j < n; j++)
                for (int64_t t = 0; t < kc; t++) {
                    const int64_t i = j - (t - kc / 2);
                    if (i < 0 || i >= n) continue;
                    for (int64_t c = 0; c < p; c++) dx[(bh * n + j) * p + c] += wd[h * kc + t] * g[(bh * n + i) * p + c];
                }
        }
    }
    if (w->requires_grad) {
        float *dw = lra_grad(ctx, w);
        for (int64_t h = 0; h < H; h++)  // fixed order over (b, i): deterministic
            for (int64_t t = 0; t < kc; t++) {
                double acc = 0.0;
                for (int64_t b = 0; b < B; b++)
                    for (int64_t i = 0; i < n; i++) {
                        const int64_t j = i + t - kc / 2;
                        if (j < 0 || j >= n) continue;
                        for (int64_t c = 0; c < p; c++)
                            acc += (double)g[((b * H + h) * n + i) * p + c] * xd[((b * H + h) * n + j) * p + c];
                    }
                dw[h * kc + t] += (float)acc;
            }
    }
}

// x: [B, H, n, p] contiguous, w: [H, k] -> [B, H, n, p]
static lra_tensor *dwconv(lra_ctx *ctx, lra_tensor *x, lra_tensor *w) {
    x = lra_op_contiguous(ctx, x);
    const int64_t B = x->shape[0], H = x->shape[1], n = x->shape[2], p = x->shape[3], kc = w->shape[1];
    lra_tensor *out = lra_tensor_zeros(ctx->arena, LRA_F32, x->shape, 4);
    const float *xd = lra_f32(x), *wd = lra_f32(w);
    float *o = lra_f32(out);
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t h = bh % H;
        for (int64_t i = 0; i < n; i++)
            for (int64_t t = 0; t < kc; t++) {
                const int64_t j = i + t - kc / 2;
                if (j < 0 || j >= n) continue;
                for (int64_t c = 0; c < p; c++) o[(bh * n + i) * p + c] += wd[h * kc + t] * xd[(bh * n + j) * p + c];
            }
    }
    lra_tape_record(ctx, "attention.nystrom.conv", dwconv_backward, out, 2, (lra_tensor *[]){x, w});
    return out;
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *nystrom_forward(void *state, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                                   lra_tensor *mask, const lra_attn_call *call) {
    const nystrom_state *s = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], l = s->landmarks;
    lra_tensor *mrow = lra_attn_mask_rows(ctx, mask);
    lra_tensor *mscaled = lra_op_scale(ctx, mrow, powf((float)p, -0.25f));
    lra_tensor *qt = lra_op_mul(ctx, q, mscaled), *kt = lra_op_mul(ctx, k, mscaled);
    lra_tensor *madd = lra_attn_mask_add(ctx, mask);
    lra_tensor *out;
    if (l >= n) {
        lra_tensor *P = lra_op_softmax(ctx, lra_op_matmul(ctx, qt, kt, 0, 1), madd);
        out = lra_op_matmul(ctx, P, v, 0, 0);
    } else {
        LRA_ASSERT_MSG(n % l == 0, "nystrom: n = %lld is not a multiple of num_landmarks = %lld", (long long)n,
                       (long long)l);
        lra_tensor *Ql = lra_op_mean(ctx, lra_op_reshape(ctx, qt, LRA_DIMS(B * H, l, n / l, p)), 2, 0);
        lra_tensor *Kl = lra_op_mean(ctx, lra_op_reshape(ctx, kt, LRA_DIMS(B * H, l, n / l, p)), 2, 0);
        Ql = lra_op_reshape(ctx, Ql, LRA_DIMS(B, H, l, p));
        Kl = lra_op_reshape(ctx, Kl, LRA_DIMS(B, H, l, p));
        lra_tensor *F = lra_op_softmax(ctx, lra_op_matmul(ctx, qt, Kl, 0, 1), NULL);    // [B, H, n, l]
        lra_tensor *A = lra_op_softmax(ctx, lra_op_matmul(ctx, Ql, Kl, 0, 1), NULL);    // [B, H, l, l]
        lra_tensor *Bm = lra_op_softmax(ctx, lra_op_matmul(ctx, Ql, kt, 0, 1), madd);   // [B, H, l, n]
        lra_tensor *Z = lra_attn_newton_pinv(ctx, A, s->iters, s->init);
        out = lra_op_matmul(ctx, lra_op_matmul(ctx, F, Z, 0, 0), lra_op_matmul(ctx, Bm, v, 0, 0), 0, 0);
    }
    if (s->conv > 0) {
        lra_tensor *w = lra_params_tensor(s->params, s->conv_index);
        out = lra_op_add(ctx, out, dwconv(ctx, lra_op_mul(ctx, v, mrow), w));
    }
    return out;
}

const lra_attn_kernel_def lra_attn_nystrom = {
    .name = "nystrom",
    .summary = "Nystromformer: segment-mean landmarks, Newton-Schulz pseudo-inverse, optional conv on V",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .validate = nystrom_validate,
    .create = nystrom_create,
    .forward = nystrom_forward,
    .destroy = nystrom_destroy,
};
