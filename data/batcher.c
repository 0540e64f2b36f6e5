// Batcher (see batcher.h).
#include "data/batcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/keys.h"
#include "core/rng.h"

enum { JOB_NONE, JOB_PENDING, JOB_BUSY, JOB_DONE };

struct lra_batcher {
    const lra_dataset *ds;
    lra_batcher_options opt;
    int64_t n;              // examples
    int64_t L;
    int B, K, rank, lo, hi; // this shard takes global rows [lo, hi)
    int rows;
    lra_batch slot[2];
    int32_t *perm;          // order of perm_epoch; touched only by whoever fills (worker or caller)
    int64_t perm_epoch;
    lra_batch_cursor next;  // cursor of the batch the next call returns
    int64_t pass_epoch;     // single-pass mode: the epoch being walked
    int held;               // slot currently handed to the caller
    // prefetch
    int threaded, quit;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job;                // JOB_*
    int job_slot;
    lra_batch_cursor job_cursor;
};

void lra_batcher_options_default(lra_batcher_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->batch_size = 32;
    opt->shuffle = 1;
    opt->prefetch = 1;
    opt->num_shards = 1;
    opt->mask_mode = LRA_MASK_LENGTH;
    opt->cls_token = -1;
}

void lra_batcher_options_eval(lra_batcher_options *opt, int batch_size, int64_t max_length) {
    lra_batcher_options_default(opt);
    opt->batch_size = batch_size;
    opt->max_length = max_length;
    opt->shuffle = 0;
    opt->single_pass = 1;
}

void lra_batcher_epoch_order(uint64_t seed, int64_t epoch, int64_t n, int32_t *out) {
    lra_rng r = lra_key_rng(lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_BATCH_ORDER, .seed = seed,
                                                           .epoch = (uint64_t)epoch}));
    lra_rng_permutation(&r, n, out);
}

// Moves a cursor that points past the last batch of its epoch to the start of the next epoch.
static lra_batch_cursor normalize(const lra_batcher *b, lra_batch_cursor c) {
    if (c.position >= b->n || (b->opt.drop_last && c.position + b->B > b->n)) {
        c.epoch++;
        c.position = 0;
    }
    return c;
}

static int same_cursor(lra_batch_cursor a, lra_batch_cursor c) { return a.epoch == c.epoch && a.position == c.position; }

// Builds the batch at (normalized) cursor c into slot s.
static void fill(lra_batcher *b, int s, lra_batch_cursor c) {
    const lra_dataset *ds = b->ds;
    lra_batch *bt = &b->slot[s];
    if (b->opt.shuffle && b->perm_epoch != c.epoch) {
        lra_batcher_epoch_order(b->opt.seed, c.epoch, b->n, b->perm);
        b->perm_epoch = c.epoch;
    }
    int64_t left = b->n - c.position;
    bt->global_count = left < b->B ? (int)left : b->B;
    bt->epoch = c.epoch;
    bt->position = c.position;
    bt->count = 0;
    const int ns = ds->n_seq;
    const int64_t L = b->L;
    const int rows = b->rows, cls = b->opt.cls_token >= 0;
    for (int i = 0; i < rows; i++) {
        int g = b->lo + i;  // row within the global batch
        if (g >= b->hi || g >= bt->global_count) {
            for (int q = 0; q < ns; q++) {
                memset(lra_batch_tokens(bt, q) + (int64_t)i * L, 0, (size_t)L * sizeof(int32_t));
                memset(lra_batch_mask(bt, q) + (int64_t)i * L, 0, (size_t)L * sizeof(float));
                bt->lengths[i * ns + q] = 0;
            }
            bt->labels[i] = -1;
            bt->index[i] = -1;
            continue;
        }
        int64_t p = c.position + g;
        int64_t ex = b->opt.shuffle ? b->perm[p] : p;
        for (int q = 0; q < ns; q++) {
            const uint16_t *src = lra_dataset_seq(ds, ex, q);
            int64_t len = lra_dataset_len(ds, ex, q);
            if (len > L - cls) len = L - cls;
            int32_t *t = lra_batch_tokens(bt, q) + (int64_t)i * L;
            float *m = lra_batch_mask(bt, q) + (int64_t)i * L;
            if (cls) t[0] = b->opt.cls_token;
            for (int64_t k = 0; k < len; k++) t[cls + k] = src[k];
            memset(t + cls + len, 0, (size_t)(L - cls - len) * sizeof *t);
            if (b->opt.mask_mode == LRA_MASK_NONZERO) {
                for (int64_t k = 0; k < L; k++) m[k] = t[k] != 0 ? 1.0f : 0.0f;
                if (cls) m[0] = 1.0f;
            } else {
                for (int64_t k = 0; k < cls + len; k++) m[k] = 1.0f;
                memset(m + cls + len, 0, (size_t)(L - cls - len) * sizeof *m);
            }
            bt->lengths[i * ns + q] = (int32_t)len;
        }
        bt->labels[i] = ds->labels[ex];
        bt->index[i] = ex;
        bt->count++;
    }
}

