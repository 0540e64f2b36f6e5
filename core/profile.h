// The step profiler behind `lra train --profile` and `lra bench train --profile`: where a training step's
// time goes, by phase (data, forward, backward, optimizer, evaluation) and by op kind, with call counts
// and GFLOP/s for ops that do matrix products.
//
// How it measures, so that the times add up: the clock is read at phase changes and at the end of every
// op.  A phase's time is wall time from its start to the next phase change.  An op's forward time is the
// time since the previous op ended (or its phase started), read when the op records itself on the tape
// (lra_tape_record, which every op calls, with or without gradients); an op's backward time is its
// backward function.  So the op rows of the forward phase add up to that phase's time, and the phases add
// up to the steps' wall time.  Floating-point work is counted where it is done (core/gemm.c adds 2mnk per
// product) and charged to the op that ends next.  Off (the default), every hook is one branch.
// The profiler is for the main thread: ops are recorded there (the kernels' inner parallel loops are inside
// one op).
// Memory: each op row also carries the step arena's bytes handed out while it ran (forward: its output
// and what it saves for backward, plus anything allocated since the previous op; backward: the gradient
// buffers it needed beyond the recycled ones).  Their sum over a step is the arena's use at its end.
#ifndef LRA_CORE_PROFILE_H
#define LRA_CORE_PROFILE_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    LRA_PHASE_NONE = -1,
    LRA_PHASE_DATA = 0,    // waiting for the next batch
    LRA_PHASE_FORWARD,     // model forward and loss
    LRA_PHASE_BACKWARD,    // the tape
    LRA_PHASE_OPTIMIZER,   // gradient sum over shards/ranks, clipping, the update
    LRA_PHASE_EVAL,        // dev/test evaluation
    LRA_PHASE_OTHER,       // the rest of the loop (metrics, checkpoints, bookkeeping)
    LRA_PHASE_COUNT
} lra_phase;

extern int lra_profile_on_;  // read by the inline hooks; set with lra_profile_enable

void lra_profile_enable(int on);
void lra_profile_reset(void);
// Ends the current phase (adding its time) and starts `p` (LRA_PHASE_NONE: no phase).
void lra_profile_phase(lra_phase p);
// Hooks (no-ops unless enabled).
void lra_profile_op_end_(const char *op, size_t arena_used);
void lra_profile_backward_(const char *op, double seconds, size_t arena_bytes);
void lra_profile_flops_(double flops);
// arena_used: the step arena's bytes in use now (lra_arena_used).
static inline void lra_profile_op_end(const char *op, size_t arena_used) {
    if (lra_profile_on_) lra_profile_op_end_(op, arena_used);
}
static inline void lra_profile_flops(double flops) {
    if (lra_profile_on_) lra_profile_flops_(flops);
}

typedef struct {
    double seconds[LRA_PHASE_COUNT];
    double total;  // sum of the phases
} lra_profile_totals;
lra_profile_totals lra_profile_get_totals(void);
// Sum of the op rows of a phase (forward, backward or eval), for checks.
double lra_profile_ops_seconds(lra_phase p);
// One op row (forward, backward or eval); 0 if the op has none.
int lra_profile_op_stats(const char *op, lra_phase p, long long *calls, double *seconds, double *flops);
// The arena bytes of one op row (summed over its calls); 0 if the op has none.  All rows of a phase:
double lra_profile_op_bytes(const char *op, lra_phase p);
double lra_profile_ops_bytes(lra_phase p);

// The table (per phase, then the op kinds by time) for `steps` measured steps; json: one JSON object.
void lra_profile_report(FILE *out, long long steps, int json);
const char *lra_phase_name(lra_phase p);

#endif
