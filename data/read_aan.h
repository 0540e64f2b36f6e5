// Reader of the LRA Retrieval (AAN) files tsv_data/new_aan_pairs.{train,eval,test}.tsv (data.md §6):
// no header, 5 tab-separated fields per line (label, id 1, id 2, text 1, text 2), no quoting.  Each
// text becomes byte-level ids (byte + 1, pad 0, vocab_size 257) cut to its first 10,000 bytes as in
// the official pipeline; the example holds both documents (n_seq = 2).  Label: strtod, truncated to
// an integer, 0 or 1.
#ifndef LRA_DATA_READ_AAN_H
#define LRA_DATA_READ_AAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"

enum { LRA_AAN_VOCAB = 257, LRA_AAN_CLASSES = 2, LRA_AAN_MAX_BYTES = 10000 };

typedef struct {
    int64_t max_bytes;  // bytes kept per text; 0 = LRA_AAN_MAX_BYTES (the official cut)
    int64_t max_len;    // > 0: keep at most this many tokens per text (saves memory); 0 = max_bytes
    size_t max_line;    // longest accepted line in bytes; 0 = 64 MiB
} lra_aan_options;

// Reads every line of `path` into `out`, which this call initialises; `opt` may be NULL.  On error
// `out` is freed and the message names path:line.
lra_status lra_aan_read(const char *path, const lra_aan_options *opt, lra_dataset *out);

#endif
