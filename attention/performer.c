// `performer` (FAVOR+ positive random features for the softmax kernel, attention.md §2.8, §3).
// W [m, p]: ceil(m/p) blocks of p orthonormal rows (Gram-Schmidt of a Gaussian p x p matrix, the Q
// factor of its QR), row r scaled by the norm of an independent N(0, I_p) vector; a fixed buffer drawn
// once at init (init_params), never redrawn.
//   x_q = rho q, x_k = rho m k, v' = m v;  z = x (or rho x with double_scale, the reference quirk);
//   phi(z)_r = m^-1/2 (exp(w_r.z - |z|^2/2 - stab) + 1e-4), stab = per-row max for queries and the max over
//   the slice's keys (or over the whole batch with global_key_max) for keys; stabilisers are constants.
//   Padded keys get phi = 0 (pad_keys_in_denominator keeps the reference's nonzero value);
//   O_i = phi(q_i)^T (sum_j phi(k_j) v'_j^T) / (phi(q_i)^T sum_j phi(k_j)).
// kernel=relu (YOSO's "performer-256 (relu)", performer_pytorch generalized_kernel with kernel_fn ReLU):
//   phi(z)_r = m^-1/2 (relu(w_r.z) + 1e-3), same z, masking and normalisation (no stabiliser needed; the
//   m^-1/2 cancels in the ratio).  YOSO's code asks for it but performer_pytorch only uses kernel_fn when
//   generalized_attention=True, which YOSO never sets, so the YOSO runs used the softmax form.
// One composite node with a hand-written backward (stabilisers are constants); memory 2 n m per
// (example, head) for the saved features.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/fastmath.h"
#include "core/gemm.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"nb_features", LRA_OPT_INT, 128, 1, 1 << 16, NULL, "random features m (Skeinformer code 128; paper 256)",
     LRA_OPT_COUNT},
    {"double_scale", LRA_OPT_BOOL, 0, 0, 1, NULL, "scale by p^-1/4 twice, estimating exp(q.k/p) (reference)", 0},
    {"pad_keys_in_denominator", LRA_OPT_BOOL, 0, 0, 1, NULL, "padded keys add m^-1/2(e^-G + 1e-4) to the denominator (reference)", 0},
    {"global_key_max", LRA_OPT_BOOL, 0, 0, 1, NULL, "key stabiliser G = max over the whole batch (reference)", 0},
    {"kernel", LRA_OPT_ENUM, 0, 0, 0, "softmax|relu", "feature map: softmax (FAVOR+) or relu(w.z) + 1e-3 (YOSO's relu)", 0},
};

typedef struct {
    int64_t m;
    int double_scale, pad_keys, global_max, relu;
    int index, layer;
} performer_state;

static void *performer_create(const lra_attn_setup *setup, lra_params *params) {
    performer_state *s = lra_xcalloc(1, sizeof *s);
    s->m = (int64_t)lra_attn_value(setup->opts, "nb_features");
    s->double_scale = lra_attn_value(setup->opts, "double_scale") != 0;
    s->pad_keys = lra_attn_value(setup->opts, "pad_keys_in_denominator") != 0;
    s->global_max = lra_attn_value(setup->opts, "global_key_max") != 0;
    s->relu = (int)lra_attn_value(setup->opts, "kernel") == 1;
    s->layer = setup->layer;
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
    lra_rng r = lra_key_rng(
        lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_PERFORMER_FEATURES, .seed = seed, .layer = s->layer}));
    lra_attn_orthogonal_features(&r, lra_f32(W), m, p);
}

typedef struct {
    const performer_state *st;
    int64_t B, H, n, p, m;
    float zs, s;               // input scale, feature scale m^-1/2
    float eps;                 // feature offset: 1e-4 (softmax), 1e-3 (relu)
    const float *mask, *W;     // [B, n], [m, p]
    float *phq, *phk;          // [B, H, n, m] features (phk zeroed on padded keys unless pad_keys)
    float *kv, *den, *out;     // [B, H, m, p], [B, H, n], [B, H, n, p]
    double *ksum;              // [B, H, m]
} performer_saved;

