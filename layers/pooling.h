// Pooling of the encoder output (training.md §1.7); the encoder applies it with its final norm in one
// op (lra_op_layer_norm_pool).
//   MEAN: u = (1/n) sum_i X[i]  over ALL n positions (padded rows are zero), as the references do.
//   CLS:  u = X[0]; the input holds the CLS id (vocab_size - 1) at position 0 followed by the document
//         with its last token dropped, so the length stays n (the batcher writes it so: cls_token).
#ifndef LRA_LAYERS_POOLING_H
#define LRA_LAYERS_POOLING_H

#include "core/status.h"

typedef enum { LRA_POOL_MEAN = 0, LRA_POOL_CLS = 1 } lra_pooling;

lra_status lra_pooling_parse(const char *name, lra_pooling *out);

#endif
