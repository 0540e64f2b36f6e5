// Tests of the batcher (data/batcher.h): per-epoch permutations determined by (seed, epoch), epoch
// coverage, padding / truncation / masks, drop_last, cursor save and restore, prefetch equivalence,
// shards that partition the global batch, and the evaluation iterator.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/batcher.h"
#include "tests/harness.h"

// Example i has length 1 + i % 13 (or a second document of length 1 + i % 5) and tokens
// 1 + (i + k) % 250; label i % 3.
static void make_dataset(lra_dataset *ds, int64_t n, int n_seq) {
    lra_dataset_init(ds, n_seq, 257, 3);
    uint16_t a[32], b[32];
    for (int64_t i = 0; i < n; i++) {
        int64_t lens[2] = {1 + i % 13, 1 + i % 5};
        for (int k = 0; k < 32; k++) {
            a[k] = (uint16_t)(1 + (i + k) % 250);
            b[k] = (uint16_t)(1 + (i * 3 + k) % 250);
        }
        const uint16_t *seqs[2] = {a, b};
        lra_dataset_push(ds, seqs, lens, (int32_t)(i % 3));
    }
}

static int is_permutation(const int32_t *p, int64_t n) {
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) ok = 0;
        else seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_epoch_order(void) {
    const int64_t n = 1000;
    int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    lra_batcher_epoch_order(7, 3, n, a);
    lra_batcher_epoch_order(7, 3, n, b);
    CHECK(is_permutation(a, n));
    CHECK(memcmp(a, b, n * sizeof *a) == 0);  // same (seed, epoch): same order
    lra_batcher_epoch_order(7, 4, n, c);
    CHECK(is_permutation(c, n));
    CHECK(memcmp(a, c, n * sizeof *a) != 0);  // another epoch: another order
    lra_batcher_epoch_order(8, 3, n, c);
    CHECK(memcmp(a, c, n * sizeof *a) != 0);  // another seed: another order
    int fixed = 0;
    for (int64_t i = 0; i < n; i++) fixed += a[i] == i;
    CHECK(fixed < 20);  // shuffled, not the identity
    free(a);
    free(b);
    free(c);
}

// Checks one batch row against the dataset.
static int row_ok(const lra_dataset *ds, const lra_batch *bt, int r, lra_mask_mode mode) {
    int64_t ex = bt->index[r];
    if (ex < 0 || ex >= ds->count || bt->labels[r] != ds->labels[ex]) return 0;
    for (int s = 0; s < bt->n_seq; s++) {
        const int32_t *t = lra_batch_tokens(bt, s) + (int64_t)r * bt->length;
        const float *m = lra_batch_mask(bt, s) + (int64_t)r * bt->length;
        int64_t len = lra_dataset_len(ds, ex, s);
        if (len > bt->length) len = bt->length;
        if (bt->lengths[r * bt->n_seq + s] != len) return 0;
        const uint16_t *src = lra_dataset_seq(ds, ex, s);
        for (int64_t k = 0; k < bt->length; k++) {
            int32_t want = k < len ? src[k] : 0;
            float wm = mode == LRA_MASK_NONZERO ? (want != 0) : (k < len);
            if (t[k] != want || m[k] != wm) return 0;
        }
    }
    return 1;
}

