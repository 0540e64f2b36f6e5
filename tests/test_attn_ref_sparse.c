// Parity of the pattern-restricted kernels (bigbird, longformer, local, sparse) with PyTorch
// transcriptions of their reference implementations: tools/ref/attn_<name>.py write the dumps in
// tests/fixtures/attn/<name>.safetensors (inputs, a fixed upstream gradient, output, dq, dk, dv); here the
// C kernel runs on the same inputs and its output and gradients must match.  BigBird's random blocks
// come from the dump through lra_bigbird_forward_blocks.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/bigbird.h"
#include "core/autograd.h"
#include "core/safetensors.h"
#include "tests/harness.h"

#define MAXT 9

typedef struct {
    lra_safetensors *f;
    int64_t B, H, n, p;
    float *q, *k, *v, *mask, *grad;
} dump;

static float *read_f32(lra_safetensors *f, const char *name, int64_t *shape, int ndim) {
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= shape[d];
    float *x = malloc((size_t)numel * sizeof(float));
    if (lra_safetensors_read(f, name, LRA_CONTAINER_F32, ndim, shape, x, (size_t)numel * sizeof(float)) != LRA_OK) {
        free(x);
        return NULL;
    }
    return x;
}

static int dump_open(dump *d, const char *name) {
    memset(d, 0, sizeof *d);
    char path[512];
    snprintf(path, sizeof path, "%s/attn/%s.safetensors", lra_test_fixtures(), name);
    if (lra_safetensors_open(&d->f, path) != LRA_OK) return 0;
    const lra_safetensors_entry *e = lra_safetensors_find(d->f, "q");
    if (!e || e->ndim != 4) return 0;
    d->B = e->shape[0], d->H = e->shape[1], d->n = e->shape[2], d->p = e->shape[3];
    int64_t s4[4] = {d->B, d->H, d->n, d->p}, s2[2] = {d->B, d->n};
    d->q = read_f32(d->f, "q", s4, 4), d->k = read_f32(d->f, "k", s4, 4), d->v = read_f32(d->f, "v", s4, 4);
    d->grad = read_f32(d->f, "grad_out", s4, 4), d->mask = read_f32(d->f, "mask", s2, 2);
    return d->q && d->k && d->v && d->grad && d->mask;
}

static void dump_close(dump *d) {
    free(d->q), free(d->k), free(d->v), free(d->mask), free(d->grad);
    if (d->f) lra_safetensors_close(d->f);
}

// Largest |a - b| / (atol + rtol |b|) over the elements (<= 1 passes), with the worst absolute and
// relative errors reported.
static double compare(const char *what, const float *got, const float *want, int64_t numel) {
    const double atol = 1e-5, rtol = 1e-4;
    double worst = 0, max_abs = 0, max_rel = 0;
    for (int64_t e = 0; e < numel; e++) {
        const double d = fabs((double)got[e] - want[e]);
        const double r = d / (atol + rtol * fabs(want[e]));
        if (r > worst || isnan(r)) worst = isnan(r) ? INFINITY : r;
        if (d > max_abs) max_abs = d;
        if (fabs(want[e]) > 1e-3 && d / fabs(want[e]) > max_rel) max_rel = d / fabs(want[e]);
    }
    printf("  %-28s max abs %.3g, max rel %.3g (|ref| > 1e-3)\n", what, max_abs, max_rel);
    return worst;
}

typedef lra_tensor *(*run_fn)(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask,
                              const void *arg);

