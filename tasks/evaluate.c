// Evaluation loop (see evaluate.h).
#include "tasks/evaluate.h"

#include <string.h>

#include "tasks/batch_tensors.h"

lra_status lra_evaluate(lra_model *m, lra_ctx *ctx, const lra_dataset *ds, const lra_eval_options *opt,
                        lra_eval_result *out) {
    memset(out, 0, sizeof *out);
    lra_batcher_options bo;
    lra_batcher_options_eval(&bo, opt->batch_size, opt->length);
    bo.round_pow2 = 0;
    bo.mask_mode = opt->mask_mode;
    bo.cls_token = lra_model_cls_token(&m->cfg);
    bo.prefetch = 1;
    if (opt->num_shards > 1) {
        bo.num_shards = (int)opt->num_shards;
        bo.shard_rank = (int)opt->shard_rank;
    }
    lra_batcher *b = NULL;
    LRA_TRY(lra_batcher_create(&b, ds, &bo));
    const int was_training = ctx->training;
    const int prev_grad = lra_ctx_set_grad_enabled(ctx, 0);
    ctx->training = 0;
    lra_status st = LRA_OK;
    for (int64_t nb = 0; opt->max_batches <= 0 || nb < opt->max_batches; nb++) {
        if (opt->cancel && opt->cancel(opt->cancel_user)) {
            st = lra_error(LRA_ERR_INTERRUPTED, "evaluation stopped after %lld batches", (long long)nb);
            break;
        }
        const lra_batch *batch = NULL;
        st = lra_batcher_next(b, &batch);
        if (st || !batch) break;
        lra_ctx_reset(ctx);
        ctx->seed = opt->seed;
        ctx->step = (1ull << 40) + opt->eval_index;  // eval draws never collide with training draws
        // This shard's first row is row floor(r*B/K) of the global batch (data/batcher.h), so per-example
        // draws do not depend on the number of ranks.
        ctx->example_offset = batch->position + opt->shard_rank * opt->batch_size /
                                                    (opt->num_shards > 1 ? opt->num_shards : 1);
        if (batch->count == 0) continue;
        lra_batch_tensors t;
        lra_batch_tensors_make(ctx, batch, &t);
        lra_tensor *logits = lra_batch_logits(m, ctx, &t);
        out->loss_sum += lra_model_loss(ctx, logits, t.labels, 0).sum;
        out->correct += lra_model_correct(logits, t.labels);
        out->examples += t.count;
        if (opt->confusion) {
            const int64_t C = opt->num_classes;
            for (int r = 0; r < t.count; r++) {
                const int64_t label = batch->labels[r], pred = lra_model_prediction(logits, r);
                if (label >= 0 && label < C && pred < C) opt->confusion[label * C + pred]++;
            }
        }
        if (opt->on_batch) opt->on_batch(opt->user, batch, logits);
    }
    lra_ctx_reset(ctx);
    ctx->training = was_training;
    lra_ctx_set_grad_enabled(ctx, prev_grad);
    lra_batcher_free(b);
    return st;
}
