// The data fingerprint (see data_fingerprint.h).
#include "tasks/data_fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/json.h"

// A 64-bit running hash fed 64-bit words: a multiply-rotate mix per word (fast enough for a few hundred
// MB of tokens per run start) and a final avalanche.  Not cryptographic: it tells data sets apart.
typedef struct {
    uint64_t h;
} fp_hash;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline void hash_word(fp_hash *s, uint64_t w) {
    w *= 0x87c37b91114253d5ULL;
    w = rotl64(w, 31);
    w *= 0x4cf5ad432745937fULL;
    s->h ^= w;
    s->h = rotl64(s->h, 27) * 5 + 0x52dce729;
}

static void hash_bytes(fp_hash *s, const void *data, size_t n) {
    const unsigned char *p = data;
    if (n == 0) {
        hash_word(s, 0);
        return;
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        hash_word(s, w);
    }
    uint64_t tail = 0;
    if (n > i) memcpy(&tail, p + i, n - i);
    hash_word(s, tail ^ ((uint64_t)(n - i) << 56));
}

static uint64_t hash_final(const fp_hash *s) {
    uint64_t h = s->h;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void lra_data_fingerprint_compute(const lra_dataset *const splits[3], lra_data_fingerprint *fp) {
    fp_hash s = {0x9e3779b97f4a7c15ULL};
    for (int k = 0; k < 3; k++) {
        const lra_dataset *d = splits[k];
        fp->examples[k] = d->count;
        hash_word(&s, (uint64_t)d->count);
        hash_word(&s, (uint64_t)d->n_seq);
        hash_word(&s, (uint64_t)(uint32_t)d->vocab_size | (uint64_t)(uint32_t)d->num_classes << 32);
        // Only the first `count` examples are used (a cut dataset keeps its longer arrays).
        const int64_t n_seqs = d->count * d->n_seq;
        for (int64_t i = 0; i < n_seqs; i++) hash_word(&s, (uint64_t)(d->offsets[i + 1] - d->offsets[i]));
        const int64_t first = n_seqs ? d->offsets[0] : 0, last = n_seqs ? d->offsets[n_seqs] : 0;
        hash_bytes(&s, d->tokens + first, (size_t)(last - first) * sizeof *d->tokens);
        hash_bytes(&s, d->labels, (size_t)d->count * sizeof *d->labels);
    }
    snprintf(fp->hash, sizeof fp->hash, "%016llx", (unsigned long long)hash_final(&s));
}

lra_status lra_data_fingerprint_write(const char *run_dir, const char *task, const lra_data_fingerprint *fp) {
    lra_json j;
    lra_json_begin(&j);
    lra_json_str(&j, "task", task);
    lra_json_str(&j, "fingerprint", fp->hash);
    lra_json_int(&j, "train_examples", (long long)fp->examples[0]);
    lra_json_int(&j, "val_examples", (long long)fp->examples[1]);
    lra_json_int(&j, "test_examples", (long long)fp->examples[2]);
    lra_json_str(&j, "dataset", fp->dataset);
    lra_json_bool(&j, "own_dataset", fp->dataset[0] == '\0');
    const char *text = lra_json_end(&j);
    char *body = lra_xmalloc(strlen(text) + 2);
    sprintf(body, "%s\n", text);
    char *path = lra_path_join(run_dir, LRA_DATA_JSON);
    lra_status st = lra_atomic_write_file(path, body, strlen(body));
    free(path);
    free(body);
    return st;
}
