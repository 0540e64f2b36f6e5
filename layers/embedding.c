// Token + position embedding (see embedding.h).
#include "layers/embedding.h"

#include <math.h>
#include <stdio.h>

#include "core/ops.h"

void lra_embedding_declare(lra_embedding *e, lra_params *p, const char *name, int vocab, int pos_len, int dim,
                           lra_pos_kind pos_kind) {
    char buf[LRA_PARAM_NAME_MAX];
    snprintf(buf, sizeof buf, "%s.word_embeddings.weight", name);
    e->tok = lra_params_add(p, buf, LRA_DIMS(vocab, dim), LRA_INIT_NORMAL, 0.02f);
    e->pos = -1;
    if (pos_kind != LRA_POS_NONE) {
        snprintf(buf, sizeof buf, "%s.position_embeddings.weight", name);
        e->pos = lra_params_add(p, buf, LRA_DIMS(pos_len, dim), LRA_INIT_NORMAL, 0.02f);
        if (pos_kind == LRA_POS_SINUSOIDAL) lra_params_set_trainable(p, e->pos, 0);
    }
    e->vocab = vocab;
    e->pos_len = pos_len;
    e->dim = dim;
    e->pos_kind = pos_kind;
}

void lra_embedding_init_fixed(const lra_embedding *e, lra_params *p) {
    if (e->pos_kind != LRA_POS_SINUSOIDAL) return;
    float *t = lra_f32(lra_params_tensor(p, e->pos));
    for (int i = 0; i < e->pos_len; i++)
        for (int k = 0; k < e->dim; k += 2) {
            double angle = i / pow(10000.0, (double)k / e->dim);
            t[(size_t)i * e->dim + k] = (float)sin(angle);
            if (k + 1 < e->dim) t[(size_t)i * e->dim + k + 1] = (float)cos(angle);
        }
}

lra_tensor *lra_embedding_forward(const lra_embedding *e, lra_params *p, lra_ctx *ctx, lra_tensor *ids) {
    LRA_ASSERT(ids->ndim == 2 && ids->dtype == LRA_I32);
    const int64_t n = ids->shape[1];
    LRA_ASSERT_MSG(n <= e->pos_len, "sequence length %lld exceeds the position table (%d)", (long long)n, e->pos_len);
    lra_tensor *x = lra_op_embedding(ctx, ids, lra_params_tensor(p, e->tok));
    if (e->pos < 0) return x;
    lra_tensor *pos = lra_op_slice(ctx, lra_params_tensor(p, e->pos), 0, 0, n);  // [n, dim], broadcast over B
    return lra_op_add(ctx, x, pos);
}
