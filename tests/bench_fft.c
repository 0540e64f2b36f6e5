// FFT micro-benchmark: rfft + irfft of a batch of 64 signals for several lengths, on 1 thread and on
// all threads.  "ns/(n log2 n)" is the time of one rfft+irfft pair divided by n log2 n, and GFLOP/s
// uses the conventional count of 2.5 n log2 n flops per real transform (5 n log2 n for the pair).
// Each batch is timed on its own and the fastest and the median are shown, so that other processes on
// a shared machine disturb the figures less.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/fft.h"
#include "core/rng.h"
#include "core/threads.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    static const int64_t ns[] = {1024, 2048, 4096, 4000, 16384, 4093};
    const int64_t batch = 64;
    const int max_threads = lra_threads_cores();
    printf("bench_fft: rfft+irfft, batch %lld (ms per batch; best pair: ns/(n log2 n), GFLOP/s at 5 n log2 n)\n",
           (long long)batch);
    printf("%8s %8s %10s %10s %14s %10s\n", "n", "threads", "best ms", "median ms", "ns/(nlog2n)", "GFLOP/s");
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int64_t n = ns[c], nb = n / 2 + 1;
        float *x = malloc((size_t)(batch * n) * sizeof(float));
        float *X = malloc((size_t)(batch * nb * 2) * sizeof(float));
        float *y = malloc((size_t)(batch * n) * sizeof(float));
        lra_rng_fill_uniform(1, 2, 0, x, (size_t)(batch * n));
        const lra_fft_plan *p = lra_fft_plan_get(n);
        lra_fft_layout fwd = {1, batch, 0, n, 1, 0, 2 * nb, 2};
        lra_fft_layout inv = {1, batch, 0, 2 * nb, 2, 0, n, 1};
        for (int threads = 1; threads <= max_threads; threads = threads == max_threads ? threads + 1 : max_threads) {
            lra_threads_set(threads);
            lra_fft_many(p, LRA_FFT_RFFT, &fwd, x, X);  // warm-up (scratch, caches)
            lra_fft_many(p, LRA_FFT_IRFFT, &inv, X, y);
            enum { MAX_REPS = 400 };
            double times[MAX_REPS], start = now_s();
            int reps = 0;
            while (reps < MAX_REPS && (reps < 5 || now_s() - start < 0.3)) {
                double t0 = now_s();
                lra_fft_many(p, LRA_FFT_RFFT, &fwd, x, X);
                lra_fft_many(p, LRA_FFT_IRFFT, &inv, X, y);
                times[reps++] = now_s() - t0;
            }
            qsort(times, (size_t)reps, sizeof times[0], cmp_double);
            double best = times[0], median = times[reps / 2];
            double nlogn = (double)n * log2((double)n);
            double per_pair = best / (double)batch;
            printf("%8lld %8d %10.3f %10.3f %14.3f %10.2f\n", (long long)n, threads, best * 1e3, median * 1e3,
                   per_pair * 1e9 / nlogn, 5.0 * nlogn / per_pair * 1e-9);
        }
        double err = 0;
        for (int64_t i = 0; i < batch * n; i++) err = fmax(err, fabs(y[i] - x[i]));
        if (err > 1e-5) {
            fprintf(stderr, "bench_fft: round-trip error %g at n=%lld\n", err, (long long)n);
            return 1;
        }
        free(x), free(X), free(y);
    }
    lra_fft_cache_clear();
    return 0;
}
