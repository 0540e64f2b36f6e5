// The table of sub-commands of the `lra` program.  Each sub-command lives in its own
// tools/lra/cmd_<name>.c and is listed in commands.c.
#ifndef LRA_TOOLS_COMMANDS_H
#define LRA_TOOLS_COMMANDS_H

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);  // argv[0] is the command name; returns the exit status
} lra_command;

extern const lra_command lra_commands[];  // terminated by {NULL, NULL, NULL}

#endif
