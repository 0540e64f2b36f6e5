// Op micro-benchmarks at the model's shapes (built and run by `make bench`): matrix products in
// GFLOP/s beside the same run's raw cblas_sgemm rate on a 2048^3 product, and the memory-bound ops
// (softmax, layer norm, GELU) in GB/s (bytes read + written once).
//   bench_ops [--quick]      --quick: smaller batched shapes and fewer repetitions
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/status.h"

static double g_min_time = 0.5;  // seconds of repetitions per measurement

// Runs one measured call and returns the seconds that count (a backward run times only the backward).
typedef double (*bench_fn)(lra_ctx *ctx, void *user);

// Seconds per call of fn (best of repetitions filling g_min_time, at least 3), each on a reset arena.
static double time_it(lra_ctx *ctx, bench_fn fn, void *user) {
    fn(ctx, user);  // warm-up: arena growth, page faults, BLAS buffers
    lra_ctx_reset(ctx);
    double best = 1e30, total = 0.0;
    for (int rep = 0; rep < 3 || total < g_min_time; rep++) {
        double t0 = omp_get_wtime();
        double dt = fn(ctx, user);
        total += omp_get_wtime() - t0;
        lra_ctx_reset(ctx);
        if (dt < best) best = dt;
        if (rep > 1000) break;
    }
    return best;
}

// ---------------------------------------------------------------- the measured calls

typedef struct {
    lra_tensor *a, *b, *c;  // persistent inputs (outside the arena)
    int ta, tb, backward;   // backward: time the op's backward alone (the forward runs untimed)
    float *seed;            // persistent output gradient for the backward runs
} mm_args;

// Times the forward call, or (backward) runs it and times the backward function of its tape node.
static double finish(lra_ctx *ctx, mm_args *m, lra_tensor *y, double t0) {
    if (!m->backward) return omp_get_wtime() - t0;
    y->grad = m->seed;
    lra_node *node = ctx->nodes[ctx->n_nodes - 1];
    double t1 = omp_get_wtime();
    node->backward(ctx, node);
    return omp_get_wtime() - t1;
}

static double run_matmul(lra_ctx *ctx, void *user) {
    mm_args *m = user;
    m->a->grad = m->b->grad = NULL;  // gradients live in the step arena, which time_it resets
    lra_ctx_set_grad_enabled(ctx, m->backward);
    double t0 = omp_get_wtime();
    return finish(ctx, m, lra_op_matmul(ctx, m->a, m->b, m->ta, m->tb), t0);
}

static double run_linear(lra_ctx *ctx, void *user) {
    mm_args *m = user;
    m->a->grad = m->b->grad = m->c->grad = NULL;
    lra_ctx_set_grad_enabled(ctx, m->backward);
    double t0 = omp_get_wtime();
    return finish(ctx, m, lra_op_linear(ctx, m->a, m->b, m->c), t0);
}

typedef struct {
    int n;
    float *a, *b, *c;
} sgemm_args;

static double run_sgemm(lra_ctx *ctx, void *user) {
    sgemm_args *s = user;
    double t0 = omp_get_wtime();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->n, s->n, s->n, 1.0f, s->a, s->n, s->b, s->n, 0.0f, s->c,
                s->n);
    return omp_get_wtime() - t0;
}

// The same product through the project's deterministic back end (core/gemm.c).
static double run_lra_gemm(lra_ctx *ctx, void *user) {
    sgemm_args *s = user;
    double t0 = omp_get_wtime();
    lra_gemm(false, false, s->n, s->n, s->n, 1.0f, s->a, s->n, s->b, s->n, 0.0f, s->c, s->n);
    return omp_get_wtime() - t0;
}

typedef struct {
    lra_tensor *x, *g, *b;
} nn_args;

static double run_softmax(lra_ctx *ctx, void *user) {
    lra_ctx_set_grad_enabled(ctx, 0);
    double t0 = omp_get_wtime();
    lra_op_softmax(ctx, ((nn_args *)user)->x, NULL);
    return omp_get_wtime() - t0;
}
static double run_layer_norm(lra_ctx *ctx, void *user) {
    nn_args *a = user;
    lra_ctx_set_grad_enabled(ctx, 0);
    double t0 = omp_get_wtime();
    lra_op_layer_norm(ctx, a->x, a->g, a->b, 1e-5f);
    return omp_get_wtime() - t0;
}
static double run_gelu(lra_ctx *ctx, void *user) {
    lra_ctx_set_grad_enabled(ctx, 0);
    double t0 = omp_get_wtime();
    lra_op_gelu(ctx, ((nn_args *)user)->x);
    return omp_get_wtime() - t0;
}

