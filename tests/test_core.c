// The arena, tensor headers and the autograd tape: alignment and growth, views, no-grad mode,
// gradient accumulation across backward passes, composite nodes with hand-written backward.
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "tests/harness.h"

static void test_arena_alignment_and_growth(void) {
    lra_arena *a = lra_arena_new(1024);
    void *p[50];
    for (int i = 0; i < 50; i++) {
        p[i] = lra_arena_alloc(a, (size_t)(1 + 37 * i));
        CHECK_EQ_INT((uintptr_t)p[i] % 64, 0);
        memset(p[i], 0xab, (size_t)(1 + 37 * i));  // ASan catches overlaps or overruns
    }
    void *big = lra_arena_alloc(a, 1 << 20);  // larger than any chunk so far: a chunk of its own
    CHECK(big != NULL);
    memset(big, 1, 1 << 20);
    const size_t hw = lra_arena_high_water(a), cap = lra_arena_capacity(a);
    CHECK(hw >= (1 << 20) && cap >= hw);
    lra_arena_reset(a);
    CHECK_EQ_INT(lra_arena_used(a), 0);
    // After a reset the chunks are reused in order: the same allocations get the same memory (already
    // mapped: no page faults in later steps) and nothing grows.
    for (int i = 0; i < 50; i++) CHECK(lra_arena_alloc(a, (size_t)(1 + 37 * i)) == p[i]);
    CHECK(lra_arena_alloc(a, 1 << 20) == big);
    CHECK_EQ_INT(lra_arena_capacity(a), cap);
    CHECK_EQ_INT(lra_arena_high_water(a), hw);
    float *z = lra_arena_calloc(a, 4096);
    for (int i = 0; i < 1024; i++) CHECK(z[i] == 0.0f);
    lra_arena_free(a);
}

static void test_tensor_views(void) {
    lra_arena *a = lra_arena_new(0);
    lra_tensor *t = lra_tensor_new(a, LRA_F32, LRA_DIMS(2, 3, 4));
    for (int i = 0; i < 24; i++) lra_f32(t)[i] = (float)i;
    CHECK(lra_tensor_is_contiguous(t));
    CHECK_EQ_INT(lra_tensor_numel(t), 24);
    lra_tensor *v = lra_tensor_view_of(a, t);
    // transpose dims 1 and 2 by hand: shape [2, 4, 3]
    v->shape[1] = 4;
    v->shape[2] = 3;
    v->stride[1] = 1;
    v->stride[2] = 4;
    CHECK(!lra_tensor_is_contiguous(v));
    CHECK_NEAR(lra_tensor_get_flat(v, 1), 4.0, 0);  // v[0,0,1] = t[0,1,0]
    float out[24];
    lra_tensor_gather_contiguous(v, out);
    CHECK_NEAR(out[3], 1.0, 0);  // v[0,1,0] = t[0,0,1]
    CHECK_NEAR(out[23], 23.0, 0);
    CHECK_EQ_INT(lra_tensor_axis(t, -1), 2);
    char buf[64];
    CHECK(!strcmp(lra_shape_str(t->shape, t->ndim, buf, sizeof buf), "[2, 3, 4]"));
    lra_arena_free(a);
}

static lra_tensor *param(float *data, int64_t n) {
    static lra_tensor ts[4];
    static int next = 0;
    lra_tensor *t = &ts[next++ % 4];
    *t = lra_tensor_make(LRA_F32, data, LRA_DIMS(n));
    t->requires_grad = 1;
    return t;
}

static void test_no_grad_records_nothing(void) {
    float wd[3] = {1, 2, 3}, gd[3] = {0, 0, 0};
    lra_tensor *w = param(wd, 3);
    w->grad = gd;
    lra_ctx *ctx = lra_ctx_new(0);
    int prev = lra_ctx_set_grad_enabled(ctx, 0);
    CHECK_EQ_INT(prev, 1);
    lra_tensor *y = lra_op_sum_all(ctx, lra_op_mul(ctx, w, w));
    CHECK_EQ_INT(lra_tape_size(ctx), 0);
    CHECK(!y->requires_grad);
    CHECK_NEAR(lra_f32(y)[0], 14.0, 1e-6);
    lra_ctx_set_grad_enabled(ctx, 1);
    y = lra_op_sum_all(ctx, lra_op_mul(ctx, w, w));
    CHECK_EQ_INT(lra_tape_size(ctx), 2);
    lra_ctx_free(ctx);
}

static void test_backward_accumulates(void) {
    // Two backward passes (two micro-batches) add their gradients: d/dw sum(w*w) = 2w, twice.
    float wd[3] = {1, 2, 3}, gd[3] = {0, 0, 0};
    lra_tensor *w = param(wd, 3);
    w->grad = gd;
    lra_ctx *ctx = lra_ctx_new(0);
    for (int micro = 0; micro < 2; micro++) {
        lra_ctx_reset(ctx);
        lra_backward(ctx, lra_op_sum_all(ctx, lra_op_mul(ctx, w, w)));
    }
    for (int i = 0; i < 3; i++) CHECK_NEAR(gd[i], 4.0 * wd[i], 1e-6);
    // A tensor used twice gets both contributions: y = w*w + 3w -> 2w + 3.
    memset(gd, 0, sizeof gd);
    lra_ctx_reset(ctx);
    lra_tensor *y = lra_op_add(ctx, lra_op_mul(ctx, w, w), lra_op_scale(ctx, w, 3.0f));
    lra_backward(ctx, lra_op_sum_all(ctx, y));
    for (int i = 0; i < 3; i++) CHECK_NEAR(gd[i], 2.0 * wd[i] + 3.0, 1e-6);
    lra_ctx_free(ctx);
}

