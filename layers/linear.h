// Linear layer y = x W^T + b with PyTorch's layout ([out, in]) and default initialisation:
// W, b ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5); training.md §1.10).
#ifndef LRA_LAYERS_LINEAR_H
#define LRA_LAYERS_LINEAR_H

#include "core/autograd.h"
#include "core/params.h"

typedef struct {
    int w, b;           // parameter indices (b = -1 without bias)
    int in, out;
} lra_linear;

// Declares "<name>.weight" [out, in] and "<name>.bias" [out].
void lra_linear_declare(lra_linear *l, lra_params *p, const char *name, int in, int out, int bias);
// x: [..., in] -> [..., out]
lra_tensor *lra_linear_forward(const lra_linear *l, lra_params *p, lra_ctx *ctx, lra_tensor *x);
// x: [B, n, in] -> [B, heads, n, out / heads] (the projection with its heads split off; ops.h)
lra_tensor *lra_linear_forward_heads(const lra_linear *l, lra_params *p, lra_ctx *ctx, lra_tensor *x, int heads);
// o: [B, H, n, in / H] -> [B, n, out] (the heads merged back, then the projection)
lra_tensor *lra_linear_forward_merge(const lra_linear *l, lra_params *p, lra_ctx *ctx, lra_tensor *o);

#endif
