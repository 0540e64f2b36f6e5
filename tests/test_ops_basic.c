// Tests of the basic ops (ops_matmul.c, ops_elementwise.c, ops_reduce.c, ops_view.c): forward values
// against hand-computed or naive reference results, view semantics, broadcasting shapes, gradient
// checks of every op in their table parts, and bitwise determinism at 1 and 2 threads.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/optable.h"
#include "tests/gradcheck_cases.h"
#include "core/rng.h"
#include "core/status.h"
#include "tests/harness.h"

extern const lra_op_info lra_optable_matmul[];
extern const lra_op_info lra_optable_elementwise[];
extern const lra_op_info lra_optable_reduce[];
extern const lra_op_info lra_optable_view[];

// A contiguous arena tensor holding vals.
static lra_tensor *from_vals(lra_ctx *ctx, const float *vals, const int64_t *shape, int nd) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    memcpy(t->data, vals, (size_t)lra_tensor_numel(t) * sizeof(float));
    return t;
}

static lra_tensor *randn(lra_ctx *ctx, const int64_t *shape, int nd, uint64_t stream) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);
    lra_rng_fill_normal(7, stream, 0, lra_f32(t), (size_t)lra_tensor_numel(t), 0.0f, 1.0f);
    return t;
}

// Largest |t - ref| over t's logical elements (ref contiguous).
static double max_diff(const lra_tensor *t, const double *ref) {
    double m = 0.0;
    int64_t n = lra_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)lra_tensor_get_flat(t, i) - ref[i]));
    return m;
}

// ---------------------------------------------------------------- gradient checks of the table parts

static void run_table(const lra_op_info *part) {
    for (int i = 0; part[i].name; i++) {
        CHECK_MSG(part[i].forward != NULL, "%s: no forward", part[i].name);
        if (part[i].no_grad) continue;
        lra_gradcheck_case gc = lra_gradcheck_case_find(part[i].name);
        CHECK_MSG(part[i].backward && gc, "%s: no backward or gradient check", part[i].name);
        if (!gc) continue;
        lra_gradcheck_report rep;
        int ok = gc(&rep);
        printf("  gradcheck %-12s %s\n", part[i].name, rep.message);
        CHECK_MSG(ok, "%s: gradient check failed: %s", part[i].name, rep.message);
    }
}

static void test_gradcheck_matmul(void) { run_table(lra_optable_matmul); }
static void test_gradcheck_elementwise(void) { run_table(lra_optable_elementwise); }
static void test_gradcheck_reduce(void) { run_table(lra_optable_reduce); }
static void test_gradcheck_view(void) { run_table(lra_optable_view); }

// ---------------------------------------------------------------- matmul / linear

static void test_matmul_small(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    // [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[4,5],[10,11]]
    lra_tensor *a = from_vals(ctx, (const float[]){1, 2, 3, 4, 5, 6}, LRA_DIMS(2, 3));
    lra_tensor *b = from_vals(ctx, (const float[]){1, 0, 0, 1, 1, 1}, LRA_DIMS(3, 2));
    lra_tensor *c = lra_op_matmul(ctx, a, b, 0, 0);
    CHECK_EQ_INT(c->ndim, 2);
    CHECK_EQ_INT(c->shape[0], 2);
    CHECK_EQ_INT(c->shape[1], 2);
    const float want[] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++) CHECK_NEAR(lra_f32(c)[i], want[i], 0);
    // a^T a via the flag: [[17,22,27],[22,29,36],[27,36,45]]
    lra_tensor *g = lra_op_matmul(ctx, a, a, 1, 0);
    CHECK_EQ_INT(g->shape[0], 3);
    CHECK_NEAR(lra_f32(g)[0], 17, 0);
    CHECK_NEAR(lra_f32(g)[4], 29, 0);
    CHECK_NEAR(lra_f32(g)[8], 45, 0);
    // a a^T: [[14, 32], [32, 77]]
    lra_tensor *h = lra_op_matmul(ctx, a, a, 0, 1);
    CHECK_NEAR(lra_f32(h)[1], 32, 0);
    CHECK_NEAR(lra_f32(h)[3], 77, 0);
    // An empty inner dimension gives zeros.
    lra_tensor *e = lra_op_matmul(ctx, lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(3, 0)),
                                  lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(0, 2)), 0, 0);
    REQUIRE(e->shape[0] == 3 && e->shape[1] == 2);
    for (int i = 0; i < 6; i++) CHECK_NEAR(lra_f32(e)[i], 0, 0);
    lra_ctx_free(ctx);
}

// Naive product of logical tensors with the same broadcasting rules (batch dims right-aligned).
static void naive_matmul(const lra_tensor *a, const lra_tensor *b, int ta, int tb, const lra_tensor *c, double *ref) {
    int64_t M = c->shape[c->ndim - 2], N = c->shape[c->ndim - 1];
    int64_t K = ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    int64_t nb = lra_tensor_numel(c) / (M * N);
    int64_t cb[2] = {1, 1}, ab[2] = {1, 1}, bb[2] = {1, 1};
    for (int i = 0; i < c->ndim - 2; i++) cb[2 - (c->ndim - 2) + i] = c->shape[i];
    for (int i = 0; i < a->ndim - 2; i++) ab[2 - (a->ndim - 2) + i] = a->shape[i];
    for (int i = 0; i < b->ndim - 2; i++) bb[2 - (b->ndim - 2) + i] = b->shape[i];
    int64_t ar = a->shape[a->ndim - 2], acol = a->shape[a->ndim - 1];
    int64_t br = b->shape[b->ndim - 2], bcol = b->shape[b->ndim - 1];
    for (int64_t bi = 0; bi < nb; bi++) {
        int64_t i0 = bi / cb[1], i1 = bi % cb[1];
        int64_t abi = (ab[0] == 1 ? 0 : i0) * ab[1] + (ab[1] == 1 ? 0 : i1);
        int64_t bbi = (bb[0] == 1 ? 0 : i0) * bb[1] + (bb[1] == 1 ? 0 : i1);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double s = 0.0;
                for (int64_t k = 0; k < K; k++) {
                    int64_t ai = abi * ar * acol + (ta ? k * acol + m : m * acol + k);
                    int64_t bj = bbi * br * bcol + (tb ? n * bcol + k : k * bcol + n);
                    s += (double)lra_tensor_get_flat(a, ai) * lra_tensor_get_flat(b, bj);
                }
                ref[(bi * M + m) * N + n] = s;
            }
    }
}

