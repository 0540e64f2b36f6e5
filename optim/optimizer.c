// The optimizer interface (see optimizer.h).
#include "optim/optimizer.h"

void lra_optimizer_init(lra_optimizer *opt, const lra_optimizer_config *c) {
    opt->kind = c->kind;
    if (c->kind == LRA_OPTIM_SGD) {
        lra_sgd_init(&opt->u.sgd);
        opt->u.sgd.momentum = c->momentum;
        opt->u.sgd.weight_decay = c->weight_decay;
    } else {
        lra_adamw_init(&opt->u.adamw);
        opt->u.adamw.beta1 = c->beta1;
        opt->u.adamw.beta2 = c->beta2;
        opt->u.adamw.eps = c->eps;
        opt->u.adamw.weight_decay = c->weight_decay;
    }
}

void lra_optimizer_step(lra_optimizer *opt, lra_params *p, double lr, double beta1) {
    if (opt->kind == LRA_OPTIM_SGD)
        lra_sgd_step(&opt->u.sgd, p, lr);
    else
        lra_adamw_step(&opt->u.adamw, p, lr, beta1);
}

int64_t lra_optimizer_steps(const lra_optimizer *opt) {
    return opt->kind == LRA_OPTIM_SGD ? opt->u.sgd.step : opt->u.adamw.step;
}

void lra_optimizer_set_steps(lra_optimizer *opt, int64_t steps) {
    if (opt->kind == LRA_OPTIM_SGD)
        opt->u.sgd.step = steps;
    else
        opt->u.adamw.step = steps;
}
