// Vectorised exponentials for hot loops.  The C library's expf is a call per element that the compiler
// cannot vectorise without -ffast-math (which this project never sets), so kernels use these: Cody-Waite
// range reduction x = k ln2 + r, |r| <= ln2/2, and a degree-6 minimax polynomial for e^r (Cephes'
// coefficients).  Relative error below 1e-7 over the float range; inputs below -87.3 (including -inf)
// give exactly 0, above 88.7 give +inf.  Written with GCC vector extensions so that the bit-level
// construction of 2^k stays in registers; the scalar lra_expf gives bit-identical results.
// lra_expf is the same algorithm written per element (branch-free and always inlined, so a plain loop
// over it vectorises, as in GELU); it gives the vector routine's results bit for bit.
#ifndef LRA_CORE_FASTMATH_H
#define LRA_CORE_FASTMATH_H

#include <math.h>
#include <stdint.h>
#if defined(__AVX__) || defined(__FMA__)
#include <immintrin.h>
#endif

typedef float lra_v8f __attribute__((vector_size(32)));
typedef int32_t lra_v8i __attribute__((vector_size(32)));
typedef double lra_v4d __attribute__((vector_size(32)));
typedef float lra_v4f __attribute__((vector_size(16)));
typedef int32_t lra_v4i __attribute__((vector_size(16)));

#define LRA_EXP_HI 88.72283935546875f
#define LRA_EXP_LO (-87.33654022216797f)

// Per-lane select: mask lanes are all ones (take a) or all zeros (take b), as vector comparisons give.
static inline lra_v8f lra_v8_select(lra_v8i mask, lra_v8f a, lra_v8f b) {
    return (lra_v8f)((mask & (lra_v8i)a) | (~mask & (lra_v8i)b));
}

// A vector of eight copies of c (a constant, so no multiply by 0 is needed to broadcast it).
#define LRA_V8F(c) ((lra_v8f){(c), (c), (c), (c), (c), (c), (c), (c)})

// a * b + c.  Where the CPU has FMA (the build is -march=native) it is one fused, once-rounded operation:
// the polynomials below are chains of them, and fusing halves their instruction count.  Elsewhere it is
// a multiply and an add (ISO C mode never contracts them itself).  The scalar and vector forms round
// alike, so scalar tails keep matching vector bodies bit for bit; results may differ between CPUs with
// and without FMA (as OpenBLAS's kernels already do), never between thread counts.
#ifdef __FMA__
#define LRA_FMA_V8(a, b, c) ((lra_v8f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define LRA_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define LRA_FMA_V8(a, b, c) ((a) * (b) + (c))
#define LRA_FMAF(a, b, c) ((a) * (b) + (c))
#endif

// min(hi, x) and max(lo, x) with x's NaN passed through (x > hi ? hi : x, x < lo ? lo : x): one
// instruction each with AVX, a compare and a select without.
static inline lra_v8f lra_v8_min_keep_nan(lra_v8f hi, lra_v8f x) {
#ifdef __AVX__
    return (lra_v8f)_mm256_min_ps((__m256)hi, (__m256)x);  // (hi < x) ? hi : x
#else
    return lra_v8_select(x > hi, hi, x);
#endif
}
static inline lra_v8f lra_v8_max_keep_nan(lra_v8f lo, lra_v8f x) {
#ifdef __AVX__
    return (lra_v8f)_mm256_max_ps((__m256)lo, (__m256)x);  // (lo > x) ? lo : x
#else
    return lra_v8_select(x < lo, lo, x);
#endif
}