static void test_matmul_reference(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    struct {
        int64_t sa[4], sb[4];
        int na, nb, ta, tb, view_a, view_b;  // view: 1 = transpose last two dims of the stored tensor
    } cases[] = {
        {{37, 19}, {19, 23}, 2, 2, 0, 0, 0, 0},
        {{2, 3, 17, 9}, {9, 11}, 4, 2, 0, 0, 0, 0},        // folded into one sgemm
        {{2, 3, 17, 9}, {2, 3, 9, 11}, 4, 4, 0, 0, 0, 0},  // batched
        {{3, 1, 5, 4}, {2, 4, 6}, 4, 3, 0, 0, 0, 0},       // broadcast both
        {{4, 9, 5}, {4, 7, 9}, 3, 3, 1, 1, 0, 0},          // flags
        {{4, 9, 5}, {7, 9}, 3, 2, 0, 0, 1, 1},             // transposed views
        {{4, 5, 9}, {7, 9}, 3, 2, 1, 0, 1, 1},             // flag on a transposed view
        {{64, 33}, {33, 48}, 2, 2, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lra_tensor *a = randn(ctx, cases[i].sa, cases[i].na, 10 + i), *b = randn(ctx, cases[i].sb, cases[i].nb, 20 + i);
        if (cases[i].view_a) a = lra_op_transpose(ctx, a, -1, -2);
        if (cases[i].view_b) b = lra_op_transpose(ctx, b, -1, -2);
        lra_tensor *c = lra_op_matmul(ctx, a, b, cases[i].ta, cases[i].tb);
        double *ref = malloc((size_t)lra_tensor_numel(c) * sizeof(double));
        naive_matmul(a, b, cases[i].ta, cases[i].tb, c, ref);
        double d = max_diff(c, ref);
        CHECK_MSG(d < 1e-4, "matmul case %zu: max diff %g", i, d);
        free(ref);
    }
    // Output shape of a broadcast product: [3, 1, 5, 4] x [2, 4, 6] -> [3, 2, 5, 6].
    lra_tensor *c = lra_op_matmul(ctx, randn(ctx, LRA_DIMS(3, 1, 5, 4), 1), randn(ctx, LRA_DIMS(2, 4, 6), 2), 0, 0);
    CHECK_EQ_INT(c->ndim, 4);
    CHECK(c->shape[0] == 3 && c->shape[1] == 2 && c->shape[2] == 5 && c->shape[3] == 6);
    lra_ctx_free(ctx);
}

// Backward of matmul against naive sums, with pre-filled gradients (the backward must ADD), for every
// flag combination and with either operand broadcast over the batch.
static void test_matmul_backward_adds(void) {
    for (int cfg = 0; cfg < 8; cfg++) {
        lra_ctx *ctx = lra_ctx_new(0);
        int ta = cfg & 1, tb = (cfg >> 1) & 1, a_batched = (cfg >> 2) & 1;
        int64_t M = 3, K = 4, N = 5, nb = 6;
        int64_t sa[3] = {nb, ta ? K : M, ta ? M : K}, sb[3] = {nb, tb ? N : K, tb ? K : N};
        lra_tensor *a = a_batched ? randn(ctx, sa, 3, 40 + cfg) : randn(ctx, sa + 1, 2, 40 + cfg);
        lra_tensor *b = a_batched ? randn(ctx, sb + 1, 2, 50 + cfg) : randn(ctx, sb, 3, 50 + cfg);
        a->requires_grad = b->requires_grad = 1;
        float *ga = lra_grad(ctx, a), *gb = lra_grad(ctx, b);
        for (int64_t i = 0; i < lra_tensor_numel(a); i++) ga[i] = 1.0f;
        for (int64_t i = 0; i < lra_tensor_numel(b); i++) gb[i] = 1.0f;
        lra_tensor *y = lra_op_matmul(ctx, a, b, ta, tb);
        REQUIRE(y->ndim == 3 && y->shape[0] == nb && y->shape[1] == M && y->shape[2] == N);
        int64_t ny = lra_tensor_numel(y);
        float *seed = malloc((size_t)ny * sizeof(float));
        lra_rng_fill_normal(9, 60 + cfg, 0, seed, (size_t)ny, 0.0f, 1.0f);
        lra_backward_from(ctx, y, seed);
        const float *A = lra_f32(a), *Bv = lra_f32(b);
        double *wa = calloc((size_t)lra_tensor_numel(a), sizeof(double));
        double *wb = calloc((size_t)lra_tensor_numel(b), sizeof(double));
        for (int64_t t = 0; t < nb; t++)
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < N; n++) {
                    double g = seed[(t * M + m) * N + n];
                    for (int64_t k = 0; k < K; k++) {
                        int64_t ia = (a_batched ? t * M * K : 0) + (ta ? k * M + m : m * K + k);
                        int64_t ib = (a_batched ? 0 : t * K * N) + (tb ? n * K + k : k * N + n);
                        wa[ia] += g * Bv[ib];
                        wb[ib] += g * A[ia];
                    }
                }
        for (int64_t i = 0; i < lra_tensor_numel(a); i++) CHECK_NEAR(ga[i], 1.0 + wa[i], 1e-4);
        for (int64_t i = 0; i < lra_tensor_numel(b); i++) CHECK_NEAR(gb[i], 1.0 + wb[i], 1e-4);
        free(seed);
        free(wa);
        free(wb);
        lra_ctx_free(ctx);
    }
}

