// Leveled logging to stderr.  The level comes from the LRA_LOG environment variable (error, warn,
// info, debug; default info) unless a program calls lra_log_set_level.  No command-line flag sets it:
// `lra train --quiet` only turns the progress display off.
#ifndef LRA_CORE_LOG_H
#define LRA_CORE_LOG_H

typedef enum { LRA_LOG_ERROR = 0, LRA_LOG_WARN = 1, LRA_LOG_INFO = 2, LRA_LOG_DEBUG = 3 } lra_log_level;

void lra_log_set_level(lra_log_level level);
lra_log_level lra_log_get_level(void);
void lra_log(lra_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LRA_LOG_E(...) lra_log(LRA_LOG_ERROR, __VA_ARGS__)
#define LRA_LOG_W(...) lra_log(LRA_LOG_WARN, __VA_ARGS__)
#define LRA_LOG_I(...) lra_log(LRA_LOG_INFO, __VA_ARGS__)
#define LRA_LOG_D(...) lra_log(LRA_LOG_DEBUG, __VA_ARGS__)

#endif