static inline lra_v8f lra_exp_v8(lra_v8f x) {
    const lra_v8f hi = LRA_V8F(LRA_EXP_HI), lo = LRA_V8F(LRA_EXP_LO);
    const lra_v8f xc = lra_v8_max_keep_nan(lo, lra_v8_min_keep_nan(hi, x));
    // round(xc / ln2) by the 1.5 * 2^23 trick (round to nearest; |xc / ln2| < 2^22)
    const lra_v8f magic = LRA_V8F(12582912.0f);
    const lra_v8f k = LRA_FMA_V8(xc, LRA_V8F(1.44269504088896341f), magic) - magic;
    lra_v8f r = LRA_FMA_V8(k, LRA_V8F(-0.693359375f), xc);
    r = LRA_FMA_V8(k, LRA_V8F(2.12194440e-4f), r);
    lra_v8f p = LRA_V8F(1.9875691500e-4f);
    p = LRA_FMA_V8(p, r, LRA_V8F(1.3981999507e-3f));
    p = LRA_FMA_V8(p, r, LRA_V8F(8.3334519073e-3f));
    p = LRA_FMA_V8(p, r, LRA_V8F(4.1665795894e-2f));
    p = LRA_FMA_V8(p, r, LRA_V8F(1.6666665459e-1f));
    p = LRA_FMA_V8(p, r, LRA_V8F(5.0000001201e-1f));
    p = LRA_FMA_V8(p, r * r, r) + 1.0f;
    const lra_v8i ki = __builtin_convertvector(k, lra_v8i);
    const lra_v8f scale = (lra_v8f)((ki + 127) << 23);
    lra_v8f y = p * scale;
    y = lra_v8_select(x < lo, LRA_V8F(0.0f), y);  // also -inf and NaN-free masked scores -> exactly 0
    return lra_v8_select(x > hi, LRA_V8F(INFINITY), y);
}

#ifdef __AVX512F__
// lra_exp_v8 on sixteen lanes: the same operations per lane, so the same bits.  The exponential is a
// chain of a dozen dependent operations; with sixteen lanes per instruction the loops below keep twice
// as many elements in flight, which is what bounds them (about 1.5 cycles per element with eight lanes).
static inline __m512 lra_exp_v16(__m512 x) {
    const __m512 hi = _mm512_set1_ps(LRA_EXP_HI), lo = _mm512_set1_ps(LRA_EXP_LO);
    const __m512 xc = _mm512_max_ps(lo, _mm512_min_ps(hi, x));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512 k = _mm512_sub_ps(_mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), magic), magic);
    __m512 r = _mm512_fmadd_ps(k, _mm512_set1_ps(-0.693359375f), xc);
    r = _mm512_fmadd_ps(k, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    const __m512i ki = _mm512_cvttps_epi32(k);
    const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ki, _mm512_set1_epi32(127)), 23));
    __m512 y = _mm512_mul_ps(p, scale);
    y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), y, _mm512_setzero_ps());
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), y, _mm512_set1_ps(INFINITY));
}
#endif

// exp of one value: lra_exp_v8's operations on one lane, in the same order (fused where it fuses; ISO C mode contracts no
// multiply-add), so scalar tails and auto-vectorised loops match the vector body bit for bit.
static inline __attribute__((always_inline)) float lra_expf(float x) {
    float xc = x > LRA_EXP_HI ? LRA_EXP_HI : x;
    xc = xc < LRA_EXP_LO ? LRA_EXP_LO : xc;
    const float k = LRA_FMAF(xc, 1.44269504088896341f, 12582912.0f) - 12582912.0f;
    float r = LRA_FMAF(k, -0.693359375f, xc);
    r = LRA_FMAF(k, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = LRA_FMAF(p, r, 1.3981999507e-3f);
    p = LRA_FMAF(p, r, 8.3334519073e-3f);
    p = LRA_FMAF(p, r, 4.1665795894e-2f);
    p = LRA_FMAF(p, r, 1.6666665459e-1f);
    p = LRA_FMAF(p, r, 5.0000001201e-1f);
    p = LRA_FMAF(p, r * r, r) + 1.0f;
    const int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    const float y = x < LRA_EXP_LO ? 0.0f : p * scale;
    return x > LRA_EXP_HI ? INFINITY : y;
}

// sum_c a[c] b[c] for c < n in a fixed order: eight lane sums over chunks of 8 (fused multiply-adds where
// the CPU has them), the lanes added pairwise (0+4, 1+5, ..., then halves), then the tail in order.  The
// same bits for any thread count; vectorised, unlike a plain sequential float sum the compiler may not
// reorder.
static inline float lra_dotf(const float *a, const float *b, int64_t n) {
    lra_v8f acc = LRA_V8F(0.0f);
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        lra_v8f va, vb;
        __builtin_memcpy(&va, a + c, sizeof va);
        __builtin_memcpy(&vb, b + c, sizeof vb);
        acc = LRA_FMA_V8(va, vb, acc);
    }
    const float h0 = acc[0] + acc[4], h1 = acc[1] + acc[5], h2 = acc[2] + acc[6], h3 = acc[3] + acc[7];
    float s = (h0 + h2) + (h1 + h3);
    for (; c < n; c++) s = LRA_FMAF(a[c], b[c], s);
    return s;
}

