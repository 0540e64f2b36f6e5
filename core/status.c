// Thread-local error message buffer and assertion failure reporting.
#include "core/status.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local char g_message[2048];

lra_status lra_error(lra_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_message, sizeof g_message, fmt, ap);
    va_end(ap);
    return code;
}

lra_status lra_error_context(lra_status code, const char *fmt, ...) {
    char prefix[1024], old[sizeof g_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_message, sizeof old);
    size_t np = strlen(prefix), no = strlen(old);
    if (np >= sizeof g_message) np = sizeof g_message - 1;
    if (no > sizeof g_message - 1 - np) no = sizeof g_message - 1 - np;
    memcpy(g_message, prefix, np);
    memcpy(g_message + np, old, no);
    g_message[np + no] = '\0';
    return code;
}

const char *lra_error_message(void) { return g_message; }
void lra_error_clear(void) { g_message[0] = '\0'; }

const char *lra_status_name(lra_status code) {
    switch (code) {
    case LRA_OK: return "ok";
    case LRA_ERR_IO: return "I/O error";
    case LRA_ERR_FORMAT: return "format error";
    case LRA_ERR_CONFIG: return "config error";
    case LRA_ERR_ARG: return "argument error";
    case LRA_ERR_NOMEM: return "out of memory";
    case LRA_ERR_UNSUPPORTED: return "unsupported";
    case LRA_ERR_STATE: return "state error";
    case LRA_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}

void lra_assert_fail(const char *cond, const char *file, int line, const char *func, const char *msg) {
    fprintf(stderr, "%s:%d: %s: assertion failed: %s%s%s\n", file, line, func, cond, msg ? ": " : "",
            msg ? msg : "");
    fflush(stderr);
    abort();
}

void *lra_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    LRA_ASSERT_MSG(p != NULL, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *lra_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    LRA_ASSERT_MSG(p != NULL, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *lra_xrealloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes ? bytes : 1);
    LRA_ASSERT_MSG(q != NULL, "out of memory reallocating %zu bytes", bytes);
    return q;
}

char *lra_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = lra_xmalloc(n);
    memcpy(d, s, n);
    return d;
}
