// Conformance suite for every registered attention kernel (attention/registry.c), plus kernel-specific
// checks.  Token mixers (def->mix) run through lra_attn_instance_run_heads: their input is
// x = merge_heads(q + k + v), so every check below (padding: changed padded K/V rows change padded x
// rows) applies to them unchanged.  The walk covers kernels added later automatically; tolerances, exemptions and the option
// settings some checks need come from each kernel's definition (`.conformance`, attention.h).
//   - shapes, finite outputs;
//   - padded keys have no influence on the real rows (kernels whose spec masks padding);
//   - bitwise identical outputs and gradients at 1 and 2 threads;
//   - finite-difference gradients (random draws fixed by the call's seed and step), including the
//     kernel's own trainable parameters;
//   - equality with exact softmax (dropout 0) where the spec says a setting reduces to it;
//   - the approximation error to exact softmax falls as the feature/sample count grows (mean of seeds).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/threads.h"
#include "tests/harness.h"

// ------------------------------------------------------------------------------------------ instances
// The suite's settings for a kernel come from its definition (lra_attn_kernel_def.conformance).
static const lra_attn_conformance *spec_of(const lra_attn_kernel_def *def) { return &def->conformance; }

typedef struct {
    lra_attn_instance in;  // own parameters
    int64_t n;
} kinst;

// Applies "a=1,b=2" (with "N" meaning n) to vals; returns 0 when an option is unknown to the kernel.
static int apply_opts(const lra_attn_kernel_def *def, lra_attn_values *vals, const char *opts, int64_t n) {
    if (!opts) return 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", opts);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        LRA_ASSERT(eq);
        *eq = 0;
        char val[32];
        if (!strcmp(eq + 1, "N")) snprintf(val, sizeof val, "%lld", (long long)n);
        else snprintf(val, sizeof val, "%s", eq + 1);
        if (lra_attn_values_set(def, vals, tok, val) != LRA_OK) return 0;
    }
    return 1;
}

// A kernel for H heads of size p at length n with option overrides (two strings, either may be NULL).
static int kinst_make(kinst *ki, const lra_attn_kernel_def *def, int H, int p, int64_t n, const char *opts1,
                      const char *opts2, uint64_t init_seed) {
    ki->n = n;
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    if (!apply_opts(def, &vals, opts1, n) || !apply_opts(def, &vals, opts2, n)) return 0;
    lra_attn_setup setup = {.layer = 0, .n_heads = H, .head_dim = p, .model_dim = H * p, .seq_len = n,
                            .opts = &vals, .prefix = "test.attn."};
    return lra_attn_instance_make(&ki->in, def, &setup, NULL, init_seed) == LRA_OK;
}

static void kinst_free(kinst *ki) { lra_attn_instance_free(&ki->in); }

static lra_tensor *kinst_forward(kinst *ki, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                                 lra_tensor *mask, uint64_t step) {
    lra_attn_call call = {.seed = ctx->seed, .step = step, .layer = 0, .training = ctx->training, .tower = 0};
    return lra_attn_instance_run_heads(&ki->in, ctx, q, k, v, mask, &call);  // mixers: x from q + k + v
}

// Mask [B, n]: example b has len[b] real tokens (a prefix).
static lra_tensor *make_mask(int64_t B, int64_t n, const int64_t *len) {
    lra_tensor *m = lra_gradcheck_input(LRA_DIMS(B, n), 1, 0.0f, 0.0f, 0);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < n; j++) lra_f32(m)[b * n + j] = j < len[b] ? 1.0f : 0.0f;
    return m;
}

static const lra_attn_kernel_def *kernel_at(int i) { return lra_attention_get(i); }

// ------------------------------------------------------------------------------------------ conformance
// Output shape [B, H, n, p] and finite values, with padding, in training and eval modes.
static void test_shapes(void) {
    const int64_t B = 2, H = 2, n = 16, p = 8, len[2] = {16, 11};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 1, 1.0f, 0.0f, 0);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 2, 1.0f, 0.0f, 0);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 3, 1.0f, 0.0f, 0);
    lra_tensor *mask = make_mask(B, n, len);
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        kinst ki;
        CHECK_MSG(kinst_make(&ki, def, (int)H, (int)p, n, spec_of(def)->small_opts, NULL, 5), "%s: bad options",
                  def->name);
        for (int training = 0; training < 2; training++) {
            lra_ctx *ctx = lra_ctx_new(0);
            ctx->training = training;
            ctx->seed = 9;
            lra_tensor *o = kinst_forward(&ki, ctx, q, k, v, mask, 3);
            CHECK_MSG(o->ndim == 4 && o->shape[0] == B && o->shape[1] == H && o->shape[2] == n && o->shape[3] == p,
                      "%s: output shape", def->name);
            int finite = 1;
            for (int64_t e = 0; e < lra_tensor_numel(o); e++) finite &= isfinite(lra_tensor_get_flat(o, e));
            CHECK_MSG(finite, "%s: non-finite output (training %d)", def->name, training);
            lra_ctx_free(ctx);
        }
        kinst_free(&ki);
    }
    lra_gradcheck_free_input(q);
    lra_gradcheck_free_input(k);
    lra_gradcheck_free_input(v);
    lra_gradcheck_free_input(mask);
}