// Four dot products of a with b0..b3 (each of length n), each bit-identical to lra_dotf: the four lane
// reductions are done together by transposing, which costs a quarter of four separate ones.
static inline void lra_dotf4(const float *a, const float *b0, const float *b1, const float *b2, const float *b3,
                             int64_t n, float out[4]) {
    lra_v8f c0 = LRA_V8F(0.0f), c1 = c0, c2 = c0, c3 = c0;
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        lra_v8f va, v0, v1, v2, v3;
        __builtin_memcpy(&va, a + c, sizeof va);
        __builtin_memcpy(&v0, b0 + c, sizeof v0);
        __builtin_memcpy(&v1, b1 + c, sizeof v1);
        __builtin_memcpy(&v2, b2 + c, sizeof v2);
        __builtin_memcpy(&v3, b3 + c, sizeof v3);
        c0 = LRA_FMA_V8(va, v0, c0), c1 = LRA_FMA_V8(va, v1, c1);
        c2 = LRA_FMA_V8(va, v2, c2), c3 = LRA_FMA_V8(va, v3, c3);
    }
    // h_k[l] = c_k[l] + c_k[l + 4]
    const lra_v4f h0 = __builtin_shufflevector(c0, c0, 0, 1, 2, 3) + __builtin_shufflevector(c0, c0, 4, 5, 6, 7);
    const lra_v4f h1 = __builtin_shufflevector(c1, c1, 0, 1, 2, 3) + __builtin_shufflevector(c1, c1, 4, 5, 6, 7);
    const lra_v4f h2 = __builtin_shufflevector(c2, c2, 0, 1, 2, 3) + __builtin_shufflevector(c2, c2, 4, 5, 6, 7);
    const lra_v4f h3 = __builtin_shufflevector(c3, c3, 0, 1, 2, 3) + __builtin_shufflevector(c3, c3, 4, 5, 6, 7);
    // e = {h0[0] + h0[2], h1[0] + h1[2], h2[0] + h2[2], h3[0] + h3[2]}, o likewise with lanes 1 and 3
    const lra_v4f t01 = __builtin_shufflevector(h0, h1, 0, 4, 1, 5) + __builtin_shufflevector(h0, h1, 2, 6, 3, 7);
    const lra_v4f t23 = __builtin_shufflevector(h2, h3, 0, 4, 1, 5) + __builtin_shufflevector(h2, h3, 2, 6, 3, 7);
    const lra_v4f e = __builtin_shufflevector(t01, t23, 0, 1, 4, 5), o = __builtin_shufflevector(t01, t23, 2, 3, 6, 7);
    const lra_v4f r = e + o;
    float s0 = r[0], s1 = r[1], s2 = r[2], s3 = r[3];
    if (n % 8)  // (the test keeps GCC from warning about the dead loop when n is a constant multiple of 8)
        for (; c < n; c++) {
            s0 = LRA_FMAF(a[c], b0[c], s0), s1 = LRA_FMAF(a[c], b1[c], s1);
            s2 = LRA_FMAF(a[c], b2[c], s2), s3 = LRA_FMAF(a[c], b3[c], s3);
        }
    out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

// Adds the eight lanes of v, widened to double, to the lane accumulators lo (lanes 0-3) and hi (4-7).
static inline void lra_v8_add_to_double_lanes(lra_v4d *lo, lra_v4d *hi, lra_v8f v) {
    const lra_v4f lo4 = {v[0], v[1], v[2], v[3]}, hi4 = {v[4], v[5], v[6], v[7]};
    *lo += __builtin_convertvector(lo4, lra_v4d);
    *hi += __builtin_convertvector(hi4, lra_v4d);
}

// The eight double lanes (lo = 0-3, hi = 4-7) added pairwise in a fixed order: the one lane reduction of the
// fixed-lane sums below.
static inline double lra_double_lanes_total(lra_v4d lo, lra_v4d hi) {
    return ((lo[0] + lo[1]) + (lo[2] + lo[3])) + ((hi[0] + hi[1]) + (hi[2] + hi[3]));
}