static void *worker(void *arg) {
    lra_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->quit && b->job != JOB_PENDING) pthread_cond_wait(&b->cv, &b->mu);
        if (b->quit) break;
        b->job = JOB_BUSY;
        int s = b->job_slot;
        lra_batch_cursor c = b->job_cursor;
        pthread_mutex_unlock(&b->mu);
        fill(b, s, c);
        pthread_mutex_lock(&b->mu);
        b->job = JOB_DONE;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void alloc_slot(lra_batch *bt, int rows, int ns, int64_t L) {
    size_t cells = (size_t)rows * (size_t)ns * (size_t)L;
    bt->tokens = lra_xcalloc(cells ? cells : 1, sizeof *bt->tokens);
    bt->mask = lra_xcalloc(cells ? cells : 1, sizeof *bt->mask);
    bt->lengths = lra_xcalloc((size_t)rows * ns, sizeof *bt->lengths);
    bt->labels = lra_xcalloc((size_t)rows, sizeof *bt->labels);
    bt->index = lra_xcalloc((size_t)rows, sizeof *bt->index);
    bt->rows = rows;
    bt->n_seq = ns;
    bt->length = L;
}

static void free_slot(lra_batch *bt) {
    free(bt->tokens);
    free(bt->mask);
    free(bt->lengths);
    free(bt->labels);
    free(bt->index);
}

lra_status lra_batcher_create(lra_batcher **out, const lra_dataset *ds, const lra_batcher_options *opt) {
    *out = NULL;
    if (!ds || ds->count <= 0) return lra_error(LRA_ERR_ARG, "batcher: the dataset is empty");
    if (ds->count > (int64_t)INT32_MAX) return lra_error(LRA_ERR_ARG, "batcher: too many examples (%lld)", (long long)ds->count);
    if (opt->batch_size <= 0) return lra_error(LRA_ERR_ARG, "batcher: batch_size must be positive, got %d", opt->batch_size);
    int K = opt->num_shards > 0 ? opt->num_shards : 1;
    if (opt->shard_rank < 0 || opt->shard_rank >= K)
        return lra_error(LRA_ERR_ARG, "batcher: shard_rank %d outside 0..%d", opt->shard_rank, K - 1);
    if (K > opt->batch_size)
        return lra_error(LRA_ERR_ARG, "batcher: %d shards for a batch of %d (each shard needs a row)", K, opt->batch_size);
    if (opt->drop_last && ds->count < opt->batch_size)
        return lra_error(LRA_ERR_ARG, "batcher: drop_last with %lld examples and batch %d gives no batch",
                         (long long)ds->count, opt->batch_size);
    if (opt->max_length < 0) return lra_error(LRA_ERR_ARG, "batcher: max_length must be >= 0");
    if (opt->mask_mode != LRA_MASK_LENGTH && opt->mask_mode != LRA_MASK_NONZERO)
        return lra_error(LRA_ERR_ARG, "batcher: unknown mask mode %d", (int)opt->mask_mode);
    int64_t L = opt->max_length > 0 ? opt->max_length : ds->max_seq_len;
    if (L <= 0) L = 1;
    if (opt->round_pow2) {
        int64_t p = 1;
        while (p < L) p *= 2;
        L = p;
    }
    lra_batcher *b = lra_xcalloc(1, sizeof *b);
    b->ds = ds;
    b->opt = *opt;
    b->opt.num_shards = K;
    b->n = ds->count;
    b->L = L;
    b->B = opt->batch_size;
    b->K = K;
    b->rank = opt->shard_rank;
    b->lo = (int)((int64_t)b->rank * b->B / K);
    b->hi = (int)((int64_t)(b->rank + 1) * b->B / K);
    b->rows = (b->B + K - 1) / K;
    for (int s = 0; s < 2; s++) alloc_slot(&b->slot[s], b->rows, ds->n_seq, L);
    b->perm = opt->shuffle ? lra_xmalloc((size_t)b->n * sizeof *b->perm) : NULL;
    b->perm_epoch = -1;
    b->next = (lra_batch_cursor){0, 0};
    b->pass_epoch = 0;
    b->held = 1;
    b->job = JOB_NONE;
    if (opt->prefetch) {
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->cv, NULL);
        if (pthread_create(&b->thread, NULL, worker, b) == 0) {
            b->threaded = 1;
        } else {
            pthread_mutex_destroy(&b->mu);  // no thread: build batches on the caller's thread
            pthread_cond_destroy(&b->cv);
        }
    }
    *out = b;
    return LRA_OK;
}

