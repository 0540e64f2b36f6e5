// Shared by the `lra bench` sub-commands.
#ifndef LRA_TOOLS_BENCH_H
#define LRA_TOOLS_BENCH_H

#include "attention/attention.h"

int lra_bench_train(int argc, char **argv);

#endif
