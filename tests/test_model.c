// The transformer model against PyTorch reference dumps (tools/ref/make_dumps.py), a whole-model
// finite-difference check, parameter counts, learning a tiny task, and step-arena memory.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "optim/adamw.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tasks/model.h"
#include "tasks/step.h"
#include "tests/harness.h"

static lra_model_config small_config(int vocab, int pos_len, int64_t n, int dim, int heads, int head_dim, int hidden,
                                     int layers, int classes, int head_hidden, int dual, const char *kernel) {
    lra_model_config c;
    memset(&c, 0, sizeof c);
    c.enc.vocab_size = vocab;
    c.enc.pos_len = pos_len;
    c.enc.seq_len = n;
    c.enc.dim = dim;
    c.enc.heads = heads;
    c.enc.head_dim = head_dim;
    c.enc.hidden = hidden;
    c.enc.layers = layers;
    c.enc.dropout = 0.0f;
    c.enc.pos_kind = LRA_POS_LEARNED;
    c.enc.kernel = lra_attention_find(kernel);
    LRA_ASSERT(c.enc.kernel);
    lra_attn_values_defaults(c.enc.kernel, &c.enc.kernel_opts);
    if (!strcmp(kernel, "softmax")) LRA_ASSERT(lra_attn_values_set(c.enc.kernel, &c.enc.kernel_opts, "dropout", "0") == LRA_OK);
    c.pooling = LRA_POOL_MEAN;
    c.num_classes = classes;
    c.head_hidden = head_hidden;
    c.dual = dual;
    return c;
}

static int meta_int(lra_safetensors *f, const char *key) {
    const char *v = lra_safetensors_meta(f, key);
    LRA_ASSERT_MSG(v, "dump lacks metadata %s", key);
    return atoi(v);
}

// Largest relative difference max|a-b| / max(max|b|, floor) over a tensor, with a labelled report.
static double compare_floor(const char *label, const float *got, const float *want, int64_t n, double tol,
                            double floor) {
    double maxdiff = 0, maxref = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > maxdiff) {
            maxdiff = d;
            at = i;
        }
        if (fabs(want[i]) > maxref) maxref = fabs(want[i]);
    }
    double rel = maxdiff / fmax(maxref, floor);
    if (rel > tol)
        lra_test_fail_(__FILE__, __LINE__, "%s: max rel diff %.3g at [%lld] (got %.8g want %.8g) > %.1g", label, rel,
                       (long long)at, got[at], want[at], tol);
    return rel;
}

static double compare(const char *label, const float *got, const float *want, int64_t n, double tol) {
    return compare_floor(label, got, want, n, tol, 1e-6);
}

typedef struct {
    double fwd, grad, traj;
} ref_diffs;

typedef struct {
    lra_model *m;
    lra_safetensors *f;
    int B, C;
    const float *want_logits, *want_loss;
    ref_diffs *out;
    int *zero_grad;  // per parameter: its reference gradient is zero in exact arithmetic
    int done;
} first_step;

static lra_status one_batch(void *user, const lra_batch **out) {
    *out = user;
    return LRA_OK;
}

// After the first backward pass: logits, loss and every gradient against the PyTorch dump.
static void inspect_first(void *user, lra_tensor *logits, lra_tensor *loss) {
    first_step *fs = user;
    lra_model *m = fs->m;
    double gmax = 0;
    for (size_t i = 0; i < m->params.total; i++) gmax = fmax(gmax, fabs(m->params.grad[i]));
    fs->out->fwd = compare("logits", lra_f32(logits), fs->want_logits, fs->B * fs->C, 1e-5);
    double l = compare("loss", lra_f32(loss), fs->want_loss, 1, 1e-5);
    if (l > fs->out->fwd) fs->out->fwd = l;
    for (int i = 0; i < m->params.count; i++) {
        char key[160];
        snprintf(key, sizeof key, "grad.%s", m->params.entries[i].name);
        lra_tensor *t = lra_params_tensor(&m->params, i);
        float *want = malloc((size_t)lra_tensor_numel(t) * 4);
        CHECK_OK(lra_safetensors_read(fs->f, key, LRA_CONTAINER_F32, t->ndim, t->shape, want,
                                      (size_t)lra_tensor_numel(t) * 4));
        // A tensor whose exact gradient is zero (the key bias: softmax ignores a shift shared by all keys)
        // holds only round-off in both programs; it is measured against the model's largest gradient.
        double wmax = 0;
        for (int64_t j = 0; j < lra_tensor_numel(t); j++) wmax = fmax(wmax, fabs(want[j]));
        fs->zero_grad[i] = wmax < 1e-6 * gmax;
        double d = compare_floor(key, t->grad, want, lra_tensor_numel(t), 1e-4, fs->zero_grad[i] ? gmax : 1e-6);
        if (d > fs->out->grad) fs->out->grad = d;
        free(want);
    }
    fs->done = 1;
}