static void test_epoch_coverage_and_padding(void) {
    lra_dataset ds;
    make_dataset(&ds, 103, 1);
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        lra_batcher_options o;
        lra_batcher_options_default(&o);
        o.batch_size = 10;
        o.seed = 5;
        o.max_length = 9;  // lengths run to 13: longer ones are truncated
        o.prefetch = prefetch;
        lra_batcher *b;
        CHECK_OK(lra_batcher_create(&b, &ds, &o));
        REQUIRE(b != NULL);
        CHECK_EQ_INT(lra_batcher_length(b), 9);
        CHECK_EQ_INT(lra_batcher_batches_per_epoch(b), 11);
        int32_t *order = malloc(103 * sizeof *order);
        lra_batcher_epoch_order(5, 0, 103, order);
        int seen[103] = {0}, bad = 0;
        for (int k = 0; k < 11; k++) {
            const lra_batch *bt;
            CHECK_OK(lra_batcher_next(b, &bt));
            REQUIRE(bt != NULL);
            CHECK_EQ_INT(bt->epoch, 0);
            CHECK_EQ_INT(bt->position, 10 * k);
            CHECK_EQ_INT(bt->count, k < 10 ? 10 : 3);  // the last batch is partial
            for (int r = 0; r < bt->count; r++) {
                bad += !row_ok(&ds, bt, r, LRA_MASK_LENGTH);
                bad += bt->index[r] != order[10 * k + r];
                seen[bt->index[r]]++;
            }
            for (int r = bt->count; r < bt->rows; r++) {  // padding rows are all zero
                bad += bt->labels[r] != -1 || bt->index[r] != -1;
                for (int64_t t = 0; t < bt->length; t++)
                    bad += lra_batch_tokens(bt, 0)[r * bt->length + t] != 0 || lra_batch_mask(bt, 0)[r * bt->length + t] != 0;
            }
        }
        CHECK_EQ_INT(bad, 0);
        int once = 1;
        for (int i = 0; i < 103; i++) once &= seen[i] == 1;
        CHECK(once);  // each example exactly once per epoch
        // The endless iterator continues with epoch 1 in a new order.
        const lra_batch *bt;
        CHECK_OK(lra_batcher_next(b, &bt));
        REQUIRE(bt != NULL);
        CHECK(bt->epoch == 1 && bt->position == 0 && bt->count == 10);
        lra_batcher_epoch_order(5, 1, 103, order);
        CHECK_EQ_INT(bt->index[0], order[0]);
        free(order);
        lra_batcher_free(b);
    }
    lra_dataset_free(&ds);
}

// CLS pooling: the batcher writes the CLS token at position 0 of every document, shifts the document right
// by one (dropping its last token when it fills L) and masks the CLS position in.  Two documents per row
// check the plane layout [n_seq, rows, L].
static void test_cls_token_and_planes(void) {
    lra_dataset ds;
    lra_dataset_init(&ds, 2, 256, 2);
    uint16_t a[5] = {4, 5, 6, 7, 8}, b2[2] = {9, 10};
    const uint16_t *docs[2] = {a, b2};
    int64_t lens[2] = {5, 2};
    lra_dataset_push(&ds, docs, lens, 1);
    lra_batcher_options o;
    lra_batcher_options_eval(&o, 2, 5);
    o.cls_token = 31;
    lra_batcher *b;
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    const lra_batch *bt;
    CHECK_OK(lra_batcher_next(b, &bt));
    REQUIRE(bt != NULL && bt->n_seq == 2 && bt->length == 5 && bt->rows == 2);
    const int32_t want0[5] = {31, 4, 5, 6, 7}, want1[5] = {31, 9, 10, 0, 0};
    const float mask1[5] = {1, 1, 1, 0, 0};
    for (int k = 0; k < 5; k++) {
        CHECK_EQ_INT(lra_batch_tokens(bt, 0)[k], want0[k]);
        CHECK(lra_batch_mask(bt, 0)[k] == 1.0f);
        CHECK_EQ_INT(lra_batch_tokens(bt, 1)[k], want1[k]);
        CHECK(lra_batch_mask(bt, 1)[k] == mask1[k]);
        CHECK_EQ_INT(lra_batch_tokens(bt, 0)[5 + k], 0);  // the padding row of plane 0
    }
    lra_batcher_free(b);
    lra_dataset_free(&ds);
}

