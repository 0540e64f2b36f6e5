// The deterministic matrix-product back end (core/gemm.c): correct against a double-precision reference,
// the same bits for 1-4 threads and from inside a parallel region, OpenBLAS single-threaded inside our
// regions, and all of that again under every OPENBLAS_CORETYPE the CPU can run.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/gemm.h"
#include "core/rng.h"
#include "core/threads.h"
#include "tests/harness.h"

typedef struct {
    int64_t m, n, k;
    bool ta, tb;
    float alpha, beta;
} shape;

// Covers one tile, 2-D tiles, inner-dimension chunks (64 x 48 x 6000), thin and wide products.
static const shape SHAPES[] = {
    {1, 1, 1, false, false, 1.0f, 0.0f},        {7, 300, 5, false, true, 0.5f, 1.0f},
    {384, 320, 256, false, false, 1.0f, 0.0f},  {384, 320, 256, true, true, 1.0f, 0.5f},
    {64, 48, 6000, true, false, 1.0f, 0.0f},    {64, 48, 6000, false, true, 2.0f, 1.0f},
    {3000, 64, 64, false, true, 1.0f, 0.0f},    {33, 1000, 129, true, false, 1.0f, -1.0f},
    {520, 530, 540, false, false, 1.0f, 0.0f},
};
#define NSHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static float *randv(int64_t n, uint64_t stream) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    lra_rng_fill_normal(5, stream, 0, p, (size_t)n, 0.0f, 1.0f);
    return p;
}

// Operands of shape s with row strides one larger than needed (so ld != width is covered).
typedef struct {
    float *a, *b, *c0;
    int64_t lda, ldb, ldc;
} operands;

static operands make_ops(const shape *s, uint64_t seed) {
    operands o;
    int64_t ar = s->ta ? s->k : s->m, ac = s->ta ? s->m : s->k;
    int64_t br = s->tb ? s->n : s->k, bc = s->tb ? s->k : s->n;
    o.lda = ac + 1;
    o.ldb = bc + 1;
    o.ldc = s->n + 1;
    o.a = randv(ar * o.lda, seed);
    o.b = randv(br * o.ldb, seed + 1);
    o.c0 = randv(s->m * o.ldc, seed + 2);
    return o;
}

static void free_ops(operands *o) { free(o->a), free(o->b), free(o->c0); }

static float *run(const shape *s, const operands *o) {
    float *c = malloc((size_t)(s->m * o->ldc) * sizeof(float));
    memcpy(c, o->c0, (size_t)(s->m * o->ldc) * sizeof(float));
    lra_gemm(s->ta, s->tb, s->m, s->n, s->k, s->alpha, o->a, o->lda, o->b, o->ldb, s->beta, c, o->ldc);
    return c;
}

static void test_matches_reference(void) {
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &SHAPES[i];
        operands o = make_ops(s, 10 + 3 * (uint64_t)i);
        float *c = run(s, &o);
        double worst = 0.0;
        for (int64_t r = 0; r < s->m; r++)
            for (int64_t col = 0; col < s->n; col++) {
                double acc = 0.0, mag = 0.0;
                for (int64_t q = 0; q < s->k; q++) {
                    double x = s->ta ? o.a[q * o.lda + r] : o.a[r * o.lda + q];
                    double y = s->tb ? o.b[col * o.ldb + q] : o.b[q * o.ldb + col];
                    acc += x * y;
                    mag += fabs(x * y);
                }
                double want = s->alpha * acc + s->beta * o.c0[r * o.ldc + col];
                double err = fabs(c[r * o.ldc + col] - want) / (fabs(s->alpha) * mag + fabs(s->beta) + 1e-30);
                if (err > worst) worst = err;
            }
        CHECK_MSG(worst < 1e-5, "%lldx%lldx%lld: relative error %.3g", (long long)s->m, (long long)s->n,
                  (long long)s->k, worst);
        // Padding between rows (ld > width) is never written.
        for (int64_t r = 0; r < s->m; r++) CHECK(c[r * o.ldc + s->n] == o.c0[r * o.ldc + s->n]);
        free(c);
        free_ops(&o);
    }
}

