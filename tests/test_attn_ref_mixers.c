// Parity of the token-mixer kernels (fnet, ponet, luna, transformer_ls) with PyTorch transcriptions of
// their reference implementations: tests/fixtures/attn/<name>.safetensors, written by
// tools/ref/attn_<name>.py (which names the reference repository and file).  Each dump holds x, mask,
// the fixed upstream gradient dout, the reference output and dx, and the parameters (param.<name>,
// injected into the C kernel's own store by name) with their gradients (grad.<name>).  Luna's dump
// chains two layers through the carried packed sequence (carry, dcarry).  Forward and gradients must
// agree to rtol 1e-4 (relative to each tensor's largest reference value where entries are tiny).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "layers/attention_layer.h"
#include "tests/harness.h"

#define RTOL 1e-4

// A whole f32 tensor of the dump (malloc'd), its shape in *e.
static float *read_tensor(lra_safetensors *f, const char *name, const lra_safetensors_entry **e) {
    *e = lra_safetensors_find(f, name);
    if (!*e) return NULL;
    int64_t numel = 1;
    for (int i = 0; i < (*e)->ndim; i++) numel *= (*e)->shape[i];
    float *d = malloc((size_t)(numel > 0 ? numel : 1) * sizeof(float));
    if (lra_safetensors_read(f, name, LRA_CONTAINER_F32, (*e)->ndim, (*e)->shape, d, (size_t)numel * sizeof(float)) !=
        LRA_OK) {
        free(d);
        return NULL;
    }
    return d;
}

// Max relative error of got against want: |got - want| / max(|want|, 1e-2 max|want|, floor); also the
// abs error.  floor: a tensor whose exact reference gradient is zero (a key bias: softmax ignores a shift
// shared by all keys) holds only round-off, measured against the dump's largest gradient.
static double compare_floor(const char *what, const char *kernel, const float *got, const float *want, int64_t n,
                            double floor, double *abs_out) {
    double wmax = 0, worst = 0, worst_abs = 0;
    for (int64_t i = 0; i < n; i++) wmax = fmax(wmax, fabs(want[i]));
    if (wmax < 1e-6 * floor) wmax = 100.0 * floor;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        worst_abs = fmax(worst_abs, d);
        worst = fmax(worst, d / fmax(fabs(want[i]), fmax(1e-2 * wmax, 1e-12)));
    }
    CHECK_MSG(worst <= RTOL, "%s %s: relative error %g (abs %g)", kernel, what, worst, worst_abs);
    if (abs_out) *abs_out = fmax(*abs_out, worst_abs);
    return worst;
}

static double compare(const char *what, const char *kernel, const float *got, const float *want, int64_t n,
                      double *abs_out) {
    return compare_floor(what, kernel, got, want, n, 0.0, abs_out);
}

// Copies param.<name minus prefix> into every entry of the instance's store.
static int inject(lra_safetensors *f, lra_attn_instance *in, const char *file_prefix) {
    lra_params *P = in->params;
    for (int i = 0; i < P->count; i++) {
        char key[192];
        snprintf(key, sizeof key, "param.%s%s", file_prefix, P->entries[i].name);
        lra_tensor *t = lra_params_tensor(P, i);
        if (lra_safetensors_read(f, key, LRA_CONTAINER_F32, t->ndim, t->shape, lra_f32(t),
                                 (size_t)lra_tensor_numel(t) * sizeof(float)) != LRA_OK) {
            CHECK_MSG(0, "%s: %s", key, lra_error_message());
            return 0;
        }
        t->requires_grad = P->entries[i].trainable;
    }
    lra_params_zero_grad(P);
    return 1;
}

