// The project's own single-threaded sgemm for one tile of lra_gemm (see sgemm_tile.h for when and why).
//
// Layout: the inner dimension is cut into chunks of KC and the columns into blocks of NC.  Per (chunk,
// block), B's panels of NR columns are read in place when they are rows of B in memory (B not
// transposed and a whole panel wide), else packed into a stack buffer [panel][kc][NR] (zero past n).
// A is never packed: the micro-kernel broadcasts A(i, kk) from a[i * rs + kk * cs], which covers A and
// A^T alike.  Each micro-kernel call computes an MR x NR block of C over the chunk in registers, then
// writes C = alpha acc + beta C (first chunk) or C += alpha acc (later chunks).  Every element of C
// therefore sees the same operations in the same order whatever calls this, on one CPU type.
#include "core/sgemm_tile.h"

#include <string.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>

#define KC 128  // inner-dimension chunk: an A block (MR x KC) stays in L1, a B panel chunk in L2
#define NC 256  // columns per block: the packed panels take KC x NC floats (128 KiB) of stack

#if defined(__AVX512F__)
typedef __m512 vec;
#define VW 16
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, x) _mm512_storeu_ps((p), (x))
#define V_BCAST(x) _mm512_set1_ps(x)
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define NR_WIDE 64  // 4 vectors x 6 rows
#define MR_WIDE 6
#define NR_NARROW 32  // 2 vectors x 8 rows, for products 32 or fewer columns wide
#define MR_NARROW 8
#else
typedef __m256 vec;
#define VW 8
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, x) _mm256_storeu_ps((p), (x))
#define V_BCAST(x) _mm256_set1_ps(x)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define NR_WIDE 16  // 2 vectors x 6 rows (16 registers)
#define MR_WIDE 6
#define NR_NARROW 16
#define MR_NARROW 6
#endif

// What one micro-kernel call writes: rows [0, mr) and columns [0, nr) of the block at c.
typedef struct {
    float *c;
    int64_t ldc;
    int mr, nr;
    float alpha, beta;
    const float *bias;  // NULL, or the block's first column of the row bias (then beta is 0)
    int first;  // the first chunk: C = alpha acc + beta C, or + bias (C unread when beta == 0); later: C += alpha acc
} block_out;

// One row of the block: acc[0 .. NV) to C (whole vectors when the row is NR wide, else through a buffer).
static inline __attribute__((always_inline)) void store_row(const block_out *o, int i, const vec *acc, int nv) {
    float *cr = o->c + (int64_t)i * o->ldc;
    const vec va = V_BCAST(o->alpha);
    if (o->nr == nv * VW) {
        for (int v = 0; v < nv; v++) {
            vec r = V_MUL(va, acc[v]);
            if (!o->first) r = V_ADD(V_LOAD(cr + v * VW), r);
            else if (o->bias) r = V_ADD(V_LOAD(o->bias + v * VW), r);
            else if (o->beta != 0.0f) r = V_FMA(V_BCAST(o->beta), V_LOAD(cr + v * VW), r);
            V_STORE(cr + v * VW, r);
        }
        return;
    }
    float t[4 * VW];
    for (int v = 0; v < nv; v++) V_STORE(t + v * VW, V_MUL(va, acc[v]));
    for (int j = 0; j < o->nr; j++) {
        if (!o->first) cr[j] = cr[j] + t[j];
        else if (o->bias) cr[j] = o->bias[j] + t[j];
        else cr[j] = o->beta != 0.0f ? LRA_SGEMM_FMAF(o->beta, cr[j], t[j]) : t[j];
    }
}

// acc[i][v] = sum_kk A(i, kk) B(kk, v VW ..), A(i, kk) = a[ro[i] + kk cs], B(kk, .) = b + kk bs.
// Rows past mr repeat row mr - 1 (ro), so every load is inside A.
#define DEFINE_MICRO(NAME, MR, NV)                                                                          \
    static void NAME(int64_t kc, const float *a, const int64_t *ro, int64_t cs, const float *b, int64_t bs, \
                     const block_out *o) {                                                                   \
        vec acc[MR][NV];                                                                                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                                \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] = V_ZERO();                       \
        int64_t r[MR];                                                                                       \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) r[i] = ro[i];                                  \
        for (int64_t kk = 0; kk < kc; kk++) {                                                                \
            vec bv[NV];                                                                                      \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) bv[v] = V_LOAD(b + v * VW);                 \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                                          \
                const vec x = V_BCAST(a[r[i]]);                                                              \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] = V_FMA(x, bv[v], acc[i][v]); \
            }                                                                                                \
            a += cs, b += bs;                                                                                \
        }                                                                                                    \
        for (int i = 0; i < o->mr; i++) store_row(o, i, acc[i], NV);                                         \
    }

DEFINE_MICRO(micro_wide, MR_WIDE, NR_WIDE / VW)
DEFINE_MICRO(micro_narrow, MR_NARROW, NR_NARROW / VW)

// dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 block (the classic unpack / shuffle / permute transpose).
static inline void transpose8x8(const float *src, int64_t lds, float *dst, int64_t ldd) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * lds);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