static void test_round_pow2_and_masks(void) {
    lra_dataset ds;
    lra_dataset_init(&ds, 1, 256, 2);
    // An image-like example whose pixel value 0 appears inside the sequence.
    uint16_t img[5] = {0, 7, 0, 3, 9};
    lra_dataset_push1(&ds, img, 5, 1);
    lra_batcher_options o;
    lra_batcher_options_eval(&o, 2, 5);
    o.round_pow2 = 1;
    lra_batcher *b;
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    CHECK_EQ_INT(lra_batcher_length(b), 8);  // 5 rounded up
    const lra_batch *bt;
    CHECK_OK(lra_batcher_next(b, &bt));
    REQUIRE(bt != NULL);
    const float want_len[8] = {1, 1, 1, 1, 1, 0, 0, 0};
    for (int k = 0; k < 8; k++) CHECK(bt->mask[k] == want_len[k]);  // lengths, not values
    CHECK(row_ok(&ds, bt, 0, LRA_MASK_LENGTH));
    CHECK_EQ_INT(bt->count, 1);
    CHECK_EQ_INT(bt->rows, 2);
    lra_batcher_free(b);
    o.mask_mode = LRA_MASK_NONZERO;  // official compatibility: black pixels are masked
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    CHECK_OK(lra_batcher_next(b, &bt));
    const float want_nz[8] = {0, 1, 0, 1, 1, 0, 0, 0};
    for (int k = 0; k < 8; k++) CHECK(bt->mask[k] == want_nz[k]);
    lra_batcher_free(b);
    // max_length 0 means the longest sequence; round_pow2 of an exact power stays.
    lra_batcher_options_eval(&o, 1, 0);
    o.round_pow2 = 1;
    lra_dataset_push1(&ds, img, 4, 0);
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    CHECK_EQ_INT(lra_batcher_length(b), 8);
    lra_batcher_free(b);
    o.round_pow2 = 0;
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    CHECK_EQ_INT(lra_batcher_length(b), 5);
    lra_batcher_free(b);
    lra_dataset_free(&ds);
}

static void test_two_sequences(void) {
    lra_dataset ds;
    make_dataset(&ds, 9, 2);
    lra_batcher_options o;
    lra_batcher_options_default(&o);
    o.batch_size = 4;
    o.max_length = 6;
    o.seed = 1;
    lra_batcher *b;
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        const lra_batch *bt;
        CHECK_OK(lra_batcher_next(b, &bt));
        REQUIRE(bt != NULL && bt->n_seq == 2);
        for (int r = 0; r < bt->count; r++) bad += !row_ok(&ds, bt, r, LRA_MASK_LENGTH);
    }
    CHECK_EQ_INT(bad, 0);
    lra_batcher_free(b);
    lra_dataset_free(&ds);
}

static void test_drop_last(void) {
    lra_dataset ds;
    make_dataset(&ds, 23, 1);
    lra_batcher_options o;
    lra_batcher_options_default(&o);
    o.batch_size = 5;
    o.drop_last = 1;
    lra_batcher *b;
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    CHECK_EQ_INT(lra_batcher_batches_per_epoch(b), 4);
    for (int k = 0; k < 9; k++) {
        const lra_batch *bt;
        CHECK_OK(lra_batcher_next(b, &bt));
        REQUIRE(bt != NULL);
        CHECK_EQ_INT(bt->count, 5);  // never partial
        CHECK_EQ_INT(bt->epoch, k / 4);
        CHECK_EQ_INT(bt->position, 5 * (k % 4));
    }
    lra_batcher_free(b);
    // Too few examples for one batch is an error.
    o.batch_size = 30;
    CHECK_EQ_INT(lra_batcher_create(&b, &ds, &o), LRA_ERR_ARG);
    CHECK(b == NULL);
    lra_dataset_free(&ds);
}

// Copies the identifying content of a batch (index, labels, tokens) for comparison.
typedef struct {
    int64_t index[16];
    int32_t labels[16];
    int32_t tokens[16 * 16];
    int count;
    int64_t epoch, position;
} snap;

static void take(snap *s, const lra_batch *bt) {
    memset(s, 0, sizeof *s);
    LRA_ASSERT(bt->rows <= 16 && bt->rows * bt->n_seq * bt->length <= 16 * 16);
    memcpy(s->index, bt->index, (size_t)bt->rows * sizeof *bt->index);
    memcpy(s->labels, bt->labels, (size_t)bt->rows * sizeof *bt->labels);
    memcpy(s->tokens, bt->tokens, (size_t)(bt->rows * bt->n_seq * bt->length) * sizeof *bt->tokens);
    s->count = bt->count;
    s->epoch = bt->epoch;
    s->position = bt->position;
}

