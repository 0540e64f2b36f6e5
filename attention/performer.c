// `performer` (FAVOR+ positive random features for the softmax kernel, attention.md §2.8, §3).
// W [m, p]: ceil(m/p) blocks of p orthonormal rows (Gram-Schmidt of a Gaussian p x p matrix, the Q
// factor of its QR), row r scaled by the norm of an independent N(0, I_p) vector; a fixed buffer drawn
// once at init (init_params), never redrawn.
//   x_q = rho q, x_k = rho m k, v' = m v;  z = x (or rho x with double_scale, the reference quirk);
//   phi(z)_r = m^-1/2 (exp(w_r.z - |z|^2/2 - stab) + 1e-4), stab = per-row max for queries and the max over
//   the slice's keys (or over the whole batch with global_key_max) for keys; stabilisers are constants.
//   Padded keys get phi = 0 (pad_keys_in_denominator keeps the reference's nonzero value);
//   O_i = phi(q_i)^T (sum_j phi(k_j) v'_j^T) / (phi(q_i)^T sum_j phi(k_j)).
// Written as a chain of ops; every tensor is O(n m).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"nb_features", LRA_OPT_INT, 128, 1, 1 << 16, NULL, "random features m (Skeinformer code 128; paper 256)"},
    {"double_scale", LRA_OPT_BOOL, 0, 0, 1, NULL, "scale by p^-1/4 twice, estimating exp(q.k/p) (reference)"},
    {"pad_keys_in_denominator", LRA_OPT_BOOL, 0, 0, 1, NULL, "padded keys add m^-1/2(e^-G + 1e-4) to the denominator (reference)"},
    {"global_key_max", LRA_OPT_BOOL, 0, 0, 1, NULL, "key stabiliser G = max over the whole batch (reference)"},
};

typedef struct {
    int64_t m;
    int double_scale, pad_keys, global_max;
    int index, layer;
    lra_params *params;
} performer_state;

