// Parity of the `reformer` and `sinkhorn` kernels with PyTorch transcriptions of their reference
// implementations (tools/ref/attn_<name>.py write tests/fixtures/attn/<name>.safetensors): forward and
// gradients at small shapes, with the random draws (reformer's rotations) or the learned parameters
// (sinkhorn's sorting network) taken from the dump.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/reformer.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "tests/harness.h"

typedef struct {
    lra_safetensors *f;
} dump;

static int dump_open(dump *d, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/attn/%s.safetensors", lra_test_fixtures(), name);
    d->f = NULL;
    return lra_safetensors_open(&d->f, path) == LRA_OK;
}

static int64_t meta_int(const dump *d, const char *key) {
    const char *v = lra_safetensors_meta(d->f, key);
    LRA_ASSERT_MSG(v, "dump lacks metadata %s", key);
    return atoll(v);
}

// A tensor of the dump as an f32 tensor of the given shape (requires_grad as asked).
static lra_tensor *dump_tensor(const dump *d, const char *name, const int64_t *shape, int ndim, int requires_grad) {
    lra_tensor *t = lra_gradcheck_input(shape, ndim, 1, 0.0f, 0.0f, requires_grad);
    const lra_status st = lra_safetensors_read(d->f, name, LRA_CONTAINER_F32, ndim, shape, t->data,
                                               (size_t)lra_tensor_numel(t) * sizeof(float));
    CHECK_MSG(st == LRA_OK, "dump tensor %s", name);
    return t;
}

// max |got - want| and that over max |want|; checks the relative error against tol.
static void compare(const char *label, const float *got, const lra_tensor *want, double tol) {
    double md = 0, mr = 0;
    const float *w = lra_f32(want);
    for (int64_t i = 0; i < lra_tensor_numel(want); i++) {
        md = fmax(md, fabs((double)got[i] - w[i]));
        mr = fmax(mr, fabs((double)w[i]));
    }
    const double rel = md / fmax(mr, 1e-12);
    printf("  %-10s max abs err %.3g, rel %.3g\n", label, md, rel);
    CHECK_MSG(rel <= tol, "%s: relative error %g > %g", label, rel, tol);
}

static void test_reformer_parity(void) {
    dump d;
    REQUIRE(dump_open(&d, "reformer"));
    const int64_t B = 2, H = 2, n = 32, p = 8, nh = meta_int(&d, "n_hashes"), nb = meta_int(&d, "num_buckets");
    const lra_attn_kernel_def *def = lra_attention_find("reformer");
    REQUIRE(def);
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)nh);
    CHECK_OK(lra_attn_values_set(def, &vals, "n_hashes", text));
    snprintf(text, sizeof text, "%lld", (long long)meta_int(&d, "chunk_length"));
    CHECK_OK(lra_attn_values_set(def, &vals, "chunk_length", text));
    lra_attn_setup setup = {.layer = 0, .n_heads = (int)H, .head_dim = (int)p, .model_dim = (int)(H * p),
                            .seq_len = n, .opts = &vals, .prefix = "test.attn."};
    lra_attn_instance in;
    REQUIRE(lra_attn_instance_make(&in, def, &setup, NULL, 1) == LRA_OK);
    CHECK_EQ_INT(lra_reformer_num_buckets(&in), nb);  // the default NB is HF's, from n and the chunk length
    lra_tensor *q = dump_tensor(&d, "q", LRA_DIMS(B, H, n, p), 1), *v = dump_tensor(&d, "v", LRA_DIMS(B, H, n, p), 1);
    lra_tensor *mask = dump_tensor(&d, "mask", LRA_DIMS(B, n), 0), *g = dump_tensor(&d, "g", LRA_DIMS(B, H, n, p), 0);
    lra_tensor *rot = dump_tensor(&d, "rot", LRA_DIMS(H, p, nh, nb / 2), 0);
    lra_tensor *out = dump_tensor(&d, "out", LRA_DIMS(B, H, n, p), 0);
    lra_tensor *dq = dump_tensor(&d, "dq", LRA_DIMS(B, H, n, p), 0), *dv = dump_tensor(&d, "dv", LRA_DIMS(B, H, n, p), 0);
    lra_ctx *ctx = lra_ctx_new(0);
    lra_tensor *o = lra_reformer_forward_rot(&in, ctx, q, v, mask, lra_f32(rot));
    compare("out", lra_f32(o), out, 1e-4);
    lra_backward_from(ctx, o, lra_f32(g));
    REQUIRE(q->grad && v->grad);
    compare("dq", q->grad, dq, 1e-4);
    compare("dv", v->grad, dv, 1e-4);
    q->grad = v->grad = NULL;  // arena memory
    lra_ctx_free(ctx);
    lra_tensor *ts[] = {q, v, mask, g, rot, out, dq, dv};
    for (int i = 0; i < 8; i++) lra_gradcheck_free_input(ts[i]);
    lra_attn_instance_free(&in);
    lra_safetensors_close(d.f);
}

