// The row arithmetic of layer norm, shared by the layer_norm op (core/ops_nn.c) and fused ops that
// normalise rows they gather themselves (s3's output, attention/s3.c), so that both round alike.
//   forward, per row x [d]:  mean = row_sum_d(x, d, 0, 0) / d,  var = row_sum_d(x, d, mean, 1) / d (biased),
//                            rstd = 1 / sqrt(var + eps) (in double, then float);  y = (x - mean) rstd gamma + beta
//   backward: ln_grad_row_sums, then gx = rstd (g - s1/d - xh s2/d); the parameter sums go through
//             per-block partials of LN_BLOCK_ROWS rows, added in block order.
#ifndef LRA_CORE_LAYER_NORM_ROWS_H
#define LRA_CORE_LAYER_NORM_ROWS_H

#include <math.h>
#include <stdint.h>

// Rows per block of the layer-norm parameter-gradient reduction (fixed, so the sum order never depends
// on the thread count).
#define LN_BLOCK_ROWS 64

// sum_i x[i] (squares = 0) or sum_i (x[i] - c)^2 (squares = 1) in double: eight fixed lanes (element i
// goes to lane i % 8, lanes added in order), so the loop vectorises and the order never depends on
// anything but d.
static inline double row_sum_d(const float *x, int64_t d, double c, int squares) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    if (!squares) {
        for (; i + 8 <= d; i += 8)
            for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j];
        for (; i < d; i++) acc[i % 8] += (double)x[i];
    } else {
        for (; i + 8 <= d; i += 8)
            for (int j = 0; j < 8; j++) {
                const double t = (double)x[i + j] - c;
                acc[j] += t * t;
            }
        for (; i < d; i++) acc[i % 8] += ((double)x[i] - c) * ((double)x[i] - c);
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// s1 = sum_i g[i] and s2 = sum_i g[i] xh[i] (g = gy * gamma, xh = (x - mean) * rstd) in double over eight
// fixed lanes, combined as row_sum_d does: vectorised, and the order depends on d only.
static inline void ln_grad_row_sums(const float *xr, const float *gr, const float *gam, float mean, float rstd,
                                    int64_t d, double *s1, double *s2) {
    double a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++) {
            const float xh = (xr[i + j] - mean) * rstd, g = gam ? gr[i + j] * gam[i + j] : gr[i + j];
            a1[j] += (double)g;
            a2[j] += (double)g * (double)xh;
        }
    for (; i < d; i++) {
        const float xh = (xr[i] - mean) * rstd, g = gam ? gr[i] * gam[i] : gr[i];
        a1[i % 8] += (double)g;
        a2[i % 8] += (double)g * (double)xh;
    }
    *s1 = ((a1[0] + a1[1]) + (a1[2] + a1[3])) + ((a1[4] + a1[5]) + (a1[6] + a1[7]));
    *s2 = ((a2[0] + a2[1]) + (a2[2] + a2[3])) + ((a2[4] + a2[5]) + (a2[6] + a2[7]));
}


// One row's mean and 1/std (biased variance, as PyTorch).
static inline void ln_row_stats(const float *x, int64_t d, float eps, float *mean, float *rstd) {
    const double mu = row_sum_d(x, d, 0.0, 0) / (double)d;
    const double v = row_sum_d(x, d, mu, 1) / (double)d;
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(v + (double)eps));
}

// y = (x - mean) rstd gamma + beta for one row (gamma, beta may be NULL).
static inline void ln_row_forward(const float *x, const float *gam, const float *bet, float mean, float rstd,
                                  int64_t d, float *y) {
    for (int64_t i = 0; i < d; i++) {
        float xh = (x[i] - mean) * rstd;
        if (gam) xh *= gam[i];
        y[i] = bet ? xh + bet[i] : xh;
    }
}

// gx = rstd (g - mean(g) - xh mean(g xh)) for one row, g = gy gamma; added to gx when add, else set.
static inline void ln_row_backward(const float *x, const float *gy, const float *gam, float mean, float rstd,
                                   int64_t d, int add, float *gx) {
    double s1, s2;
    ln_grad_row_sums(x, gy, gam, mean, rstd, d, &s1, &s2);
    const float m1 = (float)(s1 / (double)d), m2 = (float)(s2 / (double)d);
    for (int64_t i = 0; i < d; i++) {
        const float xh = (x[i] - mean) * rstd;
        const float g = gam ? gy[i] * gam[i] : gy[i];
        gx[i] = (add ? gx[i] : 0.0f) + rstd * (g - m1 - xh * m2);
    }
}

// The parameter partial sums of one row: pg[i] += gy[i] xh[i], pb[i] += gy[i] (either may be NULL).
static inline void ln_row_param_sums(const float *x, const float *gy, float mean, float rstd, int64_t d, double *pg,
                                     double *pb) {
    if (pg)
        for (int64_t i = 0; i < d; i++) pg[i] += (double)gy[i] * (double)((x[i] - mean) * rstd);
    if (pb)
        for (int64_t i = 0; i < d; i++) pb[i] += (double)gy[i];
}

// gg[i] += sum_blk pg[blk d + i] and gb[i] += sum_blk pb[blk d + i], the nblk partials added in block
// order in double (any of the four may be NULL): the last step of every layer-norm parameter gradient.
static inline void ln_param_partials_add(const double *pg, const double *pb, int64_t nblk, int64_t d, float *gg,
                                         float *gb) {
    if (!gg && !gb) return;
#pragma omp parallel for schedule(static) if (nblk * d >= 16384)
    for (int64_t i = 0; i < d; i++) {
        double sg = 0.0, sb = 0.0;
        for (int64_t blk = 0; blk < nblk; blk++) {
            if (pg) sg += pg[blk * d + i];
            if (pb) sb += pb[blk * d + i];
        }
        if (gg) gg[i] += (float)sg;
        if (gb) gb[i] += (float)sb;
    }
}

#endif