static void test_cursor_restore(void) {
    lra_dataset ds;
    make_dataset(&ds, 37, 1);
    lra_batcher_options o;
    lra_batcher_options_default(&o);
    o.batch_size = 8;
    o.max_length = 12;
    o.seed = 99;
    // Reference run: 20 batches (over four epochs) with prefetch.
    lra_batcher *b;
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    snap ref[20];
    lra_batch_cursor saved = {0, 0};
    for (int k = 0; k < 20; k++) {
        if (k == 7) saved = lra_batcher_cursor(b);
        const lra_batch *bt;
        CHECK_OK(lra_batcher_next(b, &bt));
        REQUIRE(bt != NULL);
        take(&ref[k], bt);
    }
    CHECK(saved.epoch == 1 && saved.position == 16);  // 5 batches per epoch: batch 7 = epoch 1, third batch
    lra_batcher_free(b);
    // A fresh batcher (with and without prefetch) seeks to the saved cursor and replays batches 7..19.
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        o.prefetch = prefetch;
        CHECK_OK(lra_batcher_create(&b, &ds, &o));
        const lra_batch *bt;
        CHECK_OK(lra_batcher_next(b, &bt));  // consume one first so a prefetched batch must be dropped
        CHECK_OK(lra_batcher_seek(b, saved));
        int same = 1;
        for (int k = 7; k < 20; k++) {
            CHECK_OK(lra_batcher_next(b, &bt));
            REQUIRE(bt != NULL);
            snap s;
            take(&s, bt);
            same &= memcmp(&s, &ref[k], sizeof s) == 0;
        }
        CHECK_MSG(same, "prefetch %d: batches after restore differ", prefetch);
        lra_batcher_free(b);
    }
    // A cursor at the very end of an epoch means the start of the next one.
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    CHECK_OK(lra_batcher_seek(b, (lra_batch_cursor){2, 37}));
    lra_batch_cursor c = lra_batcher_cursor(b);
    CHECK(c.epoch == 3 && c.position == 0);
    CHECK_EQ_INT(lra_batcher_seek(b, (lra_batch_cursor){0, 38}), LRA_ERR_ARG);
    lra_batcher_free(b);
    lra_dataset_free(&ds);
}

// While the caller holds a batch, the prefetch thread builds the next one elsewhere: the held batch
// must not change under the caller.
static void test_prefetch_keeps_current(void) {
    lra_dataset ds;
    make_dataset(&ds, 64, 1);
    lra_batcher_options o;
    lra_batcher_options_default(&o);
    o.batch_size = 4;
    o.max_length = 8;
    o.seed = 11;
    lra_batcher *b;
    CHECK_OK(lra_batcher_create(&b, &ds, &o));
    const lra_batch *prev = NULL;
    int changed = 0, alternated = 1;
    for (int k = 0; k < 10; k++) {
        const lra_batch *bt;
        CHECK_OK(lra_batcher_next(b, &bt));
        REQUIRE(bt != NULL);
        if (prev) alternated &= bt != prev;
        snap before, after;
        take(&before, bt);
        usleep(2000);  // the worker has time to finish the next batch
        take(&after, bt);
        changed += memcmp(&before, &after, sizeof before) != 0;
        prev = bt;
    }
    CHECK_EQ_INT(changed, 0);
    CHECK(alternated);  // double buffering
    lra_batcher_free(b);
    lra_dataset_free(&ds);
}

