// `sparse`: the Sparse Transformer's factorised patterns as LRA's baseline runs them
// (google-research/long-range-arena, lra_benchmarks/models/sparse_transformer/sparse_attention.py):
// the patterns of one layer are merged (logical or) into one mask and one softmax; all are causal there.
//   fixed:   Fixed1 (same block of block_size: floor(i/l) == floor(j/l)) or Fixed2 (key j is a block's
//            "summary": j mod l == 0 or j mod l >= l - c); the LRA default l = 128, c = 32.
//   strided: Local (i - l < j <= i) or Strided ((i - j) mod l == 0), l = block_size.
// causal=false mirrors every pattern (|i - j| for the band, both directions for the stride and the
// summaries).  Padded keys are excluded.  Cost: fixed O(n (l + c n / l)), strided O(n (l + n / l)).
#include <stdlib.h>

#include "attention/attn_util.h"
#include "attention/block_sparse.h"

static const lra_attn_option k_options[] = {
    {"pattern", LRA_OPT_ENUM, 0, 0, 0, "fixed|strided", "Sparse Transformer pattern", 0},
    {"block_size", LRA_OPT_INT, 128, 1, 1 << 20, NULL, "fixed: block length l; strided: band and stride l",
     LRA_OPT_COUNT},
    {"c", LRA_OPT_INT, 32, 0, 1 << 20, NULL, "fixed: summary positions at the end of each block", 0},
    {"causal", LRA_OPT_BOOL, 1, 0, 1, NULL, "keys j <= i only (LRA's patterns are all causal)", 0},
};

typedef struct {
    int strided, l, c, causal;
} sparse_state;

static int causal_allow(const void *arg, int32_t i, int32_t j) { return j <= i; }

static void *sparse_create(const lra_attn_setup *setup, lra_params *params) {
    sparse_state *s = lra_xcalloc(1, sizeof *s);
    s->strided = lra_attn_value(setup->opts, "pattern") == 1;
    s->l = (int)lra_attn_value(setup->opts, "block_size");
    s->c = (int)lra_attn_value(setup->opts, "c");
    s->causal = lra_attn_value(setup->opts, "causal") != 0;
    return s;
}

static void sparse_destroy(void *state) { free(state); }

static lra_tensor *sparse_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                  lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const sparse_state *st = state;
    const int64_t n = q->shape[2], l = st->l;
    lra_bsp_builder b;
    lra_bsp_builder_init(&b);
    int use_rule = 0;
    if (!st->strided) {
        // one group per block: its own block plus the summaries of the other (earlier, when causal) blocks
        const int64_t lo_sum = l - st->c > 1 ? l - st->c : 1;  // summary offsets: 0 and [l - c, l)
        for (int64_t q0 = 0; q0 < n; q0 += l) {
            const int64_t q1 = q0 + l < n ? q0 + l : n;
            lra_bsp_add_q(&b, q0, q1);
            for (int64_t a0 = 0; a0 < n; a0 += l) {
                const int64_t a1 = a0 + l < n ? a0 + l : n;
                if (a0 == q0) {
                    lra_bsp_add_k(&b, a0, a1);
                } else if (a0 < q0 || !st->causal) {
                    lra_bsp_add_k(&b, a0, a0 + 1);
                    lra_bsp_add_k(&b, a0 + lo_sum, a1);
                }
            }
            lra_bsp_end_group(&b);
        }
        use_rule = st->causal;  // inside the own block
    } else {
        // one group per row: the band, then the same-residue keys outside it
        for (int64_t i = 0; i < n; i++) {
            lra_bsp_add_q(&b, i, i + 1);
            const int64_t lo = i - l + 1 > 0 ? i - l + 1 : 0;
            const int64_t hi = st->causal ? i + 1 : (i + l < n ? i + l : n);
            for (int64_t j = i - l * ((i - lo) / l + 1); j >= 0; j -= l) lra_bsp_add_k(&b, j, j + 1);
            lra_bsp_add_k(&b, lo, hi);
            if (!st->causal)
                for (int64_t j = i + l * ((hi - 1 - i) / l + 1); j < n; j += l) lra_bsp_add_k(&b, j, j + 1);
            lra_bsp_end_group(&b);
        }
    }
    lra_bsp_pattern *pt = lra_arena_alloc(ctx->arena, sizeof *pt);
    *pt = lra_bsp_finish(&b, ctx->arena);
    lra_bsp_builder_free(&b);
    const lra_bsp_spec spec = {.patterns = pt, .shared_pattern = 1, .allow = use_rule ? causal_allow : NULL};
    return lra_bsp_attention(ctx, "attention.sparse", q, k, v, mask, &spec);
}

const lra_attn_kernel_def lra_attn_sparse = {
    .name = "sparse",
    .summary = "Sparse Transformer fixed/strided factorised patterns, causal as in LRA (one softmax)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = sparse_create,
    .forward = sparse_forward,
    .destroy = sparse_destroy,
    .conformance = {.small_opts = "block_size=4,c=1", .exact_opts = "causal=false,block_size=N"},
};
