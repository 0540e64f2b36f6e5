// A tiny test harness.  Each tests/test_<module>.c defines its cases and ends with
//   static const lra_test_case TESTS[] = {{"name", fn}, ...};
//   LRA_TEST_MAIN(TESTS)
// Every case runs; a CHECK failure prints file:line and marks the case failed but the case goes on
// (REQUIRE returns from the case).  The binary ends with "N passed, M failed[, K skipped]" and exits
// non-zero when M > 0.  `test_x NAME...` runs only the named cases.
#ifndef LRA_TESTS_HARNESS_H
#define LRA_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} lra_test_case;

extern int lra_test_failed_;   // failures in the current case
extern int lra_test_skipped_;  // set by SKIP

void lra_test_fail_(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int lra_test_main_(int argc, char **argv, const lra_test_case *cases, int n);
// Path of the shared sample data (../shared/data unless LRA_SHARED_DATA is set); NULL if absent.
const char *lra_test_shared_data(void);
// Path of tests/fixtures (relative to the repository root, where tests run).
const char *lra_test_fixtures(void);
// Creates a fresh directory $TMPDIR/lra_<tag>_XXXXXX (TMPDIR defaults to /tmp) into buf; aborts on failure.
const char *lra_test_mkdtemp(char *buf, size_t cap, const char *tag);
// Removes a directory tree (like rm -rf, links not followed); a missing path is fine.
void lra_test_rmtree(const char *path);
// CPU seconds used by the calling thread.  Scaling checks time single-threaded work with it: unlike wall
// time it does not grow when other processes compete for the cores.
double lra_test_thread_cpu_s(void);

// The OPENBLAS_CORETYPE values of Debian's DYNAMIC_ARCH OpenBLAS whose instructions this CPU has
// (Prescott, Nehalem, Sandybridge, Haswell, Zen, SkylakeX, Cooperlake); returns how many were written.
// Whether OpenBLAS really takes one is up to the caller to check (openblas_get_corename in the child).
int lra_test_coretypes(const char **out, int cap);

// Parallel regions opened inside a region that was not taken, since the last call (tests/omp_nesting.c):
// returns the count, clears it and writes where the first one was into first.  The harness fails a case
// during which any is opened.  lra_test_nesting_watched() counts all regions seen (0: the OpenMP
// runtime is not GCC's and nothing is watched).
long lra_test_nested_regions_take(char *first, size_t cap);
long lra_test_nesting_watched(void);

#define LRA_TEST_MAIN(cases)                                                                   \
    int main(int argc, char **argv) {                                                          \
        return lra_test_main_(argc, argv, cases, (int)(sizeof(cases) / sizeof((cases)[0])));   \
    }

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) lra_test_fail_(__FILE__, __LINE__, "CHECK(%s)", #cond);                   \
    } while (0)
#define CHECK_MSG(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond)) lra_test_fail_(__FILE__, __LINE__, __VA_ARGS__);                          \
    } while (0)
#define REQUIRE(cond)                                                                          \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            lra_test_fail_(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                          \
            return;                                                                            \
        }                                                                                      \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                     \
    do {                                                                                       \
        long long lra_a_ = (long long)(a), lra_b_ = (long long)(b);                            \
        if (lra_a_ != lra_b_)                                                                  \
            lra_test_fail_(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, lra_a_, lra_b_); \
    } while (0)
// |a - b| <= tol (absolute)
#define CHECK_NEAR(a, b, tol)                                                                  \
    do {                                                                                       \
        double lra_a_ = (double)(a), lra_b_ = (double)(b);                                     \
        if (!(fabs(lra_a_ - lra_b_) <= (double)(tol)))                                         \
            lra_test_fail_(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b,      \
                           lra_a_, lra_b_, (double)(tol));                                     \
    } while (0)
// Status must be LRA_OK; prints the recorded error message otherwise.
#define CHECK_OK(expr)                                                                         \
    do {                                                                                       \
        int lra_s_ = (int)(expr);                                                              \
        if (lra_s_ != 0)                                                                       \
            lra_test_fail_(__FILE__, __LINE__, "%s failed (%d): %s", #expr, lra_s_,            \
                           lra_error_message());                                               \
    } while (0)
#define SKIP(...)                                                                              \
    do {                                                                                       \
        printf("  skipped: ");                                                                 \
        printf(__VA_ARGS__);                                                                   \
        printf("\n");                                                                          \
        lra_test_skipped_ = 1;                                                                 \
        return;                                                                                \
    } while (0)

#endif
