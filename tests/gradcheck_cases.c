// Gradient-check cases of the ops in core/ops.h, one or more checks per op (several shapes,
// non-contiguous views, broadcasting where relevant); see core/gradcheck.h.  Test code only: the op table
// (core/optable.h) names each op, and tests/test_optable.c looks its case up here by that name.
#include "tests/gradcheck_cases.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/ops.h"
#include "core/rng.h"
#include "tests/harness.h"

// The binary ops and reductions a shared case function checks (its own numbering, not the library's).
enum { GC_BIN_ADD, GC_BIN_SUB, GC_BIN_MUL, GC_BIN_DIV };
enum { GC_RED_SUM, GC_RED_MEAN, GC_RED_MAX, GC_RED_SUM_ALL };

// -------------------------------------------------------------- ops_matmul.c

// How a check input is turned into the operand (views exercise the strided/transposed layouts).
enum { PREP_NONE, PREP_T, PREP_SLICE_LAST, PREP_SLICE_FIRST, PREP_PERMUTE };

static lra_tensor *prep(lra_ctx *ctx, lra_tensor *x, int how) {
    switch (how) {
        case PREP_T:
            return lra_op_transpose(ctx, x, -1, -2);
        case PREP_SLICE_LAST:
            return lra_op_slice(ctx, x, -1, 1, x->shape[x->ndim - 1]);
        case PREP_SLICE_FIRST:
            return lra_op_slice(ctx, x, 0, 1, x->shape[0]);
        case PREP_PERMUTE:
            return lra_op_permute(ctx, x, (const int[]){2, 0, 1});  // 3-d only
        default:
            return x;
    }
}

typedef struct {
    int ta, tb, prep_a, prep_b;
    int64_t sa[4], sb[4];
    int na, nb;
} mm_case;

static lra_tensor *mm_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const mm_case *c = user;
    return lra_op_matmul(ctx, prep(ctx, in[0], c->prep_a), prep(ctx, in[1], c->prep_b), c->ta, c->tb);
}

static int run_cases(lra_gradcheck_fn fn, const mm_case *cases, int n, lra_gradcheck_report *rep) {
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        const mm_case *c = &cases[i];
        lra_tensor *ins[2] = {lra_gradcheck_input(c->sa, c->na, 100 + (uint64_t)i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(c->sb, c->nb, 200 + (uint64_t)i, 1.0f, 0.0f, 1)};
        ok &= lra_gradcheck_case_run(fn, ins, 2, (void *)c, NULL, NULL, rep);
        lra_gradcheck_free_input(ins[0]);
        lra_gradcheck_free_input(ins[1]);
    }
    return ok;
}

static int check_matmul(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    static const mm_case cases[] = {
        {0, 0, PREP_NONE, PREP_NONE, {3, 4}, {4, 5}, 2, 2},
        {0, 0, PREP_NONE, PREP_NONE, {2, 3, 4, 5}, {5, 3}, 4, 2},              // folded batch
        {0, 0, PREP_NONE, PREP_NONE, {2, 3, 4, 5}, {2, 3, 5, 2}, 4, 4},        // batched
        {0, 0, PREP_NONE, PREP_NONE, {3, 1, 4, 5}, {2, 5, 3}, 4, 3},           // broadcast both ways
        {1, 1, PREP_NONE, PREP_NONE, {2, 5, 4}, {2, 3, 5}, 3, 3},              // transpose flags
        {1, 0, PREP_NONE, PREP_NONE, {5, 4}, {3, 5, 2}, 2, 3},                 // broadcast a, flag
        {0, 0, PREP_T, PREP_SLICE_FIRST, {2, 5, 4}, {6, 3}, 3, 2},             // transposed view, row slice
        {0, 1, PREP_SLICE_LAST, PREP_SLICE_LAST, {2, 3, 4, 6}, {3, 6}, 4, 2},  // strided rows, folded
        {0, 0, PREP_PERMUTE, PREP_T, {4, 5, 2}, {3, 5}, 3, 2},                 // needs a copy
        {1, 0, PREP_T, PREP_NONE, {2, 3, 4, 5}, {3, 5, 2}, 4, 3},              // flag on a transposed view
        {0, 0, PREP_NONE, PREP_NONE, {4, 6}, {2, 3, 6, 3}, 2, 4},              // Linformer's E: dA gathered
        {0, 1, PREP_NONE, PREP_SLICE_LAST, {4, 6}, {2, 3, 3, 7}, 2, 4},        // gathered from a strided view
    };
    return run_cases(mm_fn, cases, (int)(sizeof cases / sizeof cases[0]), rep);
}

static lra_tensor *linear_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const int *how = user;
    lra_tensor *x = prep(ctx, in[0], how[0]), *w = prep(ctx, in[1], how[1]);
    return lra_op_linear(ctx, x, w, n > 2 ? prep(ctx, in[2], how[2]) : NULL);
}

static int check_linear(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    static const struct {
        int how[3];
        int64_t sx[4], sw[2], sb[1];
        int nx, has_bias;
    } cases[] = {
        {{PREP_NONE, PREP_NONE, PREP_NONE}, {2, 3, 4}, {5, 4}, {5}, 3, 1},
        {{PREP_NONE, PREP_NONE, PREP_NONE}, {7, 4}, {3, 4}, {3}, 2, 0},
        {{PREP_SLICE_LAST, PREP_T, PREP_SLICE_FIRST}, {2, 3, 5}, {4, 3}, {4}, 3, 1},  // strided x, w^T view
        {{PREP_T, PREP_SLICE_LAST, PREP_NONE}, {2, 4, 3}, {5, 5}, {5}, 3, 1},         // x needs a copy
        {{PREP_PERMUTE, PREP_NONE, PREP_NONE}, {3, 2, 2}, {3, 2}, {3}, 3, 1},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && ok; i++) {
        lra_tensor *ins[3] = {lra_gradcheck_input(cases[i].sx, cases[i].nx, 300 + i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(cases[i].sw, 2, 400 + i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(cases[i].sb, 1, 500 + i, 1.0f, 0.0f, 1)};
        ok &= lra_gradcheck_case_run(linear_fn, ins, cases[i].has_bias ? 3 : 2, (void *)cases[i].how, NULL, NULL, rep);
        for (int k = 0; k < 3; k++) lra_gradcheck_free_input(ins[k]);
    }
    return ok;
}

// -------------------------------------------------------------- ops_heads.c

static lra_tensor *linear_heads_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const int *how = user;  // {heads, prep of w}
    return lra_op_linear_heads(ctx, in[0], prep(ctx, in[1], how[1]), n > 2 ? in[2] : NULL, how[0]);
}

static lra_tensor *heads_linear_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const int *how = user;  // {unused, prep of o}
    return lra_op_heads_linear(ctx, prep(ctx, in[0], how[1]), in[1], n > 2 ? in[2] : NULL);
}

