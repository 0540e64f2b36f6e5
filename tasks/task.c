// Task table (see task.h).
#include "tasks/task.h"

#include <string.h>

static const lra_task_def k_tasks[] = {
    {"listops", "ListOps", 10, 32, 0, 2000},
    {"text", "Text", 2, 512, 0, 4000},
    {"retrieval", "Retrieval", 2, 512, 1, 4000},
    {"image", "Image", 10, 512, 0, 1024},
    {"pathfinder", "Pathfinder", 2, 512, 0, 1024},
    {"pathx", "Path-X", 2, 512, 0, 16384},
};

const lra_task_def *lra_task_find(const char *name) {
    for (size_t i = 0; i < sizeof k_tasks / sizeof k_tasks[0]; i++)
        if (!strcmp(k_tasks[i].name, name)) return &k_tasks[i];
    return NULL;
}

int lra_task_count(void) { return (int)(sizeof k_tasks / sizeof k_tasks[0]); }
const lra_task_def *lra_task_at(int i) { return &k_tasks[i]; }
const char *lra_task_choices(void) { return "listops|text|retrieval|image|pathfinder|pathx"; }
