// Fuzz target: the key-by-key comparison of a run directory's config.yaml with a new config
// (tasks/config_diff.c), which reads config.yaml as a run left it (or as a disk damaged it).  The input
// is two texts separated by the first NUL byte (none: the input against itself with one byte changed).
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "fuzz/fuzz.h"
#include "tasks/config_diff.h"

LRA_FUZZ_TARGET(config_diff) {
    const uint8_t *nul = memchr(data, 0, size);
    const size_t na = nul ? (size_t)(nul - data) : size;
    char *a = lra_xmalloc(na + 1), *b;
    memcpy(a, data, na);
    a[na] = '\0';
    if (nul) {
        const size_t nb = size - na - 1;
        b = lra_xmalloc(nb + 1);
        memcpy(b, nul + 1, nb);
        b[nb] = '\0';
    } else {
        b = lra_xstrdup(a);
        if (na) b[na / 2] = b[na / 2] == '1' ? '2' : '1';
    }
    for (int dir = 0; dir < 2; dir++) {
        lra_config_changes c;
        lra_config_diff(dir ? b : a, dir ? a : b, &c);
        if (lra_config_changes_refused(&c) > c.count) __builtin_trap();
        free(lra_config_changes_describe(&c, 0));
        free(lra_config_changes_describe(&c, 1));
        lra_config_changes_free(&c);
    }
    free(a);
    free(b);
    return 0;
}
