// `linear` (attention.md §2.11): linear attention with the elu+1 feature map (Katharopoulos et al. 2020),
// following mlpen/Nystromformer LRA/code/attention_linear.py.
//   phi(x) = elu(x) + 1 (element-wise, > 0);  Fq = s phi(q),  Fk = s m phi(k),  v' = m v;
//   C = Fk^T v' [p, p],  z = sum_j Fk_j [p];
//   normalize=true (default, the paper's form):  O_i = Fq_i C / (Fq_i . z + 1e-6), with s = 1 (s cancels);
//   normalize=false (the reference):             O_i = Fq_i C, with s = n^-1/4 (the reference divides by
//     Q.size(2)^(1/4), and Q is [B, H, n, p], so that is the length; scale_by=head_dim uses p^-1/4).
// Padded keys get Fk = 0 and v' = 0, so they influence nothing.  One composite node with a hand-written
// backward; only C, z and the denominators are kept ([p, p] + [p] + [n] per (example, head)), the
// features are recomputed from q and k.  Cost ~4 n p^2 MAC forward, ~8 n p^2 backward.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/fastmath.h"
#include "core/gemm.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"normalize", LRA_OPT_BOOL, 1, 0, 1, NULL, "divide by phi(q).sum_j phi(k_j) + 1e-6 (false = reference: no normalisation)", 0},
    {"scale_by", LRA_OPT_ENUM, 0, 0, 0, "seq_len|head_dim",
     "unnormalised scale s^2 on q.k: seq_len = n^-1/2 (reference: Q.size(2) is n), head_dim = p^-1/2", 0},
};

typedef struct {
    int normalize, scale_by_p;
} linear_state;

static void *linear_create(const lra_attn_setup *setup, lra_params *params) {
    linear_state *s = lra_xcalloc(1, sizeof *s);
    s->normalize = lra_attn_value(setup->opts, "normalize") != 0;
    s->scale_by_p = (int)lra_attn_value(setup->opts, "scale_by") == 1;
    return s;
}

static void linear_destroy(void *state) { free(state); }

#define LINEAR_EPS 1e-6f

typedef struct {
    int normalize;
    int64_t B, H, n, p;
    float s;               // feature scale (1 when normalised)
    const float *mask;     // [B, n]
    float *C, *z, *den;    // [B, H, p, p], [B, H, p], [B, H, n] (den unused without normalisation)
    float *out;            // [B, H, n, p]
} linear_saved;

// F = s * (elu(x) + 1) * m (m = mask row or NULL); D = dF/dx / (s m): 1 for x > 0, elu(x) + 1 otherwise.
static void features(const float *x, const float *mrow, int64_t n, int64_t p, float s, float *F, float *D) {
    for (int64_t i = 0; i < n; i++) {
        const float sc = mrow ? s * mrow[i] : s;
        const float *xi = x + i * p;
        float *fi = F + i * p;
        for (int64_t c = 0; c < p; c++) {
            const float e = xi[c] > 0.0f ? xi[c] + 1.0f : lra_expf(xi[c]);
            fi[c] = sc * e;
            if (D) D[i * p + c] = xi[c] > 0.0f ? 1.0f : e;
        }
    }
}

// d[i] = (float) sum_c F[i, c] z[c] for i < n, each sum in double with c in order.  Eight rows go
// together, one per vector lane, so the eight dependent chains of double additions overlap; a row alone
// was a 32-long chain of adds (about 4 cycles each), 11 ms of a 39 ms forward at n 2000.  Each lane
// computes exactly what the plain loop does, so the bits are the same.
static void row_dots(const float *F, const float *z, int64_t n, int64_t p, float *d) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        lra_v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
        const float *f = F + i * p;
        for (int64_t c = 0; c < p; c++) {
            const double zc = z[c];
            const lra_v4d a = {f[c], f[p + c], f[2 * p + c], f[3 * p + c]};
            const lra_v4d b = {f[4 * p + c], f[5 * p + c], f[6 * p + c], f[7 * p + c]};
            lo += a * zc;
            hi += b * zc;
        }
        for (int l = 0; l < 4; l++) d[i + l] = (float)lo[l], d[i + 4 + l] = (float)hi[l];
    }
    for (; i < n; i++) {
        double s = 0.0;
        for (int64_t c = 0; c < p; c++) s += (double)F[i * p + c] * z[c];
        d[i] = (float)s;
    }
}

