// The tape and the reverse walk (see autograd.h).
#include "core/autograd.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/profile.h"
#include "core/status.h"

lra_ctx *lra_ctx_new(size_t arena_chunk_bytes) {
    lra_ctx *ctx = lra_xcalloc(1, sizeof *ctx);
    ctx->arena = lra_arena_new(arena_chunk_bytes);
    ctx->grad_enabled = 1;
    ctx->training = 1;
    return ctx;
}

void lra_ctx_free(lra_ctx *ctx) {
    if (!ctx) return;
    lra_arena_free(ctx->arena);
    free(ctx->nodes);
    free(ctx->spare_grads);
    free(ctx->spare_bytes);
    free(ctx);
}

void lra_ctx_reset(lra_ctx *ctx) {
    ctx->n_nodes = 0;
    ctx->n_spare = 0;
    lra_arena_reset(ctx->arena);
}

int lra_ctx_set_grad_enabled(lra_ctx *ctx, int enabled) {
    int prev = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return prev;
}

lra_node *lra_tape_record(lra_ctx *ctx, const char *op, lra_backward_fn backward, lra_tensor *out, int n_in,
                          lra_tensor *const *in) {
    LRA_ASSERT(n_in <= LRA_NODE_MAX_IN);
    lra_profile_op_end(op, lra_arena_used(ctx->arena));  // every op ends here, with or without gradients
    if (!ctx->grad_enabled) return NULL;
    int any = 0;
    for (int i = 0; i < n_in; i++)
        if (in[i] && in[i]->requires_grad) any = 1;
    if (!any) return NULL;
    if (ctx->n_nodes == ctx->cap_nodes) {
        ctx->cap_nodes = ctx->cap_nodes ? ctx->cap_nodes * 2 : 256;
        ctx->nodes = lra_xrealloc(ctx->nodes, (size_t)ctx->cap_nodes * sizeof *ctx->nodes);
    }
    lra_node *nd = lra_arena_calloc(ctx->arena, sizeof *nd);
    nd->op = op;
    nd->backward = backward;
    nd->out = out;
    nd->n_in = n_in;
    for (int i = 0; i < n_in; i++) nd->in[i] = in[i];
    out->requires_grad = 1;
    ctx->nodes[ctx->n_nodes++] = nd;
    return nd;
}

void *lra_node_alloc(lra_ctx *ctx, size_t bytes) { return lra_arena_alloc(ctx->arena, bytes); }

// A dead gradient buffer of exactly `bytes` (the most recently freed one), or NULL.
static float *take_spare(lra_ctx *ctx, size_t bytes) {
    for (int i = ctx->n_spare - 1; i >= 0; i--)
        if (ctx->spare_bytes[i] == bytes) {
            float *g = ctx->spare_grads[i];
            ctx->n_spare--;
            ctx->spare_grads[i] = ctx->spare_grads[ctx->n_spare];
            ctx->spare_bytes[i] = ctx->spare_bytes[ctx->n_spare];
            return g;
        }
    return NULL;
}

static void give_spare(lra_ctx *ctx, float *g, size_t bytes) {
    if (ctx->n_spare == ctx->cap_spare) {
        ctx->cap_spare = ctx->cap_spare ? 2 * ctx->cap_spare : 64;
        ctx->spare_grads = lra_xrealloc(ctx->spare_grads, (size_t)ctx->cap_spare * sizeof *ctx->spare_grads);
        ctx->spare_bytes = lra_xrealloc(ctx->spare_bytes, (size_t)ctx->cap_spare * sizeof *ctx->spare_bytes);
    }
    ctx->spare_grads[ctx->n_spare] = g;
    ctx->spare_bytes[ctx->n_spare] = bytes;
    ctx->n_spare++;
}

// Uninitialised gradient memory for t: a spare buffer of its size, else fresh arena memory.
static float *new_grad(lra_ctx *ctx, const lra_tensor *t) {
    const size_t bytes = (size_t)lra_tensor_numel(t) * sizeof(float);
    float *g = take_spare(ctx, bytes);
    return g ? g : lra_arena_alloc(ctx->arena, bytes);
}

float *lra_grad(lra_ctx *ctx, lra_tensor *t) {
    if (!t->grad) {
        t->grad = new_grad(ctx, t);
        memset(t->grad, 0, (size_t)lra_tensor_numel(t) * sizeof(float));
    }
    return t->grad;
}

float *lra_grad_for_write(lra_ctx *ctx, lra_tensor *t, int *add) {
    *add = t->grad != NULL;
    if (!t->grad) t->grad = new_grad(ctx, t);
    return t->grad;
}

float *lra_grad_take(lra_ctx *ctx, lra_tensor *in, lra_tensor *out, int *add) {
    if (!in->grad && out->grad && lra_tensor_numel(in) == lra_tensor_numel(out)) {
        in->grad = out->grad;
        *add = 0;
        return in->grad;
    }
    return lra_grad_for_write(ctx, in, add);
}

// After nd's backward: its output's gradient is dead unless an input took the buffer (lra_grad_take).
static void recycle_out_grad(lra_ctx *ctx, lra_node *nd) {
    float *g = nd->out->grad;
    for (int j = 0; j < nd->n_in; j++)
        if (nd->in[j] && nd->in[j]->grad == g) return;
    nd->out->grad = NULL;
    give_spare(ctx, g, (size_t)lra_tensor_numel(nd->out) * sizeof(float));
}

static void run_tape(lra_ctx *ctx) {
    for (int64_t i = ctx->n_nodes - 1; i >= 0; i--) {
        lra_node *nd = ctx->nodes[i];
        if (!nd->out->grad) continue;  // nothing downstream used this output
        if (lra_profile_on_) {
            const double t0 = omp_get_wtime();
            const size_t used0 = lra_arena_used(ctx->arena);
            nd->backward(ctx, nd);
            lra_profile_backward_(nd->op, omp_get_wtime() - t0, lra_arena_used(ctx->arena) - used0);
        } else {
            nd->backward(ctx, nd);
        }
        if (!ctx->retain_grads) recycle_out_grad(ctx, nd);
    }
}

void lra_backward(lra_ctx *ctx, lra_tensor *loss) {
    LRA_ASSERT_MSG(lra_tensor_numel(loss) == 1, "backward needs a one-element loss");
    float one = 1.0f;
    lra_backward_from(ctx, loss, &one);
}

void lra_backward_from(lra_ctx *ctx, lra_tensor *t, const float *seed_grad) {
    LRA_ASSERT_MSG(t->requires_grad, "backward from a tensor that does not require grad");
    float *g = lra_grad(ctx, t);
    int64_t n = lra_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) g[i] += seed_grad[i];
    run_tape(ctx);
}

int64_t lra_tape_size(const lra_ctx *ctx) { return ctx->n_nodes; }
