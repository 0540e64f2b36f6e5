// The data fingerprint of a run: what `lra table` compares before it puts runs in one cell.  Training
// writes it to RUN_DIR/data.json:
//   {"task": "listops", "fingerprint": "<16 hex digits>", "train_examples": N, "val_examples": N,
//    "test_examples": N, "dataset": "", "own_dataset": true}
// The fingerprint is a 64-bit hash of the three splits as the model sees them (after data.max_train /
// max_eval and data.max_length): sizes, lengths, token ids and labels, in split order.  So two runs share
// it exactly when they trained and were scored on the same examples, wherever the files lay.
// "dataset" is "" for the task's own data set, else what it is ("generated: lra data generate listops",
// "IDX images (MNIST-like), not CIFAR-10"; data/load.h lra_data_describe).
#ifndef LRA_TASKS_DATA_FINGERPRINT_H
#define LRA_TASKS_DATA_FINGERPRINT_H

#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"

#define LRA_DATA_JSON "data.json"

typedef struct {
    char hash[17];        // 16 lowercase hex digits
    int64_t examples[3];  // train, val, test
    char dataset[512];    // "" = the task's own data set
} lra_data_fingerprint;

// Hashes the three splits (train, val, test) into fp->hash and fp->examples; fp->dataset is left as is.
void lra_data_fingerprint_compute(const lra_dataset *const splits[3], lra_data_fingerprint *fp);
// Writes RUN_DIR/data.json atomically.
lra_status lra_data_fingerprint_write(const char *run_dir, const char *task, const lra_data_fingerprint *fp);

#endif
