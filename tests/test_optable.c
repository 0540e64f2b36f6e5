// Tests of the op table (core/optable.h): every op declared in core/ops.h is listed with a forward, a
// backward and a gradient-check case in tests/gradcheck_cases.c (unless it defines no gradient), and
// every gradient check passes.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/optable.h"
#include "tests/gradcheck_cases.h"
#include "tests/harness.h"

// The ops declared in core/ops.h (lra_op_<name>), kept by hand so that a table entry cannot silently
// disappear; test_header_matches_list checks this list against the header itself.
static const char *const HEADER_OPS[] = {
    "matmul", "linear",                                                                          // ops_matmul.c
    "linear_heads", "heads_linear",                                                              // ops_heads.c
    "add", "sub", "mul", "div", "scale", "add_scalar", "exp", "log", "sqrt", "rsqrt", "pow",      // ops_elementwise.c
    "tanh", "acos", "abs", "gelu", "relu", "elu",                                                 //
    "sum", "mean", "max", "sum_all",                                                              // ops_reduce.c
    "reshape", "transpose", "permute", "slice", "contiguous", "concat", "split", "full",          // ops_view.c
    "softmax", "log_softmax", "cross_entropy", "layer_norm", "dropout", "add_dropout", "gelu_dropout", "embedding", "l2_normalize",  // ops_nn.c
    "index_select", "gather_rows", "topk_indices",                                                // ops_index.c
    "rfft", "irfft", "cmul",                                                                      // ops_fft.c
    "layer_norm_pool",                                                                            // ops_pool.c
};
#define N_HEADER_OPS ((int)(sizeof HEADER_OPS / sizeof HEADER_OPS[0]))

// Ops that define no gradient.
static int expect_no_grad(const char *name) { return !strcmp(name, "topk_indices") || !strcmp(name, "full"); }

static const lra_op_info *find_op(const char *name) {
    for (const lra_op_info *op = lra_optable(); op->name; op++)
        if (!strcmp(op->name, name)) return op;
    return NULL;
}

static void test_table_complete(void) {
    const lra_op_info *t = lra_optable();
    int n = lra_optable_count();
    CHECK(n >= N_HEADER_OPS);
    for (int i = 0; i < n; i++) {
        const lra_op_info *op = &t[i];
        REQUIRE(op->name != NULL);
        CHECK_MSG(op->forward != NULL, "op %s has no forward", op->name);
        if (op->no_grad) {
            CHECK_MSG(expect_no_grad(op->name), "op %s is marked no_grad", op->name);
        } else {
            CHECK_MSG(op->backward != NULL, "op %s has no backward", op->name);
            CHECK_MSG(lra_gradcheck_case_find(op->name) != NULL, "op %s has no gradient-check case", op->name);
        }
        for (int j = 0; j < i; j++) CHECK_MSG(strcmp(t[j].name, op->name) != 0, "op %s listed twice", op->name);
    }
    CHECK(t[n].name == NULL);
}

// Every case belongs to a table op that has a gradient, and no op has two cases.
static void test_cases_match_table(void) {
    for (const lra_gradcheck_case_entry *c = lra_gradcheck_cases; c->op; c++) {
        const lra_op_info *op = find_op(c->op);
        CHECK_MSG(op != NULL, "gradient-check case %s names no op of the table", c->op);
        if (op) CHECK_MSG(!op->no_grad, "op %s defines no gradient but has a case", c->op);
        CHECK_MSG(c->run != NULL, "gradient-check case %s has no function", c->op);
        for (const lra_gradcheck_case_entry *d = lra_gradcheck_cases; d != c; d++)
            CHECK_MSG(strcmp(d->op, c->op) != 0, "op %s has two gradient-check cases", c->op);
    }
}

static void test_every_header_op_listed(void) {
    for (int i = 0; i < N_HEADER_OPS; i++) {
        const lra_op_info *op = find_op(HEADER_OPS[i]);
        CHECK_MSG(op != NULL, "lra_op_%s is declared in core/ops.h but missing from the op table", HEADER_OPS[i]);
        if (op) CHECK_MSG(!op->no_grad == !expect_no_grad(op->name), "op %s: unexpected no_grad flag", op->name);
    }
    for (const lra_op_info *op = lra_optable(); op->name; op++) {
        int found = 0;
        for (int i = 0; i < N_HEADER_OPS; i++) found |= !strcmp(HEADER_OPS[i], op->name);
        CHECK_MSG(found, "table op %s is not a function of core/ops.h", op->name);
    }
}

// Reads the lra_op_<name>( declarations of core/ops.h (tests run from the repository root) and
// compares them with HEADER_OPS, so a new op in the header without a table entry fails here.
static void test_header_matches_list(void) {
    FILE *f = fopen("core/ops.h", "r");
    if (!f) SKIP("core/ops.h not found from the working directory");
    char line[512];
    int declared = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "//", 2)) continue;
        const char *p = strstr(line, "lra_op_");
        if (!p || !strchr(p, '(')) continue;
        char name[64];
        int k = 0;
        for (p += 7; (isalnum((unsigned char)*p) || *p == '_') && k < 63; p++) name[k++] = *p;
        name[k] = '\0';
        if (*p != '(') continue;
        declared++;
        int found = 0;
        for (int i = 0; i < N_HEADER_OPS; i++) found |= !strcmp(HEADER_OPS[i], name);
        CHECK_MSG(found, "core/ops.h declares lra_op_%s, which test_optable.c's list lacks", name);
    }
    fclose(f);
    CHECK_EQ_INT(declared, N_HEADER_OPS);
}

static void test_gradchecks(void) {
    int failed = 0, run = 0;
    for (const lra_op_info *op = lra_optable(); op->name; op++) {
        lra_gradcheck_case gc = op->no_grad ? NULL : lra_gradcheck_case_find(op->name);
        if (!gc) continue;
        lra_gradcheck_report rep;
        int ok = gc(&rep);
        run++;
        printf("  %-14s %s\n", op->name, rep.message);
        if (!ok) failed++;
        CHECK_MSG(ok && rep.passed, "gradient check of %s failed: %s", op->name, rep.message);
    }
    printf("  %d gradient checks run, %d failed\n", run, failed);
    CHECK(run >= N_HEADER_OPS - 2);
}

static const lra_test_case TESTS[] = {
    {"table_complete", test_table_complete},
    {"cases_match_table", test_cases_match_table},
    {"every_header_op_listed", test_every_header_op_listed},
    {"header_matches_list", test_header_matches_list},
    {"gradchecks", test_gradchecks},
};
LRA_TEST_MAIN(TESTS)
