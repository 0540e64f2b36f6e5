// The project's one matrix-product back end.  Every sgemm in the library goes through lra_gemm: the
// matmul/linear ops and the attention kernels alike.
//
// Why: OpenBLAS's own threading does not give the same bits for different thread counts on every CPU
// (on AMD Zen 3 a 1000^3 product differs in 67 % of its elements between 1 and 2 threads).  So the
// project owns the parallelism: the output is cut into tiles (and, for long inner dimensions, the inner
// dimension into chunks) whose shapes depend only on (m, n, k), never on the thread count; each tile is
// one single-threaded call inside our own OpenMP loop -- the project's kernel for thin products
// (core/sgemm_tile.h, chosen by shape alone), else BLAS -- and chunk partial sums are added in a fixed
// order.  Every element therefore sees the same sequence of floating-point operations for any thread
// count, from a serial caller or from inside a parallel region.
//
// Why BLAS is single-threaded inside a tile: the OpenMP build of OpenBLAS (Debian's
// libopenblas0-openmp, which the build uses) runs a call single-threaded when omp_in_parallel() is true,
// i.e. inside an active parallel region of ours, and also when omp_get_max_threads() is 1.  lra_gemm only
// calls BLAS in one of those two states (a one-tile product from a serial caller with several threads
// is still issued from inside a two-thread region).  For a pthreads or other OpenBLAS build,
// lra_threads_set() pins BLAS to one thread instead.  tests/test_gemm.c checks both facts.
#ifndef LRA_CORE_GEMM_H
#define LRA_CORE_GEMM_H

#include <stdbool.h>
#include <stdint.h>

// C[m, n] = alpha * op(A)[m, k] . op(B)[k, n] + beta * C, row-major, op = transpose when trans_*.
// A is [m, k] with row stride lda (or [k, m] when trans_a), B is [k, n] (or [n, k]), C has row stride ldc.
// beta == 0 ignores C's old contents (NaN included), as BLAS does.
void lra_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

// `count` independent products: operand i starts at a + i * stride_a (likewise b, c).  The products and
// their tiles are spread over the threads together; each product's bits equal those of lra_gemm.
void lra_gemm_batched(int64_t count, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b,
                      float beta, float *c, int64_t ldc, int64_t stride_c);

// C = alpha * op(A) . op(B) + bias for `count` products as lra_gemm_batched, bias [n] added to every row
// of every C (C's old contents ignored): a linear layer's x W^T + b with no separate pass over C.  The
// same bits as filling C's rows with the bias and calling lra_gemm_batched with beta 1.
void lra_gemm_bias_batched(int64_t count, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                           const float *a, int64_t lda, int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b,
                           const float *bias, float *c, int64_t ldc, int64_t stride_c);

// One untiled single-threaded call (the kernel or BLAS, as for a tile), for callers that parallelise over
// many independent products themselves (the batched matmul op over >= LRA_GEMM_DIRECT_MIN_BATCH
// destinations): its bits depend only on the shape.  It must run inside an active parallel region or
// with one thread (asserted), where BLAS is single-threaded.
#define LRA_GEMM_DIRECT_MIN_BATCH 16
void lra_gemm_direct(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                     int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

// The tiling lra_gemm uses for an (m, n, k) product (exposed for tests and benchmarks).
typedef struct {
    int64_t row_tiles, col_tiles, k_chunks;  // tiles along m and n, chunks along k
    int64_t rows, cols, depth;               // rows, columns and inner length of a full tile / chunk
} lra_gemm_plan;
// Floating-point operations (2 m n k per product) of every product since the program started: what
// `lra bench train` divides by the sgemm rate to get a step's dense-work bound.
double lra_gemm_flops_total(void);

lra_gemm_plan lra_gemm_plan_for(int64_t m, int64_t n, int64_t k);

#endif
