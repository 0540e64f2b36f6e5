// SGD with momentum over the flat parameter buffers (see sgd.h).
#include "optim/sgd.h"

void lra_sgd_init(lra_sgd *opt) {
    opt->momentum = 0.9;
    opt->dampening = 0.0;
    opt->weight_decay = 0.0;
    opt->nesterov = 0;
    opt->step = 0;
}

void lra_sgd_step(lra_sgd *opt, lra_params *p, double lr) {
    const int first = opt->step == 0;
    opt->step++;
    const float mom = (float)opt->momentum, damp = (float)(1.0 - opt->dampening);
    const float wd = (float)opt->weight_decay, flr = (float)lr;
    for (int t = 0; t < p->count; t++) {
        const lra_param_entry *e = &p->entries[t];
        if (!e->trainable) continue;
        float *theta = p->data + e->offset, *g = p->grad + e->offset, *buf = p->m + e->offset;
        for (int64_t i = 0; i < e->numel; i++) {
            float gi = g[i] + wd * theta[i];
            float d = gi;
            if (opt->momentum != 0.0) {
                buf[i] = first ? gi : mom * buf[i] + damp * gi;
                d = opt->nesterov ? gi + mom * buf[i] : buf[i];
            }
            theta[i] -= flr * d;
        }
    }
}
