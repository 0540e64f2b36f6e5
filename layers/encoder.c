// Transformer encoder (see encoder.h).
#include "layers/encoder.h"

#include <stdio.h>

#include "core/ops.h"
#include "layers/dropout.h"

void lra_encoder_declare(lra_encoder *e, lra_params *p, const char *name, const lra_encoder_config *cfg) {
    LRA_ASSERT(cfg->layers >= 1 && cfg->layers <= LRA_MAX_LAYERS);
    char buf[LRA_PARAM_NAME_MAX];
    e->cfg = *cfg;
    snprintf(buf, sizeof buf, "%s.embeddings", name);
    lra_embedding_declare(&e->emb, p, buf, cfg->vocab_size, cfg->pos_len, cfg->dim, cfg->pos_kind);
    for (int l = 0; l < cfg->layers; l++) {
        snprintf(buf, sizeof buf, "%s.transformer_%d", name, l);
        lra_block_declare(&e->blocks[l], p, buf, cfg->dim, cfg->heads, cfg->head_dim, cfg->hidden, cfg->seq_len,
                          cfg->dropout, l, cfg->kernel, &e->cfg.kernel_opts);
    }
    snprintf(buf, sizeof buf, "%s.norm", name);
    lra_layernorm_declare(&e->norm, p, buf, cfg->dim);
}

void lra_encoder_init_params(lra_encoder *e, lra_params *p, uint64_t seed) {
    lra_embedding_init_fixed(&e->emb, p);
    for (int l = 0; l < e->cfg.layers; l++) lra_attention_layer_init_params(&e->blocks[l].mha, p, seed + 7919u * (l + 1));
}

void lra_encoder_destroy(lra_encoder *e) {
    for (int l = 0; l < e->cfg.layers; l++) lra_attention_layer_destroy(&e->blocks[l].mha);
}

lra_tensor *lra_encoder_forward(const lra_encoder *e, lra_params *p, lra_ctx *ctx, lra_tensor *ids, lra_tensor *mask,
                                uint64_t tower, lra_pooling pooling) {
    lra_tensor *x = lra_embedding_forward(&e->emb, p, ctx, ids);
    x = lra_dropout_apply(ctx, x, e->cfg.dropout, -1, LRA_KEY_DROPOUT_EMBEDDING, tower);
    lra_tensor *carry = NULL;  // a mixer's sequence passed from layer to layer (Luna), this forward only
    for (int l = 0; l < e->cfg.layers; l++) x = lra_block_forward(&e->blocks[l], p, ctx, x, mask, tower, &carry);
    return lra_layernorm_pool_forward(&e->norm, p, ctx, x, mask, pooling == LRA_POOL_CLS);
}
