// LayerNorm over the last axis with affine gamma (init 1) and beta (init 0), eps 1e-5 (PyTorch).
#ifndef LRA_LAYERS_LAYERNORM_H
#define LRA_LAYERS_LAYERNORM_H

#include "core/autograd.h"
#include "core/params.h"

typedef struct {
    int gamma, beta;
    float eps;
} lra_layernorm;

// Declares "<name>.weight" and "<name>.bias" of width d.
void lra_layernorm_declare(lra_layernorm *l, lra_params *p, const char *name, int d);
// x: [..., d] -> [..., d]
lra_tensor *lra_layernorm_forward(const lra_layernorm *l, lra_params *p, lra_ctx *ctx, lra_tensor *x);
// x: [B, n, d], mask [B, n] -> [B, d]: the norm of each row, masked, pooled over positions (the mean, or
// row 0 with first_row) in one op that keeps no normalised copy (lra_op_layer_norm_pool).
lra_tensor *lra_layernorm_pool_forward(const lra_layernorm *l, lra_params *p, lra_ctx *ctx, lra_tensor *x,
                                       lra_tensor *mask, int first_row);

#endif
