// Benchmark of the Pathfinder generator: images per second on one thread (in memory, no PNG writing)
// for Pathfinder-32 at the three contour lengths and for Path-X (128x128, contour length 14), in the
// default (Philox) and COMPAT (numpy emulation) modes, plus one run writing PNG files.
// The original Python generator makes about 8 images/s per core at 32x32; the target here is >= 400.
//   bench_pathfinder_gen [seconds_per_case]   (default 1.0)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "data/pathfinder_gen.h"
#include "tests/harness.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// CPU time of the calling thread: per-core rates stay meaningful on a shared, loaded machine.
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Images per CPU-second for one configuration, running until `budget` CPU seconds have passed;
// *wall_rate gets images per wall-clock second.
static double rate(int size, int cl, lra_pathfinder_rng_mode mode, double budget, double *setup_s, double *attempts,
                   double *wall_rate) {
    lra_pathfinder_gen_options o;
    memset(&o, 0, sizeof o);
    if (lra_pathfinder_params_preset(&o.params, size, cl) != LRA_OK) return -1;
    o.rng = mode;
    o.seed = 1;
    o.threads = 1;
    double t0 = now_s();
    lra_pathfinder_gen *g;
    if (lra_pathfinder_gen_new(&o, &g) != LRA_OK) return -1;
    *setup_s = now_s() - t0;
    uint8_t *px = malloc((size_t)size * (size_t)size);
    lra_pathfinder_image_info info;
    long n = 0;
    double att = 0;
    t0 = cpu_s();
    double w0 = now_s(), t = t0;
    while (t - t0 < budget) {
        for (int k = 0; k < 8; k++, n++) {
            if (lra_pathfinder_gen_image(g, n, px, &info) != LRA_OK) return -1;
            att += info.attempts;
        }
        t = cpu_s();
    }
    *wall_rate = (double)n / (now_s() - w0);
    *attempts = att / (double)n;
    free(px);
    lra_pathfinder_gen_free(g);
    return (double)n / (t - t0);
}

int main(int argc, char **argv) {
    double budget = argc > 1 ? atof(argv[1]) : 1.0;
    if (budget <= 0) budget = 1.0;
    printf("pathfinder_gen: images per CPU-second on 1 thread [per wall second] (original: ~8 images/s per core at 32x32)\n");
    static const int cls[3] = {6, 9, 14};
    int fail = 0;
    for (int m = 0; m < 2; m++) {
        lra_pathfinder_rng_mode mode = m == 0 ? LRA_PF_RNG_PHILOX : LRA_PF_RNG_COMPAT;
        for (int c = 0; c < 3; c++) {
            double setup, att, wr, r = rate(32, cls[c], mode, budget, &setup, &att, &wr);
            if (r < 0) fail = 1;
            printf("  32x32   CL %2d %-7s %8.0f img/s [%6.0f]  (%.0fx the original; %.1f two-snake attempts/img; tables %.3f s)\n",
                   cls[c], m == 0 ? "philox" : "compat", r, wr, r / 8.0, att, setup);
        }
        double setup, att, wr, r = rate(128, 14, mode, budget * 2, &setup, &att, &wr);
        if (r < 0) fail = 1;
        printf("  128x128 CL 14 %-7s %8.1f img/s [%6.1f]  (%.1f two-snake attempts/img; tables %.3f s)\n",
               m == 0 ? "philox" : "compat", r, wr, att, setup);
    }
    // with PNG files and metadata (Pathfinder-32 hard, 2000 images, all threads)
    char tmpl[] = "/tmp/lra_bench_pfgen_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (dir) {
        lra_pathfinder_gen_options o;
        memset(&o, 0, sizeof o);
        lra_pathfinder_params_preset(&o.params, 32, 14);
        o.seed = 2;
        o.n_images = 2000;
        double t0 = now_s();
        if (lra_pathfinder_generate(&o, dir) != LRA_OK) {
            fprintf(stderr, "bench_pathfinder_gen: %s\n", lra_error_message());
            fail = 1;
        }
        double t = now_s() - t0;
        printf("  32x32   CL 14 philox, 2000 PNG files + metadata, all threads: %.2f s wall (%.0f img/s)\n", t, 2000 / t);
        lra_test_rmtree(dir);
    }
    return fail;
}
