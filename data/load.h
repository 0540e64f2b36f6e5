// Loading a dataset split of a task, with a binary cache: the task's source (its lra_data_source,
// part of its definition in tasks/task_<name>.c) finds the files under the path given and reads
// them; this file adds, when a cache directory is set, a binary cache of the result (data/cache.h)
// keyed on the source files' sizes and modification times and on the options, so a later run skips
// the parsing.  A stale or corrupt cache is reported (warning) and rebuilt.  By task name:
// lra_task_load (tasks/task.h).
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
    int64_t max_examples;           // > 0: sources that can stop early (pathfinder, pathx) keep only the first
                                    // max_examples of the split
} lra_load_options;

// cache off, pixel offset 1, seed 42, resolution per task, difficulty hard, nothing cut.
void lra_load_options_default(lra_load_options *opt);

// ---- a task's source ------------------------------------------------------------------------

// What a source's plan found: the file or folder its reader gets, and the choices made on the way
// that change what the reader produces (so that the key and the reader see the same ones).
#define LRA_PLAN_PARAMS 4
typedef struct {
    char *source;                // new string; the loader frees it
    int param[LRA_PLAN_PARAMS];  // source-defined (image: IDX or CIFAR-10; pathfinder: resolution, difficulty)
} lra_data_plan;

// The cache key being built.  The loader writes the common head (readers version, task, split, the
// source's real path); the source's key function adds its lines.
typedef struct lra_data_key lra_data_key;
void lra_data_key_printf(lra_data_key *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Adds the state of the plan's source (sub NULL) or of source/sub: a file's size and modification
// time, or a digest of a folder's entries (name, size, mtime) `depth` levels down.  It goes only into
// the key stored in the cache file, not into the file's name, so a changed source replaces its cache.
void lra_data_key_source(lra_data_key *k, const char *sub, int depth);

// How a task's data is found and read.  plan is called once the path is known to exist; it sets
// p->source and any p->param.  key adds every option that changes the reader's output, and the
// source state, to the cache key.  read fills `out`.
// dataset (optional) names what the plan found when it is not the task's own data set (image: IDX files,
// e.g. Fashion-MNIST, instead of CIFAR-10); NULL or no function: the task's own.
typedef struct {
    lra_status (*plan)(const char *path, lra_split split, const lra_load_options *opt, lra_data_plan *p);
    void (*key)(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_data_key *k);
    lra_status (*read)(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_dataset *out);
    const char *(*dataset)(const lra_data_plan *p);
} lra_data_source;

// Finds `name` in dir, dir/sub, dir/lra_release/sub or dir/lra_release/lra_release/sub (the layouts
// of the LRA release, data.md §2).  New string, or NULL with the message set (LRA_ERR_IO).
char *lra_data_find_in_release(const char *dir, const char *sub, const char *name);

// ---- loading ---------------------------------------------------------------------------------

// Loads split `split` of task `task` (its name: cache file prefix and messages), read by `src`, from
// `path` into `out` (initialised by this call).  `opt` may be NULL (the defaults).
lra_status lra_data_load(const char *task, const lra_data_source *src, const char *path, lra_split split,
                         const lra_load_options *opt, lra_dataset *out);

// The cache file that lra_data_load uses for these arguments (new string, free()), or NULL when
// opt->cache_dir is NULL or the source cannot be found (message set).
char *lra_data_cache_path(const char *task, const lra_data_source *src, const char *path, lra_split split,
                          const lra_load_options *opt);

// ---- which data set ---------------------------------------------------------------------------

// The marker file `lra data generate` leaves in its output folder (its first line says what made it),
// so that runs on generated data are labelled as such in `lra table`.
#define LRA_GENERATED_MARKER "lra-generated.txt"
// Writes DIR/lra-generated.txt holding `what` (one line), atomically.
lra_status lra_data_mark_generated(const char *dir, const char *what);

// Says what data set `path` holds for this task, into label: "" when it is the task's own (the LRA
// release, IMDb, CIFAR-10), else a short description ("generated: ...", "IDX images (MNIST-like), not
// CIFAR-10").  A folder is generated when it, the plan's source or the source's parent holds the marker.
lra_status lra_data_describe(const char *task, const lra_data_source *src, const char *path,
                             const lra_load_options *opt, char *label, size_t cap);

#endif
