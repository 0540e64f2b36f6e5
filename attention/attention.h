// The attention-kernel interface and registry.  A kernel is math on Q, K, V and the padding mask; the
// multi-head layer (layers/attention_layer.c) owns the projections and calls the kernel chosen by
// name (config key model.attention.type).  A kernel declares
//   - its options (name, type, default, range, one-line doc) — config keys model.attention.<option>;
//   - parameters or fixed buffers it owns, added to the model's flat parameter store in create();
//   - optionally a transform of the layer input that runs before the Q/K/V projections (S3's smoother);
//   - a forward that records its backward on the tape (usually ONE composite node).
// Random draws use Philox keyed by (call->seed, call->step, call->layer, head, purpose), so they are
// fresh every training step, reproducible, and independent of the thread count.
#ifndef LRA_ATTENTION_ATTENTION_H
#define LRA_ATTENTION_ATTENTION_H

#include <stdint.h>
#include <stdio.h>

#include "core/autograd.h"
#include "core/params.h"
#include "core/status.h"
#include "core/tensor.h"

typedef enum { LRA_OPT_INT = 0, LRA_OPT_FLOAT, LRA_OPT_BOOL, LRA_OPT_ENUM } lra_opt_type;

// One option of a kernel.  Enum values are stored as their index in `choices` ("a|b|c").
typedef struct {
    const char *name;     // e.g. "num_samples"; config key model.attention.num_samples
    lra_opt_type type;
    double def;           // default value (enum: index)
    double min, max;      // inclusive range for INT/FLOAT
    const char *choices;  // ENUM only: "first|second|..."
    const char *doc;      // one line
} lra_attn_option;

#define LRA_ATTN_MAX_OPTIONS 24

// Resolved option values of one kernel instance (defaults overridden by the config).
typedef struct {
    int n;
    const char *names[LRA_ATTN_MAX_OPTIONS];
    double values[LRA_ATTN_MAX_OPTIONS];
} lra_attn_values;

// What a kernel learns about its layer when it is created.
typedef struct {
    int layer;            // layer index (RNG keys, names)
    int n_heads;          // H
    int head_dim;         // p
    int model_dim;        // D (= H * p in the LRA models)
    int64_t seq_len;      // padded sequence length n the model is built for
    const lra_attn_values *opts;
    const char *prefix;   // parameter-name prefix, e.g. "model.transformer_0.mha.attn."
} lra_attn_setup;

// Per-call information.
typedef struct {
    uint64_t seed;        // run seed
    uint64_t step;        // training step (or an evaluation counter)
    int layer;
    int training;         // dropout active (sampling kernels sample in both modes, per the spec)
    uint64_t tower;       // 0, or 1 for the second document of the retrieval dual encoder
} lra_attn_call;

typedef struct lra_attn_kernel_def {
    const char *name;      // config name, e.g. "skeinformer"
    const char *summary;   // one line for `lra attention list`
    const lra_attn_option *options;
    int n_options;
    int min_tokens;        // real tokens every sequence needs (0: none); the trainer checks data against it
    // Checks that the options fit the model (e.g. a segment count dividing the width) before anything is
    // built; a failure names the option and what was expected.  May be NULL.
    lra_status (*validate)(const lra_attn_setup *setup);
    // Declares parameters/buffers in `params` (not yet finalized) and returns private state (may be NULL).
    void *(*create)(const lra_attn_setup *setup, lra_params *params);
    // Called after the store is finalized and initialised: set values that the store's init kinds cannot
    // express (orthogonal features, ...).  May be NULL.
    void (*init_params)(void *state, lra_params *params, uint64_t seed);
    // Optional transform of the layer input x [B, n, D] before the projections (S3 smoother).  NULL = none.
    lra_tensor *(*pre_transform)(void *state, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask, const lra_attn_call *call);
    // q, k, v: [B, H, n, p]; mask: [B, n] (1 = real token) -> [B, H, n, p]
    lra_tensor *(*forward)(void *state, lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask,
                           const lra_attn_call *call);
    void (*destroy)(void *state);  // may be NULL
} lra_attn_kernel_def;

// Registry (attention/registry.c lists every kernel).
int lra_attention_count(void);
const lra_attn_kernel_def *lra_attention_get(int i);
const lra_attn_kernel_def *lra_attention_find(const char *name);  // NULL if unknown

// Option values: defaults of a kernel, then overrides by name with validation (errors name the option,
// the expected type/range and the kernel).
void lra_attn_values_defaults(const lra_attn_kernel_def *def, lra_attn_values *out);
lra_status lra_attn_values_set(const lra_attn_kernel_def *def, lra_attn_values *vals, const char *name,
                               const char *text);
double lra_attn_value(const lra_attn_values *vals, const char *name);  // asserts the name exists
// Prints every kernel with its summary and options (for `lra attention list`).
void lra_attention_print_list(FILE *f);

#endif
