// Tests of the FFT ops (core/ops_fft.c): rfft / irfft against torch.fft reference constants
// (tests/fixtures/ops/ops_ref.h), cmul against naive loops with broadcasting, the convolution theorem
// irfft(rfft(x) * rfft(k)) = circular convolution forward and backward for even, odd and prime lengths,
// determinism at 1 and 2 threads, and the gradient checks of this file's part of the op table.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/optable.h"
#include "tests/gradcheck_cases.h"
#include "core/rng.h"
#include "core/status.h"
#include "tests/fixtures/ops/ops_ref.h"
#include "tests/harness.h"

extern const lra_op_info lra_optable_fft[];

static lra_tensor *from(lra_ctx *ctx, const float *v, const int64_t *shape, int nd, int requires_grad) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    memcpy(t->data, v, (size_t)lra_tensor_numel(t) * sizeof(float));
    t->requires_grad = requires_grad;
    return t;
}

static lra_tensor *rnd(lra_ctx *ctx, const int64_t *shape, int nd, uint64_t seed, int requires_grad) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    lra_rng_fill_normal(seed, 5, 0, lra_f32(t), (size_t)lra_tensor_numel(t), 0.0f, 1.0f);
    t->requires_grad = requires_grad;
    return t;
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

#define CHECK_CLOSE(a, b, n, tol)                                                               \
    do {                                                                                        \
        double d_ = max_diff((a), (b), (n));                                                    \
        CHECK_MSG(d_ <= (tol), "%s vs %s: max difference %.3g > %.3g", #a, #b, d_, (double)(tol)); \
    } while (0)

// ---------------------------------------------------------------------------------------------- vs torch.fft

static void test_rfft_torch(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = from(ctx, REF_RFFT7_X, LRA_DIMS(2, 7, 3), 1);
    lra_tensor *X = lra_op_rfft(ctx, x, 1);
    REQUIRE(X->ndim == 4 && X->shape[0] == 2 && X->shape[1] == 4 && X->shape[2] == 3 && X->shape[3] == 2);
    CHECK_CLOSE(lra_f32(X), REF_RFFT7_Y, 48, 2e-6);
    lra_backward_from(ctx, X, REF_RFFT7_R);
    CHECK_CLOSE(x->grad, REF_RFFT7_GX, 42, 2e-6);

    lra_tensor *x8 = from(ctx, REF_RFFT8_X, LRA_DIMS(3, 8), 1);
    lra_tensor *X8 = lra_op_rfft(ctx, x8, -1);
    REQUIRE(X8->ndim == 3 && X8->shape[1] == 5 && X8->shape[2] == 2);
    CHECK_CLOSE(lra_f32(X8), REF_RFFT8_Y, 30, 2e-6);
    lra_backward_from(ctx, X8, REF_RFFT8_R);
    CHECK_CLOSE(x8->grad, REF_RFFT8_GX, 24, 2e-6);
    lra_ctx_free(ctx);
}

static void test_irfft_torch(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    struct {
        const float *X, *r, *y, *gX;
        int64_t n;
    } cases[] = {{REF_IRFFT8_X, REF_IRFFT8_R, REF_IRFFT8_Y, REF_IRFFT8_GX, 8},
                 {REF_IRFFT9_X, REF_IRFFT9_R, REF_IRFFT9_Y, REF_IRFFT9_GX, 9}};
    for (int c = 0; c < 2; c++) {
        lra_tensor *X = from(ctx, cases[c].X, LRA_DIMS(2, 5, 2), 1);
        lra_tensor *y = lra_op_irfft(ctx, X, 1, cases[c].n);
        REQUIRE(y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == cases[c].n);
        CHECK_CLOSE(lra_f32(y), cases[c].y, 2 * cases[c].n, 5e-7);
        lra_backward_from(ctx, y, cases[c].r);
        CHECK_CLOSE(X->grad, cases[c].gX, 20, 5e-7);
    }
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------------------------------------- cmul

// a [2, 1, 4, 2] * b [3, 1, 2] -> [2, 3, 4, 2] against naive loops, forward and backward.
static void test_cmul_naive(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *a = rnd(ctx, LRA_DIMS(2, 1, 4, 2), 1, 1);
    lra_tensor *b = rnd(ctx, LRA_DIMS(3, 1, 2), 2, 1);
    lra_tensor *y = lra_op_cmul(ctx, a, b);
    REQUIRE(y->ndim == 4 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 4 && y->shape[3] == 2);
    lra_tensor *g = rnd(ctx, y->shape, 4, 3, 0);
    lra_backward_from(ctx, y, lra_f32(g));
    double ga[16] = {0}, gb[6] = {0}, worst = 0.0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int l = 0; l < 4; l++) {
                const float *pa = lra_f32(a) + (i * 4 + l) * 2, *pb = lra_f32(b) + j * 2;
                const float *py = lra_f32(y) + ((i * 3 + j) * 4 + l) * 2, *pg = lra_f32(g) + ((i * 3 + j) * 4 + l) * 2;
                worst = fmax(worst, fabs(py[0] - ((double)pa[0] * pb[0] - (double)pa[1] * pb[1])));
                worst = fmax(worst, fabs(py[1] - ((double)pa[0] * pb[1] + (double)pa[1] * pb[0])));
                ga[(i * 4 + l) * 2] += (double)pg[0] * pb[0] + (double)pg[1] * pb[1];
                ga[(i * 4 + l) * 2 + 1] += (double)pg[1] * pb[0] - (double)pg[0] * pb[1];
                gb[j * 2] += (double)pg[0] * pa[0] + (double)pg[1] * pa[1];
                gb[j * 2 + 1] += (double)pg[1] * pa[0] - (double)pg[0] * pa[1];
            }
    CHECK_MSG(worst < 1e-6, "forward error %.3g", worst);
    for (int i = 0; i < 16; i++) CHECK_NEAR(a->grad[i], ga[i], 1e-5);
    for (int i = 0; i < 6; i++) CHECK_NEAR(b->grad[i], gb[i], 1e-5);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------------------------------------- convolution

// y = irfft(rfft(x) * rfft(k), n) for x [B, n], k [n] equals the circular convolution
// y[b, i] = sum_m k[m] x[b, (i - m) mod n], and the gradients equal the correlations with the seed.
static void conv_case(int64_t B, int64_t n) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = rnd(ctx, LRA_DIMS(B, n), 10 + (uint64_t)n, 1);
    lra_tensor *k = rnd(ctx, LRA_DIMS(n), 20 + (uint64_t)n, 1);
    lra_tensor *y = lra_op_irfft(ctx, lra_op_cmul(ctx, lra_op_rfft(ctx, x, -1), lra_op_rfft(ctx, k, 0)), -1, n);
    REQUIRE(y->ndim == 2 && y->shape[0] == B && y->shape[1] == n);
    lra_tensor *g = rnd(ctx, LRA_DIMS(B, n), 30, 0);
    lra_backward_from(ctx, y, lra_f32(g));
    const float *xd = lra_f32(x), *kd = lra_f32(k), *gd = lra_f32(g);
    double wy = 0.0, wx = 0.0, wk = 0.0, scale = sqrt((double)n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < n; i++) {
            double s = 0.0, sx = 0.0;
            for (int64_t m = 0; m < n; m++) {
                s += (double)kd[m] * xd[b * n + (i - m + n) % n];
                sx += (double)gd[b * n + (i + m) % n] * kd[m];  // d/dx[b, i] = sum_m g[b, i + m] k[m]
            }
            wy = fmax(wy, fabs(s - lra_f32(y)[b * n + i]));
            wx = fmax(wx, fabs(sx - x->grad[b * n + i]));
        }
    for (int64_t m = 0; m < n; m++) {
        double s = 0.0;  // d/dk[m] = sum_{b, i} g[b, i] x[b, i - m]
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < n; i++) s += (double)gd[b * n + i] * xd[b * n + (i - m + n) % n];
        wk = fmax(wk, fabs(s - k->grad[m]));
    }
    // Sums of n products of unit normals are about sqrt(n) in size; float FFTs keep ~1e-6 of that.
    CHECK_MSG(wy < 2e-5 * scale, "n=%lld: convolution error %.3g", (long long)n, wy);
    CHECK_MSG(wx < 2e-5 * scale, "n=%lld: d x error %.3g", (long long)n, wx);
    CHECK_MSG(wk < 2e-5 * scale * sqrt((double)B), "n=%lld: d k error %.3g", (long long)n, wk);
    lra_ctx_free(ctx);
}

