// The transformer encoder (training.md §1): embeddings + dropout, L pre-LN blocks with separate
// weights ("<name>.transformer_<i>"), final LayerNorm ("<name>.norm"), output multiplied by the mask
// and pooled (layers/pooling.h); the last three are one op, so the normalised sequence is never stored.
#ifndef LRA_LAYERS_ENCODER_H
#define LRA_LAYERS_ENCODER_H

#include "attention/attention.h"
#include "layers/block.h"
#include "layers/embedding.h"
#include "layers/layernorm.h"
#include "layers/pooling.h"

#define LRA_MAX_LAYERS 16

typedef struct {
    int vocab_size;
    int pos_len;          // rows of the position table (2^ceil(log2(max_seq_len)) in the references)
    int64_t seq_len;      // padded length n the model runs at
    int dim, heads, head_dim, hidden, layers;
    float dropout;
    lra_pos_kind pos_kind;
    const lra_attn_kernel_def *kernel;
    lra_attn_values kernel_opts;
} lra_encoder_config;

typedef struct {
    lra_encoder_config cfg;
    lra_embedding emb;
    lra_block blocks[LRA_MAX_LAYERS];
    lra_layernorm norm;
} lra_encoder;

void lra_encoder_declare(lra_encoder *e, lra_params *p, const char *name, const lra_encoder_config *cfg);
void lra_encoder_init_params(lra_encoder *e, lra_params *p, uint64_t seed);  // after lra_params_initialize
void lra_encoder_destroy(lra_encoder *e);
// ids: int32 [B, n], mask: [B, n] -> [B, D]: the pooled output (rows of padded positions count as 0)
lra_tensor *lra_encoder_forward(const lra_encoder *e, lra_params *p, lra_ctx *ctx, lra_tensor *ids, lra_tensor *mask,
                                uint64_t tower, lra_pooling pooling);

#endif
