// Registry of sub-commands.
#include "tools/lra/commands.h"

#include <stddef.h>

const lra_command lra_commands[] = {
    {NULL, NULL, NULL},
};