// Runs fn on the dump's inputs and checks output, dq, dk, dv against the tensors named prefix + ...
// real_rows_only: outputs of padded queries are not compared (a row whose keys are all padding is uniform
// in the references, which add a large negative bias, and zero here; the gradients are unaffected, since
// the fixed upstream gradient is zero on those rows).
static void check_against(dump *d, const char *label, const char *prefix, run_fn fn, const void *arg,
                          int real_rows_only) {
    int64_t s4[4] = {d->B, d->H, d->n, d->p};
    const int64_t N = d->B * d->H * d->n * d->p;
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor q = lra_tensor_make(LRA_F32, d->q, s4, 4), k = lra_tensor_make(LRA_F32, d->k, s4, 4);
    lra_tensor v = lra_tensor_make(LRA_F32, d->v, s4, 4);
    lra_tensor mask = lra_tensor_make(LRA_F32, d->mask, (int64_t[]){d->B, d->n}, 2);
    q.requires_grad = k.requires_grad = v.requires_grad = 1;
    lra_tensor *out = fn(ctx, &q, &k, &v, &mask, arg);
    lra_backward_from(ctx, out, d->grad);
    const char *names[4] = {"output", "dq", "dk", "dv"};
    const float *got[4] = {lra_f32(out), q.grad, k.grad, v.grad};
    for (int t = 0; t < 4; t++) {
        char key[64], what[96];
        snprintf(key, sizeof key, "%s%s", prefix, names[t]);
        snprintf(what, sizeof what, "%s %s", label, names[t]);
        float *want = read_f32(d->f, key, s4, 4);
        REQUIRE(want != NULL);
        REQUIRE(got[t] != NULL);
        if (t == 0 && real_rows_only)
            for (int64_t e = 0; e < N; e++)
                if (d->mask[(e / (d->H * d->n * d->p)) * d->n + (e / d->p) % d->n] == 0.0f) want[e] = lra_f32(out)[e];
        const double w = compare(what, got[t], want, N);
        CHECK_MSG(w <= 1.0, "%s: differs from the PyTorch reference (%.3g x tolerance)", what, w);
        free(want);
    }
    lra_ctx_free(ctx);
}

// A registered kernel with option overrides "a=1,b=2".
typedef struct {
    const char *kernel, *opts;
    int H, p;
} kernel_arg;

static lra_tensor *run_kernel(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask,
                              const void *argp) {
    const kernel_arg *a = argp;
    const lra_attn_kernel_def *def = lra_attention_find(a->kernel);
    LRA_ASSERT(def);
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", a->opts);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        LRA_ASSERT(lra_attn_values_set(def, &vals, tok, eq + 1) == LRA_OK);
    }
    lra_attn_instance in;
    lra_attn_setup setup = {.layer = 0, .n_heads = a->H, .head_dim = a->p, .model_dim = a->H * a->p,
                            .seq_len = q->shape[2], .opts = &vals, .prefix = "test."};
    LRA_ASSERT(lra_attn_instance_make(&in, def, &setup, NULL, 1) == LRA_OK);
    lra_attn_call call = {.seed = 1, .step = 0, .layer = 0, .training = 1};
    lra_tensor *o = lra_attn_instance_forward(&in, ctx, q, k, v, mask, &call);
    lra_attn_instance_free(&in);  // the tape node keeps its own copy of what the backward needs (arena)
    return o;
}

static void test_local(void) {
    dump d;
    REQUIRE(dump_open(&d, "local"));
    char opts[64];
    snprintf(opts, sizeof opts, "block_size=%s", lra_safetensors_meta(d.f, "block_size"));
    kernel_arg a = {"local", opts, (int)d.H, (int)d.p};
    check_against(&d, "local", "contig.", run_kernel, &a, 1);
    char opts2[96];
    snprintf(opts2, sizeof opts2, "%s,strided_reshape=true", opts);
    kernel_arg b = {"local", opts2, (int)d.H, (int)d.p};
    check_against(&d, "local strided_reshape", "strided.", run_kernel, &b, 1);
    dump_close(&d);
}

static void test_sparse(void) {
    dump d;
    REQUIRE(dump_open(&d, "sparse"));
    char o1[96], o2[96];
    snprintf(o1, sizeof o1, "pattern=fixed,block_size=%s,c=%s", lra_safetensors_meta(d.f, "fixed_block_size"),
             lra_safetensors_meta(d.f, "fixed_c"));
    snprintf(o2, sizeof o2, "pattern=strided,block_size=%s", lra_safetensors_meta(d.f, "strided_block_size"));
    kernel_arg a = {"sparse", o1, (int)d.H, (int)d.p}, b = {"sparse", o2, (int)d.H, (int)d.p};
    check_against(&d, "sparse fixed", "fixed.", run_kernel, &a, 1);
    check_against(&d, "sparse strided", "strided.", run_kernel, &b, 1);
    dump_close(&d);
}

static void test_longformer(void) {
    dump d;
    REQUIRE(dump_open(&d, "longformer"));
    char o[96];
    snprintf(o, sizeof o, "window=%s,num_global=%s", lra_safetensors_meta(d.f, "window"),
             lra_safetensors_meta(d.f, "num_global"));
    kernel_arg a = {"longformer", o, (int)d.H, (int)d.p};
    check_against(&d, "longformer", "", run_kernel, &a, 0);
    dump_close(&d);
}

typedef struct {
    int bs, r;
    const int32_t *R;
} bigbird_arg;

