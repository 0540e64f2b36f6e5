// Sweeps: a YAML spec of a grid (tasks x kernels x grid axes x seeds, with overrides for every cell)
// expanded into cells, each one `lra train` run with a deterministic run directory OUT/<cell name>.
//
//   name: listops-cell                      # the sweep's name (default: the spec file's name)
//   base: configs/listops.yaml              # one config, or per task:
//   tasks: {listops: configs/listops.yaml, text: configs/text.yaml}
//   kernels: [skeinformer, softmax]         # model.attention.type of each cell (default: the config's)
//   seeds: [0, 1]                           # (default: the config's seed)
//   set: {train.steps: 5000, train.batch_size: 32}   # overrides of every cell (as --set key=value)
//   grid: {model.attention.skeinformer.nb_features: [128, 256]}   # further axes, in the order given
//   out: runs/listops-cell                  # where the run directories go (default: runs/<name>)
//   parallel: 2                             # cells at once (default: cores / threads)
//   threads: 1                              # threads of each cell (default: cores / parallel, or 1)
//
// Cells are ordered tasks, kernels, grid axes (first axis outermost), seeds, and named
// <task>-<kernel>[-<axis>=<value>...]-s<seed>, the axis being the last part of its key (the whole key
// when two axes share it).  Config paths are taken relative to the current directory, else to the spec's.
#ifndef LRA_TASKS_SWEEP_H
#define LRA_TASKS_SWEEP_H

#include <stdint.h>

#include "core/status.h"

typedef struct {
    char name[256];      // <task>-<kernel>[-<axis>=<value>...]-s<seed>
    char *config;        // the task's config file
    char **sets;         // "key=value" overrides, in order: set, grid values, kernel, seed
    int n_sets;
    char *run_dir;       // OUT/<name>
    char *resolved_yaml; // the resolved config, as `lra train` would write it to config.yaml
} lra_sweep_cell;

typedef struct {
    char *path;          // the spec file
    char name[128];
    char *out;
    int parallel, threads;  // 0: not given
    lra_sweep_cell *cells;
    int n_cells;
} lra_sweep;

// Reads, validates and expands a spec: every cell's config is loaded with its overrides and checked as
// `lra train` would, so a bad key or value is reported before anything runs.  Errors name the spec file,
// the key (and line) and what was expected.
lra_status lra_sweep_load(const char *path, lra_sweep *out);
void lra_sweep_free(lra_sweep *s);

// What a cell's run directory holds.
typedef enum {
    LRA_CELL_NEW,       // nothing to resume: start fresh
    LRA_CELL_RESUME,    // a loadable checkpoint: continue it (--resume)
    LRA_CELL_DONE,      // eval.json: finished
} lra_cell_state;
// The state of a cell; a run directory holding a run of another config is an error naming the file.
lra_status lra_sweep_cell_state(const lra_sweep_cell *c, lra_cell_state *state);

#endif