static void run_reference(const char *file, ref_diffs *out) {
    char path[512];
    snprintf(path, sizeof path, "%s/ref/%s", lra_test_fixtures(), file);
    lra_safetensors *f = NULL;
    CHECK_OK(lra_safetensors_open(&f, path));
    if (!f) return;
    const int dual = !strcmp(lra_safetensors_meta(f, "dual"), "True");
    const int B = meta_int(f, "batch"), n = meta_int(f, "n");
    lra_model_config cfg = small_config(meta_int(f, "vocab_size"), meta_int(f, "pos_len"), n, meta_int(f, "dim"),
                                        meta_int(f, "heads"), meta_int(f, "head_dim"), meta_int(f, "hidden"),
                                        meta_int(f, "layers"), meta_int(f, "classes"), meta_int(f, "head_hidden"), dual,
                                        "softmax");
    lra_model m;
    lra_model_build(&m, &cfg, 1);
    // Load every parameter by its PyTorch name.
    for (int i = 0; i < m.params.count; i++) {
        char key[160];
        snprintf(key, sizeof key, "param.%s", m.params.entries[i].name);
        lra_tensor *t = lra_params_tensor(&m.params, i);
        CHECK_OK(lra_safetensors_read(f, key, LRA_CONTAINER_F32, t->ndim, t->shape, t->data,
                                      (size_t)lra_tensor_numel(t) * 4));
    }
    CHECK_EQ_INT(lra_safetensors_count(f), 3 + 2 * dual + 3 * m.params.count + 2);
    int32_t *ids[2], *labels = malloc((size_t)B * 4);
    float *mask[2];
    for (int d = 0; d < 1 + dual; d++) {
        char k1[32], k2[32];
        snprintf(k1, sizeof k1, "input.ids%d", d);
        snprintf(k2, sizeof k2, "input.mask%d", d);
        ids[d] = malloc((size_t)B * n * 4);
        mask[d] = malloc((size_t)B * n * 4);
        CHECK_OK(lra_safetensors_read(f, k1, LRA_CONTAINER_I32, 2, (int64_t[]){B, n}, ids[d], (size_t)B * n * 4));
        CHECK_OK(lra_safetensors_read(f, k2, LRA_CONTAINER_F32, 2, (int64_t[]){B, n}, mask[d], (size_t)B * n * 4));
    }
    CHECK_OK(lra_safetensors_read(f, "input.labels", LRA_CONTAINER_I32, 1, (int64_t[]){B}, labels, (size_t)B * 4));
    const int C = cfg.num_classes;
    float *want_logits = malloc((size_t)B * C * 4), want_loss;
    CHECK_OK(lra_safetensors_read(f, "out.logits", LRA_CONTAINER_F32, 2, (int64_t[]){B, C}, want_logits, (size_t)B * C * 4));
    CHECK_OK(lra_safetensors_read(f, "out.loss", LRA_CONTAINER_F32, 1, (int64_t[]){1}, &want_loss, 4));

    lra_ctx *ctx = lra_ctx_new(0);
    lra_schedule sched;
    lra_schedule_init(&sched, LRA_SCHED_ONECYCLE, atof(lra_safetensors_meta(f, "lr")), meta_int(f, "warmup"),
                      meta_int(f, "total"));
    lra_optimizer opt;
    lra_optimizer_init(&opt, &(lra_optimizer_config){.kind = LRA_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-6,
                                                       .weight_decay = atof(lra_safetensors_meta(f, "weight_decay"))});
    const int steps = meta_int(f, "steps");
    // The batch in the batcher's layout [n_seq, B, n].
    const int nseq = 1 + dual;
    lra_batch batch = {.tokens = malloc((size_t)B * nseq * n * 4), .mask = malloc((size_t)B * nseq * n * 4),
                       .labels = labels, .rows = B, .count = B, .global_count = B, .n_seq = nseq, .length = n};
    for (int d = 0; d < nseq; d++) {
        memcpy(lra_batch_tokens(&batch, d), ids[d], (size_t)B * n * 4);
        memcpy(lra_batch_mask(&batch, d), mask[d], (size_t)B * n * 4);
    }
    // The training step of the trainer (tasks/step.h); the first one's forward and gradients are compared.
    first_step fs = {&m, f, B, C, want_logits, &want_loss, out, calloc((size_t)m.params.count, sizeof(int)), 0};
    lra_stepper st = {.model = &m, .opt = &opt, .sched = &sched, .ctx = ctx, .seed = 0, .batch_size = B,
                      .accumulation = 1, .rank = 0, .world = 1, .inspect = inspect_first, .inspect_user = &fs};
    CHECK_OK(lra_stepper_init(&st));
    for (int step = 0; step < steps; step++) {
        lra_step_result r;
        CHECK_OK(lra_step(&st, step, one_batch, &batch, &r));
        st.inspect = NULL;
    }
    lra_stepper_free(&st);
    CHECK(fs.done);
    int *zero_grad = fs.zero_grad, n_zero = 0;
    for (int i = 0; i < m.params.count; i++) {
        char key[160];
        snprintf(key, sizeof key, "after5.%s", m.params.entries[i].name);
        lra_tensor *t = lra_params_tensor(&m.params, i);
        float *want = malloc((size_t)lra_tensor_numel(t) * 4);
        CHECK_OK(lra_safetensors_read(f, key, LRA_CONTAINER_F32, t->ndim, t->shape, want, (size_t)lra_tensor_numel(t) * 4));
        if (zero_grad[i]) {
            // AdamW normalises the round-off gradient to steps of size ~lr, in a direction set by noise in
            // both programs: the only claim is that it moved no further than Adam's step bound.
            const double lr = atof(lra_safetensors_meta(f, "lr"));
            for (int64_t j = 0; j < lra_tensor_numel(t); j++)
                CHECK_MSG(fabs(lra_f32(t)[j] - want[j]) <= 2.0 * steps * lr, "%s[%lld]: %g vs %g", key, (long long)j,
                          lra_f32(t)[j], want[j]);
            n_zero++;
            free(want);
            continue;
        }
        double d = compare(key, lra_f32(t), want, lra_tensor_numel(t), 1e-5);
        if (d > out->traj) out->traj = d;
        free(want);
    }
    printf("  %s: largest relative difference to PyTorch: forward %.2e, gradients %.2e, after %d AdamW steps %.2e "
           "(%d tensors with an exactly-zero gradient checked against Adam's step bound)\n",
           file, out->fwd, out->grad, steps, out->traj, n_zero);
    free(zero_grad);
    for (int d = 0; d < 1 + dual; d++) {
        free(ids[d]);
        free(mask[d]);
    }
    free(labels);
    free(batch.tokens);
    free(batch.mask);
    free(want_logits);
    lra_ctx_free(ctx);
    lra_model_free(&m);
    lra_safetensors_close(f);
}

