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

// The harness's watch (tests/omp_nesting.c) sees a region opened inside one that was not taken, and
// only that: a region inside a taken one (where BLAS and our loops run serially) is fine.
static void test_nesting_watch(void) {
    int seen = 0;
#pragma omp parallel
    {
#pragma omp atomic update
        seen++;
    }
    CHECK(seen >= 1);
    if (!lra_test_nesting_watched()) SKIP("the OpenMP runtime is not GCC's libgomp; regions are not watched");
    const int prev = lra_threads_get();
    lra_threads_set(2);
    int inner = 0;
    lra_test_nested_regions_take(NULL, 0);
#pragma omp parallel num_threads(2)
    {
#pragma omp parallel num_threads(2)
        {
#pragma omp atomic update
            inner++;
        }
    }
    CHECK_EQ_INT(inner, 2);  // nested parallelism is off: each inner region has one thread
    CHECK_EQ_INT((int)lra_test_nested_regions_take(NULL, 0), 0);
    int untaken = 0;
#pragma omp parallel if (untaken)
    {
#pragma omp parallel num_threads(2)
        {
#pragma omp atomic update
            inner++;
        }
    }
    CHECK_EQ_INT(inner, 4);  // the inner region gets a team of two
    char where[200];
    CHECK_EQ_INT((int)lra_test_nested_regions_take(where, sizeof where), 1);
    CHECK(strstr(where, "region body ") != NULL && strstr(where, " inside ") != NULL);
    lra_threads_set(prev);
}

static const lra_test_case TESTS[] = {
    {"set_and_get", test_set_and_get},
    {"describe", test_describe},
    {"nesting_watch", test_nesting_watch},
};
LRA_TEST_MAIN(TESTS)
