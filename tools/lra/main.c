// The `lra` command: dispatches to one sub-command per file (tools/lra/cmd_*.c).
#include <stdio.h>
#include <string.h>

#include "tasks/dist.h"
#include "tools/lra/commands.h"

static const lra_command *find_command(const char *name) {
    for (int i = 0; lra_commands[i].name; i++)
        if (!strcmp(lra_commands[i].name, name)) return &lra_commands[i];
    return NULL;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lra COMMAND [ARGS...]\n\nTrain and compare efficient-attention transformers on the "
               "Long Range Arena.\n\ncommands:\n");
    for (int i = 0; lra_commands[i].name; i++)
        fprintf(f, "  %-10s %s\n", lra_commands[i].name, lra_commands[i].summary);
    fprintf(f, "\n`lra COMMAND --help` describes a command.  `lra --version` prints the version.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("lra %s\n", LRA_VERSION);
        return 0;
    }
    const lra_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "lra: unknown command '%s' (see `lra --help`)\n", argv[1]);
        return 2;
    }
    // Only `train` runs data-parallel: it alone joins the MPI job (a no-op without `make MPI=1` or mpirun).
    const int dist = !strcmp(c->name, "train");
    if (dist) lra_dist_init(&argc, &argv);
    int rc = c->run(argc - 1, argv + 1);
    if (dist) lra_dist_finalize();
    return rc;
}