// Changing padded K/V rows leaves the real rows' outputs unchanged (same draws: same seed and step).
static void test_padding(void) {
    const int64_t B = 2, H = 2, n = 16, p = 8, len[2] = {13, 9};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 11, 1.0f, 0.0f, 0);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 12, 1.0f, 0.0f, 0);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 13, 1.0f, 0.0f, 0);
    lra_tensor *k2 = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 12, 1.0f, 0.0f, 0);
    lra_tensor *v2 = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 13, 1.0f, 0.0f, 0);
    lra_tensor *mask = make_mask(B, n, len);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = len[b]; j < n; j++)
                for (int64_t c = 0; c < p; c++) {
                    lra_f32(k2)[((b * H + h) * n + j) * p + c] = 5.0f + (float)c;
                    lra_f32(v2)[((b * H + h) * n + j) * p + c] = -7.0f * (float)(c + 1);
                }
    int checked = 0;
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        const lra_attn_conformance *sp = spec_of(def);
        if (sp->pad_exempt) continue;
        kinst ki;
        REQUIRE(kinst_make(&ki, def, (int)H, (int)p, n, sp->small_opts, NULL, 5));
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->training = 0;
        ctx->seed = 21;
        lra_tensor *o1 = kinst_forward(&ki, ctx, q, k, v, mask, 4);
        lra_tensor *o2 = kinst_forward(&ki, ctx, q, k2, v2, mask, 4);
        double worst = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t t = 0; t < len[b]; t++)
                    for (int64_t c = 0; c < p; c++) {
                        int64_t e = ((b * H + h) * n + t) * p + c;
                        double d = fabs(lra_tensor_get_flat(o1, e) - lra_tensor_get_flat(o2, e));
                        if (d > worst) worst = d;
                    }
        CHECK_MSG(worst <= 1e-5, "%s: padded K/V changed a real row by %g", def->name, worst);
        checked++;
        lra_ctx_free(ctx);
        kinst_free(&ki);
    }
    CHECK(checked >= 1);
    lra_tensor *ts[] = {q, k, v, k2, v2, mask};
    for (int i = 0; i < 6; i++) lra_gradcheck_free_input(ts[i]);
}

// Forward + backward at a thread count; returns malloc'd [out | dq | dk | dv | dparams] and its length.
static float *run_fb(kinst *ki, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask, int64_t *len_out) {
    lra_ctx *ctx = lra_ctx_new(0);
    ctx->training = 1;
    ctx->seed = 33;
    const int64_t N = lra_tensor_numel(q);
    q->grad = k->grad = v->grad = NULL;
    lra_params_zero_grad(ki->in.params);
    lra_tensor *o = kinst_forward(ki, ctx, q, k, v, mask, 6);
    float *seed = malloc((size_t)N * sizeof(float));
    lra_rng_fill_normal(5, 6, 0, seed, (size_t)N, 0.0f, 1.0f);
    if (o->requires_grad) lra_backward_from(ctx, o, seed);
    const int64_t P = (int64_t)ki->in.params->total;
    float *res = calloc((size_t)(4 * N + P + 1), sizeof(float));
    lra_tensor_gather_contiguous(o, res);
    if (q->grad) memcpy(res + N, q->grad, (size_t)N * sizeof(float));
    if (k->grad) memcpy(res + 2 * N, k->grad, (size_t)N * sizeof(float));
    if (v->grad) memcpy(res + 3 * N, v->grad, (size_t)N * sizeof(float));
    if (P) memcpy(res + 4 * N, ki->in.params->grad, (size_t)P * sizeof(float));
    *len_out = 4 * N + P;
    q->grad = k->grad = v->grad = NULL;  // arena memory
    free(seed);
    lra_ctx_free(ctx);
    return res;
}