static int check_linear_heads(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    static const struct {
        int how[2];
        int64_t sx[3], sw[2], sb[1];
        int has_bias;
    } cases[] = {
        {{2, PREP_NONE}, {3, 5, 4}, {6, 4}, {6}, 1},
        {{1, PREP_NONE}, {2, 3, 5}, {4, 5}, {4}, 0},
        {{3, PREP_T}, {2, 4, 3}, {3, 6}, {6}, 1},  // w as a transposed view: [6, 3]
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && ok; i++) {
        lra_tensor *ins[3] = {lra_gradcheck_input(cases[i].sx, 3, 1300 + i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(cases[i].sw, 2, 1310 + i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(cases[i].sb, 1, 1320 + i, 1.0f, 0.0f, 1)};
        ok &= lra_gradcheck_case_run(linear_heads_fn, ins, cases[i].has_bias ? 3 : 2, (void *)cases[i].how, NULL,
                                     NULL, rep);
        for (int k = 0; k < 3; k++) lra_gradcheck_free_input(ins[k]);
    }
    return ok;
}

static int check_heads_linear(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    static const struct {
        int how[2];
        int64_t so[4], sw[2], sb[1];
        int has_bias;
    } cases[] = {
        {{0, PREP_NONE}, {3, 2, 5, 3}, {4, 6}, {4}, 1},
        {{0, PREP_NONE}, {2, 1, 3, 4}, {5, 4}, {5}, 0},
        {{0, PREP_T}, {2, 3, 4, 2}, {3, 12}, {3}, 1},  // o as a transposed view: [2, 3, 2, 4] -> [2, 3, 4, 2]
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && ok; i++) {
        lra_tensor *ins[3] = {lra_gradcheck_input(cases[i].so, 4, 1330 + i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(cases[i].sw, 2, 1340 + i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(cases[i].sb, 1, 1350 + i, 1.0f, 0.0f, 1)};
        ok &= lra_gradcheck_case_run(heads_linear_fn, ins, cases[i].has_bias ? 3 : 2, (void *)cases[i].how, NULL,
                                     NULL, rep);
        for (int k = 0; k < 3; k++) lra_gradcheck_free_input(ins[k]);
    }
    return ok;
}

// -------------------------------------------------------------- ops_elementwise.c

// Check inputs pass through a view first: 0 as is, 1 transposed (last two dims), 2 sliced (last dim
// from 1), so every op also sees strided operands.
static lra_tensor *view_prep(lra_ctx *ctx, lra_tensor *x, int how) {
    if (how == 1) return lra_op_transpose(ctx, x, -1, -2);
    if (how == 2) return lra_op_slice(ctx, x, -1, 1, x->shape[x->ndim - 1]);
    return x;
}

typedef struct {
    int kind;
    int prep_a, prep_b;
} bin_case;

static lra_tensor *binary_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const bin_case *c = user;
    lra_tensor *a = view_prep(ctx, in[0], c->prep_a), *b = view_prep(ctx, in[1], c->prep_b);
    static lra_tensor *(*const f[])(lra_ctx *, lra_tensor *, lra_tensor *) = {lra_op_add, lra_op_sub, lra_op_mul,
                                                                              lra_op_div};
    return f[c->kind](ctx, a, b);
}

// The broadcasting shapes every binary op is checked on (input shapes before the view prep).
static int check_binary(int kind, lra_gradcheck_report *rep) {
    static const struct {
        int64_t sa[4], sb[4];
        int na, nb, prep_a, prep_b;
    } shapes[] = {
        {{3, 4}, {3, 4}, 2, 2, 0, 0},          {{2, 3, 4}, {4}, 3, 1, 0, 0},  // bias-like
        {{2, 1, 4}, {3, 1}, 3, 2, 0, 0},                                      // both broadcast
        {{2, 3, 1, 5}, {3, 4, 1}, 4, 3, 0, 0},                                // 4-d, inner dim reduced
        {{4, 3}, {3, 4}, 2, 2, 1, 0},                                         // transposed a
        {{2, 3, 5}, {4, 1}, 3, 2, 2, 1},  // sliced a, transposed b -> [1, 4] broadcast
        {{3, 2}, {2, 3, 2}, 2, 3, 1, 1},  // transposed both, a broadcast over batch
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && ok; i++) {
        // Division by values near zero makes finite differences meaningless: shift b away from 0.
        float shift_b = kind == GC_BIN_DIV ? 2.0f : 0.0f;
        lra_tensor *ins[2] = {lra_gradcheck_input(shapes[i].sa, shapes[i].na, 800 + i, 1.0f, 0.0f, 1),
                              lra_gradcheck_input(shapes[i].sb, shapes[i].nb, 900 + i, 0.5f, shift_b, 1)};
        bin_case c = {kind, shapes[i].prep_a, shapes[i].prep_b};
        ok &= lra_gradcheck_case_run(binary_fn, ins, 2, &c, NULL, NULL, rep);
        lra_gradcheck_free_input(ins[0]);
        lra_gradcheck_free_input(ins[1]);
    }
    return ok;
}

static int check_add(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_binary(GC_BIN_ADD, rep);
}
static int check_sub(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_binary(GC_BIN_SUB, rep);
}
static int check_mul(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_binary(GC_BIN_MUL, rep);
}
static int check_div(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_binary(GC_BIN_DIV, rep);
}

typedef struct {
    lra_tensor *(*fn)(lra_ctx *, lra_tensor *, float);
    float p;
    int prep;
} un_case;

static lra_tensor *unary_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const un_case *c = user;
    return c->fn(ctx, view_prep(ctx, in[0], c->prep), c->p);
}

// Runs fn on a contiguous [3, 5], a transposed [2, 4, 3] and a sliced [2, 6] input drawn from
// N(shift, scale^2) (domain-restricted ops shift the inputs into their domain).
static int check_unary(lra_tensor *(*fn)(lra_ctx *, lra_tensor *, float), float p, float scale, float shift,
                       lra_gradcheck_report *rep) {
    static const struct {
        int64_t s[3];
        int nd, prep;
    } shapes[] = {{{3, 5}, 2, 0}, {{2, 4, 3}, 3, 1}, {{2, 6}, 2, 2}};
    int ok = 1;
    for (size_t i = 0; i < 3 && ok; i++) {
        lra_tensor *x = lra_gradcheck_input(shapes[i].s, shapes[i].nd, 1000 + i, scale, shift, 1);
        un_case c = {fn, p, shapes[i].prep};
        ok &= lra_gradcheck_case_run(unary_fn, &x, 1, &c, NULL, NULL, rep);
        lra_gradcheck_free_input(x);
    }
    return ok;
}

static lra_tensor *exp_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_exp(c, x); }
static lra_tensor *log_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_log(c, x); }
static lra_tensor *sqrt_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_sqrt(c, x); }
static lra_tensor *rsqrt_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_rsqrt(c, x); }
static lra_tensor *tanh_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_tanh(c, x); }
static lra_tensor *abs_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_abs(c, x); }
static lra_tensor *gelu_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_gelu(c, x); }
static lra_tensor *relu_p(lra_ctx *c, lra_tensor *x, float p) { return lra_op_relu(c, x); }

