// The pre-LN encoder block (training.md §1.3):
//   X = X + Dropout(Attention(LN1(X), m));  X = X + MLP(LN2(X))
// Names: "<name>.norm1", ".mha", ".norm2", ".mlpblock" (the reference's Transformer module).
#ifndef LRA_LAYERS_BLOCK_H
#define LRA_LAYERS_BLOCK_H

#include "layers/attention_layer.h"
#include "layers/layernorm.h"
#include "layers/mlp.h"

typedef struct {
    lra_layernorm norm1, norm2;
    lra_attention_layer mha;
    lra_mlp mlp;
    float dropout;
    int layer;
} lra_block;

void lra_block_declare(lra_block *b, lra_params *p, const char *name, int dim, int heads, int head_dim, int hidden,
                       int64_t seq_len, float dropout, int layer, const lra_attn_kernel_def *kernel,
                       const lra_attn_values *opts);
// x: [B, n, D], mask: [B, n] -> [B, n, D]; carry: the encoder forward's slot for a mixer's carried
// sequence (attention.h), passed through to the attention layer.
lra_tensor *lra_block_forward(const lra_block *b, lra_params *p, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                              uint64_t tower, lra_tensor **carry);

#endif