static void test_reference_single(void) {
    ref_diffs d = {0, 0, 0};
    run_reference("model_single.safetensors", &d);
}

static void test_reference_dual(void) {
    ref_diffs d = {0, 0, 0};
    run_reference("model_dual.safetensors", &d);
}

static void test_parameter_counts(void) {
    // training.md §1.11 (softmax attention).
    struct { int vocab, pos_len, classes, dual; long long want; } cases[] = {
        {32, 2048, 10, 0, 209802}, {512, 4096, 2, 0, 370562}, {512, 4096, 2, 1, 395138},
        {512, 1024, 10, 0, 174986}, {256, 1024, 10, 0, 158602}, {512, 1024, 2, 0, 173954},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lra_model_config c = small_config(cases[i].vocab, cases[i].pos_len, cases[i].pos_len, 64, 2, 32, 128, 2,
                                          cases[i].classes, 128, cases[i].dual, "softmax");
        lra_model m;
        lra_model_build(&m, &c, 3);
        CHECK_EQ_INT(lra_params_count_values(&m.params, 1), cases[i].want);
        lra_model_free(&m);
    }
}

// ---- whole-model finite differences: the inputs of the check are the model's parameter tensors.
typedef struct {
    lra_model *m;
    int32_t *ids[2];
    float *mask[2];
    int32_t *labels;
    int B, n;
} model_fd;

