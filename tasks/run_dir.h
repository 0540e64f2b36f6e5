// The run directory of `lra train` (one home for its layout):
//   config.yaml     the resolved config         metrics.jsonl  one JSON object per line (tasks/metrics.h)
//   ckpt-<step>.lra the last K checkpoints      best.lra       the best-dev checkpoint
//   eval.json       the final evaluation       data.json      the data fingerprint (tasks/data_fingerprint.h)
//                                              jobs.jsonl     one line per invocation start/end (run_jobs.h)
#ifndef LRA_TASKS_RUN_DIR_H
#define LRA_TASKS_RUN_DIR_H

#include <stdint.h>

#include "core/status.h"

// Global step stored in a checkpoint file name ckpt-<step>.lra, or -1.
int64_t lra_run_checkpoint_step(const char *name);
// run_dir/ckpt-<step, 8 digits>.lra (new string).
char *lra_run_checkpoint_path(const char *run_dir, int64_t step);
// The newest loadable checkpoint of a run directory (new string) or NULL with a message.
char *lra_run_latest_checkpoint(const char *run_dir);
// Removes all but the newest `keep` step checkpoints.
void lra_run_prune_checkpoints(const char *run_dir, int keep);
// How `lra train` treats an existing run directory: NEVER starts a new run (refusing a directory that
// already holds checkpoints), ALWAYS resumes it, AUTO resumes when it holds a checkpoint and starts a
// new run otherwise (one command line for a job's first start and every restart).
typedef enum { LRA_RESUME_NEVER = 0, LRA_RESUME_ALWAYS = 1, LRA_RESUME_AUTO = 2 } lra_resume_mode;

// Creates the directory and sweeps temporary files of a killed writer.  A new run writes config.yaml.
// A resumed run compares config.yaml with config_yaml key by key (tasks/config_diff.h): differences that
// leave the weights unchanged (cadence keys, a larger train.steps) are accepted, logged and written to
// config.yaml; any other difference is refused with every such key and both values.  *resuming: 1 when
// the run continues from a checkpoint.
lra_status lra_run_dir_prepare(const char *run_dir, const char *config_yaml, lra_resume_mode mode, int *resuming);

#endif
