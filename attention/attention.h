// The attention-kernel contract and registry.  A kernel is math on Q, K, V and the padding mask; the
// multi-head layer (layers/attention_layer.c) owns the projections and calls the kernel chosen by name
// (config key model.attention.type).  A kernel may instead be a token MIXER (`mix`, below): it replaces
// the layer's whole token mixing -- it receives the layer input x [B, n, D] and the mask, owns all its
// parameters (projections included) and returns [B, n, D]; the layer then declares no Q/K/V/output
// projections.  A mixer may pass an extra sequence from layer to layer through the call's carry slot
// (Luna's packed sequence).  A kernel is ONE file that defines a `lra_attn_kernel_def` and one
// line in attention/registry.c; the config keys, `lra attention list`, the benches and the conformance
// suite (tests/test_attention.c) find it through the registry.  A kernel declares
//   - its options (name, type, default, range, one-line doc, flags) -- config keys
//     model.attention.<kernel>.<option>; LRA_OPT_COUNT marks the feature/sample count the benches vary;
//   - parameters or fixed buffers it owns, added to the parameter store in create();
//   - optionally a transform of the layer input that runs before the Q/K/V projections (S3's smoother);
//   - a forward that records its backward on the tape (usually ONE composite node), OR a mix (token
//     mixers: FNet, PoNet, Luna, Transformer-LS); exactly one of the two;
//   - its conformance settings (small options for the suite's sizes, exemptions, tolerances).
//
// Every kernel instance is built, run and freed through lra_attn_instance_* (below), which is also where
// the guarantees on a kernel's inputs are enforced, once:
//   - q, k, v: f32, contiguous, one shape [B, H, n, p];
//   - mask: f32, contiguous, shape [B, n]; 1 = real token, 0 = padding (not necessarily a suffix);
//   - pre_transform's and mix's x: f32, contiguous, [B, n, D]; mix returns [B, n, D];
//   - mix's call->carry is never NULL: *carry is NULL at the first layer (or when the caller keeps no
//     carry) and otherwise the f32 [B, m, D] tensor the previous layer's mixer left there; the mixer
//     may replace *carry (keeping the batch size B);
//   - the parameter store is an argument (never kept in kernel state): it may be any store built the same
//     way (a model's, a test's own).
// Random draws use the stream keys of core/keys.h, keyed by (call->seed, call->step, call->layer,
// call->tower, example, head), so they are fresh every training step, reproducible, and independent of
// the thread count and of batch splitting.
#ifndef LRA_ATTENTION_ATTENTION_H
#define LRA_ATTENTION_ATTENTION_H

#include <stdint.h>
#include <stdio.h>

#include "core/autograd.h"
#include "core/config.h"
#include "core/params.h"
#include "core/status.h"
#include "core/tensor.h"

typedef enum { LRA_OPT_INT = 0, LRA_OPT_FLOAT, LRA_OPT_BOOL, LRA_OPT_ENUM } lra_opt_type;

// Option flags.
#define LRA_OPT_COUNT 1u  // the feature/sample/landmark count (INT): what `lra bench` and the suite vary

// One option of a kernel.  Enum values are stored as their index in `choices` ("a|b|c").
typedef struct {
    const char *name;     // e.g. "nb_features"; config key model.attention.<kernel>.nb_features
    lra_opt_type type;
    double def;           // default value (enum: index)
    double min, max;      // inclusive range for INT/FLOAT
    const char *choices;  // ENUM only: "first|second|..."
    const char *doc;      // one line
    unsigned flags;       // LRA_OPT_COUNT
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
    // Mixers only: the extra sequence carried from layer to layer within one encoder forward (owned by
    // the encoder forward, which starts it at NULL; a tensor of the step's arena).  NULL = none kept.
    lra_tensor **carry;
} lra_attn_call;

