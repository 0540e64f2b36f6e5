// Dropout of the encoder's layers.  Every site draws its mask from the Philox stream of its purpose in
// core/keys.h, keyed by (run seed, step, layer, tower); the per-example offset in the context makes masks
// independent of how a batch is split.
#ifndef LRA_LAYERS_DROPOUT_H
#define LRA_LAYERS_DROPOUT_H

#include <stdint.h>

#include "core/autograd.h"
#include "core/keys.h"

// x -> dropout(x) with rate p at the site `site` (an LRA_KEY_DROPOUT_* purpose) of `layer` (-1 for
// model-level sites); identity in eval mode or when p == 0.
lra_tensor *lra_dropout_apply(lra_ctx *ctx, lra_tensor *x, float p, int layer, lra_key_purpose site,
                              uint64_t tower);
// The residual x + dropout(z) at `site` in one op (lra_op_add_dropout: dropout(z) is never stored);
// the same values as lra_op_add(x, lra_dropout_apply(z, ...)).
lra_tensor *lra_dropout_add(lra_ctx *ctx, lra_tensor *x, lra_tensor *z, float p, int layer, lra_key_purpose site,
                            uint64_t tower);
// dropout(gelu(x)) at `site` in one op (lra_op_gelu_dropout: gelu(x) is never stored); the same values as
// lra_dropout_apply(lra_op_gelu(x), ...).
lra_tensor *lra_gelu_dropout(lra_ctx *ctx, lra_tensor *x, float p, int layer, lra_key_purpose site, uint64_t tower);

#endif
