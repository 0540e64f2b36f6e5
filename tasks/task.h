// The five LRA tasks (and Path-X): what each needs from the data and the model, with the defaults of
// the reference PyTorch code (training.md §2.2): classes, embedding-table rows, whether the model is
// the retrieval dual encoder, and the stored sequence length.
#ifndef LRA_TASKS_TASK_H
#define LRA_TASKS_TASK_H

#include <stdint.h>

#include "core/status.h"

typedef struct {
    const char *name;          // config name: listops, text, retrieval, image, pathfinder, pathx
    const char *column;        // column of the results table ("ListOps", "Text", ...)
    int num_classes;
    int vocab_size;            // embedding rows of the reference models (>= every id of the data)
    int dual;                  // 1: two documents per example (retrieval)
    int64_t max_length;        // tokens per sequence before power-of-two rounding
} lra_task_def;

const lra_task_def *lra_task_find(const char *name);  // NULL if unknown
int lra_task_count(void);
const lra_task_def *lra_task_at(int i);
// "listops|text|retrieval|image|pathfinder|pathx" (for config enums)
const char *lra_task_choices(void);

#endif
