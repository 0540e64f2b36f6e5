// One optimizer interface over the concrete ones (AdamW, SGD): a kind, its state and one step function,
// so callers (the training step, benches, tests) never switch between optimizer structs themselves.
#ifndef LRA_OPTIM_OPTIMIZER_H
#define LRA_OPTIM_OPTIMIZER_H

#include <stdint.h>

#include "core/params.h"
#include "optim/adamw.h"
#include "optim/sgd.h"

typedef enum { LRA_OPTIM_ADAMW = 0, LRA_OPTIM_SGD } lra_optimizer_kind;

typedef struct {
    lra_optimizer_kind kind;
    union {
        lra_adamw adamw;
        lra_sgd sgd;
    } u;
} lra_optimizer;

typedef struct {
    lra_optimizer_kind kind;
    double beta1, beta2, eps;  // AdamW
    double momentum;           // SGD
    double weight_decay;       // both
} lra_optimizer_config;

void lra_optimizer_init(lra_optimizer *opt, const lra_optimizer_config *c);
// One update from p->grad.  beta1 is this step's AdamW beta1 (the schedule's; ignored by SGD).
void lra_optimizer_step(lra_optimizer *opt, lra_params *p, double lr, double beta1);
// Steps taken so far (the bias-correction count), and setting it when a checkpoint is resumed.
int64_t lra_optimizer_steps(const lra_optimizer *opt);
void lra_optimizer_set_steps(lra_optimizer *opt, int64_t steps);

#endif
