// The project's own single-threaded sgemm kernel, for one tile of lra_gemm (core/gemm.h).
//
// Why: the products of these models are thin -- an inner or outer dimension of 32 to 128 (head size,
// model width) against thousands of rows -- and OpenBLAS spends much of such a call packing A, which
// is then used for only a few columns.  This kernel never packs A: it broadcasts A's elements straight
// from memory (A or A^T alike) and reads B's rows in place where it can, packing only transposed or
// ragged panels of B.  Register blocks are 6 x 64 (AVX-512) or 6 x 16 (AVX2) of C, or 8 x 32 for
// products at most 32 columns wide.
//
// Bits: each element of C is the same sequence of fused multiply-adds over the inner index, in chunks
// of 128, whatever the thread count, so lra_gemm's tiling contract is unchanged; results differ from
// OpenBLAS's by rounding, and between CPUs with and without AVX-512 (as OpenBLAS's do).
// Built only where the compiler targets AVX2 with FMA or AVX-512 (the build is -march=native);
// elsewhere lra_sgemm_tile_available() is false and lra_gemm keeps calling BLAS.
#ifndef LRA_CORE_SGEMM_TILE_H
#define LRA_CORE_SGEMM_TILE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

#define LRA_SGEMM_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#define LRA_SGEMM_UNREACHABLE() LRA_ASSERT_MSG(0, "lra_sgemm_tile: not built for this CPU")

// Whether this build has the kernel (a compile-time fact of the target's vector units).
bool lra_sgemm_tile_available(void);

// Whether lra_gemm should use the kernel for this product (a function of the shape only, so the choice,
// and with it the bits, never depends on threads): false where the kernel is not built.
bool lra_sgemm_tile_suits(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k);

// C[m, n] = alpha op(A) op(B) + beta C (beta == 0: C is not read), row-major, as cblas_sgemm; one thread.
// With a bias ([n], beta must be 0): C = alpha op(A) op(B) + bias in every row, C not read -- the same
// bits as C's rows set to the bias and beta 1, without that pass over C.
void lra_sgemm_tile(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                    int64_t lda, const float *b, int64_t ldb, float beta, const float *bias, float *c, int64_t ldc);

#endif
