// Tests of the thread-count setup: OpenMP and OpenBLAS follow one setting, and the description
// names the BLAS configuration.
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/threads.h"
#include "tests/harness.h"

static void test_set_and_get(void) {
    int saved = lra_threads_get();
    CHECK_EQ_INT(lra_threads_set(1), 1);
    CHECK_EQ_INT(lra_threads_get(), 1);
    CHECK_EQ_INT(omp_get_max_threads(), 1);
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
        team = omp_get_num_threads();
    }
    CHECK_EQ_INT(team, 1);
    CHECK_EQ_INT(lra_threads_set(3), 3);  // more threads than cores is allowed
    CHECK_EQ_INT(lra_threads_get(), 3);
#pragma omp parallel
    {
#pragma omp single
        team = omp_get_num_threads();
    }
    CHECK_EQ_INT(team, 3);
    // 0 and negative mean all cores.
    CHECK_EQ_INT(lra_threads_set(0), lra_threads_cores());
    CHECK_EQ_INT(lra_threads_get(), omp_get_num_procs());
    CHECK_EQ_INT(lra_threads_set(-5), lra_threads_cores());
    lra_threads_set(saved);
}

static void test_describe(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    lra_threads_set(2);
    lra_threads_describe(f);
    fclose(f);
    CHECK(strstr(buf, "threads: 2 OpenMP threads") != NULL);
    CHECK(strstr(buf, "blas: ") != NULL && strstr(buf, openblas_get_config()) != NULL);
    CHECK(strstr(buf, openblas_get_corename()) != NULL);
    CHECK(strstr(buf, "single-threaded call per fixed tile") != NULL);
    CHECK(strstr(buf, "openmp build") != NULL || strstr(buf, "pthreads build") != NULL ||
          strstr(buf, "sequential build") != NULL);
    free(buf);
}

static const lra_test_case TESTS[] = {
    {"set_and_get", test_set_and_get},
    {"describe", test_describe},
};
LRA_TEST_MAIN(TESTS)
