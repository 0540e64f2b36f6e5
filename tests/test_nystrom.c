// The fused `nystrom` kernel (attention/nystrom.c) against a naive double-precision reference of
// attention.md §2.7: outputs, and input gradients against central finite differences of the reference,
// for the three pinv inits (the global ones couple the examples), with padding, and with a strided
// (non-contiguous) input.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/params.h"
#include "tests/harness.h"

enum { NB = 2, NH = 2, NN = 16, NP = 4, NL = 4, NITERS = 6 };
#define NQ (NB * NH * NN * NP)

// Row softmax of s [rows, cols] in place; keys with keep[j] == 0 excluded (keep NULL: all keys).
static void ref_softmax(double *s, int rows, int cols, const int *keep) {
    for (int r = 0; r < rows; r++) {
        double *row = s + r * cols, mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < cols; j++)
            if (!keep || keep[j]) mx = fmax(mx, row[j]);
        for (int j = 0; j < cols; j++) {
            row[j] = (!keep || keep[j]) ? exp(row[j] - mx) : 0.0;
            sum += row[j];
        }
        for (int j = 0; j < cols; j++) row[j] /= sum;
    }
}

// c = a b for [m, m] matrices
static void ref_mm(const double *a, const double *b, double *c, int m) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double acc = 0.0;
            for (int t = 0; t < m; t++) acc += a[i * m + t] * b[t * m + j];
            c[i * m + j] = acc;
        }
}

// Nystromformer attention in double.  q, k, v: [NB, NH, NN, NP], mask [NB, NN], init 0/1/2 as
// lra_pinv_init -> o [NB, NH, NN, NP].
static void ref_nystrom(const double *q, const double *k, const double *v, const float *mask, int init, double *o) {
    static double F[NB * NH][NN * NL], A[NB * NH][NL * NL], Bm[NB * NH][NL * NN];
    const double s = pow((double)NP, -0.25);
    const int seg = NN / NL;
    for (int bh = 0; bh < NB * NH; bh++) {
        const int b = bh / NH;
        double qt[NN * NP], kt[NN * NP], Ql[NL * NP] = {0}, Kl[NL * NP] = {0};
        int keep[NN], any = 0;
        for (int i = 0; i < NN; i++) {
            keep[i] = mask[b * NN + i] != 0.0f;
            any |= keep[i];
            for (int c = 0; c < NP; c++) {
                qt[i * NP + c] = q[(bh * NN + i) * NP + c] * mask[b * NN + i] * s;
                kt[i * NP + c] = k[(bh * NN + i) * NP + c] * mask[b * NN + i] * s;
                Ql[(i / seg) * NP + c] += qt[i * NP + c] / seg;
                Kl[(i / seg) * NP + c] += kt[i * NP + c] / seg;
            }
        }
        for (int i = 0; i < NN; i++)
            for (int a = 0; a < NL; a++) {
                double f = 0.0, g = 0.0;
                for (int c = 0; c < NP; c++) {
                    f += qt[i * NP + c] * Kl[a * NP + c];
                    g += Ql[a * NP + c] * kt[i * NP + c];
                }
                F[bh][i * NL + a] = f;
                Bm[bh][a * NN + i] = g;
            }
        for (int a = 0; a < NL; a++)
            for (int e = 0; e < NL; e++) {
                double acc = 0.0;
                for (int c = 0; c < NP; c++) acc += Ql[a * NP + c] * Kl[e * NP + c];
                A[bh][a * NL + e] = acc;
            }
        ref_softmax(F[bh], NN, NL, NULL);
        ref_softmax(A[bh], NL, NL, NULL);
        ref_softmax(Bm[bh], NL, NN, any ? keep : NULL);
    }
    // c0: max column sum, per matrix or over the batch (times the max row sum for init 2)
    double cmax[NB * NH], gcol = -INFINITY, grow = -INFINITY;
    for (int bh = 0; bh < NB * NH; bh++) {
        cmax[bh] = -INFINITY;
        for (int j = 0; j < NL; j++) {
            double cs = 0.0, rs = 0.0;
            for (int i = 0; i < NL; i++) {
                cs += A[bh][i * NL + j];
                rs += A[bh][j * NL + i];
            }
            cmax[bh] = fmax(cmax[bh], cs);
            grow = fmax(grow, rs);
        }
        gcol = fmax(gcol, cmax[bh]);
    }
    for (int bh = 0; bh < NB * NH; bh++) {
        const double c0 = init == 0 ? cmax[bh] : init == 1 ? gcol : gcol * grow;
        double Z[NL * NL], AZ[NL * NL], t[NL * NL], u[NL * NL];
        for (int i = 0; i < NL; i++)
            for (int j = 0; j < NL; j++) Z[i * NL + j] = A[bh][j * NL + i] / c0;
        for (int it = 0; it < NITERS; it++) {
            ref_mm(A[bh], Z, AZ, NL);
            for (int e = 0; e < NL * NL; e++) t[e] = (e % (NL + 1) == 0 ? 7.0 : 0.0) - AZ[e];
            ref_mm(AZ, t, u, NL);
            for (int e = 0; e < NL * NL; e++) u[e] = (e % (NL + 1) == 0 ? 15.0 : 0.0) - u[e];
            ref_mm(AZ, u, t, NL);
            for (int e = 0; e < NL * NL; e++) t[e] = (e % (NL + 1) == 0 ? 13.0 : 0.0) - t[e];
            ref_mm(Z, t, u, NL);
            for (int e = 0; e < NL * NL; e++) Z[e] = 0.25 * u[e];
        }
        double W[NL * NP] = {0}, U[NL * NP] = {0};
        for (int a = 0; a < NL; a++)
            for (int j = 0; j < NN; j++)
                for (int c = 0; c < NP; c++) W[a * NP + c] += Bm[bh][a * NN + j] * v[(bh * NN + j) * NP + c];
        for (int a = 0; a < NL; a++)
            for (int e = 0; e < NL; e++)
                for (int c = 0; c < NP; c++) U[a * NP + c] += Z[a * NL + e] * W[e * NP + c];
        for (int i = 0; i < NN; i++)
            for (int c = 0; c < NP; c++) {
                double acc = 0.0;
                for (int a = 0; a < NL; a++) acc += F[bh][i * NL + a] * U[a * NP + c];
                o[(bh * NN + i) * NP + c] = acc;
            }
    }
}

