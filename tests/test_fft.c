// Tests of the real FFT: against a naive DFT in double for every length 1..70 and large composite /
// prime lengths, round trips, the adjoint identities of the backward functions, torch.autograd
// reference values, finite differences, the strided batch interface and thread safety.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/fft.h"
#include "core/rng.h"
#include "core/status.h"
#include "tests/harness.h"

static void random_fill(float *x, int64_t n, uint64_t stream) { lra_rng_fill_uniform(17, stream, 0, x, (size_t)n); }

static void random_signed(float *x, int64_t n, uint64_t stream) {
    random_fill(x, n, stream);
    for (int64_t i = 0; i < n; i++) x[i] = 2.0f * x[i] - 1.0f;
}

// cos/sin of 2 pi e / n for e < n, computed directly in double (the naive reference's twiddles).
static double *g_cos, *g_sin;

static void naive_table(int64_t n) {
    g_cos = realloc(g_cos, (size_t)n * sizeof(double));
    g_sin = realloc(g_sin, (size_t)n * sizeof(double));
    for (int64_t e = 0; e < n; e++) {
        g_cos[e] = cos(2.0 * M_PI * (double)e / (double)n);
        g_sin[e] = sin(2.0 * M_PI * (double)e / (double)n);
    }
}

// Naive rfft bin k in double with exact reduction of j*k mod n.
static void naive_bin(const float *x, int64_t n, int64_t k, double *re, double *im) {
    double sr = 0, si = 0;
    int64_t e = 0;
    for (int64_t j = 0; j < n; j++) {
        sr += x[j] * g_cos[e];
        si -= x[j] * g_sin[e];
        e += k;
        if (e >= n) e -= n;
    }
    *re = sr;
    *im = si;
}

// Naive irfft sample j (imaginary parts of DC/Nyquist ignored, as numpy does).
static double naive_inverse(const float *X, int64_t n, int64_t j) {
    int64_t nb = n / 2 + 1;
    double s = X[0];
    int64_t e = 0;
    for (int64_t k = 1; k < nb; k++) {
        e += j;
        if (e >= n) e -= n;
        double term = X[2 * k] * g_cos[e] - X[2 * k + 1] * g_sin[e];
        s += (n % 2 == 0 && k == n / 2) ? X[2 * k] * g_cos[e] : 2.0 * term;
    }
    return s / (double)n;
}

// Compares rfft and irfft of length n with the naive sums on `nbins` bins / samples (all when <= 0).
// Returns the worst error relative to the largest reference magnitude.
static double check_length(int64_t n, int64_t nsample) {
    int64_t nb = n / 2 + 1;
    float *x = malloc((size_t)n * sizeof(float)), *X = malloc((size_t)(2 * nb) * sizeof(float));
    float *S = malloc((size_t)(2 * nb) * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    random_signed(x, n, (uint64_t)n);
    random_signed(S, 2 * nb, (uint64_t)n + 1000000);
    lra_fft_plan *p = lra_fft_plan_new(n);
    lra_fft_rfft(p, x, X);
    lra_fft_irfft(p, S, y);
    lra_rng r = lra_rng_make(3, (uint64_t)n);
    naive_table(n);
    double worst = 0, ref_max = 0, ref_max_inv = 0, worst_inv = 0;
    int64_t count = nsample <= 0 ? nb : nsample;
    for (int64_t t = 0; t < count; t++) {
        int64_t k = nsample <= 0 ? t : (t == 0 ? nb - 1 : lra_rng_int(&r, 0, nb));
        double re, im;
        naive_bin(x, n, k, &re, &im);
        ref_max = fmax(ref_max, hypot(re, im));
        worst = fmax(worst, hypot(X[2 * k] - re, X[2 * k + 1] - im));
    }
    int64_t count_inv = nsample <= 0 ? n : nsample;
    for (int64_t t = 0; t < count_inv; t++) {
        int64_t j = nsample <= 0 ? t : lra_rng_int(&r, 0, n);
        double ref = naive_inverse(S, n, j);
        ref_max_inv = fmax(ref_max_inv, fabs(ref));
        worst_inv = fmax(worst_inv, fabs(y[j] - ref));
    }
    lra_fft_plan_free(p);
    free(x), free(X), free(S), free(y);
    double e1 = worst / fmax(ref_max, 1e-30), e2 = worst_inv / fmax(ref_max_inv, 1e-30);
    return fmax(e1, e2);
}

static void test_matches_naive_small(void) {
    for (int64_t n = 1; n <= 70; n++) {
        double err = check_length(n, 0);
        CHECK_MSG(err < 1e-6, "n=%lld: relative error %.3g", (long long)n, err);
    }
    free(g_cos), free(g_sin);
    g_cos = g_sin = NULL;
}

static void test_matches_naive_large(void) {
    // Powers of two, mixed radix, a large prime (Bluestein), primes times small factors, generic radices.
    static const int64_t full[] = {1000, 1024, 2048, 4096, 4093, 5000, 2 * 4093, 3 * 7 * 11 * 13, 29 * 31 * 2, 1031};
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        double err = check_length(full[i], 0);
        CHECK_MSG(err < 1e-6, "n=%lld: relative error %.3g", (long long)full[i], err);
    }
    static const int64_t sampled[] = {65536, 65537, 65535, 4000 * 16, 2 * 65537, 16384 * 3};
    for (size_t i = 0; i < sizeof sampled / sizeof sampled[0]; i++) {
        double err = check_length(sampled[i], 48);
        CHECK_MSG(err < 1e-6, "n=%lld: relative error %.3g", (long long)sampled[i], err);
    }
    free(g_cos), free(g_sin);
    g_cos = g_sin = NULL;
}