// A persistent (malloc'd) tensor: gradients of persistent inputs are arena buffers of the step.
static lra_tensor *persistent(const int64_t *shape, int nd, uint64_t stream, int requires_grad) {
    lra_tensor *t = lra_xmalloc(sizeof *t);
    int64_t n = lra_shape_numel(shape, nd);
    float *d = lra_xmalloc((size_t)n * sizeof(float));
    lra_rng_fill_normal(5, stream, 0, d, (size_t)n, 0.0f, 1.0f);
    *t = lra_tensor_make(LRA_F32, d, shape, nd);
    t->requires_grad = requires_grad;
    return t;
}

static void free_persistent(lra_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t);
}

// Forward and backward (alone) of a product op, beside the raw sgemm rate `peak`; the backward does
// twice the forward's flops.
static void bench_product(lra_ctx *ctx, const char *label, bench_fn fn, mm_args *m, double flops, double peak) {
    int64_t ny = 0;
    {  // the output size, for the seed gradient
        lra_ctx_set_grad_enabled(ctx, 0);
        lra_tensor *y =
            fn == run_linear ? lra_op_linear(ctx, m->a, m->b, m->c) : lra_op_matmul(ctx, m->a, m->b, m->ta, m->tb);
        ny = lra_tensor_numel(y);
        lra_ctx_reset(ctx);
    }
    m->seed = lra_xmalloc((size_t)ny * sizeof(float));
    lra_rng_fill_normal(9, 9, 0, m->seed, (size_t)ny, 0.0f, 1.0f);
    m->backward = 0;
    double tf = time_it(ctx, fn, m);
    m->backward = 1;
    double tb = time_it(ctx, fn, m);
    printf("%-46s fwd %8.3f ms %6.1f GFLOP/s (%3.0f%%)  bwd %8.3f ms %6.1f GFLOP/s (%3.0f%%)\n", label, tf * 1e3,
           flops / tf * 1e-9, 100.0 * flops / tf * 1e-9 / peak, tb * 1e3, 2.0 * flops / tb * 1e-9,
           100.0 * 2.0 * flops / tb * 1e-9 / peak);
    free(m->seed);
    free_persistent(m->a);
    free_persistent(m->b);
    free_persistent(m->c);
}

