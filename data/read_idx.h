// Reader of IDX files (MNIST, Fashion-MNIST; data.md §8), raw or gzip-compressed (detected by
// content).  Images become rows*cols tokens, row-major (784 for 28x28), id = pixel + 1 by default or
// the pixel itself with pixel_offset = 0 (data/image.h); labels must be 0..9.
//
// Validated: the magic (two zero bytes, element type 0x08 = unsigned byte, 3 dimensions for images
// and 1 for labels), that the sizes multiply to the data length exactly, that the image and label
// counts agree, and the label range.  Other element types are LRA_ERR_UNSUPPORTED.
#ifndef LRA_DATA_READ_IDX_H
#define LRA_DATA_READ_IDX_H

#include "core/status.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/split.h"

enum { LRA_IDX_CLASSES = 10 };

// All records of one image file and its label file, appended in file order.  Initialises `out`
// (n_seq 1, vocab per `opt`, 10 classes); on error `out` is freed and the message names the file.
lra_status lra_idx_read_files(const char *images_path, const char *labels_path, const lra_image_options *opt,
                              lra_dataset *out);

// `dir` holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each as is or with a .gz suffix.  Splits, in file order:
//   train = the first N - N/10 of the train files (54,000 of 60,000, the size of TFDS train[:90%]),
//   val   = the last N/10 (6,000),
//   test  = the t10k files.
lra_status lra_idx_read(const char *dir, lra_split split, const lra_image_options *opt, lra_dataset *out);

#endif