static lra_tensor *model_loss_fn(lra_ctx *ctx, lra_tensor *const *inputs, int n_inputs, void *user) {
    model_fd *u = user;
    lra_tensor *t_ids0 = lra_tensor_wrap(ctx->arena, LRA_I32, u->ids[0], LRA_DIMS(u->B, u->n));
    lra_tensor *t_mask0 = lra_tensor_wrap(ctx->arena, LRA_F32, u->mask[0], LRA_DIMS(u->B, u->n));
    lra_tensor *t_ids1 = u->m->cfg.dual ? lra_tensor_wrap(ctx->arena, LRA_I32, u->ids[1], LRA_DIMS(u->B, u->n)) : NULL;
    lra_tensor *t_mask1 = u->m->cfg.dual ? lra_tensor_wrap(ctx->arena, LRA_F32, u->mask[1], LRA_DIMS(u->B, u->n)) : NULL;
    lra_tensor *logits = lra_model_logits(u->m, ctx, t_ids0, t_mask0, t_ids1, t_mask1);
    return lra_model_loss(ctx, logits, lra_tensor_wrap(ctx->arena, LRA_I32, u->labels, LRA_DIMS(u->B)), 0).objective;
}

static void gradcheck_model(int dual) {
    const int B = 2, n = 6;
    lra_model_config c = small_config(9, 8, n, 8, 2, 4, 12, 2, 3, 10, dual, "softmax");
    lra_model m;
    lra_model_build(&m, &c, 11);
    // Larger weights than the defaults so every term matters.  The embeddings (std 0.02) are scaled
    // to O(1): the first LayerNorm divides by their spread, so tiny inputs make the loss so curved
    // that central differences measure curvature rather than the gradient.
    for (int i = 0; i < m.params.count; i++) {
        const float f = strstr(m.params.entries[i].name, "embeddings") ? 30.0f : 1.5f;
        float *d = lra_f32(lra_params_tensor(&m.params, i));
        for (int64_t j = 0; j < m.params.entries[i].numel; j++) d[j] *= f;
    }
    model_fd u = {.m = &m, .B = B, .n = n};
    int32_t lab[2] = {2, 0};
    u.labels = lab;
    for (int d = 0; d < 2; d++) {
        u.ids[d] = calloc(B * n, 4);
        u.mask[d] = calloc(B * n, 4);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n - 2 * b - d; i++) {
                u.ids[d][b * n + i] = 1 + (b * 3 + i * 5 + d) % 8;
                u.mask[d][b * n + i] = 1.0f;
            }
    }
    lra_tensor *inputs[256];
    for (int i = 0; i < m.params.count; i++) inputs[i] = lra_params_tensor(&m.params, i);
    lra_gradcheck_options o;
    lra_gradcheck_defaults(&o);
    o.eps = 3e-3;
    o.max_checks = 12;
    lra_gradcheck_report rep;
    int ok = lra_gradcheck(model_loss_fn, inputs, m.params.count, &u, &o, &rep);
    CHECK_MSG(ok, "%s model: %s (%s)", dual ? "dual" : "single", rep.message,
              rep.worst_input >= 0 ? m.params.entries[rep.worst_input].name : "-");
    printf("  %s model: %s\n", dual ? "dual" : "single", rep.message);
    for (int d = 0; d < 2; d++) {
        free(u.ids[d]);
        free(u.mask[d]);
    }
    lra_model_free(&m);
}

