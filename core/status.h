// Status codes, error messages and assertions.
// Recoverable failures (files, configs, data, checkpoints, flags) return an lra_status and leave a
// message saying which file/line/key was wrong and what was expected; the CLI prints it and exits
// non-zero.  Programming errors hit LRA_ASSERT, which stays active under NDEBUG.
#ifndef LRA_CORE_STATUS_H
#define LRA_CORE_STATUS_H

#include <stdarg.h>
#include <stdio.h>

typedef enum {
    LRA_OK = 0,
    LRA_ERR_IO,          // a file could not be opened, read or written
    LRA_ERR_FORMAT,      // a file's content is malformed (bad magic, CRC, column count, ...)
    LRA_ERR_CONFIG,      // a config key/value is unknown, mistyped or out of range
    LRA_ERR_ARG,         // a bad command-line flag or API argument
    LRA_ERR_NOMEM,       // an allocation failed
    LRA_ERR_UNSUPPORTED, // valid input that this build cannot handle (e.g. interlaced PNG)
    LRA_ERR_STATE,       // an operation in the wrong state (e.g. resume with no checkpoint)
    LRA_ERR_INTERRUPTED  // stopped by a signal; state was saved
} lra_status;

// Records a message for the calling thread and returns `code` so callers can write
// `return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));`
lra_status lra_error(lra_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prepends context ("while loading X: ") to the current message and returns `code` unchanged.
lra_status lra_error_context(lra_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *lra_error_message(void);   // "" when no error is recorded
void lra_error_clear(void);
const char *lra_status_name(lra_status code);

// Propagates a failing status to the caller.
#define LRA_TRY(expr)                                                                         \
    do {                                                                                      \
        lra_status lra_try_s_ = (expr);                                                       \
        if (lra_try_s_ != LRA_OK) return lra_try_s_;                                          \
    } while (0)

// Programming-error check, never compiled out.
#define LRA_ASSERT(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) lra_assert_fail(#cond, __FILE__, __LINE__, __func__, NULL);              \
    } while (0)
#define LRA_ASSERT_MSG(cond, ...)                                                             \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            char lra_assert_buf_[512];                                                        \
            snprintf(lra_assert_buf_, sizeof lra_assert_buf_, __VA_ARGS__);                   \
            lra_assert_fail(#cond, __FILE__, __LINE__, __func__, lra_assert_buf_);            \
        }                                                                                     \
    } while (0)
_Noreturn void lra_assert_fail(const char *cond, const char *file, int line, const char *func,
                               const char *msg);

// Allocation helpers that abort with a message on failure (for programming-level allocations).
void *lra_xmalloc(size_t bytes);
void *lra_xcalloc(size_t count, size_t size);
void *lra_xrealloc(void *p, size_t bytes);
char *lra_xstrdup(const char *s);

#endif