// z = scale * x rows (times the mask for keys), proj = z W^T (skipped when NULL), diag = |z|^2 / 2.
static void project(const performer_saved *sv, const float *x, const float *mrow, float *z, float *proj,
                    float *diag) {
    const int64_t n = sv->n, p = sv->p, m = sv->m;
    for (int64_t i = 0; i < n; i++) {
        const float sc = sv->zs * (mrow ? mrow[i] : 1.0f);
        double d = 0.0;
        for (int64_t c = 0; c < p; c++) {
            z[i * p + c] = sc * x[i * p + c];
            d += (double)z[i * p + c] * z[i * p + c];
        }
        diag[i] = (float)(0.5 * d);
    }
    if (proj)
        lra_gemm(false, true, (int)n, (int)m, (int)p, 1.0f, z, (int)p, sv->W, (int)p,
                    0.0f, proj, (int)m);
}

static void performer_backward(lra_ctx *ctx, lra_node *node) {
    const performer_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const int64_t B = sv->B, H = sv->H, n = sv->n, p = sv->p, m = sv->m;
    float *dq = q->requires_grad ? lra_grad(ctx, q) : NULL;
    float *dk = k->requires_grad ? lra_grad(ctx, k) : NULL;
    float *dv = v->requires_grad ? lra_grad(ctx, v) : NULL;
    const float *dO = node->out->grad;
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)((3 * n * p + n * m + m * p + m + 2 * n + 15) / 16 * 16);
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * per * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *dnum = scratch + (size_t)omp_get_thread_num() * per, *z = dnum + n * p, *dz = z + n * p,
              *dphi = dz + n * p, *dkv = dphi + n * m, *dks = dkv + m * p, *dden = dks + m, *diag = dden + n;
        const float *mrow = sv->mask + (bh / H) * n;
        const size_t base = (size_t)bh * (size_t)(n * p), fbase = (size_t)bh * (size_t)(n * m);
        const float *phq = sv->phq + fbase, *phk = sv->phk + fbase, *kv = sv->kv + (size_t)bh * (size_t)(m * p);
        const double *ksum = sv->ksum + bh * m;
        const float *G = dO + base, *O = sv->out + base, *den = sv->den + bh * n;
        for (int64_t i = 0; i < n; i++) {
            const double r = lra_dot_double(G + i * p, O + i * p, p);
            const float inv = 1.0f / den[i];
            dden[i] = -(float)r * inv;
            for (int64_t c = 0; c < p; c++) dnum[i * p + c] = G[i * p + c] * inv;
        }
        // dkv = phq^T dnum, dksum = phq^T dden (fixed-order sums).
        lra_gemm(true, false, (int)m, (int)p, (int)n, 1.0f, phq, (int)m, dnum, (int)p,
                    0.0f, dkv, (int)p);
        for (int64_t r = 0; r < m; r++) dks[r] = 0.0f;
        for (int64_t i = 0; i < n; i++)
            for (int64_t r = 0; r < m; r++) dks[r] += phq[i * m + r] * dden[i];
        // Queries: dphi = dnum kv^T + dden ksum^T; dproj = dphi (phi - s eps); dz = dproj W - rowsum(dproj) z.
        // relu: dproj = dphi s [proj > 0] (phi > s eps exactly there), no |z|^2 term.
        lra_gemm(false, true, (int)n, (int)m, (int)p, 1.0f, dnum, (int)p, kv, (int)p,
                    0.0f, dphi, (int)m);
        for (int64_t pass = 0; pass < 2; pass++) {
            const float *x = pass ? lra_f32(k) + base : lra_f32(q) + base;
            const float *phi = pass ? phk : phq;
            const float *mk = pass ? mrow : NULL;
            float *dx = pass ? dk : dq;
            if (pass) {  // keys: dphi = v' dkv^T + 1 dksum^T, zero on padded keys (phi was masked there)
                for (int64_t i = 0; i < n; i++)
                    for (int64_t c = 0; c < p; c++) dnum[i * p + c] = mrow[i] * lra_f32(v)[base + i * p + c];
                lra_gemm(false, true, (int)n, (int)m, (int)p, 1.0f, dnum, (int)p, dkv,
                            (int)p, 0.0f, dphi, (int)m);
                for (int64_t i = 0; i < n; i++)
                    for (int64_t r = 0; r < m; r++) dphi[i * m + r] += dks[r];
                if (dv) {  // dv = m * (phk dkv); dz is free until the key pass below recomputes it
                    lra_gemm(false, false, n, p, m, 1.0f, phk, m, dkv, p, 0.0f, dz, p);
                    for (int64_t i = 0; i < n; i++)
                        if (mrow[i] != 0.0f)
                            for (int64_t c = 0; c < p; c++) dv[base + i * p + c] += dz[i * p + c];
                }
            } else {
                for (int64_t i = 0; i < n; i++)
                    for (int64_t r = 0; r < m; r++) dphi[i * m + r] += dden[i] * (float)ksum[r];
            }
            if (!dx) continue;
            project(sv, x, mk, z, NULL, diag);  // recompute z
            // the loop constants in locals: read through sv, the compiler must assume dphi's stores change them
            const float s_feat = sv->s, s_eps = sv->s * sv->eps;
            const int relu = sv->st->relu, key_mask = pass && !sv->st->pad_keys;
            for (int64_t i = 0; i < n; i++) {
                const float mi = key_mask ? mrow[i] : 1.0f;
                float *dphi_i = dphi + i * m;
                const float *phi_i = phi + i * m;
                if (mi == 0.0f)  // a padded key: no feature, no gradient (e = 0)
                    for (int64_t r = 0; r < m; r++) dphi_i[r] *= 0.0f;
                else if (relu)  // e = s where the projection is positive (phi > s eps exactly there)
                    for (int64_t r = 0; r < m; r++) dphi_i[r] *= mi * (phi_i[r] / mi - s_eps > 0.0f ? s_feat : 0.0f);
                else  // e = phi / mi - s eps; one loop per case, so each vectorises
                    for (int64_t r = 0; r < m; r++) dphi_i[r] *= mi * (phi_i[r] / mi - s_eps);
                diag[i] = sv->st->relu ? 0.0f : (float)lra_sum_double(dphi + i * m, m);
            }
            lra_gemm(false, false, (int)n, (int)p, (int)m, 1.0f, dphi, (int)m, sv->W,
                        (int)p, 0.0f, dz, (int)p);
            for (int64_t i = 0; i < n; i++) {
                const float sc = sv->zs * (mk ? mk[i] : 1.0f);
                for (int64_t c = 0; c < p; c++) dx[base + i * p + c] += sc * (dz[i * p + c] - diag[i] * z[i * p + c]);
            }
        }
    }
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
// Query features of slice bh: phq [n, m] (row-max stabilised); z [n, p] and diag [n] are scratch.
static void query_features(const performer_saved *sv, const float *q, int64_t bh, float *z, float *diag, float *phq) {
    const int64_t n = sv->n, p = sv->p, m = sv->m;
    project(sv, q + (size_t)bh * (size_t)(n * p), NULL, z, phq, diag);
    for (int64_t i = 0; i < n && sv->st->relu; i++)
        for (int64_t r = 0; r < m; r++) phq[i * m + r] = sv->s * ((phq[i * m + r] > 0.0f ? phq[i * m + r] : 0.0f) + sv->eps);
    for (int64_t i = 0; i < n && !sv->st->relu; i++) {
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int64_t r = 0; r < m; r++) mx = phq[i * m + r] > mx ? phq[i * m + r] : mx;
        for (int64_t r = 0; r < m; r++) phq[i * m + r] = sv->s * (lra_expf(phq[i * m + r] - diag[i] - mx) + 1e-4f);
    }
}

