// Benchmark of the dataset cache on a synthetic ListOps-sized training set: 96,000 examples of
// 501..1999 tokens (ids 1..16, ~120 M tokens, as the real basic_train.tsv after tokenisation).
// Prints the time to write the cache and the time to load it (best of 3); the load must take
// under 2 s (the program exits 1 otherwise).  Usage: bench_cache [DIR] (default /tmp).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/cache.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/lra_bench_cache_%d.lrac", dir, (int)getpid());
    const int64_t rows = 96000;
    lra_dataset ds;
    lra_dataset_init(&ds, 1, 17, 10);
    lra_dataset_reserve(&ds, rows, rows * 1250);
    uint16_t *buf = malloc(2000 * sizeof *buf);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < rows; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t len = 501 + (int64_t)((x >> 33) % 1499);
        // ListOps-like mix: about 70 % digits, 10 % operators, 20 % closing brackets.
        for (int64_t k = 0; k < len; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t r = (uint32_t)(x >> 40) % 100;
            buf[k] = (uint16_t)(r < 70 ? 1 + r % 10 : r < 80 ? 11 + r % 4 : 15);
        }
        lra_dataset_push1(&ds, buf, len, (int32_t)((x >> 20) % 10));
    }
    free(buf);
    int64_t ntok = lra_dataset_num_tokens(&ds);

    double t0 = now_s();
    if (lra_cache_save(path, "bench", &ds) != LRA_OK) {
        fprintf(stderr, "bench_cache: %s\n", lra_error_message());
        return 1;
    }
    double t_save = now_s() - t0;
    struct stat st;
    stat(path, &st);

    double best = 1e30;
    int ok = 1;
    for (int rep = 0; rep < 3; rep++) {
        lra_dataset back;
        t0 = now_s();
        lra_status s = lra_cache_load(path, "bench", &back);
        double t = now_s() - t0;
        if (s != LRA_OK) {
            fprintf(stderr, "bench_cache: %s\n", lra_error_message());
            ok = 0;
            break;
        }
        if (back.count != ds.count || lra_dataset_num_tokens(&back) != ntok ||
            memcmp(back.tokens, ds.tokens, (size_t)ntok * sizeof *ds.tokens) != 0) {
            fprintf(stderr, "bench_cache: loaded data differ\n");
            ok = 0;
        }
        lra_dataset_free(&back);
        if (t < best) best = t;
    }
    remove(path);
    lra_dataset_free(&ds);
    printf("bench_cache: %lld examples, %.1f M tokens; file %.1f MB; save %.2f s; load %.3f s (best of 3, limit 2 s)\n",
           (long long)rows, (double)ntok / 1e6, (double)st.st_size / 1e6, t_save, best);
    if (!ok || best >= 2.0) {
        printf("bench_cache: FAIL\n");
        return 1;
    }
    return 0;
}