static void test_shards_partition(void) {
    lra_dataset ds;
    make_dataset(&ds, 50, 1);
    lra_batcher_options o;
    lra_batcher_options_default(&o);
    o.batch_size = 11;
    o.max_length = 4;
    o.seed = 3;
    const int K = 3;  // 11 rows -> shards of 3, 4, 4 rows
    lra_batcher *whole, *part[3];
    CHECK_OK(lra_batcher_create(&whole, &ds, &o));
    for (int r = 0; r < K; r++) {
        lra_batcher_options q = o;
        q.num_shards = K;
        q.shard_rank = r;
        q.prefetch = r & 1;
        CHECK_OK(lra_batcher_create(&part[r], &ds, &q));
        CHECK_EQ_INT(lra_batcher_rows(part[r]), 4);
    }
    int bad = 0;
    for (int k = 0; k < 12; k++) {  // includes partial last batches (50 = 4 * 11 + 6)
        const lra_batch *w, *p;
        CHECK_OK(lra_batcher_next(whole, &w));
        REQUIRE(w != NULL);
        int g = 0, total = 0;
        for (int r = 0; r < K; r++) {
            CHECK_OK(lra_batcher_next(part[r], &p));
            REQUIRE(p != NULL);
            bad += p->global_count != w->count || p->epoch != w->epoch || p->position != w->position;
            int lo = r * 11 / K, hi = (r + 1) * 11 / K;
            int want = (w->count < hi ? w->count : hi) - lo;
            if (want < 0) want = 0;
            bad += p->count != want;
            // Shard r holds rows lo.. of the whole batch, in order, and nothing else.
            for (int i = 0; i < p->count; i++, g++) {
                bad += g != lo + i;
                bad += p->index[i] != w->index[lo + i] || p->labels[i] != w->labels[lo + i];
                bad += memcmp(p->tokens + i * 4, w->tokens + (lo + i) * 4, 4 * sizeof(int32_t)) != 0;
            }
            for (int i = p->count; i < p->rows; i++) bad += p->index[i] != -1;
            total += p->count;
            g = hi < w->count ? hi : g;
        }
        bad += total != w->count;  // the shards together hold exactly the batch
    }
    CHECK_EQ_INT(bad, 0);
    lra_batcher_free(whole);
    for (int r = 0; r < K; r++) lra_batcher_free(part[r]);
    // Invalid shard settings.
    lra_batcher *b;
    o.num_shards = 3;
    o.shard_rank = 3;
    CHECK_EQ_INT(lra_batcher_create(&b, &ds, &o), LRA_ERR_ARG);
    o.num_shards = 12;
    o.shard_rank = 0;
    CHECK_EQ_INT(lra_batcher_create(&b, &ds, &o), LRA_ERR_ARG);
    lra_dataset_free(&ds);
}

static void test_eval_iterator(void) {
    lra_dataset ds;
    make_dataset(&ds, 26, 1);
    lra_batcher_options o;
    lra_batcher_options_eval(&o, 8, 16);
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        o.prefetch = prefetch;
        lra_batcher *b;
        CHECK_OK(lra_batcher_create(&b, &ds, &o));
        for (int pass = 0; pass < 2; pass++) {
            int64_t next = 0;
            int batches = 0, bad = 0;
            const lra_batch *bt;
            for (;;) {
                CHECK_OK(lra_batcher_next(b, &bt));
                if (!bt) break;
                batches++;
                for (int r = 0; r < bt->count; r++) {
                    bad += bt->index[r] != next++;  // every row, in dataset order
                    bad += !row_ok(&ds, bt, r, LRA_MASK_LENGTH);
                }
            }
            CHECK_EQ_INT(batches, 4);  // 8 + 8 + 8 + 2: the remainder is evaluated
            CHECK_EQ_INT(next, 26);
            CHECK_EQ_INT(bad, 0);
            CHECK_OK(lra_batcher_next(b, &bt));  // stays at the end
            CHECK(bt == NULL);
            CHECK_OK(lra_batcher_seek(b, (lra_batch_cursor){0, 0}));  // and restarts
        }
        lra_batcher_free(b);
    }
    lra_dataset_free(&ds);
}

static void test_bad_options(void) {
    lra_dataset ds;
    lra_dataset_init(&ds, 1, 17, 10);
    lra_batcher_options o;
    lra_batcher_options_default(&o);
    lra_batcher *b;
    CHECK_EQ_INT(lra_batcher_create(&b, &ds, &o), LRA_ERR_ARG);  // empty dataset
    uint16_t t = 1;
    lra_dataset_push1(&ds, &t, 1, 0);
    o.batch_size = 0;
    CHECK_EQ_INT(lra_batcher_create(&b, &ds, &o), LRA_ERR_ARG);
    o.batch_size = 1;
    o.max_length = -1;
    CHECK_EQ_INT(lra_batcher_create(&b, &ds, &o), LRA_ERR_ARG);
    lra_dataset_free(&ds);
}

static const lra_test_case TESTS[] = {
    {"epoch_order", test_epoch_order},
    {"epoch_coverage_and_padding", test_epoch_coverage_and_padding},
    {"round_pow2_and_masks", test_round_pow2_and_masks},
    {"cls_token_and_planes", test_cls_token_and_planes},
    {"two_sequences", test_two_sequences},
    {"drop_last", test_drop_last},
    {"cursor_restore", test_cursor_restore},
    {"prefetch_keeps_current", test_prefetch_keeps_current},
    {"shards_partition", test_shards_partition},
    {"eval_iterator", test_eval_iterator},
    {"bad_options", test_bad_options},
};
LRA_TEST_MAIN(TESTS)
