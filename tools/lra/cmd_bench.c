// `lra bench ...`: benchmarks.
//   lra bench approx     the Skeinformer paper's matrix-approximation experiment (attention.md §4): the
//                        spectral norm ||B V - R||_2 of exact softmax attention minus each kernel's output
//                        for the same Q, K, V, mean and standard error over trials, per n and d.
//   lra bench attention  forward + backward time and peak memory of each kernel at B = 8, H = 2, p = 32 for
//                        n = 1K ... 16K.
//   lra bench train      whole training steps (tools/lra/bench_train.c).
//
// Input distribution of `bench approx` ("initialized" protocol of §4 with a synthetic X, since BERT
// weights and WikiText-2 are not available): each sample draws X [n, D] with rows LayerNorm(g), g ~
// N(0, I_D) (no affine), D = heads x 64 = 768; W_q, W_k, W_v [D, D] ~ N(0, wstd^2) (wstd 0.02 = a freshly
// initialised BERT layer), drawn once per run, no bias; Q = X W_q etc. split into 12 heads of p = 64.
// A trial is one (sample, head); the error is measured per head.  Kernel draws are fresh per sample
// (call step = sample index) and init-time buffers (Performer features, Linformer E) are redrawn per sample.
// The count d sets each kernel's option flagged LRA_OPT_COUNT (skein*: nb_features, informer*:
// in_nb_features, linformer: k, nystrom: num_landmarks, performer/skyformer: nb_features); vmean has none.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention/attention.h"
#include "core/autograd.h"
#include "core/params.h"
#include "core/rng.h"
#include "core/threads.h"
#include "tools/lra/args.h"
#include "tools/lra/bench.h"


#define MAX_LIST 32

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// "a,b,c" -> up to MAX_LIST strings (pointers into a static copy).
static int split_list(const char *text, char *buf, size_t cap, const char **out) {
    snprintf(buf, cap, "%s", text);
    int n = 0;
    for (char *t = strtok(buf, ","); t && n < MAX_LIST; t = strtok(NULL, ",")) out[n++] = t;
    return n;
}

static int int_list(const char *cmd, const char *flag, const char *text, int64_t *out) {
    char buf[512];
    const char *items[MAX_LIST];
    int n = split_list(text, buf, sizeof buf, items);
    for (int i = 0; i < n; i++)
        if (!lra_arg_int(cmd, flag, items[i], 1, &out[i])) return -1;
    return n;
}

// Kernel options set from the command line: "KERNEL.NAME=VALUE" (only for that kernel).
typedef struct {
    int n;
    const char *items[MAX_LIST];
} bench_opts;

// Applies the options of `bo` that name def's kernel; 0 when one is rejected (lra_error_message()).
static int bench_opts_apply(const bench_opts *bo, const lra_attn_kernel_def *def, lra_attn_values *vals) {
    for (int i = 0; bo && i < bo->n; i++) {
        const char *dot = strchr(bo->items[i], '.'), *eq = strchr(bo->items[i], '=');
        if ((size_t)(dot - bo->items[i]) != strlen(def->name) || strncmp(bo->items[i], def->name, strlen(def->name)))
            continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - dot - 1), dot + 1);
        if (lra_attn_values_set(def, vals, name, eq + 1) != LRA_OK) return 0;
    }
    return 1;
}

// A kernel instance (with its own parameters) for H heads of p at length n; count > 0 sets its count
// option, then the matching --opt options.  Returns 0 when an option is rejected (lra_error_message()).
static int bench_kernel_make(lra_attn_instance *bk, const lra_attn_kernel_def *def, int H, int p, int64_t n,
                             int64_t count, uint64_t seed, int force_softmax_eval, const bench_opts *bo) {
    lra_attn_values vals;
    lra_attn_values_defaults(def, &vals);
    const lra_attn_option *opt = lra_attn_count_option(def);
    if (count > 0 && opt) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)count);
        if (lra_attn_values_set(def, &vals, opt->name, text) != LRA_OK) return 0;
    }
    if (force_softmax_eval && !strcmp(def->name, "softmax")) lra_attn_values_set(def, &vals, "dropout", "0");
    if (!bench_opts_apply(bo, def, &vals)) return 0;
    lra_attn_setup setup = {.layer = 0, .n_heads = H, .head_dim = p, .model_dim = H * p, .seq_len = n,
                            .opts = &vals, .prefix = "bench.attn."};
    return lra_attn_instance_make(bk, def, &setup, NULL, seed) == LRA_OK;
}

