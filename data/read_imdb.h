// Reader of the IMDb review corpus (aclImdb, data.md §5), from the extracted directory or straight
// from aclImdb_v1.tar.gz (also .tgz / .tar).
//   split: train = aclImdb/train/{neg,pos}; val and test = aclImdb/test/{neg,pos} (IMDb has no
//          validation split; every reference evaluates on test).  train/unsup is ignored.
//   label: neg = 0, pos = 1, from the directory name (the rating in <id>_<rating>.txt is unused).
//   text:  all bytes of the file with leading/trailing ASCII whitespace (space \t \n \r \v \f)
//          stripped, no decoding; ids = byte + 1 (pad 0, vocab_size 257).
//   order: neg reviews by ascending id, then pos reviews by ascending id (deterministic whatever the
//          directory or archive order; shuffling is the batcher's job).
#ifndef LRA_DATA_READ_IMDB_H
#define LRA_DATA_READ_IMDB_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/split.h"

enum { LRA_IMDB_VOCAB = 257, LRA_IMDB_CLASSES = 2 };

typedef struct {
    int64_t max_len;     // > 0: keep only the first max_len bytes of each review; 0 = keep all
    int64_t max_review;  // a review file larger than this is an error; 0 = 16 MiB
} lra_imdb_options;

// `path`: the aclImdb directory, a directory that contains aclImdb/, or a .tar.gz/.tgz/.tar archive
// of it.  Initialises `out` (n_seq 1, vocab 257, 2 classes); on error it is freed and the message
// names the file.  `opt` may be NULL.
lra_status lra_imdb_read(const char *path, lra_split split, const lra_imdb_options *opt, lra_dataset *out);

// Locates the aclImdb root for a directory `path` (path itself or path/aclImdb); the result is a new
// string (free()), or NULL with an error message.
char *lra_imdb_find_root(const char *path);

// 1 when `path` names an archive (.tar, .tar.gz or .tgz) that lra_imdb_read opens directly.
int lra_imdb_is_archive(const char *path);

#endif
