// Leveled logging; the level comes from lra_log_set_level or, until that is called, LRA_LOG.
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_level = -1;

static lra_log_level level_from_env(void) {
    const char *e = getenv("LRA_LOG");
    if (!e) return LRA_LOG_INFO;
    if (!strcmp(e, "error")) return LRA_LOG_ERROR;
    if (!strcmp(e, "warn")) return LRA_LOG_WARN;
    if (!strcmp(e, "debug")) return LRA_LOG_DEBUG;
    return LRA_LOG_INFO;
}

void lra_log_set_level(lra_log_level level) { g_level = (int)level; }

lra_log_level lra_log_get_level(void) {
    if (g_level < 0) g_level = (int)level_from_env();
    return (lra_log_level)g_level;
}

void lra_log(lra_log_level level, const char *fmt, ...) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    if ((int)level > (int)lra_log_get_level()) return;
    // The whole line is formatted first and written with one call, so that it stays whole in a log file
    // that stdout and stderr share.
    char line[2048];
    size_t n = 0;
    if (level <= LRA_LOG_WARN) n = (size_t)snprintf(line, sizeof line, "lra: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = strlen(line);
    line[n] = '\n';
    line[n + 1] = '\0';
    fputs(line, stderr);
    fflush(stderr);
}