static void test_round_trip(void) {
    static const int64_t ns[] = {1, 2, 3, 8, 17, 97, 360, 1009, 4096, 4093, 12345};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int64_t n = ns[i], nb = n / 2 + 1;
        float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
        float *X = malloc((size_t)(2 * nb) * sizeof(float));
        random_signed(x, n, 77 + (uint64_t)n);
        const lra_fft_plan *p = lra_fft_plan_get(n);
        CHECK(p == lra_fft_plan_get(n));
        CHECK_EQ_INT(lra_fft_plan_length(p), n);
        lra_fft_rfft(p, x, X);
        CHECK(X[1] == 0.0f);  // DC (and Nyquist) of a real signal are exactly real
        if (n % 2 == 0) CHECK(X[2 * (nb - 1) + 1] == 0.0f);
        lra_fft_irfft(p, X, y);
        double worst = 0;
        for (int64_t j = 0; j < n; j++) worst = fmax(worst, fabs(y[j] - x[j]));
        CHECK_MSG(worst < 1e-6, "n=%lld round trip error %.3g", (long long)n, worst);
        free(x), free(y), free(X);
    }
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void test_adjoint_identities(void) {
    static const int64_t ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 31, 64, 100, 127, 1024, 4093, 5000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int64_t n = ns[i], nb = n / 2 + 1;
        float *x = malloc((size_t)n * sizeof(float)), *Y = malloc((size_t)(2 * nb) * sizeof(float));
        float *X = malloc((size_t)(2 * nb) * sizeof(float)), *gx = calloc((size_t)n, sizeof(float));
        float *y = malloc((size_t)n * sizeof(float)), *gX = calloc((size_t)(2 * nb), sizeof(float));
        float *iy = malloc((size_t)n * sizeof(float));
        random_signed(x, n, 500 + (uint64_t)n);
        random_signed(Y, 2 * nb, 600 + (uint64_t)n);  // nonzero imaginary parts at DC/Nyquist too
        random_signed(y, n, 700 + (uint64_t)n);
        lra_fft_plan *p = lra_fft_plan_new(n);
        // <rfft(x), Y> = <x, rfft_backward(Y)>
        lra_fft_rfft(p, x, X);
        lra_fft_rfft_backward(p, Y, gx);
        double lhs = dot(X, Y, 2 * nb), rhs = dot(x, gx, n);
        double scale = sqrt(dot(X, X, 2 * nb) * dot(Y, Y, 2 * nb)) + 1e-12;
        CHECK_MSG(fabs(lhs - rhs) <= 1e-6 * scale, "rfft adjoint n=%lld: %.9g vs %.9g", (long long)n, lhs, rhs);
        // <irfft(Y), y> = <Y, irfft_backward(y)>
        lra_fft_irfft(p, Y, iy);
        lra_fft_irfft_backward(p, y, gX);
        lhs = dot(iy, y, n);
        rhs = dot(Y, gX, 2 * nb);
        scale = sqrt(dot(Y, Y, 2 * nb) * dot(y, y, n)) / sqrt((double)n) + 1e-12;
        CHECK_MSG(fabs(lhs - rhs) <= 1e-6 * scale, "irfft adjoint n=%lld: %.9g vs %.9g", (long long)n, lhs, rhs);
        CHECK(gX[1] == 0.0f);
        if (n % 2 == 0) CHECK(gX[2 * (nb - 1) + 1] == 0.0f);
        // The backward functions accumulate.
        float *gx2 = malloc((size_t)n * sizeof(float));
        memcpy(gx2, gx, (size_t)n * sizeof(float));
        lra_fft_rfft_backward(p, Y, gx2);
        for (int64_t j = 0; j < n; j++) CHECK_NEAR(gx2[j], 2.0f * gx[j], 1e-5 * (1 + fabs(gx[j])));
        lra_fft_plan_free(p);
        free(x), free(Y), free(X), free(gx), free(y), free(gX), free(iy), free(gx2);
    }
}

