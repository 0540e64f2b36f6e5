// Finite-difference gradient checking.  The function under test maps persistent input tensors to an
// output tensor on a fresh context; the check compares the analytic gradient of L = sum(out * r) (r a
// fixed random projection) with central differences (f(x+h) - f(x-h)) / 2h of L accumulated in double.
// The forward runs in float32, so h is relatively large (default 1e-2 scaled to |x|) and tolerances are
// loose by double-precision standards: the defaults (atol 2e-3, rtol 2e-2, on |analytic - numeric| <=
// atol + rtol * |numeric|) catch every wrong formula we have seen while passing float round-off.
#ifndef LRA_CORE_GRADCHECK_H
#define LRA_CORE_GRADCHECK_H

#include <stdint.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "core/tensor.h"

// Builds the output from inputs (which live outside the context; they may be viewed/transposed in here).
typedef lra_tensor *(*lra_gradcheck_fn)(lra_ctx *ctx, lra_tensor *const *inputs, int n_inputs, void *user);

typedef struct {
    double eps;           // relative step (h = eps * max(1, |x|)); 0 = 1e-2
    double atol, rtol;    // 0 = defaults 2e-3 / 2e-2
    int64_t max_checks;   // elements checked per input (evenly spread); 0 = all
    uint64_t seed;        // for the projection r
    int training;         // ctx->training during the check
    uint64_t ctx_seed;    // ctx->seed during the check (keeps random draws fixed between evaluations)
} lra_gradcheck_options;

typedef struct {
    int passed;
    int worst_input;      // input index of the largest violation (or largest error when passing)
    int64_t worst_index;  // flat index within that input
    double analytic, numeric;
    double max_abs_err;
    int64_t checked;
    char message[256];    // human-readable summary
} lra_gradcheck_report;

void lra_gradcheck_defaults(lra_gradcheck_options *o);
// inputs: persistent F32 tensors (contiguous data owned by the caller); only those with requires_grad
// set are checked.  Returns 1 when every checked element is within tolerance.
int lra_gradcheck(lra_gradcheck_fn fn, lra_tensor *const *inputs, int n_inputs, void *user,
                  const lra_gradcheck_options *opt, lra_gradcheck_report *rep);

// Gradient-check cases made of several checks (shapes, views, broadcasting): the case's report counts
// the elements of all checks and describes the worst one (the first failure, else the largest error),
// prefixed with its label.  Start with lra_gradcheck_case_begin (or a zeroed report); returns 1 when this
// check passed, and clears rep->passed for good when it did not.
void lra_gradcheck_case_begin(lra_gradcheck_report *rep);
int lra_gradcheck_case_run(lra_gradcheck_fn fn, lra_tensor *const *inputs, int n_inputs, void *user,
                           const lra_gradcheck_options *opt, const char *label, lra_gradcheck_report *rep);

// Test helpers: a persistent contiguous tensor with malloc'd data filled from N(0, 1)*scale + shift
// by a Philox stream; free with lra_gradcheck_free_input.
lra_tensor *lra_gradcheck_input(const int64_t *shape, int ndim, uint64_t seed, float scale, float shift,
                                int requires_grad);
void lra_gradcheck_free_input(lra_tensor *t);
// A persistent int32 tensor (indices, labels) with values uniform in [0, hi) drawn from r; free with
// lra_gradcheck_free_input.
lra_tensor *lra_gradcheck_int_input(const int64_t *shape, int ndim, lra_rng *r, int64_t hi);

#endif