static void test_circular_convolution(void) {
    conv_case(3, 12);    // even
    conv_case(2, 13);    // odd
    conv_case(2, 1);     // trivial
    conv_case(2, 2);
    conv_case(2, 97);    // prime above the mixed-radix set
    conv_case(2, 1000);  // 2^3 5^3
}

// rfft along the middle axis of a transposed (strided) input equals rfft of its contiguous copy.
static void test_rfft_strided(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *base = rnd(ctx, LRA_DIMS(10, 3, 4), 40, 1);
    lra_tensor *v = lra_op_transpose(ctx, base, 0, 1);  // [3, 10, 4]
    lra_tensor *c = lra_op_contiguous(ctx, v);
    lra_tensor *Xa = lra_op_rfft(ctx, v, 1), *Xb = lra_op_rfft(ctx, c, 1);
    CHECK(memcmp(Xa->data, Xb->data, (size_t)lra_tensor_numel(Xa) * sizeof(float)) == 0);
    // And irfft brings it back.
    lra_tensor *back = lra_op_irfft(ctx, Xa, 1, 10);
    double worst = 0.0;
    for (int64_t i = 0; i < 120; i++) worst = fmax(worst, fabs(lra_f32(back)[i] - lra_tensor_get_flat(v, i)));
    CHECK_MSG(worst < 1e-5, "round trip error %.3g", worst);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------------------------------------- determinism

static float *det_run(int op, int threads, int64_t *len) {
    int prev = omp_get_max_threads();
    omp_set_num_threads(threads);
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x, *k = NULL, *y;
    if (op == 0) {
        x = rnd(ctx, LRA_DIMS(8, 500, 16), 50, 1);
        y = lra_op_rfft(ctx, x, 1);
    } else if (op == 1) {
        x = rnd(ctx, LRA_DIMS(8, 251, 16, 2), 51, 1);
        y = lra_op_irfft(ctx, x, 1, 500);
    } else {
        x = rnd(ctx, LRA_DIMS(16, 4, 513, 2), 52, 1);
        k = rnd(ctx, LRA_DIMS(4, 513, 2), 53, 1);
        y = lra_op_cmul(ctx, x, k);
    }
    int64_t ny = lra_tensor_numel(y), nx = lra_tensor_numel(x), nk = k ? lra_tensor_numel(k) : 0;
    float *seed = malloc((size_t)ny * sizeof(float));
    lra_rng_fill_normal(3, 3, 0, seed, (size_t)ny, 0.0f, 1.0f);
    lra_backward_from(ctx, y, seed);
    float *res = malloc((size_t)(ny + nx + nk) * sizeof(float));
    memcpy(res, y->data, (size_t)ny * 4);
    memcpy(res + ny, x->grad, (size_t)nx * 4);
    if (k) memcpy(res + ny + nx, k->grad, (size_t)nk * 4);
    *len = ny + nx + nk;
    free(seed);
    lra_ctx_free(ctx);
    omp_set_num_threads(prev);
    return res;
}

static void test_determinism_threads(void) {
    const char *names[] = {"rfft", "irfft", "cmul"};
    for (int op = 0; op < 3; op++) {
        int64_t n1, n2;
        float *a = det_run(op, 1, &n1), *b = det_run(op, 2, &n2);
        CHECK_MSG(n1 == n2 && memcmp(a, b, (size_t)n1 * 4) == 0, "%s differs between 1 and 2 threads", names[op]);
        free(a);
        free(b);
    }
}

static void test_gradchecks(void) {
    CHECK_EQ_INT(lra_gradcheck_table_part(lra_optable_fft), 3);
}

static const lra_test_case TESTS[] = {
    {"rfft_torch", test_rfft_torch},
    {"irfft_torch", test_irfft_torch},
    {"cmul_naive", test_cmul_naive},
    {"circular_convolution", test_circular_convolution},
    {"rfft_strided", test_rfft_strided},
    {"determinism_threads", test_determinism_threads},
    {"gradchecks", test_gradchecks},
};
LRA_TEST_MAIN(TESTS)