// Reference values from torch 1.13 (float64): x, G as below; rfft: L = sum(view_as_real(rfft(x)) * G),
// dx = dL/dx; irfft: L = sum(irfft(G, n) * x), dG = dL/dG (view_as_real).  G has nonzero imaginary
// parts at DC and (n = 6) Nyquist, which irfft ignores.
static void test_torch_reference(void) {
    static const float x6[6] = {0.375f, 0.75f, -1.0f, -0.625f, -0.25f, 0.125f};
    static const float x7[7] = {0.375f, 0.75f, -1.0f, -0.625f, -0.25f, 0.125f, 0.5f};
    static const float G6[8] = {0.0f, -0.25f, 0.4f, -0.75f, 0.8f, 1.0f, -1.0f, 0.5f};
    static const float G7[8] = {0.0f, -0.25f, 0.4f, -0.75f, 0.8f, 1.0f, -1.0f, 0.5f};
    static const double X6[8] = {-0.625, 0, 2.0625, 0.108253175, -0.0625, -1.19078493, -1.125, 0};
    static const double dx6[6] = {0.2, 0.583493649, -0.0844555434, 1.4, -3.11554446, 1.01650635};
    static const double y6[6] = {0.233333333, 0.0278312164, 0.138514819, 0.3, -0.871848152, 0.172168784};
    static const double dG6[8] = {-0.104166667, 0, 0.6875, 0.0360843918, -0.0208333333, -0.39692831, -0.1875, 0};
    static const double X7[8] = {-0.125, 0, 2.13741583, 1.06404243, 0.339643015, -1.02503799, -1.10205884,
                                 -0.622433385};
    static const double dx7[7] = {0.2, 0.366851872, 0.122722145, 0.980705559, -0.258855102, -2.98926868,
                                  1.57784421};
    static const double y7[7] = {0.0571428571, 0.10481482, 0.0350634699, 0.280201588, -0.0739586007,
                                 -0.854076767, 0.450812632};
    static const double dG7[8] = {-0.0178571429, 0, 0.610690237, 0.304012124, 0.0970408615, -0.292867997,
                                  -0.314873956, -0.17783811};
    for (int c = 0; c < 2; c++) {
        int n = c == 0 ? 6 : 7;
        const float *x = c == 0 ? x6 : x7, *G = c == 0 ? G6 : G7;
        const double *Xr = c == 0 ? X6 : X7, *dxr = c == 0 ? dx6 : dx7, *yr = c == 0 ? y6 : y7;
        const double *dGr = c == 0 ? dG6 : dG7;
        float X[8], dx[7] = {0}, y[7], dG[8] = {0};
        lra_fft_plan *p = lra_fft_plan_new(n);
        lra_fft_rfft(p, x, X);
        lra_fft_rfft_backward(p, G, dx);
        lra_fft_irfft(p, G, y);
        lra_fft_irfft_backward(p, x, dG);
        for (int k = 0; k < 8; k++) CHECK_NEAR(X[k], Xr[k], 1e-6);
        for (int k = 0; k < 8; k++) CHECK_NEAR(dG[k], dGr[k], 1e-6);
        for (int j = 0; j < n; j++) CHECK_NEAR(dx[j], dxr[j], 1e-6);
        for (int j = 0; j < n; j++) CHECK_NEAR(y[j], yr[j], 1e-6);
        lra_fft_plan_free(p);
    }
}