// sum_j x[j] in double over 8 lanes in a fixed order (lane l takes j = l mod 8 of the 8-blocks; then the
// lanes in order, then the tail): vectorised, and the same bits for any thread count.
static inline double lra_sum_double(const float *x, int64_t n) {
    lra_v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        lra_v8f v;
        __builtin_memcpy(&v, x + j, sizeof v);
        lra_v8_add_to_double_lanes(&lo, &hi, v);
    }
    double s = lra_double_lanes_total(lo, hi);
    for (; j < n; j++) s += (double)x[j];
    return s;
}

// sum_j a[j] b[j] (both float), each product and the sum in double, over 8 lanes in a fixed order like
// lra_sum_double: the attention backwards' row terms D_i = dO_i . O_i.
static inline double lra_dot_double(const float *a, const float *b, int64_t n) {
    lra_v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const lra_v4f a0 = {a[j], a[j + 1], a[j + 2], a[j + 3]}, a1 = {a[j + 4], a[j + 5], a[j + 6], a[j + 7]};
        const lra_v4f b0 = {b[j], b[j + 1], b[j + 2], b[j + 3]}, b1 = {b[j + 4], b[j + 5], b[j + 6], b[j + 7]};
        lo += __builtin_convertvector(a0, lra_v4d) * __builtin_convertvector(b0, lra_v4d);
        hi += __builtin_convertvector(a1, lra_v4d) * __builtin_convertvector(b1, lra_v4d);
    }
    double s = lra_double_lanes_total(lo, hi);
    for (; j < n; j++) s += (double)a[j] * b[j];
    return s;
}

// sum_j a[j] b[j] in double (a float, b double) over 8 lanes in a fixed order, like lra_sum_double.
static inline double lra_dot_float_double(const float *a, const double *b, int64_t n) {
    lra_v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const lra_v4f a0 = {a[j], a[j + 1], a[j + 2], a[j + 3]}, a1 = {a[j + 4], a[j + 5], a[j + 6], a[j + 7]};
        lra_v4d b0, b1;
        __builtin_memcpy(&b0, b + j, sizeof b0);
        __builtin_memcpy(&b1, b + j + 4, sizeof b1);
        lo += __builtin_convertvector(a0, lra_v4d) * b0;
        hi += __builtin_convertvector(a1, lra_v4d) * b1;
    }
    double s = lra_double_lanes_total(lo, hi);
    for (; j < n; j++) s += (double)a[j] * b[j];
    return s;
}

// x[j] = exp(x[j] - shift) for j < n.  With `sum` set, returns the sum of the results accumulated in
// double over 8 lanes, chunk by chunk, then the lanes in order (a fixed order, independent of threads);
// otherwise returns 0.  The main loop computes four independent vectors at a time (the polynomial is a
// long dependency chain) and still adds them to the lanes in chunk order.
static inline __attribute__((always_inline)) double lra_exp_shift_impl(float *x, int64_t n, float shift, int sum) {
    lra_v4d acc_lo = {0, 0, 0, 0}, acc_hi = {0, 0, 0, 0};
    int64_t j = 0;
#ifdef __AVX512F__
    {  // 64 elements at a time; lane l of the eight double lanes still takes elements l mod 8, in order
        __m512d acc = _mm512_setzero_pd();
        const __m512 sh = _mm512_set1_ps(shift);
        for (; j + 64 <= n; j += 64) {
            __m512 v[4];
            for (int u = 0; u < 4; u++) v[u] = lra_exp_v16(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16 * u), sh));
            for (int u = 0; u < 4; u++) _mm512_storeu_ps(x + j + 16 * u, v[u]);
            if (sum)
                for (int u = 0; u < 4; u++) {
                    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v[u])));
                    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[u]), 1))));
                }
        }
        acc_lo = (lra_v4d)_mm512_castpd512_pd256(acc);
        acc_hi = (lra_v4d)_mm512_extractf64x4_pd(acc, 1);
    }
