// Run settings: the config schema of `lra train` (every key typed, with its default, range and doc)
// and its resolution into one struct the trainer uses.  Attention kernels add their options under
// model.attention.<kernel>.<option>, so one config can hold the options of several kernels and
// `--set model.attention.type=...` switches between them.
#ifndef LRA_TASKS_SETTINGS_H
#define LRA_TASKS_SETTINGS_H

#include <stdint.h>

#include "core/config.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tasks/model.h"
#include "tasks/task.h"

typedef enum { LRA_METRIC_LOSS = 0, LRA_METRIC_ACCURACY = 1 } lra_metric_kind;

typedef struct {
    uint64_t seed;
    const lra_task_def *task;
    // data
    char data_path[1024];
    char cache_dir[1024];       // "" = no cache
    int64_t max_length;         // per-sequence tokens before rounding
    int round_pow2;
    int pixel_offset;
    int mask_nonzero;
    char pf_difficulty[32];
    int pf_resolution;
    int64_t max_train, max_eval;  // > 0: keep only the first N examples of train / of val and test
    // model
    lra_model_config model;
    char attention[64];
    // training
    int64_t steps;
    int batch_size, accumulation, eval_batch_size;
    int grad_shards;  // > 0: gradient shards per micro-batch (see train_step); 0: one per rank
    double lr;
    int64_t warmup, schedule_steps;
    lra_schedule_kind schedule;
    lra_optimizer_kind optimizer;
    double beta1, beta2, eps, weight_decay, momentum, clip;
    int64_t eval_every, eval_batches, log_every, checkpoint_every;
    int patience;               // evaluations without improvement before stopping; 0 = never
    lra_metric_kind early_stop_metric, best_metric;
    int keep_checkpoints;
    double checkpoint_minutes;  // > 0: also a checkpoint when this much time passed since the last one
    int prefetch;
} lra_run_settings;

// The full schema (base keys + every registered kernel's options).  Free with lra_config_schema_free.
lra_config_schema *lra_settings_schema(void);
// Reads a validated config; cross-key checks (batch divisible by accumulation, ...) report the key.
lra_status lra_settings_resolve(const lra_config *c, lra_run_settings *s);
// The resolved config as YAML (every key with its value) for the run directory and checkpoints, keeping
// only the options of the selected attention kernel (so a run's record does not depend on the options
// other kernels happen to have).  New string, free().
char *lra_settings_resolved_yaml(const lra_config *c, const lra_run_settings *s);
// Loads CONFIG, applies "--set k=v" overrides and validates; *out must be freed with lra_config_free.
lra_status lra_settings_load(const char *path, const char *const *sets, int n_sets, const lra_config_schema *schema,
                             lra_config **out);

#endif