static void test_linear_reference(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    int64_t R = 6, in = 5, out = 3;
    lra_tensor *x = randn(ctx, LRA_DIMS(2, 3, 5), 1), *w = randn(ctx, LRA_DIMS(3, 5), 2),
               *b = randn(ctx, LRA_DIMS(3), 3);
    x->requires_grad = w->requires_grad = b->requires_grad = 1;
    // Gradients ADD: pre-fill them and check the increments.
    float *gw = lra_grad(ctx, w), *gb = lra_grad(ctx, b);
    for (int i = 0; i < 15; i++) gw[i] = 1.0f;
    for (int i = 0; i < 3; i++) gb[i] = 2.0f;
    lra_tensor *y = lra_op_linear(ctx, x, w, b);
    CHECK(y->ndim == 3 && y->shape[2] == 3);
    const float *X = lra_f32(x), *W = lra_f32(w), *B = lra_f32(b), *Y = lra_f32(y);
    for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = B[o];
            for (int64_t k = 0; k < in; k++) s += (double)X[r * in + k] * W[o * in + k];
            CHECK_NEAR(Y[r * out + o], s, 1e-5);
        }
    float seed[18];
    for (int i = 0; i < 18; i++) seed[i] = (float)(i % 5) - 2.0f;
    lra_backward_from(ctx, y, seed);
    for (int64_t o = 0; o < out; o++) {
        double sb = 2.0;
        for (int64_t r = 0; r < R; r++) sb += seed[r * out + o];
        CHECK_NEAR(gb[o], sb, 1e-5);
        for (int64_t k = 0; k < in; k++) {
            double s = 1.0;
            for (int64_t r = 0; r < R; r++) s += (double)seed[r * out + o] * X[r * in + k];
            CHECK_NEAR(gw[o * in + k], s, 1e-4);
        }
    }
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < in; k++) {
            double s = 0.0;
            for (int64_t o = 0; o < out; o++) s += (double)seed[r * out + o] * W[o * in + k];
            CHECK_NEAR(x->grad[r * in + k], s, 1e-4);
        }
    // Without bias and through a strided x (a slice of the last dim): same as the contiguous result.
    lra_tensor *xw = randn(ctx, LRA_DIMS(4, 7), 4);
    lra_tensor *xs = lra_op_slice(ctx, xw, 1, 2, 7);
    lra_tensor *y1 = lra_op_linear(ctx, xs, w, NULL), *y2 = lra_op_linear(ctx, lra_op_contiguous(ctx, xs), w, NULL);
    CHECK(memcmp(y1->data, y2->data, 12 * sizeof(float)) == 0);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------- elementwise

static void test_binary_broadcast(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *a = from_vals(ctx, (const float[]){1, 2, 3, 4, 5, 6}, LRA_DIMS(2, 3));
    lra_tensor *b = from_vals(ctx, (const float[]){10, 20, 30}, LRA_DIMS(3));
    lra_tensor *c = from_vals(ctx, (const float[]){2, 4}, LRA_DIMS(2, 1));
    lra_tensor *s = lra_op_add(ctx, a, b);
    const float ws[] = {11, 22, 33, 14, 25, 36};
    for (int i = 0; i < 6; i++) CHECK_NEAR(lra_f32(s)[i], ws[i], 0);
    lra_tensor *d = lra_op_sub(ctx, b, a);  // [3] - [2, 3]
    CHECK(d->ndim == 2 && d->shape[0] == 2 && d->shape[1] == 3);
    CHECK_NEAR(lra_f32(d)[4], 15, 0);
    lra_tensor *m = lra_op_mul(ctx, a, c);
    const float wm[] = {2, 4, 6, 16, 20, 24};
    for (int i = 0; i < 6; i++) CHECK_NEAR(lra_f32(m)[i], wm[i], 0);
    lra_tensor *q = lra_op_div(ctx, a, c);
    CHECK_NEAR(lra_f32(q)[5], 1.5, 0);
    // [2, 1] x [3] -> [2, 3] (both broadcast); [4, 1, 1, 2] + [3, 1] -> [4, 1, 3, 2]
    lra_tensor *o = lra_op_mul(ctx, c, b);
    CHECK(o->shape[0] == 2 && o->shape[1] == 3);
    CHECK_NEAR(lra_f32(o)[5], 120, 0);
    lra_tensor *big = lra_op_add(ctx, randn(ctx, LRA_DIMS(4, 1, 1, 2), 1), randn(ctx, LRA_DIMS(3, 1), 2));
    CHECK(big->ndim == 4 && big->shape[0] == 4 && big->shape[1] == 1 && big->shape[2] == 3 && big->shape[3] == 2);
    // Transposed operand: a^T + [2] broadcast over rows.
    lra_tensor *r2 = from_vals(ctx, (const float[]){100, 200}, LRA_DIMS(2));
    lra_tensor *t = lra_op_add(ctx, lra_op_transpose(ctx, a, 0, 1), r2);  // [3, 2] + [2]
    const float wt[] = {101, 204, 102, 205, 103, 206};
    CHECK(t->shape[0] == 3 && t->shape[1] == 2);
    for (int i = 0; i < 6; i++) CHECK_NEAR(lra_f32(t)[i], wt[i], 0);
    lra_ctx_free(ctx);
}