static int check_scale(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(lra_op_scale, -1.7f, 1.0f, 0.0f, r);
}
static int check_add_scalar(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(lra_op_add_scalar, 0.3f, 1.0f, 0.0f, r);
}
static int check_exp(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(exp_p, 0, 1.0f, 0.0f, r);
}
static int check_log(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(log_p, 0, 0.3f, 2.0f, r);
}
static int check_sqrt(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(sqrt_p, 0, 0.3f, 2.0f, r);
}
static int check_rsqrt(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(rsqrt_p, 0, 0.3f, 2.0f, r);
}
static int check_pow(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(lra_op_pow, 1.5f, 0.3f, 2.0f, r) && check_unary(lra_op_pow, 3.0f, 1.0f, 0.0f, r);
}
static int check_tanh(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(tanh_p, 0, 1.0f, 0.0f, r);
}
// Inside (-0.8, 0.8) the finite differences stay inside the clamp; values past 1 - eps test the zero gradient.
static int check_acos(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(lra_op_acos, 1e-3f, 0.25f, 0.0f, r) && check_unary(lra_op_acos, 1e-3f, 0.1f, 1.5f, r);
}
// Inputs away from the kinks (|x| >= 0.2 with N(0,1) draws can still land near 0, so shift them).
static int check_abs(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(abs_p, 0, 0.5f, 1.5f, r) && check_unary(abs_p, 0, 0.5f, -1.5f, r);
}
static int check_gelu(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(gelu_p, 0, 1.5f, 0.0f, r);
}
static int check_relu(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(relu_p, 0, 0.5f, 1.5f, r) && check_unary(relu_p, 0, 0.5f, -1.5f, r);
}
static int check_elu(lra_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    return check_unary(lra_op_elu, 1.0f, 0.5f, -1.5f, r) && check_unary(lra_op_elu, 0.7f, 0.5f, 1.5f, r);
}

// -------------------------------------------------------------- ops_reduce.c

typedef struct {
    int kind, axis, keepdim, prep;
} red_case;

static lra_tensor *reduce_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const red_case *c = user;
    lra_tensor *x = in[0];
    if (c->prep == 1) x = lra_op_transpose(ctx, x, 0, -1);
    if (c->prep == 2) x = lra_op_slice(ctx, x, -1, 1, x->shape[x->ndim - 1]);
    if (c->kind == GC_RED_SUM) return lra_op_sum(ctx, x, c->axis, c->keepdim);
    if (c->kind == GC_RED_MEAN) return lra_op_mean(ctx, x, c->axis, c->keepdim);
    if (c->kind == GC_RED_MAX) return lra_op_max(ctx, x, c->axis, c->keepdim);
    return lra_op_sum_all(ctx, x);
}

// Every axis of a 3-d input, keepdim both ways, through contiguous, transposed and sliced views.
static int check_reduce(int kind, lra_gradcheck_report *rep) {
    static const red_case cases[] = {{0, 0, 0, 0},  {0, 1, 1, 0}, {0, -1, 0, 0}, {0, 1, 0, 1},
                                     {0, -1, 1, 1}, {0, 0, 1, 2}, {0, 2, 0, 2}};
    int ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && ok; i++) {
        red_case c = cases[i];
        c.kind = kind;
        lra_tensor *x = lra_gradcheck_input(LRA_DIMS(3, 4, 5), 1100 + i, 1.0f, 0.0f, 1);
        ok &= lra_gradcheck_case_run(reduce_fn, &x, 1, &c, NULL, NULL, rep);
        lra_gradcheck_free_input(x);
    }
    return ok;
}

static int check_sum(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_reduce(GC_RED_SUM, rep);
}
static int check_mean(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_reduce(GC_RED_MEAN, rep);
}
static int check_max(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_reduce(GC_RED_MAX, rep);
}
static int check_sum_all(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    int ok = 1;
    for (int prep = 0; prep < 3 && ok; prep++) {
        red_case c = {GC_RED_SUM_ALL, 0, 0, prep};
        lra_tensor *x = lra_gradcheck_input(LRA_DIMS(2, 3, 4), 1200 + (uint64_t)prep, 1.0f, 0.0f, 1);
        ok &= lra_gradcheck_case_run(reduce_fn, &x, 1, &c, NULL, NULL, rep);
        lra_gradcheck_free_input(x);
    }
    return ok;
}

// -------------------------------------------------------------- ops_view.c

// Outputs are returned as views, so the checker reads them through their strides; chains of views
// (a slice of a permuted tensor, a reshape of a transposed one) test the mapping of non-contiguous inputs.

