// Parity of the `linear`, `synthesizer` and `performer` (kernel=relu) kernels with PyTorch transcriptions of
// their reference implementations: tools/ref/attn_{linear,synthesizer,performer}.py write
// tests/fixtures/attn/<kernel>.safetensors (layout in tools/ref/attn_misc_common.py).  Each case builds the
// kernel with the case's options, injects the dumped parameters (random features, learned matrices), runs
// forward and backward with the dumped upstream gradient and compares the output on real query rows (the
// references leave padded rows unspecified; the upstream gradient is zero there), dq, dk, dv and the
// gradients of trainable parameters.
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "tests/harness.h"

#define RTOL 1e-4
#define ATOL 1e-5

// A persistent f32 tensor filled from the dump (requires_grad as given).
static lra_tensor *load(lra_safetensors *f, const char *name, int requires_grad) {
    const lra_safetensors_entry *e = lra_safetensors_find(f, name);
    if (!e) return NULL;
    lra_tensor *t = lra_gradcheck_input(e->shape, e->ndim, 1, 0.0f, 0.0f, requires_grad);
    if (lra_safetensors_read(f, name, LRA_CONTAINER_F32, e->ndim, e->shape, lra_f32(t),
                             (size_t)lra_tensor_numel(t) * sizeof(float)) != LRA_OK) {
        lra_gradcheck_free_input(t);
        return NULL;
    }
    return t;
}

typedef struct {
    double abs, rel;  // worst |c - r| and worst |c - r| / |r| (over |r| > 1e-3)
    int bad;          // elements outside ATOL + RTOL |r|
} cmp_stats;

static void compare(cmp_stats *st, const float *c, const float *r, int64_t count, const float *row_keep,
                    int64_t row_len) {
    for (int64_t e = 0; e < count; e++) {
        if (row_keep && row_keep[e / row_len] == 0.0f) continue;
        const double d = fabs((double)c[e] - r[e]);
        st->abs = fmax(st->abs, d);
        if (fabs(r[e]) > 1e-3) st->rel = fmax(st->rel, d / fabs(r[e]));
        if (!(d <= ATOL + RTOL * fabs(r[e]))) st->bad++;
    }
}

// Next comma-separated item of *s into buf; 0 at the end.
static int next_item(const char **s, char *buf, size_t cap) {
    if (!*s || !**s) return 0;
    const char *c = strchr(*s, ',');
    const size_t len = c ? (size_t)(c - *s) : strlen(*s);
    snprintf(buf, cap, "%.*s", (int)len, *s);
    *s = c ? c + 1 : *s + len;
    return 1;
}