static void test_binary_backward_reduces(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *a = from_vals(ctx, (const float[]){1, 2, 3, 4, 5, 6}, LRA_DIMS(2, 3));
    lra_tensor *b = from_vals(ctx, (const float[]){10, 20, 30}, LRA_DIMS(3));
    a->requires_grad = b->requires_grad = 1;
    lra_tensor *y = lra_op_mul(ctx, a, b);
    lra_backward_from(ctx, y, (const float[]){1, 1, 1, 1, 1, 1});
    // d/db sum(a * b) = column sums of a; d/da = b broadcast.
    CHECK_NEAR(b->grad[0], 5, 0);
    CHECK_NEAR(b->grad[1], 7, 0);
    CHECK_NEAR(b->grad[2], 9, 0);
    CHECK_NEAR(a->grad[4], 20, 0);
    lra_ctx_free(ctx);
}

static void test_unary_values(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = from_vals(ctx, (const float[]){-2.0f, -0.5f, 0.0f, 1.0f, 3.0f}, LRA_DIMS(5));
    // GELU erf form: 0.5 x (1 + erf(x / sqrt 2)); values from the closed form in double.
    lra_tensor *g = lra_op_gelu(ctx, x);
    for (int i = 0; i < 5; i++) {
        double v = lra_f32(x)[i];
        CHECK_NEAR(lra_f32(g)[i], 0.5 * v * (1.0 + erf(v / sqrt(2.0))), 1e-6);
    }
    CHECK_NEAR(lra_f32(g)[3], 0.8413447460685429, 1e-6);
    lra_tensor *r = lra_op_relu(ctx, x), *e = lra_op_elu(ctx, x, 1.0f), *ab = lra_op_abs(ctx, x);
    CHECK_NEAR(lra_f32(r)[0], 0, 0);
    CHECK_NEAR(lra_f32(r)[4], 3, 0);
    CHECK_NEAR(lra_f32(e)[0], expm1(-2.0), 1e-7);
    CHECK_NEAR(lra_f32(e)[3], 1, 0);
    CHECK_NEAR(lra_f32(ab)[1], 0.5, 0);
    lra_tensor *sc = lra_op_scale(ctx, x, 3.0f), *as = lra_op_add_scalar(ctx, x, 0.5f);
    CHECK_NEAR(lra_f32(sc)[4], 9, 0);
    CHECK_NEAR(lra_f32(as)[0], -1.5, 0);
    lra_tensor *th = lra_op_tanh(ctx, x), *ex = lra_op_exp(ctx, x);
    CHECK_NEAR(lra_f32(th)[3], tanh(1.0), 1e-7);
    CHECK_NEAR(lra_f32(ex)[4], exp(3.0), 1e-5);
    lra_tensor *p = from_vals(ctx, (const float[]){0.25f, 4.0f}, LRA_DIMS(2));
    CHECK_NEAR(lra_f32(lra_op_sqrt(ctx, p))[1], 2, 0);
    CHECK_NEAR(lra_f32(lra_op_rsqrt(ctx, p))[0], 2, 1e-7);
    CHECK_NEAR(lra_f32(lra_op_log(ctx, p))[1], log(4.0), 1e-7);
    CHECK_NEAR(lra_f32(lra_op_pow(ctx, p, 1.5f))[1], 8, 1e-6);
    CHECK_NEAR(lra_f32(lra_op_pow(ctx, x, 2.0f))[0], 4, 1e-6);
    // acos clamps to [-1 + eps, 1 - eps]; the gradient is 0 outside.
    lra_tensor *c = from_vals(ctx, (const float[]){-1.5f, 0.5f, 1.0f}, LRA_DIMS(3));
    c->requires_grad = 1;
    lra_tensor *ac = lra_op_acos(ctx, c, 0.01f);
    CHECK_NEAR(lra_f32(ac)[0], acos(-0.99), 1e-6);
    CHECK_NEAR(lra_f32(ac)[1], acos(0.5), 1e-6);
    CHECK_NEAR(lra_f32(ac)[2], acos(0.99), 1e-6);
    lra_backward_from(ctx, ac, (const float[]){1, 1, 1});
    CHECK_NEAR(c->grad[0], 0, 0);
    CHECK_NEAR(c->grad[1], -1.0 / sqrt(0.75), 1e-6);
    CHECK_NEAR(c->grad[2], 0, 0);
    // A strided input gives the same values as its contiguous copy.
    lra_tensor *m = randn(ctx, LRA_DIMS(5, 7), 3);
    lra_tensor *mt = lra_op_transpose(ctx, m, 0, 1);
    lra_tensor *g1 = lra_op_gelu(ctx, mt), *g2 = lra_op_gelu(ctx, lra_op_contiguous(ctx, mt));
    CHECK(memcmp(g1->data, g2->data, 35 * sizeof(float)) == 0);
    lra_ctx_free(ctx);
}

// GELU uses a vectorisable erf/exp; compare value and derivative with the double-precision formula.
static void test_gelu_accuracy(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    int64_t n = 24001;
    lra_tensor *x = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(n));
    for (int64_t i = 0; i < n; i++) lra_f32(x)[i] = (float)(-12.0 + 1e-3 * (double)i);
    x->requires_grad = 1;
    lra_tensor *y = lra_op_gelu(ctx, x);
    float *ones = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
    lra_backward_from(ctx, y, ones);
    double worst_y = 0.0, worst_g = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double v = lra_f32(x)[i];
        double cdf = 0.5 * (1.0 + erf(v / sqrt(2.0))), pdf = exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
        worst_y = fmax(worst_y, fabs(lra_f32(y)[i] - v * cdf));
        worst_g = fmax(worst_g, fabs(x->grad[i] - (cdf + v * pdf)));
    }
    CHECK_MSG(worst_y < 1e-6, "gelu value error %g", worst_y);
    CHECK_MSG(worst_g < 1e-6, "gelu derivative error %g", worst_g);
    CHECK_NEAR(lra_f32(y)[0], 0.0, 1e-30);  // gelu(-12) underflows to (-)0
    free(ones);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------- reductions

