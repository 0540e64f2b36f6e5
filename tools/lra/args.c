// Flag helpers (see args.h).
#include "tools/lra/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int lra_arg_flag(const char *arg, const char *name) { return !strcmp(arg, name); }

int lra_arg_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

int lra_arg_value(int argc, char **argv, int *i, const char *name, const char **value) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "lra: %s needs a value\n", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int lra_arg_int(const char *cmd, const char *flag, const char *text, int64_t min, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < min) {
        fprintf(stderr, "lra %s: %s: expected an integer >= %lld, got \"%s\"\n", cmd, flag, (long long)min, text);
        return 0;
    }
    *out = v;
    return 1;
}

int lra_arg_unknown(const char *cmd, const char *arg) {
    fprintf(stderr, "lra %s: unknown option '%s' (see `lra %s --help`)\n", cmd, arg, cmd);
    return 2;
}

int lra_arg_fail(const char *cmd) {
    fprintf(stderr, "lra %s: error: %s\n", cmd, lra_error_message());
    return 1;
}
