// `lra attention list`: every registered attention kernel with its options.
#include <stdio.h>
#include <string.h>

#include "attention/attention.h"
#include "tools/lra/args.h"

int lra_cmd_attention(int argc, char **argv) {
    if (argc < 2 || lra_arg_flag(argv[1], "--help") || lra_arg_flag(argv[1], "-h")) {
        printf("usage: lra attention list\n\nLists every attention kernel (config key model.attention.type) with a\n"
               "one-line description and its options (config keys model.attention.<kernel>.<option>).\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "list")) {
        fprintf(stderr, "lra attention: unknown sub-command '%s' (expected list)\n", argv[1]);
        return 2;
    }
    if (argc > 2) return lra_arg_unknown("attention list", argv[2]);
    lra_attention_print_list(stdout);
    return 0;
}