// Whether ki's forward without a tape (no gradient wanted) has the bits of the recorded one, in training
// (dropout on) or evaluation.
static int untaped_equals_taped(kinst *ki, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask, int training) {
    const int64_t N = lra_tensor_numel(q);
    float *res[2] = {malloc((size_t)N * sizeof(float)), malloc((size_t)N * sizeof(float))};
    for (int tape = 0; tape < 2; tape++) {
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->training = training;
        ctx->seed = 17;
        lra_ctx_set_grad_enabled(ctx, tape);
        lra_tensor *o = kinst_forward(ki, ctx, q, k, v, mask, 2);
        lra_tensor_gather_contiguous(o, res[tape]);
        lra_ctx_free(ctx);
    }
    const int same = !memcmp(res[0], res[1], (size_t)N * sizeof(float));
    free(res[0]);
    free(res[1]);
    return same;
}

// A forward without a tape (gradients off, as in evaluation) gives the same bits as one that records for
// backward, in training and evaluation modes: kernels may take a lighter path when nothing is saved.
static void test_no_tape(void) {
    const int64_t B = 2, H = 2, n = 32, p = 8, len[2] = {32, 21};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 141, 1.0f, 0.0f, 1);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 142, 1.0f, 0.0f, 1);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 143, 1.0f, 0.0f, 1);
    lra_tensor *mask = make_mask(B, n, len);
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        kinst ki;
        REQUIRE(kinst_make(&ki, def, (int)H, (int)p, n, spec_of(def)->small_opts, NULL, 5));
        for (int training = 0; training < 2; training++)
            CHECK_MSG(untaped_equals_taped(&ki, q, k, v, mask, training),
                      "%s: forward without a tape differs (training %d)", def->name, training);
        kinst_free(&ki);
    }
    lra_gradcheck_free_input(q);
    lra_gradcheck_free_input(k);
    lra_gradcheck_free_input(v);
    lra_gradcheck_free_input(mask);
}

static void test_threads(void) {
    const int64_t B = 2, H = 2, n = 32, p = 8, len[2] = {32, 23};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 41, 1.0f, 0.0f, 1);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 42, 1.0f, 0.0f, 1);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 43, 1.0f, 0.0f, 1);
    lra_tensor *mask = make_mask(B, n, len);
    const int prev = lra_threads_get();
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        kinst ki;
        REQUIRE(kinst_make(&ki, def, (int)H, (int)p, n, spec_of(def)->small_opts, NULL, 5));
        int64_t l1, l2;
        lra_threads_set(1);
        float *r1 = run_fb(&ki, q, k, v, mask, &l1);
        for (int t = 2; t <= 4; t++) {
            lra_threads_set(t);
            float *r2 = run_fb(&ki, q, k, v, mask, &l2);
            CHECK_EQ_INT(l1, l2);
            CHECK_MSG(l1 == l2 && !memcmp(r1, r2, (size_t)l1 * sizeof(float)), "%s: results differ at 1 and %d threads",
                      def->name, t);
            free(r2);
        }
        free(r1);
        kinst_free(&ki);
    }
    lra_threads_set(prev);
    lra_gradcheck_free_input(q);
    lra_gradcheck_free_input(k);
    lra_gradcheck_free_input(v);
    lra_gradcheck_free_input(mask);
}

typedef struct {
    kinst *ki;
    lra_tensor *mask;
} gc_user;

static lra_tensor *gc_fn(lra_ctx *ctx, lra_tensor *const *in, int n_in, void *user) {
    gc_user *u = user;
    return kinst_forward(u->ki, ctx, in[0], in[1], in[2], u->mask, 8);
}

static void test_gradients(void) {
    const int64_t B = 2, H = 2, n = 16, p = 4, len[2] = {16, 12};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 51, 0.8f, 0.0f, 1);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 52, 0.8f, 0.0f, 1);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 53, 1.0f, 0.0f, 1);
    lra_tensor *mask = make_mask(B, n, len);
    int64_t total = 0;
    int kernels = 0;
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        const lra_attn_conformance *sp = spec_of(def);
        if (sp->grad_exempt) continue;
        kinst ki;
        REQUIRE(kinst_make(&ki, def, (int)H, (int)p, n, sp->small_opts, NULL, 5));
        lra_tensor *inputs[3 + 8] = {q, k, v};
        int n_in = 3;
        for (int e = 0; e < ki.in.params->count && n_in < 11; e++)
            if (ki.in.params->entries[e].trainable) {
                lra_tensor *t = lra_params_tensor(ki.in.params, e);
                t->requires_grad = 1;
                inputs[n_in++] = t;
            }
        gc_user u = {&ki, mask};
        lra_gradcheck_options o;
        lra_gradcheck_defaults(&o);
        o.eps = sp->grad_eps > 0 ? sp->grad_eps : 1e-2;
        o.max_checks = 48;
        o.training = 1;
        o.ctx_seed = 77;
        if (sp->grad_atol > 0) o.atol = sp->grad_atol;
        if (sp->grad_rtol > 0) o.rtol = sp->grad_rtol;
        lra_gradcheck_report rep;
        const double t0 = omp_get_wtime();
        int ok = lra_gradcheck(gc_fn, inputs, n_in, &u, &o, &rep);
        if (omp_get_wtime() - t0 > 1.0) printf("  %s: gradient check took %.1f s\n", def->name, omp_get_wtime() - t0);
        CHECK_MSG(ok, "%s: %s", def->name, rep.message);
        CHECK_MSG(rep.checked >= 3 * 40, "%s: only %lld elements checked", def->name, (long long)rep.checked);
        total += rep.checked;
        kernels++;
        kinst_free(&ki);
    }
    printf("  %d kernels, %lld elements checked\n", kernels, (long long)total);
    lra_gradcheck_free_input(q);
    lra_gradcheck_free_input(k);
    lra_gradcheck_free_input(v);
    lra_gradcheck_free_input(mask);
}

