// The one exp algorithm (core/fastmath.h): the vector routine and the per-element lra_expf agree bit for
// bit (so auto-vectorised loops, vector bodies and scalar tails compute the same function), both are within
// 1e-7 relative of exp, and the exact-softmax row routine normalises and handles masked rows.
#include <math.h>
#include <string.h>

#include "core/fastmath.h"
#include "tests/harness.h"

static void test_scalar_equals_vector(void) {
    int64_t bad = 0, n = 0;
    const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.7f, 88.72283935546875f, 88.8f, -87.33654022216797f,
                              -87.4f, -100.0f, 100.0f, INFINITY, -INFINITY, 1e-30f, -1e-30f};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        const lra_v8f v = {specials[i], 0, 0, 0, 0, 0, 0, 0};
        const float a = lra_exp_v8(v)[0], b = lra_expf(specials[i]);
        bad += memcmp(&a, &b, sizeof a) != 0;
        n++;
    }
    for (float x = -100.0f; x <= 100.0f; x += 0.000371f) {
        const lra_v8f v = {x, -x, x * 0.5f, x * 0.25f, x * 0.125f, -x * 0.5f, x * 0.01f, -x * 0.01f};
        const lra_v8f e = lra_exp_v8(v);
        for (int l = 0; l < 8; l++) {
            const float s = lra_expf(v[l]);
            bad += memcmp(&s, &e[l], sizeof s) != 0;
        }
        n += 8;
    }
    CHECK_MSG(bad == 0, "%lld of %lld inputs differ between lra_expf and lra_exp_v8", (long long)bad, (long long)n);
}

// lra_exp_shift_sum over rows of many lengths (past the 64-element AVX-512 body, the 32- and 8-element
// loops and the scalar tail): every element is lra_expf(x - shift) bit for bit, and the sum is the
// documented one -- eight double lanes over the 8-blocks in order, the lanes in order, then the tail.
static void test_exp_shift_rows(void) {
    static const int64_t lengths[] = {1, 7, 8, 31, 63, 64, 65, 100, 128, 200, 1000};
    float x[1000], y[1000];
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        for (int64_t j = 0; j < n; j++) x[j] = j % 17 == 3 ? -INFINITY : -40.0f * (float)((uint32_t)(j * 2654435761u) % 1000003u) / 1000003.0f;
        // Scattered exponents down to e^-41 (below the sum's last bit): additions that round, so the order shows.
        if (n > 70) x[70] = 95.0f;  // overflows to +inf
        memcpy(y, x, (size_t)n * sizeof(float));
        const float shift = 1.25f;
        const double got = lra_exp_shift_sum(y, n, shift);
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0}, tail = 0.0;
        int bad = 0;
        for (int64_t j = 0; j < n; j++) {
            const float e = lra_expf(x[j] - shift);
            bad += memcmp(&e, &y[j], sizeof e) != 0;
            if (j < n / 8 * 8) lanes[j % 8] += (double)e;
            else tail += (double)e;
        }
        double want = 0.0;
        for (int l = 0; l < 8; l++) want += lanes[l];
        want += tail;
        CHECK_MSG(bad == 0, "n %lld: %d elements differ from lra_expf", (long long)n, bad);
        CHECK_MSG(memcmp(&got, &want, sizeof got) == 0 || (isinf(got) && isinf(want)), "n %lld: sum %.17g, want %.17g",
                  (long long)n, got, want);
    }
}

static void test_accuracy(void) {
    double worst = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.000913f) {
        const double want = exp((double)x), got = lra_expf(x);
        const double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel;
    }
    printf("  largest relative error of lra_expf on [-87, 88]: %.3g\n", worst);
    CHECK(worst < 1.5e-7);
    CHECK(lra_expf(-INFINITY) == 0.0f && lra_expf(-90.0f) == 0.0f && isinf(lra_expf(89.0f)));
}

static void test_softmax_row(void) {
    float row[37];
    for (int j = 0; j < 37; j++) row[j] = j % 5 == 0 ? -INFINITY : 0.1f * (float)j - 1.0f;
    float copy[37];
    memcpy(copy, row, sizeof row);
    const float lse = lra_softmax_row(row, 37);
    double sum = 0, want_lse = 0;
    for (int j = 0; j < 37; j++) {
        sum += row[j];
        if (j % 5 == 0) CHECK(row[j] == 0.0f);
        else want_lse += exp((double)copy[j]);
    }
    CHECK_NEAR(sum, 1.0, 1e-6);
    CHECK_NEAR(lse, log(want_lse), 1e-6);
    // The probabilities again from the log-sum-exp (as backward passes recompute them).
    lra_softmax_row_from_lse(copy, 37, lse);
    for (int j = 0; j < 37; j++) CHECK_NEAR(copy[j], row[j], 1e-7);
    float dead[9];
    for (int j = 0; j < 9; j++) dead[j] = -INFINITY;
    CHECK(lra_softmax_row(dead, 9) == -INFINITY);
    for (int j = 0; j < 9; j++) CHECK(dead[j] == 0.0f);
}

