// One training step: the code the trainer, `lra bench train` and the tests all run, so a change to the
// step reaches all three.
//
//   lra_stepper st = {.model = &m, .opt = &opt, .sched = &sched, .ctx = ctx, .seed = 1, .batch_size = 32,
//                     .accumulation = 1};          // rank 0 of world 1, one gradient shard
//   LRA_TRY(lra_stepper_init(&st));
//   lra_step_result r;
//   LRA_TRY(lra_step(&st, step, next_batch, user, &r));   // next_batch hands out micro-batches
//   lra_stepper_free(&st);
//
// A step: zero the gradients; for each of `accumulation` micro-batches (this rank's rows of it) and each
// of this rank's gradient shards, forward, loss and backward; sum the shard gradients over all ranks in
// shard order (tasks/dist.h); clip; one optimizer update with the schedule's lr and beta1.
//
// Gradient shards make the arithmetic independent of the rank count: the rows of each micro-batch are cut
// into S shards (default one per rank), rank r computes shards r*S/W .. (r+1)*S/W - 1, each shard's
// gradient accumulates over the micro-batches in a buffer of its own, and the S buffers are added in
// shard order in double.  1 process with S = 2 and 2 ranks with S = 2 compute the same bits.
#ifndef LRA_TASKS_STEP_H
#define LRA_TASKS_STEP_H

#include "core/autograd.h"
#include "core/status.h"
#include "data/batcher.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tasks/model.h"

// Hands out the next micro-batch of this rank (valid until the next call); an error stops the step.
typedef lra_status (*lra_batch_source)(void *user, const lra_batch **out);

// Called after each shard's backward pass, before the next arena reset (tests read logits, loss and the
// gradients there).
typedef void (*lra_step_inspect)(void *user, lra_tensor *logits, lra_tensor *loss);

typedef struct {
    lra_model *model;
    lra_optimizer *opt;
    const lra_schedule *sched;
    lra_ctx *ctx;
    uint64_t seed;       // keys dropout and sampling draws (with the step and the example's global row)
    int batch_size;      // global examples per step: the loss is the sum over them divided by this
    int accumulation;    // micro-batches per step
    int grad_shards;     // gradient shards per micro-batch over all ranks (0: one per rank)
    double clip;         // global gradient-norm clip (0: off)
    int rank, world;     // data parallelism (0 and 1 for one process)
    lra_step_inspect inspect;  // optional
    void *inspect_user;
    // private (lra_stepper_init)
    int local_shards_;
    float *shard_grads_;  // [local_shards_, params.total] when local_shards_ > 1
} lra_stepper;

typedef struct {
    double loss_sum;       // sum over this rank's examples of their cross-entropy
    int64_t correct;       // this rank's correctly classified examples
    int64_t examples;      // this rank's examples
    double grad_norm;      // global gradient norm before clipping
    double lr;             // the learning rate used
} lra_step_result;

// Checks the shard split (LRA_ERR_CONFIG naming train.grad_shards) and allocates the shard buffers.
lra_status lra_stepper_init(lra_stepper *st);
void lra_stepper_free(lra_stepper *st);
// Optimizer step number `step` (0-based; keys the draws and picks the schedule's lr and beta1).
lra_status lra_step(lra_stepper *st, int64_t step, lra_batch_source next, void *user, lra_step_result *out);

#endif
