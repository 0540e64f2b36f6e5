// `local`: block-local attention, LRA's "Local Attention" baseline (google-research/long-range-arena,
// lra_benchmarks/models/local/local_attention.py; block_size 50 by default in local.py, 64 in the image
// configs).  The sequence is cut into blocks of block_size tokens (a short last block where n is not a
// multiple, as the reference's padding gives); each token attends to the real tokens of its block.
// Quirk (option strided_reshape): the reference reshapes [n_pad] to [block_size, n_pad/block_size] and
// attends along the first axis, so a "block" is the tokens with equal position mod n_pad/block_size
// (n_pad = n rounded up past the next block multiple).  See docs/kernels/local.md.
#include <stdlib.h>

#include "attention/attn_util.h"
#include "attention/block_sparse.h"

static const lra_attn_option k_options[] = {
    {"block_size", LRA_OPT_INT, 50, 1, 1 << 20, NULL, "tokens per block", LRA_OPT_COUNT},
    {"strided_reshape", LRA_OPT_BOOL, 0, 0, 1, NULL,
     "the reference's reshape: blocks are tokens equal mod n_pad/block_size", 0},
};

typedef struct {
    int block_size, strided;
} local_state;

static void *local_create(const lra_attn_setup *setup, lra_params *params) {
    local_state *s = lra_xcalloc(1, sizeof *s);
    s->block_size = (int)lra_attn_value(setup->opts, "block_size");
    s->strided = lra_attn_value(setup->opts, "strided_reshape") != 0;
    return s;
}

static void local_destroy(void *state) { free(state); }

static lra_tensor *local_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                 lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const local_state *st = state;
    const int64_t n = q->shape[2], bs = st->block_size;
    lra_bsp_builder b;
    lra_bsp_builder_init(&b);
    if (!st->strided) {
        for (int64_t q0 = 0; q0 < n; q0 += bs) {
            const int64_t q1 = q0 + bs < n ? q0 + bs : n;
            lra_bsp_add_q(&b, q0, q1);
            lra_bsp_add_k(&b, q0, q1);
            lra_bsp_end_group(&b);
        }
    } else {
        const int64_t stride = (n + bs - n % bs) / bs;  // n_pad / block_size; n_pad = n + bs - n % bs
        for (int64_t c = 0; c < stride && c < n; c++) {
            for (int64_t t = c; t < n; t += stride) lra_bsp_add_q(&b, t, t + 1);
            for (int64_t t = c; t < n; t += stride) lra_bsp_add_k(&b, t, t + 1);
            lra_bsp_end_group(&b);
        }
    }
    lra_bsp_pattern *pt = lra_arena_alloc(ctx->arena, sizeof *pt);
    *pt = lra_bsp_finish(&b, ctx->arena);
    lra_bsp_builder_free(&b);
    const lra_bsp_spec spec = {.patterns = pt, .shared_pattern = 1};
    return lra_bsp_attention(ctx, "attention.local", q, k, v, mask, &spec);
}

const lra_attn_kernel_def lra_attn_local = {
    .name = "local",
    .summary = "block-local attention: each token attends within its block of block_size (LRA Local)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = local_create,
    .forward = local_forward,
    .destroy = local_destroy,
    .conformance = {.small_opts = "block_size=4", .exact_opts = "block_size=N"},
};
