// Optimizers and schedules against the exact formulas and the test vectors of training.md §3-§4.
#include <math.h>
#include <string.h>

#include "core/params.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/harness.h"

static void check_onecycle(double eta, int64_t w, int64_t T, int64_t t, double lr_want, double b1_want) {
    lra_schedule s;
    lra_schedule_init(&s, LRA_SCHED_ONECYCLE, eta, w, T);
    double lr, b1;
    lra_schedule_at(&s, t, &lr, &b1);
    CHECK_MSG(fabs(lr - lr_want) <= 1e-9 * fabs(lr_want) + 1e-20, "onecycle(%g,%lld,%lld) t=%lld lr %.10e want %.10e",
              eta, (long long)w, (long long)T, (long long)t, lr, lr_want);
    CHECK_MSG(fabs(b1 - b1_want) <= 1e-8, "onecycle t=%lld beta1 %.8f want %.8f", (long long)t, b1, b1_want);
}

static void test_onecycle_vectors(void) {
    // training.md §3.1 test vectors
    check_onecycle(1e-4, 80, 50000, 0, 4.0000000000e-06, 0.95000000);
    check_onecycle(1e-4, 80, 50000, 1, 5.2151898734e-06, 0.94873418);
    check_onecycle(1e-4, 80, 50000, 79, 1.0000000000e-04, 0.85000000);
    check_onecycle(1e-4, 80, 50000, 80, 9.9997996803e-05, 0.85000200);
    check_onecycle(1e-4, 80, 50000, 25000, 5.0078324688e-05, 0.89992187);
    check_onecycle(1e-4, 80, 50000, 49999, 4.0000000000e-10, 0.95000000);
    check_onecycle(1e-4, 8000, 20000, 1, 4.0120015002e-06, 0.94998750);
    check_onecycle(1e-4, 8000, 20000, 7999, 1.0000000000e-04, 0.85000000);
    check_onecycle(1e-4, 8000, 20000, 10000, 8.3325066700e-05, 0.86667500);
    check_onecycle(1e-4, 1000, 20000, 500, 5.2048048048e-05, 0.89994995);
    check_onecycle(1e-4, 1000, 20000, 1000, 9.9994736863e-05, 0.85000526);
    check_onecycle(2e-4, 312, 31200, 0, 8.0000000000e-06, 0.95000000);
    check_onecycle(2e-4, 312, 31200, 311, 2.0000000000e-04, 0.85000000);
    check_onecycle(2e-4, 312, 31200, 15600, 1.0100402199e-04, 0.89949819);
    check_onecycle(1e-4, 175, 50000, 87, 5.2000000000e-05, 0.90000000);
    check_onecycle(1e-4, 175, 50000, 174, 1.0000000000e-04, 0.85000000);
}

static void test_other_schedules(void) {
    lra_schedule s;
    double lr, b1;
    lra_schedule_init(&s, LRA_SCHED_RSQRT, 0.05, 1000, 5000);
    lra_schedule_at(&s, 0, &lr, &b1);
    CHECK_NEAR(lr, 0.0, 0);
    lra_schedule_at(&s, 1, &lr, &b1);
    CHECK_NEAR(lr, 0.05 * 1e-3 / sqrt(1000.0), 1e-12);  // 1.581e-6
    lra_schedule_at(&s, 1000, &lr, &b1);
    CHECK_NEAR(lr, 1.581e-3, 1e-6);
    lra_schedule_at(&s, 4999, &lr, &b1);
    CHECK_NEAR(lr, 7.07e-4, 1e-6);
    CHECK_NEAR(b1, 0.9, 0);
    lra_schedule_init(&s, LRA_SCHED_COSINE, 5e-4, 175, 35000);
    lra_schedule_at(&s, 0, &lr, &b1);
    CHECK_NEAR(lr, 0.0, 0);
    lra_schedule_at(&s, 175, &lr, &b1);
    CHECK_NEAR(lr, 5e-4, 1e-15);
    lra_schedule_at(&s, 34999, &lr, &b1);
    CHECK_MSG(lr > 0 && lr < 5e-4 * 1e-4, "cosine last step lr %g", lr);
    lra_schedule_init(&s, LRA_SCHED_LINEAR, 1e-3, 10, 110);
    lra_schedule_at(&s, 5, &lr, &b1);
    CHECK_NEAR(lr, 5e-4, 1e-15);
    lra_schedule_at(&s, 60, &lr, &b1);
    CHECK_NEAR(lr, 5e-4, 1e-15);
    lra_schedule_at(&s, 200, &lr, &b1);
    CHECK_NEAR(lr, 0.0, 0);
    lra_schedule_kind k;
    CHECK_OK(lra_schedule_parse_kind("onecycle", &k));
    CHECK_EQ_INT(k, LRA_SCHED_ONECYCLE);
    CHECK(lra_schedule_parse_kind("cosin", &k) == LRA_ERR_CONFIG);
}