// Max |a - b| over the real rows.
static double max_diff_real(const lra_tensor *a, const lra_tensor *b, int64_t B, int64_t H, int64_t n, int64_t p,
                            const int64_t *len) {
    double worst = 0;
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < len[bb]; t++)
                for (int64_t c = 0; c < p; c++) {
                    int64_t e = ((bb * H + h) * n + t) * p + c;
                    double d = fabs(lra_tensor_get_flat(a, e) - lra_tensor_get_flat(b, e));
                    if (d > worst) worst = d;
                }
    return worst;
}

static void test_exact_reduction(void) {
    const int64_t B = 2, H = 2, n = 16, p = 8;
    const int64_t full[2] = {16, 16}, padded[2] = {16, 10};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 61, 1.0f, 0.0f, 0);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 62, 1.0f, 0.0f, 0);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 63, 1.0f, 0.0f, 0);
    kinst ref;
    REQUIRE(kinst_make(&ref, lra_attention_find("softmax"), (int)H, (int)p, n, "dropout=0", NULL, 1));
    int checked = 0;
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        const lra_attn_conformance *sp = spec_of(def);
        if (!sp->exact_opts) continue;
        kinst ki;
        REQUIRE(kinst_make(&ki, def, (int)H, (int)p, n, sp->exact_opts, NULL, 5));
        for (int pass = 0; pass < (sp->exact_full_mask_only ? 1 : 2); pass++) {
            const int64_t *len = pass ? padded : full;
            lra_tensor *mask = make_mask(B, n, len);
            lra_ctx *ctx = lra_ctx_new(0);
            ctx->training = 1;
            ctx->seed = 3;
            lra_tensor *o = kinst_forward(&ki, ctx, q, k, v, mask, 1);
            lra_tensor *e = kinst_forward(&ref, ctx, q, k, v, mask, 1);
            double d = max_diff_real(o, e, B, H, n, p, len);
            CHECK_MSG(d <= 2e-5, "%s (%s, %s mask): differs from exact softmax by %g", def->name, sp->exact_opts,
                      pass ? "padded" : "full", d);
            lra_ctx_free(ctx);
            lra_gradcheck_free_input(mask);
        }
        checked++;
        kinst_free(&ki);
    }
    CHECK(checked >= 1);
    kinst_free(&ref);
    lra_gradcheck_free_input(q);
    lra_gradcheck_free_input(k);
    lra_gradcheck_free_input(v);
}

// Frobenius error to exact softmax, mean over seeds, with the count option at `count`.
static double approx_error(const lra_attn_kernel_def *def, int count, int64_t n, int64_t p, int seeds) {
    char opt[96];
    snprintf(opt, sizeof opt, "%s=%d", lra_attn_count_option(def)->name, count);
    const int64_t B = 1, H = 1, len[1] = {n};
    lra_tensor *mask = make_mask(B, n, len);
    double total = 0;
    for (int s = 0; s < seeds; s++) {
        lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 100 + 3 * (uint64_t)s, 1.0f, 0.0f, 0);
        lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 101 + 3 * (uint64_t)s, 1.0f, 0.0f, 0);
        lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 102 + 3 * (uint64_t)s, 1.0f, 0.0f, 0);
        kinst ki, ref;
        LRA_ASSERT(kinst_make(&ki, def, (int)H, (int)p, n, opt, NULL, 1000 + (uint64_t)s));
        LRA_ASSERT(kinst_make(&ref, lra_attention_find("softmax"), (int)H, (int)p, n, "dropout=0", NULL, 1));
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->training = 0;
        ctx->seed = 500 + (uint64_t)s;
        lra_tensor *o = kinst_forward(&ki, ctx, q, k, v, mask, (uint64_t)s);
        lra_tensor *e = kinst_forward(&ref, ctx, q, k, v, mask, 0);
        double err = 0;
        for (int64_t x = 0; x < n * p; x++) {
            double d = lra_tensor_get_flat(o, x) - lra_tensor_get_flat(e, x);
            err += d * d;
        }
        total += sqrt(err);
        lra_ctx_free(ctx);
        kinst_free(&ki);
        kinst_free(&ref);
        lra_gradcheck_free_input(q);
        lra_gradcheck_free_input(k);
        lra_gradcheck_free_input(v);
    }
    lra_gradcheck_free_input(mask);
    return total / seeds;
}

