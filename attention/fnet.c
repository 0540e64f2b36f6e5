// `fnet`: Fourier token mixing (Lee-Thorp et al., FNet), a token mixer (attention.h `mix`):
//   Y = Re( DFT_n( DFT_D(X) ) )   for each example, X [n, D] the layer input,
// the real part of the 2-D DFT over the sequence and the hidden dimension, no parameters, no output
// projection (as in the PoNet repo's LRA attention_fnet.py: torch.fft.fft(torch.fft.fft(X, -1), -2).real
// with the layer's `ff` replaced by the identity).
//
// How: Z = rfft_n(X) column by column gives the rows m <= n/2 of DFT_n(X); row n-m is conj(Z[m]).  For a
// row z = a + i c (a, c real [D]), Re DFT_D(z)[k] = Re F(a)[k] - Im F(c)[k] with F the real DFT over D
// (k > D/2 from Hermitian symmetry), and the conjugate row n-m gets Re F(a)[k] + Im F(c)[k].  So two real
// FFTs per row; any n and D (core/fft handles every length).  O(n D (log n + log D)).
//
// The map X -> Re(F_n X F_D) is linear with a symmetric matrix (the DFT matrices are symmetric), so it
// is its own adjoint: the backward applies the same transform to dY.  One composite tape node.
//
// Padding: FNet ignores the mask.  By default (mask_input=true) padded tokens are zeroed before the
// transform, so their values cannot reach the real rows (the real rows still depend on the padded
// length n, which is the DFT length); mask_input=false reproduces the reference exactly.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/fft.h"
#include "core/ops.h"

static const lra_attn_option k_options[] = {
    {"mask_input", LRA_OPT_BOOL, 1, 0, 1, NULL, "zero padded tokens before the transform (false: the reference ignores the mask)", 0},
    {"norm", LRA_OPT_ENUM, 0, 0, 0, "none|ortho", "scaling of the transform: none (reference) or 1/sqrt(n D)", 0},
};

typedef struct {
    int mask_input;
    float scale;
} fnet_state;

typedef struct {
    int mask_input;
    float scale;
    const float *mask;  // [B, n]
} fnet_saved;

static void *fnet_create(const lra_attn_setup *setup, lra_params *params) {
    fnet_state *s = lra_xcalloc(1, sizeof *s);
    s->mask_input = lra_attn_value(setup->opts, "mask_input") != 0;
    s->scale = lra_attn_value(setup->opts, "norm") == 1 ? -1.0f : 1.0f;  // ortho: resolved per call (n, D)
    return s;
}

static void fnet_destroy(void *state) { free(state); }

// out [B, n, D] = scale * Re(DFT_n DFT_D (mask .* in)) (mask may be NULL).  Deterministic: every output row
// pair is computed by one thread.
static void fnet_transform(lra_ctx *ctx, const float *in, const float *mask, float *out, int64_t B, int64_t n,
                           int64_t D, float scale) {
    const int64_t nb = n / 2 + 1, db = D / 2 + 1;
    const float *src = in;
    if (mask) {  // zero the padded rows first
        float *xm = lra_arena_alloc(ctx->arena, (size_t)(B * n * D) * sizeof(float));
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < B * n; r++)
            for (int64_t c = 0; c < D; c++) xm[r * D + c] = mask[r] != 0.0f ? in[r * D + c] : 0.0f;
        src = xm;
    }
    float *Z = lra_arena_alloc(ctx->arena, (size_t)(B * nb * D * 2) * sizeof(float));  // [B, nb, D] complex
    const lra_fft_layout lay = {.outer = B, .inner = D, .in_outer = n * D, .in_inner = 1, .in_stride = D,
                                .out_outer = nb * D * 2, .out_inner = 2, .out_stride = 2 * D};
    lra_fft_many(lra_fft_plan_get(n), LRA_FFT_RFFT, &lay, src, Z);
    const lra_fft_plan *pd = lra_fft_plan_get(D);
    const int nt = omp_get_max_threads();
    const int64_t per = 2 * D + 4 * db;
    float *scratch = lra_arena_alloc(ctx->arena, (size_t)(nt * per) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < B * nb; t++) {
        float *a = scratch + (size_t)omp_get_thread_num() * (size_t)per, *c = a + D, *Fa = c + D, *Fc = Fa + 2 * db;
        const int64_t b = t / nb, m = t % nb;
        const float *z = Z + (size_t)t * (size_t)(D * 2);
        for (int64_t d = 0; d < D; d++) {
            a[d] = z[2 * d];
            c[d] = z[2 * d + 1];
        }
        lra_fft_rfft(pd, a, Fa);
        lra_fft_rfft(pd, c, Fc);
        float *row = out + (b * n + m) * D;
        float *mirror = (m > 0 && n - m != m) ? out + (b * n + (n - m)) * D : NULL;
        for (int64_t k = 0; k < D; k++) {
            const int64_t kk = k < db ? k : D - k;       // Hermitian partner for k > D/2
            const float sgn = k < db ? 1.0f : -1.0f;     // Im F[k] = -Im F[D-k]
            const float re = Fa[2 * kk], im = sgn * Fc[2 * kk + 1];
            row[k] = scale * (re - im);
            if (mirror) mirror[k] = scale * (re + im);
        }
    }
}

static float resolved_scale(float s, int64_t n, int64_t D) { return s < 0 ? 1.0f / sqrtf((float)(n * D)) : s; }

static void fnet_backward(lra_ctx *ctx, lra_node *node) {
    const fnet_saved *sv = node->extra;
    lra_tensor *x = node->in[0];
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2];
    float *g = lra_arena_alloc(ctx->arena, (size_t)(B * n * D) * sizeof(float));
    fnet_transform(ctx, node->out->grad, NULL, g, B, n, D, sv->scale);  // the transform is self-adjoint
    float *dx = lra_grad(ctx, x);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < B * n; r++) {
        if (sv->mask_input && sv->mask[r] == 0.0f) continue;  // zeroed inputs get no gradient
        for (int64_t c = 0; c < D; c++) dx[r * D + c] += g[r * D + c];
    }
}

// x: [B, n, D], mask [B, n] (contiguous) -> [B, n, D]
static lra_tensor *fnet_mix(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                            const lra_attn_call *call) {
    const fnet_state *st = state;
    const int64_t B = x->shape[0], n = x->shape[1], D = x->shape[2];
    fnet_saved *sv = lra_arena_alloc(ctx->arena, sizeof *sv);
    sv->mask_input = st->mask_input;
    sv->scale = resolved_scale(st->scale, n, D);
    sv->mask = lra_f32(mask);
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, x->shape, 3);
    fnet_transform(ctx, lra_f32(x), st->mask_input ? sv->mask : NULL, lra_f32(out), B, n, D, sv->scale);
    lra_node *nd = lra_tape_record(ctx, "attention.fnet", fnet_backward, out, 1, (lra_tensor *[]){x});
    if (nd) nd->extra = sv;
    return out;
}

const lra_attn_kernel_def lra_attn_fnet = {
    .name = "fnet",
    .summary = "FNet token mixer: real part of the 2-D DFT over sequence and hidden (no parameters)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = fnet_create,
    .mix = fnet_mix,
    .destroy = fnet_destroy,
    .conformance = {0},
};
