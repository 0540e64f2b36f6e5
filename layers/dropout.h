// Dropout of the encoder's layers.  Every site draws its mask from the Philox stream of its purpose in
// core/keys.h, keyed by (run seed, step, layer, tower); the per-example offset in the context makes masks
// independent of how a batch is split.
#ifndef LRA_LAYERS_DROPOUT_H
#define LRA_LAYERS_DROPOUT_H

#include <stdint.h>

#include "core/autograd.h"
#include "core/keys.h"

// The sites are purposes of core/keys.h; these short names are what the layers use.
typedef lra_key_purpose lra_dropout_site;
#define LRA_DROP_EMBEDDING LRA_KEY_DROPOUT_EMBEDDING
#define LRA_DROP_ATTN_OUT LRA_KEY_DROPOUT_ATTN_OUT
#define LRA_DROP_MLP_HIDDEN LRA_KEY_DROPOUT_MLP_HIDDEN
#define LRA_DROP_MLP_OUT LRA_KEY_DROPOUT_MLP_OUT

// x -> dropout(x) with rate p at that site of `layer` (-1 for model-level sites); identity in eval mode or
// when p == 0.
lra_tensor *lra_dropout_apply(lra_ctx *ctx, lra_tensor *x, float p, int layer, lra_dropout_site site,
                              uint64_t tower);

#endif