// Key projections of slice bh: projk [n, m] and kdiag [n]; returns their maximum (z [n, p] scratch).
static float key_projection(const performer_saved *sv, const float *k, int64_t bh, float *z, float *projk,
                            float *kdiag) {
    const int64_t n = sv->n, p = sv->p, m = sv->m;
    project(sv, k + (size_t)bh * (size_t)(n * p), sv->mask + (bh / sv->H) * n, z, projk, kdiag);
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t e = 0; e < n * m; e++) mx = projk[e] > mx ? projk[e] : mx;
    return mx;
}

// Slice bh's output rows o [n, p] from its query features and key projections: the key features in
// place of phk (from projk), kv = phk^T v' [m, p], ksum = sum_j phk_j [m], and the row denominators
// (den [n] when non-NULL, for backward).  vm [n, p] is scratch.
static void key_features_output(const performer_saved *sv, const float *v, int64_t bh, const float *phq, float *phk,
                                const float *kdiag, float kmax, float *vm, float *kv, double *ksum, float *o,
                                float *den) {
    const int64_t n = sv->n, p = sv->p, m = sv->m;
    const float *mrow = sv->mask + (bh / sv->H) * n, *vh = v + (size_t)bh * (size_t)(n * p);
    for (int64_t j = 0; j < n; j++) {
        const float keep = sv->st->pad_keys ? 1.0f : mrow[j];
        if (sv->st->relu)
            for (int64_t r = 0; r < m; r++)
                phk[j * m + r] = keep * sv->s * ((phk[j * m + r] > 0.0f ? phk[j * m + r] : 0.0f) + sv->eps);
        else
            for (int64_t r = 0; r < m; r++) phk[j * m + r] = keep * sv->s * (lra_expf(phk[j * m + r] - kdiag[j] - kmax) + 1e-4f);
        for (int64_t c = 0; c < p; c++) vm[j * p + c] = mrow[j] * vh[j * p + c];
    }
    lra_gemm(true, false, (int)m, (int)p, (int)n, 1.0f, phk, (int)m, vm, (int)p, 0.0f, kv, (int)p);
    for (int64_t r = 0; r < m; r++) ksum[r] = 0.0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t r = 0; r < m; r++) ksum[r] += phk[j * m + r];
    lra_gemm(false, false, (int)n, (int)p, (int)m, 1.0f, phq, (int)m, kv, (int)p, 0.0f, o, (int)p);
    for (int64_t i = 0; i < n; i++) {
        const double d = lra_dot_float_double(phq + i * m, ksum, m);
        if (den) den[i] = (float)d;
        const float inv = (float)(1.0 / d);
        for (int64_t c = 0; c < p; c++) o[i * p + c] *= inv;
    }
}