// L(x) = sum_k w_k |rfft(x)_k|^2 ; dL/dx = rfft_backward(2 w X).  Also L2(X) = sum_j v_j irfft(X)_j^2.
static void test_finite_differences(void) {
    static const int64_t ns[] = {5, 8, 12, 37};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int64_t n = ns[c], nb = n / 2 + 1;
        float x[37], X[2 * 19], w[19], gX[2 * 19], g[37] = {0}, v[37], y[37], dy[37], gS[2 * 19] = {0};
        random_signed(x, n, 900 + (uint64_t)c);
        random_fill(w, nb, 950 + (uint64_t)c);
        random_fill(v, n, 960 + (uint64_t)c);
        lra_fft_plan *p = lra_fft_plan_new(n);
        lra_fft_rfft(p, x, X);
        for (int64_t k = 0; k < nb; k++) gX[2 * k] = 2 * w[k] * X[2 * k], gX[2 * k + 1] = 2 * w[k] * X[2 * k + 1];
        lra_fft_rfft_backward(p, gX, g);
        const float h = 1e-2f;
        for (int64_t j = 0; j < n; j++) {
            double Lp = 0, Lm = 0;
            float xs = x[j];
            for (int side = 0; side < 2; side++) {
                x[j] = xs + (side ? -h : h);
                lra_fft_rfft(p, x, X);
                double L = 0;
                for (int64_t k = 0; k < nb; k++) L += w[k] * ((double)X[2 * k] * X[2 * k] + (double)X[2 * k + 1] * X[2 * k + 1]);
                if (side) Lm = L;
                else Lp = L;
            }
            x[j] = xs;
            double fd = (Lp - Lm) / (2.0 * h);
            CHECK_MSG(fabs(fd - g[j]) <= 2e-3 * (1 + fabs(fd)), "rfft n=%lld j=%lld fd %.6g vs %.6g", (long long)n,
                      (long long)j, fd, g[j]);
        }
        // irfft: perturb every real and imaginary input, including the ignored DC/Nyquist imaginary parts.
        float S[2 * 19];
        random_signed(S, 2 * nb, 970 + (uint64_t)c);
        lra_fft_irfft(p, S, y);
        for (int64_t j = 0; j < n; j++) dy[j] = 2 * v[j] * y[j];
        lra_fft_irfft_backward(p, dy, gS);
        for (int64_t i = 0; i < 2 * nb; i++) {
            double L[2];
            float s0 = S[i];
            for (int side = 0; side < 2; side++) {
                S[i] = s0 + (side ? -h : h);
                lra_fft_irfft(p, S, y);
                L[side] = 0;
                for (int64_t j = 0; j < n; j++) L[side] += v[j] * (double)y[j] * y[j];
            }
            S[i] = s0;
            double fd = (L[0] - L[1]) / (2.0 * h);
            CHECK_MSG(fabs(fd - gS[i]) <= 2e-3 * (1 + fabs(fd)), "irfft n=%lld i=%lld fd %.6g vs %.6g",
                      (long long)n, (long long)i, fd, gS[i]);
        }
        lra_fft_plan_free(p);
    }
}