// The reference check of one kernel; `layers` instances chained through the carry slot, all reading x.
static void check_kernel(const char *name, int layers) {
    char path[512];
    snprintf(path, sizeof path, "%s/attn/%s.safetensors", lra_test_fixtures(), name);
    lra_safetensors *f = NULL;
    CHECK_OK(lra_safetensors_open(&f, path));
    if (!f) return;
    const lra_attn_kernel_def *def = lra_attention_find(name);
    REQUIRE(def && def->mix);
    const int H = atoi(lra_safetensors_meta(f, "heads")), p = atoi(lra_safetensors_meta(f, "head_dim"));
    const char *opts = lra_safetensors_meta(f, "opts");
    const lra_safetensors_entry *ex, *em, *ed, *eo, *edx, *ec, *edc;
    float *x = read_tensor(f, "x", &ex), *mask = read_tensor(f, "mask", &em), *dout = read_tensor(f, "dout", &ed);
    float *want = read_tensor(f, "out", &eo), *want_dx = read_tensor(f, "dx", &edx);
    float *want_carry = read_tensor(f, "carry", &ec), *dcarry = read_tensor(f, "dcarry", &edc);
    REQUIRE(x && mask && dout && want && want_dx && ex->ndim == 3);
    const int64_t B = ex->shape[0], n = ex->shape[1], D = ex->shape[2];
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", opts ? opts : "");
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        REQUIRE(eq);
        *eq = 0;
        CHECK_OK(lra_attn_values_set(def, &vals, tok, eq + 1));
    }
    lra_attn_instance in[2];
    char fprefix[2][8];
    for (int l = 0; l < layers; l++) {
        snprintf(fprefix[l], sizeof fprefix[l], layers > 1 ? "l%d." : "", l);
        lra_attn_setup setup = {.layer = l, .n_heads = H, .head_dim = p, .model_dim = (int)D, .seq_len = n,
                                .opts = &vals, .prefix = ""};
        REQUIRE(lra_attn_instance_make(&in[l], def, &setup, NULL, 1) == LRA_OK);
        REQUIRE(inject(f, &in[l], fprefix[l]));
    }
    lra_tensor tx = lra_tensor_make(LRA_F32, x, (const int64_t[]){B, n, D}, 3);
    lra_tensor tm = lra_tensor_make(LRA_F32, mask, (const int64_t[]){B, n}, 2);
    lra_tensor tdo = lra_tensor_make(LRA_F32, dout, (const int64_t[]){B, n, D}, 3);
    tx.requires_grad = 1;
    lra_ctx *ctx = lra_ctx_new(0);
    ctx->training = 1;
    lra_tensor *carry = NULL, *out = NULL;
    for (int l = 0; l < layers; l++) {
        lra_attn_call call = {.seed = 1, .step = 0, .layer = l, .training = 1, .carry = &carry};
        out = lra_attn_instance_mix(&in[l], ctx, &tx, &tm, &call);
    }
    lra_tensor *loss = lra_op_sum_all(ctx, lra_op_mul(ctx, out, &tdo));
    double abs_fwd = 0, abs_grad = 0, rel_fwd = 0, rel_grad = 0;
    lra_tensor tdc;  // lives until the backward pass
    if (want_carry) {
        REQUIRE(carry && dcarry && lra_tensor_numel(carry) == ec->shape[0] * ec->shape[1] * ec->shape[2]);
        tdc = lra_tensor_make(LRA_F32, dcarry, carry->shape, 3);
        loss = lra_op_add(ctx, loss, lra_op_sum_all(ctx, lra_op_mul(ctx, carry, &tdc)));
        rel_fwd = fmax(rel_fwd, compare("carry", name, lra_f32(carry), want_carry, lra_tensor_numel(carry), &abs_fwd));
    }
    const float one = 1.0f;
    lra_backward_from(ctx, loss, &one);
    rel_fwd = fmax(rel_fwd, compare("output", name, lra_f32(out), want, B * n * D, &abs_fwd));
    REQUIRE(tx.grad);
    rel_grad = fmax(rel_grad, compare("dx", name, tx.grad, want_dx, B * n * D, &abs_grad));
    double gmax = 0;  // the largest reference gradient
    for (int e = 0; e < lra_safetensors_count(f); e++) {
        const lra_safetensors_entry *en = lra_safetensors_entry_at(f, e);
        if (strncmp(en->name, "grad.", 5)) continue;
        const lra_safetensors_entry *eg;
        float *wg = read_tensor(f, en->name, &eg);
        int64_t numel = 1;
        for (int i = 0; wg && i < eg->ndim; i++) numel *= eg->shape[i];
        for (int64_t i = 0; wg && i < numel; i++) gmax = fmax(gmax, fabs(wg[i]));
        free(wg);
    }
    int checked = 0;
    for (int l = 0; l < layers; l++) {
        lra_params *P = in[l].params;
        for (int i = 0; i < P->count; i++) {
            if (!P->entries[i].trainable) continue;
            char key[192];
            snprintf(key, sizeof key, "grad.%s%s", fprefix[l], P->entries[i].name);
            const lra_safetensors_entry *eg;
            float *wg = read_tensor(f, key, &eg);
            CHECK_MSG(wg != NULL, "%s: %s missing", name, key);
            if (!wg) continue;
            rel_grad = fmax(rel_grad, compare_floor(key, name, P->grad + P->entries[i].offset, wg, P->entries[i].numel,
                                                    gmax, &abs_grad));
            checked++;
            free(wg);
        }
    }
    printf("  %-15s forward max abs %.3g rel %.3g; gradients (dx + %d parameters) max abs %.3g rel %.3g\n", name,
           abs_fwd, rel_fwd, checked, abs_grad, rel_grad);
    lra_ctx_free(ctx);
    for (int l = 0; l < layers; l++) lra_attn_instance_free(&in[l]);
    free(x), free(mask), free(dout), free(want), free(want_dx), free(want_carry), free(dcarry);
    lra_safetensors_close(f);
}

