// Central-difference gradient checking (see gradcheck.h).
#include "core/gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"

void lra_gradcheck_defaults(lra_gradcheck_options *o) {
    memset(o, 0, sizeof *o);
    o->eps = 1e-2;
    o->atol = 2e-3;
    o->rtol = 2e-2;
    o->seed = 1234;
    o->training = 1;
    o->ctx_seed = 42;
}

// L = sum(out * r) in double.
static double projected(const lra_tensor *out, const float *r) {
    int64_t n = lra_tensor_numel(out);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)lra_tensor_get_flat(out, i) * (double)r[i];
    return s;
}

static double eval_loss(lra_ctx *ctx, lra_gradcheck_fn fn, lra_tensor *const *inputs, int n, void *user,
                        const float *r) {
    lra_ctx_reset(ctx);
    int prev = lra_ctx_set_grad_enabled(ctx, 0);
    lra_tensor *out = fn(ctx, inputs, n, user);
    double L = projected(out, r);
    lra_ctx_set_grad_enabled(ctx, prev);
    return L;
}

int lra_gradcheck(lra_gradcheck_fn fn, lra_tensor *const *inputs, int n_inputs, void *user,
                  const lra_gradcheck_options *opt_in, lra_gradcheck_report *rep) {
    lra_gradcheck_options opt;
    if (opt_in) opt = *opt_in; else lra_gradcheck_defaults(&opt);
    if (opt.eps <= 0) opt.eps = 1e-2;
    if (opt.atol <= 0) opt.atol = 2e-3;
    if (opt.rtol <= 0) opt.rtol = 2e-2;
    memset(rep, 0, sizeof *rep);
    rep->passed = 1;
    rep->worst_input = -1;

    lra_ctx *ctx = lra_ctx_new(0);
    ctx->training = opt.training;
    ctx->seed = opt.ctx_seed;

    // Analytic pass: inputs get fresh zeroed gradient buffers.
    float **saved_grad = lra_xcalloc((size_t)n_inputs, sizeof *saved_grad);
    for (int i = 0; i < n_inputs; i++) {
        saved_grad[i] = inputs[i]->grad;
        if (inputs[i]->requires_grad) inputs[i]->grad = lra_xcalloc((size_t)lra_tensor_numel(inputs[i]), sizeof(float));
    }
    lra_tensor *out = fn(ctx, inputs, n_inputs, user);
    int64_t n_out = lra_tensor_numel(out);
    float *r = lra_xmalloc((size_t)n_out * sizeof(float));
    lra_rng_fill_normal(opt.seed, 77, 0, r, (size_t)n_out, 0.0f, 1.0f);
    if (out->requires_grad) lra_backward_from(ctx, out, r);
    float **analytic = lra_xcalloc((size_t)n_inputs, sizeof *analytic);
    for (int i = 0; i < n_inputs; i++) {
        analytic[i] = inputs[i]->grad;
        inputs[i]->grad = saved_grad[i];
    }

    double worst_ratio = -1.0;
    for (int i = 0; i < n_inputs; i++) {
        lra_tensor *x = inputs[i];
        if (!x->requires_grad) continue;
        LRA_ASSERT_MSG(x->dtype == LRA_F32 && lra_tensor_is_contiguous(x), "gradcheck inputs must be contiguous f32");
        int64_t n = lra_tensor_numel(x);
        int64_t step = 1;
        if (opt.max_checks > 0 && n > opt.max_checks) step = (n + opt.max_checks - 1) / opt.max_checks;
        float *xd = lra_f32(x);
        for (int64_t j = 0; j < n; j += step) {
            float x0 = xd[j];
            double h = opt.eps * fmax(1.0, fabs((double)x0));
            xd[j] = (float)(x0 + h);
            double hp = (double)xd[j] - (double)x0;  // the step actually taken in float
            double Lp = eval_loss(ctx, fn, inputs, n_inputs, user, r);
            xd[j] = (float)(x0 - h);
            double hm = (double)x0 - (double)xd[j];
            double Lm = eval_loss(ctx, fn, inputs, n_inputs, user, r);
            xd[j] = x0;
            double numeric = (Lp - Lm) / (hp + hm);
            double a = analytic[i] ? analytic[i][j] : 0.0;
            double err = fabs(a - numeric);
            double bound = opt.atol + opt.rtol * fabs(numeric);
            double ratio = err / bound;
            rep->checked++;
            if (err > rep->max_abs_err) rep->max_abs_err = err;
            if (ratio > worst_ratio) {
                worst_ratio = ratio;
                rep->worst_input = i;
                rep->worst_index = j;
                rep->analytic = a;
                rep->numeric = numeric;
            }
            if (err > bound) rep->passed = 0;
        }
    }
    snprintf(rep->message, sizeof rep->message,
             "%s: %lld elements checked, worst input %d index %lld: analytic %.6g numeric %.6g (max abs err %.3g)",
             rep->passed ? "ok" : "MISMATCH", (long long)rep->checked, rep->worst_input,
             (long long)rep->worst_index, rep->analytic, rep->numeric, rep->max_abs_err);
    for (int i = 0; i < n_inputs; i++) free(analytic[i]);
    free(analytic);
    free(saved_grad);
    free(r);
    lra_ctx_free(ctx);
    return rep->passed;
}

lra_tensor *lra_gradcheck_input(const int64_t *shape, int ndim, uint64_t seed, float scale, float shift,
                                int requires_grad) {
    lra_tensor *t = lra_xmalloc(sizeof *t);
    int64_t n = lra_shape_numel(shape, ndim);
    float *d = lra_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    lra_rng_fill_normal(seed, 91, 0, d, (size_t)n, shift, scale);
    *t = lra_tensor_make(LRA_F32, d, shape, ndim);
    t->requires_grad = requires_grad;
    return t;
}

void lra_gradcheck_free_input(lra_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t);
}

void lra_gradcheck_case_begin(lra_gradcheck_report *rep) {
    memset(rep, 0, sizeof *rep);
    rep->passed = 1;
    rep->worst_input = -1;
}

int lra_gradcheck_case_run(lra_gradcheck_fn fn, lra_tensor *const *inputs, int n_inputs, void *user,
                           const lra_gradcheck_options *opt, const char *label, lra_gradcheck_report *rep) {
    lra_gradcheck_report r;
    const int pass = lra_gradcheck(fn, inputs, n_inputs, user, opt, &r);
    const int first = rep->checked == 0;
    const int passed_before = first ? 1 : rep->passed;
    const int64_t total = rep->checked + r.checked;
    if (first || (passed_before && (!pass || r.max_abs_err >= rep->max_abs_err))) {
        *rep = r;
        if (label) {
            char msg[sizeof r.message + 64];
            snprintf(msg, sizeof msg, "[%s] %s", label, r.message);
            memcpy(rep->message, msg, sizeof rep->message - 1);
            rep->message[sizeof rep->message - 1] = '\0';
        }
    }
    rep->checked = total;
    rep->passed = passed_before && pass;
    return pass;
}

lra_tensor *lra_gradcheck_int_input(const int64_t *shape, int ndim, lra_rng *r, int64_t hi) {
    lra_tensor *t = lra_gradcheck_input(shape, ndim, 1, 1.0f, 0.0f, 0);
    t->dtype = LRA_I32;
    const int64_t n = lra_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) lra_i32(t)[i] = (int32_t)lra_rng_int(r, 0, hi);
    return t;
}
