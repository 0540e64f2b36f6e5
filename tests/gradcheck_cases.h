// Gradient-check cases of the op table's ops (tests/gradcheck_cases.c), looked up by op name.
#ifndef LRA_TESTS_GRADCHECK_CASES_H
#define LRA_TESTS_GRADCHECK_CASES_H

#include "core/gradcheck.h"
#include "core/optable.h"

// Runs the op's gradient check(s); returns 1 on success and leaves a summary in rep.
typedef int (*lra_gradcheck_case)(lra_gradcheck_report *rep);

typedef struct {
    const char *op;           // the op table's name of the op
    lra_gradcheck_case run;
} lra_gradcheck_case_entry;

// One entry per op that defines a gradient, ended by {NULL, NULL}.
extern const lra_gradcheck_case_entry lra_gradcheck_cases[];
// The case of op `name`, or NULL when it has none.
lra_gradcheck_case lra_gradcheck_case_find(const char *name);
// Runs the case of every op in one part of the op table (one ops_*.c file's), failing the current test
// for an op that lacks a forward, a backward or a case, or whose check fails; returns the ops seen.
int lra_gradcheck_table_part(const lra_op_info *part);

#endif
