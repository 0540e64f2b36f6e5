// The one place that sets thread counts.  OpenMP (our kernels) and OpenBLAS (the OpenMP build, so both
// share one pool) are always set together, once at start-up (CLI --threads, default all cores).
#ifndef LRA_CORE_THREADS_H
#define LRA_CORE_THREADS_H

#include <stdio.h>

// Sets OpenMP and OpenBLAS to n threads; n <= 0 means all cores (omp_get_num_procs()).
// Returns the count that was set.
int lra_threads_set(int n);
// The thread count our parallel regions use (omp_get_max_threads()).
int lra_threads_get(void);
// Number of processors available to this process.
int lra_threads_cores(void);
// One line each: OpenMP threads, OpenBLAS build configuration, core name, BLAS threads and
// parallel mode, for the head of a run log (no command prints it yet).
void lra_threads_describe(FILE *out);

#endif
