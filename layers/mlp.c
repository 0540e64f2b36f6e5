// Transformer MLP block (see mlp.h).
#include "layers/mlp.h"

#include <stdio.h>

#include "core/ops.h"
#include "layers/dropout.h"

void lra_mlp_declare(lra_mlp *m, lra_params *p, const char *name, int dim, int hidden, float dropout, int layer) {
    char buf[LRA_PARAM_NAME_MAX];
    snprintf(buf, sizeof buf, "%s.0", name);
    lra_linear_declare(&m->fc1, p, buf, dim, hidden, 1);
    snprintf(buf, sizeof buf, "%s.3", name);
    lra_linear_declare(&m->fc2, p, buf, hidden, dim, 1);
    m->dropout = dropout;
    m->layer = layer;
}

// Linear -> GELU -> Dropout -> Linear (the output dropout is the caller's)
static lra_tensor *mlp_body(const lra_mlp *m, lra_params *p, lra_ctx *ctx, lra_tensor *x, uint64_t tower) {
    lra_tensor *h = lra_gelu_dropout(ctx, lra_linear_forward(&m->fc1, p, ctx, x), m->dropout, m->layer,
                                     LRA_KEY_DROPOUT_MLP_HIDDEN, tower);
    return lra_linear_forward(&m->fc2, p, ctx, h);
}

lra_tensor *lra_mlp_forward_residual(const lra_mlp *m, lra_params *p, lra_ctx *ctx, lra_tensor *x, lra_tensor *r,
                                     uint64_t tower) {
    return lra_dropout_add(ctx, r, mlp_body(m, p, ctx, x, tower), m->dropout, m->layer, LRA_KEY_DROPOUT_MLP_OUT,
                           tower);
}
