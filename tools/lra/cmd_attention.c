// `lra attention list`: every registered attention kernel with its options.
#include <stdio.h>
#include <string.h>

#include "attention/attention.h"
#include "tools/lra/args.h"

// The kernels as a markdown table (for the README): name, description, options with defaults.
static void print_markdown(FILE *f) {
    static const char *type_names[] = {"int", "float", "bool", "enum"};
    fprintf(f, "| kernel | what it is | options (`model.attention.<kernel>.<option>`, default) |\n|---|---|---|\n");
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *d = lra_attention_get(i);
        fprintf(f, "| `%s` | %s | ", d->name, d->summary);
        for (int j = 0; j < d->n_options; j++) {
            const lra_attn_option *o = &d->options[j];
            if (o->type == LRA_OPT_ENUM) {
                const char *p = o->choices;
                for (int k = 0; k < (int)o->def && p; k++) p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
                int n = p ? (strchr(p, '|') ? (int)(strchr(p, '|') - p) : (int)strlen(p)) : 0;
                fprintf(f, "%s`%s` (%s: %.*s)", j ? ", " : "", o->name, o->choices, n, p ? p : "");
            } else if (o->type == LRA_OPT_BOOL) {
                fprintf(f, "%s`%s` (%s)", j ? ", " : "", o->name, o->def != 0 ? "true" : "false");
            } else {
                fprintf(f, "%s`%s` (%s %g%s)", j ? ", " : "", o->name, type_names[o->type], o->def,
                        o->flags & LRA_OPT_COUNT ? ", count" : "");
            }
        }
        fprintf(f, "%s |\n", d->n_options ? "" : "none");
    }
}

int lra_cmd_attention(int argc, char **argv) {
    if (argc < 2 || lra_arg_flag(argv[1], "--help") || lra_arg_flag(argv[1], "-h")) {
        printf("usage: lra attention list [--markdown]\n\nLists every attention kernel (config key model.attention.type) with a\n"
               "one-line description and its options (config keys model.attention.<kernel>.<option>).\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "list")) {
        fprintf(stderr, "lra attention: unknown sub-command '%s' (expected list)\n", argv[1]);
        return 2;
    }
    if (argc > 2 && lra_arg_is_help(argv[2])) {
        printf("usage: lra attention list [--markdown]\n\nLists every attention kernel with its options; --markdown prints\n"
               "the README's table.\n");
        return 0;
    }
    if (argc > 2 && lra_arg_flag(argv[2], "--markdown") && argc == 3) {
        print_markdown(stdout);
        return 0;
    }
    if (argc > 2) return lra_arg_unknown("attention list", argv[2]);
    lra_attention_print_list(stdout);
    return 0;
}