static void test_error_falls(void) {
    int checked = 0;
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        const lra_attn_conformance *sp = spec_of(def);
        if (!sp->approx_lo) continue;
        const lra_attn_option *count = lra_attn_count_option(def);
        CHECK_MSG(count != NULL, "%s: an error-falls check needs an option flagged LRA_OPT_COUNT", def->name);
        if (!count) continue;
        double lo = approx_error(def, sp->approx_lo, 64, 8, 6);
        double hi = approx_error(def, sp->approx_hi, 64, 8, 6);
        printf("  %-18s error %.4f at %s=%d, %.4f at %d\n", def->name, lo, count->name, sp->approx_lo, hi,
               sp->approx_hi);
        CHECK_MSG(hi < 0.8 * lo, "%s: error %g at %s=%d is not below 0.8 x %g at %d", def->name, hi, count->name,
                  sp->approx_hi, lo, sp->approx_lo);
        checked++;
    }
    CHECK(checked >= 8);
}


// Splitting a batch (with ctx->example_offset set) does not change any example's output: no kernel
// couples examples by default, and per-example draws are keyed by the global example index.
static void test_batch_split(void) {
    const int64_t B = 3, H = 2, n = 16, p = 4, len[3] = {16, 16, 16};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 81, 1.0f, 0.0f, 0);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 82, 1.0f, 0.0f, 0);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 83, 1.0f, 0.0f, 0);
    lra_tensor *mask = make_mask(B, n, len);
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        kinst ki;
        REQUIRE(kinst_make(&ki, def, (int)H, (int)p, n, spec_of(def)->small_opts, NULL, 5));
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->training = 1;
        ctx->seed = 17;
        lra_tensor *whole = kinst_forward(&ki, ctx, q, k, v, mask, 2);
        double worst = 0;
        for (int64_t b = 0; b < B; b++) {  // example b alone, at global index b
            ctx->example_offset = b;
            lra_tensor *qs = lra_op_slice(ctx, q, 0, b, b + 1), *ks = lra_op_slice(ctx, k, 0, b, b + 1);
            lra_tensor *vs = lra_op_slice(ctx, v, 0, b, b + 1), *ms = lra_op_slice(ctx, mask, 0, b, b + 1);
            lra_tensor *part = kinst_forward(&ki, ctx, qs, ks, vs, ms, 2);
            for (int64_t e = 0; e < H * n * p; e++)
                worst = fmax(worst, fabs(lra_tensor_get_flat(part, e) - lra_tensor_get_flat(whole, b * H * n * p + e)));
        }
        CHECK_MSG(worst <= 1e-5, "%s: example outputs change by %g when the batch is split", def->name, worst);
        lra_ctx_free(ctx);
        kinst_free(&ki);
    }
    lra_tensor *ts[] = {q, k, v, mask};
    for (int i = 0; i < 4; i++) lra_gradcheck_free_input(ts[i]);
}

// Every non-default setting of every bool/enum option (the reference-reproduction switches) runs
// forward and backward with finite results, with padding, and its forward without a tape has the
// recorded one's bits.
static void test_switches(void) {
    const int64_t B = 2, H = 2, n = 16, p = 4, len[2] = {16, 11};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 91, 1.0f, 0.0f, 1);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 92, 1.0f, 0.0f, 1);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 93, 1.0f, 0.0f, 1);
    lra_tensor *mask = make_mask(B, n, len);
    int runs = 0;
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *def = kernel_at(i);
        for (int j = 0; j < def->n_options; j++) {
            const lra_attn_option *o = &def->options[j];
            if (o->type != LRA_OPT_BOOL && o->type != LRA_OPT_ENUM) continue;
            int nchoices = 2;
            if (o->type == LRA_OPT_ENUM) {
                nchoices = 1;
                for (const char *c = o->choices; *c; c++) nchoices += *c == '|';
            }
            for (int choice = 0; choice < nchoices; choice++) {
                if (choice == (int)o->def) continue;
                char setting[128], val[64];
                if (o->type == LRA_OPT_BOOL) {
                    snprintf(val, sizeof val, "%s", choice ? "true" : "false");
                } else {
                    const char *c = o->choices;
                    for (int t = 0; t < choice; t++) c = strchr(c, '|') + 1;
                    size_t len_c = strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c);
                    snprintf(val, sizeof val, "%.*s", (int)len_c, c);
                }
                snprintf(setting, sizeof setting, "%s=%s", o->name, val);
                kinst ki;
                REQUIRE(kinst_make(&ki, def, (int)H, (int)p, n, spec_of(def)->small_opts, setting, 5));
                int64_t len_out;
                float *r = run_fb(&ki, q, k, v, mask, &len_out);
                int finite = 1;
                for (int64_t e = 0; e < len_out; e++) finite &= isfinite(r[e]);
                CHECK_MSG(finite, "%s with %s: non-finite output or gradient", def->name, setting);
                CHECK_MSG(untaped_equals_taped(&ki, q, k, v, mask, 0), "%s with %s: forward without a tape differs",
                          def->name, setting);
                free(r);
                kinst_free(&ki);
                runs++;
            }
        }
    }
    CHECK(runs >= 10);
    lra_tensor *ts[] = {q, k, v, mask};
    for (int i = 0; i < 4; i++) lra_gradcheck_free_input(ts[i]);
}