// Largest singular value of D [n, p] (row-major): sqrt of the top eigenvalue of G = D^T D, found by
// repeated squaring of G / trace (converges to the top eigenprojector) and a Rayleigh quotient.
static double spectral_norm(const float *D, int64_t n, int64_t p) {
    double *G = calloc((size_t)(p * p), sizeof(double)), *M = malloc((size_t)(p * p) * sizeof(double)),
           *T = malloc((size_t)(p * p) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t a = 0; a < p; a++) {
            const double x = D[i * p + a];
            if (x == 0.0) continue;
            for (int64_t b = 0; b < p; b++) G[a * p + b] += x * D[i * p + b];
        }
    double tr = 0.0;
    for (int64_t a = 0; a < p; a++) tr += G[a * p + a];
    if (tr <= 0.0) {
        free(G), free(M), free(T);
        return 0.0;
    }
    for (int64_t e = 0; e < p * p; e++) M[e] = G[e] / tr;
    for (int it = 0; it < 40; it++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)p, (int)p, 1.0, M, (int)p, M, (int)p, 0.0,
                    T, (int)p);
        double t = 0.0;
        for (int64_t a = 0; a < p; a++) t += T[a * p + a];
        if (!(t > 0.0)) break;
        for (int64_t e = 0; e < p * p; e++) M[e] = T[e] / t;
    }
    // The column of M with the largest norm spans the top eigenvector.
    int64_t best = 0;
    double bn = -1.0;
    for (int64_t b = 0; b < p; b++) {
        double s = 0.0;
        for (int64_t a = 0; a < p; a++) s += M[a * p + b] * M[a * p + b];
        if (s > bn) bn = s, best = b;
    }
    double num = 0.0, den = 0.0;
    for (int64_t a = 0; a < p; a++) {
        double ga = 0.0;
        for (int64_t b = 0; b < p; b++) ga += G[a * p + b] * M[b * p + best];
        num += M[a * p + best] * ga;
        den += M[a * p + best] * M[a * p + best];
    }
    free(G), free(M), free(T);
    return den > 0.0 ? sqrt(fmax(num / den, 0.0)) : 0.0;
}

// ------------------------------------------------------------------------------------------ approx
typedef struct {
    double sum, sumsq, rsum, rsumsq;
    int64_t count;
} acc_stat;

static void stat_add(acc_stat *s, double abs_err, double rel_err) {
    s->sum += abs_err, s->sumsq += abs_err * abs_err, s->rsum += rel_err, s->rsumsq += rel_err * rel_err;
    s->count++;
}

static void stat_get(const acc_stat *s, int rel, double *mean, double *se) {
    const double sum = rel ? s->rsum : s->sum, sq = rel ? s->rsumsq : s->sumsq;
    const double k = (double)s->count;
    *mean = k > 0 ? sum / k : NAN;
    *se = k > 1 ? sqrt(fmax(sq / k - *mean * *mean, 0.0) * k / (k - 1) / k) : NAN;
}

