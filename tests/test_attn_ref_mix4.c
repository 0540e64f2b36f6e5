// Parity of `cosformer`, `fmmformer`, `scatterbrain` and `h_transformer_1d` with PyTorch transcriptions
// of their reference implementations (tools/ref/attn_<kernel>.py -> tests/fixtures/attn/<kernel>.safetensors).
// Each fixture holds cases (C options, inputs, fixed parameters/random draws, the upstream gradient) and
// the reference's output and gradients.  Padded query rows have a zero upstream gradient and are not
// compared: only real rows' outputs are defined by the references.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/gradcheck.h"
#include "core/safetensors.h"
#include "tests/harness.h"

#define PREFIX "test.attn."

// Reads tensor c<i>.<name> (any shape) into a malloc'd buffer; NULL when absent.
static float *read_tensor(lra_safetensors *f, int c, const char *name, int64_t *numel) {
    char key[160];
    snprintf(key, sizeof key, "c%d.%s", c, name);
    const lra_safetensors_entry *e = lra_safetensors_find(f, key);
    if (!e) return NULL;
    int64_t ne = 1;
    for (int d = 0; d < e->ndim; d++) ne *= e->shape[d];
    float *buf = malloc((size_t)(ne ? ne : 1) * sizeof(float));
    if (lra_safetensors_read(f, key, LRA_CONTAINER_F32, e->ndim, e->shape, buf, (size_t)ne * sizeof(float)) != LRA_OK) {
        free(buf);
        return NULL;
    }
    if (numel) *numel = ne;
    return buf;
}

// Max |got - want| over `count` values, also relative to the largest |want|; checks a 1e-4 relative bound.
static void compare(const char *what, const char *kernel, int c, const float *got, const float *want, int64_t count,
                    const float *row_keep, int64_t row_len) {
    double worst = 0, scale = 0, worst_rel = 0;
    int finite = 1;
    for (int64_t e = 0; e < count; e++) scale = fmax(scale, fabs(want[e]));
    for (int64_t e = 0; e < count; e++) {
        if (row_keep && row_keep[e / row_len] == 0.0f) continue;
        finite &= isfinite(got[e]) && isfinite(want[e]);
        const double d = fabs((double)got[e] - want[e]);
        worst = fmax(worst, d);
        worst_rel = fmax(worst_rel, d / (fabs(want[e]) + 1e-2 * scale + 1e-30));
    }
    printf("  %-16s c%d %-6s max abs %.2e, rel %.2e (scale %.3g)\n", kernel, c, what, worst, worst_rel, scale);
    CHECK_MSG(finite, "%s case %d: %s has non-finite values", kernel, c, what);
    CHECK_MSG(worst <= 1e-4 * scale + 1e-6 && worst_rel <= 1e-3, "%s case %d: %s differs from the reference by %g",
              kernel, c, what, worst);
}

