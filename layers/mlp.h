// The transformer MLP: Linear(d -> F) -> GELU -> Dropout -> Linear(F -> d) -> Dropout
// (names "<name>.0" and "<name>.3" as in PyTorch's nn.Sequential of the reference).
#ifndef LRA_LAYERS_MLP_H
#define LRA_LAYERS_MLP_H

#include "core/autograd.h"
#include "core/params.h"
#include "layers/linear.h"

typedef struct {
    lra_linear fc1, fc2;
    float dropout;
    int layer;
} lra_mlp;

void lra_mlp_declare(lra_mlp *m, lra_params *p, const char *name, int dim, int hidden, float dropout, int layer);
// x: [B, n, d], r: [B, n, d] -> r + MLP(x) [B, n, d], the output dropout fused into the addition
// (lra_dropout_add).
lra_tensor *lra_mlp_forward_residual(const lra_mlp *m, lra_params *p, lra_ctx *ctx, lra_tensor *x, lra_tensor *r,
                                     uint64_t tower);

#endif
