// Tests of the neural-network ops (core/ops_nn.c): values and gradients against PyTorch reference
// constants (tests/fixtures/ops/ops_ref.h, written by make_ops_ref.py) and naive double-precision loops,
// masked rows, dropout statistics and modes, embedding scatter-add, determinism at 1 and 2 threads, and
// the gradient checks of this file's part of the op table.
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

extern const lra_op_info lra_optable_nn[];

// ---------------------------------------------------------------------------------------------- helpers

// An arena tensor holding a copy of v.
static lra_tensor *from(lra_ctx *ctx, const float *v, const int64_t *shape, int nd, int requires_grad) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    memcpy(t->data, v, (size_t)lra_tensor_numel(t) * sizeof(float));
    t->requires_grad = requires_grad;
    return t;
}

static lra_tensor *from_i32(lra_ctx *ctx, const int32_t *v, const int64_t *shape, int nd) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_I32, shape, nd);
    memcpy(t->data, v, (size_t)lra_tensor_numel(t) * sizeof(int32_t));
    return t;
}

// An arena tensor of N(0, scale^2) draws from (seed, 5).
static lra_tensor *rnd(lra_ctx *ctx, const int64_t *shape, int nd, uint64_t seed, float scale, int requires_grad) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    lra_rng_fill_normal(seed, 5, 0, lra_f32(t), (size_t)lra_tensor_numel(t), 0.0f, scale);
    t->requires_grad = requires_grad;
    return t;
}

// Largest |a - b| over n elements, treating equal infinities as equal.
static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] == b[i]) continue;
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;  // NaN propagates as a huge difference
    }
    return m;
}

