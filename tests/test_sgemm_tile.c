// The own sgemm kernel (core/sgemm_tile.c), called directly whatever lra_gemm would choose: every
// transpose pair, alpha and beta (beta 0 ignores NaN in C), ragged edges in all three dimensions (rows
// past a register block, columns past a panel and past a column block, inner lengths past a chunk),
// leading dimensions wider than the operands (the padding is never written), against a double-precision
// reference; and the bias row against filling C with it.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/sgemm_tile.h"
#include "tests/harness.h"

typedef struct {
    int64_t m, n, k;
} dims;

// m: past one 6- or 8-row block; n: 1, half and whole panels of 16, 32 and 64, past the 256-column
// block; k: one, past a 128 chunk.
static const dims DIMS[] = {
    {1, 1, 1},    {5, 16, 3},     {7, 17, 129},  {13, 31, 128}, {9, 32, 64},   {17, 33, 257},
    {6, 64, 300}, {25, 65, 40},   {8, 100, 7},   {3, 257, 130}, {50, 300, 33}, {64, 512, 32},
    {130, 64, 64}, {12, 48, 1000},
};
#define NDIMS ((int)(sizeof DIMS / sizeof DIMS[0]))

static float *randv(int64_t n, uint64_t stream) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    lra_rng_fill_normal(9, stream, 0, p, (size_t)n, 0.0f, 1.0f);
    return p;
}

// Worst error of C against alpha op(A) op(B) + beta C0, relative to the magnitudes summed.
static double worst_error(const dims *d, bool ta, bool tb, float alpha, float beta, const float *a, int64_t lda,
                          const float *b, int64_t ldb, const float *c0, const float *c, int64_t ldc) {
    double worst = 0.0;
    for (int64_t r = 0; r < d->m; r++)
        for (int64_t col = 0; col < d->n; col++) {
            double acc = 0.0, mag = 0.0;
            for (int64_t q = 0; q < d->k; q++) {
                const double x = ta ? a[q * lda + r] : a[r * lda + q], y = tb ? b[col * ldb + q] : b[q * ldb + col];
                acc += x * y;
                mag += fabs(x * y);
            }
            const double old = beta != 0.0f ? (double)c0[r * ldc + col] : 0.0;
            const double want = alpha * acc + beta * old;
            const double err = fabs(c[r * ldc + col] - want) / (fabs(alpha) * mag + fabs(beta * old) + 1e-30);
            if (err > worst) worst = err;
        }
    return worst;
}

static void test_matches_reference(void) {
    if (!lra_sgemm_tile_available()) SKIP("the kernel is built only for AVX2 with FMA or AVX-512");
    const float alphas[3] = {1.0f, 0.5f, -2.0f}, betas[3] = {0.0f, 1.0f, -0.5f};
    int cases = 0;
    for (int i = 0; i < NDIMS; i++)
        for (int t = 0; t < 4; t++) {
            const dims *d = &DIMS[i];
            const bool ta = t & 1, tb = t & 2;
            const float alpha = alphas[(i + t) % 3], beta = betas[(i + 2 * t) % 3];
            const int64_t lda = (ta ? d->m : d->k) + 3, ldb = (tb ? d->k : d->n) + 2, ldc = d->n + 5;
            float *a = randv((ta ? d->k : d->m) * lda, 3 * (uint64_t)(4 * i + t));
            float *b = randv((tb ? d->n : d->k) * ldb, 3 * (uint64_t)(4 * i + t) + 1);
            float *c0 = randv(d->m * ldc, 3 * (uint64_t)(4 * i + t) + 2);
            if (beta == 0.0f) c0[0] = NAN;  // beta 0: C's old contents are not read
            float *c = malloc((size_t)(d->m * ldc) * sizeof(float));
            memcpy(c, c0, (size_t)(d->m * ldc) * sizeof(float));
            lra_sgemm_tile(ta, tb, d->m, d->n, d->k, alpha, a, lda, b, ldb, beta, NULL, c, ldc);
            const double worst = worst_error(d, ta, tb, alpha, beta, a, lda, b, ldb, c0, c, ldc);
            CHECK_MSG(worst < 1e-5, "%lldx%lldx%lld %c%c alpha %g beta %g: relative error %.3g", (long long)d->m,
                      (long long)d->n, (long long)d->k, ta ? 'T' : 'N', tb ? 'T' : 'N', alpha, beta, worst);
            int pad_kept = 1;
            for (int64_t r = 0; r < d->m; r++)
                for (int64_t col = d->n; col < ldc; col++) pad_kept &= !memcmp(&c[r * ldc + col], &c0[r * ldc + col], 4);
            CHECK_MSG(pad_kept, "%lldx%lldx%lld: the padding between rows of C was written", (long long)d->m,
                      (long long)d->n, (long long)d->k);
            free(a), free(b), free(c0), free(c);
            cases++;
        }
    CHECK_EQ_INT(cases, 4 * NDIMS);
}

