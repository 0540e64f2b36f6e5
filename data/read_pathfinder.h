// Reader of the released Pathfinder / Path-X data (data.md §9): pathfinder{32,64,128,256}/<difficulty>/
// with metadata/<b>.npy (plain text despite the extension, one line per image) and
// imgs/<b>/sample_<i>.png (8-bit gray PNG, decoded by data/png.h; any PNG type is accepted).
//
// Listing (§9.2, §9.5): metadata files in numeric order of their stem, lines in file order; empty
// lines are ignored, a trailing '\r' is accepted, a line needs >= 4 space-separated fields: image
// subdirectory, file name, index, label (0 or 1).  The image path is <dir>/<field 0>/<field 1>.
// Zero-byte images (the release has one: pathfinder32/curv_baseline/imgs/0/sample_172.png) are
// skipped and counted, with one warning.  A binary .npy (the generator's own output) is refused.
//
// Splits (§9.5 recommendation): the N usable images are shuffled once with numpy's legacy
// RandomState(seed).permutation(N) (MT19937, Fisher-Yates; data/nprandom.h), then
//   train = the first N - 2*floor(N/10) of the permutation, val = the next floor(N/10),
//   test = the last floor(N/10)      (160,000 / 20,000 / 20,000 for N = 200,000).
// Within a split, examples are stored in listing order (file locality; shuffling is the batcher's).
// Tokens: the image row-major, id = pixel + 1 (vocab 257) by default, or the pixel (vocab 256) with
// image.pixel_offset = 0 (data/image.h, data.md §10).  Every image must have the size of the first.
#ifndef LRA_DATA_READ_PATHFINDER_H
#define LRA_DATA_READ_PATHFINDER_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/split.h"

enum { LRA_PATHFINDER_CLASSES = 2, LRA_PATHFINDER_SEED = 42 };

typedef enum { LRA_PF_EASY, LRA_PF_INTERMEDIATE, LRA_PF_HARD } lra_pf_difficulty;

typedef struct {
    lra_image_options image;   // token ids
    uint32_t seed;             // split shuffle seed (default 42); report it with results
    int64_t max_examples;      // > 0: keep only the first max_examples of the split; 0 = all
} lra_pathfinder_options;

typedef struct {
    int64_t listed;          // metadata records
    int64_t skipped_empty;   // zero-byte images skipped
    int64_t usable;          // N = listed - skipped_empty
    int64_t split_size[3];   // train / val / test sizes for N (indexed by lra_split)
    int64_t label_count[2];  // labels of the examples read into `out`
    int width, height;       // image size (0 when nothing was read)
} lra_pathfinder_info;

void lra_pathfinder_options_default(lra_pathfinder_options *opt);

// Folder name of a difficulty: "curv_baseline", "curv_contour_length_9", "curv_contour_length_14".
const char *lra_pathfinder_folder(lra_pf_difficulty d);
// Accepts easy / intermediate / hard, 6 / 9 / 14, or the folder names.
lra_status lra_pathfinder_parse_difficulty(const char *s, lra_pf_difficulty *d);

// Locates the difficulty folder under `root`, trying in order
//   root/lra_release/lra_release/pathfinder<R>/F, root/lra_release/pathfinder<R>/F,
//   root/pathfinder<R>/F, root/F and root itself,
// (inner release copies first, data.md §9.8) and returning the first with a metadata/ folder, as a new
// string (free()), or NULL with an error message.
char *lra_pathfinder_find(const char *root, int resolution, lra_pf_difficulty d);

// Reads split `split` of the difficulty folder `dir`.  Initialises `out` (n_seq 1, vocab per
// opt->image, 2 classes); on error it is freed and the message names the file (and line).
// `opt` and `info` may be NULL.
lra_status lra_pathfinder_read(const char *dir, lra_split split, const lra_pathfinder_options *opt, lra_dataset *out,
                               lra_pathfinder_info *info);

#endif
