// One training step (see step.h).
#include "tasks/step.h"

#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/profile.h"
#include "optim/clip.h"
#include "tasks/batch_tensors.h"
#include "tasks/dist.h"

lra_status lra_stepper_init(lra_stepper *st) {
    const int world = st->world > 0 ? st->world : 1;
    const int shards = st->grad_shards > 0 ? st->grad_shards : world;
    if (shards % world)
        return lra_error(LRA_ERR_CONFIG,
                         "train.grad_shards %d is not a multiple of the %d ranks: each rank computes the same number "
                         "of gradient shards (choose train.grad_shards = %d, %d, ...)",
                         st->grad_shards, world, world, 2 * world);
    const int mb = st->batch_size / st->accumulation;
    if (mb % shards)
        return lra_error(LRA_ERR_CONFIG, "train.grad_shards %d does not divide the micro-batch of %d examples", shards,
                         mb);
    st->world = world;
    st->local_shards_ = shards / world;
    st->shard_grads_ = NULL;
    if (st->local_shards_ > 1)
        st->shard_grads_ = lra_xcalloc((size_t)st->local_shards_ * st->model->params.total, sizeof(float));
    return LRA_OK;
}

void lra_stepper_free(lra_stepper *st) {
    free(st->shard_grads_);
    st->shard_grads_ = NULL;
}

// Forward, loss and backward of rows [r0, r0 + count) of a micro-batch; the gradient accumulates into
// the parameter store's current gradient buffer.
static void shard_pass(lra_stepper *st, int64_t step, const lra_batch *batch, int r0, int count,
                       int64_t example_offset, lra_step_result *out) {
    const lra_batch part = lra_batch_rows(batch, r0, count);
    lra_ctx_reset(st->ctx);
    st->ctx->training = 1;
    st->ctx->seed = st->seed;
    st->ctx->step = (uint64_t)step;
    // Row r of the global batch keys its own draws, whatever the split into micro-batches, ranks or shards.
    st->ctx->example_offset = example_offset;
    lra_profile_phase(LRA_PHASE_FORWARD);
    lra_batch_tensors bt;
    lra_batch_tensors_make(st->ctx, &part, &bt);
    lra_tensor *logits = lra_batch_logits(st->model, st->ctx, &bt);
    const lra_loss loss = lra_model_loss(st->ctx, logits, bt.labels, (double)st->batch_size);
    lra_profile_phase(LRA_PHASE_BACKWARD);
    lra_backward(st->ctx, loss.objective);
    if (st->inspect) st->inspect(st->inspect_user, logits, loss.objective);
    out->loss_sum += loss.sum;
    out->correct += lra_model_correct(logits, bt.labels);
    out->examples += bt.count;
}

lra_status lra_step(lra_stepper *st, int64_t step, lra_batch_source next, void *user, lra_step_result *out) {
    memset(out, 0, sizeof *out);
    lra_params *p = &st->model->params;
    const int L = st->local_shards_;
    if (L > 1)
        memset(st->shard_grads_, 0, (size_t)L * p->total * sizeof(float));
    else
        lra_params_zero_grad(p);
    const int mb_global = st->batch_size / st->accumulation, rows = mb_global / st->world, shard_rows = rows / L;
    lra_status local = LRA_OK;
    for (int micro = 0; micro < st->accumulation; micro++) {
        const lra_batch *batch = NULL;
        lra_profile_phase(LRA_PHASE_DATA);
        // No early return: a rank that failed alone would skip the sum below and hang the others.
        if ((local = next(user, &batch)) != LRA_OK) break;
        for (int j = 0; j < L; j++) {
            const int r0 = j * shard_rows, count = batch->count - r0 < shard_rows ? batch->count - r0 : shard_rows;
            if (count <= 0) continue;
            float *keep = L > 1 ? lra_params_swap_grad(p, st->shard_grads_ + (size_t)j * p->total) : NULL;
            shard_pass(st, step, batch, r0, count, (int64_t)micro * mb_global + (int64_t)st->rank * rows + r0, out);
            if (keep) lra_params_swap_grad(p, keep);
        }
    }
    lra_profile_phase(LRA_PHASE_OPTIMIZER);
    lra_ctx_reset(st->ctx);
    LRA_TRY(lra_dist_agree(local));
    // Fixed-order sum over all shards of all ranks: every rank applies the same update.
    if (L > 1)
        lra_dist_sum_shards_f32(st->shard_grads_, L, p->total, p->grad);
    else if (st->world > 1)
        lra_dist_sum_shards_f32(p->grad, 1, p->total, p->grad);
    out->grad_norm = lra_clip_grad_norm(p, st->clip);
    double beta1;
    lra_schedule_at(st->sched, step, &out->lr, &beta1);
    lra_optimizer_step(st->opt, p, out->lr, beta1);
    lra_profile_phase(LRA_PHASE_OTHER);
    return LRA_OK;
}
