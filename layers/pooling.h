// Pooling of the encoder output (training.md §1.7).
//   MEAN: u = (1/n) sum_i X[i]  over ALL n positions (padded rows are zero), as the references do.
//   CLS:  u = X[0]; the input was shifted right with the CLS id (vocab_size - 1) at position 0 and its last
//         token dropped (lra_pooling_prepend_cls), so the length stays n.
#ifndef LRA_LAYERS_POOLING_H
#define LRA_LAYERS_POOLING_H

#include "core/autograd.h"
#include "core/status.h"

typedef enum { LRA_POOL_MEAN = 0, LRA_POOL_CLS = 1 } lra_pooling;

// x: [B, n, D] -> [B, D]
lra_tensor *lra_pooling_forward(lra_ctx *ctx, lra_tensor *x, lra_pooling mode);
// ids int32 [B, n], mask [B, n] -> new tensors with the CLS token first (mask 1) and the last token dropped.
void lra_pooling_prepend_cls(lra_ctx *ctx, lra_tensor *ids, lra_tensor *mask, int cls_id, lra_tensor **ids_out,
                             lra_tensor **mask_out);
lra_status lra_pooling_parse(const char *name, lra_pooling *out);

#endif