// The reference's global stabiliser: every slice's key maximum becomes the batch's.
static void global_key_max(float *kmax, int64_t count) {
    float g = -INFINITY;
    for (int64_t bh = 0; bh < count; bh++) g = kmax[bh] > g ? kmax[bh] : g;
    for (int64_t bh = 0; bh < count; bh++) kmax[bh] = g;
}

// Without a tape node (evaluation) each slice runs start to finish in per-thread scratch: no features
// of the whole batch are kept, so they stay in cache.  The same helpers in the same order as the
// recorded forward, so the same bits (test_attention.no_tape).
static void forward_untaped(const performer_saved *sv, const float *q, const float *k, const float *v, float *kmax,
                            lra_arena *A) {
    const int64_t BH = sv->B * sv->H, n = sv->n, p = sv->p, m = sv->m;
    const size_t per = (size_t)((2 * n * m + 2 * n * p + 2 * n + m * p + 2 * m + 15) / 16 * 16);
    float *scratch = lra_arena_alloc(A, (size_t)omp_get_max_threads() * per * sizeof(float));
    if (sv->st->global_max) {  // every slice's key maximum first (projections recomputed below)
#pragma omp parallel for schedule(static)
        for (int64_t bh = 0; bh < BH; bh++) {
            float *projk = scratch + (size_t)omp_get_thread_num() * per, *z = projk + n * m, *kdiag = z + n * p;
            kmax[bh] = key_projection(sv, k, bh, z, projk, kdiag);
        }
        global_key_max(kmax, BH);
    }
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < BH; bh++) {
        float *phq = scratch + (size_t)omp_get_thread_num() * per, *phk = phq + n * m, *z = phk + n * m;
        float *vm = z + n * p, *diag = vm + n * p, *kdiag = diag + n, *kv = kdiag + n;
        double *ksum = (double *)(kv + m * p);
        query_features(sv, q, bh, z, diag, phq);
        const float mx = key_projection(sv, k, bh, z, phk, kdiag);
        key_features_output(sv, v, bh, phq, phk, kdiag, sv->st->global_max ? kmax[bh] : mx, vm, kv, ksum,
                            sv->out + (size_t)bh * (size_t)(n * p), NULL);
    }
}

