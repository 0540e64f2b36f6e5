// `bigbird`: BigBird's block-sparse attention ("ITC": internal global tokens) as Hugging Face's
// BigBirdBlockSparseAttention computes it, which the Skeinformer repo runs (src/models/attention_bigbird.py).
// The sequence is cut into blocks of `block_size` (nb = ceil(n / block_size); a short last block is what
// the reference's padding to a block multiple gives).  Query blocks 0 and nb-1 are global: they attend to
// every key.  Query block i in 1..nb-2 attends to key blocks {0, i-1, i, i+1, nb-1} plus r random blocks.
// Logits q.k/sqrt(p); padded keys excluded; output rows of padded queries are zeroed (as the reference's
// final multiply by the mask).  Random blocks are drawn once per (run seed, layer, head): a fixed pattern,
// as the reference's reseeding makes it.  See docs/kernels/bigbird.md.
#include "attention/bigbird.h"

#include <stdlib.h>
#include <string.h>

#include "attention/attn_util.h"
#include "attention/block_sparse.h"

static const lra_attn_option k_options[] = {
    {"block_size", LRA_OPT_INT, 64, 1, 4096, NULL, "tokens per block (query and key blocks)", 0},
    {"num_random_blocks", LRA_OPT_INT, 3, 0, 1 << 20, NULL, "random key blocks per query block", LRA_OPT_COUNT},
    {"reference_pattern", LRA_OPT_BOOL, 0, 0, 1, NULL,
     "HF's restricted random-block candidates (first 1024 tokens / 2r+5 blocks), one pattern for all layers", 0},
};

typedef struct {
    int block_size, r, reference_pattern;
} bigbird_state;

static void *bigbird_create(const lra_attn_setup *setup, lra_params *params) {
    bigbird_state *s = lra_xcalloc(1, sizeof *s);
    s->block_size = (int)lra_attn_value(setup->opts, "block_size");
    s->r = (int)lra_attn_value(setup->opts, "num_random_blocks");
    s->reference_pattern = lra_attn_value(setup->opts, "reference_pattern") != 0;
    return s;
}

static void bigbird_destroy(void *state) { free(state); }

// Candidate random blocks of query block i (1 <= i <= nb-2) into cand; returns their count.
// Intended rule: {1..nb-2} minus the window {i-1, i, i+1}, minus nb-2 for i = 1 and 1 for i = nb-2.
// Reference rule (HF): n in {1024, 3072, 4096} uses bigbird_block_rand_mask with last_idx 1024; other n
// use the "plan", which draws from the first 2r+5 blocks.
static int64_t candidates(int64_t n, int64_t bs, int64_t nb, int64_t r, int64_t i, int reference, int32_t *cand) {
    int64_t c = 0;
    if (!reference) {
        for (int64_t j = 1; j <= nb - 2; j++) {
            if (j >= i - 1 && j <= i + 1) continue;
            if ((i == 1 && j == nb - 2) || (i == nb - 2 && j == 1)) continue;
            cand[c++] = (int32_t)j;
        }
        return c;
    }
    if (n == 1024 || n == 3072 || n == 4096) {
        // middle_seq = 1..nb-2 (index m -> block m+1); last = 1024 / bs - 1 when 1024 > 2 bs
        int64_t last = nb - 1;
        if (1024 > 2 * bs) last = 1024 / bs - 1;
        const int64_t len = nb - 2;
#define MID_RANGE(lo, hi)                                                                     \
    for (int64_t m = (lo) < 0 ? 0 : (lo); m < ((hi) < len ? (hi) : len); m++) cand[c++] = (int32_t)(m + 1)
        if (i == 1) {
            MID_RANGE(2, last);
        } else if (i == 2) {
            MID_RANGE(3, last);
        } else if (i == nb - 3 || i == nb - 2) {
            MID_RANGE(0, last);
        } else {
            int64_t start = i - 2;
            const int64_t end = i;
            if (start > last) {
                start = last;
                MID_RANGE(0, start);
            } else if (end + 1 == last) {
                MID_RANGE(0, start);
            } else {
                MID_RANGE(0, start);
                MID_RANGE(end + 1, last);
            }
        }
#undef MID_RANGE
        return c;
    }
    const int64_t top = 2 * r + 5 < nb ? 2 * r + 5 : nb;  // the plan's first part, in blocks
    for (int64_t j = 1; j <= top - 2; j++)
        if (j < i - 1 || j > i + 1) cand[c++] = (int32_t)j;
    return c;
}