static void test_gradcheck_single(void) { gradcheck_model(0); }
static void test_gradcheck_dual(void) { gradcheck_model(1); }

// ---- a tiny synthetic task: label = whether token 1 occurs in the (variable-length) sequence.
static void make_task(int N, int n, int32_t *ids, float *mask, int32_t *labels) {
    lra_rng r = lra_rng_make(5, 1);
    for (int e = 0; e < N; e++) {
        int len = 4 + (int)lra_rng_int(&r, 0, n - 3);
        int has = e % 2;
        for (int i = 0; i < n; i++) {
            ids[e * n + i] = i < len ? 2 + (int)lra_rng_int(&r, 0, 6) : 0;
            mask[e * n + i] = i < len ? 1.0f : 0.0f;
        }
        if (has) ids[e * n + lra_rng_int(&r, 0, len)] = 1;
        labels[e] = has;
    }
}

static void train_tiny(int steps, double *final_acc, size_t *hw_after_first, size_t *hw_end) {
    const int N = 32, n = 12;
    int32_t ids[32 * 12], labels[32];
    float mask[32 * 12];
    make_task(N, n, ids, mask, labels);
    lra_model_config c = small_config(8, 16, n, 16, 2, 8, 32, 2, 2, 16, 0, "softmax");
    lra_model m;
    lra_model_build(&m, &c, 21);
    lra_optimizer opt;
    lra_optimizer_init(&opt, &(lra_optimizer_config){.kind = LRA_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-6});
    lra_schedule sched;
    lra_schedule_init(&sched, LRA_SCHED_CONSTANT, 3e-3, 1, steps + 1);
    lra_batch batch = {.tokens = ids, .mask = mask, .labels = labels, .rows = N, .count = N, .global_count = N,
                       .n_seq = 1, .length = n};
    lra_ctx *ctx = lra_ctx_new(1 << 16);
    lra_stepper st = {.model = &m, .opt = &opt, .sched = &sched, .ctx = ctx, .seed = 0, .batch_size = N,
                      .accumulation = 1, .rank = 0, .world = 1};
    CHECK_OK(lra_stepper_init(&st));
    for (int s = 0; s < steps; s++) {
        lra_step_result r;
        CHECK_OK(lra_step(&st, s, one_batch, &batch, &r));
        *final_acc = (double)r.correct / N;
        if (s == 0) *hw_after_first = lra_arena_high_water(ctx->arena);
    }
    lra_stepper_free(&st);
    *hw_end = lra_arena_high_water(ctx->arena);
    lra_ctx_free(ctx);
    lra_model_free(&m);
}

static void test_learns_tiny_task(void) {
    double acc = 0;
    size_t hw1, hw2;
    train_tiny(300, &acc, &hw1, &hw2);
    CHECK_MSG(acc == 1.0, "training accuracy after 300 steps: %.3f", acc);
}

static void test_arena_does_not_grow(void) {
    double acc;
    size_t hw1 = 0, hw2 = 0;
    train_tiny(100, &acc, &hw1, &hw2);
    CHECK_MSG(hw2 == hw1, "step arena high-water grew from %zu to %zu bytes over 100 steps", hw1, hw2);
}

static const lra_test_case TESTS[] = {
    {"reference_single", test_reference_single},
    {"reference_dual", test_reference_dual},
    {"parameter_counts", test_parameter_counts},
    {"gradcheck_single", test_gradcheck_single},
    {"gradcheck_dual", test_gradcheck_dual},
    {"learns_tiny_task", test_learns_tiny_task},
    {"arena_does_not_grow", test_arena_does_not_grow},
};
LRA_TEST_MAIN(TESTS)
