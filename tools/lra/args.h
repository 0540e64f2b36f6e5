// Small helpers for sub-command flags: every flag is declared, unknown flags are errors.
#ifndef LRA_TOOLS_ARGS_H
#define LRA_TOOLS_ARGS_H

#include <stdint.h>

// Matches argv[*i] against "--name" (also "--name=value"); for flags with a value, *value is set and
// *i advanced.  Returns 1 on a match, 0 otherwise, -1 when the value is missing (message printed).
int lra_arg_value(int argc, char **argv, int *i, const char *name, const char **value);
int lra_arg_flag(const char *arg, const char *name);
// 1 when arg asks for help (--help or -h): every command and sub-command prints its usage and exits 0.
int lra_arg_is_help(const char *arg);
// Parses an integer flag value; prints "lra CMD: --flag: expected ..." and returns 0 on failure.
int lra_arg_int(const char *cmd, const char *flag, const char *text, int64_t min, int64_t *out);
// Prints "lra CMD: unknown option 'X' (see `lra CMD --help`)" and returns 2.
int lra_arg_unknown(const char *cmd, const char *arg);
// Prints the recorded error as "lra CMD: error: MESSAGE" and returns 1.
int lra_arg_fail(const char *cmd);

#endif
