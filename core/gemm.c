// Deterministic tiled sgemm over single-threaded kernel or OpenBLAS calls (see core/gemm.h for the why).
#include "core/gemm.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/profile.h"
#include "core/sgemm_tile.h"
#include "core/status.h"

// Work per tile (m*n*k) the plan aims at: ~4 MFLOP, large enough that packing and call overheads stay
// small, small enough that a big product gives every thread many tiles.
#define TILE_WORK ((int64_t)1 << 21)
// At most this many tiles per product: 32 is divisible by 1, 2, 4, 8, 16 and 32 threads and leaves little
// imbalance for the others (tiles are handed out dynamically); each more tile repacks operand panels, so
// no more than that.
#define MAX_TILES 32
#define MIN_ROWS 128    // each tile packs its whole B panel (k x cols): thinner row bands repack it too often
#define MIN_COLS 128    // splitting columns below this costs more than it balances
#define MIN_DEPTH 512   // inner chunks at least this long
#define SPLIT_K_FROM 2048

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

lra_gemm_plan lra_gemm_plan_for(int64_t m, int64_t n, int64_t k) {
    lra_gemm_plan p = {1, 1, 1, m, n, k};
    if (m <= 0 || n <= 0 || k <= 0) return p;
    double work = (double)m * (double)n * (double)k;
    int64_t target = work / (double)TILE_WORK >= MAX_TILES ? MAX_TILES : (int64_t)(work / (double)TILE_WORK);
    if (target <= 1) return p;
    // Square-ish tiles keep the packing of A and B per tile small next to the tile's work.
    double side = sqrt((double)m * (double)n / (double)target);
    int64_t ct = clamp64((int64_t)((double)n / (side > MIN_COLS ? side : MIN_COLS) + 0.5), 1, cdiv(n, MIN_COLS));
    int64_t rt = clamp64(cdiv(target, ct), 1, cdiv(m, MIN_ROWS));
    int64_t kc = 1;
    if (rt * ct * 2 <= target && k >= SPLIT_K_FROM) kc = clamp64(target / (rt * ct), 1, k / MIN_DEPTH);
    p.rows = cdiv(m, rt);
    p.cols = cdiv(n, ct);
    p.depth = cdiv(k, kc);
    // Recount after rounding the sizes up, so no tile is empty.
    p.row_tiles = cdiv(m, p.rows);
    p.col_tiles = cdiv(n, p.cols);
    p.k_chunks = cdiv(k, p.depth);
    return p;
}

