// Tests of the dataset container (data/dataset.h).
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "tests/harness.h"

static void test_push1_growth(void) {
    lra_dataset ds;
    lra_dataset_init(&ds, 1, 300, 5);
    CHECK_EQ_INT(ds.count, 0);
    CHECK_EQ_INT(lra_dataset_num_tokens(&ds), 0);
    uint16_t buf[400];
    // Many pushes of varying length force several reallocations of every array.
    for (int i = 0; i < 5000; i++) {
        int len = i % 397;
        for (int k = 0; k < len; k++) buf[k] = (uint16_t)((i * 7 + k) % 300);
        lra_dataset_push1(&ds, buf, len, i % 5);
    }
    REQUIRE(ds.count == 5000);
    CHECK_EQ_INT(ds.max_seq_len, 396);
    int64_t total = 0;
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        int len = i % 397;
        total += len;
        if (lra_dataset_len(&ds, i, 0) != len || ds.labels[i] != i % 5) bad++;
        const uint16_t *s = lra_dataset_seq(&ds, i, 0);
        for (int k = 0; k < len; k++)
            if (s[k] != (uint16_t)((i * 7 + k) % 300)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(lra_dataset_num_tokens(&ds), total);
    CHECK_OK(lra_dataset_validate(&ds, "growth"));
    lra_dataset_free(&ds);
    CHECK(ds.tokens == NULL && ds.offsets == NULL && ds.count == 0);
}

static void test_push_copies(void) {
    lra_dataset ds;
    lra_dataset_init(&ds, 1, 10, 2);
    uint16_t buf[3] = {1, 2, 3};
    lra_dataset_push1(&ds, buf, 3, 1);
    buf[0] = 9;  // the dataset must hold its own copy
    CHECK_EQ_INT(lra_dataset_seq(&ds, 0, 0)[0], 1);
    lra_dataset_free(&ds);
}

static void test_two_sequences(void) {
    lra_dataset ds;
    lra_dataset_init(&ds, 2, 257, 2);
    uint16_t a[4] = {1, 2, 3, 4}, b[2] = {200, 256};
    const uint16_t *seqs[2] = {a, b};
    int64_t lens[2] = {4, 2};
    lra_dataset_push(&ds, seqs, lens, 1);
    int64_t lens2[2] = {0, 1};  // an empty first document is allowed
    const uint16_t *seqs2[2] = {NULL, b};
    lra_dataset_push(&ds, seqs2, lens2, 0);
    REQUIRE(ds.count == 2);
    CHECK_EQ_INT(lra_dataset_len(&ds, 0, 0), 4);
    CHECK_EQ_INT(lra_dataset_len(&ds, 0, 1), 2);
    CHECK_EQ_INT(lra_dataset_len(&ds, 1, 0), 0);
    CHECK_EQ_INT(lra_dataset_len(&ds, 1, 1), 1);
    CHECK_EQ_INT(lra_dataset_seq(&ds, 0, 1)[1], 256);
    CHECK_EQ_INT(lra_dataset_seq(&ds, 1, 1)[0], 200);
    CHECK_EQ_INT(ds.offsets[4], 7);
    CHECK_EQ_INT(ds.max_seq_len, 4);
    CHECK_OK(lra_dataset_validate(&ds, "pairs"));
    lra_dataset_free(&ds);
}

static void test_reserve_and_validate(void) {
    lra_dataset ds;
    lra_dataset_init(&ds, 1, 4, 2);
    lra_dataset_reserve(&ds, 1000, 100000);
    CHECK(ds.count_cap >= 1000 && ds.tokens_cap >= 100000);
    uint16_t *p0 = ds.tokens;
    uint16_t s[3] = {1, 2, 3};
    for (int i = 0; i < 1000; i++) lra_dataset_push1(&ds, s, 3, i & 1);
    CHECK(ds.tokens == p0);  // no reallocation after a sufficient reserve
    CHECK_OK(lra_dataset_validate(&ds, "ok"));
    ds.tokens[5] = 4;  // outside vocab_size 4
    CHECK_EQ_INT(lra_dataset_validate(&ds, "bad"), LRA_ERR_FORMAT);
    CHECK(strstr(lra_error_message(), "vocabulary") != NULL);
    ds.tokens[5] = 3;
    ds.labels[7] = 2;
    CHECK_EQ_INT(lra_dataset_validate(&ds, "bad"), LRA_ERR_FORMAT);
    CHECK(strstr(lra_error_message(), "label") != NULL);
    ds.labels[7] = 1;
    ds.max_seq_len = 9;
    CHECK_EQ_INT(lra_dataset_validate(&ds, "bad"), LRA_ERR_FORMAT);
    lra_dataset_free(&ds);
}

static const lra_test_case TESTS[] = {
    {"push1_growth", test_push1_growth},
    {"push_copies", test_push_copies},
    {"two_sequences", test_two_sequences},
    {"reserve_and_validate", test_reserve_and_validate},
};
LRA_TEST_MAIN(TESTS)
