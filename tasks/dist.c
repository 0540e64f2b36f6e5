// Single-process implementation of tasks/dist.h (the default build).
#ifndef LRA_WITH_MPI
#include "tasks/dist.h"

#include <stdlib.h>

void lra_dist_init(int *argc, char ***argv) {}
void lra_dist_finalize(void) {}
int lra_dist_rank(void) { return 0; }
int lra_dist_size(void) { return 1; }
int lra_dist_local_size(void) { return 1; }
void lra_dist_allreduce_sum_f32(float *buf, size_t n) {}
void lra_dist_allreduce_sum_f64(double *buf, size_t n) {}
void lra_dist_sum_shards_f32(const float *local, int local_shards, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        for (int j = 0; j < local_shards; j++) acc += (double)local[(size_t)j * n + i];
        out[i] = (float)acc;
    }
}
void lra_dist_bcast_f32(float *buf, size_t n, int root) {}
void lra_dist_bcast_bytes(void *buf, size_t n, int root) {}
void lra_dist_barrier(void) {}
lra_status lra_dist_agree(lra_status local) { return local; }
_Noreturn void lra_dist_abort(int code) { exit(code); }
#else
typedef int lra_dist_c_is_empty_under_mpi;
#endif
