// The training loop of `lra train`: data, model, optimizer and schedule from the run settings;
// gradient accumulation; periodic dev evaluation with early stopping and best-checkpoint selection;
// crash-safe checkpoints (the last K and the best); exact resume; stop signals (SIGINT, SIGTERM, SIGUSR1)
// and a deadline, both ending with a checkpoint; and at the end the test set scored with the BEST checkpoint (and the last weights), written to eval.json.
//
// The run directory's layout: tasks/run_dir.h.  One step: tasks/step.h.
#ifndef LRA_TASKS_TRAINER_H
#define LRA_TASKS_TRAINER_H

#include <stdint.h>

#include "data/dataset.h"
#include "data/split.h"
#include "tasks/run_data.h"  // lra_run_load_split
#include "tasks/run_dir.h"
#include "tasks/settings.h"

typedef struct {
    const char *run_dir;
    const char *config_yaml;  // the resolved config (written to the run directory and into checkpoints)
    lra_resume_mode resume;   // NEVER (0), ALWAYS (1: continue from the newest complete checkpoint) or AUTO
    int64_t stop_at;          // > 0: stop after this step with a checkpoint (job time limits)
    double deadline;          // > 0: CLOCK_MONOTONIC seconds by which the run stops with a checkpoint; the
                              // loop stops early enough from the measured step, evaluation and save times
    int progress;             // 1: progress bar / lines on stderr
    int rank, world;          // data parallelism (world 1 = single process)
    int profile;              // 1: profile the steps (core/profile.h); table on stderr, RUN_DIR/profile.json
} lra_train_options;

// Why a run stopped before its end (resume to continue).
typedef enum {
    LRA_STOP_NONE = 0,
    LRA_STOP_AT,          // --stop-at
    LRA_STOP_SIGNAL,      // SIGINT, SIGTERM or SIGUSR1 (`signal`)
    LRA_STOP_TIME_LIMIT,  // the deadline
} lra_stop_reason;

typedef struct {
    int64_t steps_done;
    int stopped_early;
    int interrupted;          // by a signal, --stop-at or the deadline: resume to continue
    lra_stop_reason reason;
    int signal;               // the signal that stopped the run (SIGINT, SIGTERM, SIGUSR1), or 0
    int64_t checkpoint_step;  // interrupted: step of the newest checkpoint (where a resume starts), -1: none
    double test_accuracy, test_loss;  // best checkpoint on the test split (when training finished)
    int64_t test_examples;
} lra_train_summary;

lra_status lra_train(const lra_run_settings *s, const lra_train_options *o, lra_train_summary *out);

#endif