#define CHECK_CLOSE(a, b, n, tol)                                                               \
    do {                                                                                        \
        double d_ = max_diff((a), (b), (n));                                                    \
        CHECK_MSG(d_ <= (tol), "%s vs %s: max difference %.3g > %.3g", #a, #b, d_, (double)(tol)); \
    } while (0)

static int all_finite(const float *a, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

// ---------------------------------------------------------------------------------------------- vs PyTorch

static void test_softmax_torch(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = from(ctx, REF_SM_X, LRA_DIMS(2, 3, 5), 1);
    lra_tensor *m = from(ctx, REF_SM_MASK, LRA_DIMS(2, 1, 5), 0);
    lra_tensor *y = lra_op_softmax(ctx, x, m);
    CHECK_CLOSE(lra_f32(y), REF_SM_Y, 30, 2e-7);
    lra_backward_from(ctx, y, REF_SM_R);
    CHECK_CLOSE(x->grad, REF_SM_GX, 30, 1e-6);
    lra_ctx_free(ctx);
}

static void test_log_softmax_torch(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = from(ctx, REF_LSM_X, LRA_DIMS(2, 3, 5), 1);
    lra_tensor *m = from(ctx, REF_LSM_MASK, LRA_DIMS(5), 0);
    lra_tensor *y = lra_op_log_softmax(ctx, x, m);
    // Masked entries are about -1e9: compare those relatively, the rest absolutely.
    for (int i = 0; i < 30; i++) {
        double tol = fabs(REF_LSM_Y[i]) > 1e6 ? 1e-6 * fabs(REF_LSM_Y[i]) : 2e-6;
        CHECK_NEAR(lra_f32(y)[i], REF_LSM_Y[i], tol);
    }
    lra_backward_from(ctx, y, REF_LSM_R);
    CHECK_CLOSE(x->grad, REF_LSM_GX, 30, 2e-6);
    lra_ctx_free(ctx);
}

static void test_cross_entropy_torch(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = from(ctx, REF_CE_X, LRA_DIMS(4, 5), 1);
    lra_tensor *lab = from_i32(ctx, REF_CE_LABEL, LRA_DIMS(4));
    lra_tensor *loss = lra_op_cross_entropy(ctx, x, lab, 0.0);
    REQUIRE(lra_tensor_numel(loss) == 1);
    CHECK_NEAR(lra_f32(loss)[0], REF_CE_LOSS[0], 1e-6);
    lra_backward(ctx, loss);
    CHECK_CLOSE(x->grad, REF_CE_GX, 20, 1e-7);
    // weight_sum replaces the batch size as the divisor: loss and gradient scale by 4 / 3.
    lra_tensor *x2 = from(ctx, REF_CE_X, LRA_DIMS(4, 5), 1);
    lra_tensor *loss2 = lra_op_cross_entropy(ctx, x2, lab, 3.0);
    CHECK_NEAR(lra_f32(loss2)[0], REF_CE_LOSS[0] * 4.0 / 3.0, 2e-6);
    lra_backward(ctx, loss2);
    for (int i = 0; i < 20; i++) CHECK_NEAR(x2->grad[i], REF_CE_GX[i] * 4.0 / 3.0, 2e-7);
    lra_ctx_free(ctx);
}

static void test_layer_norm_torch(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = from(ctx, REF_LN_X, LRA_DIMS(3, 6), 1);
    lra_tensor *g = from(ctx, REF_LN_G, LRA_DIMS(6), 1);
    lra_tensor *b = from(ctx, REF_LN_B, LRA_DIMS(6), 1);
    lra_tensor *y = lra_op_layer_norm(ctx, x, g, b, 1e-5f);
    CHECK_CLOSE(lra_f32(y), REF_LN_Y, 18, 1e-6);
    lra_backward_from(ctx, y, REF_LN_R);
    CHECK_CLOSE(x->grad, REF_LN_GX, 18, 3e-6);
    CHECK_CLOSE(g->grad, REF_LN_GG, 6, 2e-6);
    CHECK_CLOSE(b->grad, REF_LN_GB, 6, 1e-6);
    lra_ctx_free(ctx);
}

static void test_l2_normalize_torch(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = from(ctx, REF_L2_X, LRA_DIMS(3, 4), 1);
    lra_tensor *y = lra_op_l2_normalize(ctx, x, 1e-12f);
    CHECK_CLOSE(lra_f32(y), REF_L2_Y, 12, 2e-7);
    lra_backward_from(ctx, y, REF_L2_R);
    CHECK_CLOSE(x->grad, REF_L2_GX, 12, 1e-6);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------------------------------------- vs naive loops

// Softmax of a transposed (non-contiguous) 4-d input with a [B, 1, 1, n] mask against a double loop.
static void test_softmax_naive_strided(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    const int64_t B = 2, H = 3, T = 4, n = 37;
    lra_tensor *base = rnd(ctx, LRA_DIMS(H, B, T, n), 1, 3.0f, 1);
    lra_tensor *x = lra_op_transpose(ctx, base, 0, 1);  // [B, H, T, n], strided
    REQUIRE(!lra_tensor_is_contiguous(x));
    lra_tensor *m = lra_tensor_zeros(ctx->arena, LRA_F32, LRA_DIMS(B, 1, 1, n));
    for (int64_t i = 0; i < n; i++) lra_f32(m)[n + i] = i >= 30 ? -INFINITY : 0.0f;  // example 1: prefix of 30
    lra_tensor *y = lra_op_softmax(ctx, x, m);
    lra_tensor *ly = lra_op_log_softmax(ctx, x, m);
    double worst = 0.0, worst_log = 0.0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++) {
                int64_t row = ((b * H + h) * T + t) * n;
                const float *xr = lra_f32(base) + ((h * B + b) * T + t) * n;
                double mx = -INFINITY, s = 0.0;
                int64_t len = b == 1 ? 30 : n;
                for (int64_t i = 0; i < len; i++) mx = fmax(mx, xr[i]);
                for (int64_t i = 0; i < len; i++) s += exp(xr[i] - mx);
                for (int64_t i = 0; i < n; i++) {
                    double ref = i < len ? exp(xr[i] - mx) / s : 0.0;
                    worst = fmax(worst, fabs(ref - lra_f32(y)[row + i]));
                    if (i < len) worst_log = fmax(worst_log, fabs(xr[i] - mx - log(s) - lra_f32(ly)[row + i]));
                    else CHECK(lra_f32(ly)[row + i] == -INFINITY);
                }
            }
    CHECK_MSG(worst < 1e-7, "softmax max error %.3g", worst);
    CHECK_MSG(worst_log < 2e-6, "log_softmax max error %.3g", worst_log);
    // A strided mask (a transposed view) gives the same as its contiguous copy.
    lra_tensor *x2 = rnd(ctx, LRA_DIMS(5, 9), 21, 1.0f, 0);
    lra_tensor *mt = rnd(ctx, LRA_DIMS(9, 5), 22, 3.0f, 0);
    lra_tensor *mv = lra_op_transpose(ctx, mt, 0, 1);
    lra_tensor *ya = lra_op_softmax(ctx, x2, mv), *yb = lra_op_softmax(ctx, x2, lra_op_contiguous(ctx, mv));
    CHECK(memcmp(ya->data, yb->data, 45 * sizeof(float)) == 0);
    lra_ctx_free(ctx);
}

// Rows that are entirely -inf give zeros (no NaN) forward and a zero gradient backward.
static void test_fully_masked_rows(void) {
    for (int log_mode = 0; log_mode < 2; log_mode++) {
        lra_ctx *ctx = lra_ctx_new(0);
        lra_tensor *x = rnd(ctx, LRA_DIMS(3, 6), 2, 1.0f, 1);
        lra_tensor *m = lra_tensor_zeros(ctx->arena, LRA_F32, LRA_DIMS(3, 6));
        for (int i = 0; i < 6; i++) lra_f32(m)[6 + i] = -INFINITY;  // row 1 fully masked
        lra_f32(m)[2 * 6 + 4] = -INFINITY;                          // row 2 partly masked
        lra_tensor *y = log_mode ? lra_op_log_softmax(ctx, x, m) : lra_op_softmax(ctx, x, m);
        for (int i = 0; i < 6; i++) CHECK(lra_f32(y)[6 + i] == 0.0f);
        for (int i = 0; i < 18; i++) CHECK(!isnan(lra_f32(y)[i]));
        if (!log_mode) CHECK(lra_f32(y)[2 * 6 + 4] == 0.0f);
        float seed[18];
        for (int i = 0; i < 18; i++) seed[i] = 1.0f + 0.1f * (float)i;
        lra_backward_from(ctx, y, seed);
        REQUIRE(x->grad != NULL);
        CHECK(all_finite(x->grad, 18));
        for (int i = 0; i < 6; i++) CHECK(x->grad[6 + i] == 0.0f);
        // Unmasked rows still get a gradient.
        double s = 0.0;
        for (int i = 0; i < 6; i++) s += fabs(x->grad[i]);
        CHECK(s > 1e-3);
        lra_ctx_free(ctx);
    }
}

// Cross-entropy of a larger random batch against a double loop.
static void test_cross_entropy_naive(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    const int64_t B = 13, C = 7;
    lra_tensor *x = rnd(ctx, LRA_DIMS(B, C), 3, 4.0f, 1);
    int32_t lab[13];
    for (int i = 0; i < B; i++) lab[i] = (i * 5 + 3) % C;
    lra_tensor *loss = lra_op_cross_entropy(ctx, x, from_i32(ctx, lab, LRA_DIMS(B)), 0.0);
    lra_backward(ctx, loss);
    double total = 0.0, worst_g = 0.0;
    for (int64_t b = 0; b < B; b++) {
        const float *z = lra_f32(x) + b * C;
        double mx = z[0], s = 0.0;
        for (int64_t c = 1; c < C; c++) mx = fmax(mx, z[c]);
        for (int64_t c = 0; c < C; c++) s += exp(z[c] - mx);
        total += mx + log(s) - z[lab[b]];
        for (int64_t c = 0; c < C; c++) {
            double g = (exp(z[c] - mx) / s - (c == lab[b])) / (double)B;
            worst_g = fmax(worst_g, fabs(g - x->grad[b * C + c]));
        }
    }
    CHECK_NEAR(lra_f32(loss)[0], total / B, 2e-6 * fabs(total / B) + 1e-7);
    CHECK_MSG(worst_g < 1e-7, "gradient error %.3g", worst_g);
    lra_ctx_free(ctx);
}

// Layer norm without gamma/beta on a strided input against a double loop (zero mean, unit variance).
static void test_layer_norm_naive(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    const int64_t d = 33, R = 5;
    lra_tensor *base = rnd(ctx, LRA_DIMS(d, R), 4, 2.0f, 0);
    for (int64_t i = 0; i < d * R; i++) lra_f32(base)[i] += 10.0f;  // a large mean
    lra_tensor *x = lra_op_transpose(ctx, base, 0, 1);          // [R, d], strided
    lra_tensor *y = lra_op_layer_norm(ctx, x, NULL, NULL, 1e-5f);
    for (int64_t r = 0; r < R; r++) {
        double mu = 0.0, var = 0.0;
        for (int64_t i = 0; i < d; i++) mu += lra_f32(base)[i * R + r];
        mu /= d;
        for (int64_t i = 0; i < d; i++) var += pow(lra_f32(base)[i * R + r] - mu, 2);
        var /= d;  // biased
        double worst = 0.0, ym = 0.0;
        for (int64_t i = 0; i < d; i++) {
            double ref = (lra_f32(base)[i * R + r] - mu) / sqrt(var + 1e-5);
            worst = fmax(worst, fabs(ref - lra_f32(y)[r * d + i]));
            ym += lra_f32(y)[r * d + i];
        }
        CHECK_MSG(worst < 3e-6, "row %lld error %.3g", (long long)r, worst);
        CHECK_NEAR(ym / d, 0.0, 1e-6);
    }
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------------------------------------- dropout

static void test_dropout_statistics(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    ctx->seed = 1234;
    const int64_t n = 200000;
    const float p = 0.25f;
    lra_tensor *x = rnd(ctx, LRA_DIMS(n), 6, 1.0f, 1);
    for (int64_t i = 0; i < n; i++) lra_f32(x)[i] = 1.0f + fabsf(lra_f32(x)[i]);  // nonzero everywhere
    lra_tensor *y = lra_op_dropout(ctx, x, p, 99);
    int64_t kept = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = lra_f32(y)[i];
        if (v != 0.0f) {
            kept++;
            if (v != lra_f32(x)[i] * (1.0f / (1.0f - p))) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    double rate = (double)kept / n;  // 1 - p = 0.75 with standard deviation about 0.001
    CHECK_NEAR(rate, 1.0 - p, 0.005);
    // Backward multiplies by the same mask.
    float *seed = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) seed[i] = 1.0f;
    lra_backward_from(ctx, y, seed);
    int64_t mismatch = 0;
    for (int64_t i = 0; i < n; i++) {
        float expect = lra_f32(y)[i] == 0.0f ? 0.0f : 1.0f / (1.0f - p);
        if (x->grad[i] != expect) mismatch++;
    }
    CHECK_EQ_INT(mismatch, 0);
    // The same (seed, stream) gives the same mask; another stream or seed gives another.
    lra_tensor *y2 = lra_op_dropout(ctx, x, p, 99);
    CHECK(memcmp(y->data, y2->data, (size_t)n * sizeof(float)) == 0);
    lra_tensor *y3 = lra_op_dropout(ctx, x, p, 100);
    CHECK(memcmp(y->data, y3->data, (size_t)n * sizeof(float)) != 0);
    ctx->seed = 1235;
    lra_tensor *y4 = lra_op_dropout(ctx, x, p, 99);
    CHECK(memcmp(y->data, y4->data, (size_t)n * sizeof(float)) != 0);
    free(seed);
    lra_ctx_free(ctx);
}

static void test_dropout_modes(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = rnd(ctx, LRA_DIMS(4, 5), 7, 1.0f, 1);
    // Evaluation mode and p == 0 are the identity (the same tensor, no tape node).
    ctx->training = 0;
    int64_t before = lra_tape_size(ctx);
    CHECK(lra_op_dropout(ctx, x, 0.5f, 1) == x);
    ctx->training = 1;
    CHECK(lra_op_dropout(ctx, x, 0.0f, 1) == x);
    CHECK_EQ_INT(lra_tape_size(ctx), before);
    // A strided input in evaluation mode gives an equal contiguous copy whose gradient flows back.
    ctx->training = 0;
    lra_tensor *xt = lra_op_transpose(ctx, x, 0, 1);
    lra_tensor *y = lra_op_dropout(ctx, xt, 0.5f, 1);
    REQUIRE(lra_tensor_is_contiguous(y));
    for (int64_t i = 0; i < 20; i++) CHECK(lra_f32(y)[i] == lra_tensor_get_flat(xt, i));
    float seed[20];
    for (int i = 0; i < 20; i++) seed[i] = (float)i;
    lra_backward_from(ctx, y, seed);
    REQUIRE(x->grad != NULL);
    for (int64_t r = 0; r < 4; r++)
        for (int64_t c = 0; c < 5; c++) CHECK(x->grad[r * 5 + c] == seed[c * 4 + r]);
    lra_ctx_free(ctx);
}

// The mask does not depend on the thread count (element i is draw i of the stream).
static void test_dropout_threads(void) {
    const int64_t n = 100003;
    float *out[2];
    int prev = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->seed = 77;
        lra_tensor *x = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(n));
        for (int64_t i = 0; i < n; i++) lra_f32(x)[i] = 1.0f;
        lra_tensor *y = lra_op_dropout(ctx, x, 0.1f, 5);
        out[t] = malloc((size_t)n * sizeof(float));
        memcpy(out[t], y->data, (size_t)n * sizeof(float));
        lra_ctx_free(ctx);
    }
    omp_set_num_threads(prev);
    CHECK(memcmp(out[0], out[1], (size_t)n * sizeof(float)) == 0);
    // And it is exactly the lra_rng_fill_dropout mask.
    float *ref = malloc((size_t)n * sizeof(float));
    lra_rng_fill_dropout(77, 5, 0, ref, (size_t)n, 0.1f);
    CHECK(memcmp(out[0], ref, (size_t)n * sizeof(float)) == 0);
    free(ref);
    free(out[0]);
    free(out[1]);
}

// A batch split in two micro-batches with ctx->example_offset set draws the same mask as the whole batch.
static void test_dropout_micro_batches(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    ctx->seed = 5;
    const int64_t B = 6, n = 7, d = 5, half = 3 * n * d;
    lra_tensor *x = rnd(ctx, LRA_DIMS(B, n, d), 20, 1.0f, 0);
    x->requires_grad = 1;
    lra_tensor *whole = lra_op_dropout(ctx, x, 0.4f, 11);
    lra_tensor *x0 = lra_tensor_wrap(ctx->arena, LRA_F32, lra_f32(x), LRA_DIMS(3, n, d));
    lra_tensor *x1 = lra_tensor_wrap(ctx->arena, LRA_F32, lra_f32(x) + half, LRA_DIMS(3, n, d));
    x1->requires_grad = 1;
    lra_tensor *y0 = lra_op_dropout(ctx, x0, 0.4f, 11);
    ctx->example_offset = 3;
    lra_tensor *y1 = lra_op_dropout(ctx, x1, 0.4f, 11);
    CHECK(memcmp(lra_f32(whole), lra_f32(y0), (size_t)half * sizeof(float)) == 0);
    CHECK(memcmp(lra_f32(whole) + half, lra_f32(y1), (size_t)half * sizeof(float)) == 0);
    CHECK(memcmp(lra_f32(y0), lra_f32(y1), (size_t)half * sizeof(float)) != 0);
    // Backward of the second micro-batch uses its own (offset) mask.
    float *ones = malloc((size_t)half * sizeof(float));
    for (int64_t i = 0; i < half; i++) ones[i] = 1.0f;
    lra_backward_from(ctx, y1, ones);
    int64_t bad = 0;
    for (int64_t i = 0; i < half; i++) bad += x1->grad[i] != (lra_f32(y1)[i] == 0.0f ? 0.0f : 1.0f / (1.0f - 0.4f));
    CHECK_EQ_INT(bad, 0);
    free(ones);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------------------------------------- embedding

static void test_embedding_naive(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    const int64_t V = 7, d = 5, B = 3, n = 11;
    lra_tensor *table = rnd(ctx, LRA_DIMS(V, d), 8, 1.0f, 1);
    int32_t ids[33];
    for (int i = 0; i < B * n; i++) ids[i] = (i * i + 3) % 5;  // ids 5 and 6 never used, others repeated
    lra_tensor *id = from_i32(ctx, ids, LRA_DIMS(B, n));
    lra_tensor *y = lra_op_embedding(ctx, id, table);
    REQUIRE(y->ndim == 3 && y->shape[0] == B && y->shape[1] == n && y->shape[2] == d);
    for (int64_t i = 0; i < B * n; i++)
        for (int64_t j = 0; j < d; j++) CHECK(lra_f32(y)[i * d + j] == lra_f32(table)[ids[i] * d + j]);
    lra_tensor *gy = rnd(ctx, LRA_DIMS(B * n * d), 9, 1.0f, 0);
    lra_backward_from(ctx, y, lra_f32(gy));
    double worst = 0.0;
    for (int64_t v = 0; v < V; v++)
        for (int64_t j = 0; j < d; j++) {
            double s = 0.0;
            for (int64_t i = 0; i < B * n; i++)
                if (ids[i] == v) s += lra_f32(gy)[i * d + j];
            worst = fmax(worst, fabs(s - table->grad[v * d + j]));
        }
    CHECK_MSG(worst < 1e-6, "embedding gradient error %.3g", worst);
    for (int64_t j = 0; j < d; j++) CHECK(table->grad[6 * d + j] == 0.0f);
    lra_ctx_free(ctx);
}

// l2_normalize below eps divides by eps.
static void test_l2_normalize_clamp(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    float v[4] = {1e-4f, -2e-4f, 0.0f, 0.0f};
    lra_tensor *x = from(ctx, v, LRA_DIMS(2, 2), 1);
    lra_tensor *y = lra_op_l2_normalize(ctx, x, 1e-2f);
    CHECK_NEAR(lra_f32(y)[0], 1e-2, 1e-8);
    CHECK_NEAR(lra_f32(y)[1], -2e-2, 1e-8);
    CHECK(lra_f32(y)[2] == 0.0f && lra_f32(y)[3] == 0.0f);
    float seed[4] = {1, 1, 1, 1};
    lra_backward_from(ctx, y, seed);
    for (int i = 0; i < 4; i++) CHECK_NEAR(x->grad[i], 100.0, 1e-4);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------------------------------------- determinism

// Builds inputs (from fixed seeds) and one op; lists the tensors whose gradients to compare.
typedef lra_tensor *(*det_build)(lra_ctx *ctx, lra_tensor **ins, int *n_ins);

static lra_tensor *det_softmax(lra_ctx *ctx, lra_tensor **ins, int *k) {
    lra_tensor *x = rnd(ctx, LRA_DIMS(8, 64, 129), 10, 2.0f, 1);
    lra_tensor *m = lra_tensor_zeros(ctx->arena, LRA_F32, LRA_DIMS(8, 1, 129));
    for (int i = 0; i < 8 * 129; i++) lra_f32(m)[i] = (i % 129) > 100 + i / 129 ? -INFINITY : 0.0f;
    ins[0] = x;
    *k = 1;
    return lra_op_softmax(ctx, x, m);
}

static lra_tensor *det_log_softmax(lra_ctx *ctx, lra_tensor **ins, int *k) {
    lra_tensor *x = rnd(ctx, LRA_DIMS(300, 257), 11, 2.0f, 1);
    ins[0] = x;
    *k = 1;
    return lra_op_log_softmax(ctx, x, NULL);
}

static lra_tensor *det_cross_entropy(lra_ctx *ctx, lra_tensor **ins, int *k) {
    lra_tensor *x = rnd(ctx, LRA_DIMS(512, 100), 12, 2.0f, 1);
    lra_tensor *lab = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(512));
    for (int i = 0; i < 512; i++) lra_i32(lab)[i] = (i * 37) % 100;
    ins[0] = x;
    *k = 1;
    return lra_op_cross_entropy(ctx, x, lab, 0.0);
}

static lra_tensor *det_layer_norm(lra_ctx *ctx, lra_tensor **ins, int *k) {
    lra_tensor *x = rnd(ctx, LRA_DIMS(4, 300, 64), 13, 2.0f, 1);
    lra_tensor *g = rnd(ctx, LRA_DIMS(64), 14, 1.0f, 1);
    lra_tensor *b = rnd(ctx, LRA_DIMS(64), 15, 1.0f, 1);
    ins[0] = x, ins[1] = g, ins[2] = b;
    *k = 3;
    return lra_op_layer_norm(ctx, x, g, b, 1e-5f);
}

static lra_tensor *det_dropout(lra_ctx *ctx, lra_tensor **ins, int *k) {
    lra_tensor *x = rnd(ctx, LRA_DIMS(64, 1000), 16, 1.0f, 1);
    ins[0] = x;
    *k = 1;
    ctx->seed = 9;
    return lra_op_dropout(ctx, x, 0.3f, 4);
}

static lra_tensor *det_embedding(lra_ctx *ctx, lra_tensor **ins, int *k) {
    lra_tensor *t = rnd(ctx, LRA_DIMS(50, 64), 17, 1.0f, 1);
    lra_tensor *ids = lra_tensor_new(ctx->arena, LRA_I32, LRA_DIMS(8, 512));
    lra_rng r = lra_rng_make(18, 0);
    for (int i = 0; i < 8 * 512; i++) lra_i32(ids)[i] = i % 7 == 0 ? 0 : (int32_t)lra_rng_int(&r, 0, 50);
    ins[0] = t;
    *k = 1;
    return lra_op_embedding(ctx, ids, t);
}

static lra_tensor *det_l2_normalize(lra_ctx *ctx, lra_tensor **ins, int *k) {
    lra_tensor *x = rnd(ctx, LRA_DIMS(1000, 64), 19, 1.0f, 1);
    ins[0] = x;
    *k = 1;
    return lra_op_l2_normalize(ctx, x, 1e-6f);
}

// Output and input gradients of one build at `threads` threads, concatenated (malloc'd).
static float *det_run(det_build build, int threads, int64_t *len) {
    int prev = omp_get_max_threads();
    omp_set_num_threads(threads);
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *ins[4];
    int k = 0;
    lra_tensor *y = build(ctx, ins, &k);
    int64_t ny = lra_tensor_numel(y);
    float *seed = malloc((size_t)ny * sizeof(float));
    lra_rng_fill_normal(3, 3, 0, seed, (size_t)ny, 0.0f, 1.0f);
    lra_backward_from(ctx, y, seed);
    int64_t total = ny;
    for (int i = 0; i < k; i++) total += lra_tensor_numel(ins[i]);
    float *res = malloc((size_t)total * sizeof(float));
    memcpy(res, y->data, (size_t)ny * sizeof(float));
    int64_t off = ny;
    for (int i = 0; i < k; i++) {
        int64_t ni = lra_tensor_numel(ins[i]);
        memcpy(res + off, ins[i]->grad, (size_t)ni * sizeof(float));
        off += ni;
    }
    *len = total;
    free(seed);
    lra_ctx_free(ctx);
    omp_set_num_threads(prev);
    return res;
}

static void test_determinism_threads(void) {
    struct {
        const char *name;
        det_build build;
    } ops[] = {
        {"softmax", det_softmax},     {"log_softmax", det_log_softmax}, {"cross_entropy", det_cross_entropy},
        {"layer_norm", det_layer_norm}, {"dropout", det_dropout},       {"embedding", det_embedding},
        {"l2_normalize", det_l2_normalize},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int64_t n1, n2;
        float *a = det_run(ops[i].build, 1, &n1);
        float *b = det_run(ops[i].build, 2, &n2);
        CHECK_MSG(n1 == n2 && memcmp(a, b, (size_t)n1 * sizeof(float)) == 0, "%s differs between 1 and 2 threads",
                  ops[i].name);
        CHECK_MSG(all_finite(a, n1), "%s produced non-finite values", ops[i].name);
        free(a);
        free(b);
    }
}

// ---------------------------------------------------------------------------------------------- op table

static void test_gradchecks(void) {
    // softmax, log_softmax, cross_entropy, layer_norm, dropout, add_dropout, gelu_dropout, embedding,
    // l2_normalize
    CHECK_EQ_INT(lra_gradcheck_table_part(lra_optable_nn), 9);
}

static const lra_test_case TESTS[] = {
    {"softmax_torch", test_softmax_torch},
    {"log_softmax_torch", test_log_softmax_torch},
    {"cross_entropy_torch", test_cross_entropy_torch},
    {"layer_norm_torch", test_layer_norm_torch},
    {"l2_normalize_torch", test_l2_normalize_torch},
    {"softmax_naive_strided", test_softmax_naive_strided},
    {"fully_masked_rows", test_fully_masked_rows},
    {"cross_entropy_naive", test_cross_entropy_naive},
    {"layer_norm_naive", test_layer_norm_naive},
    {"dropout_statistics", test_dropout_statistics},
    {"dropout_modes", test_dropout_modes},
    {"dropout_threads", test_dropout_threads},
    {"dropout_micro_batches", test_dropout_micro_batches},
    {"embedding_naive", test_embedding_naive},
    {"l2_normalize_clamp", test_l2_normalize_clamp},
    {"determinism_threads", test_determinism_threads},
    {"gradchecks", test_gradchecks},
};
LRA_TEST_MAIN(TESTS)
