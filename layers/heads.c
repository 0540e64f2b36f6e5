// Classifier heads (see heads.h).
#include "layers/heads.h"

#include <stdio.h>

#include "core/ops.h"

void lra_head_declare(lra_head *h, lra_params *p, const char *name, int dim, int hidden, int classes, int dual) {
    char buf[LRA_PARAM_NAME_MAX];
    snprintf(buf, sizeof buf, "%s.mlpblock.0", name);
    lra_linear_declare(&h->fc1, p, buf, dual ? 4 * dim : dim, hidden, 1);
    snprintf(buf, sizeof buf, "%s.mlpblock.2", name);
    lra_linear_declare(&h->fc2, p, buf, hidden, classes, 1);
    h->dual = dual;
}

lra_tensor *lra_head_forward(const lra_head *h, lra_params *p, lra_ctx *ctx, lra_tensor *u, lra_tensor *v) {
    lra_tensor *z = u;
    if (h->dual) {
        LRA_ASSERT(v != NULL);
        lra_tensor *parts[4] = {u, v, lra_op_mul(ctx, u, v), lra_op_sub(ctx, u, v)};
        z = lra_op_concat(ctx, parts, 4, 1);
    }
    lra_tensor *hid = lra_op_relu(ctx, lra_linear_forward(&h->fc1, p, ctx, z));
    return lra_linear_forward(&h->fc2, p, ctx, hid);
}