// The reference's batch-global pseudo-inverse scale couples examples; the default does not.
static void test_nystrom_pinv_coupling(void) {
    const int64_t B = 2, H = 1, n = 16, p = 4, len[2] = {16, 16};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 95, 1.5f, 0.0f, 0);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 96, 1.5f, 0.0f, 0);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 97, 1.0f, 0.0f, 0);
    lra_tensor *mask = make_mask(B, n, len);
    double change[2];
    for (int mode = 0; mode < 2; mode++) {
        kinst ki;
        REQUIRE(kinst_make(&ki, lra_attention_find("nystrom"), 1, (int)p, n, "num_landmarks=4,pinv_iters=1",
                           mode ? "pinv_init=global" : NULL, 1));
        lra_ctx *ctx = lra_ctx_new(0);
        lra_tensor *whole = kinst_forward(&ki, ctx, q, k, v, mask, 0);
        change[mode] = 0;
        for (int64_t b = 0; b < B; b++) {  // one of the two has the smaller scale
            lra_tensor *one = kinst_forward(&ki, ctx, lra_op_slice(ctx, q, 0, b, b + 1), lra_op_slice(ctx, k, 0, b, b + 1),
                                            lra_op_slice(ctx, v, 0, b, b + 1), lra_op_slice(ctx, mask, 0, b, b + 1), 0);
            for (int64_t e = 0; e < n * p; e++)
                change[mode] = fmax(change[mode],
                                    fabs(lra_tensor_get_flat(one, e) - lra_tensor_get_flat(whole, b * n * p + e)));
        }
        lra_ctx_free(ctx);
        kinst_free(&ki);
    }
    CHECK_MSG(change[0] <= 1e-6, "per-matrix init: %g", change[0]);
    CHECK_MSG(change[1] > 1e-4, "global init should couple the examples: %g", change[1]);
    lra_tensor *ts[] = {q, k, v, mask};
    for (int i = 0; i < 4; i++) lra_gradcheck_free_input(ts[i]);
}

// ------------------------------------------------------------------------------------------ specific

// Performer's features: ceil(m/p) blocks of mutually orthogonal rows with chi-distributed norms, fixed
// buffer (not trainable), the same for the same init seed.
static void test_performer_features(void) {
    const int p = 8, m = 20;
    kinst a, b;
    REQUIRE(kinst_make(&a, lra_attention_find("performer"), 1, p, 16, "nb_features=20", NULL, 3));
    REQUIRE(kinst_make(&b, lra_attention_find("performer"), 1, p, 16, "nb_features=20", NULL, 3));
    REQUIRE(a.in.params->count == 1);
    CHECK(!a.in.params->entries[0].trainable);
    const float *W = lra_f32(lra_params_tensor(a.in.params, 0));
    CHECK(!memcmp(W, lra_f32(lra_params_tensor(b.in.params, 0)), (size_t)(m * p) * sizeof(float)));
    double worst = 0, normsum = 0;
    for (int i = 0; i < m; i++) {
        double nn = 0;
        for (int c = 0; c < p; c++) nn += (double)W[i * p + c] * W[i * p + c];
        normsum += nn;
        for (int j = i + 1; j < m && j / p == i / p; j++) {
            double dot = 0;
            for (int c = 0; c < p; c++) dot += (double)W[i * p + c] * W[j * p + c];
            worst = fmax(worst, fabs(dot));
        }
    }
    CHECK_MSG(worst < 1e-4, "rows of a block not orthogonal: %g", worst);
    CHECK(normsum / m > 0.4 * p && normsum / m < 2.0 * p);  // E|g|^2 = p
    kinst_free(&a);
    kinst_free(&b);
}

