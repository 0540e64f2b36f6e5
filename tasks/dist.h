// Data-parallel communication.  With `make MPI=1` these wrap MPI (tasks/dist_mpi.c); the default build
// has one process and they are no-ops.  Reductions happen in a fixed order (rank 0, 1, ...), so a run
// is reproducible for a given number of ranks.
#ifndef LRA_TASKS_DIST_H
#define LRA_TASKS_DIST_H

#include <stddef.h>

#include "core/status.h"

// Initialises MPI when built with it (argc/argv may be NULL).  Safe to call once per process.
void lra_dist_init(int *argc, char ***argv);
void lra_dist_finalize(void);
int lra_dist_rank(void);
int lra_dist_size(void);
// Ranks of this job on this machine (1 without MPI): the default thread count divides the cores by it.
int lra_dist_local_size(void);
// buf[i] = sum over ranks of buf[i] (every rank gets the same result).
void lra_dist_allreduce_sum_f32(float *buf, size_t n);
void lra_dist_allreduce_sum_f64(double *buf, size_t n);
// Gradient shards: `local` holds this rank's `local_shards` buffers of n floats ([local_shards, n]); the
// global shard order is rank 0's shards, then rank 1's, ...  Every rank gets
//   out[i] = (float) sum over global shards g, in order, of (double) shard_g[i],
// so the result depends only on the total number of shards, not on how they are spread over ranks
// (1 process with S shards gives the bits of S/W shards on each of W ranks).
void lra_dist_sum_shards_f32(const float *local, int local_shards, size_t n, float *out);
void lra_dist_bcast_f32(float *buf, size_t n, int root);
void lra_dist_bcast_bytes(void *buf, size_t n, int root);
void lra_dist_barrier(void);
// Every rank passes its local status; all get LRA_OK only if every rank succeeded, else the first
// failing rank's status with a message "rank R: <its message>" (on every rank; without the prefix
// when every rank failed, or when the message came from an earlier agree).
lra_status lra_dist_agree(lra_status local);
// Ends every rank (MPI_Abort) after a fatal error on one of them; plain exit without MPI.
_Noreturn void lra_dist_abort(int code);

#endif