// A composite op with a hand-written backward: y = x^3 (elementwise), dy/dx = 3 x^2.
static void cube_backward(lra_ctx *ctx, lra_node *nd) {
    lra_tensor *x = nd->in[0];
    float *gx = lra_grad(ctx, x);
    const float *gy = nd->out->grad;
    const int64_t n = lra_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) gx[i] += 3.0f * lra_f32(x)[i] * lra_f32(x)[i] * gy[i] * (float)nd->fattr[0];
}

static lra_tensor *cube(lra_ctx *ctx, lra_tensor *x) {
    lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, x->shape, x->ndim);
    for (int64_t i = 0; i < lra_tensor_numel(x); i++) lra_f32(y)[i] = lra_f32(x)[i] * lra_f32(x)[i] * lra_f32(x)[i];
    lra_node *nd = lra_tape_record(ctx, "cube", cube_backward, y, 1, (lra_tensor *[]){x});
    if (nd) nd->fattr[0] = 1.0;
    return y;
}

static void test_composite_node(void) {
    float wd[2] = {2, -1}, gd[2] = {0, 0};
    lra_tensor *w = param(wd, 2);
    w->grad = gd;
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *y = cube(ctx, lra_op_scale(ctx, w, 2.0f));  // (2w)^3 -> 24 w^2
    CHECK_EQ_INT(lra_tape_size(ctx), 2);
    lra_backward(ctx, lra_op_sum_all(ctx, y));
    CHECK_NEAR(gd[0], 96.0, 1e-4);
    CHECK_NEAR(gd[1], 24.0, 1e-4);
    // Inputs that need no gradient: nothing is recorded and the output does not require grad.
    lra_ctx_reset(ctx);
    float cd[2] = {1, 2};
    lra_tensor c = lra_tensor_make(LRA_F32, cd, LRA_DIMS(2));
    lra_tensor *z = cube(ctx, &c);
    CHECK_EQ_INT(lra_tape_size(ctx), 0);
    CHECK(!z->requires_grad);
    lra_ctx_free(ctx);
}

// Backward hands dead activation gradients to later ones of the same size: a chain of 6 scalings of a
// [1024] parameter needs a gradient buffer per link without recycling (the scalings work in place in their output's), two with it (the one in flight
// and its successor), so the arena grows by at most 2 buffers during backward; the result is the same;
// retain_grads keeps every intermediate gradient.
static void test_backward_recycles_gradients(void) {
    enum { N = 1024, LINKS = 6 };
    static float wd[N], gd[N];
    for (int i = 0; i < N; i++) wd[i] = (float)i / N;
    lra_tensor *w = param(wd, N);
    w->grad = gd;
    lra_ctx *ctx = lra_ctx_new(0);
    for (int retain = 0; retain < 2; retain++) {
        memset(gd, 0, sizeof gd);
        lra_ctx_reset(ctx);
        ctx->retain_grads = retain;
        lra_tensor *links[LINKS], *y = w;
        for (int l = 0; l < LINKS; l++) y = links[l] = cube(ctx, lra_op_scale(ctx, y, 1.0f));
        lra_tensor *loss = lra_op_sum_all(ctx, y);
        const size_t before = lra_arena_used(ctx->arena);
        lra_backward(ctx, loss);
        const size_t grown = lra_arena_used(ctx->arena) - before;
        if (retain) {
            CHECK(grown >= (size_t)LINKS * N * sizeof(float));
            for (int l = 0; l < LINKS; l++) CHECK(links[l]->grad != NULL);
        } else {
            CHECK(grown <= (size_t)3 * N * sizeof(float) + 4096);
            for (int l = 0; l < LINKS; l++) CHECK(links[l]->grad == NULL);
        }
        // d/dw of w^(3^6) = 729 w^728: compare at one point against the closed form.
        const int i = N - 1;
        CHECK_NEAR(gd[i], 729.0 * pow(wd[i], 728.0), 1e-3 * fabs(729.0 * pow(wd[i], 728.0)) + 1e-6);
    }
    lra_ctx_free(ctx);
}

static const lra_test_case TESTS[] = {
    {"arena_alignment_and_growth", test_arena_alignment_and_growth},
    {"tensor_views", test_tensor_views},
    {"no_grad_records_nothing", test_no_grad_records_nothing},
    {"backward_accumulates", test_backward_accumulates},
    {"composite_node", test_composite_node},
    {"backward_recycles_gradients", test_backward_recycles_gradients},
};
LRA_TEST_MAIN(TESTS)
