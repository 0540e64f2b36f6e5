// Tests of the indexing ops (core/ops_index.c): index_select along every axis, batched row gather and
// top-k against naive loops (forward and scatter-add backward, with repeated indices and strided inputs),
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
#include "tests/harness.h"

extern const lra_op_info lra_optable_index[];

static lra_tensor *rnd(lra_ctx *ctx, const int64_t *shape, int nd, uint64_t seed, int requires_grad) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    lra_rng_fill_normal(seed, 5, 0, lra_f32(t), (size_t)lra_tensor_numel(t), 0.0f, 1.0f);
    t->requires_grad = requires_grad;
    return t;
}

static lra_tensor *ints(lra_ctx *ctx, const int64_t *shape, int nd, uint64_t seed, int64_t hi) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_I32, shape, nd);
    lra_rng r = lra_rng_make(seed, 1);
    for (int64_t i = 0; i < lra_tensor_numel(t); i++) lra_i32(t)[i] = (int32_t)lra_rng_int(&r, 0, hi);
    return t;
}

// index_select along each axis of a [3, 4, 5] tensor (and of a transposed view) vs naive loops.
static void test_index_select_naive(void) {
    for (int variant = 0; variant < 4; variant++) {
        lra_ctx *ctx = lra_ctx_new(0);
        int axis = variant % 3, transposed = variant == 3;
        lra_tensor *base = transposed ? rnd(ctx, LRA_DIMS(4, 3, 5), 1, 1) : rnd(ctx, LRA_DIMS(3, 4, 5), 1, 1);
        lra_tensor *x = transposed ? lra_op_transpose(ctx, base, 0, 1) : base;  // [3, 4, 5]
        const int64_t k = 7;                                                       // more than any axis: repeats
        lra_tensor *idx = ints(ctx, LRA_DIMS(k), 2 + variant, x->shape[axis]);
        lra_tensor *y = lra_op_index_select(ctx, x, axis - (variant == 2 ? 3 : 0), idx);  // axis 2 as -1
        REQUIRE(y->shape[axis] == k);
        lra_tensor *gy = rnd(ctx, y->shape, 3, 9, 0);
        lra_backward_from(ctx, y, lra_f32(gy));
        REQUIRE(base->grad != NULL);
        float *gref = calloc((size_t)lra_tensor_numel(x), sizeof(float));  // gradient in x's logical layout
        int64_t yi = 0, bad = 0;
        int64_t s0 = y->shape[0], s1 = y->shape[1], s2 = y->shape[2];
        for (int64_t i = 0; i < s0; i++)
            for (int64_t j = 0; j < s1; j++)
                for (int64_t l = 0; l < s2; l++, yi++) {
                    int64_t src[3] = {i, j, l};
                    src[axis] = lra_i32(idx)[src[axis]];
                    if (lra_f32(y)[yi] != lra_f32(x)[lra_tensor_offset(x, src)]) bad++;
                    gref[(src[0] * 4 + src[1]) * 5 + src[2]] += lra_f32(gy)[yi];
                }
        CHECK_EQ_INT(bad, 0);
        double worst = 0.0;
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 4; j++)
                for (int64_t l = 0; l < 5; l++) {
                    // base->grad is in base's layout: [4, 3, 5] when transposed.
                    int64_t bi = transposed ? (j * 3 + i) * 5 + l : (i * 4 + j) * 5 + l;
                    worst = fmax(worst, fabs(gref[(i * 4 + j) * 5 + l] - base->grad[bi]));
                }
        CHECK_MSG(worst < 1e-6, "variant %d: gradient error %.3g", variant, worst);
        free(gref);
        lra_ctx_free(ctx);
    }
}

// gather_rows on [B, H, n, p] with idx [B, H, k] vs naive loops.
static void test_gather_rows_naive(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    const int64_t B = 2, H = 3, n = 6, p = 4, k = 9;
    lra_tensor *x = rnd(ctx, LRA_DIMS(B, H, n, p), 4, 1);
    lra_tensor *idx = ints(ctx, LRA_DIMS(B, H, k), 5, n);
    lra_tensor *y = lra_op_gather_rows(ctx, x, idx);
    REQUIRE(y->ndim == 4 && y->shape[2] == k && y->shape[3] == p);
    lra_tensor *gy = rnd(ctx, y->shape, 4, 6, 0);
    lra_backward_from(ctx, y, lra_f32(gy));
    float *gref = calloc((size_t)(B * H * n * p), sizeof(float));
    int64_t bad = 0;
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t j = 0; j < k; j++) {
            int32_t r = lra_i32(idx)[bh * k + j];
            for (int64_t c = 0; c < p; c++) {
                if (lra_f32(y)[(bh * k + j) * p + c] != lra_f32(x)[(bh * n + r) * p + c]) bad++;
                gref[(bh * n + r) * p + c] += lra_f32(gy)[(bh * k + j) * p + c];
            }
        }
    CHECK_EQ_INT(bad, 0);
    double worst = 0.0;
    for (int64_t i = 0; i < B * H * n * p; i++) worst = fmax(worst, fabs(gref[i] - x->grad[i]));
    CHECK_MSG(worst < 1e-6, "gradient error %.3g", worst);
    free(gref);
    // 2-d: x [n, p], idx [k].
    lra_tensor *x2 = rnd(ctx, LRA_DIMS(n, p), 7, 0);
    lra_tensor *i2 = ints(ctx, LRA_DIMS(3), 8, n);
    lra_tensor *y2 = lra_op_gather_rows(ctx, x2, i2);
    for (int64_t j = 0; j < 3; j++)
        for (int64_t c = 0; c < p; c++) CHECK(lra_f32(y2)[j * p + c] == lra_f32(x2)[lra_i32(i2)[j] * p + c]);
    lra_ctx_free(ctx);
}