static void test_reduce_values(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    // [[1, 5, 2], [7, 0, 7]]
    lra_tensor *x = from_vals(ctx, (const float[]){1, 5, 2, 7, 0, 7}, LRA_DIMS(2, 3));
    x->requires_grad = 1;
    lra_tensor *s0 = lra_op_sum(ctx, x, 0, 0), *s1 = lra_op_sum(ctx, x, -1, 1);
    CHECK(s0->ndim == 1 && s0->shape[0] == 3);
    CHECK(s1->ndim == 2 && s1->shape[0] == 2 && s1->shape[1] == 1);
    CHECK_NEAR(lra_f32(s0)[0], 8, 0);
    CHECK_NEAR(lra_f32(s0)[2], 9, 0);
    CHECK_NEAR(lra_f32(s1)[1], 14, 0);
    lra_tensor *m = lra_op_mean(ctx, x, 1, 0);
    CHECK_NEAR(lra_f32(m)[0], 8.0 / 3.0, 1e-6);
    lra_tensor *mx = lra_op_max(ctx, x, 1, 0);
    CHECK_NEAR(lra_f32(mx)[0], 5, 0);
    CHECK_NEAR(lra_f32(mx)[1], 7, 0);
    // Ties: the gradient goes to the first maximum only.
    lra_backward_from(ctx, mx, (const float[]){1, 1});
    const float wg[] = {0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++) CHECK_NEAR(x->grad[i], wg[i], 0);
    lra_tensor *all = lra_op_sum_all(ctx, lra_op_transpose(ctx, x, 0, 1));
    CHECK(all->ndim == 1 && all->shape[0] == 1);
    CHECK_NEAR(lra_f32(all)[0], 22, 0);
    // Long sums accumulate in double: 1e6 values of 0.1 within float rounding of the result.
    lra_tensor *big = lra_op_full(ctx, LRA_DIMS(1000, 1000), 0.1f);
    CHECK_NEAR(lra_f32(lra_op_sum_all(ctx, big))[0], 1e6 * (double)0.1f, 0.07);
    CHECK_NEAR(lra_f32(lra_op_sum(ctx, big, 0, 0))[17], 1000 * (double)0.1f, 1e-4);
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------- views

static void test_view_semantics(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = randn(ctx, LRA_DIMS(2, 3, 4), 1);
    float *base = lra_f32(x);
    lra_tensor *r = lra_op_reshape(ctx, x, LRA_DIMS(4, -1));
    CHECK(r->data == x->data);
    CHECK(r->ndim == 2 && r->shape[1] == 6);
    lra_tensor *t = lra_op_transpose(ctx, x, 0, 2);
    CHECK(t->data == x->data);
    CHECK(t->shape[0] == 4 && t->shape[2] == 2 && t->stride[0] == 1 && t->stride[2] == 12);
    CHECK_NEAR(lra_tensor_get_flat(t, 1 * 6 + 2 * 2 + 1), base[1 * 12 + 2 * 4 + 1], 0);  // t[1,2,1] = x[1,2,1]
    lra_tensor *p = lra_op_permute(ctx, x, (const int[]){1, 2, 0});
    CHECK(p->data == x->data && p->shape[0] == 3 && p->shape[1] == 4 && p->shape[2] == 2);
    lra_tensor *s = lra_op_slice(ctx, x, 1, 1, 3);
    CHECK(lra_f32(s) == base + 4);
    CHECK(s->shape[1] == 2 && s->stride[0] == 12);
    lra_tensor *sn = lra_op_slice(ctx, x, -1, -3, -1);  // [1, 3) of the last dim
    CHECK(lra_f32(sn) == base + 1 && sn->shape[2] == 2);
    lra_tensor *parts[3];
    lra_op_split(ctx, x, 3, 1, parts);
    for (int k = 0; k < 3; k++) CHECK(lra_f32(parts[k]) == base + 4 * k && parts[k]->shape[1] == 1);
    // Reshape of a non-contiguous view copies (row-major order of the view).
    lra_tensor *rc = lra_op_reshape(ctx, t, LRA_DIMS(-1));
    CHECK(rc->data != x->data);
    for (int i = 0; i < 24; i++) CHECK_NEAR(lra_f32(rc)[i], lra_tensor_get_flat(t, i), 0);
    CHECK(lra_op_contiguous(ctx, x) == x);
    lra_tensor *tc = lra_op_contiguous(ctx, t);
    CHECK(tc != t && lra_tensor_is_contiguous(tc));
    // Concat along the middle axis.
    lra_tensor *a = from_vals(ctx, (const float[]){1, 2, 3, 4}, LRA_DIMS(2, 2));
    lra_tensor *b = from_vals(ctx, (const float[]){5, 6}, LRA_DIMS(2, 1));
    lra_tensor *cat = lra_op_concat(ctx, (lra_tensor *[]){a, b}, 2, 1);
    const float wc[] = {1, 2, 5, 3, 4, 6};
    CHECK(cat->shape[0] == 2 && cat->shape[1] == 3);
    for (int i = 0; i < 6; i++) CHECK_NEAR(lra_f32(cat)[i], wc[i], 0);
    lra_tensor *f = lra_op_full(ctx, LRA_DIMS(2, 5), -3.5f);
    CHECK(!f->requires_grad && f->shape[1] == 5);
    for (int i = 0; i < 10; i++) CHECK_NEAR(lra_f32(f)[i], -3.5, 0);
    // Writing through the base shows in the view (shared memory).
    base[1 * 12 + 2 * 4 + 3] = 123.0f;
    CHECK_NEAR(lra_tensor_get_flat(p, 2 * 8 + 3 * 2 + 1), 123.0, 0);  // p[2,3,1] = x[1,2,3]
    lra_ctx_free(ctx);
}

static void test_view_backward_chain(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = randn(ctx, LRA_DIMS(3, 4), 1);
    x->requires_grad = 1;
    // y = slice(transpose(x))[1:3, :] -> x[:, 1:3]^T; seed ones: grad 1 on x's columns 1 and 2 only.
    lra_tensor *y = lra_op_slice(ctx, lra_op_transpose(ctx, x, 0, 1), 0, 1, 3);
    float ones[6] = {1, 2, 3, 4, 5, 6};
    lra_backward_from(ctx, y, ones);
    // y[i, j] = x[j, 1 + i]: y is [2, 3]; seed[i*3 + j] lands on x[j, 1+i].
    for (int j = 0; j < 3; j++)
        for (int c = 0; c < 4; c++) {
            double want = (c == 1 || c == 2) ? ones[(c - 1) * 3 + j] : 0.0;
            CHECK_NEAR(x->grad[j * 4 + c], want, 0);
        }
    lra_ctx_free(ctx);
}

// y = a + b, with b also used by an op recorded before the add: the add's backward runs first and must
// not hand y's gradient buffer to both a and b (b's later contribution would reach a's gradient).
static void test_add_inputs_keep_own_gradients(void) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *a = randn(ctx, LRA_DIMS(2, 3), 1), *b = randn(ctx, LRA_DIMS(2, 3), 2);
    a->requires_grad = b->requires_grad = 1;
    lra_tensor *e = lra_op_scale(ctx, b, 3.0f);  // recorded first: its backward runs after the add's
    lra_tensor *y = lra_op_add(ctx, a, b);
    lra_tensor *loss = lra_op_add(ctx, lra_op_sum_all(ctx, y), lra_op_sum_all(ctx, e));
    lra_backward(ctx, loss);
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(a->grad[i], 1.0, 0);
        CHECK_NEAR(b->grad[i], 4.0, 0);
    }
    lra_ctx_free(ctx);
}

