// Global-norm gradient clipping (see clip.h).
#include "optim/clip.h"

double lra_clip_grad_norm(lra_params *p, double max_norm) {
    double norm = lra_params_grad_norm(p);
    if (max_norm > 0.0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0) lra_params_scale_grad(p, (float)coef);
    }
    return norm;
}
