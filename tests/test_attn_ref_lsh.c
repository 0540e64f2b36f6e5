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

static const lra_test_case TESTS[] = {
    {"reformer_parity", test_reformer_parity},
};
LRA_TEST_MAIN(TESTS)