static void run_file(const char *kernel) {
    char path[512];
    snprintf(path, sizeof path, "%s/attn/%s.safetensors", lra_test_fixtures(), kernel);
    lra_safetensors *f = NULL;
    REQUIRE(lra_safetensors_open(&f, path) == LRA_OK);
    const lra_attn_kernel_def *def = lra_attention_find(lra_safetensors_meta(f, "kernel"));
    REQUIRE(def);
    lra_tensor *q = load(f, "q", 1), *k = load(f, "k", 1), *v = load(f, "v", 1);
    lra_tensor *mask = load(f, "mask", 0), *gout = load(f, "gout", 0);
    REQUIRE(q && k && v && mask && gout);
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3], N = lra_tensor_numel(q);
    // Query-row keep flags over the [B, H, n] rows of the output.
    float *rows = malloc((size_t)(B * H * n) * sizeof(float));
    for (int64_t r = 0; r < B * H * n; r++) rows[r] = lra_f32(mask)[(r / (H * n)) * n + r % n];
    const char *cases = lra_safetensors_meta(f, "cases");
    char cname[64];
    while (next_item(&cases, cname, sizeof cname)) {
        char key[256];
        snprintf(key, sizeof key, "%s.opts", cname);
        const char *opts = lra_safetensors_meta(f, key);
        lra_attn_values vals;
        lra_attn_values_defaults(def, &vals);
        char item[128];
        for (const char *o = opts; next_item(&o, item, sizeof item);) {
            char *eq = strchr(item, '=');
            REQUIRE(eq);
            *eq = 0;
            CHECK_MSG(lra_attn_values_set(def, &vals, item, eq + 1) == LRA_OK, "%s: option %s", cname, item);
        }
        lra_attn_setup setup = {.layer = 0, .n_heads = (int)H, .head_dim = (int)p, .model_dim = (int)(H * p),
                                .seq_len = atoll(lra_safetensors_meta(f, "seq_len")), .opts = &vals,
                                .prefix = "test.attn."};
        lra_attn_instance in;
        REQUIRE(lra_attn_instance_make(&in, def, &setup, NULL, 3) == LRA_OK);
        // Inject the dumped parameters.
        snprintf(key, sizeof key, "%s.params", cname);
        const char *plist = lra_safetensors_meta(f, key);
        for (const char *s = plist; next_item(&s, item, sizeof item);) {
            char pname[160];
            snprintf(pname, sizeof pname, "test.attn.%s", item);
            const int idx = lra_params_find(in.params, pname);
            REQUIRE(idx >= 0);
            lra_tensor *t = lra_params_tensor(in.params, idx);
            snprintf(key, sizeof key, "%s.param.%s", cname, item);
            REQUIRE(lra_safetensors_read(f, key, LRA_CONTAINER_F32, t->ndim, t->shape, lra_f32(t),
                                         (size_t)lra_tensor_numel(t) * sizeof(float)) == LRA_OK);
            t->requires_grad = in.params->entries[idx].trainable;
        }
        lra_params_zero_grad(in.params);
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->training = 0;
        q->grad = k->grad = v->grad = NULL;
        lra_attn_call call = {.seed = 1, .step = 0, .layer = 0, .training = 0, .tower = 0};
        lra_tensor *out = lra_attn_instance_forward(&in, ctx, q, k, v, mask, &call);
        lra_backward_from(ctx, out, lra_f32(gout));
        cmp_stats st = {0, 0, 0};
        float *o = malloc((size_t)N * sizeof(float));
        lra_tensor_gather_contiguous(out, o);
        const char *names[4] = {"out", "dq", "dk", "dv"};
        const float *got[4] = {o, q->grad, k->grad, v->grad};
        for (int t = 0; t < 4; t++) {
            snprintf(key, sizeof key, "%s.%s", cname, names[t]);
            lra_tensor *ref = load(f, key, 0);
            REQUIRE(ref);
            float *zero = got[t] ? NULL : calloc((size_t)N, sizeof(float));  // an input the case does not use
            if (zero) got[t] = zero;
            cmp_stats one = {0, 0, 0};
            compare(&one, got[t], lra_f32(ref), N, t == 0 ? rows : NULL, p);
            CHECK_MSG(one.bad == 0, "%s/%s: %s has %d elements off (max abs %.3g)", kernel, cname, names[t], one.bad,
                      one.abs);
            compare(&st, got[t], lra_f32(ref), N, t == 0 ? rows : NULL, p);
            lra_gradcheck_free_input(ref);
            free(zero);
        }
        for (const char *s = plist; next_item(&s, item, sizeof item);) {
            char pname[160];
            snprintf(pname, sizeof pname, "test.attn.%s", item);
            const int idx = lra_params_find(in.params, pname);
            if (!in.params->entries[idx].trainable) continue;
            snprintf(key, sizeof key, "%s.grad.%s", cname, item);
            lra_tensor *ref = load(f, key, 0);
            REQUIRE(ref);
            cmp_stats one = {0, 0, 0};
            const float *g = in.params->grad + in.params->entries[idx].offset;
            compare(&one, g, lra_f32(ref), lra_tensor_numel(ref), NULL, 1);
            CHECK_MSG(one.bad == 0, "%s/%s: grad of %s has %d elements off (max abs %.3g)", kernel, cname, item,
                      one.bad, one.abs);
            compare(&st, g, lra_f32(ref), lra_tensor_numel(ref), NULL, 1);
            lra_gradcheck_free_input(ref);
        }
        printf("  %s/%s: max abs err %.3g, max rel err %.3g\n", kernel, cname, st.abs, st.rel);
        q->grad = k->grad = v->grad = NULL;  // arena memory
        free(o);
        lra_ctx_free(ctx);
        lra_attn_instance_free(&in);
    }
    free(rows);
    lra_tensor *ts[] = {q, k, v, mask, gout};
    for (int i = 0; i < 5; i++) lra_gradcheck_free_input(ts[i]);
    lra_safetensors_close(f);
}

static void test_linear(void) { run_file("linear"); }
static void test_synthesizer(void) { run_file("synthesizer"); }
static void test_performer_relu(void) { run_file("performer"); }

static const lra_test_case TESTS[] = {
    {"linear", test_linear},
    {"synthesizer", test_synthesizer},
    {"performer_relu", test_performer_relu},
};
LRA_TEST_MAIN(TESTS)