// R [H, nb-2, r] for this call (-1 = fewer candidates than r).
static int32_t *draw_blocks(const bigbird_state *st, const lra_attn_call *call, lra_ctx *ctx, int64_t H, int64_t n) {
    const int64_t bs = st->block_size, nb = (n + bs - 1) / bs, r = st->r;
    const int64_t rows = nb > 2 ? nb - 2 : 0;
    int32_t *R = lra_arena_alloc(ctx->arena, (size_t)(H * rows * r > 0 ? H * rows * r : 1) * sizeof(int32_t));
    int32_t *cand = lra_xmalloc((size_t)(nb + 1) * sizeof(int32_t)), *pick = lra_xmalloc((size_t)(nb + 1) * sizeof(int32_t));
    for (int64_t h = 0; h < H; h++) {
        // fixed per (seed, layer, head); the reference pattern is one for all layers
        lra_rng rng = lra_key_rng(lra_key_make(&(lra_key_fields){.purpose = LRA_KEY_BIGBIRD_BLOCKS, .seed = call->seed,
                                                                 .layer = st->reference_pattern ? 0 : call->layer,
                                                                 .head = (uint64_t)h}));
        for (int64_t i = 1; i <= rows; i++) {
            const int64_t c = candidates(n, bs, nb, r, i, st->reference_pattern, cand);
            const int64_t take = c < r ? c : r;
            lra_rng_choose(&rng, c, take, pick);
            int32_t *dst = R + (h * rows + (i - 1)) * r;
            for (int64_t t = 0; t < r; t++) dst[t] = t < take ? cand[pick[t]] : -1;
        }
    }
    free(cand), free(pick);
    return R;
}

lra_tensor *lra_bigbird_forward_blocks(lra_ctx *ctx, lra_tensor *q, lra_tensor *k, lra_tensor *v, lra_tensor *mask,
                                       int block_size, int r, const int32_t *R, int dedupe) {
    const int64_t H = q->shape[1], n = q->shape[2], bs = block_size, nb = (n + bs - 1) / bs;
    const int64_t rows = nb > 2 ? nb - 2 : 0;
    lra_bsp_pattern *pats = lra_arena_alloc(ctx->arena, (size_t)H * sizeof *pats);
    lra_bsp_builder bld;
    lra_bsp_builder_init(&bld);
    char *seen = lra_xcalloc((size_t)nb, 1);
    int32_t *blocks = lra_xmalloc((size_t)(5 + r) * sizeof(int32_t));
    for (int64_t h = 0; h < H; h++) {
        for (int64_t i = 0; i < nb; i++) {
            const int64_t q0 = i * bs, q1 = q0 + bs < n ? q0 + bs : n;
            lra_bsp_add_q(&bld, q0, q1);
            if (i == 0 || i == nb - 1) {
                lra_bsp_add_k(&bld, 0, n);  // global rows: every key
            } else {
                // window, then the global blocks, then the random ones (the reference's key order)
                int nbk = 0;
                blocks[nbk++] = (int32_t)(i - 1), blocks[nbk++] = (int32_t)i, blocks[nbk++] = (int32_t)(i + 1);
                blocks[nbk++] = 0, blocks[nbk++] = (int32_t)(nb - 1);
                for (int t = 0; t < r; t++) {
                    const int32_t j = R[(h * rows + (i - 1)) * r + t];
                    if (j >= 0) blocks[nbk++] = j;
                }
                memset(seen, 0, (size_t)nb);
                for (int t = 0; t < nbk; t++) {
                    const int32_t j = blocks[t];
                    // window and global blocks coincide near the edges: those always count once
                    if (seen[j] && (dedupe || t < 5)) continue;
                    seen[j] = 1;
                    lra_bsp_add_k(&bld, (int64_t)j * bs, (int64_t)j * bs + bs < n ? (int64_t)j * bs + bs : n);
                }
            }
            lra_bsp_end_group(&bld);
        }
        pats[h] = lra_bsp_finish(&bld, ctx->arena);
    }
    free(seen), free(blocks);
    lra_bsp_builder_free(&bld);
    const lra_bsp_spec spec = {.patterns = pats, .zero_padded_queries = 1};
    return lra_bsp_attention(ctx, "attention.bigbird", q, k, v, mask, &spec);
}

static lra_tensor *bigbird_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                   lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const bigbird_state *st = state;
    const int32_t *R = draw_blocks(st, call, ctx, q->shape[1], q->shape[2]);
    // the reference gathers a random block that repeats a window block twice; the intended rule never draws one
    return lra_bigbird_forward_blocks(ctx, q, k, v, mask, st->block_size, st->r, R, !st->reference_pattern);
}

const lra_attn_kernel_def lra_attn_bigbird = {
    .name = "bigbird",
    .summary = "BigBird block-sparse: global first/last blocks, 3-block window, random blocks (HF ITC)",
    .options = k_options,
    .n_options = sizeof k_options / sizeof k_options[0],
    .create = bigbird_create,
    .forward = bigbird_forward,
    .destroy = bigbird_destroy,
    .conformance = {.small_opts = "block_size=2,num_random_blocks=1", .exact_opts = "block_size=N"},
};