// Linformer's E: trainable by default, a fixed buffer with train_E=false, one tensor for all layers
// with share_layers=true.
static void test_linformer_params(void) {
    const lra_attn_kernel_def *def = lra_attention_find("linformer");
    for (int mode = 0; mode < 3; mode++) {
        lra_attn_values vals;
        lra_attn_values_defaults(def, &vals);
        if (mode == 1) CHECK_OK(lra_attn_values_set(def, &vals, "train_E", "false"));
        if (mode == 2) CHECK_OK(lra_attn_values_set(def, &vals, "share_layers", "true"));
        lra_params params;  // a model's store, shared by the layers' instances
        lra_params_init(&params);
        lra_attn_instance in[2];
        for (int layer = 0; layer < 2; layer++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "model.l%d.attn.", layer);
            lra_attn_setup setup = {.layer = layer, .n_heads = 2, .head_dim = 4, .model_dim = 8, .seq_len = 32,
                                    .opts = &vals, .prefix = prefix};
            REQUIRE(lra_attn_instance_make(&in[layer], def, &setup, &params, 0) == LRA_OK);
            CHECK(in[layer].params == &params);
        }
        CHECK_EQ_INT(params.count, mode == 2 ? 1 : 2);
        CHECK_EQ_INT(params.entries[0].trainable, mode == 1 ? 0 : 1);
        CHECK_EQ_INT(params.entries[0].numel, 2 * 128 * 32);
        for (int layer = 0; layer < 2; layer++) lra_attn_instance_free(&in[layer]);
        lra_params_free(&params);
    }
}
static void test_vmean_values(void) {
    const int64_t B = 2, H = 1, n = 6, p = 3, len[2] = {6, 4};
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 1, 1.0f, 0.0f, 0);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 2, 1.0f, 0.0f, 1);
    lra_tensor *mask = make_mask(B, n, len);
    kinst ki;
    REQUIRE(kinst_make(&ki, lra_attention_find("vmean"), 1, (int)p, n, NULL, NULL, 1));
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *o = kinst_forward(&ki, ctx, q, q, v, mask, 0);
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < p; c++) {
            double m = 0;
            for (int64_t j = 0; j < len[b]; j++) m += lra_f32(v)[(b * n + j) * p + c];
            m /= (double)len[b];
            for (int64_t i = 0; i < n; i++) CHECK_NEAR(lra_tensor_get_flat(o, (b * n + i) * p + c), m, 1e-6);
        }
    lra_ctx_free(ctx);
    kinst_free(&ki);
    lra_gradcheck_free_input(q);
    lra_gradcheck_free_input(v);
    lra_gradcheck_free_input(mask);
}

// Skeinformer reuses the pilot rows: between 1 and d output rows are exact softmax rows; without
// reutilisation (skein_nopilot, same draws) none is.  Different steps draw different samples.
static void test_skein_pilot_rows(void) {
    const int64_t B = 1, H = 2, n = 64, p = 8, len[1] = {64}, d = 8;
    lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 71, 1.0f, 0.0f, 0);
    lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 72, 1.0f, 0.0f, 0);
    lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 73, 1.0f, 0.0f, 0);
    lra_tensor *mask = make_mask(B, n, len);
    kinst sk, np_, ref;
    REQUIRE(kinst_make(&sk, lra_attention_find("skeinformer"), (int)H, (int)p, n, "nb_features=8", NULL, 1));
    REQUIRE(kinst_make(&np_, lra_attention_find("skein_nopilot"), (int)H, (int)p, n, "nb_features=8", NULL, 1));
    REQUIRE(kinst_make(&ref, lra_attention_find("softmax"), (int)H, (int)p, n, "dropout=0", NULL, 1));
    lra_ctx *ctx = lra_ctx_new(0);
    ctx->seed = 4;
    lra_tensor *e = kinst_forward(&ref, ctx, q, k, v, mask, 0);
    lra_tensor *o1 = kinst_forward(&sk, ctx, q, k, v, mask, 10);
    lra_tensor *o2 = kinst_forward(&np_, ctx, q, k, v, mask, 10);
    lra_tensor *o3 = kinst_forward(&sk, ctx, q, k, v, mask, 11);
    for (int64_t h = 0; h < H; h++) {
        int exact1 = 0, exact2 = 0;
        for (int64_t i = 0; i < n; i++) {
            double d1 = 0, d2 = 0;
            for (int64_t c = 0; c < p; c++) {
                int64_t x = (h * n + i) * p + c;
                d1 = fmax(d1, fabs(lra_tensor_get_flat(o1, x) - lra_tensor_get_flat(e, x)));
                d2 = fmax(d2, fabs(lra_tensor_get_flat(o2, x) - lra_tensor_get_flat(e, x)));
            }
            exact1 += d1 < 1e-5;
            exact2 += d2 < 1e-5;
        }
        CHECK_MSG(exact1 >= 1 && exact1 <= d, "head %lld: %d exact rows", (long long)h, exact1);
        CHECK_EQ_INT(exact2, 0);
    }
    int differ = 0;
    for (int64_t x = 0; x < lra_tensor_numel(o1); x++) differ |= lra_tensor_get_flat(o1, x) != lra_tensor_get_flat(o3, x);
    CHECK(differ);
    lra_ctx_free(ctx);
    kinst_free(&sk);
    kinst_free(&np_);
    kinst_free(&ref);
    lra_tensor *ts[] = {q, k, v, mask};
    for (int i = 0; i < 4; i++) lra_gradcheck_free_input(ts[i]);
}