static void linear_backward(lra_ctx *ctx, lra_node *node) {
    const linear_saved *sv = node->extra;
    lra_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const int64_t B = sv->B, H = sv->H, n = sv->n, p = sv->p;
    float *dq = q->requires_grad ? lra_grad(ctx, q) : NULL;
    float *dk = k->requires_grad ? lra_grad(ctx, k) : NULL;
    float *dv = v->requires_grad ? lra_grad(ctx, v) : NULL;
    const float *dO = node->out->grad;
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)((4 * n * p + n + p * p + p + 15) / 16 * 16);
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)nt * per * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *F = scratch + (size_t)omp_get_thread_num() * per, *D = F + n * p, *dnum = D + n * p, *dF = dnum + n * p,
              *dden = dF + n * p, *dC = dden + n, *dz = dC + p * p;
        const float *mrow = sv->mask + (bh / H) * n;
        const size_t base = (size_t)bh * (size_t)(n * p);
        const float *G = dO + base, *O = sv->out + base, *C = sv->C + (size_t)bh * (size_t)(p * p);
        const float *z = sv->z + bh * p, *den = sv->den + bh * n;
        // d(numerator) and d(denominator) per query row.
        for (int64_t i = 0; i < n; i++) {
            if (sv->normalize) {
                const double r = lra_dot_double(G + i * p, O + i * p, p);
                const float inv = 1.0f / den[i];
                dden[i] = -(float)r * inv;
                for (int64_t c = 0; c < p; c++) dnum[i * p + c] = G[i * p + c] * inv;
            } else {
                dden[i] = 0.0f;
                memcpy(dnum + i * p, G + i * p, (size_t)p * sizeof(float));
            }
        }
        // Queries: dFq = dnum C^T + dden z^T; dC = Fq^T dnum, dz = Fq^T dden.
        features(lra_f32(q) + base, NULL, n, p, sv->s, F, D);
        lra_gemm(true, false, p, p, n, 1.0f, F, p, dnum, p, 0.0f, dC, p);
        for (int64_t c = 0; c < p; c++) dz[c] = 0.0f;
        if (sv->normalize)
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = 0; c < p; c++) dz[c] += F[i * p + c] * dden[i];
        if (dq) {
            lra_gemm(false, true, n, p, p, 1.0f, dnum, p, C, p, 0.0f, dF, p);
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = 0; c < p; c++)
                    dq[base + i * p + c] += sv->s * D[i * p + c] * (dF[i * p + c] + dden[i] * z[c]);
        }
        // Keys and values: dFk = v' dC^T + 1 dz^T, dv' = Fk dC (Fk and v' are zero on padded keys).
        features(lra_f32(k) + base, mrow, n, p, sv->s, F, D);
        if (dv) lra_gemm(false, false, n, p, p, 1.0f, F, p, dC, p, 1.0f, dv + base, p);
        if (dk) {
            const float *vv = lra_f32(v) + base;
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = 0; c < p; c++) dnum[i * p + c] = mrow[i] * vv[i * p + c];
            lra_gemm(false, true, n, p, p, 1.0f, dnum, p, dC, p, 0.0f, dF, p);
            for (int64_t i = 0; i < n; i++) {
                const float sc = sv->s * mrow[i];
                for (int64_t c = 0; c < p; c++) dk[base + i * p + c] += sc * D[i * p + c] * (dF[i * p + c] + dz[c]);
            }
        }
    }
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *linear_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                  lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const linear_state *st = state;
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    lra_arena *A = ctx->arena;
    linear_saved *sv = lra_arena_calloc(A, sizeof *sv);
    sv->normalize = st->normalize;
    sv->B = B, sv->H = H, sv->n = n, sv->p = p;
    sv->s = st->normalize ? 1.0f : powf((float)(st->scale_by_p ? p : n), -0.25f);
    sv->mask = lra_f32(mask);
    sv->C = lra_arena_alloc(A, (size_t)(B * H * p * p) * sizeof(float));
    sv->z = lra_arena_alloc(A, (size_t)(B * H * p) * sizeof(float));
    sv->den = lra_arena_alloc(A, (size_t)(B * H * n) * sizeof(float));
    lra_tensor *out = lra_tensor_new(A, LRA_F32, q->shape, 4);
    sv->out = lra_f32(out);
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)((2 * n * p + 15) / 16 * 16);
    float *scratch = lra_arena_alloc(A, (size_t)nt * per * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        float *F = scratch + (size_t)omp_get_thread_num() * per, *vm = F + n * p;
        const float *mrow = sv->mask + (bh / H) * n;
        const size_t base = (size_t)bh * (size_t)(n * p);
        float *C = sv->C + (size_t)bh * (size_t)(p * p), *z = sv->z + bh * p, *o = sv->out + base;
        // C = Fk^T v', z = column sums of Fk (fixed order).
        features(lra_f32(k) + base, mrow, n, p, sv->s, F, NULL);
        const float *vv = lra_f32(v) + base;
        for (int64_t j = 0; j < n; j++)
            for (int64_t c = 0; c < p; c++) vm[j * p + c] = mrow[j] * vv[j * p + c];
        lra_gemm(true, false, p, p, n, 1.0f, F, p, vm, p, 0.0f, C, p);
        for (int64_t c = 0; c < p; c++) z[c] = 0.0f;
        for (int64_t j = 0; j < n; j++)
            for (int64_t c = 0; c < p; c++) z[c] += F[j * p + c];
        // O = Fq C (/ (Fq z + eps)).
        features(lra_f32(q) + base, NULL, n, p, sv->s, F, NULL);
        lra_gemm(false, false, n, p, p, 1.0f, F, p, C, p, 0.0f, o, p);
        if (!sv->normalize) continue;
        row_dots(F, z, n, p, sv->den + bh * n);
        for (int64_t i = 0; i < n; i++) {
            const float den = sv->den[bh * n + i] + LINEAR_EPS;
            sv->den[bh * n + i] = den;
            const float inv = 1.0f / den;
            for (int64_t c = 0; c < p; c++) o[i * p + c] *= inv;
        }
    }
    lra_node *nd = lra_tape_record(ctx, "attention.linear", linear_backward, out, 3, (lra_tensor *[]){q, k, v});
    if (nd) nd->extra = sv;
    return out;
}

const lra_attn_kernel_def lra_attn_linear = {
    .name = "linear",
    .summary = "linear attention with elu+1 features (Katharopoulos et al.), normalised by default",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = linear_create,
    .forward = linear_forward,
    .destroy = linear_destroy,
};