#endif
    for (; j + 32 <= n; j += 32) {
        lra_v8f v0, v1, v2, v3;  // named, not an array: GCC keeps them in registers on AVX2
        __builtin_memcpy(&v0, x + j, sizeof v0);
        __builtin_memcpy(&v1, x + j + 8, sizeof v1);
        __builtin_memcpy(&v2, x + j + 16, sizeof v2);
        __builtin_memcpy(&v3, x + j + 24, sizeof v3);
        v0 = lra_exp_v8(v0 - shift), v1 = lra_exp_v8(v1 - shift);
        v2 = lra_exp_v8(v2 - shift), v3 = lra_exp_v8(v3 - shift);
        __builtin_memcpy(x + j, &v0, sizeof v0);
        __builtin_memcpy(x + j + 8, &v1, sizeof v1);
        __builtin_memcpy(x + j + 16, &v2, sizeof v2);
        __builtin_memcpy(x + j + 24, &v3, sizeof v3);
        if (sum) {
            lra_v8_add_to_double_lanes(&acc_lo, &acc_hi, v0), lra_v8_add_to_double_lanes(&acc_lo, &acc_hi, v1);
            lra_v8_add_to_double_lanes(&acc_lo, &acc_hi, v2), lra_v8_add_to_double_lanes(&acc_lo, &acc_hi, v3);
        }
    }
    for (; j + 8 <= n; j += 8) {
        lra_v8f v;
        __builtin_memcpy(&v, x + j, sizeof v);
        v = lra_exp_v8(v - shift);
        __builtin_memcpy(x + j, &v, sizeof v);
        if (sum) lra_v8_add_to_double_lanes(&acc_lo, &acc_hi, v);
    }
    double tail = 0;
    for (; j < n; j++) {
        x[j] = lra_expf(x[j] - shift);
        if (sum) tail += (double)x[j];
    }
    if (!sum) return 0.0;
    const double lanes[8] = {acc_lo[0], acc_lo[1], acc_lo[2], acc_lo[3], acc_hi[0], acc_hi[1], acc_hi[2], acc_hi[3]};
    double s = 0;
    for (int l = 0; l < 8; l++) s += lanes[l];
    return s + tail;
}

// x[j] = exp(x[j] - shift) for j < n; returns their sum (see lra_exp_shift_impl).
static inline double lra_exp_shift_sum(float *x, int64_t n, float shift) { return lra_exp_shift_impl(x, n, shift, 1); }

// x[j] = exp(x[j] - shift) for j < n, without the sum.
static inline void lra_exp_shift(float *x, int64_t n, float shift) { (void)lra_exp_shift_impl(x, n, shift, 0); }

// The one exact-softmax row routine (the softmax op and the attention kernels share it).  row holds the
// logits, masked entries at -inf; on return it holds the probabilities exp(x - max) / sum and the result
// is the log-sum-exp max + log(sum) (kept by kernels to recompute rows in backward).  A row of only -inf
// becomes zeros and returns -inf.  The sum is taken in double over fixed vector lanes, so it does not
// depend on threads.
static inline float lra_softmax_row(float *row, int64_t n) {
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    if (mx == -INFINITY) {
        for (int64_t j = 0; j < n; j++) row[j] = 0.0f;
        return -INFINITY;
    }
    const double sum = lra_exp_shift_sum(row, n, mx);
    const float inv = (float)(1.0 / sum);
#pragma omp simd
    for (int64_t j = 0; j < n; j++) row[j] *= inv;
    return mx + (float)log(sum);
}

// The probabilities of a row again from its logits and the log-sum-exp of the forward pass.
static inline void lra_softmax_row_from_lse(float *row, int64_t n, float lse) { lra_exp_shift(row, n, lse); }

// arccos(x) for x in [-1, 1] without a library call, so loops over it vectorise (YOSO's expected
// collision probabilities evaluate it for every (query, key) pair).  |a| <= 1/2: acos = pi/2 - asin(a);
// |a| > 1/2: acos(|a|) = 2 asin(sqrt((1 - |a|) / 2)); x < 0: pi - acos(|x|).  asin(s) = s + s z P(z) with
// z = s^2 <= 1/4 and Cephes' degree-4 minimax P.  Absolute error below 4e-7, about one float ulp of pi
// (tests/test_fastmath.c).
static inline __attribute__((always_inline)) float lra_acosf(float x) {
    const float a = x < 0.0f ? -x : x;
    const int big = a > 0.5f;
    const float z = big ? 0.5f * (1.0f - a) : a * a;
    const float s = big ? sqrtf(z) : a;
    const float poly = (((4.2163199048e-2f * z + 2.4181311049e-2f) * z + 4.5470025998e-2f) * z + 7.4953002686e-2f) * z +
                       1.6666752422e-1f;
    const float asin_s = s + s * z * poly;
    const float r = big ? 2.0f * asin_s : 1.5707963267948966f - asin_s;
    return x < 0.0f ? 3.14159265358979f - r : r;
}