// What the conformance suite (tests/test_attention.c) needs to know about a kernel; all zero = defaults.
typedef struct {
    const char *small_opts;     // overrides for the suite's tiny sizes ("a=1,b=true"; the value N = n)
    const char *exact_opts;     // settings that reduce the kernel to exact softmax (NULL: none)
    int exact_full_mask_only;   // ... only without padding
    int approx_lo, approx_hi;   // count-option values whose approximation errors must fall (0: no check)
    int pad_exempt;             // padded K/V rows may influence real rows (the spec says so)
    int grad_exempt;            // no finite-difference check (piecewise-constant outputs)
    double grad_atol, grad_rtol;  // 0 = gradcheck defaults
    double grad_eps;            // relative finite-difference step (0 = 1e-2)
} lra_attn_conformance;

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
    // The state keeps indices into the store, never the store itself.
    void *(*create)(const lra_attn_setup *setup, lra_params *params);
    // Called after the store is finalized and initialised: set values that the store's init kinds cannot
    // express (orthogonal features, ...).  May be NULL.
    void (*init_params)(void *state, lra_params *params, uint64_t seed);
    // Optional transform of the layer input x [B, n, D] (contiguous) before the projections (S3 smoother).
    lra_tensor *(*pre_transform)(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                                 const lra_attn_call *call);
    // q, k, v: contiguous [B, H, n, p]; mask: contiguous [B, n] (1 = real token) -> [B, H, n, p]
    lra_tensor *(*forward)(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                           lra_tensor *v, lra_tensor *mask, const lra_attn_call *call);
    // Token mixer (instead of forward; no pre_transform): x contiguous [B, n, D], mask contiguous [B, n]
    // -> [B, n, D].  The layer skips its own projections; call->carry is a valid slot (see above).
    lra_tensor *(*mix)(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                       const lra_attn_call *call);
    void (*destroy)(void *state);  // may be NULL
    lra_attn_conformance conformance;
} lra_attn_kernel_def;

// Registry (attention/registry.c lists every kernel).
int lra_attention_count(void);
const lra_attn_kernel_def *lra_attention_get(int i);
const lra_attn_kernel_def *lra_attention_find(const char *name);  // NULL if unknown

// Option values: defaults of a kernel, then overrides by name.  Text is parsed by the config rules
// (core/config.h: YAML 1.2 scalars, bool is true/false), so `--set model.attention.<kernel>.<option>=X`
// and lra_attn_values_set(def, vals, "<option>", "X") accept and reject the same values.
void lra_attn_values_defaults(const lra_attn_kernel_def *def, lra_attn_values *out);
lra_status lra_attn_values_set(const lra_attn_kernel_def *def, lra_attn_values *vals, const char *name,
                               const char *text);
double lra_attn_value(const lra_attn_values *vals, const char *name);  // asserts the name exists
// The option flagged LRA_OPT_COUNT, or NULL when the kernel has none.
const lra_attn_option *lra_attn_count_option(const lra_attn_kernel_def *def);

// The config key of an option: model.attention.<kernel>.<option> with its type, default text and range or
// choices.  The strings live in `text`.
typedef struct {
    char key[160], def[64], spec[256];
} lra_attn_config_text;
lra_config_key lra_attn_config_key(const lra_attn_kernel_def *def, const lra_attn_option *o,
                                   lra_attn_config_text *text);

// ---- instances: the one way to build and run a kernel --------------------------------------------
typedef struct {
    const lra_attn_kernel_def *def;
    lra_attn_values opts;  // resolved options (a copy)
    void *state;
    lra_params *params;    // the store holding the kernel's parameters: the caller's, or &own
    lra_params own;        // standalone instances only
    int owns_params;
} lra_attn_instance;

// Validates the options against the setup, then creates the kernel.
//   params != NULL (a layer of a model): the kernel declares its parameters in that store; the caller
//     finalizes and initialises the store, then calls lra_attn_instance_init.
//   params == NULL (tests, benches): the instance owns a store, finalized, initialised from `seed`, and
//     the kernel's init_params already run.
// The instance must not move while in use (it may point at its own store).
lra_status lra_attn_instance_make(lra_attn_instance *in, const lra_attn_kernel_def *def,
                                  const lra_attn_setup *setup, lra_params *params, uint64_t seed);
void lra_attn_instance_init(lra_attn_instance *in, uint64_t seed);  // after the store is initialised
void lra_attn_instance_free(lra_attn_instance *in);
// The kernel's pre-transform of x [B, n, D] (x itself when it has none).
lra_tensor *lra_attn_instance_pre(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                                  const lra_attn_call *call);
// The kernel on q, k, v [B, H, n, p] and mask [B, n] (made contiguous here) -> [B, H, n, p].
lra_tensor *lra_attn_instance_forward(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                      lra_tensor *v, lra_tensor *mask, const lra_attn_call *call);
// The mixer on x [B, n, D] and mask [B, n] (made contiguous here) -> [B, n, D]; call->carry may be NULL
// (a private slot is used then).
lra_tensor *lra_attn_instance_mix(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                                  const lra_attn_call *call);
// Any kernel on head-layout inputs, for the conformance suite and the benches, which drive every kernel
// the same way: a q/k/v kernel runs as lra_attn_instance_forward; a mixer runs on
// x = merge_heads(q + k + v) [B, n, H*p] (so changing any of q, k, v changes x) and its output is split
// back into heads [B, H, n, p].
lra_tensor *lra_attn_instance_run_heads(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                        lra_tensor *v, lra_tensor *mask, const lra_attn_call *call);
// Prints every kernel with its summary and options (for `lra attention list`).
void lra_attention_print_list(FILE *f);

#endif
