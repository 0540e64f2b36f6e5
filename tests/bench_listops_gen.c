// Benchmark of the ListOps generator: the full default set (96000/2000/2000 rows) into a temporary
// directory, timed in two phases (sampling + de-duplication, then serialization + writing).
//   bench_listops_gen [compat]     compat: the CPython `random` emulation instead of Philox
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"
#include "data/listops_gen.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.compat_python = argc > 1 && strcmp(argv[1], "compat") == 0;
    char tmpl[] = "/tmp/lra_bench_listops_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        return 1;
    }
    double t0 = now_s();
    lra_listops_rows rows;
    lra_status s = lra_listops_generate_rows(&o, &rows);
    double t1 = now_s();
    if (s == LRA_OK) s = lra_listops_write_tsv(&rows, dir);
    double t2 = now_s();
    if (s != LRA_OK) {
        fprintf(stderr, "bench_listops_gen: %s\n", lra_error_message());
        return 1;
    }
    double bytes = 0;
    static const char *const names[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    for (int k = 0; k < 3; k++) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        if (stat(p, &st) == 0) bytes += (double)st.st_size;
        unlink(p);
    }
    rmdir(dir);
    printf("listops_gen (%s): %lld rows (%lld/%lld/%lld), %lld trees drawn, %.0f MB written: "
           "%.2f s total (sampling %.2f s, writing %.2f s)\n",
           o.compat_python ? "compat" : "philox", (long long)rows.count, (long long)rows.n_train,
           (long long)rows.n_val, (long long)rows.n_test, (long long)rows.attempts, bytes / 1e6, t2 - t0,
           t1 - t0, t2 - t1);
    lra_listops_rows_free(&rows);
    return 0;
}
