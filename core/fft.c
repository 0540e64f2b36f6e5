// Real FFTs of any length: a mixed-radix Stockham complex FFT (radix 4, 2, 3, 5, generic odd primes up
// to 31) with a Bluestein fallback, wrapped into real transforms.  See fft.h for the conventions.
//
// Stockham decimation-in-frequency stage of radix P on a sub-length ns = P*m with s interleaved
// sub-problems (s = product of the radices already applied):
//   a_j = x[t + s*(q + m*j)],  y[t + s*(P*q + k)] = w_ns^{q*k} * sum_j a_j w_P^{j*k}
// for q < m, t < s, j, k < P.  The output is in natural order after the last stage (no bit reversal).
//
// Data are split into real and imaginary arrays, and V transforms ("lanes") run together with element
// j of lane v at j*V + v.  Since (t + s*i)*V + v = (t*V + v) + (s*V)*i, V lanes are the same stages
// with s*V in place of s: the innermost loop runs over s*V contiguous doubles and vectorises, even in
// the first stage where s = 1.
#include "core/fft.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

typedef struct {
    double re, im;
} cpx;

static inline cpx c_add(cpx a, cpx b) { return (cpx){a.re + b.re, a.im + b.im}; }
static inline cpx c_sub(cpx a, cpx b) { return (cpx){a.re - b.re, a.im - b.im}; }
static inline cpx c_mul(cpx a, cpx b) { return (cpx){a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
static inline cpx c_conj(cpx a) { return (cpx){a.re, -a.im}; }
static inline cpx c_scale(cpx a, double s) { return (cpx){a.re * s, a.im * s}; }
// -i * a and +i * a
static inline cpx c_mul_mi(cpx a) { return (cpx){a.im, -a.re}; }
static inline cpx c_mul_pi(cpx a) { return (cpx){-a.im, a.re}; }

#define FFT_MAX_STAGES 64
#define FFT_MAX_GENERIC 31  // largest prime done by a direct radix-P stage; larger primes use Bluestein
#define FFT_MAX_LANES 8     // transforms run together by lra_fft_many

// e^{-2 pi i num / den}, with num reduced modulo den first so large products stay exact.
static cpx unit_root(int64_t num, int64_t den) {
    num %= den;
    if (num < 0) num += den;
    // Exact values on the axes so that e.g. w^(n/2) = -1 carries no rounding into the output.
    if ((num * 4) % den == 0) {
        static const cpx axis[4] = {{1, 0}, {0, -1}, {-1, 0}, {0, 1}};
        return axis[(num * 4) / den];
    }
    double a = -2.0 * M_PI * (double)num / (double)den;
    return (cpx){cos(a), sin(a)};
}

typedef struct cplan {
    int64_t n;
    int nstage;
    int radix[FFT_MAX_STAGES];
    int64_t m[FFT_MAX_STAGES];       // sub-length after the stage's split (ns = radix * m)
    int64_t stride[FFT_MAX_STAGES];  // s: interleaved sub-problems before the stage
    cpx *tw[FFT_MAX_STAGES];         // [m * (radix-1)]: tw[q*(P-1) + k-1] = w_ns^{q k}
    cpx *roots[FFT_MAX_STAGES];      // generic radix only: [P] w_P^j
    // Bluestein (bm > 0): X = chirp .* IFFT(FFT(chirp .* x, bm) .* bfft)
    int64_t bm;
    struct cplan *inner;
    cpx *chirp;    // [n] e^{-i pi k^2 / n}
    cpx *bfft;     // [bm] FFT of the conjugate chirp (wrapped), divided by bm
    int64_t work;  // complex scratch elements per lane that cfft_exec needs besides the data
} cplan;

static void cfft_exec(const cplan *p, int64_t V, double *dr, double *di, double *wr, double *wi);

static cplan *cplan_new(int64_t n) {
    cplan *p = lra_xcalloc(1, sizeof *p);
    p->n = n;
    int64_t rem = n;
    int radices[FFT_MAX_STAGES], nr = 0;
    while (rem % 4 == 0) radices[nr++] = 4, rem /= 4;
    while (rem % 2 == 0) radices[nr++] = 2, rem /= 2;
    for (int f = 3; f <= FFT_MAX_GENERIC; f += 2)
        while (rem % f == 0) radices[nr++] = f, rem /= f;
    if (rem > 1) {
        // A prime factor above FFT_MAX_GENERIC: Bluestein on a power-of-two convolution.
        int64_t bm = 1;
        while (bm < 2 * n - 1) bm *= 2;
        p->bm = bm;
        p->inner = cplan_new(bm);
        p->chirp = lra_xmalloc((size_t)n * sizeof(cpx));
        for (int64_t k = 0; k < n; k++) {
            // k^2 mod 2n keeps the angle argument small and exact (128-bit product: a GCC extension).
            int64_t k2 = __extension__(int64_t)(((unsigned __int128)k * (unsigned __int128)k) % (unsigned __int128)(2 * n));
            p->chirp[k] = unit_root(k2, 2 * n);
        }
        double *br = lra_xcalloc((size_t)bm, sizeof(double)), *bi = lra_xcalloc((size_t)bm, sizeof(double));
        br[0] = p->chirp[0].re, bi[0] = -p->chirp[0].im;
        for (int64_t k = 1; k < n; k++) {
            br[k] = br[bm - k] = p->chirp[k].re;
            bi[k] = bi[bm - k] = -p->chirp[k].im;
        }
        double *tr = lra_xmalloc((size_t)p->inner->work * sizeof(double));
        double *ti = lra_xmalloc((size_t)p->inner->work * sizeof(double));
        cfft_exec(p->inner, 1, br, bi, tr, ti);
        p->bfft = lra_xmalloc((size_t)bm * sizeof(cpx));
        for (int64_t k = 0; k < bm; k++) p->bfft[k] = (cpx){br[k] / (double)bm, bi[k] / (double)bm};
        free(br), free(bi), free(tr), free(ti);
        p->work = bm + p->inner->work;
        return p;
    }
    int64_t ns = n, s = 1;
    for (int i = 0; i < nr; i++) {
        int P = radices[i];
        int64_t m = ns / P;
        p->radix[i] = P;
        p->m[i] = m;
        p->stride[i] = s;
        p->tw[i] = lra_xmalloc((size_t)(m * (P - 1)) * sizeof(cpx));
        for (int64_t q = 0; q < m; q++)
            for (int k = 1; k < P; k++) p->tw[i][q * (P - 1) + k - 1] = unit_root(q * k, ns);
        if (P > 5) {
            p->roots[i] = lra_xmalloc((size_t)P * sizeof(cpx));
            for (int j = 0; j < P; j++) p->roots[i][j] = unit_root(j, P);
        }
        ns = m;
        s *= P;
    }
    p->nstage = nr;
    p->work = n;
    return p;
}

static void cplan_free(cplan *p) {
    if (!p) return;
    for (int i = 0; i < p->nstage; i++) {
        free(p->tw[i]);
        free(p->roots[i]);
    }
    if (p->inner) cplan_free(p->inner);
    free(p->chirp);
    free(p->bfft);
    free(p);
}

// ---- butterflies (split real/imaginary arrays; s = contiguous run, already multiplied by V) ------

#define LD(r, i, idx) ((cpx){(r)[idx], (i)[idx]})
#define ST(r, i, idx, v)          \
    do {                          \
        const cpx st_v_ = (v);    \
        (r)[idx] = st_v_.re;      \
        (i)[idx] = st_v_.im;      \
    } while (0)

static void stage_r2(int64_t m, int64_t s, const cpx *tw, const double *restrict xr, const double *restrict xi,
                     double *restrict yr, double *restrict yi) {
    for (int64_t q = 0; q < m; q++) {
        const cpx w1 = tw[q];
        const int64_t i0 = s * q, i1 = s * (q + m), o0 = s * (2 * q), o1 = o0 + s;
        #pragma omp simd
        for (int64_t t = 0; t < s; t++) {
            cpx a0 = LD(xr, xi, i0 + t), a1 = LD(xr, xi, i1 + t);
            ST(yr, yi, o0 + t, c_add(a0, a1));
            ST(yr, yi, o1 + t, c_mul(c_sub(a0, a1), w1));
        }
    }
}

static void stage_r3(int64_t m, int64_t s, const cpx *tw, const double *restrict xr, const double *restrict xi,
                     double *restrict yr, double *restrict yi) {
    const double h = 0.86602540378443864676;  // sin(2 pi / 3)
    for (int64_t q = 0; q < m; q++) {
        const cpx w1 = tw[2 * q], w2 = tw[2 * q + 1];
        const int64_t i0 = s * q, i1 = s * (q + m), i2 = s * (q + 2 * m), o0 = s * (3 * q);
        #pragma omp simd
        for (int64_t t = 0; t < s; t++) {
            cpx a0 = LD(xr, xi, i0 + t), a1 = LD(xr, xi, i1 + t), a2 = LD(xr, xi, i2 + t);
            cpx sum = c_add(a1, a2), dif = c_sub(a1, a2);
            cpx mid = {a0.re - 0.5 * sum.re, a0.im - 0.5 * sum.im};
            cpx rot = c_mul_mi(c_scale(dif, h));  // -i sin(2pi/3) (a1 - a2)
            ST(yr, yi, o0 + t, c_add(a0, sum));
            ST(yr, yi, o0 + s + t, c_mul(c_add(mid, rot), w1));
            ST(yr, yi, o0 + 2 * s + t, c_mul(c_sub(mid, rot), w2));
        }
    }
}

static void stage_r4(int64_t m, int64_t s, const cpx *tw, const double *restrict xr, const double *restrict xi,
                     double *restrict yr, double *restrict yi) {
    for (int64_t q = 0; q < m; q++) {
        const double w1r = tw[3 * q].re, w1i = tw[3 * q].im, w2r = tw[3 * q + 1].re, w2i = tw[3 * q + 1].im;
        const double w3r = tw[3 * q + 2].re, w3i = tw[3 * q + 2].im;
        const double *restrict x0r = xr + s * q, *restrict x0i = xi + s * q;
        const double *restrict x1r = x0r + s * m, *restrict x1i = x0i + s * m;
        const double *restrict x2r = x1r + s * m, *restrict x2i = x1i + s * m;
        const double *restrict x3r = x2r + s * m, *restrict x3i = x2i + s * m;
        double *restrict y0r = yr + s * 4 * q, *restrict y0i = yi + s * 4 * q;
        double *restrict y1r = y0r + s, *restrict y1i = y0i + s;
        double *restrict y2r = y1r + s, *restrict y2i = y1i + s;
        double *restrict y3r = y2r + s, *restrict y3i = y2i + s;
        #pragma omp simd
        for (int64_t t = 0; t < s; t++) {
            const double t0r = x0r[t] + x2r[t], t0i = x0i[t] + x2i[t];
            const double t1r = x0r[t] - x2r[t], t1i = x0i[t] - x2i[t];
            const double t2r = x1r[t] + x3r[t], t2i = x1i[t] + x3i[t];
            // t3 = -i (a1 - a3)
            const double t3r = x1i[t] - x3i[t], t3i = x3r[t] - x1r[t];
            y0r[t] = t0r + t2r;
            y0i[t] = t0i + t2i;
            const double u1r = t1r + t3r, u1i = t1i + t3i;
            const double u2r = t0r - t2r, u2i = t0i - t2i;
            const double u3r = t1r - t3r, u3i = t1i - t3i;
            y1r[t] = u1r * w1r - u1i * w1i;
            y1i[t] = u1r * w1i + u1i * w1r;
            y2r[t] = u2r * w2r - u2i * w2i;
            y2i[t] = u2r * w2i + u2i * w2r;
            y3r[t] = u3r * w3r - u3i * w3i;
            y3i[t] = u3r * w3i + u3i * w3r;
        }
    }
}

static void stage_r5(int64_t m, int64_t s, const cpx *tw, const double *restrict xr, const double *restrict xi,
                     double *restrict yr, double *restrict yi) {
    const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410;  // cos(2pi/5), cos(4pi/5)
    const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;   // sin(2pi/5), sin(4pi/5)
    for (int64_t q = 0; q < m; q++) {
        const cpx w1 = tw[4 * q], w2 = tw[4 * q + 1], w3 = tw[4 * q + 2], w4 = tw[4 * q + 3];
        const int64_t i0 = s * q, i1 = s * (q + m), i2 = s * (q + 2 * m), i3 = s * (q + 3 * m), i4 = s * (q + 4 * m);
        const int64_t o0 = s * (5 * q);
        #pragma omp simd
        for (int64_t t = 0; t < s; t++) {
            cpx a0 = LD(xr, xi, i0 + t), a1 = LD(xr, xi, i1 + t), a2 = LD(xr, xi, i2 + t);
            cpx a3 = LD(xr, xi, i3 + t), a4 = LD(xr, xi, i4 + t);
            cpx b1 = c_add(a1, a4), b2 = c_add(a2, a3), d1 = c_sub(a1, a4), d2 = c_sub(a2, a3);
            cpx r1 = {a0.re + c1 * b1.re + c2 * b2.re, a0.im + c1 * b1.im + c2 * b2.im};
            cpx r2 = {a0.re + c2 * b1.re + c1 * b2.re, a0.im + c2 * b1.im + c1 * b2.im};
            // -i (s1 d1 + s2 d2) and -i (s2 d1 - s1 d2)
            cpx j1 = c_mul_mi((cpx){s1 * d1.re + s2 * d2.re, s1 * d1.im + s2 * d2.im});
            cpx j2 = c_mul_mi((cpx){s2 * d1.re - s1 * d2.re, s2 * d1.im - s1 * d2.im});
            ST(yr, yi, o0 + t, ((cpx){a0.re + b1.re + b2.re, a0.im + b1.im + b2.im}));
            ST(yr, yi, o0 + s + t, c_mul(c_add(r1, j1), w1));
            ST(yr, yi, o0 + 2 * s + t, c_mul(c_add(r2, j2), w2));
            ST(yr, yi, o0 + 3 * s + t, c_mul(c_sub(r2, j2), w3));
            ST(yr, yi, o0 + 4 * s + t, c_mul(c_sub(r1, j1), w4));
        }
    }
}

static void stage_generic(int P, int64_t m, int64_t s, const cpx *tw, const cpx *roots, const double *restrict xr,
                          const double *restrict xi, double *restrict yr, double *restrict yi) {
    cpx a[FFT_MAX_GENERIC];
    for (int64_t q = 0; q < m; q++) {
        for (int64_t t = 0; t < s; t++) {
            for (int j = 0; j < P; j++) a[j] = LD(xr, xi, t + s * (q + j * m));
            const int64_t o = t + s * (P * q);
            cpx sum = a[0];
            for (int j = 1; j < P; j++) sum = c_add(sum, a[j]);
            ST(yr, yi, o, sum);
            for (int k = 1; k < P; k++) {
                cpx acc = a[0];
                int e = 0;
                for (int j = 1; j < P; j++) {
                    e += k;
                    if (e >= P) e -= P;
                    acc = c_add(acc, c_mul(a[j], roots[e]));
                }
                ST(yr, yi, o + s * k, c_mul(acc, tw[q * (P - 1) + k - 1]));
            }
        }
    }
}

// In-place forward complex DFT of V lanes: (dr, di)[j*V + v], j < n; work: 2 x [p->work * V].
static void cfft_exec(const cplan *p, int64_t V, double *dr, double *di, double *wr, double *wi) {
    const int64_t n = p->n;
    if (p->bm) {
        const int64_t bm = p->bm;
        double *ar = wr, *ai = wi, *w2r = wr + bm * V, *w2i = wi + bm * V;
        for (int64_t k = 0; k < n; k++)
            for (int64_t v = 0; v < V; v++) ST(ar, ai, k * V + v, c_mul(LD(dr, di, k * V + v), p->chirp[k]));
        memset(ar + n * V, 0, (size_t)((bm - n) * V) * sizeof(double));
        memset(ai + n * V, 0, (size_t)((bm - n) * V) * sizeof(double));
        cfft_exec(p->inner, V, ar, ai, w2r, w2i);
        // Inverse transform by conjugation: IFFT(u) = conj(FFT(conj u)) (the 1/bm is in bfft).
        for (int64_t k = 0; k < bm; k++)
            for (int64_t v = 0; v < V; v++) ST(ar, ai, k * V + v, c_conj(c_mul(LD(ar, ai, k * V + v), p->bfft[k])));
        cfft_exec(p->inner, V, ar, ai, w2r, w2i);
        for (int64_t k = 0; k < n; k++)
            for (int64_t v = 0; v < V; v++)
                ST(dr, di, k * V + v, c_mul(c_conj(LD(ar, ai, k * V + v)), p->chirp[k]));
        return;
    }
    double *sr = dr, *si = di, *tr = wr, *ti = wi;
    for (int i = 0; i < p->nstage; i++) {
        const int64_t m = p->m[i], s = p->stride[i] * V;
        switch (p->radix[i]) {
        case 2: stage_r2(m, s, p->tw[i], sr, si, tr, ti); break;
        case 3: stage_r3(m, s, p->tw[i], sr, si, tr, ti); break;
        case 4: stage_r4(m, s, p->tw[i], sr, si, tr, ti); break;
        case 5: stage_r5(m, s, p->tw[i], sr, si, tr, ti); break;
        default: stage_generic(p->radix[i], m, s, p->tw[i], p->roots[i], sr, si, tr, ti); break;
        }
        double *t = sr;
        sr = tr, tr = t;
        t = si;
        si = ti, ti = t;
    }
    if (sr != dr) {
        memcpy(dr, sr, (size_t)(n * V) * sizeof(double));
        memcpy(di, si, (size_t)(n * V) * sizeof(double));
    }
}

// ---- real transforms ----------------------------------------------------------------------------

struct lra_fft_plan {
    int64_t n, nb;   // length, number of rfft bins (n/2 + 1)
    int even;        // n even and >= 2: complex FFT of n/2 on (x[2j], x[2j+1])
    cplan *cp;       // length n/2 (even) or n (odd)
    cpx *rtw;        // even: [n/2 + 1] e^{-2 pi i k / n}
    size_t scratch;  // doubles of scratch per lane
    int lanes;       // transforms lra_fft_many runs together
};

lra_fft_plan *lra_fft_plan_new(int64_t n) {
    LRA_ASSERT_MSG(n >= 1, "FFT length %lld < 1", (long long)n);
    lra_fft_plan *p = lra_xcalloc(1, sizeof *p);
    p->n = n;
    p->nb = n / 2 + 1;
    p->even = n % 2 == 0;
    p->cp = cplan_new(p->even ? n / 2 : n);
    if (p->even) {
        p->rtw = lra_xmalloc((size_t)(n / 2 + 1) * sizeof(cpx));
        for (int64_t k = 0; k <= n / 2; k++) p->rtw[k] = unit_root(k, n);
    }
    // z and FFT work (real and imaginary), spectrum [nb] (re, im), real output [n].
    p->scratch = (size_t)(2 * p->cp->n + 2 * p->cp->work + 2 * p->nb + n);
    // Lanes: enough to fill the vector units, few enough that a group's data stays in L2 (measured on
    // a Skylake-X: 8 lanes for n <= 4096, fewer beyond).
    int64_t lanes = 16384 / p->cp->work;
    p->lanes = (int)(lanes < 1 ? 1 : lanes > FFT_MAX_LANES ? FFT_MAX_LANES : lanes);
    return p;
}

void lra_fft_plan_free(lra_fft_plan *p) {
    if (!p) return;
    cplan_free(p->cp);
    free(p->rtw);
    free(p);
}

int64_t lra_fft_plan_length(const lra_fft_plan *p) { return p->n; }

typedef struct {
    int64_t V;
    double *zr, *zi, *wr, *wi, *sr, *si, *real;  // [L*V] x2, [work*V] x2, spectrum [nb*V] x2, [n*V]
} fft_scratch;

static fft_scratch scratch_split(const lra_fft_plan *p, double *buf, int64_t V) {
    fft_scratch s;
    const int64_t L = p->cp->n, W = p->cp->work;
    s.V = V;
    s.zr = buf;
    s.zi = s.zr + L * V;
    s.wr = s.zi + L * V;
    s.wi = s.wr + W * V;
    s.sr = s.wi + W * V;
    s.si = s.sr + p->nb * V;
    s.real = s.si + p->nb * V;
    return s;
}

// x[v]: [n] real at stride xs, v < V -> spectrum (s->sr, s->si)[k*V + v], k < nb
static void rfft_core(const lra_fft_plan *p, const float *const *x, int64_t xs, const fft_scratch *s) {
    const int64_t n = p->n, V = s->V;
    double *zr = s->zr, *zi = s->zi;
    if (!p->even) {
        for (int64_t j = 0; j < n; j++)
            for (int64_t v = 0; v < V; v++) zr[j * V + v] = x[v][j * xs], zi[j * V + v] = 0.0;
        cfft_exec(p->cp, V, zr, zi, s->wr, s->wi);
        memcpy(s->sr, zr, (size_t)(p->nb * V) * sizeof(double));
        memcpy(s->si, zi, (size_t)(p->nb * V) * sizeof(double));
        for (int64_t v = 0; v < V; v++) s->si[v] = 0.0;  // exactly zero for a real signal
        return;
    }
    const int64_t h = n / 2;
    for (int64_t j = 0; j < h; j++)
        for (int64_t v = 0; v < V; v++) zr[j * V + v] = x[v][2 * j * xs], zi[j * V + v] = x[v][(2 * j + 1) * xs];
    cfft_exec(p->cp, V, zr, zi, s->wr, s->wi);
    // Split Z = E + iO into the spectra of the even and odd samples, then X = E + w^k O.
    for (int64_t k = 0; k <= h; k++) {
        const int64_t ik = (k == h ? 0 : k) * V, ir = (k == 0 ? 0 : h - k) * V;
        const cpx w = p->rtw[k];
        for (int64_t v = 0; v < V; v++) {
            cpx zk = LD(zr, zi, ik + v), zc = c_conj(LD(zr, zi, ir + v));
            cpx e = c_scale(c_add(zk, zc), 0.5);
            cpx o = c_scale(c_mul_mi(c_sub(zk, zc)), 0.5);
            ST(s->sr, s->si, k * V + v, c_add(e, c_mul(w, o)));
        }
    }
    for (int64_t v = 0; v < V; v++) s->si[v] = s->si[h * V + v] = 0.0;
}

// spectrum (s->sr, s->si): [nb*V] (modified) -> s->real: [n*V], x = irfft(spectrum) in double
static void irfft_core(const lra_fft_plan *p, const fft_scratch *s) {
    const int64_t n = p->n, V = s->V;
    double *zr = s->zr, *zi = s->zi, *Xr = s->sr, *Xi = s->si, *x = s->real;
    // Hermitian input: the imaginary parts of DC and Nyquist cannot appear in a real signal.
    for (int64_t v = 0; v < V; v++) {
        Xi[v] = 0.0;
        if (p->even) Xi[(n / 2) * V + v] = 0.0;
    }
    if (!p->even) {
        // Inverse by conjugation: x = Re(conj(FFT(conj Xfull))) / n = Re(FFT(conj Xfull)) / n.
        for (int64_t k = 0; k < p->nb; k++)
            for (int64_t v = 0; v < V; v++) zr[k * V + v] = Xr[k * V + v], zi[k * V + v] = -Xi[k * V + v];
        for (int64_t k = p->nb; k < n; k++)
            for (int64_t v = 0; v < V; v++) zr[k * V + v] = Xr[(n - k) * V + v], zi[k * V + v] = Xi[(n - k) * V + v];
        cfft_exec(p->cp, V, zr, zi, s->wr, s->wi);
        const double inv = 1.0 / (double)n;
        for (int64_t i = 0; i < n * V; i++) x[i] = zr[i] * inv;
        return;
    }
    const int64_t h = n / 2;
    for (int64_t k = 0; k < h; k++) {
        const cpx wc = c_conj(p->rtw[k]);
        for (int64_t v = 0; v < V; v++) {
            cpx xk = LD(Xr, Xi, k * V + v), xc = c_conj(LD(Xr, Xi, (h - k) * V + v));
            cpx e = c_scale(c_add(xk, xc), 0.5);
            cpx o = c_scale(c_mul(c_sub(xk, xc), wc), 0.5);
            ST(zr, zi, k * V + v, c_conj(c_add(e, c_mul_pi(o))));  // conj for the inverse-by-conjugation
        }
    }
    cfft_exec(p->cp, V, zr, zi, s->wr, s->wi);
    const double inv = 1.0 / (double)h;
    for (int64_t j = 0; j < h; j++)
        for (int64_t v = 0; v < V; v++) {
            x[(2 * j) * V + v] = zr[j * V + v] * inv;
            x[(2 * j + 1) * V + v] = -zi[j * V + v] * inv;
        }
}

// V transforms of one op; lane v reads in[v] and writes out[v]; strides in floats (complex element k
// at base + k*stride).
static void fft_group(const lra_fft_plan *p, lra_fft_op op, int64_t V, const float *const *in, int64_t is,
                      float *const *out, int64_t os, double *buf) {
    const fft_scratch s = scratch_split(p, buf, V);
    const int64_t n = p->n, nb = p->nb;
    // Interior bins 1..n-nb appear twice in the Hermitian extension.
    const int64_t last_double = n - nb;
    switch (op) {
    case LRA_FFT_RFFT:
        rfft_core(p, in, is, &s);
        for (int64_t k = 0; k < nb; k++)
            for (int64_t v = 0; v < V; v++) {
                out[v][k * os] = (float)s.sr[k * V + v];
                out[v][k * os + 1] = (float)s.si[k * V + v];
            }
        break;
    case LRA_FFT_IRFFT:
        for (int64_t k = 0; k < nb; k++)
            for (int64_t v = 0; v < V; v++) s.sr[k * V + v] = in[v][k * is], s.si[k * V + v] = in[v][k * is + 1];
        irfft_core(p, &s);
        for (int64_t j = 0; j < n; j++)
            for (int64_t v = 0; v < V; v++) out[v][j * os] = (float)s.real[j * V + v];
        break;
    case LRA_FFT_RFFT_BACKWARD:
        // dx = n * irfft(w .* dX), w = 1/2 on the doubled bins.
        for (int64_t k = 0; k < nb; k++) {
            const double w = (k >= 1 && k <= last_double) ? 0.5 : 1.0;
            for (int64_t v = 0; v < V; v++)
                s.sr[k * V + v] = w * in[v][k * is], s.si[k * V + v] = w * in[v][k * is + 1];
        }
        irfft_core(p, &s);
        for (int64_t j = 0; j < n; j++)
            for (int64_t v = 0; v < V; v++) out[v][j * os] += (float)(s.real[j * V + v] * (double)n);
        break;
    case LRA_FFT_IRFFT_BACKWARD:
        rfft_core(p, in, is, &s);
        for (int64_t k = 0; k < nb; k++) {
            const double c = ((k >= 1 && k <= last_double) ? 2.0 : 1.0) / (double)n;
            const int dc_or_nyq = k == 0 || (p->even && k == n / 2);
            for (int64_t v = 0; v < V; v++) {
                out[v][k * os] += (float)(c * s.sr[k * V + v]);
                if (!dc_or_nyq) out[v][k * os + 1] += (float)(c * s.si[k * V + v]);
            }
        }
        break;
    }
}

// Per-thread scratch, grown to the largest need seen on the thread.  A thread key frees it when the
// thread ends (OpenMP ends threads when the thread count goes down).
static _Thread_local double *tl_buf;
static _Thread_local size_t tl_cap;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;
static pthread_key_t tl_key;

static void make_key(void) { pthread_key_create(&tl_key, free); }

static double *thread_scratch(size_t doubles) {
    if (tl_cap < doubles) {
        pthread_once(&tl_once, make_key);
        free(tl_buf);
        tl_buf = lra_xmalloc(doubles * sizeof(double));
        tl_cap = doubles;
        pthread_setspecific(tl_key, tl_buf);
    }
    return tl_buf;
}

static void fft_single(const lra_fft_plan *p, lra_fft_op op, const float *in, int64_t is, float *out, int64_t os) {
    fft_group(p, op, 1, &in, is, &out, os, thread_scratch(p->scratch));
}

void lra_fft_rfft(const lra_fft_plan *p, const float *x, float *X) { fft_single(p, LRA_FFT_RFFT, x, 1, X, 2); }

void lra_fft_irfft(const lra_fft_plan *p, const float *X, float *x) { fft_single(p, LRA_FFT_IRFFT, X, 2, x, 1); }

void lra_fft_rfft_backward(const lra_fft_plan *p, const float *dX, float *dx) {
    fft_single(p, LRA_FFT_RFFT_BACKWARD, dX, 2, dx, 1);
}

void lra_fft_irfft_backward(const lra_fft_plan *p, const float *dx, float *dX) {
    fft_single(p, LRA_FFT_IRFFT_BACKWARD, dx, 1, dX, 2);
}

void lra_fft_many(const lra_fft_plan *p, lra_fft_op op, const lra_fft_layout *l, const float *in, float *out) {
    LRA_ASSERT(l->outer >= 0 && l->inner >= 0);
    const int64_t total = l->outer * l->inner;
    if (total == 0) return;
    const int64_t V = p->lanes;
    const int64_t groups = (total + V - 1) / V;
    // Parallel only when there is enough work to pay for waking the threads.
    const int par = groups > 1 && total * p->n >= 8192;
#pragma omp parallel if (par)
    {
        double *buf = thread_scratch(p->scratch * (size_t)V);
        const float *ins[FFT_MAX_LANES];
        float *outs[FFT_MAX_LANES];
#pragma omp for schedule(static)
        for (int64_t g = 0; g < groups; g++) {
            const int64_t first = g * V, count = total - first < V ? total - first : V;
            for (int64_t v = 0; v < count; v++) {
                const int64_t i = first + v, a = i / l->inner, b = i % l->inner;
                ins[v] = in + a * l->in_outer + b * l->in_inner;
                outs[v] = out + a * l->out_outer + b * l->out_inner;
            }
            fft_group(p, op, count, ins, l->in_stride, outs, l->out_stride, buf);
        }
    }
}

// ---- plan cache ---------------------------------------------------------------------------------

typedef struct cache_entry {
    lra_fft_plan *plan;
    struct cache_entry *next;
} cache_entry;

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry *g_cache;

const lra_fft_plan *lra_fft_plan_get(int64_t n) {
    pthread_mutex_lock(&g_cache_lock);
    cache_entry *e = g_cache;
    while (e && e->plan->n != n) e = e->next;
    if (!e) {
        e = lra_xmalloc(sizeof *e);
        e->plan = lra_fft_plan_new(n);
        e->next = g_cache;
        g_cache = e;
    }
    pthread_mutex_unlock(&g_cache_lock);
    return e->plan;
}

void lra_fft_cache_clear(void) {
    // The calling thread's scratch goes too (other threads keep theirs until they need a larger one).
    free(tl_buf);
    tl_buf = NULL;
    tl_cap = 0;
    pthread_mutex_lock(&g_cache_lock);
    while (g_cache) {
        cache_entry *next = g_cache->next;
        lra_fft_plan_free(g_cache->plan);
        free(g_cache);
        g_cache = next;
    }
    pthread_mutex_unlock(&g_cache_lock);
}
