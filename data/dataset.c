// Growable example container: token arrays end to end, offsets and labels (see dataset.h).
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

void lra_dataset_init(lra_dataset *ds, int n_seq, int32_t vocab_size, int32_t num_classes) {
    LRA_ASSERT(ds != NULL);
    LRA_ASSERT_MSG(n_seq == 1 || n_seq == 2, "n_seq must be 1 or 2, got %d", n_seq);
    memset(ds, 0, sizeof *ds);
    ds->n_seq = n_seq;
    ds->vocab_size = vocab_size;
    ds->num_classes = num_classes;
    // offsets always holds the leading 0, so the end of the tokens is offsets[count * n_seq].
    ds->offsets = lra_xcalloc(1, sizeof *ds->offsets);
}

void lra_dataset_free(lra_dataset *ds) {
    if (!ds) return;
    free(ds->offsets);
    free(ds->tokens);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

// Grows capacities geometrically so that n pushes cost O(total size).
static void reserve_examples(lra_dataset *ds, int64_t need) {
    if (need <= ds->count_cap) return;
    int64_t cap = ds->count_cap < 64 ? 64 : ds->count_cap;
    while (cap < need) cap += cap / 2;
    ds->offsets = lra_xrealloc(ds->offsets, (size_t)(cap * ds->n_seq + 1) * sizeof *ds->offsets);
    ds->labels = lra_xrealloc(ds->labels, (size_t)cap * sizeof *ds->labels);
    ds->count_cap = cap;
}

static void reserve_tokens(lra_dataset *ds, int64_t need) {
    if (need <= ds->tokens_cap) return;
    int64_t cap = ds->tokens_cap < 4096 ? 4096 : ds->tokens_cap;
    while (cap < need) cap += cap / 2;
    ds->tokens = lra_xrealloc(ds->tokens, (size_t)cap * sizeof *ds->tokens);
    ds->tokens_cap = cap;
}

void lra_dataset_reserve(lra_dataset *ds, int64_t examples, int64_t tokens) {
    LRA_ASSERT(ds != NULL && examples >= 0 && tokens >= 0);
    reserve_examples(ds, examples);
    reserve_tokens(ds, tokens);
}

void lra_dataset_push(lra_dataset *ds, const uint16_t *const *seqs, const int64_t *lens, int32_t label) {
    LRA_ASSERT(ds != NULL && ds->offsets != NULL);
    int64_t add = 0;
    for (int s = 0; s < ds->n_seq; s++) {
        LRA_ASSERT(lens[s] >= 0);
        LRA_ASSERT(lens[s] == 0 || seqs[s] != NULL);
        add += lens[s];
    }
    reserve_examples(ds, ds->count + 1);
    int64_t *off = ds->offsets + ds->count * ds->n_seq;  // off[0] is the current end of tokens
    reserve_tokens(ds, off[0] + add);
    for (int s = 0; s < ds->n_seq; s++) {
        if (lens[s] > 0) memcpy(ds->tokens + off[s], seqs[s], (size_t)lens[s] * sizeof *ds->tokens);
        off[s + 1] = off[s] + lens[s];
        if (lens[s] > ds->max_seq_len) ds->max_seq_len = lens[s];
    }
    ds->labels[ds->count] = label;
    ds->count++;
}

void lra_dataset_push1(lra_dataset *ds, const uint16_t *seq, int64_t len, int32_t label) {
    LRA_ASSERT(ds != NULL && ds->n_seq == 1);
    const uint16_t *seqs[1] = {seq};
    lra_dataset_push(ds, seqs, &len, label);
}

int64_t lra_dataset_num_tokens(const lra_dataset *ds) { return ds->offsets[ds->count * ds->n_seq]; }

lra_status lra_dataset_validate(const lra_dataset *ds, const char *what) {
    if (!what) what = "dataset";
    if (ds->n_seq != 1 && ds->n_seq != 2) return lra_error(LRA_ERR_FORMAT, "%s: n_seq %d is not 1 or 2", what, ds->n_seq);
    if (ds->offsets[0] != 0) return lra_error(LRA_ERR_FORMAT, "%s: first offset is not 0", what);
    int64_t nseqs = ds->count * ds->n_seq, maxlen = 0;
    for (int64_t k = 0; k < nseqs; k++) {
        int64_t len = ds->offsets[k + 1] - ds->offsets[k];
        if (len < 0)
            return lra_error(LRA_ERR_FORMAT, "%s: example %lld has a negative length", what, (long long)(k / ds->n_seq));
        if (len > maxlen) maxlen = len;
    }
    if (maxlen != ds->max_seq_len)
        return lra_error(LRA_ERR_FORMAT, "%s: max_seq_len %lld but the longest sequence has %lld tokens", what,
                         (long long)ds->max_seq_len, (long long)maxlen);
    int64_t nt = ds->offsets[nseqs];
    for (int64_t t = 0; t < nt; t++)
        if (ds->tokens[t] >= ds->vocab_size)
            return lra_error(LRA_ERR_FORMAT, "%s: token %lld has id %u, outside the vocabulary of %d", what,
                             (long long)t, ds->tokens[t], ds->vocab_size);
    for (int64_t i = 0; i < ds->count; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= ds->num_classes)
            return lra_error(LRA_ERR_FORMAT, "%s: example %lld has label %d, expected 0..%d", what, (long long)i,
                             ds->labels[i], ds->num_classes - 1);
    return LRA_OK;
}