static void test_adamw_vector(void) {
    // training.md §4.1 check vector: one scalar parameter.
    lra_params p;
    lra_params_init(&p);
    lra_params_add(&p, "theta", LRA_DIMS(1), LRA_INIT_ONES, 0);
    lra_params_finalize(&p);
    lra_params_initialize(&p, 1);
    lra_adamw opt;
    lra_adamw_init(&opt);
    opt.weight_decay = 0.01;
    const double lrs[3] = {4e-6, 5.2e-6, 6.4e-6}, b1s[3] = {0.95, 0.949, 0.948}, gs[3] = {0.5, -0.25, 0.1};
    const double theta[3] = {0.999995960008, 0.999994455295, 0.999992332871};
    const double m[3] = {2.5e-2, 1.0975e-2, 1.56043e-2}, v[3] = {2.5e-4, 3.1225e-4, 3.2193775e-4};
    for (int k = 0; k < 3; k++) {
        p.grad[0] = (float)gs[k];
        lra_adamw_step(&opt, &p, lrs[k], b1s[k]);
        CHECK_NEAR(p.data[0], theta[k], 2e-7);
        CHECK_NEAR(p.m[0], m[k], 1e-8);
        CHECK_NEAR(p.v[0], v[k], 1e-10);
    }
    CHECK_EQ_INT(opt.step, 3);
    lra_params_free(&p);
}

static void test_sgd_and_clip(void) {
    lra_params p;
    lra_params_init(&p);
    lra_params_add(&p, "w", LRA_DIMS(2), LRA_INIT_ONES, 0);
    int fixed = lra_params_add(&p, "buf", LRA_DIMS(1), LRA_INIT_ZEROS, 0);
    lra_params_set_trainable(&p, fixed, 0);
    lra_params_finalize(&p);
    lra_params_initialize(&p, 1);
    p.data[p.entries[fixed].offset] = 5.0f;
    lra_sgd opt;
    lra_sgd_init(&opt);
    p.grad[0] = 1.0f;
    p.grad[1] = -2.0f;
    lra_sgd_step(&opt, &p, 0.1);  // buf = g
    CHECK_NEAR(p.data[0], 0.9, 1e-7);
    CHECK_NEAR(p.data[1], 1.2, 1e-7);
    lra_sgd_step(&opt, &p, 0.1);  // buf = 0.9 g + g = 1.9 g
    CHECK_NEAR(p.data[0], 0.9 - 0.19, 1e-6);
    CHECK_NEAR(p.data[p.entries[fixed].offset], 5.0, 0);  // fixed buffers never move
    // clip: norm of (3, 4) is 5; clipping to 1 scales by 1/(5+1e-6)
    p.grad[0] = 3.0f;
    p.grad[1] = 4.0f;
    double n = lra_clip_grad_norm(&p, 1.0);
    CHECK_NEAR(n, 5.0, 1e-12);
    CHECK_NEAR(p.grad[0], 3.0 / (5.0 + 1e-6), 1e-7);
    n = lra_clip_grad_norm(&p, 10.0);  // below the bound: unchanged
    CHECK_NEAR(p.grad[1], 4.0 / (5.0 + 1e-6), 1e-7);
    lra_params_free(&p);
}

static void test_params_layout(void) {
    lra_params p;
    lra_params_init(&p);
    int a = lra_params_add(&p, "a.weight", LRA_DIMS(3, 5), LRA_INIT_UNIFORM, 0.5f);
    int b = lra_params_add(&p, "b.bias", LRA_DIMS(7), LRA_INIT_NORMAL, 0.02f);
    lra_params_finalize(&p);
    lra_params_initialize(&p, 42);
    CHECK_EQ_INT(p.entries[a].offset % 16, 0);
    CHECK_EQ_INT(p.entries[b].offset % 16, 0);
    CHECK_EQ_INT(lra_params_count_values(&p, 0), 22);
    CHECK_EQ_INT(lra_params_find(&p, "b.bias"), b);
    CHECK_EQ_INT(lra_params_find(&p, "nope"), -1);
    lra_tensor *ta = lra_params_tensor(&p, a);
    CHECK(ta->data == p.data + p.entries[a].offset);
    CHECK(ta->grad == p.grad + p.entries[a].offset);
    float mx = 0;
    for (int i = 0; i < 15; i++) mx = fmaxf(mx, fabsf(lra_f32(ta)[i]));
    CHECK(mx <= 0.5f && mx > 0.1f);
    // Re-initialising with the same seed gives the same values; another seed differs.
    float first = lra_f32(ta)[0];
    lra_params_initialize(&p, 42);
    CHECK(lra_f32(ta)[0] == first);
    lra_params_initialize(&p, 43);
    CHECK(lra_f32(ta)[0] != first);
    lra_params_free(&p);
}

static const lra_test_case TESTS[] = {
    {"onecycle_vectors", test_onecycle_vectors},
    {"other_schedules", test_other_schedules},
    {"adamw_vector", test_adamw_vector},
    {"sgd_and_clip", test_sgd_and_clip},
    {"params_layout", test_params_layout},
};
LRA_TEST_MAIN(TESTS)
