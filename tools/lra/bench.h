// Shared by the `lra bench` sub-commands.
#ifndef LRA_TOOLS_BENCH_H
#define LRA_TOOLS_BENCH_H

#include "attention/attention.h"

// The option that sets a kernel's feature/sample/landmark/hash count (NULL when it has none).
const char *lra_bench_count_option(const lra_attn_kernel_def *def);
int lra_bench_train(int argc, char **argv);

#endif
