// The results table of `lra table`: finished runs (RUN_DIR/eval.json) grouped so that no cell mixes runs
// that differ in anything but the seed.
//
// A cell is a set of runs of one kernel on one task that share
//   - the data: the fingerprint of RUN_DIR/data.json (tasks/data_fingerprint.h); runs from before
//     fingerprints are grouped by their config alone and labelled "unverified data";
//   - the config apart from the seed: RUN_DIR/config.yaml without its comments, the seed, the data's
//     location (data.path, data.cache_dir, when the fingerprint stands for it) and the keys that do not
//     change results (train.log_every, train.checkpoint_every, train.keep_checkpoints, train.prefetch).
// When one kernel has several such groups on a task, each becomes its own row, labelled with the keys
// whose values tell them apart ("softmax [train.steps=200]"); a data set that is not the task's own
// (generated, IDX images in the image task) is part of the row's label.  Two runs with the same seed in
// one cell count once, and the cell is flagged.  The notes say what was split, flagged or skipped, and
// which columns compare rows with different budgets.
#ifndef LRA_TASKS_RESULTS_TABLE_H
#define LRA_TASKS_RESULTS_TABLE_H

#include <stddef.h>

#include "core/status.h"
#include "tasks/task.h"

typedef struct {
    int n;                 // seeds counted (0: no run)
    double mean, std;      // test accuracy in percent; std: sample std (n-1), NAN when n < 2
    int duplicate_seeds;   // runs left out because their seed was already counted
} lra_table_cell;

typedef struct {
    char kernel[64];       // the attention kernel
    char label[512];       // "" or what sets the row apart ("train.steps=200; data: generated: ...")
} lra_table_row;

typedef struct {
    int n_rows, n_cols;
    lra_table_row *rows;             // in order of kernel, then label
    const lra_task_def **cols;       // the tasks with a table title, in registry order
    lra_table_cell *cells;           // [n_rows * n_cols], row-major
    char **notes;                    // lines explaining splits, flags and skipped directories
    int n_notes;
} lra_results_table;

// Reads every path (a run directory, or a folder of run directories one level down) and builds the
// table.  Directories without eval.json are noted and skipped; an eval.json that cannot be read is an
// error naming the file.  LRA_ERR_ARG when no finished run was found.
lra_status lra_results_table_build(const char *const *paths, int n_paths, lra_results_table *out);
void lra_results_table_free(lra_results_table *t);
static inline const lra_table_cell *lra_results_cell(const lra_results_table *t, int row, int col) {
    return &t->cells[row * t->n_cols + col];
}
// The row's Average: the mean of its task means when every column has runs (1), else 0.
int lra_results_row_average(const lra_results_table *t, int row, double *avg);
// The row's name as the table prints it: "kernel" or "kernel [label]".
void lra_results_row_name(const lra_results_table *t, int row, char *buf, size_t cap);
// The cells for a grouped bar chart (a group per task, a bar per row): mean[col * n_rows + row] and
// std[...] in percent, NAN where the cell has no run (std also NAN for a single seed).  Each array holds
// n_cols * n_rows values.
void lra_results_series(const lra_results_table *t, double *mean, double *std);

#endif