// Top-k: descending values, ties to the lower index, against a naive selection.
static void test_topk_naive(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    const int64_t rows = 5, n = 40;
    lra_tensor *x = rnd(ctx, LRA_DIMS(rows, n), 9, 0);
    for (int64_t i = 0; i < rows * n; i++) lra_f32(x)[i] = roundf(lra_f32(x)[i] * 3.0f);  // many ties
    for (int64_t k = 0; k <= n; k += 13) {
        lra_tensor *y = lra_op_topk_indices(ctx, x, k);
        REQUIRE(y->dtype == LRA_I32 && y->shape[1] == k);
        CHECK(!y->requires_grad);
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = lra_f32(x) + r * n;
            unsigned char used[40] = {0};
            for (int64_t j = 0; j < k; j++) {
                int64_t best = -1;  // naive: the first index of the largest unused value
                for (int64_t i = 0; i < n; i++)
                    if (!used[i] && (best < 0 || xr[i] > xr[best])) best = i;
                used[best] = 1;
                CHECK_EQ_INT(lra_i32(y)[r * k + j], best);
            }
        }
    }
    // A strided input (a transposed view) gives the same as its contiguous copy.
    lra_tensor *xt = rnd(ctx, LRA_DIMS(n, rows), 10, 0);
    lra_tensor *v = lra_op_transpose(ctx, xt, 0, 1);
    lra_tensor *c = lra_op_contiguous(ctx, v);
    lra_tensor *ya = lra_op_topk_indices(ctx, v, 6), *yb = lra_op_topk_indices(ctx, c, 6);
    CHECK(memcmp(ya->data, yb->data, (size_t)(rows * 6) * sizeof(int32_t)) == 0);
    // NaN ranks above every number.
    float row[5] = {1.0f, NAN, 3.0f, -INFINITY, INFINITY};
    lra_tensor *xn = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(5));
    memcpy(xn->data, row, sizeof row);
    lra_tensor *yn = lra_op_topk_indices(ctx, xn, 5);
    int32_t expect[5] = {1, 4, 2, 0, 3};
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(lra_i32(yn)[i], expect[i]);
    lra_ctx_free(ctx);
}

// Output and input gradient of each op at `threads` threads (malloc'd, concatenated).
static float *det_run(int op, int threads, int64_t *len) {
    int prev = omp_get_max_threads();
    omp_set_num_threads(threads);
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = NULL, *y = NULL;
    if (op == 0) {  // heavy repetition: 4096 picks from 8 rows of 64 columns, along axis 1
        x = rnd(ctx, LRA_DIMS(3, 8, 64), 11, 1);
        y = lra_op_index_select(ctx, x, 1, ints(ctx, LRA_DIMS(4096), 12, 8));
    } else if (op == 1) {
        x = rnd(ctx, LRA_DIMS(4, 2, 256, 32), 13, 1);
        y = lra_op_gather_rows(ctx, x, ints(ctx, LRA_DIMS(4, 2, 300), 14, 256));
    } else {
        x = rnd(ctx, LRA_DIMS(64, 1000), 15, 0);
        y = lra_op_topk_indices(ctx, x, 100);
    }
    int64_t ny = lra_tensor_numel(y), nx = x->requires_grad ? lra_tensor_numel(x) : 0;
    float *res = malloc((size_t)(ny + nx) * sizeof(float));
    memcpy(res, y->data, (size_t)ny * 4);
    if (nx) {
        float *seed = malloc((size_t)ny * sizeof(float));
        lra_rng_fill_normal(3, 3, 0, seed, (size_t)ny, 0.0f, 1.0f);
        lra_backward_from(ctx, y, seed);
        memcpy(res + ny, x->grad, (size_t)nx * sizeof(float));
        free(seed);
    }
    *len = ny + nx;
    lra_ctx_free(ctx);
    omp_set_num_threads(prev);
    return res;
}

static void test_determinism_threads(void) {
    const char *names[] = {"index_select", "gather_rows", "topk_indices"};
    for (int op = 0; op < 3; op++) {
        int64_t n1, n2;
        float *a = det_run(op, 1, &n1), *b = det_run(op, 2, &n2);
        CHECK_MSG(n1 == n2 && memcmp(a, b, (size_t)n1 * 4) == 0, "%s differs between 1 and 2 threads", names[op]);
        free(a);
        free(b);
    }
}

static void test_gradchecks(void) {
    int count = 0;
    for (const lra_op_info *op = lra_optable_index; op->name; op++, count++) {
        if (op->no_grad) {
            CHECK(strcmp(op->name, "topk_indices") == 0 && op->forward);
            continue;
        }
        lra_gradcheck_case gc = lra_gradcheck_case_find(op->name);
        CHECK_MSG(op->forward && op->backward && gc, "%s lacks an entry", op->name);
        if (!gc) continue;
        lra_gradcheck_report rep;
        int ok = gc(&rep);
        CHECK_MSG(ok, "gradcheck %s: %s", op->name, rep.message);
    }
    CHECK_EQ_INT(count, 3);
}

static const lra_test_case TESTS[] = {
    {"index_select_naive", test_index_select_naive},
    {"gather_rows_naive", test_gather_rows_naive},
    {"topk_naive", test_topk_naive},
    {"determinism_threads", test_determinism_threads},
    {"gradchecks", test_gradchecks},
};
LRA_TEST_MAIN(TESTS)