static int check_one(lra_gradcheck_fn fn, const int64_t *shape, int nd, int id, lra_gradcheck_report *rep) {
    lra_tensor *x = lra_gradcheck_input(shape, nd, 600 + (uint64_t)id, 1.0f, 0.0f, 1);
    int ok = lra_gradcheck_case_run(fn, &x, 1, &id, NULL, NULL, rep);
    lra_gradcheck_free_input(x);
    return ok;
}

static lra_tensor *reshape_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    if (*(int *)user == 0) return lra_op_reshape(ctx, in[0], LRA_DIMS(4, -1));  // view
    lra_tensor *t = lra_op_transpose(ctx, in[0], 0, 2);                         // [4, 3, 2]
    return lra_op_reshape(ctx, t, LRA_DIMS(-1, 2, 3));                          // copy
}

static int check_reshape(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_one(reshape_fn, LRA_DIMS(2, 3, 4), 0, rep) && check_one(reshape_fn, LRA_DIMS(2, 3, 4), 1, rep);
}

static lra_tensor *transpose_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    if (*(int *)user == 0) return lra_op_transpose(ctx, in[0], 0, 2);
    return lra_op_transpose(ctx, lra_op_slice(ctx, in[0], 1, 1, 3), -1, 1);
}

static int check_transpose(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_one(transpose_fn, LRA_DIMS(2, 3, 4), 0, rep) && check_one(transpose_fn, LRA_DIMS(2, 4, 3), 1, rep);
}

static lra_tensor *permute_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    if (*(int *)user == 0) return lra_op_permute(ctx, in[0], (const int[]){3, 1, 0, 2});
    lra_tensor *t = lra_op_transpose(ctx, in[0], 0, 3);
    return lra_op_permute(ctx, t, (const int[]){1, 3, 2, 0});
}

static int check_permute(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_one(permute_fn, LRA_DIMS(2, 3, 2, 4), 0, rep) && check_one(permute_fn, LRA_DIMS(2, 3, 2, 4), 1, rep);
}

static lra_tensor *slice_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    if (*(int *)user == 0) return lra_op_slice(ctx, in[0], 1, 1, 4);
    lra_tensor *t = lra_op_permute(ctx, in[0], (const int[]){2, 0, 1});
    return lra_op_slice(ctx, lra_op_slice(ctx, t, -1, 1, -1), 0, 2, 5);
}

static int check_slice(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_one(slice_fn, LRA_DIMS(4, 5, 3), 0, rep) && check_one(slice_fn, LRA_DIMS(3, 5, 6), 1, rep);
}

static lra_tensor *contiguous_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    if (*(int *)user == 0) return lra_op_contiguous(ctx, lra_op_slice(ctx, in[0], 0, 1, 3));  // contiguous slice
    return lra_op_contiguous(ctx, lra_op_slice(ctx, lra_op_transpose(ctx, in[0], 0, 1), -1, 0, 2));
}

static int check_contiguous(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_one(contiguous_fn, LRA_DIMS(3, 4), 0, rep) && check_one(contiguous_fn, LRA_DIMS(3, 4, 3), 1, rep);
}

static lra_tensor *concat_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    int id = *(int *)user;
    if (id == 0) return lra_op_concat(ctx, in, 3, 1);
    lra_tensor *xs[3] = {in[0], lra_op_transpose(ctx, in[1], 0, 2), lra_op_slice(ctx, in[2], 0, 1, 3)};
    return lra_op_concat(ctx, xs, 3, -1);
}

static int check_concat(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    static const int64_t shapes[2][3][3] = {{{2, 3, 4}, {2, 1, 4}, {2, 2, 4}}, {{2, 3, 2}, {3, 3, 2}, {3, 3, 3}}};
    int ok = 1;
    for (int id = 0; id < 2 && ok; id++) {
        lra_tensor *xs[3];
        for (int k = 0; k < 3; k++)
            xs[k] = lra_gradcheck_input(shapes[id][k], 3, 700 + (uint64_t)(id * 3 + k), 1.0f, 0.0f, 1);
        ok &= lra_gradcheck_case_run(concat_fn, xs, 3, &id, NULL, NULL, rep);
        for (int k = 0; k < 3; k++) lra_gradcheck_free_input(xs[k]);
    }
    return ok;
}

static lra_tensor *split_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    lra_tensor *p[3];
    lra_tensor *x = *(int *)user == 0 ? in[0] : lra_op_transpose(ctx, in[0], 0, 1);
    lra_op_split(ctx, x, 3, 1, p);
    lra_tensor *order[2] = {p[2], p[0]};  // p[1] unused: its gradient must stay zero
    return lra_op_concat(ctx, order, 2, 0);
}

static int check_split(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    return check_one(split_fn, LRA_DIMS(2, 6, 3), 0, rep) && check_one(split_fn, LRA_DIMS(6, 2, 3), 1, rep);
}

// -------------------------------------------------------------- ops_nn.c

// Small random dims for the checks (fixed seeds, so a failure reproduces).
static int64_t gc_dim(lra_rng *r, int64_t lo, int64_t hi) { return lra_rng_int(r, lo, hi + 1); }

typedef struct {
    int log_mode;
    int transpose;        // apply the op to transpose(x, 0, 1): a non-contiguous input
    lra_tensor *mask;     // additive mask or NULL
} gc_softmax_user;

static lra_tensor *gc_softmax_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_softmax_user *u = user;
    lra_tensor *x = in[0];
    if (u->transpose) x = lra_op_transpose(ctx, x, 0, 1);
    return u->log_mode ? lra_op_log_softmax(ctx, x, u->mask) : lra_op_softmax(ctx, x, u->mask);
}

