// Thread-count setup for OpenMP and OpenBLAS.
#include "core/threads.h"

#include <cblas.h>
#include <omp.h>

int lra_threads_cores(void) { return omp_get_num_procs(); }

int lra_threads_set(int n) {
    if (n <= 0) n = omp_get_num_procs();
    if (n < 1) n = 1;
    // Every BLAS call is issued by core/gemm.c, one single-threaded call per tile inside our own
    // OpenMP loop, so results do not depend on n.  The OpenMP build of OpenBLAS is single-threaded there
    // by itself (and its openblas_set_num_threads would also reset OpenMP's count, so it is left alone);
    // any other build (pthreads) is pinned to one thread here.
    if (openblas_get_parallel() != 2) openblas_set_num_threads(1);
    omp_set_num_threads(n);
    return n;
}

int lra_threads_get(void) { return omp_get_max_threads(); }

static const char *parallel_mode(int mode) {
    switch (mode) {
    case 0: return "sequential";
    case 1: return "pthreads";
    case 2: return "openmp";
    default: return "unknown";
    }
}

void lra_threads_describe(FILE *out) {
    fprintf(out, "threads: %d OpenMP threads on %d cores\n", omp_get_max_threads(), omp_get_num_procs());
    fprintf(out, "blas: %s\n", openblas_get_config());
    fprintf(out, "blas: core %s, %s build, one single-threaded call per fixed tile (core/gemm.c)\n",
            openblas_get_corename(), parallel_mode(openblas_get_parallel()));
}
