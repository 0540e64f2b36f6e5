// A dataset of examples held compactly: every example is one sequence (or two, for Retrieval) of
// uint16 token ids stored end to end, plus an int32 label.  Readers and generators append to it;
// the batcher pads and masks when it builds a batch.
#ifndef LRA_DATA_DATASET_H
#define LRA_DATA_DATASET_H

#include <stdint.h>

#include "core/status.h"

typedef struct lra_dataset {
    int64_t count;        // number of examples
    int n_seq;            // sequences per example: 1, or 2 for Retrieval
    int64_t *offsets;     // [count * n_seq + 1]: sequence s of example i is
                          //   tokens[offsets[i*n_seq + s] .. offsets[i*n_seq + s + 1])
    uint16_t *tokens;     // all sequences end to end
    int32_t *labels;      // [count]
    int32_t vocab_size;   // ids are < vocab_size (0 is padding except for images, see data.md §10)
    int32_t num_classes;  // labels are in [0, num_classes)
    int64_t max_seq_len;  // longest sequence stored
    // growth bookkeeping (private)
    int64_t tokens_cap, count_cap;
} lra_dataset;

// vocab_size/num_classes describe the task; n_seq is 1 or 2.
void lra_dataset_init(lra_dataset *ds, int n_seq, int32_t vocab_size, int32_t num_classes);
void lra_dataset_free(lra_dataset *ds);
// Appends one example: seqs[s] points to lens[s] tokens for s < n_seq.  Aborts on out-of-memory.
void lra_dataset_push(lra_dataset *ds, const uint16_t *const *seqs, const int64_t *lens, int32_t label);
// Convenience for n_seq == 1.
void lra_dataset_push1(lra_dataset *ds, const uint16_t *seq, int64_t len, int32_t label);
// Pre-sizes the arrays for `examples` examples and `tokens` tokens in all (an optional speed-up).
void lra_dataset_reserve(lra_dataset *ds, int64_t examples, int64_t tokens);
// Total tokens stored (all sequences of all examples).
int64_t lra_dataset_num_tokens(const lra_dataset *ds);
// Checks the invariants (offsets monotone, ids < vocab_size, labels < num_classes, max_seq_len exact);
// `what` names the dataset in the message.
lra_status lra_dataset_validate(const lra_dataset *ds, const char *what);
static inline int64_t lra_dataset_len(const lra_dataset *ds, int64_t i, int s) {
    return ds->offsets[i * ds->n_seq + s + 1] - ds->offsets[i * ds->n_seq + s];
}
static inline const uint16_t *lra_dataset_seq(const lra_dataset *ds, int64_t i, int s) {
    return ds->tokens + ds->offsets[i * ds->n_seq + s];
}

#endif
