// Linear layer (see linear.h).
#include "layers/linear.h"

#include <math.h>
#include <stdio.h>

#include "core/ops.h"

void lra_linear_declare(lra_linear *l, lra_params *p, const char *name, int in, int out, int bias) {
    char buf[LRA_PARAM_NAME_MAX];
    float bound = 1.0f / sqrtf((float)in);
    snprintf(buf, sizeof buf, "%s.weight", name);
    l->w = lra_params_add(p, buf, LRA_DIMS(out, in), LRA_INIT_UNIFORM, bound);
    l->b = -1;
    if (bias) {
        snprintf(buf, sizeof buf, "%s.bias", name);
        l->b = lra_params_add(p, buf, LRA_DIMS(out), LRA_INIT_UNIFORM, bound);
    }
    l->in = in;
    l->out = out;
}

lra_tensor *lra_linear_forward(const lra_linear *l, lra_params *p, lra_ctx *ctx, lra_tensor *x) {
    return lra_op_linear(ctx, x, lra_params_tensor(p, l->w), l->b >= 0 ? lra_params_tensor(p, l->b) : NULL);
}

lra_tensor *lra_linear_forward_heads(const lra_linear *l, lra_params *p, lra_ctx *ctx, lra_tensor *x, int heads) {
    return lra_op_linear_heads(ctx, x, lra_params_tensor(p, l->w), l->b >= 0 ? lra_params_tensor(p, l->b) : NULL,
                               heads);
}

lra_tensor *lra_linear_forward_merge(const lra_linear *l, lra_params *p, lra_ctx *ctx, lra_tensor *o) {
    return lra_op_heads_linear(ctx, o, lra_params_tensor(p, l->w), l->b >= 0 ? lra_params_tensor(p, l->b) : NULL);
}
