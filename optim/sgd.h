// SGD with momentum as torch.optim.SGD computes it:
//   g += wd * theta;  buf = g (first step) or momentum*buf + (1-dampening)*g;
//   d = nesterov ? g + momentum*buf : buf;  theta -= lr * d
// The momentum buffer is the store's first moment buffer p->m.
#ifndef LRA_OPTIM_SGD_H
#define LRA_OPTIM_SGD_H

#include <stdint.h>

#include "core/params.h"

typedef struct {
    double momentum, dampening, weight_decay;
    int nesterov;
    int64_t step;
} lra_sgd;

void lra_sgd_init(lra_sgd *opt);  // momentum 0.9, dampening 0, wd 0, no nesterov
void lra_sgd_step(lra_sgd *opt, lra_params *p, double lr);

#endif
