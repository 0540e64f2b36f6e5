// Tests of the fused final norm and pooling (core/ops_pool.c): the same bits as the chain of ops it
// replaces (layer norm, mask, mean over positions or the first row), values and all gradients, with
// padded rows, a gradient already in x, a width with a vector tail, at 1 to 3 threads; and the gradient
// checks of this file's part of the op table.
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/optable.h"
#include "core/rng.h"
#include "core/threads.h"
#include "tests/gradcheck_cases.h"
#include "tests/harness.h"

extern const lra_op_info lra_optable_pool[];

// The chain: layer_norm, mul by the mask [B, n, 1], then mean over positions or row 0.
static lra_tensor *pool_chain(lra_ctx *ctx, lra_tensor *x, lra_tensor *g, lra_tensor *b, lra_tensor *mask, int first) {
    const int64_t B = x->shape[0], n = x->shape[1], d = x->shape[2];
    lra_tensor *y = lra_op_mul(ctx, lra_op_layer_norm(ctx, x, g, b, 1e-5f), lra_op_reshape(ctx, mask, LRA_DIMS(B, n, 1)));
    if (!first) return lra_op_mean(ctx, y, 1, 0);
    return lra_op_reshape(ctx, lra_op_slice(ctx, y, 1, 0, 1), LRA_DIMS(B, d));
}

typedef struct {
    float *buf;  // output, then the gradients of x, gamma, beta
    int64_t len;
} run_result;

// One way (fused or chain): output and gradients, x's gradient holding `pre` first when pre != NULL.
static run_result pool_run(int fused, lra_tensor *const *in, lra_tensor *mask, int first, const float *seed,
                           const float *pre) {
    lra_ctx *ctx = lra_ctx_new(0);
    for (int i = 0; i < 3; i++) in[i]->grad = NULL;
    lra_tensor *o = fused ? lra_op_layer_norm_pool(ctx, in[0], in[1], in[2], mask, 1e-5f, first)
                          : pool_chain(ctx, in[0], in[1], in[2], mask, first);
    const int64_t N = lra_tensor_numel(o);
    if (pre) memcpy(lra_grad(ctx, in[0]), pre, (size_t)lra_tensor_numel(in[0]) * sizeof(float));
    lra_backward_from(ctx, o, seed);
    run_result r = {.len = N};
    for (int i = 0; i < 3; i++) r.len += lra_tensor_numel(in[i]);
    r.buf = malloc((size_t)r.len * sizeof(float));
    float *w = r.buf;
    lra_tensor_gather_contiguous(o, w);
    w += N;
    for (int i = 0; i < 3; i++) {
        memcpy(w, in[i]->grad, (size_t)lra_tensor_numel(in[i]) * sizeof(float));
        w += lra_tensor_numel(in[i]);
        in[i]->grad = NULL;
    }
    lra_ctx_free(ctx);
    return r;
}

// A mask [B, n] with example b's first len(b) positions real.
static lra_tensor *prefix_mask(int64_t B, int64_t n) {
    lra_tensor *m = lra_gradcheck_input(LRA_DIMS(B, n), 1, 0.0f, 0.0f, 0);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < n; i++) lra_f32(m)[b * n + i] = i < n - 7 * b ? 1.0f : 0.0f;
    return m;
}

static void test_equals_chain(void) {
    // 3 x 50 = 150 rows: blocks of the parameter sums cross examples and the last one is partial; d = 13
    // leaves a tail after the 8-wide lanes.
    const int64_t B = 3, n = 50;
    const int prev = lra_threads_get();
    for (int64_t d = 8; d <= 13; d += 5) {
        lra_tensor *in[3] = {lra_gradcheck_input(LRA_DIMS(B, n, d), 81, 2.0f, 0.5f, 1),
                             lra_gradcheck_input(LRA_DIMS(d), 82, 0.5f, 1.0f, 1),
                             lra_gradcheck_input(LRA_DIMS(d), 83, 0.5f, 0.0f, 1)};
        lra_tensor *mask = prefix_mask(B, n);
        float *seed = malloc((size_t)(B * d) * sizeof(float)), *pre = malloc((size_t)(B * n * d) * sizeof(float));
        lra_rng_fill_normal(8, 1, 0, seed, (size_t)(B * d), 0.0f, 1.0f);
        lra_rng_fill_normal(8, 2, 0, pre, (size_t)(B * n * d), 0.0f, 1.0f);
        for (int first = 0; first <= 1; first++)
            for (int with_pre = 0; with_pre <= 1; with_pre++)
                for (int threads = 1; threads <= 3; threads++) {
                    lra_threads_set(threads);
                    run_result a = pool_run(0, in, mask, first, seed, with_pre ? pre : NULL);
                    run_result b = pool_run(1, in, mask, first, seed, with_pre ? pre : NULL);
                    CHECK_MSG(a.len == b.len && !memcmp(a.buf, b.buf, (size_t)a.len * sizeof(float)),
                              "layer_norm_pool (d %lld, %s, %s) differs from the chain at %d threads", (long long)d,
                              first ? "first row" : "mean", with_pre ? "x has a gradient" : "fresh gradient",
                              threads);
                    free(a.buf);
                    free(b.buf);
                }
        free(seed);
        free(pre);
        for (int i = 0; i < 3; i++) lra_gradcheck_free_input(in[i]);
        lra_gradcheck_free_input(mask);
    }
    lra_threads_set(prev);
}

static void test_gradchecks(void) {
    CHECK_EQ_INT(lra_gradcheck_table_part(lra_optable_pool), 1);  // layer_norm_pool
}

static const lra_test_case TESTS[] = {
    {"equals_chain", test_equals_chain},
    {"gradchecks", test_gradchecks},
};
LRA_TEST_MAIN(TESTS)