static int gc_softmax_impl(lra_gradcheck_report *rep, int log_mode) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    lra_rng r = lra_rng_make(11, (uint64_t)log_mode);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    for (int variant = 0; variant < 4; variant++) {
        int64_t B = gc_dim(&r, 2, 3), H = gc_dim(&r, 1, 3), n = gc_dim(&r, 3, 7);
        gc_softmax_user u = {log_mode, 0, NULL};
        lra_tensor *x = NULL;
        const char *label = "plain";
        if (variant == 0) {
            x = lra_gradcheck_input(LRA_DIMS(B, H, n), 100 + variant, 1.5f, 0.0f, 1);
        } else if (variant == 1) {
            // Mask [B, 1, n] of 0 / -inf with one example fully masked (its rows must give zeros); softmax
            // also gets a partly masked column (log-softmax would output -inf there, which L cannot take).
            label = "-inf mask";
            x = lra_gradcheck_input(LRA_DIMS(B, H, n), 100 + variant, 1.5f, 0.0f, 1);
            u.mask = lra_gradcheck_input(LRA_DIMS(B, 1, n), 200, 1.0f, 0.0f, 0);
            for (int64_t b = 0; b < B; b++)
                for (int64_t i = 0; i < n; i++)
                    lra_f32(u.mask)[b * n + i] = (b == 0 || (!log_mode && i >= n - 1)) ? -INFINITY : 0.0f;
        } else if (variant == 2) {
            // A finite mask broadcast along the rows ([n]) and a transposed (non-contiguous) input.  -1e9
            // for softmax; log-softmax passes the gradient through masked entries, which a finite
            // difference cannot see at -1e9 in float, so it gets -4.
            label = "finite mask, transposed";
            x = lra_gradcheck_input(LRA_DIMS(H, B, n), 100 + variant, 1.5f, 0.0f, 1);
            u.transpose = 1;
            u.mask = lra_gradcheck_input(LRA_DIMS(n), 201, 1.0f, 0.0f, 0);
            for (int64_t i = 0; i < n; i++) lra_f32(u.mask)[i] = (i % 3 == 1) ? (log_mode ? -4.0f : -1e9f) : 0.0f;
        } else {
            // A transposed input whose softmax axis is the strided one.
            label = "transposed last axis";
            x = lra_gradcheck_input(LRA_DIMS(n, B), 100 + variant, 1.5f, 0.0f, 1);
            u.transpose = 1;
        }
        if (!lra_gradcheck_case_run(gc_softmax_fn, &x, 1, &u, &o, label, rep)) ok = 0;
        lra_gradcheck_free_input(x);
        lra_gradcheck_free_input(u.mask);
    }
    return ok;
}

static int gc_softmax(lra_gradcheck_report *rep) { return gc_softmax_impl(rep, 0); }
static int gc_log_softmax(lra_gradcheck_report *rep) { return gc_softmax_impl(rep, 1); }

typedef struct {
    lra_tensor *labels;
    double weight_sum;
    int transpose;
} gc_ce_user;

static lra_tensor *gc_ce_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_ce_user *u = user;
    lra_tensor *x = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_cross_entropy(ctx, x, u->labels, u->weight_sum);
}

static int gc_cross_entropy(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    lra_rng r = lra_rng_make(12, 0);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    for (int variant = 0; variant < 3; variant++) {
        int64_t B = gc_dim(&r, 2, 6), C = gc_dim(&r, 2, 10);
        gc_ce_user u = {lra_gradcheck_int_input(LRA_DIMS(B), &r, C), variant == 1 ? 2.5 : 0.0, variant == 2};
        lra_tensor *x = variant == 2 ? lra_gradcheck_input(LRA_DIMS(C, B), 300 + variant, 2.0f, 0.0f, 1)
                                     : lra_gradcheck_input(LRA_DIMS(B, C), 300 + variant, 2.0f, 0.0f, 1);
        const char *label = variant == 0 ? "mean" : variant == 1 ? "weight_sum" : "transposed logits";
        if (!lra_gradcheck_case_run(gc_ce_fn, &x, 1, &u, &o, label, rep)) ok = 0;
        lra_gradcheck_free_input(x);
        lra_gradcheck_free_input(u.labels);
    }
    return ok;
}

typedef struct {
    int transpose;
    int affine;  // 0: no gamma/beta, 1: both, 2: gamma only
} gc_ln_user;

static lra_tensor *gc_ln_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_ln_user *u = user;
    lra_tensor *x = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_layer_norm(ctx, x, u->affine ? in[1] : NULL, u->affine == 1 ? in[2] : NULL, 1e-5f);
}

static int gc_layer_norm(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    o.eps = 3e-3;
    lra_rng r = lra_rng_make(13, 0);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    for (int variant = 0; variant < 3; variant++) {
        int64_t B = gc_dim(&r, 2, 4), T = gc_dim(&r, 1, 3), d = gc_dim(&r, 3, 8);
        gc_ln_user u = {variant == 2, variant == 1 ? 1 : variant == 2 ? 2 : 0};
        lra_tensor *in[3];
        in[0] = variant == 2 ? lra_gradcheck_input(LRA_DIMS(T, B, d), 400 + variant, 1.0f, 0.5f, 1)
                             : lra_gradcheck_input(LRA_DIMS(B, T, d), 400 + variant, 1.0f, 0.5f, 1);
        in[1] = lra_gradcheck_input(LRA_DIMS(d), 410 + variant, 0.5f, 1.0f, 1);
        in[2] = lra_gradcheck_input(LRA_DIMS(d), 420 + variant, 0.5f, 0.0f, 1);
        const char *label = variant == 0 ? "no affine" : variant == 1 ? "gamma+beta" : "transposed, gamma only";
        if (!lra_gradcheck_case_run(gc_ln_fn, in, 3, &u, &o, label, rep)) ok = 0;
        for (int i = 0; i < 3; i++) lra_gradcheck_free_input(in[i]);
    }
    return ok;
}

// The final norm and pooling: mean and first row, with padded positions (their rows get no gradient).
typedef struct {
    lra_tensor *mask;
    int first;
} gc_ln_pool_user;

static lra_tensor *gc_ln_pool_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_ln_pool_user *u = user;
    return lra_op_layer_norm_pool(ctx, in[0], in[1], in[2], u->mask, 1e-5f, u->first);
}