static int bench_approx(int argc, char **argv) {
    const char *kernels_text = "vmean,informer,linformer,skeinformer,skein_nopilot", *csv = NULL, *v;
    int64_t ns[MAX_LIST] = {1024, 4096}, ds[MAX_LIST] = {8, 16, 32, 64, 128, 256};
    int n_ns = 2, n_ds = 6;
    int64_t trials = 96, heads = 12, threads = 0, seed = 1;
    double wstd = 0.02;
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            printf("usage: lra bench approx [--kernels K1,K2,...] [--n 1024,4096] [--d 8,16,...,256] [--trials T]\n"
                   "                        [--heads H] [--wstd S] [--seed S] [--threads T] [--quick] [--csv FILE]\n\n"
                   "Spectral-norm error ||BV - R||_2 of each kernel's output R against exact softmax attention BV\n"
                   "(Skeinformer paper §5, Figure 1), mean and standard error over T trials (one trial = one head of\n"
                   "one sample; samples = ceil(T / H)).  X rows = LayerNorm(N(0, I_768)); W_q, W_k, W_v ~ N(0, S^2)\n"
                   "(S = 0.02: a freshly initialised layer); heads of p = 64.  Also prints the error relative to\n"
                   "||BV||_2.  --quick: n = 1024, d = 16,64,256, 24 trials.\n");
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--kernels", &v))) {
            if (m < 0) return 2;
            kernels_text = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--n", &v))) {
            if (m < 0 || (n_ns = int_list("bench approx", "--n", v, ns)) <= 0) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--d", &v))) {
            if (m < 0 || (n_ds = int_list("bench approx", "--d", v, ds)) <= 0) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--trials", &v))) {
            if (m < 0 || !lra_arg_int("bench approx", "--trials", v, 1, &trials)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--heads", &v))) {
            if (m < 0 || !lra_arg_int("bench approx", "--heads", v, 1, &heads)) return 2;
            if (heads > 64) {
                fprintf(stderr, "lra bench approx: --heads: expected at most 64, got %lld\n", (long long)heads);
                return 2;
            }
        } else if ((m = lra_arg_value(argc, argv, &i, "--seed", &v))) {
            if (m < 0 || !lra_arg_int("bench approx", "--seed", v, 0, &seed)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--threads", &v))) {
            if (m < 0 || !lra_arg_int("bench approx", "--threads", v, 0, &threads)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--wstd", &v))) {
            if (m < 0) return 2;
            wstd = atof(v);
            if (!(wstd > 0)) {
                fprintf(stderr, "lra bench approx: --wstd: expected a positive number, got '%s'\n", v);
                return 2;
            }
        } else if ((m = lra_arg_value(argc, argv, &i, "--csv", &v))) {
            if (m < 0) return 2;
            csv = v;
        } else if (lra_arg_flag(argv[i], "--quick")) {
            n_ns = 1, ns[0] = 1024;
            n_ds = 3, ds[0] = 16, ds[1] = 64, ds[2] = 256;
            trials = 24;
        } else {
            return lra_arg_unknown("bench approx", argv[i]);
        }
    }
    lra_threads_set((int)threads);
    char kbuf[512];
    const char *knames[MAX_LIST];
    const int nk = split_list(kernels_text, kbuf, sizeof kbuf, knames);
    const lra_attn_kernel_def *defs[MAX_LIST];
    for (int i = 0; i < nk; i++) {
        defs[i] = lra_attention_find(knames[i]);
        if (!defs[i]) {
            fprintf(stderr, "lra bench approx: unknown kernel '%s' (see `lra attention list`)\n", knames[i]);
            return 2;
        }
        if (defs[i]->mix) {  // a token mixer is not an approximation of softmax attention on Q, K, V
            fprintf(stderr, "lra bench approx: '%s' is a token mixer (no Q, K, V to compare with softmax)\n",
                    knames[i]);
            return 2;
        }
    }
    const int64_t p = 64, H = heads, D = H * p, samples = (trials + H - 1) / H;
    FILE *cf = NULL;
    if (csv) {
        cf = fopen(csv, "w");
        if (!cf) {
            fprintf(stderr, "lra bench approx: cannot write %s\n", csv);
            return 1;
        }
        fprintf(cf, "n,kernel,d,trials,abs_mean,abs_se,rel_mean,rel_se\n");
    }
    // Weights of the "initialised" layer.
    float *W = malloc((size_t)(3 * D * D) * sizeof(float));
    lra_rng_fill_normal((uint64_t)seed, lra_rng_stream(0xbe7c, 1, 0, 0), 0, W, (size_t)(3 * D * D), 0.0f, (float)wstd);
    printf("lra bench approx: spectral error ||BV - R||_2 (mean +- s.e. over %lld trials = %lld samples x %lld "
           "heads of p = 64)\n",
           (long long)(samples * H), (long long)samples, (long long)H);
    printf("%6s  %-16s %5s  %-22s %-22s\n", "n", "kernel", "d", "abs error", "relative error");
    const double t0 = now_s();
    for (int in = 0; in < n_ns; in++) {
        const int64_t n = ns[in];
        acc_stat *st = calloc((size_t)(nk * n_ds), sizeof *st);
        float *X = malloc((size_t)(n * D) * sizeof(float)), *QKV = malloc((size_t)(3 * n * D) * sizeof(float));
        lra_tensor *t[3];
        float *heads_buf = malloc((size_t)(3 * n * D) * sizeof(float));
        for (int j = 0; j < 3; j++) {
            t[j] = malloc(sizeof(lra_tensor));
            *t[j] = lra_tensor_make(LRA_F32, heads_buf + (size_t)j * (size_t)(n * D), (const int64_t[]){1, H, n, p}, 4);
        }
        float *ones = malloc((size_t)n * sizeof(float));
        for (int64_t j = 0; j < n; j++) ones[j] = 1.0f;
        lra_tensor mask = lra_tensor_make(LRA_F32, ones, (const int64_t[]){1, n}, 2);
        float *diff = malloc((size_t)(n * p) * sizeof(float));
        lra_attn_instance exact;
        bench_kernel_make(&exact, lra_attention_find("softmax"), (int)H, (int)p, n, 0, 0, 1, NULL);
        lra_ctx *ctx = lra_ctx_new(0);
        lra_ctx_set_grad_enabled(ctx, 0);
        ctx->training = 0;
        ctx->seed = (uint64_t)seed;
        for (int64_t s = 0; s < samples; s++) {
            lra_rng_fill_normal((uint64_t)seed, lra_rng_stream(0xbe7c, 2, (uint64_t)n, (uint64_t)s), 0, X,
                                (size_t)(n * D), 0.0f, 1.0f);
            for (int64_t i = 0; i < n; i++) {  // LayerNorm without affine
                double mu = 0, var = 0;
                for (int64_t c = 0; c < D; c++) mu += X[i * D + c];
                mu /= (double)D;
                for (int64_t c = 0; c < D; c++) var += (X[i * D + c] - mu) * (X[i * D + c] - mu);
                const double inv = 1.0 / sqrt(var / (double)D + 1e-5);
                for (int64_t c = 0; c < D; c++) X[i * D + c] = (float)((X[i * D + c] - mu) * inv);
            }
            for (int j = 0; j < 3; j++) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)D, (int)D, 1.0f, X, (int)D,
                            W + (size_t)j * (size_t)(D * D), (int)D, 0.0f, QKV + (size_t)j * (size_t)(n * D), (int)D);
                for (int64_t i = 0; i < n; i++)  // [n, H, p] -> [H, n, p]
                    for (int64_t h = 0; h < H; h++)
                        memcpy(lra_f32(t[j]) + (h * n + i) * p, QKV + (size_t)j * (size_t)(n * D) + i * D + h * p,
                               (size_t)p * sizeof(float));
            }
            lra_ctx_reset(ctx);
            lra_attn_call call = {.seed = (uint64_t)seed, .step = (uint64_t)s, .layer = 0, .training = 0};
            lra_tensor *ex = lra_attn_instance_forward(&exact, ctx, t[0], t[1], t[2], &mask, &call);
            double exnorm[64];
            for (int64_t h = 0; h < H && h < 64; h++) exnorm[h] = spectral_norm(lra_f32(ex) + h * n * p, n, p);
            for (int ik = 0; ik < nk; ik++) {
                const int has_count = lra_attn_count_option(defs[ik]) != NULL;
                for (int id = 0; id < n_ds; id++) {
                    if (!has_count && id > 0) {  // no count: one measurement, copied to every d
                        st[ik * n_ds + id] = st[ik * n_ds];
                        continue;
                    }
                    lra_attn_instance bk;
                    if (!bench_kernel_make(&bk, defs[ik], (int)H, (int)p, n, ds[id], (uint64_t)(seed * 1000 + s), 1, NULL)) {
                        fprintf(stderr, "lra bench approx: %s\n", lra_error_message());
                        return 1;
                    }
                    lra_tensor *o = lra_attn_instance_forward(&bk, ctx, t[0], t[1], t[2], &mask, &call);
                    for (int64_t h = 0; h < H; h++) {
                        for (int64_t e = 0; e < n * p; e++)
                            diff[e] = lra_f32(ex)[h * n * p + e] - lra_tensor_get_flat(o, h * n * p + e);
                        const double err = spectral_norm(diff, n, p);
                        stat_add(&st[ik * n_ds + id], err, err / fmax(exnorm[h < 64 ? h : 63], 1e-30));
                    }
                    lra_attn_instance_free(&bk);
                }
            }
        }
        for (int ik = 0; ik < nk; ik++)
            for (int id = 0; id < n_ds; id++) {
                double am, ase, rm, rse;
                stat_get(&st[ik * n_ds + id], 0, &am, &ase);
                stat_get(&st[ik * n_ds + id], 1, &rm, &rse);
                char a[64], r[64];
                snprintf(a, sizeof a, "%.4g +- %.2g", am, ase);
                snprintf(r, sizeof r, "%.4g +- %.2g", rm, rse);
                printf("%6lld  %-16s %5lld  %-22s %-22s\n", (long long)n, defs[ik]->name, (long long)ds[id], a, r);
                if (cf)
                    fprintf(cf, "%lld,%s,%lld,%lld,%.6g,%.6g,%.6g,%.6g\n", (long long)n, defs[ik]->name,
                            (long long)ds[id], (long long)st[ik * n_ds + id].count, am, ase, rm, rse);
            }
        fflush(stdout);
        lra_ctx_free(ctx);
        lra_attn_instance_free(&exact);
        for (int j = 0; j < 3; j++) free(t[j]);
        free(heads_buf), free(X), free(QKV), free(ones), free(diff), free(st);
    }
    printf("(%.1f s, %d threads; input: X rows LayerNorm(N(0, I_%lld)), W ~ N(0, %g^2), all tokens real)\n",
           now_s() - t0, lra_threads_get(), (long long)D, wstd);
    free(W);
    if (cf) fclose(cf);
    return 0;
}

