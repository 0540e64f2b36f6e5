// One entry point that gives the trainer a dataset split of any task: it finds the source files under
// the path given, reads them with the task's reader and, when a cache directory is set, keeps a
// binary cache of the result (data/cache.h) keyed on the source files' sizes and modification times
// and on the options, so a later run skips the parsing.  A stale or corrupt cache is reported
// (warning) and rebuilt.
//
// task        path                                                   reader
// listops     a directory holding basic_<split>.tsv                     read_listops.h
//             (itself, listops-1000/, lra_release/listops-1000/, lra_release/lra_release/listops-1000/)
// text        aclImdb/, a directory containing it, or aclImdb_v1.tar.gz read_imdb.h
// retrieval   a new_aan_pairs.<train|eval|test>.tsv file, or a directory read_aan.h
//             holding it (itself, tsv_data/, lra_release/[lra_release/]tsv_data/)
// image       CIFAR-10 binary (directory or archive), or a directory of   read_cifar.h, read_idx.h
//             IDX files (MNIST-like; detected by train-images-idx3-ubyte[.gz])
// pathfinder  the release root or a difficulty folder (Pathfinder32)      read_pathfinder.h
// pathx       the same for pathfinder128 (Path-X)
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

#endif