// B(pc + kk, j0 + j) for kk < kc, j < w into dst[kk * nr + j], zero for w <= j < nr.  B transposed is
// read in 8 x 8 blocks transposed in registers, the edges element by element.
static void pack_b(bool tb, const float *b, int64_t ldb, int64_t pc, int64_t j0, int64_t kc, int64_t w, int64_t nr,
                   float *dst) {
    if (!tb) {
        for (int64_t kk = 0; kk < kc; kk++) {
            memcpy(dst + kk * nr, b + (pc + kk) * ldb + j0, (size_t)w * sizeof(float));
            for (int64_t j = w; j < nr; j++) dst[kk * nr + j] = 0.0f;
        }
        return;
    }
    const int64_t w8 = w / 8 * 8, k8 = kc / 8 * 8;
    for (int64_t j = 0; j < w8; j += 8)
        for (int64_t kk = 0; kk < k8; kk += 8) transpose8x8(b + (j0 + j) * ldb + pc + kk, ldb, dst + kk * nr + j, nr);
    for (int64_t kk = 0; kk < kc; kk++) {
        const int64_t j_from = kk < k8 ? w8 : 0;  // the blocks above covered kk < k8, j < w8
        for (int64_t j = j_from; j < w; j++) dst[kk * nr + j] = b[(j0 + j) * ldb + pc + kk];
        for (int64_t j = w; j < nr; j++) dst[kk * nr + j] = 0.0f;
    }
}

void lra_sgemm_tile(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, const float *bias, float *c, int64_t ldc) {
    // The narrow kernel for products no wider than its panel, else the wide one.
    const int narrow = n <= NR_NARROW;
    const int64_t NR = narrow ? NR_NARROW : NR_WIDE, MR = narrow ? MR_NARROW : MR_WIDE;
    const int64_t rs = ta ? 1 : lda, cs = ta ? lda : 1;  // A(i, kk) = a[i rs + kk cs]
    float packed[KC * NC] __attribute__((aligned(64)));
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = n - jc < NC ? n - jc : NC, panels = (nc + NR - 1) / NR;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            // Each panel: B in place (rows of B, a whole panel wide) or packed.
            const float *pan[NC / 8];
            int64_t pan_stride[NC / 8];
            for (int64_t p = 0; p < panels; p++) {
                const int64_t j0 = jc + p * NR, w = n - j0 < NR ? n - j0 : NR;
                if (!tb && w == NR) {
                    pan[p] = b + pc * ldb + j0;
                    pan_stride[p] = ldb;
                } else {
                    pack_b(tb, b, ldb, pc, j0, kc, w, NR, packed + p * kc * NR);
                    pan[p] = packed + p * kc * NR;
                    pan_stride[p] = NR;
                }
            }
            for (int64_t ic = 0; ic < m; ic += MR) {
                const int mr = m - ic < MR ? (int)(m - ic) : (int)MR;
                int64_t ro[MR_NARROW > MR_WIDE ? MR_NARROW : MR_WIDE];
                for (int64_t i = 0; i < MR; i++) ro[i] = (i < mr ? i : mr - 1) * rs;
                const float *ablk = a + ic * rs + pc * cs;
                for (int64_t p = 0; p < panels; p++) {
                    const int64_t j0 = jc + p * NR;
                    block_out o = {c + ic * ldc + j0, ldc, mr, (int)(n - j0 < NR ? n - j0 : NR), alpha, beta,
                                   bias ? bias + j0 : NULL, pc == 0};
                    if (narrow) micro_narrow(kc, ablk, ro, cs, pan[p], pan_stride[p], &o);
                    else micro_wide(kc, ablk, ro, cs, pan[p], pan_stride[p], &o);
                }
            }
        }
    }
}

bool lra_sgemm_tile_available(void) { return true; }

// Where the kernel beats OpenBLAS (one thread, AVX-512 and AVX2, against OpenBLAS's kernels for the same
// units; docs/ARCHITECTURE.md): thin products (a side of at most 64, or an inner length of at most 128),
// where packing A does not pay; panels mostly full (a ragged last panel computes its padding); and,
// when B must be transposed into panels, enough rows of A, or of A and columns together, to pay for
// that (Q K^T over a block of 64 query rows qualifies).  Tiny products stay with BLAS.
bool lra_sgemm_tile_suits(bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
    (void)ta;
    if (m * n * k < 32768) return false;
    const int thin = m <= 64 || n <= 64 || k <= 128;
    const int full = n <= NR_NARROW ? n % (NR_NARROW / 2) == 0 : (n % NR_WIDE == 0 || n >= 8 * NR_WIDE);
    return thin && full && (!tb || m >= 256 || (m >= 64 && n >= 256));
}

#else  // no AVX2 with FMA: lra_gemm keeps BLAS

void lra_sgemm_tile(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, const float *bias, float *c, int64_t ldc) {
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb, (void)beta;
    (void)bias;
    (void)c, (void)ldc;
    LRA_SGEMM_UNREACHABLE();
}

bool lra_sgemm_tile_available(void) { return false; }

bool lra_sgemm_tile_suits(bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
    (void)ta, (void)tb, (void)m, (void)n, (void)k;
    return false;
}

#endif