// Every kernel has a unique name, a summary, and rejects an unknown option with a message.
static void test_registry(void) {
    CHECK(lra_attention_count() >= 8);
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *d = kernel_at(i);
        CHECK(d->name && d->summary && (!d->forward != !d->mix));
        CHECK(lra_attention_find(d->name) == d);
        lra_attn_values vals;
        lra_attn_values_defaults(d, &vals);
        CHECK(lra_attn_values_set(d, &vals, "no_such_option", "1") != LRA_OK);
        int counts = 0;
        for (int j = 0; j < d->n_options; j++)
            if (d->options[j].flags & LRA_OPT_COUNT) {
                counts++;
                CHECK_MSG(d->options[j].type == LRA_OPT_INT, "%s: count option %s is not an integer", d->name,
                          d->options[j].name);
            }
        CHECK_MSG(counts <= 1, "%s: %d options flagged LRA_OPT_COUNT", d->name, counts);
        kinst ki;  // the declared conformance settings are valid options
        CHECK_MSG(kinst_make(&ki, d, 2, 4, 16, d->conformance.small_opts, NULL, 1), "%s: bad small_opts", d->name);
        kinst_free(&ki);
    }
    CHECK(lra_attention_find("nope") == NULL);
}

// Option text follows the config's rules (YAML 1.2 scalars), the same as --set.
static void test_option_parsing(void) {
    const lra_attn_kernel_def *def = lra_attention_find("linformer");
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    CHECK_OK(lra_attn_values_set(def, &vals, "train_E", "false"));
    CHECK(lra_attn_value(&vals, "train_E") == 0);
    CHECK_OK(lra_attn_values_set(def, &vals, "train_E", "true"));
    CHECK(lra_attn_value(&vals, "train_E") == 1);
    static const char *const bad_bool[] = {"yes", "no", "1", "0", "on", ""};
    for (size_t i = 0; i < sizeof bad_bool / sizeof bad_bool[0]; i++)
        CHECK_MSG(lra_attn_values_set(def, &vals, "train_E", bad_bool[i]) != LRA_OK, "bool accepted \"%s\"",
                  bad_bool[i]);
    CHECK_OK(lra_attn_values_set(def, &vals, "k", "64"));
    CHECK(lra_attn_value(&vals, "k") == 64);
    static const char *const bad_int[] = {"1.5", "abc", "0", "65537", "\"3\""};
    for (size_t i = 0; i < sizeof bad_int / sizeof bad_int[0]; i++)
        CHECK_MSG(lra_attn_values_set(def, &vals, "k", bad_int[i]) != LRA_OK, "int accepted %s", bad_int[i]);
    CHECK(lra_attn_value(&vals, "k") == 64);  // a rejected value leaves the old one
    const lra_attn_kernel_def *nys = lra_attention_find("nystrom");
    lra_attn_values_defaults(nys, &vals);
    CHECK_OK(lra_attn_values_set(nys, &vals, "pinv_init", "global"));
    CHECK(lra_attn_value(&vals, "pinv_init") == 1);
    CHECK(lra_attn_values_set(nys, &vals, "pinv_init", "nope") != LRA_OK);
}

static const lra_test_case TESTS[] = {
    {"registry", test_registry},
    {"option_parsing", test_option_parsing},
    {"shapes", test_shapes},
    {"padding", test_padding},
    {"threads", test_threads},
    {"no_tape", test_no_tape},
    {"gradients", test_gradients},
    {"exact_reduction", test_exact_reduction},
    {"error_falls", test_error_falls},
    {"batch_split", test_batch_split},
    {"switches", test_switches},
    {"nystrom_pinv_coupling", test_nystrom_pinv_coupling},
    {"vmean_values", test_vmean_values},
    {"skein_pilot_rows", test_skein_pilot_rows},
    {"performer_features", test_performer_features},
    {"linformer_params", test_linformer_params},
};
LRA_TEST_MAIN(TESTS)