// A bias row is C = alpha op(A) op(B) + bias with C unread, bit for bit what C's rows set to the bias
// with beta 1 give (the linear layers relied on that fill before), ragged panels and chunks included.
static void test_bias_equals_fill(void) {
    if (!lra_sgemm_tile_available()) SKIP("the kernel is built only for AVX2 with FMA or AVX-512");
    for (int i = 0; i < NDIMS; i++)
        for (int t = 0; t < 4; t++) {
            const dims *d = &DIMS[i];
            const bool ta = t & 1, tb = t & 2;
            const float alpha = i % 2 ? 0.5f : 1.0f;
            const int64_t lda = ta ? d->m : d->k, ldb = tb ? d->k : d->n, ldc = d->n + 3;
            float *a = randv((ta ? d->k : d->m) * lda, 100 + 3 * (uint64_t)(4 * i + t));
            float *b = randv((tb ? d->n : d->k) * ldb, 101 + 3 * (uint64_t)(4 * i + t));
            float *bias = randv(d->n, 102 + 3 * (uint64_t)(4 * i + t));
            float *want = malloc((size_t)(d->m * ldc) * sizeof(float)), *got = malloc((size_t)(d->m * ldc) * sizeof(float));
            for (int64_t e = 0; e < d->m * ldc; e++) got[e] = NAN, want[e] = NAN;
            for (int64_t r = 0; r < d->m; r++) memcpy(want + r * ldc, bias, (size_t)d->n * sizeof(float));
            lra_sgemm_tile(ta, tb, d->m, d->n, d->k, alpha, a, lda, b, ldb, 1.0f, NULL, want, ldc);
            lra_sgemm_tile(ta, tb, d->m, d->n, d->k, alpha, a, lda, b, ldb, 0.0f, bias, got, ldc);
            CHECK_MSG(!memcmp(want, got, (size_t)(d->m * ldc) * sizeof(float)), "%lldx%lldx%lld %c%c: bias row differs",
                      (long long)d->m, (long long)d->n, (long long)d->k, ta ? 'T' : 'N', tb ? 'T' : 'N');
            free(a), free(b), free(bias), free(want), free(got);
        }
}

// The choice is a function of the shape: tiny products, square ones and transposed B with few rows or
// columns stay with BLAS; the model's thin products take the kernel where it is built.
static void test_choice(void) {
    CHECK(!lra_sgemm_tile_suits(false, false, 8, 8, 8));
    CHECK(!lra_sgemm_tile_suits(false, true, 64, 128, 32));
    CHECK(!lra_sgemm_tile_suits(false, false, 1024, 1024, 1024));
    if (!lra_sgemm_tile_available()) SKIP("the kernel is built only for AVX2 with FMA or AVX-512");
    CHECK(lra_sgemm_tile_suits(false, true, 32768, 64, 64));  // x W^T
    CHECK(lra_sgemm_tile_suits(false, false, 32768, 64, 64)); // dY W
    CHECK(lra_sgemm_tile_suits(true, false, 64, 64, 32768));  // dY^T X
    CHECK(lra_sgemm_tile_suits(false, false, 64, 32, 512));   // P V in one block of rows
    CHECK(lra_sgemm_tile_suits(false, true, 64, 512, 32));    // Q K^T in one block of rows
}

static const lra_test_case TESTS[] = {
    {"matches_reference", test_matches_reference},
    {"bias_equals_fill", test_bias_equals_fill},
    {"choice", test_choice},
};
LRA_TEST_MAIN(TESTS)
