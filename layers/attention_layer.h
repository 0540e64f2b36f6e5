// The multi-head attention layer (training.md §1.4): Q, K, V projections with bias (Linear D -> H*p),
// head split to [B, H, n, p], the kernel from the attention registry, head merge, output projection
// `ff`.  Names follow the reference: "<name>.W_q", ".W_k", ".W_v", ".ff", kernel parameters under
// "<name>.attn.".  When the kernel declares a pre-transform (S3's smoother), it runs on the layer input
// before the projections.  When the kernel is a token mixer (def->mix: FNet, PoNet, Luna, ...), the layer
// declares no projections and the mixer maps the layer input to the output; `carry` is the encoder
// forward's slot for the sequence a mixer passes to the next layer (attention.h).
#ifndef LRA_LAYERS_ATTENTION_LAYER_H
#define LRA_LAYERS_ATTENTION_LAYER_H

#include "attention/attention.h"
#include "core/autograd.h"
#include "core/params.h"
#include "layers/linear.h"

typedef struct {
    lra_linear wq, wk, wv, ff;
    lra_attn_instance attn;  // the kernel, its parameters declared in the model's store
    int layer, heads, head_dim, dim;
} lra_attention_layer;

// Declares the projections and lets the kernel declare its own parameters (the options must have passed
// the kernel's validate: tasks/settings.c checks them when the config is read).
void lra_attention_layer_declare(lra_attention_layer *a, lra_params *p, const char *name, int dim, int heads,
                                 int head_dim, int64_t seq_len, int layer, const lra_attn_kernel_def *kernel,
                                 const lra_attn_values *opts);
void lra_attention_layer_init_params(lra_attention_layer *a, lra_params *p, uint64_t seed);
void lra_attention_layer_destroy(lra_attention_layer *a);
// x: [B, n, D], mask: [B, n] -> [B, n, D]; carry: the encoder forward's carry slot (or NULL)
lra_tensor *lra_attention_layer_forward(const lra_attention_layer *a, lra_params *p, lra_ctx *ctx, lra_tensor *x,
                                        lra_tensor *mask, uint64_t tower, lra_tensor **carry);

#endif
