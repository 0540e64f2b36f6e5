// The LRA model: encoder + pooling + head (single-sequence classifier, or the retrieval dual encoder
// that runs ONE shared encoder on both documents).  Parameter names follow the PyTorch reference
// (ModelForSC / ModelForSCDual): "model.embeddings...", "model.transformer_<i>...", "model.norm...",
// "seq_classifer.mlpblock.{0,2}..." (sic, the reference's spelling).
#ifndef LRA_TASKS_MODEL_H
#define LRA_TASKS_MODEL_H

#include "core/params.h"
#include "layers/encoder.h"
#include "layers/heads.h"
#include "layers/pooling.h"

typedef struct {
    lra_encoder_config enc;
    lra_pooling pooling;
    int num_classes;
    int head_hidden;      // F of the head (128 in the references)
    int dual;             // 1: retrieval dual encoder
} lra_model_config;

typedef struct {
    lra_model_config cfg;
    lra_params params;
    lra_encoder enc;
    lra_head head;
} lra_model;

// Declares, finalizes and initialises every parameter from `seed`.
void lra_model_build(lra_model *m, const lra_model_config *cfg, uint64_t seed);
void lra_model_free(lra_model *m);

// The token the batcher writes at position 0 of every sequence for CLS pooling (vocab_size - 1), or -1.
int lra_model_cls_token(const lra_model_config *cfg);
// ids0/mask0: int32/float [B, n] (and ids1/mask1 for the second document when dual) -> logits [B, C].
// With CLS pooling the inputs already hold the CLS token at position 0 (lra_model_cls_token; the
// batcher's cls_token option puts it there).
lra_tensor *lra_model_logits(lra_model *m, lra_ctx *ctx, lra_tensor *ids0, lra_tensor *mask0, lra_tensor *ids1,
                             lra_tensor *mask1);
// The loss, normalised in one place: `objective` = (sum over the rows of the cross-entropy of logits
// [B, C] against int32 labels [B]) / `divide_by` (B when divide_by is 0), the tensor to differentiate;
// `sum` = that sum (for metrics: add the sums of all batches, divide by the examples).  The training step
// divides by the global batch size, so gradients of micro-batches, ranks and shards add up.
typedef struct {
    lra_tensor *objective;
    double sum;
} lra_loss;
lra_loss lra_model_loss(lra_ctx *ctx, lra_tensor *logits, lra_tensor *labels, double divide_by);
// The predicted class of a row of logits [B, C]: its first maximal logit.
int64_t lra_model_prediction(const lra_tensor *logits, int64_t row);
// Number of rows whose prediction is the label.
int64_t lra_model_correct(const lra_tensor *logits, const lra_tensor *labels);

#endif