static lra_tensor *performer_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                     lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    (void)call;
    const performer_state *st = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], m = st->m;
    lra_arena *A = ctx->arena;
    performer_saved *sv = lra_arena_calloc(A, sizeof *sv);
    sv->st = st;
    sv->B = B, sv->H = H, sv->n = n, sv->p = p, sv->m = m;
    const float rho = powf((float)p, -0.25f);
    sv->zs = st->double_scale ? rho * rho : rho;
    sv->s = 1.0f / sqrtf((float)m);
    sv->eps = st->relu ? 1e-3f : 1e-4f;
    sv->mask = lra_f32(mask);
    sv->W = lra_f32(lra_params_tensor(params, st->index));
    float *kmax = lra_arena_alloc(A, (size_t)(B * H) * sizeof(float));
    lra_tensor *out = lra_tensor_new(A, LRA_F32, q->shape, 4);
    sv->out = lra_f32(out);
    const int saving = ctx->grad_enabled && (q->requires_grad || k->requires_grad || v->requires_grad);
    if (!saving) {
        forward_untaped(sv, lra_f32(q), lra_f32(k), lra_f32(v), kmax, A);
        return out;
    }
    const size_t nf = (size_t)(B * H * n * m);
    sv->phq = lra_arena_alloc(A, nf * sizeof(float));
    sv->phk = lra_arena_alloc(A, nf * sizeof(float));
    sv->kv = lra_arena_alloc(A, (size_t)(B * H * m * p) * sizeof(float));
    sv->ksum = lra_arena_alloc(A, (size_t)(B * H * m) * sizeof(double));
    sv->den = lra_arena_alloc(A, (size_t)(B * H * n) * sizeof(float));
    float *kdiag = lra_arena_alloc(A, (size_t)(B * H * n) * sizeof(float));
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)((n * p + 2 * n + 15) / 16 * 16);
    float *scratch = lra_arena_alloc(A, (size_t)nt * per * sizeof(float));
    // Pass 1: query features (row-max stabilised) and key projections with their max.
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *z = scratch + (size_t)omp_get_thread_num() * per, *diag = z + n * p;
        const size_t fbase = (size_t)bh * (size_t)(n * m);
        query_features(sv, lra_f32(q), bh, z, diag, sv->phq + fbase);
        kmax[bh] = key_projection(sv, lra_f32(k), bh, z, sv->phk + fbase, kdiag + bh * n);
    }
    if (st->global_max) global_key_max(kmax, B * H);
    // Pass 2: key features, kv = phk^T v', ksum, output.
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *vm = scratch + (size_t)omp_get_thread_num() * per;
        const size_t fbase = (size_t)bh * (size_t)(n * m);
        key_features_output(sv, lra_f32(v), bh, sv->phq + fbase, sv->phk + fbase, kdiag + bh * n, kmax[bh], vm,
                            sv->kv + (size_t)bh * (size_t)(m * p), sv->ksum + bh * m, sv->out + (size_t)bh * (size_t)(n * p),
                            sv->den + bh * n);
    }
    lra_node *nd = lra_tape_record(ctx, "attention.performer", performer_backward, out, 3, (lra_tensor *[]){q, k, v});
    if (nd) nd->extra = sv;
    return out;
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
    .conformance = {.small_opts = "nb_features=16", .approx_lo = 8, .approx_hi = 512},
};
