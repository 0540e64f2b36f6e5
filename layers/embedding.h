// Token embedding plus position embedding (training.md §1.2): X[b,i] = E_tok[id[b,i]] + E_pos[i].
// Both tables are N(0, 0.02^2).  Positions are learned by default; the sinusoidal option stores the
// fixed table of Vaswani et al. as a non-trainable buffer.  Dropout follows in the encoder.
#ifndef LRA_LAYERS_EMBEDDING_H
#define LRA_LAYERS_EMBEDDING_H

#include "core/autograd.h"
#include "core/params.h"

typedef enum { LRA_POS_LEARNED = 0, LRA_POS_SINUSOIDAL = 1, LRA_POS_NONE = 2 } lra_pos_kind;

typedef struct {
    int tok, pos;        // parameter indices (pos = -1 with LRA_POS_NONE)
    int vocab, pos_len, dim;
    lra_pos_kind pos_kind;
} lra_embedding;

// Declares "<name>.word_embeddings.weight" [vocab, dim] and "<name>.position_embeddings.weight" [pos_len, dim].
void lra_embedding_declare(lra_embedding *e, lra_params *p, const char *name, int vocab, int pos_len, int dim,
                           lra_pos_kind pos_kind);
// Fills the sinusoidal table (call after lra_params_initialize; no-op for learned positions).
void lra_embedding_init_fixed(const lra_embedding *e, lra_params *p);
// ids: int32 [B, n] (n <= pos_len) -> [B, n, dim]
lra_tensor *lra_embedding_forward(const lra_embedding *e, lra_params *p, lra_ctx *ctx, lra_tensor *ids);

#endif
