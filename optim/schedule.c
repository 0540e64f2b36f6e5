// Learning-rate schedules (see schedule.h and training.md §3).
#include "optim/schedule.h"

#include <math.h>
#include <string.h>

void lra_schedule_init(lra_schedule *s, lra_schedule_kind kind, double lr, int64_t warmup, int64_t total) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->lr = lr;
    s->warmup = warmup;
    s->total = total;
    s->div_factor = 25.0;
    s->final_div = 1e4;
    s->base_beta1 = 0.9;
    s->max_momentum = 0.95;
    s->min_momentum = 0.85;
}

static void onecycle(const lra_schedule *s, int64_t t, double *lr, double *beta1) {
    const double eta = s->lr, eta0 = eta / s->div_factor, eta_min = eta0 / s->final_div;
    const double T = (double)s->total;
    // PyTorch computes the phase end as float(pct_start * total_steps) - 1 with pct_start = w / T.
    const double pct = (double)s->warmup / T;
    const double e1 = pct * T - 1.0, e2 = T - 1.0;
    const double tt = (double)t;
    if (tt <= e1) {
        double f = e1 > 0 ? tt / e1 : 1.0;
        *lr = eta0 + (eta - eta0) * f;
        *beta1 = s->max_momentum + (s->min_momentum - s->max_momentum) * f;
    } else {
        double f = (tt - e1) / (e2 - e1);
        *lr = eta + (eta_min - eta) * f;
        *beta1 = s->min_momentum + (s->max_momentum - s->min_momentum) * f;
    }
}

void lra_schedule_at(const lra_schedule *s, int64_t t, double *lr, double *beta1) {
    double l = s->lr, b = s->base_beta1;
    const double tt = (double)t, w = (double)s->warmup;
    switch (s->kind) {
    case LRA_SCHED_CONSTANT: break;
    case LRA_SCHED_ONECYCLE: onecycle(s, t, &l, &b); break;
    case LRA_SCHED_LINEAR:
        if (s->warmup > 0 && t < s->warmup)
            l = s->lr * tt / w;
        else
            l = s->lr * fmax(0.0, (double)(s->total - t) / fmax(1.0, (double)(s->total - s->warmup)));
        break;
    case LRA_SCHED_RSQRT: l = s->lr * fmin(1.0, w > 0 ? tt / w : 1.0) / sqrt(fmax(fmax(tt, w), 1.0)); break;
    case LRA_SCHED_COSINE: {
        double P = (double)(s->total > 0 ? s->total : 1);
        double progress = fmax(0.0, (tt - w) / P);
        l = s->lr * fmin(1.0, w > 0 ? tt / w : 1.0) * fmax(0.0, 0.5 * (1.0 + cos(M_PI * fmod(progress, 1.0))));
        break;
    }
    }
    *lr = l < 0 ? 0.0 : l;
    *beta1 = b;
}

static const char *const k_names[] = {"constant", "onecycle", "linear", "rsqrt", "cosine"};

lra_status lra_schedule_parse_kind(const char *name, lra_schedule_kind *out) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, k_names[i])) {
            *out = (lra_schedule_kind)i;
            return LRA_OK;
        }
    return lra_error(LRA_ERR_CONFIG, "unknown schedule '%s' (expected constant, onecycle, linear, rsqrt or cosine)",
                     name);
}

const char *lra_schedule_kind_name(lra_schedule_kind k) { return k_names[k]; }
