// Clipping by global gradient norm, as torch.nn.utils.clip_grad_norm_: with the L2 norm N over all
// trainable gradients, when max_norm / (N + 1e-6) < 1 every gradient is multiplied by it.
#ifndef LRA_OPTIM_CLIP_H
#define LRA_OPTIM_CLIP_H

#include "core/params.h"

// Returns the norm before clipping.  max_norm <= 0 only measures.
double lra_clip_grad_norm(lra_params *p, double max_norm);

#endif
