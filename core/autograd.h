// Reverse-mode autograd.  An lra_ctx owns the step arena and the tape.  Every op that has an input
// requiring grad appends one node (inputs, output, saved tensors, attributes, backward function);
// lra_backward walks the tape in reverse.  Backward functions ADD into input gradients, so
// accumulating gradients across micro-batches needs nothing special.  In no-grad mode (evaluation)
// nothing is recorded.  A composite op (a whole attention kernel) records ONE node with its own
// hand-written backward and keeps what it needs in node->extra.
//
// Writing an op:
//   lra_tensor *y = lra_tensor_new(ctx->arena, LRA_F32, shape, nd);   ... compute ...
//   lra_node *nd = lra_tape_record(ctx, "exp", exp_backward, y, 1, (lra_tensor *[]){x});
//   if (nd) nd->saved[0] = y;     // NULL when nothing needs a gradient
// and in exp_backward: float *gx = lra_grad(ctx, node->in[0]) (only if node->in[0]->requires_grad),
//   const float *gy = node->out->grad;  gx[i] += gy[i] * y[i] ...
#ifndef LRA_CORE_AUTOGRAD_H
#define LRA_CORE_AUTOGRAD_H

#include <stdint.h>

#include "core/arena.h"
#include "core/tensor.h"

#define LRA_NODE_MAX_IN 8

typedef struct lra_ctx lra_ctx;
typedef struct lra_node lra_node;
typedef void (*lra_backward_fn)(lra_ctx *ctx, lra_node *node);

struct lra_node {
    const char *op;                          // op name, for debugging and error messages
    lra_backward_fn backward;
    lra_tensor *out;
    lra_tensor *in[LRA_NODE_MAX_IN];
    int n_in;
    lra_tensor *saved[LRA_NODE_MAX_IN];      // anything forward wants to keep (in the arena)
    int n_saved;
    int64_t iattr[8];
    double fattr[4];
    void *extra;                             // composite ops' private state (arena memory)
};

struct lra_ctx {
    lra_arena *arena;        // everything of one step
    lra_node **nodes;        // the tape (malloc'd array of arena nodes), in recording order
    int64_t n_nodes, cap_nodes;
    int grad_enabled;        // 0: no-grad mode, nothing recorded
    int training;            // 1: dropout and other train-only behaviour active
    uint64_t seed;           // run seed (random draws are keyed by it and purpose ids)
    uint64_t step;           // training step (part of every random key)
    int64_t example_offset;  // global index of the first example of the current (micro-)batch: per-example
                             // random draws (dropout) are offset by it, so splitting a batch into
                             // micro-batches or ranks does not change them
    int retain_grads;        // 1: keep every activation's gradient after backward (tests that inspect them)
    // Gradient buffers of activations whose node has run (dead), reused by later lra_grad* calls of the
    // same size; emptied by lra_ctx_reset.  Malloc'd arrays of arena pointers and their byte sizes.
    float **spare_grads;
    size_t *spare_bytes;
    int n_spare, cap_spare;
};

lra_ctx *lra_ctx_new(size_t arena_chunk_bytes);  // 0 = default chunk size
void lra_ctx_free(lra_ctx *ctx);
// Drops the tape and rewinds the arena (every tensor of the step becomes invalid).
void lra_ctx_reset(lra_ctx *ctx);
int lra_ctx_set_grad_enabled(lra_ctx *ctx, int enabled);  // returns the previous setting

// Appends a node if gradients are enabled and some input requires grad; then marks `out` as requiring
// grad and returns the node (attributes/saved tensors may be filled in by the caller).  Else NULL.
lra_node *lra_tape_record(lra_ctx *ctx, const char *op, lra_backward_fn backward, lra_tensor *out, int n_in,
                          lra_tensor *const *in);
// Arena memory for node->extra.
void *lra_node_alloc(lra_ctx *ctx, size_t bytes);

// The gradient buffer of t (contiguous [numel]); allocated zeroed in the arena on first use.
// Gradient buffers are recycled during backward: once a node's backward has run, its output's gradient
// is dead (nothing else reads it), so the buffer goes to a spare list that later lra_grad* calls of the
// same size draw from (in tape order, so the same buffers every step), and the output's grad pointer is
// cleared.  The backward pass then holds only the gradients still in flight instead of one per
// activation.  Set ctx->retain_grads to keep them all (to inspect an intermediate gradient).
float *lra_grad(lra_ctx *ctx, lra_tensor *t);
// For a backward pass that writes every element of in's gradient from out's gradient (elementwise ops,
// reshapes): the buffer to write and whether to ADD into it (*add = 1: in already has a gradient) or to
// SET it (*add = 0).  When in has no gradient yet and out's gradient has as many elements, in takes out's
// buffer -- out's gradient is dead once its node has run -- so the caller may compute g[i] = f(gy[i]) in
// place (read element i before writing it).  Saves zeroing, a buffer and a pass over memory per op.
// Not for a node whose inputs include `in` twice (the second would see the first's writes).
float *lra_grad_take(lra_ctx *ctx, lra_tensor *in, lra_tensor *out, int *add);
// An uninitialised gradient buffer for t when it has none (*add = 0: the caller sets every element), else
// the existing one (*add = 1).
float *lra_grad_for_write(lra_ctx *ctx, lra_tensor *t, int *add);
// Seeds d(loss)/d(loss) += 1 for a one-element tensor and runs the tape backwards.
void lra_backward(lra_ctx *ctx, lra_tensor *loss);
// Same with an arbitrary seed gradient for t (contiguous [numel(t)], added into t's gradient).
void lra_backward_from(lra_ctx *ctx, lra_tensor *t, const float *seed_grad);

int64_t lra_tape_size(const lra_ctx *ctx);

#endif
