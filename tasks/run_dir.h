// The run directory of `lra train` (one home for its layout):
//   config.yaml     the resolved config         metrics.jsonl  one JSON object per line (tasks/metrics.h)
//   ckpt-<step>.lra the last K checkpoints      best.lra       the best-dev checkpoint
//   eval.json       the final evaluation       data.json      the data fingerprint (tasks/data_fingerprint.h)
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
// A new run: creates the directory, refuses one that already holds checkpoints and writes config.yaml.
// A resumed run: checks that config.yaml equals config_yaml (apart from leading comment lines) and
// names the first differing line otherwise.
lra_status lra_run_dir_prepare(const char *run_dir, const char *config_yaml, int resume);

#endif