// lra_acosf against the double-precision acos over a fine grid of [-1, 1] (both branches, both signs, the
// end points): absolute error below 4e-7.
// lra_dotf4 gives lra_dotf's bits for each of its four products, and both are within float rounding of the
// double-precision dot product, for lengths with and without a tail.  NaN propagates.
static void test_dot(void) {
    float a[67], b[4][67];
    for (int c = 0; c < 67; c++) {
        a[c] = sinf(0.37f * (float)c) * 3.0f;
        for (int k = 0; k < 4; k++) b[k][c] = cosf(0.11f * (float)(c * (k + 1))) - 0.2f * (float)k;
    }
    int bad_bits = 0;
    double worst = 0.0;
    for (int64_t n = 0; n <= 67; n++) {
        float four[4];
        lra_dotf4(a, b[0], b[1], b[2], b[3], n, four);
        for (int k = 0; k < 4; k++) {
            const float one = lra_dotf(a, b[k], n);
            bad_bits += memcmp(&one, &four[k], sizeof one) != 0;
            double exact = 0.0, mag = 0.0;
            for (int64_t c = 0; c < n; c++) exact += (double)a[c] * b[k][c], mag += fabs((double)a[c] * b[k][c]);
            const double err = fabs((double)one - exact) / (mag > 0 ? mag : 1.0);
            worst = err > worst ? err : worst;
        }
    }
    CHECK_MSG(bad_bits == 0, "%d products differ between lra_dotf4 and lra_dotf", bad_bits);
    CHECK_MSG(worst < 1e-6, "dot product relative error %g", worst);
    a[5] = NAN;
    CHECK(isnan(lra_dotf(a, b[0], 16)));
    a[5] = 1.0f;
    // the double-lane sums: within double rounding of the exact sums for every length and tail
    double bd[67];
    for (int c = 0; c < 67; c++) bd[c] = (double)b[1][c] * 1.000000123;
    double worst_d = 0.0;
    for (int64_t n = 0; n <= 67; n++) {
        double s = 0.0, d = 0.0, mag = 0.0;
        for (int64_t c = 0; c < n; c++) s += a[c], d += (double)a[c] * bd[c], mag += fabs((double)a[c] * bd[c]) + fabs(a[c]);
        double dff = 0.0;
        for (int64_t c = 0; c < n; c++) dff += (double)a[c] * b[2][c], mag += fabs((double)a[c] * b[2][c]);
        const double e1 = fabs(lra_sum_double(a, n) - s), e2 = fabs(lra_dot_float_double(a, bd, n) - d);
        const double e3 = fabs(lra_dot_double(a, b[2], n) - dff);
        const double e12 = e1 > e2 ? e1 : e2, e = (e12 > e3 ? e12 : e3) / (mag > 0 ? mag : 1.0);
        worst_d = e > worst_d ? e : worst_d;
    }
    CHECK_MSG(worst_d < 1e-14, "double-lane sum relative error %g", worst_d);
}

static void test_acos(void) {
    double worst = 0.0;
    for (int i = 0; i <= 400000; i++) {
        const float x = -1.0f + 2.0f * (float)i / 400000.0f;
        const double e = fabs((double)lra_acosf(x) - acos((double)x));
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst < 4e-7, "lra_acosf: worst absolute error %g", worst);
    CHECK_NEAR(lra_acosf(1.0f), 0.0, 1e-7);
    CHECK_NEAR(lra_acosf(-1.0f), M_PI, 4e-7);
    CHECK_NEAR(lra_acosf(0.0f), M_PI / 2, 1e-7);
}

static const lra_test_case TESTS[] = {
    {"scalar_equals_vector", test_scalar_equals_vector},
    {"exp_shift_rows", test_exp_shift_rows},
    {"accuracy", test_accuracy},
    {"softmax_row", test_softmax_row},
    {"acos", test_acos},
    {"dot", test_dot},
};
LRA_TEST_MAIN(TESTS)