// One sinkhorn case of the dump ("ref": LRA's code with the reference switches; "def": the defaults).
static void sinkhorn_case(const dump *d, const char *pre, const char *opts) {
    char key[64];
#define META(name) (snprintf(key, sizeof key, "%s_%s", pre, name), meta_int(d, key))
#define T(name) (snprintf(key, sizeof key, "%s.%s", pre, name), key)
    const int64_t B = META("B"), H = META("H"), n = META("n"), p = META("p"), bs = META("block"), nb = n / bs;
    const lra_attn_kernel_def *def = lra_attention_find("sinkhorn");
    REQUIRE(def);
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    char buf[256], val[32];
    snprintf(buf, sizeof buf, "block_size=%lld,sinkhorn_iters=%lld,temperature=%s%s%s", (long long)bs,
             (long long)META("iters"), lra_safetensors_meta(d->f, (snprintf(key, sizeof key, "%s_temp", pre), key)),
             opts ? "," : "", opts ? opts : "");
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        snprintf(val, sizeof val, "%s", eq + 1);
        CHECK_MSG(lra_attn_values_set(def, &vals, tok, val) == LRA_OK, "option %s=%s", tok, val);
    }
    lra_attn_setup setup = {.layer = 0, .n_heads = (int)H, .head_dim = (int)p, .model_dim = (int)(H * p),
                            .seq_len = n, .opts = &vals, .prefix = "test.attn."};
    lra_attn_instance in;
    REQUIRE(lra_attn_instance_make(&in, def, &setup, NULL, 1) == LRA_OK);
    const int wi = lra_params_find(in.params, "test.attn.sort_w"), ci = lra_params_find(in.params, "test.attn.sort_b");
    REQUIRE(wi >= 0 && ci >= 0);
    lra_tensor *W = lra_params_tensor(in.params, wi), *c = lra_params_tensor(in.params, ci);
    CHECK_OK(lra_safetensors_read(d->f, T("W"), LRA_CONTAINER_F32, 2, W->shape, W->data, (size_t)(nb * p) * 4));
    CHECK_OK(lra_safetensors_read(d->f, T("c"), LRA_CONTAINER_F32, 1, c->shape, c->data, (size_t)nb * 4));
    W->requires_grad = c->requires_grad = 1;
    lra_params_zero_grad(in.params);
    lra_tensor *q = dump_tensor(d, T("q"), LRA_DIMS(B, H, n, p), 1), *k = dump_tensor(d, T("k"), LRA_DIMS(B, H, n, p), 1);
    lra_tensor *v = dump_tensor(d, T("v"), LRA_DIMS(B, H, n, p), 1), *mask = dump_tensor(d, T("mask"), LRA_DIMS(B, n), 0);
    lra_tensor *g = dump_tensor(d, T("g"), LRA_DIMS(B, H, n, p), 0), *out = dump_tensor(d, T("out"), LRA_DIMS(B, H, n, p), 0);
    lra_tensor *dq = dump_tensor(d, T("dq"), LRA_DIMS(B, H, n, p), 0), *dk = dump_tensor(d, T("dk"), LRA_DIMS(B, H, n, p), 0);
    lra_tensor *dv = dump_tensor(d, T("dv"), LRA_DIMS(B, H, n, p), 0), *dW = dump_tensor(d, T("dW"), LRA_DIMS(nb, p), 0);
    lra_tensor *dc = dump_tensor(d, T("dc"), LRA_DIMS(nb), 0);
    lra_ctx *ctx = lra_ctx_new(0);
    lra_attn_call call = {.seed = 1, .step = 0, .layer = 0, .training = 1, .tower = 0};
    lra_tensor *o = lra_attn_instance_forward(&in, ctx, q, k, v, mask, &call);
    printf("  sinkhorn %s:\n", pre);
    compare("out", lra_f32(lra_op_contiguous(ctx, o)), out, 1e-4);
    lra_backward_from(ctx, o, lra_f32(g));
    REQUIRE(q->grad && k->grad && v->grad);
    compare("dq", q->grad, dq, 1e-4);
    compare("dk", k->grad, dk, 1e-4);
    compare("dv", v->grad, dv, 1e-4);
    compare("dW", W->grad, dW, 1e-4);
    compare("dc", c->grad, dc, 1e-4);
    q->grad = k->grad = v->grad = NULL;  // arena memory
    lra_ctx_free(ctx);
    lra_tensor *ts[] = {q, k, v, mask, g, out, dq, dk, dv, dW, dc};
    for (int i = 0; i < 11; i++) lra_gradcheck_free_input(ts[i]);
    lra_attn_instance_free(&in);
#undef META
#undef T
}

static void test_sinkhorn_parity(void) {
    dump d;
    REQUIRE(dump_open(&d, "sinkhorn"));
    sinkhorn_case(&d, "ref", "clip=1,separate_softmax=true,block_sum=true,strided_blocks=true");
    sinkhorn_case(&d, "def", NULL);
    lra_safetensors_close(d.f);
}

static const lra_test_case TESTS[] = {
    {"reformer_parity", test_reformer_parity},
    {"sinkhorn_parity", test_sinkhorn_parity},
};
LRA_TEST_MAIN(TESTS)
