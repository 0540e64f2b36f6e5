// Dropout keys.  Every dropout site draws its mask from Philox keyed by (run seed, purpose stream);
// the stream combines the training step, the layer, the site and the tower (retrieval document), and
// the per-example offset in the context makes masks independent of how a batch is split.
#ifndef LRA_LAYERS_DROPOUT_H
#define LRA_LAYERS_DROPOUT_H

#include <stdint.h>

#include "core/autograd.h"

typedef enum {
    LRA_DROP_EMBEDDING = 1,
    LRA_DROP_ATTN_OUT,     // on the attention branch before the residual add
    LRA_DROP_MLP_HIDDEN,   // after GELU
    LRA_DROP_MLP_OUT,      // on the MLP output before the residual add
    LRA_DROP_ATTN_PROBS,   // inside attention kernels
    LRA_DROP_KERNEL_OTHER  // other kernel-internal dropouts (S3 smoother)
} lra_dropout_site;

// Stream id for a site of a layer (layer -1 for model-level sites) at the context's step.
uint64_t lra_dropout_stream(const lra_ctx *ctx, int layer, lra_dropout_site site, uint64_t tower);
// x -> dropout(x) with rate p at that site (identity in eval mode or when p == 0).
lra_tensor *lra_dropout_apply(lra_ctx *ctx, lra_tensor *x, float p, int layer, lra_dropout_site site,
                              uint64_t tower);

#endif