// One single-threaded product: the own kernel for the shapes it suits (core/sgemm_tile.h), else BLAS.
// A bias ([n], with beta 0) is added to every row: by the kernel as it stores C, for BLAS by filling C's
// rows with it and beta 1 -- the same bits either way as that fill.
static void tile_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, const float *bias, float *c, int64_t ldc) {
    if (lra_sgemm_tile_suits(ta, tb, m, n, k)) {
        lra_sgemm_tile(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc);
        return;
    }
    if (bias) {
        for (int64_t r = 0; r < m; r++) memcpy(c + r * ldc, bias, (size_t)n * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n,
                (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

typedef struct {
    bool ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *bias;  // NULL, or [n] added to every row of C (beta is then 0)
    lra_gemm_plan plan;
    int64_t tiles;  // row_tiles * col_tiles * k_chunks
} job;

// A's block for rows [r0, ..) and inner [k0, ..); B's for inner [k0, ..) and columns [c0, ..).
static const float *a_at(const job *j, const float *a, int64_t r0, int64_t k0) {
    return j->ta ? a + k0 * j->lda + r0 : a + r0 * j->lda + k0;
}
static const float *b_at(const job *j, const float *b, int64_t k0, int64_t c0) {
    return j->tb ? b + c0 * j->ldb + k0 : b + k0 * j->ldb + c0;
}

// Tile t of one product.  With k chunks, chunk q writes alpha * A_q B_q into its own slice of `partial`
// ([k_chunks, m, n]); reduce() adds them later in chunk order.
static void run_tile(const job *j, int64_t t, const float *a, const float *b, float *c, float *partial) {
    const lra_gemm_plan *p = &j->plan;
    int64_t q = t % p->k_chunks, rc = t / p->k_chunks;
    int64_t ri = rc / p->col_tiles, ci = rc % p->col_tiles;
    int64_t r0 = ri * p->rows, c0 = ci * p->cols, k0 = q * p->depth;
    int64_t mr = j->m - r0 < p->rows ? j->m - r0 : p->rows;
    int64_t nc = j->n - c0 < p->cols ? j->n - c0 : p->cols;
    int64_t kk = j->k - k0 < p->depth ? j->k - k0 : p->depth;
    if (p->k_chunks == 1)
        tile_call(j->ta, j->tb, mr, nc, kk, j->alpha, a_at(j, a, r0, k0), j->lda, b_at(j, b, k0, c0), j->ldb,
                  j->beta, j->bias ? j->bias + c0 : NULL, c + r0 * j->ldc + c0, j->ldc);
    else
        tile_call(j->ta, j->tb, mr, nc, kk, j->alpha, a_at(j, a, r0, k0), j->lda, b_at(j, b, k0, c0), j->ldb, 0.0f,
                  NULL, partial + q * j->m * j->n + r0 * j->n + c0, j->n);
}

// Row r of C = beta * C (or the bias) + partial_0 + partial_1 + ... (in chunk order).
static void reduce_row(const job *j, int64_t r, const float *partial, float *c) {
    float *cr = c + r * j->ldc;
    const int64_t mn = j->m * j->n;
    for (int64_t col = 0; col < j->n; col++) {
        float s = partial[r * j->n + col];
        for (int64_t q = 1; q < j->plan.k_chunks; q++) s += partial[q * mn + r * j->n + col];
        cr[col] = j->bias ? j->bias[col] + s : j->beta == 0.0f ? s : j->beta * cr[col] + s;
    }
}

static job make_job(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, int64_t lda, int64_t ldb,
                    float beta, const float *bias, int64_t ldc) {
    job j = {ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, bias, lra_gemm_plan_for(m, n, k), 0};
    j.tiles = j.plan.row_tiles * j.plan.col_tiles * j.plan.k_chunks;
    return j;
}

// C = beta * C (or the bias) for an empty inner dimension (BLAS with k = 0 does the same; kept explicit).
static void scale_only(int64_t m, int64_t n, float beta, const float *bias, float *c, int64_t ldc) {
    for (int64_t r = 0; r < m; r++)
        for (int64_t col = 0; col < n; col++)
            c[r * ldc + col] = bias ? bias[col] : beta == 0.0f ? 0.0f : beta * c[r * ldc + col];
}

// Whether this call should open its own parallel region.  Otherwise the tiles run in a loop on the
// calling thread: inside a parallel region (BLAS is then single-threaded) or with one thread.
static bool own_region(void) { return !omp_in_parallel() && omp_get_max_threads() > 1; }

// Every product's flop count, for lra_gemm_flops_total (callers may be inside parallel regions).
static double g_flops_total;

static void count_flops(double flops) {
#pragma omp atomic update
    g_flops_total += flops;
    lra_profile_flops(flops);
}

double lra_gemm_flops_total(void) {
    double v;
#pragma omp atomic read
    v = g_flops_total;
    return v;
}

// lra_gemm_batched and lra_gemm_bias_batched: beta, or a bias with beta 0.
static void gemm_batched(int64_t count, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                         int64_t lda, int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b, float beta,
                         const float *bias, float *c, int64_t ldc, int64_t stride_c) {
    if (count <= 0 || m <= 0 || n <= 0) return;
    count_flops(2.0 * (double)count * (double)m * (double)n * (double)(k > 0 ? k : 0));
    job j = make_job(ta, tb, m, n, k, alpha, lda, ldb, beta, bias, ldc);
    if (k <= 0) {
        for (int64_t i = 0; i < count; i++) scale_only(m, n, beta, bias, c + i * stride_c, ldc);
        return;
    }
    float *partial = NULL;
    if (j.plan.k_chunks > 1) {
        partial = malloc((size_t)(count * j.plan.k_chunks * m * n) * sizeof(float));
        LRA_ASSERT_MSG(partial != NULL, "lra_gemm: out of memory for %lld partial sums",
                       (long long)(count * j.plan.k_chunks * m * n));
    }
    const int64_t total = count * j.tiles, part_stride = j.plan.k_chunks * m * n;
    // A one-tile product from a serial caller still runs inside a (two-thread) region, so that BLAS sees
    // omp_in_parallel() and stays single-threaded.
#pragma omp parallel if (own_region()) num_threads(total > 1 ? omp_get_max_threads() : 2)
    {
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < total; t++) {
            int64_t i = t / j.tiles;
            run_tile(&j, t % j.tiles, a + i * stride_a, b + i * stride_b, c + i * stride_c,
                     partial ? partial + i * part_stride : NULL);
        }
        if (partial) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < count * m; r++)
                reduce_row(&j, r % m, partial + (r / m) * part_stride, c + (r / m) * stride_c);
        }
    }
    free(partial);
}

void lra_gemm_batched(int64_t count, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b, float beta,
                      float *c, int64_t ldc, int64_t stride_c) {
    gemm_batched(count, ta, tb, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, NULL, c, ldc, stride_c);
}

void lra_gemm_bias_batched(int64_t count, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                           const float *a, int64_t lda, int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b,
                           const float *bias, float *c, int64_t ldc, int64_t stride_c) {
    gemm_batched(count, ta, tb, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, 0.0f, bias, c, ldc, stride_c);
}

void lra_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    lra_gemm_batched(1, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0);
}

void lra_gemm_direct(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    LRA_ASSERT_MSG(omp_in_parallel() || omp_get_max_threads() == 1,
                   "lra_gemm_direct outside a parallel region with several threads: BLAS would thread itself");
    if (m <= 0 || n <= 0) return;
    count_flops(2.0 * (double)m * (double)n * (double)(k > 0 ? k : 0));
    if (k <= 0) {
        scale_only(m, n, beta, NULL, c, ldc);
        return;
    }
    tile_call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, NULL, c, ldc);
}