static int gc_layer_norm_pool(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    o.eps = 3e-3;
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    const int64_t B = 2, T = 4, d = 5;
    gc_ln_pool_user u = {lra_gradcheck_input(LRA_DIMS(B, T), 1, 0.0f, 0.0f, 0), 0};
    for (int64_t e = 0; e < B * T; e++) lra_f32(u.mask)[e] = e % T < T - 1 - e / T ? 1.0f : 0.0f;
    lra_tensor *in[3] = {lra_gradcheck_input(LRA_DIMS(B, T, d), 430, 1.0f, 0.5f, 1),
                         lra_gradcheck_input(LRA_DIMS(d), 431, 0.5f, 1.0f, 1),
                         lra_gradcheck_input(LRA_DIMS(d), 432, 0.5f, 0.0f, 1)};
    for (u.first = 0; u.first <= 1; u.first++)
        if (!lra_gradcheck_case_run(gc_ln_pool_fn, in, 3, &u, &o, u.first ? "first row" : "mean", rep)) ok = 0;
    for (int i = 0; i < 3; i++) lra_gradcheck_free_input(in[i]);
    lra_gradcheck_free_input(u.mask);
    return ok;
}

typedef struct {
    float p;
    int transpose;
} gc_dropout_user;

static lra_tensor *gc_dropout_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_dropout_user *u = user;
    lra_tensor *x = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_dropout(ctx, x, u->p, 7);
}

