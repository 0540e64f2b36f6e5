// The table of every primitive op: its forward, its backward and its gradient-check case.
// tests/test_optable.c walks it and fails if an op lacks any of them; each ops_*.c file exports its
// part of the table (lra_optable_<file>[], ended by a {NULL} entry) and optable.c joins the parts.
#ifndef LRA_CORE_OPTABLE_H
#define LRA_CORE_OPTABLE_H

#include "core/autograd.h"
#include "core/gradcheck.h"

// Runs the op's gradient check(s) (several shapes, non-contiguous views, broadcasting where relevant);
// returns 1 on success and leaves a summary in rep.
typedef int (*lra_gradcheck_case)(lra_gradcheck_report *rep);

typedef struct {
    const char *name;              // "matmul", "softmax", ...
    const void *forward;           // the lra_op_* function
    lra_backward_fn backward;      // its backward (NULL only when no_grad)
    lra_gradcheck_case gradcheck;  // NULL only when no_grad
    int no_grad;                   // the op defines no gradient (topk_indices)
} lra_op_info;

// All ops, ended by an entry with name == NULL.  Built on first call.
const lra_op_info *lra_optable(void);
int lra_optable_count(void);

#endif