static void test_plan(void) {
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &SHAPES[i];
        lra_gemm_plan p = lra_gemm_plan_for(s->m, s->n, s->k);
        // Tiles cover the product exactly once and none is empty.
        CHECK(p.row_tiles * p.rows >= s->m && (p.row_tiles - 1) * p.rows < s->m);
        CHECK(p.col_tiles * p.cols >= s->n && (p.col_tiles - 1) * p.cols < s->n);
        CHECK(p.k_chunks * p.depth >= s->k && (p.k_chunks - 1) * p.depth < s->k);
        CHECK(p.row_tiles * p.col_tiles * p.k_chunks <= 32);
    }
    lra_gemm_plan big = lra_gemm_plan_for(2048, 2048, 2048), dw = lra_gemm_plan_for(64, 64, 64000);
    CHECK(big.row_tiles * big.col_tiles >= 16 && big.k_chunks == 1);
    CHECK(dw.k_chunks > 1);  // a weight gradient: the long inner dimension is what can be shared out
}

// Same bits for 1, 2, 3 and 4 threads, from inside a parallel region, and batched.
static void test_bits_any_thread_count(void) {
    const int prev = lra_threads_get();
    printf("  openblas core: %s\n", openblas_get_corename());
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &SHAPES[i];
        operands o = make_ops(s, 40 + 3 * (uint64_t)i);
        const size_t bytes = (size_t)(s->m * o.ldc) * sizeof(float);
        lra_threads_set(1);
        float *ref = run(s, &o);
        for (int t = 2; t <= 4; t++) {
            lra_threads_set(t);
            float *c = run(s, &o);
            CHECK_MSG(!memcmp(ref, c, bytes), "shape %d: 1 and %d threads differ", i, t);
            free(c);
        }
        // Called from every thread of a parallel region at once (as attention kernels do).
        lra_threads_set(2);
        float *cs[2] = {NULL, NULL};
#pragma omp parallel num_threads(2)
        cs[omp_get_thread_num()] = run(s, &o);
        for (int t = 0; t < 2; t++) {
            CHECK_MSG(cs[t] && !memcmp(ref, cs[t], bytes), "shape %d: differs inside a parallel region", i);
            free(cs[t]);
        }
        // Batched: three copies of the product give three copies of the bits.
        float *c3 = malloc(3 * bytes);
        for (int b = 0; b < 3; b++) memcpy((char *)c3 + b * bytes, o.c0, bytes);
        const int64_t asz = (s->ta ? s->k : s->m) * o.lda, bsz = (s->tb ? s->n : s->k) * o.ldb;
        float *a3 = malloc(3 * (size_t)asz * sizeof(float)), *b3 = malloc(3 * (size_t)bsz * sizeof(float));
        for (int b = 0; b < 3; b++) {
            memcpy(a3 + b * asz, o.a, (size_t)asz * sizeof(float));
            memcpy(b3 + b * bsz, o.b, (size_t)bsz * sizeof(float));
        }
        lra_gemm_batched(3, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a3, o.lda, asz, b3, o.ldb, bsz, s->beta, c3, o.ldc,
                         s->m * o.ldc);
        for (int b = 0; b < 3; b++) CHECK_MSG(!memcmp(ref, (char *)c3 + b * bytes, bytes), "shape %d: batched", i);
        free(c3), free(a3), free(b3), free(ref);
        free_ops(&o);
    }
    lra_threads_set(prev);
}

// lra_gemm_bias_batched equals C's rows filled with the bias and beta 1, bit for bit, whatever serves
// the tiles (the own kernel, BLAS, inner chunks summed afterwards) and at 1 and 3 threads; C is not read.
static void test_bias_equals_fill(void) {
    const int prev = lra_threads_get();
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &SHAPES[i];
        operands o = make_ops(s, 70 + 3 * (uint64_t)i);
        float *bias = randv(s->n, 90 + (uint64_t)i);
        const int64_t asz = (s->ta ? s->k : s->m) * o.lda, csz = s->m * o.ldc;
        float *want = malloc(2 * (size_t)csz * sizeof(float)), *got = malloc(2 * (size_t)csz * sizeof(float));
        float *a2 = malloc(2 * (size_t)asz * sizeof(float));
        for (int b = 0; b < 2; b++) memcpy(a2 + b * asz, o.a, (size_t)asz * sizeof(float));
        a2[asz] = 0.5f;  // the two products differ
        for (int t = 1; t <= 3; t += 2) {
            lra_threads_set(t);
            for (int64_t e = 0; e < 2 * csz; e++) want[e] = got[e] = NAN;
            for (int64_t r = 0; r < 2 * s->m; r++) memcpy(want + r * o.ldc, bias, (size_t)s->n * sizeof(float));
            lra_gemm_batched(2, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a2, o.lda, asz, o.b, o.ldb, 0, 1.0f, want,
                             o.ldc, csz);
            lra_gemm_bias_batched(2, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a2, o.lda, asz, o.b, o.ldb, 0, bias, got,
                                  o.ldc, csz);
            CHECK_MSG(!memcmp(want, got, 2 * (size_t)csz * sizeof(float)), "shape %d, %d threads: bias row differs", i, t);
        }
        free(want), free(got), free(a2), free(bias);
        free_ops(&o);
    }
    lra_threads_set(prev);
}