static void run_fixture(const char *kernel) {
    char path[512];
    snprintf(path, sizeof path, "%s/attn/%s.safetensors", lra_test_fixtures(), kernel);
    lra_safetensors *f = NULL;
    REQUIRE(lra_safetensors_open(&f, path) == LRA_OK);
    const lra_attn_kernel_def *def = lra_attention_find(kernel);
    REQUIRE(def != NULL);
    const int cases = atoi(lra_safetensors_meta(f, "cases"));
    CHECK(cases >= 1);
    for (int c = 0; c < cases; c++) {
        char key[64];
        snprintf(key, sizeof key, "c%d.q", c);
        const lra_safetensors_entry *qe = lra_safetensors_find(f, key);
        REQUIRE(qe && qe->ndim == 4);
        const int64_t B = qe->shape[0], H = qe->shape[1], n = qe->shape[2], p = qe->shape[3], N = B * H * n * p;
        // Options "a=1,b=true".
        lra_attn_values vals;
        lra_attn_values_defaults(def, &vals);
        snprintf(key, sizeof key, "c%d.opts", c);
        char opts[256];
        snprintf(opts, sizeof opts, "%s", lra_safetensors_meta(f, key));
        for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ",")) {
            char *eq = strchr(tok, '=');
            REQUIRE(eq);
            *eq = 0;
            CHECK_MSG(lra_attn_values_set(def, &vals, tok, eq + 1) == LRA_OK, "%s: option %s", kernel, tok);
        }
        lra_attn_setup setup = {.layer = 0, .n_heads = (int)H, .head_dim = (int)p, .model_dim = (int)(H * p),
                                .seq_len = n, .opts = &vals, .prefix = PREFIX};
        lra_attn_instance in;
        REQUIRE(lra_attn_instance_make(&in, def, &setup, NULL, 7) == LRA_OK);
        // Parameters and fixed draws from the fixture (e.g. the projection matrix, blend weights).
        for (int e = 0; e < in.params->count; e++) {
            char pk[192];
            snprintf(pk, sizeof pk, "param.%s", in.params->entries[e].name + strlen(PREFIX));
            int64_t ne = 0;
            float *vals_p = read_tensor(f, c, pk, &ne);
            REQUIRE(vals_p != NULL);
            lra_tensor *t = lra_params_tensor(in.params, e);
            REQUIRE(ne == lra_tensor_numel(t));
            memcpy(lra_f32(t), vals_p, (size_t)ne * sizeof(float));
            free(vals_p);
        }
        lra_tensor *q = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 1, 1.0f, 0.0f, 1);
        lra_tensor *k = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 2, 1.0f, 0.0f, 1);
        lra_tensor *v = lra_gradcheck_input(LRA_DIMS(B, H, n, p), 3, 1.0f, 0.0f, 1);
        lra_tensor *mask = lra_gradcheck_input(LRA_DIMS(B, n), 4, 1.0f, 0.0f, 0);
        lra_tensor *ts[4] = {q, k, v, mask};
        const char *names[4] = {"q", "k", "v", "mask"};
        for (int t = 0; t < 4; t++) {
            float *d = read_tensor(f, c, names[t], NULL);
            REQUIRE(d != NULL);
            memcpy(lra_f32(ts[t]), d, (size_t)lra_tensor_numel(ts[t]) * sizeof(float));
            free(d);
        }
        float *dout = read_tensor(f, c, "dout", NULL);
        REQUIRE(dout != NULL);
        lra_ctx *ctx = lra_ctx_new(0);
        ctx->training = 0;
        ctx->seed = 1;
        lra_params_zero_grad(in.params);
        lra_attn_call call = {.seed = 1, .step = 0, .layer = 0, .training = 0, .tower = 0};
        lra_tensor *o = lra_attn_instance_forward(&in, ctx, q, k, v, mask, &call);
        lra_backward_from(ctx, o, dout);
        float *got = malloc((size_t)N * sizeof(float));
        lra_tensor_gather_contiguous(o, got);
        // Real query rows: row r of [B*H*n] is real when mask[b, i] != 0.
        float *keep = malloc((size_t)(B * H * n) * sizeof(float));
        for (int64_t r = 0; r < B * H * n; r++) keep[r] = lra_f32(mask)[(r / (H * n)) * n + r % n];
        const char *gnames[4] = {"out", "dq", "dk", "dv"};
        const float *gots[4] = {got, q->grad, k->grad, v->grad};
        for (int t = 0; t < 4; t++) {
            float *want = read_tensor(f, c, gnames[t], NULL);
            REQUIRE(want != NULL && gots[t] != NULL);
            compare(gnames[t], kernel, c, gots[t], want, N, t == 0 ? keep : NULL, p);
            free(want);
        }
        for (int e = 0; e < in.params->count; e++) {
            if (!in.params->entries[e].trainable) continue;
            char gk[192];
            snprintf(gk, sizeof gk, "grad.%s", in.params->entries[e].name + strlen(PREFIX));
            int64_t ne = 0;
            float *want = read_tensor(f, c, gk, &ne);
            REQUIRE(want != NULL);
            compare(gk, kernel, c, lra_params_tensor(in.params, e)->grad, want, ne, NULL, 1);
            free(want);
        }
        free(got);
        free(keep);
        free(dout);
        q->grad = k->grad = v->grad = NULL;  // arena memory
        lra_ctx_free(ctx);
        for (int t = 0; t < 4; t++) lra_gradcheck_free_input(ts[t]);
        lra_attn_instance_free(&in);
    }
    lra_safetensors_close(f);
}

static void test_cosformer(void) { run_fixture("cosformer"); }
static void test_fmmformer(void) { run_fixture("fmmformer"); }
static void test_scatterbrain(void) { run_fixture("scatterbrain"); }
static void test_h_transformer_1d(void) { run_fixture("h_transformer_1d"); }

static const lra_test_case cases[] = {
    {"cosformer", test_cosformer},
    {"fmmformer", test_fmmformer},
    {"scatterbrain", test_scatterbrain},
    {"h_transformer_1d", test_h_transformer_1d},
};
LRA_TEST_MAIN(cases)
