// Classification heads (training.md §1.8), named "<name>.mlpblock.0" and ".mlpblock.2" as the reference's
// SCHead / SCHeadDual:
//   single: logits = W_b ReLU(W_a u + b_a) + b_b                 (W_a: D -> F)
//   dual:   logits = W_b ReLU(W_a [u, v, u*v, u-v] + b_a) + b_b   (W_a: 4D -> F)
#ifndef LRA_LAYERS_HEADS_H
#define LRA_LAYERS_HEADS_H

#include "layers/linear.h"

typedef struct {
    lra_linear fc1, fc2;
    int dual;
} lra_head;

void lra_head_declare(lra_head *h, lra_params *p, const char *name, int dim, int hidden, int classes, int dual);
// u: [B, D] (and v: [B, D] when dual, else NULL) -> logits [B, classes]
lra_tensor *lra_head_forward(const lra_head *h, lra_params *p, lra_ctx *ctx, lra_tensor *u, lra_tensor *v);

#endif
