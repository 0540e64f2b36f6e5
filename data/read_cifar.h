// Reader of the CIFAR-10 binary distribution (cifar-10-binary.tar.gz, data.md §7) for the LRA Image
// task: 32x32 RGB -> gray with the official float32 recipe (§7.2, lra_image_rgb_to_gray), flattened
// row-major into 1024 tokens (id = gray + 1 by default, or gray with pixel_offset = 0; data/image.h).
//
// Files: data_batch_1.bin .. data_batch_5.bin and test_batch.bin, records of 3073 bytes (label 0..9,
// then the red, green and blue 32x32 planes).
// Splits (§7.4, file order; the official TFDS validation subset cannot be rebuilt from these files):
//   train = the first N - N/10 records of data_batch_1..5 in file order (45,000 for the real files:
//           batches 1-4 and the first 5,000 of batch 5),
//   val   = the last N/10 of them (5,000: the end of batch 5),
//   test  = test_batch.bin (10,000).
// Results should state that this split approximates the official one.
#ifndef LRA_DATA_READ_CIFAR_H
#define LRA_DATA_READ_CIFAR_H

#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/split.h"

enum { LRA_CIFAR_RECORD = 3073, LRA_CIFAR_SIDE = 32, LRA_CIFAR_PIXELS = 1024, LRA_CIFAR_CLASSES = 10 };

// `path`: the cifar-10-batches-bin directory, a directory that contains it, or the archive
// (cifar-10-binary.tar.gz / .tgz / .tar, members matched by file name).  Initialises `out`
// (n_seq 1, vocab 257 or 256 per `opt`, 10 classes); on error `out` is freed and the message names the
// file (and record).  `opt` may be NULL (defaults).
lra_status lra_cifar_read(const char *path, lra_split split, const lra_image_options *opt, lra_dataset *out);

// The class names of labels 0..9 ("airplane" .. "truck").
const char *lra_cifar_class_name(int label);

#endif
