// The table of every primitive op: its name, forward and backward.  tests/test_optable.c walks it and
// fails if an op lacks any of them or lacks a gradient-check case (the cases live in
// tests/gradcheck_cases.c, so that the library and the `lra` program do not carry them).  Each ops_*.c
// file exports its part of the table (lra_optable_<file>[], ended by a {NULL} entry) and optable.c joins
// the parts.
#ifndef LRA_CORE_OPTABLE_H
#define LRA_CORE_OPTABLE_H

#include "core/autograd.h"

// The ops have different signatures; the table keeps each forward as this generic function-pointer
// type (ISO C allows casts between function-pointer types, not to void *).  Cast back to the op's own
// type before calling it.
typedef void (*lra_op_fn)(void);

typedef struct {
    const char *name;              // "matmul", "softmax", ...
    lra_op_fn forward;             // the lra_op_* function
    lra_backward_fn backward;      // its backward (NULL only when no_grad)
    int no_grad;                   // the op defines no gradient (topk_indices)
} lra_op_info;

// All ops, ended by an entry with name == NULL.  Built on first call.
const lra_op_info *lra_optable(void);
int lra_optable_count(void);

#endif