static void *performer_create(const lra_attn_setup *setup, lra_params *params) {
    performer_state *s = lra_xcalloc(1, sizeof *s);
    s->m = (int64_t)lra_attn_value(setup->opts, "nb_features");
    s->double_scale = lra_attn_value(setup->opts, "double_scale") != 0;
    s->pad_keys = lra_attn_value(setup->opts, "pad_keys_in_denominator") != 0;
    s->global_max = lra_attn_value(setup->opts, "global_key_max") != 0;
    s->layer = setup->layer;
    s->params = params;
    char name[LRA_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%sfeatures", setup->prefix);
    s->index = lra_params_add(params, name, LRA_DIMS(s->m, setup->head_dim), LRA_INIT_ZEROS, 0.0f);
    lra_params_set_trainable(params, s->index, 0);
    return s;
}

static void performer_destroy(void *state) { free(state); }

// Orthogonal random features, drawn from (seed, layer) only.
static void performer_init(void *state, lra_params *params, uint64_t seed) {
    const performer_state *s = state;
    lra_tensor *W = lra_params_tensor(params, s->index);
    const int64_t m = W->shape[0], p = W->shape[1];
    lra_rng r = lra_rng_make(seed, lra_rng_stream((uint64_t)s->layer, LRA_ATTN_RNG_INIT, 0xfa70, 0));
    double *G = lra_xmalloc((size_t)(p * p) * sizeof(double));
    float *w = lra_f32(W);
    for (int64_t r0 = 0; r0 < m; r0 += p) {
        for (int64_t e = 0; e < p * p; e++) G[e] = lra_rng_normal(&r);
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
        for (int64_t i = 0; i < p && r0 + i < m; i++)
            for (int64_t c = 0; c < p; c++) w[(r0 + i) * p + c] = (float)G[i * p + c];
    }
    for (int64_t i = 0; i < m; i++) {
        double nrm = 0.0;
        for (int64_t c = 0; c < p; c++) {
            const double g = lra_rng_normal(&r);
            nrm += g * g;
        }
        for (int64_t c = 0; c < p; c++) w[i * p + c] *= (float)sqrt(nrm);
    }
    free(G);
}

// A constant (no-grad) copy of max over `axis` (keepdim), or over the last two axes when axis == -2.
static lra_tensor *const_max(lra_ctx *ctx, lra_tensor *x, int axis) {
    int prev = lra_ctx_set_grad_enabled(ctx, 0);
    lra_tensor *r;
    if (axis == -2) {
        const int64_t B = x->shape[0], H = x->shape[1];
        r = lra_op_max(ctx, lra_op_reshape(ctx, x, LRA_DIMS(B, H, x->shape[2] * x->shape[3])), 2, 1);
        r = lra_op_reshape(ctx, r, LRA_DIMS(B, H, 1, 1));
    } else {
        r = lra_op_max(ctx, x, axis, 1);
    }
    lra_ctx_set_grad_enabled(ctx, prev);
    r->requires_grad = 0;
    return r;
}

// phi of rows z [B, H, n, p] -> [B, H, n, m]; key features use the slice (or batch) max.
static lra_tensor *features(lra_ctx *ctx, const performer_state *s, lra_tensor *z, lra_tensor *W, int keys) {
    lra_tensor *proj = lra_op_matmul(ctx, z, W, 0, 1);                               // [B, H, n, m]
    lra_tensor *diag = lra_op_scale(ctx, lra_op_sum(ctx, lra_op_mul(ctx, z, z), 3, 1), 0.5f);  // [B, H, n, 1]
    lra_tensor *stab;
    if (!keys) {
        stab = const_max(ctx, proj, 3);
    } else if (s->global_max) {
        int prev = lra_ctx_set_grad_enabled(ctx, 0);
        stab = lra_op_max(ctx, lra_op_reshape(ctx, proj, LRA_DIMS(lra_tensor_numel(proj))), 0, 1);
        stab = lra_op_reshape(ctx, stab, LRA_DIMS(1, 1, 1, 1));
        lra_ctx_set_grad_enabled(ctx, prev);
        stab->requires_grad = 0;
    } else {
        stab = const_max(ctx, proj, -2);
    }
    lra_tensor *e = lra_op_exp(ctx, lra_op_sub(ctx, lra_op_sub(ctx, proj, diag), stab));
    return lra_op_scale(ctx, lra_op_add_scalar(ctx, e, 1e-4f), 1.0f / sqrtf((float)s->m));
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *performer_forward(void *state, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                                     lra_tensor *mask, const lra_attn_call *call) {
    const performer_state *s = state;
    const int64_t p = q->shape[3];
    const float rho = powf((float)p, -0.25f);
    const float zs = s->double_scale ? rho * rho : rho;
    lra_tensor *W = lra_params_tensor(s->params, s->index);
    lra_tensor *mrow = lra_attn_mask_rows(ctx, mask);
    lra_tensor *phq = features(ctx, s, lra_op_scale(ctx, q, zs), W, 0);
    lra_tensor *phk = features(ctx, s, lra_op_mul(ctx, lra_op_scale(ctx, k, zs), mrow), W, 1);
    if (!s->pad_keys) phk = lra_op_mul(ctx, phk, mrow);
    lra_tensor *vm = lra_op_mul(ctx, v, mrow);
    lra_tensor *kv = lra_op_matmul(ctx, phk, vm, 1, 0);          // [B, H, m, p]
    lra_tensor *ksum = lra_op_sum(ctx, phk, 2, 1);               // [B, H, 1, m]
    lra_tensor *num = lra_op_matmul(ctx, phq, kv, 0, 0);         // [B, H, n, p]
    lra_tensor *den = lra_op_matmul(ctx, phq, ksum, 0, 1);       // [B, H, n, 1]
    return lra_op_div(ctx, num, den);
}

const lra_attn_kernel_def lra_attn_performer = {
    .name = "performer",
    .summary = "Performer FAVOR+: orthogonal positive random features of the softmax kernel (fixed at init)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = performer_create,
    .forward = performer_forward,
    .destroy = performer_destroy,
    .init_params = performer_init,
};