// ---------------------------------------------------------------- determinism

typedef struct {
    float *buf[64];
    int64_t len[64];
    int n;
} snapshot;

static void snap_add(snapshot *s, const float *p, int64_t n) {
    LRA_ASSERT(s->n < 64);
    s->buf[s->n] = malloc((size_t)n * sizeof(float));
    memcpy(s->buf[s->n], p, (size_t)n * sizeof(float));
    s->len[s->n++] = n;
}

static void snap_free(snapshot *s) {
    for (int i = 0; i < s->n; i++) free(s->buf[i]);
}

// Runs every op forward and backward on inputs large enough to take the parallel paths and records
// outputs and input gradients.
static void run_all_ops(snapshot *s) {
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *x = randn(ctx, LRA_DIMS(8, 64, 96), 1), *w = randn(ctx, LRA_DIMS(80, 96), 2);
    lra_tensor *bias = randn(ctx, LRA_DIMS(80), 3), *v = randn(ctx, LRA_DIMS(96), 4);
    lra_tensor *q = randn(ctx, LRA_DIMS(2, 4, 64, 32), 5), *k = randn(ctx, LRA_DIMS(2, 4, 64, 32), 6);
    lra_tensor *ins[] = {x, w, bias, v, q, k};
    for (int i = 0; i < 6; i++) ins[i]->requires_grad = 1;
    lra_tensor *h = lra_op_linear(ctx, x, w, bias);  // [8, 64, 80]
    lra_tensor *g = lra_op_gelu(ctx, h);
    lra_tensor *xt = lra_op_transpose(ctx, x, 0, 1);  // [64, 8, 96]
    lra_tensor *e = lra_op_mul(ctx, lra_op_add(ctx, xt, v), lra_op_tanh(ctx, xt));
    lra_tensor *d = lra_op_div(ctx, e, lra_op_add_scalar(ctx, lra_op_abs(ctx, xt), 1.0f));
    lra_tensor *att = lra_op_matmul(ctx, q, k, 0, 1);  // [2, 4, 64, 64]
    lra_tensor *ctxv = lra_op_matmul(ctx, lra_op_exp(ctx, lra_op_scale(ctx, att, 0.05f)), k, 0, 0);
    lra_tensor *proj = lra_op_matmul(ctx, ctxv, lra_op_slice(ctx, w, 0, 0, 32), 0, 0);  // [.., 64, 96]: b bcast
    lra_tensor *m0 = lra_op_mean(ctx, g, 1, 0), *m1 = lra_op_max(ctx, d, 0, 1), *m2 = lra_op_sum(ctx, proj, -1, 0);
    lra_tensor *cat =
        lra_op_concat(ctx,
                      (lra_tensor *[]){lra_op_reshape(ctx, m0, LRA_DIMS(-1)), lra_op_reshape(ctx, m1, LRA_DIMS(-1)),
                                       lra_op_reshape(ctx, m2, LRA_DIMS(-1))},
                      3, 0);
    lra_tensor *sq = lra_op_sqrt(ctx, lra_op_add_scalar(ctx, lra_op_pow(ctx, cat, 2.0f), 1.0f));
    lra_tensor *loss = lra_op_sum_all(ctx, lra_op_elu(ctx, lra_op_sub(ctx, sq, lra_op_relu(ctx, cat)), 1.0f));
    lra_backward(ctx, loss);
    // Products big enough for OpenBLAS to use several threads when it may.
    lra_tensor *big_a = randn(ctx, LRA_DIMS(384, 256), 7), *big_b = randn(ctx, LRA_DIMS(256, 320), 8);
    lra_tensor *big = lra_op_matmul(ctx, big_a, big_b, 0, 0);
    lra_tensor *wt = lra_op_transpose(ctx, randn(ctx, LRA_DIMS(320, 256), 9), 0, 1);  // [256, 320] view
    lra_tensor *big_l = lra_op_linear(ctx, big, wt, NULL);                             // [384, 256]
    snap_add(s, lra_f32(big), lra_tensor_numel(big));
    snap_add(s, lra_f32(big_l), lra_tensor_numel(big_l));
    snap_add(s, lra_f32(loss), 1);
    snap_add(s, lra_f32(h), lra_tensor_numel(h));
    snap_add(s, lra_f32(d), lra_tensor_numel(d));
    snap_add(s, lra_f32(proj), lra_tensor_numel(proj));
    for (int i = 0; i < 6; i++) snap_add(s, ins[i]->grad, lra_tensor_numel(ins[i]));
    lra_ctx_free(ctx);
}

