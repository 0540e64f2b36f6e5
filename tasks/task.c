// The task registry (see task.h).  To add a task: define `const lra_task_def lra_task_<name>` in
// tasks/task_<name>.c and list it below; the order is that of the config enum and the table columns.
#include "tasks/task.h"

#include <string.h>

extern const lra_task_def lra_task_listops;
extern const lra_task_def lra_task_text;
extern const lra_task_def lra_task_retrieval;
extern const lra_task_def lra_task_image;
extern const lra_task_def lra_task_pathfinder;
extern const lra_task_def lra_task_pathx;

static const lra_task_def *const g_tasks[] = {
    &lra_task_listops,
    &lra_task_text,
    &lra_task_retrieval,
    &lra_task_image,
    &lra_task_pathfinder,
    &lra_task_pathx,
    NULL,
};

int lra_task_count(void) {
    int n = 0;
    while (g_tasks[n]) n++;
    return n;
}

const lra_task_def *lra_task_get(int i) {
    LRA_ASSERT(i >= 0 && i < lra_task_count());
    return g_tasks[i];
}

const lra_task_def *lra_task_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; g_tasks[i]; i++)
        if (!strcmp(g_tasks[i]->name, name)) return g_tasks[i];
    return NULL;
}

const char *lra_task_names(char *buf, size_t cap, const char *sep, const char *last) {
    LRA_ASSERT(buf && cap > 0);
    buf[0] = '\0';
    const int n = lra_task_count();
    for (int i = 0; i < n; i++) {
        if (i) strncat(buf, i == n - 1 ? last : sep, cap - strlen(buf) - 1);
        strncat(buf, g_tasks[i]->name, cap - strlen(buf) - 1);
    }
    return buf;
}

static lra_status unknown(const char *task) {
    char names[256];
    return lra_error(LRA_ERR_ARG, "unknown task '%s' (expected %s)", task ? task : "(null)",
                     lra_task_names(names, sizeof names, ", ", " or "));
}

lra_status lra_task_load(const char *task, const char *path, lra_split split, const lra_load_options *opt,
                         lra_dataset *out) {
    const lra_task_def *t = lra_task_find(task);
    if (t) return lra_data_load(t->name, &t->source, path, split, opt, out);
    memset(out, 0, sizeof *out);
    return lra_error_context(unknown(task), "loading %s %s: ", task ? task : "?", lra_split_name(split));
}

char *lra_task_cache_path(const char *task, const char *path, lra_split split, const lra_load_options *opt) {
    const lra_task_def *t = lra_task_find(task);
    if (t) return lra_data_cache_path(t->name, &t->source, path, split, opt);
    unknown(task);
    return NULL;
}

lra_status lra_task_describe_data(const char *task, const char *path, const lra_load_options *opt, char *label,
                                  size_t cap) {
    const lra_task_def *t = lra_task_find(task);
    if (t) return lra_data_describe(t->name, &t->source, path, opt, label, cap);
    label[0] = '\0';
    return unknown(task);
}
