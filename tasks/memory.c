// Memory estimate of a run (see memory.h).
#include "tasks/memory.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

// Doubles: products of config values (up to 2^31 each) overflow 64-bit integers, and the estimate is rough.
void lra_memory_estimate_run(const lra_run_settings *s, lra_memory_estimate *out) {
    const lra_encoder_config *e = &s->model.enc;
    const double dim = e->dim, inner = (double)e->heads * e->head_dim, hidden = e->hidden, layers = e->layers;
    const double towers = s->model.dual ? 2 : 1;
    const double L = (double)e->seq_len + (s->model.pooling == LRA_POOL_CLS ? 1 : 0);
    double p = (double)e->vocab_size * dim + (e->pos_kind == LRA_POS_LEARNED ? (double)e->pos_len * dim : 0);
    p += layers * (4 * dim * inner + 2 * dim * hidden);
    p += (s->model.dual ? 4 : 1) * dim * s->model.head_hidden + (double)s->model.head_hidden * s->model.num_classes;
    out->params = p;
    out->params_bytes = p * 4 * 4;  // values, gradients, two moments
    double micro = s->accumulation > 0 ? (double)(s->batch_size / s->accumulation) : (double)s->batch_size;
    // Gradient shards run one after another: only one shard's activations are alive at a time.
    if (s->grad_shards > 1) micro = ceil(micro / s->grad_shards);
    const double train_tokens = micro * L * towers, eval_tokens = (double)s->eval_batch_size * L * towers;
    // ids + mask per token; per layer the residual input, the normalized input, q/k/v and the MLP hidden.
    out->train_bytes = train_tokens * 8 + train_tokens * layers * (2 * dim + 3 * inner + hidden) * 4;
    // Evaluation keeps no graph: the batch and one [tokens, width] activation at least.
    out->eval_bytes = eval_tokens * 8 + eval_tokens * dim * 4;
    out->total_bytes = out->params_bytes + (out->train_bytes > out->eval_bytes ? out->train_bytes : out->eval_bytes);
}

uint64_t lra_memory_physical(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;
    return (uint64_t)pages * (uint64_t)page;
}

static double total_of(const lra_run_settings *s) {
    lra_memory_estimate m;
    lra_memory_estimate_run(s, &m);
    return m.total_bytes;
}

lra_status lra_memory_check(const lra_config *c, const lra_run_settings *s, uint64_t limit) {
    if (limit == 0) limit = lra_memory_physical();
    if (limit == 0) return LRA_OK;
    lra_memory_estimate m;
    lra_memory_estimate_run(s, &m);
    if (m.total_bytes <= (double)limit) return LRA_OK;
    // Blame the key whose smallest value would save the most.
    static const char *const keys[] = {"train.eval_batch_size", "train.batch_size", "data.max_length", "model.layers",
                                       "model.dim", "model.heads", "model.head_dim", "model.hidden",
                                       "model.head_hidden", "model.vocab_size"};
    const char *blame = keys[0];
    double best = -1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        lra_run_settings t = *s;
        lra_encoder_config *e = &t.model.enc;
        switch (i) {
        case 0: t.eval_batch_size = 1; break;
        case 1: t.batch_size = t.accumulation; break;
        case 2: e->seq_len = 1, e->pos_len = 1; break;
        case 3: e->layers = 1; break;
        case 4: e->dim = 1; break;
        case 5: e->heads = 1; break;
        case 6: e->head_dim = 1; break;
        case 7: e->hidden = 1; break;
        case 8: t.model.head_hidden = 1; break;
        default: e->vocab_size = 1; break;
        }
        double saved = m.total_bytes - total_of(&t);
        if (saved > best) best = saved, blame = keys[i];
    }
    const double gib = 1024.0 * 1024 * 1024;
    return lra_config_error(c, blame,
                            "the run needs at least %.1f GiB of memory (parameters and optimizer state %.1f GiB for "
                            "%.0f parameters, training micro-batch %.1f GiB, evaluation batch %.1f GiB) but this "
                            "machine has %.1f GiB; reduce this value",
                            m.total_bytes / gib, m.params_bytes / gib, m.params, m.train_bytes / gib,
                            m.eval_bytes / gib, (double)limit / gib);
}