static lra_tensor *run_bigbird(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask,
                               const void *argp) {
    const bigbird_arg *a = argp;
    return lra_bigbird_forward_blocks(ctx, q, k, v, mask, a->bs, a->r, a->R, 1);
}

static void test_bigbird(void) {
    dump d;
    REQUIRE(dump_open(&d, "bigbird"));
    const int bs = atoi(lra_safetensors_meta(d.f, "block_size")), r = atoi(lra_safetensors_meta(d.f, "num_random_blocks"));
    const int64_t nb = d.n / bs, count = d.H * (nb - 2) * r;
    int32_t *R = malloc((size_t)count * sizeof(int32_t));
    REQUIRE(lra_safetensors_read(d.f, "rand_blocks", LRA_CONTAINER_I32, 3, (int64_t[]){d.H, nb - 2, r}, R,
                                 (size_t)count * sizeof(int32_t)) == LRA_OK);
    bigbird_arg a = {bs, r, R};
    check_against(&d, "bigbird", "", run_bigbird, &a, 0);
    free(R);
    dump_close(&d);
}

// BigBird's random blocks form a fixed pattern: the same at every step, drawn per layer by default and
// one for all layers under reference_pattern (at n = 1024, HF's "old plan", and 2048, its "plan").
static lra_tensor *bigbird_at(lra_ctx *ctx, lra_attn_instance *in, lra_tensor *q, lra_tensor *mask, int layer,
                              uint64_t step) {
    lra_attn_call call = {.seed = 3, .step = step, .layer = layer, .training = 1};
    return lra_attn_instance_forward(in, ctx, q, q, q, mask, &call);
}

static int same(const lra_tensor *a, const lra_tensor *b) {
    return !memcmp(lra_f32(a), lra_f32(b), (size_t)lra_tensor_numel(a) * sizeof(float));
}

static void test_bigbird_pattern(void) {
    const int64_t ns[2] = {1024, 2048}, H = 2, p = 4;
    for (int t = 0; t < 2; t++) {
        const int64_t n = ns[t];
        float *x = malloc((size_t)(H * n * p) * sizeof(float)), *m = malloc((size_t)n * sizeof(float));
        for (int64_t e = 0; e < H * n * p; e++) x[e] = sinf(0.37f * (float)e) + 0.1f * cosf(1.3f * (float)e);
        for (int64_t j = 0; j < n; j++) m[j] = 1.0f;
        lra_tensor q = lra_tensor_make(LRA_F32, x, (int64_t[]){1, H, n, p}, 4);
        lra_tensor mask = lra_tensor_make(LRA_F32, m, (int64_t[]){1, n}, 2);
        for (int ref = 0; ref < 2; ref++) {
            const lra_attn_kernel_def *def = lra_attention_find("bigbird");
            lra_attn_values vals;
            lra_attn_values_defaults(def, &vals);
            REQUIRE(lra_attn_values_set(def, &vals, "reference_pattern", ref ? "true" : "false") == LRA_OK);
            lra_attn_setup setup = {.layer = 0, .n_heads = (int)H, .head_dim = (int)p, .model_dim = (int)(H * p),
                                    .seq_len = n, .opts = &vals, .prefix = "test."};
            lra_attn_instance in;
            REQUIRE(lra_attn_instance_make(&in, def, &setup, NULL, 1) == LRA_OK);
            lra_ctx *ctx = lra_ctx_new(0);
            lra_tensor *a = bigbird_at(ctx, &in, &q, &mask, 0, 1), *b = bigbird_at(ctx, &in, &q, &mask, 0, 2);
            lra_tensor *c = bigbird_at(ctx, &in, &q, &mask, 1, 1);
            int finite = 1;
            for (int64_t e = 0; e < lra_tensor_numel(a); e++) finite &= isfinite(lra_f32(a)[e]);
            CHECK_MSG(finite, "n %lld reference_pattern %d: non-finite output", (long long)n, ref);
            CHECK_MSG(same(a, b), "n %lld reference_pattern %d: pattern changed between steps", (long long)n, ref);
            CHECK_MSG(same(a, c) == ref, "n %lld reference_pattern %d: layers %s", (long long)n, ref,
                      ref ? "differ" : "share a pattern");
            lra_ctx_free(ctx);
            lra_attn_instance_free(&in);
        }
        free(x), free(m);
    }
}

static const lra_test_case TESTS[] = {
    {"local", test_local},
    {"sparse", test_sparse},
    {"longformer", test_longformer},
    {"bigbird", test_bigbird},
    {"bigbird_pattern", test_bigbird_pattern},
};
LRA_TEST_MAIN(TESTS)
