// A run's data: a split of the run's task loaded with the run's data options (data.* keys), cut to
// data.max_train / data.max_eval, and checked against the model (vocabulary, the kernel's minimum
// of real tokens).  Used by the trainer and `lra eval`.
#ifndef LRA_TASKS_RUN_DATA_H
#define LRA_TASKS_RUN_DATA_H

#include "core/status.h"
#include "data/dataset.h"
#include "data/split.h"
#include "tasks/settings.h"

lra_status lra_run_load_split(const lra_run_settings *s, lra_split split, lra_dataset *out);
// data.path must exist (checked by lra_run_load_split too, and by `lra train` before it writes anything):
// otherwise an error naming the key and, for tasks with a generator, the `lra data generate` command.
lra_status lra_run_check_data_path(const lra_run_settings *s);
// Writes the data fingerprint of the loaded splits to RUN_DIR/data.json (tasks/data_fingerprint.h).
lra_status lra_run_record_data(const lra_run_settings *s, const char *run_dir, const lra_dataset *train,
                               const lra_dataset *val, const lra_dataset *test);

#endif