static double ref_loss(const double *q, const double *k, const double *v, const float *mask, int init,
                       const float *r) {
    static double o[NQ];
    ref_nystrom(q, k, v, mask, init, o);
    double L = 0.0;
    for (int e = 0; e < NQ; e++) L += o[e] * r[e];
    return L;
}

// max |a - b| / max |b|
static double rel_err(const float *a, const double *b, int n) {
    double md = 0.0, mb = 0.0;
    for (int e = 0; e < n; e++) {
        md = fmax(md, fabs((double)a[e] - b[e]));
        mb = fmax(mb, fabs(b[e]));
    }
    return md / (mb > 0 ? mb : 1.0);
}

// Kernel output and d(sum(O * R))/d(q, k, v) against the reference, for one init and padding.
static void check_case(int init, const int *len, int strided) {
    static const char *inits[] = {"per_matrix", "global", "global_abs_prod"};
    const lra_attn_kernel_def *def = lra_attention_find("nystrom");
    REQUIRE(def);
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    CHECK_OK(lra_attn_values_set(def, &vals, "num_landmarks", "4"));
    CHECK_OK(lra_attn_values_set(def, &vals, "pinv_iters", "6"));
    CHECK_OK(lra_attn_values_set(def, &vals, "pinv_init", inits[init]));
    lra_attn_setup setup = {.layer = 0, .n_heads = NH, .head_dim = NP, .model_dim = NH * NP, .seq_len = NN,
                            .opts = &vals, .prefix = "t.attn."};
    lra_attn_instance inst;
    CHECK_OK(lra_attn_instance_make(&inst, def, &setup, NULL, 0));
    // q is made as [B, H, p, n] and transposed when `strided`: the instance makes it contiguous.
    lra_tensor *q0 = strided ? lra_gradcheck_input(LRA_DIMS(NB, NH, NP, NN), 31, 1.5f, 0.0f, 1)
                             : lra_gradcheck_input(LRA_DIMS(NB, NH, NN, NP), 31, 1.5f, 0.0f, 1);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(NB, NH, NN, NP), 32, 1.5f, 0.0f, 1);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(NB, NH, NN, NP), 33, 1.0f, 0.0f, 1);
    lra_tensor *r = lra_gradcheck_input(LRA_DIMS(NB, NH, NN, NP), 34, 1.0f, 0.0f, 0);
    lra_tensor *mask = lra_gradcheck_input(LRA_DIMS(NB, NN), 35, 0.0f, 0.0f, 0);
    for (int b = 0; b < NB; b++)
        for (int j = 0; j < NN; j++) lra_f32(mask)[b * NN + j] = j < len[b] ? 1.0f : 0.0f;
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *q = strided ? lra_op_transpose(ctx, q0, 2, 3) : q0;
    lra_attn_call call = {.seed = 1, .step = 0};
    lra_tensor *o = lra_attn_instance_forward(&inst, ctx, q, k, v, mask, &call);
    lra_backward(ctx, lra_op_sum_all(ctx, lra_op_mul(ctx, o, r)));

    static double qd[NQ], kd[NQ], vd[NQ], od[NQ], g[3][NQ];
    static float of[NQ];
    for (int e = 0; e < NQ; e++) {
        qd[e] = lra_tensor_get_flat(q, e);
        kd[e] = lra_f32(k)[e];
        vd[e] = lra_f32(v)[e];
        of[e] = lra_tensor_get_flat(o, e);
    }
    ref_nystrom(qd, kd, vd, lra_f32(mask), init, od);
    const double eo = rel_err(of, od, NQ);
    CHECK_MSG(eo < 1e-5, "%s pad %d/%d strided %d: output rel err %g", inits[init], len[0], len[1], strided, eo);
    double *xs[3] = {qd, kd, vd};
    for (int t = 0; t < 3; t++)
        for (int e = 0; e < NQ; e++) {
            const double x = xs[t][e], h = 1e-5 * fmax(1.0, fabs(x));
            xs[t][e] = x + h;
            const double lp = ref_loss(qd, kd, vd, lra_f32(mask), init, lra_f32(r));
            xs[t][e] = x - h;
            const double lm = ref_loss(qd, kd, vd, lra_f32(mask), init, lra_f32(r));
            xs[t][e] = x;
            g[t][e] = (lp - lm) / (2 * h);
        }
    // The gradient of q0 is laid out as q0: [B, H, p, n] when strided.
    static float gq[NQ];
    const float *gq0 = lra_grad(ctx, q0);
    for (int e = 0; e < NQ; e++) {
        const int bh = e / (NN * NP), i = (e / NP) % NN, c = e % NP;
        gq[e] = strided ? gq0[(bh * NP + c) * NN + i] : gq0[e];
    }
    const float *gk[3] = {gq, lra_grad(ctx, k), lra_grad(ctx, v)};
    static const char *names[3] = {"q", "k", "v"};
    for (int t = 0; t < 3; t++) {
        const double eg = rel_err(gk[t], g[t], NQ);
        CHECK_MSG(eg < 2e-5, "%s pad %d/%d strided %d: d%s rel err %g", inits[init], len[0], len[1], strided,
                  names[t], eg);
    }
    lra_ctx_free(ctx);
    lra_attn_instance_free(&inst);
    lra_tensor *ts[] = {q0, k, v, r, mask};
    for (int i = 0; i < 5; i++) lra_gradcheck_free_input(ts[i]);
}

static void test_per_matrix(void) {
    const int full[2] = {NN, NN}, pad[2] = {NN, 11};
    check_case(0, full, 0);
    check_case(0, pad, 0);
    check_case(0, pad, 1);
}

static void test_global(void) {
    const int pad[2] = {13, NN};
    check_case(1, pad, 0);
}

static void test_global_abs_prod(void) {
    const int pad[2] = {NN, 6};
    check_case(2, pad, 0);
}

// An example without any real token attends to every key (the mask is ignored), as in the references.
static void test_all_padding(void) {
    const int pad[2] = {0, NN};
    check_case(0, pad, 0);
}

static const lra_test_case TESTS[] = {
    {"per_matrix", test_per_matrix},
    {"global", test_global},
    {"global_abs_prod", test_global_abs_prod},
    {"all_padding", test_all_padding},
};
LRA_TEST_MAIN(TESTS)
