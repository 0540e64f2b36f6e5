// Private to the trainer's files (tasks/trainer.c: setup and loop; tasks/trainer_eval.c: evaluation).
#ifndef LRA_TASKS_TRAINER_RUN_H
#define LRA_TASKS_TRAINER_RUN_H

#include "core/progress.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tasks/checkpoint.h"
#include "tasks/metrics.h"
#include "tasks/step.h"
#include "tasks/trainer.h"

// One training run in progress.
typedef struct {
    const lra_run_settings *s;
    const lra_train_options *o;
    lra_model model;
    lra_dataset train, val, test;
    lra_ctx *ctx;
    lra_optimizer opt;
    lra_schedule sched;
    lra_stepper stepper;
    lra_train_state st;
    lra_metrics metrics;
    int is_root;
    int resuming;         // continues from a checkpoint (decided by rank 0, shared)
    int64_t saved_step;   // step of the newest step checkpoint on disk, -1: none
} lra_trainer;

// A stop signal caught by any rank (the same answer on every rank), or 0.  Asked after each step and
// before each evaluation batch.
int lra_trainer_stop_signal(const lra_trainer *t);

// Writes a checkpoint of the current state to path (rank 0 only; others return LRA_OK).
lra_status lra_trainer_save(lra_trainer *t, const char *path);
// Dev evaluation at the current step: metrics line, early stopping (*stop), best checkpoint.
lra_status lra_trainer_dev_eval(lra_trainer *t, lra_progress *prog, int *stop);
// Test evaluation with the best checkpoint (and the last weights), metrics line and eval.json.
lra_status lra_trainer_final_eval(lra_trainer *t, int stopped_early, lra_train_summary *out);
// After rank 0 alone read a checkpoint: its parameters and optimizer moments go to every rank.
void lra_trainer_share_weights(lra_trainer *t);
// Peak resident memory of this process in MiB.
double lra_trainer_peak_rss_mb(void);

#endif