// The ops run_all_ops leaves out, on inputs large enough for their parallel paths.
static lra_tensor *ints(lra_ctx *ctx, const int64_t *shape, int nd, int32_t mod, int32_t mul) {
    lra_tensor *t = lra_tensor_new(ctx->arena, LRA_I32, shape, nd);
    for (int64_t i = 0; i < lra_tensor_numel(t); i++) lra_i32(t)[i] = (int32_t)((i * mul + 7) % mod);
    return t;
}

static void run_more_ops(snapshot *s) {
    lra_ctx *ctx = lra_ctx_new(0);
    ctx->training = 1;
    ctx->seed = 11;
    lra_tensor *x = randn(ctx, LRA_DIMS(16, 128, 64), 21), *gam = randn(ctx, LRA_DIMS(64), 22);
    lra_tensor *bet = randn(ctx, LRA_DIMS(64), 23), *table = randn(ctx, LRA_DIMS(300, 64), 24);
    lra_tensor *logits = randn(ctx, LRA_DIMS(512, 10), 25);
    lra_tensor *ins[] = {x, gam, bet, table, logits};
    for (int i = 0; i < 5; i++) ins[i]->requires_grad = 1;
    lra_tensor *ln = lra_op_layer_norm(ctx, x, gam, bet, 1e-5f);
    lra_tensor *dr = lra_op_dropout(ctx, ln, 0.1f, 5);
    lra_tensor *emb = lra_op_embedding(ctx, ints(ctx, LRA_DIMS(16, 128), 300, 37), table);  // [16, 128, 64]
    lra_tensor *h = lra_op_add_dropout(ctx, lra_op_add(ctx, dr, emb), lra_op_gelu_dropout(ctx, ln, 0.2f, 7), 0.2f, 6);
    lra_tensor *sm = lra_op_softmax(ctx, h, NULL), *lsm = lra_op_log_softmax(ctx, h, NULL);
    lra_tensor *nrm = lra_op_l2_normalize(ctx, lra_op_sub(ctx, sm, lsm), 1e-6f);
    const int perm[3] = {2, 0, 1};
    lra_tensor *pm = lra_op_contiguous(ctx, lra_op_permute(ctx, nrm, perm));  // [64, 16, 128]
    lra_tensor *parts[2];
    lra_op_split(ctx, pm, 2, 0, parts);
    lra_tensor *sel = lra_op_index_select(ctx, parts[0], 2, ints(ctx, LRA_DIMS(40), 128, 3));  // [32, 16, 40]
    lra_tensor *gat = lra_op_gather_rows(ctx, pm, ints(ctx, LRA_DIMS(64, 24), 16, 5));         // [64, 24, 128]
    lra_tensor *spec = lra_op_rfft(ctx, gat, 2);                                                 // [64, 24, 65, 2]
    lra_tensor *mixed = lra_op_cmul(ctx, spec, lra_op_rfft(ctx, lra_op_slice(ctx, pm, 1, 0, 1), 2));
    lra_tensor *back = lra_op_irfft(ctx, mixed, 2, 128);                                          // [64, 24, 128]
    lra_tensor *pos = lra_op_add_scalar(ctx, lra_op_abs(ctx, back), 0.5f);
    lra_tensor *f1 = lra_op_add(ctx, lra_op_log(ctx, pos), lra_op_rsqrt(ctx, pos));
    lra_tensor *f2 = lra_op_acos(ctx, lra_op_tanh(ctx, sel), 1e-6f);
    lra_tensor *ce = lra_op_cross_entropy(ctx, logits, ints(ctx, LRA_DIMS(512), 10, 3), 0.0);
    lra_tensor *top = lra_op_topk_indices(ctx, lra_op_reshape(ctx, f1, LRA_DIMS(64 * 24, 128)), 8);
    // 32 destinations: the batched product takes its parallel-over-destinations path (lra_gemm_direct).
    lra_tensor *qb = randn(ctx, LRA_DIMS(4, 8, 96, 32), 26), *kb = randn(ctx, LRA_DIMS(4, 8, 80, 32), 27);
    qb->requires_grad = kb->requires_grad = 1;
    lra_tensor *sb = lra_op_matmul(ctx, qb, kb, 0, 1);  // [4, 8, 96, 80]
    // The head projections: 4 heads of 16 over x, merged back by a second projection.
    lra_tensor *wh = randn(ctx, LRA_DIMS(64, 64), 28), *bh = randn(ctx, LRA_DIMS(64), 29);
    lra_tensor *wo = randn(ctx, LRA_DIMS(48, 64), 30), *bo = randn(ctx, LRA_DIMS(48), 31);
    wh->requires_grad = bh->requires_grad = wo->requires_grad = bo->requires_grad = 1;
    lra_tensor *heads = lra_op_linear_heads(ctx, x, wh, bh, 4);                      // [16, 4, 128, 16]
    lra_tensor *merged = lra_op_heads_linear(ctx, lra_op_tanh(ctx, heads), wo, bo);  // [16, 128, 48]
    lra_tensor *one = lra_op_mul(ctx, lra_op_full(ctx, (int64_t[]){1}, 1, 0.25f),
                                 lra_op_scale(ctx, lra_op_sum_all(ctx, lra_op_tanh(ctx, sb)), 1e-4f));
    lra_tensor *loss = lra_op_add(ctx, lra_op_add(ctx, lra_op_scale(ctx, lra_op_sum_all(ctx, f1), 1e-4f), lra_op_scale(ctx, lra_op_sum_all(ctx, f2), 1e-4f)),
                                  lra_op_mul(ctx, ce, one));
    loss = lra_op_add(ctx, loss, lra_op_scale(ctx, lra_op_sum_all(ctx, lra_op_tanh(ctx, merged)), 1e-4f));
    // The final norm and pooling over h [16, 128, 64], example e padded after 128 - 5 e positions: mean and
    // first row.
    lra_tensor *pmask = lra_tensor_new(ctx->arena, LRA_F32, LRA_DIMS(16, 128));
    for (int64_t e = 0; e < 16 * 128; e++) lra_f32(pmask)[e] = e % 128 < 128 - 5 * (e / 128) ? 1.0f : 0.0f;
    lra_tensor *pool_mean = lra_op_layer_norm_pool(ctx, h, gam, bet, pmask, 1e-5f, 0);
    lra_tensor *pool_first = lra_op_layer_norm_pool(ctx, h, gam, bet, pmask, 1e-5f, 1);
    loss = lra_op_add(ctx, loss, lra_op_scale(ctx, lra_op_sum_all(ctx, lra_op_tanh(ctx, lra_op_sub(ctx, pool_mean, pool_first))), 1e-3f));
    lra_backward(ctx, loss);
    snap_add(s, lra_f32(pool_mean), lra_tensor_numel(pool_mean));
    snap_add(s, lra_f32(pool_first), lra_tensor_numel(pool_first));
    snap_add(s, lra_f32(loss), 1);
    snap_add(s, lra_f32(ln), lra_tensor_numel(ln));
    snap_add(s, lra_f32(dr), lra_tensor_numel(dr));
    snap_add(s, lra_f32(nrm), lra_tensor_numel(nrm));
    snap_add(s, lra_f32(back), lra_tensor_numel(back));
    snap_add(s, lra_f32(f2), lra_tensor_numel(f2));
    float topf[64 * 24 * 8];
    for (int64_t i = 0; i < 64 * 24 * 8; i++) topf[i] = (float)lra_i32(top)[i];
    snap_add(s, topf, 64 * 24 * 8);
    for (int i = 0; i < 5; i++) snap_add(s, ins[i]->grad, lra_tensor_numel(ins[i]));
    snap_add(s, lra_f32(sb), lra_tensor_numel(sb));
    snap_add(s, qb->grad, lra_tensor_numel(qb));
    snap_add(s, kb->grad, lra_tensor_numel(kb));
    snap_add(s, lra_f32(merged), lra_tensor_numel(merged));
    lra_tensor *hp[4] = {wh, bh, wo, bo};
    for (int i = 0; i < 4; i++) snap_add(s, hp[i]->grad, lra_tensor_numel(hp[i]));
    lra_ctx_free(ctx);
}

