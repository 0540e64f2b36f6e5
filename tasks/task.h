// The task registry: one lra_task_def per task holds everything the rest of the program knows about
// it, so no other file compares task names.
//   - what the model needs: classes, embedding rows, one or two documents per example, the stored
//     sequence length (the defaults of the reference PyTorch code, training.md §2.2);
//   - how its data is found and read (its lra_data_source: plan, key, read; data/load.c adds the cache);
//   - how it is scored and where it goes in `lra table`.
// The config enum `task` (tasks/settings.c), the loader's "unknown task" message and the table's
// columns are derived from this list.
//
// To add a task: write tasks/task_<name>.c defining `const lra_task_def lra_task_<name>` (with its
// plan/key/read glue around a reader in data/) and list it in tasks/task.c.
#ifndef LRA_TASKS_TASK_H
#define LRA_TASKS_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/load.h"
#include "data/split.h"

// What a task is scored by.  Every LRA task reports accuracy (eval.json's test_accuracy, the number
// `lra table` shows).
typedef enum { LRA_TASK_METRIC_ACCURACY } lra_task_metric;

typedef struct lra_task_def {
    const char *name;          // config name (key `task`), cache file prefix, eval.json "task"
    const char *title;         // column of `lra table`; NULL: no column (Path-X is not in the papers' table)
    int num_classes;
    int vocab_size;            // embedding rows of the reference models (>= every id of the data)
    int dual;                  // head kind: 0 one document per example, 1 two (the retrieval dual encoder)
    lra_task_metric metric;
    int64_t max_length;        // default data.max_length: tokens per sequence before power-of-two rounding
    int stops_early;           // 1: the reader honours lra_load_options.max_examples (stops after N examples),
                               // so data.max_train/max_eval also save reading time, not only memory

    const char *generate;      // the `lra data generate` arguments that make its data ("listops"), or NULL
                               // (suggested when data.path does not exist)

    lra_data_source source;    // how its data is found and read (plan, key, read: data/load.h)
} lra_task_def;

int lra_task_count(void);
const lra_task_def *lra_task_get(int i);              // 0 <= i < lra_task_count(), registry order
const lra_task_def *lra_task_find(const char *name);  // NULL if unknown (or name is NULL)
// The task names in registry order joined by `sep`, the last two by `last`: "a|b|c" for the config
// enum, "a, b or c" for messages.  Returns buf (truncated to cap).
const char *lra_task_names(char *buf, size_t cap, const char *sep, const char *last);

// lra_data_load / lra_data_cache_path (data/load.h) of the task named `task`; an unknown name is
// LRA_ERR_ARG with the registered names in the message.
lra_status lra_task_load(const char *task, const char *path, lra_split split, const lra_load_options *opt,
                         lra_dataset *out);
char *lra_task_cache_path(const char *task, const char *path, lra_split split, const lra_load_options *opt);
// lra_data_describe (data/load.h) of the task named `task`: "" for the task's own data set, else a label.
lra_status lra_task_describe_data(const char *task, const char *path, const lra_load_options *opt, char *label,
                                  size_t cap);

#endif
