// Memory needed by a run, estimated from its resolved settings before anything big is allocated, so a
// valid config that asks for more than the machine has is refused with the amount and the key that
// caused it instead of aborting in the allocator halfway through building the model.
//
// The estimate is a lower bound (it counts the big buffers only): the parameters with their gradients
// and two optimizer moments, the token/mask tensors of a training micro-batch and of an evaluation batch,
// and the activations a training micro-batch keeps for the backward pass (a few [tokens, width] tensors
// per layer; attention kernels add their own on top).
#ifndef LRA_TASKS_MEMORY_H
#define LRA_TASKS_MEMORY_H

#include <stdint.h>

#include "core/config.h"
#include "tasks/settings.h"

typedef struct {
    double params;  // parameter count (floats)
    double params_bytes, train_bytes, eval_bytes;
    double total_bytes;  // params_bytes + max(train_bytes, eval_bytes)
} lra_memory_estimate;

void lra_memory_estimate_run(const lra_run_settings *s, lra_memory_estimate *out);
// Physical memory in bytes (0 when unknown).
uint64_t lra_memory_physical(void);
// LRA_ERR_CONFIG "WHERE: key 'K': the run needs about N GiB ..." when the estimate exceeds `limit` bytes
// (0: the physical memory; unknown physical memory skips the check).  K is the key whose reduction to
// its smallest value saves the most memory.
lra_status lra_memory_check(const lra_config *c, const lra_run_settings *s, uint64_t limit);

#endif
