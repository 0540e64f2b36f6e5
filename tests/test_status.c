// Tests of the error/status module.
#include <string.h>

#include "core/status.h"
#include "tests/harness.h"

static void test_error_message(void) {
    lra_error_clear();
    CHECK(strcmp(lra_error_message(), "") == 0);
    lra_status s = lra_error(LRA_ERR_IO, "%s: cannot open", "x.tsv");
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK(strcmp(lra_error_message(), "x.tsv: cannot open") == 0);
    lra_error_context(s, "loading %s: ", "listops");
    CHECK(strcmp(lra_error_message(), "loading listops: x.tsv: cannot open") == 0);
}

static lra_status fails_twice(int *calls) {
    (*calls)++;
    LRA_TRY(lra_error(LRA_ERR_FORMAT, "bad"));
    (*calls)++;
    return LRA_OK;
}

static void test_try_propagates(void) {
    int calls = 0;
    CHECK_EQ_INT(fails_twice(&calls), LRA_ERR_FORMAT);
    CHECK_EQ_INT(calls, 1);
    CHECK(strcmp(lra_status_name(LRA_ERR_CONFIG), "config error") == 0);
}

static const lra_test_case TESTS[] = {
    {"error_message", test_error_message},
    {"try_propagates", test_try_propagates},
};
LRA_TEST_MAIN(TESTS)