static int gc_dropout(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    gc_dropout_user u1 = {0.3f, 0};
    lra_tensor *x = lra_gradcheck_input(LRA_DIMS(3, 4, 5), 500, 1.0f, 0.0f, 1);
    if (!lra_gradcheck_case_run(gc_dropout_fn, &x, 1, &u1, &o, "p=0.3", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    gc_dropout_user u2 = {0.5f, 1};
    x = lra_gradcheck_input(LRA_DIMS(6, 7), 501, 1.0f, 0.0f, 1);
    if (!lra_gradcheck_case_run(gc_dropout_fn, &x, 1, &u2, &o, "p=0.5 transposed", rep)) ok = 0;
    o.training = 0;  // evaluation: identity (a transposed input gives a differentiable copy)
    if (!lra_gradcheck_case_run(gc_dropout_fn, &x, 1, &u2, &o, "eval transposed", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    return ok;
}

// x + dropout(z): the fused residual, with both inputs differentiable; the same values as the two ops;
// an input that needs no gradient; evaluation (plain addition).
static lra_tensor *gc_add_dropout_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    return lra_op_add_dropout(ctx, in[0], in[1], *(const float *)user, 9);
}

static int gc_add_dropout(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    float p = 0.3f;
    lra_tensor *in[2] = {lra_gradcheck_input(LRA_DIMS(3, 4, 5), 510, 1.0f, 0.0f, 1),
                         lra_gradcheck_input(LRA_DIMS(3, 4, 5), 511, 1.0f, 0.0f, 1)};
    if (!lra_gradcheck_case_run(gc_add_dropout_fn, in, 2, &p, &o, "p=0.3", rep)) ok = 0;
    // Same bits as lra_op_add(x, lra_op_dropout(z)).
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *fused = lra_op_add_dropout(ctx, in[0], in[1], p, 9);
    lra_tensor *pair = lra_op_add(ctx, in[0], lra_op_dropout(ctx, in[1], p, 9));
    if (memcmp(lra_f32(fused), lra_f32(pair), 60 * sizeof(float)) != 0) {
        fprintf(stderr, "add_dropout: differs from add(x, dropout(z))\n");
        ok = 0;
    }
    lra_ctx_free(ctx);
    in[0]->requires_grad = 0;
    if (!lra_gradcheck_case_run(gc_add_dropout_fn, in, 2, &p, &o, "x constant", rep)) ok = 0;
    in[0]->requires_grad = 1;
    o.training = 0;
    if (!lra_gradcheck_case_run(gc_add_dropout_fn, in, 2, &p, &o, "eval", rep)) ok = 0;
    for (int i = 0; i < 2; i++) lra_gradcheck_free_input(in[i]);
    return ok;
}

// dropout(gelu(x)): gradients at p = 0.3 (inputs spread over both branches of erf); the same values as
// the two ops, forward and backward; evaluation (plain gelu).
static lra_tensor *gc_gelu_dropout_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    return lra_op_gelu_dropout(ctx, in[0], *(const float *)user, 12);
}

static int gc_gelu_dropout(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    float p = 0.3f;
    lra_tensor *x = lra_gradcheck_input(LRA_DIMS(3, 4, 5), 520, 2.5f, 0.0f, 1);
    if (!lra_gradcheck_case_run(gc_gelu_dropout_fn, &x, 1, &p, &o, "p=0.3", rep)) ok = 0;
    // Same bits as lra_op_dropout(lra_op_gelu(x)), values and gradients (one context each).
    float vals[2][60], grads[2][60];
    for (int k = 0; k < 2; k++) {
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->training = 1;
        x->grad = NULL;
        lra_tensor *y = k ? lra_op_dropout(ctx, lra_op_gelu(ctx, x), p, 12) : lra_op_gelu_dropout(ctx, x, p, 12);
        lra_backward(ctx, lra_op_sum_all(ctx, lra_op_mul(ctx, y, y)));
        memcpy(vals[k], lra_f32(y), sizeof vals[k]);
        memcpy(grads[k], x->grad, sizeof grads[k]);
        x->grad = NULL;
        lra_ctx_free(ctx);
    }
    if (memcmp(vals[0], vals[1], sizeof vals[0]) != 0 || memcmp(grads[0], grads[1], sizeof grads[0]) != 0) {
        fprintf(stderr, "gelu_dropout: differs from dropout(gelu(x))\n");
        ok = 0;
    }
    o.training = 0;
    if (!lra_gradcheck_case_run(gc_gelu_dropout_fn, &x, 1, &p, &o, "eval", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    return ok;
}

typedef struct {
    lra_tensor *ids;
    int transpose_table;
} gc_emb_user;

static lra_tensor *gc_emb_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_emb_user *u = user;
    lra_tensor *t = u->transpose_table ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_embedding(ctx, u->ids, t);
}

static int gc_embedding(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    lra_rng r = lra_rng_make(14, 0);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    for (int variant = 0; variant < 2; variant++) {
        int64_t V = gc_dim(&r, 3, 6), d = gc_dim(&r, 2, 5), B = gc_dim(&r, 2, 3), n = gc_dim(&r, 4, 8);
        // Few ids over many positions: repeated ids exercise the scatter-add.
        gc_emb_user u = {lra_gradcheck_int_input(LRA_DIMS(B, n), &r, V), variant};
        lra_tensor *t = variant ? lra_gradcheck_input(LRA_DIMS(d, V), 600, 1.0f, 0.0f, 1)
                                : lra_gradcheck_input(LRA_DIMS(V, d), 601, 1.0f, 0.0f, 1);
        if (!lra_gradcheck_case_run(gc_emb_fn, &t, 1, &u, &o, variant ? "transposed table" : "plain", rep)) ok = 0;
        lra_gradcheck_free_input(t);
        lra_gradcheck_free_input(u.ids);
    }
    return ok;
}

typedef struct {
    int transpose;
    float eps;
} gc_l2_user;

static lra_tensor *gc_l2_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_l2_user *u = user;
    lra_tensor *x = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_l2_normalize(ctx, x, u->eps);
}

static int gc_l2_normalize(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    o.eps = 3e-3;
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    gc_l2_user u1 = {0, 1e-6f};
    lra_tensor *x = lra_gradcheck_input(LRA_DIMS(2, 3, 5), 700, 1.0f, 0.2f, 1);
    if (!lra_gradcheck_case_run(gc_l2_fn, &x, 1, &u1, &o, "plain", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    gc_l2_user u2 = {1, 1e-6f};
    x = lra_gradcheck_input(LRA_DIMS(6, 4), 701, 1.0f, 0.0f, 1);
    if (!lra_gradcheck_case_run(gc_l2_fn, &x, 1, &u2, &o, "transposed", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    // Rows whose norm is below eps: the denominator is the constant eps.
    gc_l2_user u3 = {0, 10.0f};
    x = lra_gradcheck_input(LRA_DIMS(3, 4), 702, 1.0f, 0.0f, 1);
    if (!lra_gradcheck_case_run(gc_l2_fn, &x, 1, &u3, &o, "clamped", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    return ok;
}

// -------------------------------------------------------------- ops_index.c

typedef struct {
    lra_tensor *idx;
    int axis;
    int transpose;  // select from transpose(x, 0, 1), a non-contiguous view
} gc_isel_user;

static lra_tensor *gc_isel_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_isel_user *u = user;
    lra_tensor *x = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_index_select(ctx, x, u->axis, u->idx);
}

static int gc_index_select(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    lra_rng r = lra_rng_make(21, 0);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    static const char *labels[] = {"axis 0", "axis 1", "axis -1", "transposed, axis 1"};
    for (int variant = 0; variant < 4; variant++) {
        int64_t s[3] = {lra_rng_int(&r, 2, 5), lra_rng_int(&r, 2, 5), lra_rng_int(&r, 2, 6)};
        int axis = variant == 0 ? 0 : variant == 2 ? -1 : 1;
        int ax = axis < 0 ? 2 : axis;
        int64_t k = lra_rng_int(&r, 1, 7);  // often more than the axis: repeated indices
        gc_isel_user u = {lra_gradcheck_int_input(LRA_DIMS(k), &r, s[ax]), axis, variant == 3};
        lra_tensor *x = variant == 3 ? lra_gradcheck_input(LRA_DIMS(s[1], s[0], s[2]), 800 + variant, 1.0f, 0.0f, 1)
                                     : lra_gradcheck_input(s, 3, 800 + variant, 1.0f, 0.0f, 1);
        if (!lra_gradcheck_case_run(gc_isel_fn, &x, 1, &u, &o, labels[variant], rep)) ok = 0;
        lra_gradcheck_free_input(x);
        lra_gradcheck_free_input(u.idx);
    }
    return ok;
}

typedef struct {
    lra_tensor *idx;
    int transpose;
} gc_gather_user;

static lra_tensor *gc_gather_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_gather_user *u = user;
    lra_tensor *x = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_gather_rows(ctx, x, u->idx);
}

static int gc_gather_rows(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    lra_rng r = lra_rng_make(22, 0);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    // [n, p] with idx [k]
    int64_t n = lra_rng_int(&r, 2, 6), p = lra_rng_int(&r, 1, 4), k = lra_rng_int(&r, 2, 8);
    gc_gather_user u = {lra_gradcheck_int_input(LRA_DIMS(k), &r, n), 0};
    lra_tensor *x = lra_gradcheck_input(LRA_DIMS(n, p), 900, 1.0f, 0.0f, 1);
    if (!lra_gradcheck_case_run(gc_gather_fn, &x, 1, &u, &o, "2-d", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    lra_gradcheck_free_input(u.idx);
    // [B, H, n, p] with idx [B, H, k]
    int64_t B = 2, H = lra_rng_int(&r, 1, 4);
    n = lra_rng_int(&r, 2, 6), p = lra_rng_int(&r, 1, 4), k = lra_rng_int(&r, 2, 8);
    u = (gc_gather_user){lra_gradcheck_int_input(LRA_DIMS(B, H, k), &r, n), 0};
    x = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 901, 1.0f, 0.0f, 1);
    if (!lra_gradcheck_case_run(gc_gather_fn, &x, 1, &u, &o, "4-d", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    // transpose(x [H, B, n, p], 0, 1): a non-contiguous [B, H, n, p]
    x = lra_gradcheck_input(LRA_DIMS(H, B, n, p), 902, 1.0f, 0.0f, 1);
    u.transpose = 1;
    if (!lra_gradcheck_case_run(gc_gather_fn, &x, 1, &u, &o, "4-d transposed", rep)) ok = 0;
    lra_gradcheck_free_input(x);
    lra_gradcheck_free_input(u.idx);
    return ok;
}

// -------------------------------------------------------------- ops_fft.c

typedef struct {
    int axis;
    int transpose;  // apply to transpose(x, 0, 1)
    int64_t n;      // irfft output length
} gc_fft_user;

static lra_tensor *gc_rfft_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_fft_user *u = user;
    lra_tensor *x = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_rfft(ctx, x, u->axis);
}

static int gc_rfft(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    // Even, odd and prime lengths along the last, first and middle axes, and a transposed input.
    struct {
        int64_t s[3];
        int nd, axis, transpose;
        const char *label;
    } cases[] = {
        {{8, 0, 0}, 1, 0, 0, "1-d n=8"},
        {{3, 7, 0}, 2, -1, 0, "2-d n=7 last axis"},
        {{6, 2, 3}, 3, 0, 0, "3-d n=6 axis 0"},
        {{2, 11, 3}, 3, 1, 0, "3-d n=11 axis 1"},
        {{5, 3, 2}, 3, 0, 1, "transposed n=3 axis 0"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gc_fft_user u = {cases[c].axis, cases[c].transpose, 0};
        lra_tensor *x = lra_gradcheck_input(cases[c].s, cases[c].nd, 1000 + c, 1.0f, 0.0f, 1);
        if (!lra_gradcheck_case_run(gc_rfft_fn, &x, 1, &u, &o, cases[c].label, rep)) ok = 0;
        lra_gradcheck_free_input(x);
    }
    return ok;
}

static lra_tensor *gc_irfft_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_fft_user *u = user;
    lra_tensor *X = u->transpose ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_irfft(ctx, X, u->axis, u->n);
}

static int gc_irfft(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    struct {
        int64_t s[4];
        int nd, axis, transpose;
        int64_t n;
        const char *label;
    } cases[] = {
        {{5, 2}, 2, 0, 0, 8, "1-d n=8"},
        {{3, 4, 2}, 3, -1, 0, 7, "2-d n=7 last axis"},
        {{4, 2, 3, 2}, 4, 0, 0, 6, "3-d n=6 axis 0"},
        {{2, 6, 3, 2}, 4, 1, 0, 11, "3-d n=11 axis 1"},
        {{3, 2, 2, 2}, 4, 0, 1, 3, "transposed n=3 axis 0"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gc_fft_user u = {cases[c].axis, cases[c].transpose, cases[c].n};
        lra_tensor *X = lra_gradcheck_input(cases[c].s, cases[c].nd, 1100 + c, 1.0f, 0.0f, 1);
        if (!lra_gradcheck_case_run(gc_irfft_fn, &X, 1, &u, &o, cases[c].label, rep)) ok = 0;
        lra_gradcheck_free_input(X);
    }
    return ok;
}

typedef struct {
    int transpose_a;  // a = transpose(input 0, 0, 1)
} gc_cmul_user;

static lra_tensor *gc_cmul_fn(lra_ctx *ctx, lra_tensor *const *in, int n, void *user) {
    const gc_cmul_user *u = user;
    lra_tensor *a = u->transpose_a ? lra_op_transpose(ctx, in[0], 0, 1) : in[0];
    return lra_op_cmul(ctx, a, in[1]);
}

static int gc_cmul(lra_gradcheck_report *rep) {
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    int ok = 1;
    lra_gradcheck_case_begin(rep);
    struct {
        int64_t sa[4], sb[4];
        int nda, ndb, transpose;
        const char *label;
    } cases[] = {
        {{3, 4, 2}, {3, 4, 2}, 3, 3, 0, "same shape"},
        {{2, 3, 5, 2}, {3, 5, 2}, 4, 3, 0, "b broadcast over batch"},
        {{2, 1, 4, 2}, {1, 3, 1, 2}, 4, 4, 0, "both broadcast"},
        {{3, 2, 4, 2}, {1, 4, 2}, 4, 3, 1, "transposed a"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gc_cmul_user u = {cases[c].transpose};
        lra_tensor *in[2] = {lra_gradcheck_input(cases[c].sa, cases[c].nda, 1200 + c, 1.0f, 0.0f, 1),
                             lra_gradcheck_input(cases[c].sb, cases[c].ndb, 1210 + c, 1.0f, 0.0f, 1)};
        if (!lra_gradcheck_case_run(gc_cmul_fn, in, 2, &u, &o, cases[c].label, rep)) ok = 0;
        lra_gradcheck_free_input(in[0]);
        lra_gradcheck_free_input(in[1]);
    }
    return ok;
}

// -------------------------------------------------------------- the table

const lra_gradcheck_case_entry lra_gradcheck_cases[] = {
    {"matmul", check_matmul},
    {"linear", check_linear},
    {"linear_heads", check_linear_heads},
    {"add_dropout", gc_add_dropout},
    {"gelu_dropout", gc_gelu_dropout},
    {"heads_linear", check_heads_linear},
    {"add", check_add},
    {"sub", check_sub},
    {"mul", check_mul},
    {"div", check_div},
    {"scale", check_scale},
    {"add_scalar", check_add_scalar},
    {"exp", check_exp},
    {"log", check_log},
    {"sqrt", check_sqrt},
    {"rsqrt", check_rsqrt},
    {"pow", check_pow},
    {"tanh", check_tanh},
    {"acos", check_acos},
    {"abs", check_abs},
    {"gelu", check_gelu},
    {"relu", check_relu},
    {"elu", check_elu},
    {"sum", check_sum},
    {"mean", check_mean},
    {"max", check_max},
    {"sum_all", check_sum_all},
    {"reshape", check_reshape},
    {"transpose", check_transpose},
    {"permute", check_permute},
    {"slice", check_slice},
    {"contiguous", check_contiguous},
    {"concat", check_concat},
    {"split", check_split},
    {"softmax", gc_softmax},
    {"log_softmax", gc_log_softmax},
    {"cross_entropy", gc_cross_entropy},
    {"layer_norm", gc_layer_norm},
    {"layer_norm_pool", gc_layer_norm_pool},
    {"dropout", gc_dropout},
    {"embedding", gc_embedding},
    {"l2_normalize", gc_l2_normalize},
    {"index_select", gc_index_select},
    {"gather_rows", gc_gather_rows},
    {"rfft", gc_rfft},
    {"irfft", gc_irfft},
    {"cmul", gc_cmul},
    {NULL, NULL},
};

lra_gradcheck_case lra_gradcheck_case_find(const char *name) {
    for (const lra_gradcheck_case_entry *c = lra_gradcheck_cases; c->op; c++)
        if (!strcmp(c->op, name)) return c->run;
    return NULL;
}

int lra_gradcheck_table_part(const lra_op_info *part) {
    int count = 0;
    for (const lra_op_info *op = part; op->name; op++, count++) {
        lra_gradcheck_case gc = lra_gradcheck_case_find(op->name);
        CHECK_MSG(op->forward && op->backward && gc && !op->no_grad, "%s lacks an entry", op->name);
        if (!gc) continue;
        lra_gradcheck_report rep;
        int ok = gc(&rep);
        CHECK_MSG(ok, "gradcheck %s: %s", op->name, rep.message);
    }
    return count;
}
