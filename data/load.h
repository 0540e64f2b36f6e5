// One entry point that gives the trainer a dataset split of any task: it looks the task up in the
// registry (tasks/task.h), lets the task find its source under the path given and read it and, when a
// cache directory is set, keeps a binary cache of the result (data/cache.h) keyed on the source
// files' sizes and modification times and on the options, so a later run skips the parsing.  A stale
// or corrupt cache is reported (warning) and rebuilt.
//
// task        path                                                   glue, reader
// listops     a directory holding basic_<split>.tsv                     tasks/task_listops.c, read_listops.h
//             (itself, listops-1000/, lra_release/listops-1000/, lra_release/lra_release/listops-1000/)
// text        aclImdb/, a directory containing it, or aclImdb_v1.tar.gz tasks/task_text.c, read_imdb.h
// retrieval   a new_aan_pairs.<train|eval|test>.tsv file, or a directory tasks/task_retrieval.c, read_aan.h
//             holding it (itself, tsv_data/, lra_release/[lra_release/]tsv_data/)
// image       CIFAR-10 binary (directory or archive), or a directory of   tasks/task_image.c,
//             IDX files (MNIST-like; detected by train-images-idx3-ubyte[.gz])  read_cifar.h, read_idx.h
// pathfinder  the release root or a difficulty folder (Pathfinder32)      tasks/task_pathfinder.c,
// pathx       the same for pathfinder128 (Path-X)                         read_pathfinder.h
// When `path` is a file for retrieval it is read whatever the split; for listops a file is an error
// (one file cannot be train, val and test).
#ifndef LRA_DATA_LOAD_H
#define LRA_DATA_LOAD_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/split.h"

typedef struct {
    const char *cache_dir;          // NULL = no cache; created when missing
    int image_pixel_offset;         // image tasks: 1 = id pixel + 1, vocab 257 (data.md §10, the default of
                                    // lra_load_options_default); 0 = official ids pixel, vocab 256
    int64_t max_len;                // > 0: text tasks keep at most max_len tokens per sequence (saves memory;
                                    // the batcher truncates to its length anyway); 0 = keep all
    int listops_allow_unknown;      // 1: unknown ListOps symbols get id 16 instead of an error
    uint32_t pathfinder_seed;       // split shuffle seed; 0 = LRA_PATHFINDER_SEED (42)
    int pathfinder_resolution;      // 0 = 32 for pathfinder, 128 for pathx
    const char *pathfinder_difficulty;  // NULL = "hard" (curv_contour_length_14)
    int64_t max_examples;           // pathfinder/pathx: > 0 keeps only the first max_examples of the split
} lra_load_options;

// cache off, pixel offset 1, seed 42, resolution per task, difficulty hard, nothing cut.
void lra_load_options_default(lra_load_options *opt);

// Loads split `split` of `task` from `path` into `out` (initialised by this call).  `opt` may be NULL
// (the defaults).  Unknown task names are LRA_ERR_ARG.
lra_status lra_data_load(const char *task, const char *path, lra_split split, const lra_load_options *opt,
                         lra_dataset *out);

// The cache file that lra_data_load uses for these arguments (new string, free()), or NULL when
// opt->cache_dir is NULL or the source cannot be found (message set).
char *lra_data_cache_path(const char *task, const char *path, lra_split split, const lra_load_options *opt);

// ---- for the tasks' loading glue (tasks/task.h: plan, key, read) --------------------------------

// What a task's plan found: the file or folder its reader gets, and the choices made on the way that
// change what the reader produces (so that the key and the reader see the same ones).
#define LRA_PLAN_PARAMS 4
typedef struct {
    char *source;                // new string; the loader frees it
    int param[LRA_PLAN_PARAMS];  // task-defined (image: IDX or CIFAR-10; pathfinder: resolution, difficulty)
} lra_data_plan;

// The cache key being built.  The loader writes the common head (readers version, task, split, the
// source's real path); the task's key function adds its lines.
typedef struct lra_data_key lra_data_key;
void lra_data_key_printf(lra_data_key *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Adds the state of the plan's source (sub NULL) or of source/sub: a file's size and modification
// time, or a digest of a folder's entries (name, size, mtime) `depth` levels down.  It goes only into
// the key stored in the cache file, not into the file's name, so a changed source replaces its cache.
void lra_data_key_source(lra_data_key *k, const char *sub, int depth);

// Finds `name` in dir, dir/sub, dir/lra_release/sub or dir/lra_release/lra_release/sub (the layouts
// of the LRA release, data.md §2).  New string, or NULL with the message set (LRA_ERR_IO).
char *lra_data_find_in_release(const char *dir, const char *sub, const char *name);

#endif