// GELU runs on every MLP activation, and glibc's erff/expf are scalar calls (~5-10x slower than a
// vectorised polynomial), so GELU uses these branch-free approximations, which the compiler vectorises.
// Accuracy: lra_erf_fast within 1.6e-7 absolute of erf (about 2.5 float ulps), lra_expf
// within 1e-7 relative; GELU's largest absolute error over [-12, 12] equals that of the erff form (4.5e-7, the
// rounding of 0.5 x (1 + erf)).  Coefficients: mpmath.chebyfit (dps 30) of erf(sqrt(u))/sqrt(u) on
// u in [0, 1] (8 terms) and of erfc(x) exp(x^2) at x = 2.465 + 1.465 s, s in [-1, 1] (12 terms).

// erf(x): x P(x^2) for |x| < 1; else sign(x) (1 - e^{-x^2} Q(s)) with s = (|x| - 2.465) / 1.465, |x|
// clamped to [1, 3.93] (beyond 3.93 erf rounds to +-1 in float).  Both branches are computed and one is
// selected, so the loop has no branches.  Always inlined: a call would stop the loop vectorising.
static inline __attribute__((always_inline)) float lra_erf_fast(float x) {
    float a = fabsf(x), u = x * x;
    float pa = -9.667044571e-06f;
    pa = LRA_FMAF(pa, u, 1.126595903e-04f);
    pa = LRA_FMAF(pa, u, -8.484080406e-04f);
    pa = LRA_FMAF(pa, u, 5.221031808e-03f);
    pa = LRA_FMAF(pa, u, -2.686543073e-02f);
    pa = LRA_FMAF(pa, u, 1.128378250e-01f);
    pa = LRA_FMAF(pa, u, -3.761263847e-01f);
    pa = LRA_FMAF(pa, u, 1.128379167e+00f);
    float ac = a < 1.0f ? 1.0f : a;
    ac = ac > 3.93f ? 3.93f : ac;
    float s = (ac - 2.465f) * (1.0f / 1.465f);
    float q = -3.006762773e-05f;
    q = LRA_FMAF(q, s, 8.254184181e-05f);
    q = LRA_FMAF(q, s, -1.314763423e-04f);
    q = LRA_FMAF(q, s, 3.341463525e-04f);
    q = LRA_FMAF(q, s, -9.265011838e-04f);
    q = LRA_FMAF(q, s, 2.252567502e-03f);
    q = LRA_FMAF(q, s, -5.258421684e-03f);
    q = LRA_FMAF(q, s, 1.196913508e-02f);
    q = LRA_FMAF(q, s, -2.627362423e-02f);
    q = LRA_FMAF(q, s, 5.536571421e-02f);
    q = LRA_FMAF(q, s, -1.115199603e-01f);
    q = LRA_FMAF(q, s, 2.134394118e-01f);
    float big = LRA_FMAF(-lra_expf(-(ac * ac)), q, 1.0f);
    return a < 1.0f ? x * pa : copysignf(big, x);
}

// GELU, erf form: x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), and its slope Phi(x) + x phi(x) (phi the Gaussian
// pdf).  The MLP's gelu and gelu_dropout ops share these, so the fused op gives the same bits.
static inline __attribute__((always_inline)) float lra_gelu(float x) {
    return 0.5f * x * (1.0f + lra_erf_fast(x * 0.7071067811865476f));
}
static inline __attribute__((always_inline)) float lra_gelu_slope(float x) {
    return 0.5f * (1.0f + lra_erf_fast(x * 0.7071067811865476f)) + x * 0.3989422804014327f * lra_expf(-0.5f * x * x);
}

#endif