static void test_fnet(void) { check_kernel("fnet", 1); }
static void test_ponet(void) { check_kernel("ponet", 1); }
static void test_luna(void) { check_kernel("luna", 2); }
static void test_transformer_ls(void) { check_kernel("transformer_ls", 1); }

// The layer contract: a mixer's attention layer declares no Q/K/V/output projections, only the kernel's
// parameters, and its forward maps [B, n, D] to [B, n, D] through the kernel.
static void test_layer_has_no_projections(void) {
    for (int k = 0; k < lra_attention_count(); k++) {
        const lra_attn_kernel_def *def = lra_attention_get(k);
        if (!def->mix) continue;
        lra_attn_values vals;
        lra_attn_values_defaults(def, &vals);
        lra_params params;
        lra_params_init(&params);
        lra_attention_layer a;
        lra_attention_layer_declare(&a, &params, "m.mha", 8, 2, 4, 16, 0, def, &vals);
        CHECK_MSG(lra_params_find(&params, "m.mha.W_q.weight") < 0 && lra_params_find(&params, "m.mha.ff.weight") < 0,
                  "%s: the layer declared its own projections", def->name);
        for (int i = 0; i < params.count; i++)
            CHECK_MSG(!strncmp(params.entries[i].name, "m.mha.attn.", 11), "%s: %s", def->name, params.entries[i].name);
        lra_params_finalize(&params);
        lra_params_initialize(&params, 3);
        lra_attention_layer_init_params(&a, &params, 3);
        lra_ctx *ctx = lra_ctx_new(0);
        lra_tensor *x = lra_op_full(ctx, LRA_DIMS(2, 16, 8), 0.5f), *mask = lra_op_full(ctx, LRA_DIMS(2, 16), 1.0f);
        lra_tensor *carry = NULL;
        lra_tensor *o = lra_attention_layer_forward(&a, &params, ctx, x, mask, 0, &carry);
        CHECK(o->ndim == 3 && o->shape[0] == 2 && o->shape[1] == 16 && o->shape[2] == 8);
        lra_ctx_free(ctx);
        lra_attention_layer_destroy(&a);
        lra_params_free(&params);
    }
}

static const lra_test_case TESTS[] = {
    {"fnet", test_fnet},
    {"ponet", test_ponet},
    {"luna", test_luna},
    {"transformer_ls", test_transformer_ls},
    {"layer_has_no_projections", test_layer_has_no_projections},
};
LRA_TEST_MAIN(TESTS)
