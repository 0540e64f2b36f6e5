// Reader of the LRA ListOps release files (listops-1000/basic_{train,val,test}.tsv, data.md §4):
// header "Source<TAB>Target", CRLF (LF accepted), no quoting.  Source is tokenised with the fixed
// vocabulary of data.md §4.2: pad 0, digits '0'..'9' -> 1..10, [MIN 11, [MAX 12, [MED 13, [SM 14,
// ']' 15, unknown 16 (vocab_size 17); '(' and ')' are dropped.  Target 0..9 is the label (10 classes).
#ifndef LRA_DATA_READ_LISTOPS_H
#define LRA_DATA_READ_LISTOPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"

enum {
    LRA_LISTOPS_PAD = 0,
    LRA_LISTOPS_DIGIT0 = 1,  // digit d has id 1 + d
    LRA_LISTOPS_MIN = 11,
    LRA_LISTOPS_MAX = 12,
    LRA_LISTOPS_MED = 13,
    LRA_LISTOPS_SM = 14,
    LRA_LISTOPS_CLOSE = 15,  // ']' (written 'X' by the official pipeline)
    LRA_LISTOPS_UNK = 16,
    LRA_LISTOPS_VOCAB = 17,
    LRA_LISTOPS_CLASSES = 10
};

typedef struct {
    int allow_unknown;   // 1: map an unknown symbol to LRA_LISTOPS_UNK; 0 (default): it is an error
    size_t max_line;     // longest accepted line in bytes; 0 = 1 MiB (released rows are <= ~13 KB)
    int64_t max_len;     // > 0: keep only the first max_len tokens of each row; 0 = keep all
} lra_listops_options;

// Id of one Source symbol (s[0..n)), or -1 for '(' / ')', or LRA_LISTOPS_UNK when unknown.
int lra_listops_token_id(const char *s, size_t n);

// Appends every data row of `path` to `out`, which this call initialises (n_seq 1, vocab 17,
// 10 classes); `opt` may be NULL.  On error `out` is freed and the message names path:line.
lra_status lra_listops_read(const char *path, const lra_listops_options *opt, lra_dataset *out);

#endif
