// metrics.jsonl of a run: one JSON object per line (core/json.h builds them).  The whole text is also
// kept in memory, because every checkpoint stores it: a resumed run continues the same file.
#ifndef LRA_TASKS_METRICS_H
#define LRA_TASKS_METRICS_H

#include <stdio.h>

#include "core/status.h"

typedef struct {
    char *text;  // all lines so far
    size_t len, cap;
    FILE *file;  // run_dir/metrics.jsonl, NULL on ranks other than 0
    char *path;
} lra_metrics;

// Starts the log: `previous` (the text stored in the resumed checkpoint, or NULL) becomes its first
// lines.  When `write` (rank 0), metrics.jsonl is rewritten atomically with that text and kept open.
lra_status lra_metrics_open(lra_metrics *m, const char *run_dir, const char *previous, int write);
// Appends one line (no newline in `line`) and flushes it to the file.
void lra_metrics_add(lra_metrics *m, const char *line);
const char *lra_metrics_text(const lra_metrics *m);
void lra_metrics_close(lra_metrics *m);

#endif
