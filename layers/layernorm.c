// LayerNorm layer (see layernorm.h).
#include "layers/layernorm.h"

#include <stdio.h>

#include "core/ops.h"

void lra_layernorm_declare(lra_layernorm *l, lra_params *p, const char *name, int d) {
    char buf[LRA_PARAM_NAME_MAX];
    snprintf(buf, sizeof buf, "%s.weight", name);
    l->gamma = lra_params_add(p, buf, LRA_DIMS(d), LRA_INIT_ONES, 0);
    snprintf(buf, sizeof buf, "%s.bias", name);
    l->beta = lra_params_add(p, buf, LRA_DIMS(d), LRA_INIT_ZEROS, 0);
    l->eps = 1e-5f;
}

lra_tensor *lra_layernorm_forward(const lra_layernorm *l, lra_params *p, lra_ctx *ctx, lra_tensor *x) {
    return lra_op_layer_norm(ctx, x, lra_params_tensor(p, l->gamma), lra_params_tensor(p, l->beta), l->eps);
}

lra_tensor *lra_layernorm_pool_forward(const lra_layernorm *l, lra_params *p, lra_ctx *ctx, lra_tensor *x,
                                       lra_tensor *mask, int first_row) {
    return lra_op_layer_norm_pool(ctx, x, lra_params_tensor(p, l->gamma), lra_params_tensor(p, l->beta), mask, l->eps,
                                  first_row);
}
