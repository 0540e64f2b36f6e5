// Encoder + pooling + head (see model.h).
#include "tasks/model.h"

#include "core/ops.h"

void lra_model_build(lra_model *m, const lra_model_config *cfg, uint64_t seed) {
    m->cfg = *cfg;
    lra_params_init(&m->params);
    lra_encoder_declare(&m->enc, &m->params, "model", &cfg->enc);
    lra_head_declare(&m->head, &m->params, "seq_classifer", cfg->enc.dim, cfg->head_hidden, cfg->num_classes,
                     cfg->dual);
    lra_params_finalize(&m->params);
    lra_params_initialize(&m->params, seed);
    lra_encoder_init_params(&m->enc, &m->params, seed);
}

void lra_model_free(lra_model *m) {
    lra_encoder_destroy(&m->enc);
    lra_params_free(&m->params);
}

int lra_model_cls_token(const lra_model_config *cfg) {
    return cfg->pooling == LRA_POOL_CLS ? cfg->enc.vocab_size - 1 : -1;
}

static lra_tensor *encode(lra_model *m, lra_ctx *ctx, lra_tensor *ids, lra_tensor *mask, uint64_t tower) {
    return lra_encoder_forward(&m->enc, &m->params, ctx, ids, mask, tower, m->cfg.pooling);
}

lra_tensor *lra_model_logits(lra_model *m, lra_ctx *ctx, lra_tensor *ids0, lra_tensor *mask0, lra_tensor *ids1,
                             lra_tensor *mask1) {
    lra_tensor *u = encode(m, ctx, ids0, mask0, 0);
    lra_tensor *v = NULL;
    if (m->cfg.dual) {
        LRA_ASSERT_MSG(ids1 && mask1, "the dual encoder needs both documents");
        v = encode(m, ctx, ids1, mask1, 1);
    }
    return lra_head_forward(&m->head, &m->params, ctx, u, v);
}

lra_loss lra_model_loss(lra_ctx *ctx, lra_tensor *logits, lra_tensor *labels, double divide_by) {
    lra_loss l;
    l.objective = lra_op_cross_entropy(ctx, logits, labels, divide_by);
    const double n = divide_by > 0 ? divide_by : (double)logits->shape[0];
    l.sum = (double)lra_f32(l.objective)[0] * n;
    return l;
}

int64_t lra_model_prediction(const lra_tensor *logits, int64_t row) {
    const int64_t C = logits->shape[1];
    const float *x = lra_f32(logits) + row * logits->stride[0];
    int64_t best = 0;
    float bv = x[0];
    for (int64_t c = 1; c < C; c++) {
        const float v = x[c * logits->stride[1]];
        if (v > bv) {
            bv = v;
            best = c;
        }
    }
    return best;
}

int64_t lra_model_correct(const lra_tensor *logits, const lra_tensor *labels) {
    const int64_t B = logits->shape[0];
    int64_t correct = 0;
    for (int64_t b = 0; b < B; b++)
        if (lra_model_prediction(logits, b) == lra_i32(labels)[b * labels->stride[0]]) correct++;
    return correct;
}
