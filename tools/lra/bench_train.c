// `lra bench train`: whole training steps (forward, backward, AdamW) of the LRA encoder at the shapes of
// ../shared/bench/torch_ref.py (vocab 32, d 64, MLP 128, 2 heads of 32, 2 layers, 10 classes, mean
// pooling, dropout 0.1 in the blocks, no attention dropout, full masks), so the two can be compared in
// one run at the same thread count:
//   build/lra bench train --attn softmax --n 2000 --batch 32 --threads 2
//   /usr/bin/python3 ../shared/bench/torch_ref.py --attn softmax --n 2000 --batch 32 --threads 2
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "attention/attention.h"
#include "core/gemm.h"
#include "core/profile.h"
#include "core/rng.h"
#include "core/threads.h"
#include "optim/optimizer.h"
#include "tasks/batch_tensors.h"
#include "tasks/model.h"
#include "tasks/step.h"
#include "tools/lra/args.h"
#include "tools/lra/bench.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static lra_status same_batch(void *user, const lra_batch **out) {
    *out = user;
    return LRA_OK;
}

// lra_gemm's rate (GFLOP/s) at the products of the model's dense layers for `rows` token rows of width
// 64 and MLP width 128: a projection (rows x 64 x 64), the MLP's two (rows x 128 x 64, rows x 64 x 128) and a
// weight gradient (64 x 64 over rows).  Each set is timed three times; the quietest counts.
static double dense_gemm_rate(int64_t rows) {
    const int64_t d = 64, f = 128;
    float *x = calloc((size_t)(rows * f), sizeof(float)), *y = calloc((size_t)(rows * f), sizeof(float));
    float *w = calloc((size_t)(f * f), sizeof(float));
    if (!x || !y || !w) {
        free(x), free(y), free(w);
        return 0.0;
    }
    for (int64_t i = 0; i < rows * f; i++) x[i] = (float)(i % 7) * 0.25f;
    for (int64_t i = 0; i < f * f; i++) w[i] = (float)(i % 5) * 0.5f;
    double best = 1e30, flops = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        const double t0 = now_s(), f0 = lra_gemm_flops_total();
        lra_gemm(false, true, rows, d, d, 1.0f, x, d, w, d, 0.0f, y, d);
        lra_gemm(false, true, rows, f, d, 1.0f, x, d, w, d, 0.0f, y, f);
        lra_gemm(false, true, rows, d, f, 1.0f, x, f, w, f, 0.0f, y, d);
        lra_gemm(true, false, d, d, rows, 1.0f, x, d, y, d, 0.0f, w, d);
        const double t = now_s() - t0;
        flops = lra_gemm_flops_total() - f0;
        if (t < best) best = t;
    }
    free(x), free(y), free(w);
    return flops / best * 1e-9;
}