// FFT along the middle axis of x: [B, n, d] into X: [B, nb, d] complex, every op, against single calls
// (bitwise); results identical with 1 and 2 threads.
static void test_many_strided(void) {
    enum { B = 3, D = 5 };
    // Mixed radix even/odd, a power of two, and Bluestein lengths (even: 2*37, odd: 37), all of which
    // run several transforms per group (lanes), with a partial last group (15 = 8 + 7).
    static const int64_t ns[] = {12, 13, 64, 74, 37};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int64_t n = ns[c], nb = n / 2 + 1;
        size_t nx = (size_t)(B * n * D), nX = (size_t)(B * nb * D * 2);
        float *x = malloc(nx * sizeof(float)), *X = malloc(nX * sizeof(float)), *X1 = malloc(nX * sizeof(float));
        float *y = malloc(nx * sizeof(float)), *gx = malloc(nx * sizeof(float)), *gX = malloc(nX * sizeof(float));
        float *line = malloc((size_t)n * sizeof(float)), *spec = malloc((size_t)(2 * nb) * sizeof(float));
        float *ref = malloc((size_t)n * sizeof(float));
        random_signed(x, (int64_t)nx, 1234);
        const lra_fft_plan *p = lra_fft_plan_get(n);
        lra_fft_layout fwd = {B, D, n * D, 1, D, nb * D * 2, 2, 2 * D};
        lra_fft_layout inv = {B, D, nb * D * 2, 2, 2 * D, n * D, 1, D};
        int saved = omp_get_max_threads();
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            lra_fft_many(p, LRA_FFT_RFFT, &fwd, x, threads == 1 ? X1 : X);
        }
        omp_set_num_threads(saved);
        CHECK(memcmp(X, X1, nX * sizeof(float)) == 0);
        lra_fft_many(p, LRA_FFT_IRFFT, &inv, X, y);
        for (size_t i = 0; i < nx; i++) gx[i] = 1.0f;
        for (size_t i = 0; i < nX; i++) gX[i] = 0.5f;
        lra_fft_many(p, LRA_FFT_RFFT_BACKWARD, &inv, X, gx);
        lra_fft_many(p, LRA_FFT_IRFFT_BACKWARD, &fwd, x, gX);
        for (int b = 0; b < B; b++)
            for (int d = 0; d < D; d++) {
                for (int64_t j = 0; j < n; j++) line[j] = x[(b * n + j) * D + d];
                lra_fft_rfft(p, line, spec);
                for (int64_t k = 0; k < nb; k++) {
                    const float *e = X + ((b * nb + k) * D + d) * 2;
                    CHECK(e[0] == spec[2 * k] && e[1] == spec[2 * k + 1]);
                }
                for (int64_t j = 0; j < n; j++) CHECK_NEAR(y[(b * n + j) * D + d], line[j], 1e-6);
                for (int64_t j = 0; j < n; j++) ref[j] = 1.0f;
                lra_fft_rfft_backward(p, spec, ref);
                for (int64_t j = 0; j < n; j++) CHECK(gx[(b * n + j) * D + d] == ref[j]);
                for (int64_t k = 0; k < 2 * nb; k++) spec[k] = 0.5f;
                lra_fft_irfft_backward(p, line, spec);
                for (int64_t k = 0; k < nb; k++) {
                    const float *e = gX + ((b * nb + k) * D + d) * 2;
                    CHECK(e[0] == spec[2 * k] && e[1] == spec[2 * k + 1]);
                }
            }
        free(x), free(X), free(X1), free(y), free(gx), free(gX), free(line), free(spec), free(ref);
    }
}

// One plan used by two threads at once (different lengths interleaved) gives the serial results.
static void test_concurrent_use(void) {
    enum { T = 16 };
    const int64_t n1 = 4096 + 6, n2 = 331;  // one mixed radix, one Bluestein
    lra_fft_plan *p1 = lra_fft_plan_new(n1), *p2 = lra_fft_plan_new(n2);
    float *x = malloc(T * n1 * sizeof(float)), *ser = malloc(T * (n1 + 2) * sizeof(float));
    float *par = malloc(T * (n1 + 2) * sizeof(float));
    random_signed(x, T * n1, 4242);
    for (int t = 0; t < T; t++) lra_fft_rfft(t % 2 ? p2 : p1, x + t * n1, ser + t * (n1 + 2));
    memset(par, 0, T * (n1 + 2) * sizeof(float));
#pragma omp parallel for num_threads(2) schedule(dynamic, 1)
    for (int t = 0; t < T; t++) lra_fft_rfft(t % 2 ? p2 : p1, x + t * n1, par + t * (n1 + 2));
    for (int t = 0; t < T; t++) {
        int64_t len = 2 * ((t % 2 ? n2 : n1) / 2 + 1);
        CHECK(memcmp(ser + t * (n1 + 2), par + t * (n1 + 2), (size_t)len * sizeof(float)) == 0);
    }
    lra_fft_plan_free(p1);
    lra_fft_plan_free(p2);
    free(x), free(ser), free(par);
    lra_fft_cache_clear();
}

static const lra_test_case TESTS[] = {
    {"matches_naive_small", test_matches_naive_small},
    {"matches_naive_large", test_matches_naive_large},
    {"round_trip", test_round_trip},
    {"adjoint_identities", test_adjoint_identities},
    {"torch_reference", test_torch_reference},
    {"finite_differences", test_finite_differences},
    {"many_strided", test_many_strided},
    {"concurrent_use", test_concurrent_use},
};
LRA_TEST_MAIN(TESTS)
