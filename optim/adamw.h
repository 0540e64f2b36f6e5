// AdamW exactly as PyTorch computes it (torch.optim.AdamW, single-tensor path), over the flat buffers of
// a parameter store: per step k (1-based)
//   theta *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   theta -= (lr / (1 - b1^k)) * m / (sqrt(v) / sqrt(1 - b2^k) + eps)
// beta1 may change every step (OneCycle cycles it) and the bias correction uses the CURRENT beta1^k,
// as PyTorch does (training.md §4.1).  Fixed buffers (trainable = 0) are skipped.
#ifndef LRA_OPTIM_ADAMW_H
#define LRA_OPTIM_ADAMW_H

#include <stdint.h>

#include "core/params.h"

typedef struct {
    double beta1, beta2, eps, weight_decay;  // defaults 0.9, 0.999, 1e-6 (the references'), 0
    int64_t step;                            // steps taken (k after the last step)
} lra_adamw;

void lra_adamw_init(lra_adamw *opt);
// One update with learning rate lr and this step's beta1 (pass opt->beta1 when not scheduled).
// Uses p->grad as the gradient and p->m, p->v as moments.
void lra_adamw_step(lra_adamw *opt, lra_params *p, double lr, double beta1);

#endif
