// Learning-rate schedules as exact formulas (training.md §3).  A schedule maps the 0-based optimizer
// step t to (lr, beta1); beta1 is only scheduled by OneCycle (it cycles opposite to the LR), the others
// return the optimizer's base beta1.
#ifndef LRA_OPTIM_SCHEDULE_H
#define LRA_OPTIM_SCHEDULE_H

#include <stdint.h>

#include "core/status.h"

typedef enum {
    LRA_SCHED_CONSTANT = 0,     // lr
    LRA_SCHED_ONECYCLE,         // PyTorch OneCycleLR(linear), div 25, final div 1e4, beta1 0.95 <-> 0.85
    LRA_SCHED_LINEAR,           // linear warmup from 0 to lr over w steps, then linear decay to 0 at T
    LRA_SCHED_RSQRT,            // official LRA: lr * min(1, t/w) / sqrt(max(t, w))
    LRA_SCHED_COSINE            // official LRA: lr * min(1, t/w) * 0.5 (1 + cos(pi * (max(0,(t-w)/P) mod 1)))
} lra_schedule_kind;

typedef struct {
    lra_schedule_kind kind;
    double lr;              // peak / base learning rate
    int64_t warmup;         // w
    int64_t total;          // T (OneCycle total_steps, linear decay end, cosine cycle P)
    double div_factor;      // OneCycle initial divisor (25)
    double final_div;       // OneCycle final divisor (1e4)
    double base_beta1;      // beta1 when not cycled
    double max_momentum, min_momentum;  // OneCycle beta1 range (0.95, 0.85)
} lra_schedule;

// Defaults of the kind (OneCycle: div 25, final 1e4, momentum 0.95/0.85; base beta1 0.9).
void lra_schedule_init(lra_schedule *s, lra_schedule_kind kind, double lr, int64_t warmup, int64_t total);
// lr and beta1 used by optimizer step t (0-based).  Never negative.
void lra_schedule_at(const lra_schedule *s, int64_t t, double *lr, double *beta1);
lra_status lra_schedule_parse_kind(const char *name, lra_schedule_kind *out);
const char *lra_schedule_kind_name(lra_schedule_kind k);

#endif