// ------------------------------------------------------------------------------------------ attention
static int bench_attention(int argc, char **argv) {
    const char *kernels_text = NULL, *csv = NULL, *v;
    int64_t ns[MAX_LIST] = {1024, 2048, 4096, 8192, 16384};
    int n_ns = 5;
    int64_t repeat = 1, batch = 8, heads = 2, p = 32, threads = 0, budget = 30;
    bench_opts bopts = {0};
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            printf("usage: lra bench attention [--kernels K1,K2,...] [--n 1024,...,16384] [--repeat R] [--batch B]\n"
                   "                           [--heads H] [--head-dim P] [--budget S] [--threads T] [--quick]\n"
                   "                           [--opt KERNEL.NAME=VALUE]... [--csv FILE]\n\n"
                   "Forward + backward (training mode) time of each kernel on random q, k, v [B, H, n, P] with full\n"
                   "masks (defaults B = 8, H = 2, P = 32, every kernel, n = 1K..16K), the best of R repeats (default 1)\n"
                   "after one warm-up, and peak memory = the step arena's high-water mark + the kernel's parameters and\n"
                   "buffers (values and gradients).  Token mixers (kernels that replace the layer's token mixing) run on\n"
                   "x = merge_heads(q + k + v) [B, n, H*P] with their own projections included.\n"
                   "A size whose time, extrapolated quadratically from the previous\n"
                   "size, exceeds --budget seconds (default 30; 0 = no limit) is skipped ('-') so the default run\n"
                   "stays within minutes on 2 cores.  --quick: n = 1024,4096, R = 1.  --opt sets an option of one\n"
                   "kernel (`lra attention list`), e.g. --opt reformer.num_buckets=64.\n");
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--kernels", &v))) {
            if (m < 0) return 2;
            kernels_text = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--opt", &v))) {
            const char *dot = m < 0 ? NULL : strchr(v, '.'), *eq = dot ? strchr(dot, '=') : NULL;
            if (m < 0 || !dot || !eq || dot == v || eq == dot + 1 || bopts.n == MAX_LIST) {
                fprintf(stderr, "lra bench attention: --opt '%s': expected KERNEL.NAME=VALUE (at most %d)\n",
                        m < 0 ? "" : v, MAX_LIST);
                return 2;
            }
            char kname[64];
            snprintf(kname, sizeof kname, "%.*s", (int)(dot - v), v);
            if (!lra_attention_find(kname)) {
                fprintf(stderr, "lra bench attention: --opt %s: unknown kernel '%s' (see `lra attention list`)\n", v,
                        kname);
                return 2;
            }
            bopts.items[bopts.n++] = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--n", &v))) {
            if (m < 0 || (n_ns = int_list("bench attention", "--n", v, ns)) <= 0) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--repeat", &v))) {
            if (m < 0 || !lra_arg_int("bench attention", "--repeat", v, 1, &repeat)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--batch", &v))) {
            if (m < 0 || !lra_arg_int("bench attention", "--batch", v, 1, &batch)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--heads", &v))) {
            if (m < 0 || !lra_arg_int("bench attention", "--heads", v, 1, &heads)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--budget", &v))) {
            if (m < 0 || !lra_arg_int("bench attention", "--budget", v, 0, &budget)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--head-dim", &v))) {
            if (m < 0 || !lra_arg_int("bench attention", "--head-dim", v, 1, &p)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--threads", &v))) {
            if (m < 0 || !lra_arg_int("bench attention", "--threads", v, 0, &threads)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--csv", &v))) {
            if (m < 0) return 2;
            csv = v;
        } else if (lra_arg_flag(argv[i], "--quick")) {
            n_ns = 2, ns[0] = 1024, ns[1] = 4096;
            repeat = 1;
        } else {
            return lra_arg_unknown("bench attention", argv[i]);
        }
    }
    lra_threads_set((int)threads);
    const lra_attn_kernel_def *defs[MAX_LIST];
    int nk = 0;
    if (kernels_text) {
        char kbuf[512];
        const char *knames[MAX_LIST];
        nk = split_list(kernels_text, kbuf, sizeof kbuf, knames);
        for (int i = 0; i < nk; i++) {
            defs[i] = lra_attention_find(knames[i]);
            if (!defs[i]) {
                fprintf(stderr, "lra bench attention: unknown kernel '%s' (see `lra attention list`)\n", knames[i]);
                return 2;
            }
        }
    } else {
        for (int i = 0; i < lra_attention_count() && nk < MAX_LIST; i++) defs[nk++] = lra_attention_get(i);
    }
    FILE *cf = NULL;
    if (csv) {
        cf = fopen(csv, "w");
        if (!cf) {
            fprintf(stderr, "lra bench attention: cannot write %s\n", csv);
            return 1;
        }
        fprintf(cf, "kernel,n,batch,heads,head_dim,ms,peak_mib\n");
    }
    printf("lra bench attention: forward+backward, B = %lld, H = %lld, p = %lld, %d threads; ms (best of %lld) / "
           "peak MiB\n",
           (long long)batch, (long long)heads, (long long)p, lra_threads_get(), (long long)repeat);
    printf("%-20s", "kernel");
    for (int in = 0; in < n_ns; in++) printf(" %18lld", (long long)ns[in]);
    printf("  %s\n", "t(n)/t(n/4) at the largest n measured");
    for (int ik = 0; ik < nk; ik++) {
        printf("%-20s", defs[ik]->name);
        fflush(stdout);
        double last = NAN, times[MAX_LIST];
        int64_t last_n = 0;
        for (int in = 0; in < n_ns; in++) {
            const int64_t n = ns[in];
            if (budget > 0 && last_n > 0 &&
                last * ((double)n / (double)last_n) * ((double)n / (double)last_n) > (double)budget) {
                printf(" %18s", "-");
                fflush(stdout);
                times[in] = NAN;
                continue;
            }
            lra_attn_instance bk;
            if (!bench_kernel_make(&bk, defs[ik], (int)heads, (int)p, n, 0, 7, 0, &bopts)) {
                fprintf(stderr, "\nlra bench attention: %s\n", lra_error_message());
                return 1;
            }
            const int64_t N = batch * heads * n * p;
            lra_tensor *qkv[3];
            for (int j = 0; j < 3; j++)
                qkv[j] = NULL;
            float *data = malloc((size_t)(3 * N) * sizeof(float)), *seed_grad = malloc((size_t)N * sizeof(float));
            float *ones = malloc((size_t)(batch * n) * sizeof(float));
            lra_rng_fill_normal(3, 4, 0, data, (size_t)(3 * N), 0.0f, 1.0f);
            lra_rng_fill_normal(3, 5, 0, seed_grad, (size_t)N, 0.0f, 1.0f);
            for (int64_t e = 0; e < batch * n; e++) ones[e] = 1.0f;
            lra_tensor tq = lra_tensor_make(LRA_F32, data, (const int64_t[]){batch, heads, n, p}, 4);
            lra_tensor tk = lra_tensor_make(LRA_F32, data + N, (const int64_t[]){batch, heads, n, p}, 4);
            lra_tensor tv = lra_tensor_make(LRA_F32, data + 2 * N, (const int64_t[]){batch, heads, n, p}, 4);
            lra_tensor mask = lra_tensor_make(LRA_F32, ones, (const int64_t[]){batch, n}, 2);
            qkv[0] = &tq, qkv[1] = &tk, qkv[2] = &tv;
            for (int j = 0; j < 3; j++) qkv[j]->requires_grad = 1;
            lra_ctx *ctx = lra_ctx_new(0);
            ctx->training = 1;
            ctx->seed = 11;
            double best = INFINITY;
            // One warm-up, then R timed runs (default 1); a cold first run would time the arena's page
            // faults rather than the kernel.
            const int64_t runs = repeat;
            for (int64_t r = 0; r < runs + 1; r++) {
                lra_ctx_reset(ctx);
                for (int j = 0; j < 3; j++) qkv[j]->grad = NULL;
                lra_params_zero_grad(bk.params);
                lra_attn_call call = {.seed = 11, .step = (uint64_t)r, .layer = 0, .training = 1};
                const double t0 = now_s();
                // mixers run on x = merge_heads(q + k + v): same [B, n, H*p] data volume for every kernel
                lra_tensor *o = lra_attn_instance_run_heads(&bk, ctx, qkv[0], qkv[1], qkv[2], &mask, &call);
                if (o->requires_grad) lra_backward_from(ctx, o, seed_grad);
                const double dt = now_s() - t0;
                if (r > 0 || runs == 0) best = dt < best ? dt : best;
            }
            const double param_bytes = (double)bk.params->total * sizeof(float) *
                                       (lra_params_count_values(bk.params, 1) > 0 ? 2.0 : 1.0);
            const double mib = ((double)lra_arena_high_water(ctx->arena) + param_bytes) / (1024.0 * 1024.0);
            char cell[40];
            snprintf(cell, sizeof cell, "%.0f / %.0f", best * 1e3, mib);
            printf(" %18s", cell);
            fflush(stdout);
            if (cf)
                fprintf(cf, "%s,%lld,%lld,%lld,%lld,%.3f,%.1f\n", defs[ik]->name, (long long)n, (long long)batch,
                        (long long)heads, (long long)p, best * 1e3, mib);
            times[in] = best;
            last = best;
            last_n = n;
            for (int j = 0; j < 3; j++) qkv[j]->grad = NULL;
            lra_ctx_free(ctx);
            lra_attn_instance_free(&bk);
            free(data), free(seed_grad), free(ones);
        }
        for (int in = 0; in < n_ns; in++)  // the ratio that shows linear (4) versus quadratic (16) scaling
            if (ns[in] * 4 == last_n && isfinite(times[in])) {
                printf("  %.1f (%lld/%lld)", last / times[in], (long long)last_n, (long long)ns[in]);
                break;
            }
        printf("\n");
    }
    if (cf) fclose(cf);
    return 0;
}

int lra_cmd_bench(int argc, char **argv) {
    if (argc < 2 || lra_arg_flag(argv[1], "--help") || lra_arg_flag(argv[1], "-h")) {
        printf("usage: lra bench approx|attention|train [OPTIONS]   (`lra bench SUB --help` for options)\n\n"
               "  approx     spectral-norm approximation error of the kernels against exact softmax\n"
               "  attention  forward+backward time and peak memory of the kernels for n = 1K..16K\n"
               "  train      whole training steps (compare with ../shared/bench/torch_ref.py)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "approx")) return bench_approx(argc - 1, argv + 1);
    if (!strcmp(argv[1], "attention")) return bench_attention(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train")) return lra_bench_train(argc - 1, argv + 1);
    fprintf(stderr, "lra bench: unknown sub-command '%s' (expected approx, attention or train)\n", argv[1]);
    return 2;
}