// The fact core/gemm.c relies on: inside an active parallel region of ours, the OpenMP build of OpenBLAS
// computes a large product single-threaded, i.e. exactly as with one thread.
static void test_blas_single_threaded_in_region(void) {
    const int n = 600;
    float *a = randv((int64_t)n * n, 71), *b = randv((int64_t)n * n, 72);
    float *c1 = calloc((size_t)n * n, sizeof(float)), *c2 = calloc((size_t)n * n, sizeof(float));
    float *c3 = calloc((size_t)n * n, sizeof(float));
    const int prev = lra_threads_get();
    lra_threads_set(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c1, n);
    lra_threads_set(2);
    int team = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
        {
            team = omp_get_num_threads();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c2, n);
        }
    }
    CHECK_EQ_INT(team, 2);
    if (openblas_get_parallel() == 2)
        CHECK_MSG(!memcmp(c1, c2, (size_t)n * n * sizeof(float)), "OpenBLAS threaded a call inside a parallel region");
    // For the record: OpenBLAS's own threading from a serial caller (what lra_gemm avoids).
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c3, n);
    int64_t diff = 0;
    for (int64_t i = 0; i < (int64_t)n * n; i++) diff += c1[i] != c3[i];
    printf("  raw cblas_sgemm %dx%dx%d, 1 vs 2 OpenBLAS threads: %.1f %% of elements differ (core %s)\n", n, n, n,
           100.0 * (double)diff / ((double)n * n), openblas_get_corename());
    lra_threads_set(prev);
    free(a), free(b), free(c1), free(c2), free(c3);
}

// Runs the determinism tests (gemm, every op, every kernel, s3, yoso) in a child process with
// OPENBLAS_CORETYPE=type; returns 1 if they pass, 0 if they fail, -1 if OpenBLAS did not take the type.
static int run_under_coretype(const char *build, const char *type) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd . && export OPENBLAS_CORETYPE=%s && %s/tests/test_gemm bits_any_thread_count "
             "blas_single_threaded_in_region 2>&1 && %s/tests/test_ops_basic determinism_threads 2>&1 && "
             "%s/tests/test_attention threads 2>&1 && %s/tests/test_s3 threads 2>&1 && "
             "%s/tests/test_yoso threads 2>&1; echo \"exit=$?\"",
             type, build, build, build, build, build);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[512], core[64] = "";
    int exit_code = -1;
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "  openblas core: %63s", core) == 1) continue;
        if (sscanf(line, "exit=%d", &exit_code) == 1) continue;
        if (strstr(line, "FAIL") || strstr(line, ".c:")) printf("    [%s] %s", type, line);
    }
    pclose(p);
    if (!core[0]) return 0;
    if (strcasecmp(core, type) != 0) {
        printf("  %-12s OpenBLAS chose %s instead: not tested\n", type, core);
        return -1;
    }
    printf("  %-12s %s\n", type, exit_code == 0 ? "same bits for 1-4 threads" : "FAILED");
    return exit_code == 0;
}

static void test_every_coretype(void) {
#ifdef __SANITIZE_ADDRESS__
    SKIP("seven more runs of the sanitised binaries: the release build covers the OpenBLAS core types");
#endif
    const char *build = getenv("LRA_BUILD");
    if (!build || !*build) build = "build";
    char probe[512];
    snprintf(probe, sizeof probe, "%s/tests/test_attention", build);
    FILE *f = fopen(probe, "rb");
    if (!f) SKIP("%s not built (run through make test)", probe);
    fclose(f);
    const char *types[8];
    const int nt = lra_test_coretypes(types, 8);
    int tested = 0;
    for (int i = 0; i < nt; i++) {
        int r = run_under_coretype(build, types[i]);
        if (r >= 0) {
            CHECK_MSG(r == 1, "OPENBLAS_CORETYPE=%s: results depend on the thread count", types[i]);
            tested++;
        }
    }
    CHECK_MSG(tested >= 2, "only %d OpenBLAS core types could be tested", tested);
}

static const lra_test_case TESTS[] = {
    {"bias_equals_fill", test_bias_equals_fill},
    {"matches_reference", test_matches_reference},
    {"plan", test_plan},
    {"bits_any_thread_count", test_bits_any_thread_count},
    {"blas_single_threaded_in_region", test_blas_single_threaded_in_region},
    {"every_coretype", test_every_coretype},
};
LRA_TEST_MAIN(TESTS)