void lra_batcher_free(lra_batcher *b) {
    if (!b) return;
    if (b->threaded) {
        pthread_mutex_lock(&b->mu);
        b->quit = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->cv);
    }
    for (int s = 0; s < 2; s++) free_slot(&b->slot[s]);
    free(b->perm);
    free(b);
}

// With the lock held: asks the worker for the batch at c in the slot the caller does not hold.
static void request(lra_batcher *b, lra_batch_cursor c) {
    while (b->job == JOB_BUSY) pthread_cond_wait(&b->cv, &b->mu);
    b->job = JOB_PENDING;
    b->job_cursor = c;
    b->job_slot = b->held ^ 1;
    pthread_cond_broadcast(&b->cv);
}

lra_status lra_batcher_next(lra_batcher *b, const lra_batch **batch) {
    *batch = NULL;
    lra_batch_cursor c = normalize(b, b->next);
    if (b->opt.single_pass && c.epoch != b->pass_epoch) return LRA_OK;
    lra_batch_cursor after = normalize(b, (lra_batch_cursor){c.epoch, c.position + b->B});
    int more = !(b->opt.single_pass && after.epoch != b->pass_epoch);
    if (!b->threaded) {
        b->held ^= 1;
        fill(b, b->held, c);
    } else {
        pthread_mutex_lock(&b->mu);
        if (b->job == JOB_NONE || !same_cursor(b->job_cursor, c)) request(b, c);
        while (b->job != JOB_DONE) pthread_cond_wait(&b->cv, &b->mu);
        b->held = b->job_slot;
        b->job = JOB_NONE;
        if (more) request(b, after);  // built while the caller uses this batch
        pthread_mutex_unlock(&b->mu);
    }
    b->next = (lra_batch_cursor){c.epoch, c.position + b->B};
    *batch = &b->slot[b->held];
    return LRA_OK;
}

lra_batch_cursor lra_batcher_cursor(const lra_batcher *b) { return normalize(b, b->next); }

lra_status lra_batcher_seek(lra_batcher *b, lra_batch_cursor c) {
    if (c.epoch < 0 || c.position < 0 || c.position > b->n)
        return lra_error(LRA_ERR_ARG, "batcher: cursor (epoch %lld, position %lld) outside the %lld examples",
                         (long long)c.epoch, (long long)c.position, (long long)b->n);
    if (b->threaded) {
        pthread_mutex_lock(&b->mu);
        while (b->job == JOB_BUSY) pthread_cond_wait(&b->cv, &b->mu);
        b->job = JOB_NONE;  // a prefetched batch for another cursor is dropped
        pthread_mutex_unlock(&b->mu);
    }
    b->next = c;
    b->pass_epoch = normalize(b, c).epoch;
    return LRA_OK;
}

int64_t lra_batcher_length(const lra_batcher *b) { return b->L; }
int lra_batcher_rows(const lra_batcher *b) { return b->rows; }
int64_t lra_batcher_batches_per_epoch(const lra_batcher *b) {
    return b->opt.drop_last ? b->n / b->B : (b->n + b->B - 1) / b->B;
}