// Every op of the table is exercised by run_all_ops or run_more_ops.
static void test_determinism_covers_every_op(void) {
    static const char *const covered[] = {
        "add", "sub", "mul", "div", "scale", "add_scalar", "exp", "log", "sqrt", "rsqrt", "pow", "tanh", "acos",
        "abs", "gelu", "relu", "elu", "rfft", "irfft", "cmul", "index_select", "gather_rows", "topk_indices",
        "matmul", "linear", "linear_heads", "heads_linear", "softmax", "log_softmax", "cross_entropy", "layer_norm", "dropout", "add_dropout", "gelu_dropout", "embedding",
        "l2_normalize", "sum", "mean", "max", "sum_all", "reshape", "transpose", "permute", "slice", "contiguous",
        "concat", "split", "full", "layer_norm_pool"};
    for (const lra_op_info *op = lra_optable(); op->name; op++) {
        int found = 0;
        for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++) found |= !strcmp(covered[i], op->name);
        CHECK_MSG(found, "op %s is not in the thread-determinism test", op->name);
    }
}

static void test_determinism_threads(void) {
    int prev = omp_get_max_threads();
    snapshot ref = {0};
    omp_set_num_threads(1);
    run_all_ops(&ref);
    run_more_ops(&ref);
    CHECK(isfinite(ref.buf[0][0]));
    const int counts[] = {2, 3, 4};
    for (int c = 0; c < 3; c++) {
        snapshot s = {0};
        omp_set_num_threads(counts[c]);
        run_all_ops(&s);
        run_more_ops(&s);
        REQUIRE(s.n == ref.n);
        for (int i = 0; i < s.n; i++)
            CHECK_MSG(memcmp(ref.buf[i], s.buf[i], (size_t)s.len[i] * sizeof(float)) == 0,
                      "snapshot %d differs between 1 and %d threads", i, counts[c]);
        snap_free(&s);
    }
    omp_set_num_threads(prev);
    snap_free(&ref);
}

static const lra_test_case TESTS[] = {
    {"matmul_small", test_matmul_small},
    {"matmul_reference", test_matmul_reference},
    {"matmul_backward_adds", test_matmul_backward_adds},
    {"linear_reference", test_linear_reference},
    {"binary_broadcast", test_binary_broadcast},
    {"binary_backward_reduces", test_binary_backward_reduces},
    {"unary_values", test_unary_values},
    {"gelu_accuracy", test_gelu_accuracy},
    {"reduce_values", test_reduce_values},
    {"view_semantics", test_view_semantics},
    {"view_backward_chain", test_view_backward_chain},
    {"add_inputs_keep_own_gradients", test_add_inputs_keep_own_gradients},
    {"determinism_threads", test_determinism_threads},
    {"determinism_covers_every_op", test_determinism_covers_every_op},
    {"gradcheck_matmul", test_gradcheck_matmul},
    {"gradcheck_elementwise", test_gradcheck_elementwise},
    {"gradcheck_reduce", test_gradcheck_reduce},
    {"gradcheck_view", test_gradcheck_view},
};
LRA_TEST_MAIN(TESTS)
