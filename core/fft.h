// Real FFT and inverse real FFT of any length n >= 1, O(n log n), with the adjoints autograd needs.
//
// Conventions (identical to numpy.fft / torch.fft with norm="backward"):
//   rfft:  X[k] = sum_{j<n} x[j] e^{-2 pi i j k / n},  k = 0..n/2     (nb = n/2 + 1 bins)
//   irfft: x[j] = (1/n) sum_{k<n} Xf[k] e^{+2 pi i j k / n}, where Xf is X extended by Hermitian symmetry
//          (Xf[n-k] = conj X[k]).  Like numpy.fft.irfft(X, n), the imaginary parts of X[0] and, for even
//          n, of X[n/2] are ignored.
// Complex arrays are interleaved floats (re, im).
//
// Implementation: a complex FFT of length n/2 (even n) or n (odd n) with post-processing; the complex
// FFT is a self-sorting (Stockham) mixed-radix transform with radix 4, 2, 3, 5 and generic odd primes
// up to 31; a length with a larger prime factor goes through Bluestein's chirp-z algorithm on a
// power-of-two convolution.  Twiddles are precomputed in double and all arithmetic is in double, so
// results are accurate to float rounding (about 1e-7 relative to the spectrum's norm).
//
// A plan is read-only after creation: any number of threads may use one plan at once.  The calls use a
// per-thread scratch buffer that grows to the largest need seen on that thread (no allocation per
// transform).  lra_fft_many runs up to 8 transforms together, vectorised across the transforms.
//
// Adjoints (for autograd; they ADD into their output, and match torch.autograd with real/imaginary
// parts treated as independent real variables, torch's convention for complex gradients):
//   rfft_backward(dX) -> dx[j] += Re sum_{k<nb} dX[k] e^{+2 pi i j k / n}
//     i.e. dx = n * irfft(w .* dX) with w = 1 at k = 0 and (even n) k = n/2, and 1/2 elsewhere: the
//     interior bins appear once in rfft's output but twice in irfft's Hermitian sum.  The imaginary
//     parts of dX at DC/Nyquist do not reach dx (those outputs of rfft are identically zero).
//   irfft_backward(dx) -> dX[k] += c_k * rfft(dx)[k] / n with c_k = 1 at k = 0 and (even n) k = n/2,
//     and 2 elsewhere (each interior bin feeds two Hermitian terms).  The imaginary parts of dX at
//     DC/Nyquist get 0, since irfft ignores those inputs.
#ifndef LRA_CORE_FFT_H
#define LRA_CORE_FFT_H

#include <stddef.h>
#include <stdint.h>

typedef struct lra_fft_plan lra_fft_plan;

// Plan for real transforms of length n >= 1 (aborts on n < 1).
lra_fft_plan *lra_fft_plan_new(int64_t n);
void lra_fft_plan_free(lra_fft_plan *p);
int64_t lra_fft_plan_length(const lra_fft_plan *p);
// A shared plan from a process-wide cache (created on first use, thread-safe); do not free it.
const lra_fft_plan *lra_fft_plan_get(int64_t n);
// Frees every cached plan and the calling thread's scratch; no plan from lra_fft_plan_get may be in use.
void lra_fft_cache_clear(void);

// x: [n] real -> X: [n/2+1] complex
void lra_fft_rfft(const lra_fft_plan *p, const float *x, float *X);
// X: [n/2+1] complex -> x: [n] real (includes the 1/n factor)
void lra_fft_irfft(const lra_fft_plan *p, const float *X, float *x);
// dX: [n/2+1] complex, dx: [n] real; dx += adjoint of rfft applied to dX (see above)
void lra_fft_rfft_backward(const lra_fft_plan *p, const float *dX, float *dx);
// dx: [n] real, dX: [n/2+1] complex; dX += adjoint of irfft applied to dx (see above)
void lra_fft_irfft_backward(const lra_fft_plan *p, const float *dx, float *dX);

// Many independent transforms along an axis, in parallel (OpenMP over transforms).
typedef enum {
    LRA_FFT_RFFT,           // in real, out complex (overwritten)
    LRA_FFT_IRFFT,          // in complex, out real (overwritten)
    LRA_FFT_RFFT_BACKWARD,  // in complex dX, out real dx (accumulated)
    LRA_FFT_IRFFT_BACKWARD  // in real dx, out complex dX (accumulated)
} lra_fft_op;

// Transform (a, b) for a < outer, b < inner reads element k of its input at
//   in + a*in_outer + b*in_inner + k*in_stride
// and writes element k of its output at out + a*out_outer + b*out_inner + k*out_stride.
// All offsets count floats; a complex element is two adjacent floats (re, im), so a contiguous
// complex axis has stride 2.  E.g. FFT along n of x: [B, n, d] into X: [B, n/2+1, d] (complex):
//   {.outer = B, .inner = d, .in_outer = n*d, .in_inner = 1, .in_stride = d,
//    .out_outer = (n/2+1)*d*2, .out_inner = 2, .out_stride = 2*d}.
// Different transforms must not write the same output floats.
typedef struct {
    int64_t outer, inner;
    int64_t in_outer, in_inner, in_stride;
    int64_t out_outer, out_inner, out_stride;
} lra_fft_layout;

void lra_fft_many(const lra_fft_plan *p, lra_fft_op op, const lra_fft_layout *layout, const float *in,
                  float *out);

#endif