static void bench_mm(lra_ctx *ctx, const char *label, const int64_t *sa, int na, const int64_t *sb, int nb, int ta,
                     int tb, double flops, double peak) {
    mm_args m = {persistent(sa, na, 1, 1), persistent(sb, nb, 2, 1), NULL, ta, tb, 0, NULL};
    bench_product(ctx, label, run_matmul, &m, flops, peak);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    if (quick) g_min_time = 0.1;
    lra_ctx *ctx = lra_ctx_new(0);
    printf("bench_ops: %d OpenMP threads, OpenBLAS %s\n", omp_get_max_threads(), openblas_get_config());

    // Raw sgemm on a large square product: the ceiling the op rates are compared with.
    sgemm_args s = {2048, NULL, NULL, NULL};
    size_t nn = (size_t)s.n * (size_t)s.n;
    s.a = lra_xmalloc(nn * sizeof(float));
    s.b = lra_xmalloc(nn * sizeof(float));
    s.c = lra_xmalloc(nn * sizeof(float));
    lra_rng_fill_normal(1, 1, 0, s.a, nn, 0.0f, 1.0f);
    lra_rng_fill_normal(1, 2, 0, s.b, nn, 0.0f, 1.0f);
    double ts = time_it(ctx, run_sgemm, &s);
    double peak = 2.0 * s.n * (double)s.n * s.n / ts * 1e-9;
    printf("%-46s raw %8.3f ms %6.1f GFLOP/s (100%%)\n", "raw cblas_sgemm 2048x2048x2048", ts * 1e3, peak);
    double tg = time_it(ctx, run_lra_gemm, &s);
    printf("%-46s     %8.3f ms %6.1f GFLOP/s (%3.0f%% of raw multi-threaded sgemm)\n",
           "lra_gemm 2048x2048x2048 (tiled, deterministic)", tg * 1e3, 2.0 * s.n * (double)s.n * s.n / tg * 1e-9,
           100.0 * ts / tg);
    free(s.a);
    free(s.b);
    free(s.c);

    // linear: x [32*2000, 64] . w[64, 64]^T + b
    mm_args lin = {persistent(LRA_DIMS(32 * 2000, 64), 1, 1),
                   persistent(LRA_DIMS(64, 64), 2, 1),
                   persistent(LRA_DIMS(64), 3, 1),
                   0,
                   0,
                   0,
                   NULL};
    bench_product(ctx, "linear [64000, 64] x [64, 64]^T + b", run_linear, &lin, 2.0 * 64000 * 64 * 64, peak);
    bench_mm(ctx, "matmul [2000, 32] x [32, 256]", LRA_DIMS(2000, 32), LRA_DIMS(32, 256), 0, 0, 2.0 * 2000 * 32 * 256,
             peak);
    int64_t n = quick ? 512 : 2048;
    char label[96];
    snprintf(label, sizeof label, "matmul [64, %lld, 32] x [64, 32, %lld] (q k^T)", (long long)n, (long long)n);
    bench_mm(ctx, label, LRA_DIMS(64, n, 32), LRA_DIMS(64, n, 32), 0, 1, 2.0 * 64 * n * n * 32, peak);
    snprintf(label, sizeof label, "matmul [64, %lld, %lld] x [64, %lld, 32] (p v)", (long long)n, (long long)n,
             (long long)n);
    bench_mm(ctx, label, LRA_DIMS(64, n, n), LRA_DIMS(64, n, 32), 0, 0, 2.0 * 64 * n * n * 32, peak);

    // Linformer's projection: E [1, H, k, n] broadcast over the batch times the keys [B, H, n, p]; its
    // backward sums dE over the batch (few destinations, many small products).
    for (int64_t ln = 256; ln <= 1024; ln *= 4) {
        snprintf(label, sizeof label, "matmul [1, 2, 256, %lld] x [32, 2, %lld, 32] (linformer)", (long long)ln,
                 (long long)ln);
        bench_mm(ctx, label, LRA_DIMS(1, 2, 256, ln), LRA_DIMS(32, 2, ln, 32), 0, 0, 2.0 * 64 * 256 * ln * 32, peak);
    }

    // Memory-bound ops: GB/s of one read and one write of the tensor.
    {
        nn_args a = {persistent(LRA_DIMS(8, n, n), 8, 0), NULL, NULL};
        double bytes = 2.0 * 4.0 * 8 * n * n;
        double t = time_it(ctx, run_softmax, &a);
        snprintf(label, sizeof label, "softmax [8, %lld, %lld] (last axis)", (long long)n, (long long)n);
        printf("%-46s fwd %8.3f ms %6.1f GB/s\n", label, t * 1e3, bytes / t * 1e-9);
        free_persistent(a.x);
    }
    {
        lra_tensor *x = persistent(LRA_DIMS(32 * 2000, 64), 4, 0), *g = persistent(LRA_DIMS(64), 5, 0),
                   *b = persistent(LRA_DIMS(64), 6, 0);
        nn_args a = {x, g, b};
        double t = time_it(ctx, run_layer_norm, &a);
        printf("%-46s fwd %8.3f ms %6.1f GB/s\n", "layer_norm [64000, 64]", t * 1e3, 2.0 * 4.0 * 64000 * 64 / t * 1e-9);
        free_persistent(x);
        free_persistent(g);
        free_persistent(b);
    }
    {
        lra_tensor *x = persistent(LRA_DIMS(32 * 2000, 256), 7, 0);
        nn_args a = {x, NULL, NULL};
        double t = time_it(ctx, run_gelu, &a);
        printf("%-46s fwd %8.3f ms %6.1f GB/s\n", "gelu [64000, 256]", t * 1e3, 2.0 * 4.0 * 64000 * 256 / t * 1e-9);
        free_persistent(x);
    }
    lra_ctx_free(ctx);
    return 0;
}
