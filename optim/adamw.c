// AdamW update over the flat parameter buffers (see adamw.h).
#include "optim/adamw.h"

#include <math.h>

void lra_adamw_init(lra_adamw *opt) {
    opt->beta1 = 0.9;
    opt->beta2 = 0.999;
    opt->eps = 1e-6;
    opt->weight_decay = 0.0;
    opt->step = 0;
}

void lra_adamw_step(lra_adamw *opt, lra_params *p, double lr, double beta1) {
    opt->step++;
    const double k = (double)opt->step;
    // Scalars are formed in double and rounded to float once, as PyTorch does when it passes Python
    // floats to float32 tensor kernels.
    const float decay = (float)(1.0 - lr * opt->weight_decay);
    const float b1 = (float)beta1, one_minus_b1 = (float)(1.0 - beta1);
    const float b2 = (float)opt->beta2, one_minus_b2 = (float)(1.0 - opt->beta2);
    const float bc2_sqrt = (float)sqrt(1.0 - pow(opt->beta2, k));
    const float step_size = (float)(lr / (1.0 - pow(beta1, k)));
    const float eps = (float)opt->eps;
    for (int t = 0; t < p->count; t++) {
        const lra_param_entry *e = &p->entries[t];
        if (!e->trainable) continue;
        float *theta = p->data + e->offset, *g = p->grad + e->offset;
        float *m = p->m + e->offset, *v = p->v + e->offset;
        const int64_t n = e->numel;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) {
            float th = theta[i] * decay;
            float mi = m[i] * b1 + g[i] * one_minus_b1;
            float vi = v[i] * b2 + one_minus_b2 * g[i] * g[i];
            float denom = sqrtf(vi) / bc2_sqrt + eps;
            theta[i] = th - step_size * (mi / denom);
            m[i] = mi;
            v[i] = vi;
        }
    }
}