int lra_bench_train(int argc, char **argv) {
    const char *attn = "softmax", *v;
    int64_t n = 2000, batch = 32, steps = 5, threads = 2, features = -1;
    int json = 0, profile = 0;
    const char *opts[LRA_ATTN_MAX_OPTIONS];
    int n_opts = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            printf("usage: lra bench train [--attn KERNEL] [--n N] [--batch B] [--steps S] [--threads T]\n"
                   "                       [--features F] [--opt NAME=VALUE]... [--json] [--profile]\n\n"
                   "Times whole training steps at the shapes of ../shared/bench/torch_ref.py (same flags).\n"
                   "--features sets the kernel's count option (default as the peer: 256; yoso 32 hashes; s3 8 =\n"
                   "s1 = s2); --opt sets any other option of the kernel (`lra attention list`).\n");
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--attn", &v))) {
            if (m < 0) return 2;
            attn = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--n", &v))) {
            if (m < 0 || !lra_arg_int("bench train", "--n", v, 2, &n)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--batch", &v))) {
            if (m < 0 || !lra_arg_int("bench train", "--batch", v, 1, &batch)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--steps", &v))) {
            if (m < 0 || !lra_arg_int("bench train", "--steps", v, 1, &steps)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--threads", &v))) {
            if (m < 0 || !lra_arg_int("bench train", "--threads", v, 0, &threads)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--features", &v))) {
            if (m < 0 || !lra_arg_int("bench train", "--features", v, 1, &features)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--opt", &v))) {
            if (m < 0) return 2;
            if (n_opts == LRA_ATTN_MAX_OPTIONS || !strchr(v, '=')) {
                fprintf(stderr, "lra bench train: --opt '%s': expected NAME=VALUE (at most %d)\n", v,
                        LRA_ATTN_MAX_OPTIONS);
                return 2;
            }
            opts[n_opts++] = v;
        } else if (lra_arg_flag(argv[i], "--json")) {
            json = 1;
        } else if (lra_arg_flag(argv[i], "--profile")) {
            profile = 1;
        } else {
            return lra_arg_unknown("bench train", argv[i]);
        }
    }
    lra_threads_set((int)threads);
    lra_model_config c;
    memset(&c, 0, sizeof c);
    c.enc.kernel = lra_attention_find(attn);
    if (!c.enc.kernel) {
        fprintf(stderr, "lra bench train: unknown attention kernel '%s' (see `lra attention list`)\n", attn);
        return 2;
    }
    lra_attn_values_defaults(c.enc.kernel, &c.enc.kernel_opts);
    // The peer has no attention dropout; feature counts follow --features where the kernel has one.
    const lra_attn_option *count_opt = lra_attn_count_option(c.enc.kernel);
    const char *count = count_opt ? count_opt->name : NULL;
    const int is_s3 = !strcmp(attn, "s3");
    if (features < 0) features = !strcmp(attn, "yoso") ? 32 : is_s3 ? 8 : 256;
    for (int i = 0; i < c.enc.kernel_opts.n; i++) {
        const char *name = c.enc.kernel_opts.names[i];
        if (!strcmp(name, "dropout")) c.enc.kernel_opts.values[i] = 0;
        if ((count && !strcmp(name, count)) || (is_s3 && (!strcmp(name, "s1") || !strcmp(name, "s2"))))
            c.enc.kernel_opts.values[i] = (double)features;
    }
    for (int i = 0; i < n_opts; i++) {
        char name[64];
        const char *eq = strchr(opts[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - opts[i]), opts[i]);
        if (lra_attn_values_set(c.enc.kernel, &c.enc.kernel_opts, name, eq + 1) != LRA_OK) {
            fprintf(stderr, "lra bench train: --opt %s: %s\n", opts[i], lra_error_message());
            return 2;
        }
    }
    c.enc.vocab_size = 32;
    c.enc.pos_len = (int)n;
    c.enc.seq_len = n;
    c.enc.dim = 64;
    c.enc.heads = 2;
    c.enc.head_dim = 32;
    c.enc.hidden = 128;
    c.enc.layers = 2;
    c.enc.dropout = 0.1f;
    c.pooling = LRA_POOL_MEAN;
    c.num_classes = 10;
    c.head_hidden = 128;
    if (c.enc.kernel->validate) {
        lra_attn_setup setup = {.n_heads = 2, .head_dim = 32, .model_dim = 64, .seq_len = n, .opts = &c.enc.kernel_opts,
                                .prefix = ""};
        if (c.enc.kernel->validate(&setup) != LRA_OK) return lra_arg_fail("bench train");
    }
    lra_model m;
    lra_model_build(&m, &c, 0);
    lra_optimizer opt;
    lra_optimizer_init(&opt, &(lra_optimizer_config){.kind = LRA_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999,
                                                       .eps = 1e-6});
    lra_schedule sched;
    lra_schedule_init(&sched, LRA_SCHED_CONSTANT, 1e-4, 1, steps + 1);
    // One fixed batch of random tokens, handed out for every step.
    int32_t *tok = malloc((size_t)(batch * n) * 4), *y = malloc((size_t)batch * 4);
    float *mask = malloc((size_t)(batch * n) * 4);
    lra_rng r = lra_rng_make(0, 1);
    for (int64_t i = 0; i < batch * n; i++) {
        tok[i] = (int32_t)lra_rng_int(&r, 1, 32);
        mask[i] = 1.0f;
    }
    for (int64_t b = 0; b < batch; b++) y[b] = (int32_t)lra_rng_int(&r, 0, 10);
    lra_batch fixed = {.tokens = tok, .mask = mask, .labels = y, .rows = (int)batch, .count = (int)batch,
                       .global_count = (int)batch, .n_seq = 1, .length = n};
    lra_ctx *ctx = lra_ctx_new(0);
    lra_stepper st = {.model = &m, .opt = &opt, .sched = &sched, .ctx = ctx, .seed = 0, .batch_size = (int)batch,
                      .accumulation = 1, .rank = 0, .world = 1};
    if (lra_stepper_init(&st) != LRA_OK) return lra_arg_fail("bench train");
    double t0 = 0, flops0 = 0;
    for (int64_t s = 0; s <= steps; s++) {
        if (s == 1) {  // the first step warms up (arena growth, plans)
            t0 = now_s();
            flops0 = lra_gemm_flops_total();
            if (profile) lra_profile_enable(1);
        }
        lra_step_result res;
        if (lra_step(&st, s, same_batch, &fixed, &res) != LRA_OK) return lra_arg_fail("bench train");
    }
    const double ms = (now_s() - t0) / (double)steps * 1e3;
    const double flops_train = lra_gemm_flops_total() - flops0;
    lra_profile_phase(LRA_PHASE_NONE);
    const int profiling = lra_profile_on_;
    lra_profile_on_ = 0;  // the profile covers the training steps only
    // Evaluation throughput: the same batch through the model with no tape and no dropout, as lra_evaluate.
    const int prev_grad = lra_ctx_set_grad_enabled(ctx, 0);
    ctx->training = 0;
    double eval_t0 = 0;
    for (int64_t s = 0; s <= steps; s++) {
        if (s == 1) eval_t0 = now_s();  // the first pass warms up
        lra_ctx_reset(ctx);
        lra_batch_tensors t;
        lra_batch_tensors_make(ctx, &fixed, &t);
        (void)lra_batch_logits(&m, ctx, &t);
    }
    const double eval_ms = (now_s() - eval_t0) / (double)steps * 1e3;
    lra_ctx_reset(ctx);
    lra_ctx_set_grad_enabled(ctx, prev_grad);
    lra_profile_on_ = profiling;
    // The dense bound: the step's matrix products at the rate lra_gemm reaches on the model's shapes.
    const double gflop = flops_train / (double)steps * 1e-9;
    const double rate = dense_gemm_rate(batch * n);
    const double bound_ms = rate > 0.0 ? gflop / rate * 1e3 : 0.0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss = ru.ru_maxrss / 1024.0;
    if (json)
        printf("{\"impl\": \"lra %s\", \"attn\": \"%s\", \"n\": %lld, \"batch\": %lld, \"threads\": %d, "
               "\"ms_per_step\": %.1f, \"peak_rss_mib\": %.0f, \"arena_mib\": %.1f, \"gemm_gflop_per_step\": %.3f, "
               "\"gemm_gflops\": %.1f, \"bound_ms\": %.1f, \"step_over_bound\": %.2f, \"eval_ms_per_batch\": %.1f, "
               "\"eval_over_train_throughput\": %.2f}\n",
               LRA_VERSION, attn, (long long)n, (long long)batch, lra_threads_get(), ms, rss,
               lra_arena_high_water(ctx->arena) / 1048576.0, gflop, rate, bound_ms,
               bound_ms > 0 ? ms / bound_ms : 0.0, eval_ms, ms / eval_ms);
    else
        printf("lra %s attn=%s n=%lld batch=%lld threads=%d: %.1f ms/step, peak RSS %.0f MiB (step arena %.1f MiB)\n"
               "  dense bound: %.2f GFLOP of products per step at %.1f GFLOP/s (lra_gemm on the model's shapes) "
               "= %.1f ms; step / bound = %.2fx\n"
               "  evaluation (no tape, no dropout): %.1f ms per batch = %.2fx the examples/s of a training step\n",
               LRA_VERSION, attn, (long long)n, (long long)batch, lra_threads_get(), ms, rss,
               lra_arena_high_water(ctx->arena) / 1048576.0, gflop, rate, bound_ms,
               bound_ms > 0 ? ms / bound_ms : 0.0, eval_ms, ms / eval_ms);
    if (profile) {  // after the timing line; as JSON on stdout with --json
        fflush(stdout);
        lra_profile_report(json ? stdout : stderr, (long long)steps, json);
        lra_profile_enable(0);
    }
    lra_stepper_free(&st);
    lra_ctx_free(ctx);
    lra_model_free(&m);
    free(tok);
    free(y);
    free(mask);
    return 0;
}
