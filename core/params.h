// The parameter store: every weight of a model lives in ONE flat float buffer with a table of
// (name, shape, offset); gradients and the optimizer's two moments are parallel flat buffers of the
// same layout.  So the optimizer is one loop, zeroing gradients is one memset, and a checkpoint is one
// table plus one blob.  Names follow the PyTorch reference module's state-dict keys.
//
// Use: lra_params_add() every tensor while building the model, then lra_params_finalize() once;
// afterwards lra_params_tensor() gives tensors whose data/grad point into the flat buffers.
#ifndef LRA_CORE_PARAMS_H
#define LRA_CORE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

#define LRA_PARAM_NAME_MAX 96

typedef enum {
    LRA_INIT_ZEROS = 0,
    LRA_INIT_ONES,
    LRA_INIT_NORMAL,    // N(0, a^2)
    LRA_INIT_UNIFORM    // U(-a, a)
} lra_init_kind;

typedef struct {
    char name[LRA_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[LRA_MAX_DIMS];
    size_t offset;      // in floats, a multiple of 16 (64-byte aligned)
    int64_t numel;
    lra_init_kind init;
    float init_a;
    int trainable;      // 0: a fixed buffer (e.g. a random projection): saved, never updated
    int batch_stat;     // 1: a fixed buffer the forward pass updates from batch statistics (BatchNorm running
                        // mean/var); data-parallel runs average it over the ranks after each step
} lra_param_entry;

typedef struct {
    lra_param_entry *entries;
    int count, cap;
    size_t total;       // floats in each flat buffer (with alignment padding)
    float *data;        // parameters
    float *grad;        // gradients (same layout)
    float *m, *v;       // optimizer moments (same layout; allocated by lra_params_finalize)
    lra_tensor *tensors;  // [count] views into data/grad
    int finalized;
} lra_params;

void lra_params_init(lra_params *p);
void lra_params_free(lra_params *p);
// Declares a tensor; returns its index.  Names must be unique (asserted).
int lra_params_add(lra_params *p, const char *name, const int64_t *shape, int ndim, lra_init_kind init,
                   float init_a);
// Marks a declared tensor as a fixed buffer (no gradient, not updated by the optimizer).
void lra_params_set_trainable(lra_params *p, int index, int trainable);
// Marks a declared tensor as a batch-statistics buffer (implies not trainable).
void lra_params_set_batch_stat(lra_params *p, int index);
// Allocates the flat buffers (zeroed) and the tensor views.
void lra_params_finalize(lra_params *p);
// Draws every tensor from its init distribution with Philox keyed by (seed, index of the tensor): a
// tensor's values do not depend on the other tensors' shapes or values, but they do depend on its
// declaration index, so declaring a tensor earlier or later changes the draws of those after it.
void lra_params_initialize(lra_params *p, uint64_t seed);

lra_tensor *lra_params_tensor(lra_params *p, int index);
int lra_params_find(const lra_params *p, const char *name);  // -1 if absent
int64_t lra_params_count_values(const lra_params *p, int trainable_only);
void lra_params_zero_grad(lra_params *p);
// Points every parameter's gradient at buf (p->total floats, same layout) and returns the buffer used
// until now; backward passes then accumulate into buf.  Used for gradient shards (tasks/trainer.c).
float *lra_params_swap_grad(lra_params *p, float *buf);
// Global L2 norm of the gradients of trainable tensors (double accumulation, fixed order).
double lra_params_grad_norm(const lra_params *p);
// grad *= s over every trainable tensor.
void lra_params_scale_grad(lra_params *p, float s);

#endif
