// Shared engine of the "compute only the allowed (query, key) pairs" kernels (bigbird, longformer, local,
// sparse): exact softmax attention restricted to a sparsity pattern, never forming the n x n matrix.
//
// A pattern (one per head, or one shared by all heads) is a list of groups.  A group is a set of query
// positions and the key positions its rows may attend to; every query position is in exactly one group.
// A group is computed as one small dense problem: its query, key and value rows are gathered, then
// S = Q_g K_g^T / sqrt(p) [rows, keys] (one GEMM), excluded pairs and padded keys at -inf, row softmax,
// O_g = P V_g (one GEMM), scattered back.  An optional per-pair rule (e.g. a token-level window or
// causality) excludes pairs inside a group.  A key listed twice in a group counts twice (as a gathered
// reference implementation does); patterns that should not double count list each key once.
// Memory per thread is one group's rows x keys; the backward recomputes the probabilities from the saved
// log-sum-exp.  The forward and backward run one (example, head) per task, groups in order, so results
// are the same bits for any thread count.
#ifndef LRA_ATTENTION_BLOCK_SPARSE_H
#define LRA_ATTENTION_BLOCK_SPARSE_H

#include <stdint.h>

#include "attention/attention.h"

typedef struct {
    int64_t n_groups;
    const int64_t *q_off, *k_off;  // [n_groups + 1]: group g's queries are qidx[q_off[g] .. q_off[g+1])
    const int32_t *qidx, *kidx;
    int64_t max_q, max_k;          // largest group
} lra_bsp_pattern;

// Per-pair rule: nonzero when query i may attend key j (both positions in [0, n)).
typedef int (*lra_bsp_allow_fn)(const void *arg, int32_t i, int32_t j);

// Growing builder (malloc'd); lra_bsp_finish copies the pattern into an arena and resets the builder.
typedef struct {
    int64_t n_groups, cap_groups, nq, cap_q, nk, cap_k;
    int64_t *q_off, *k_off;
    int32_t *qidx, *kidx;
} lra_bsp_builder;

void lra_bsp_builder_init(lra_bsp_builder *b);
void lra_bsp_builder_free(lra_bsp_builder *b);
void lra_bsp_add_q(lra_bsp_builder *b, int64_t lo, int64_t hi);  // queries [lo, hi) of the open group
void lra_bsp_add_k(lra_bsp_builder *b, int64_t lo, int64_t hi);  // keys [lo, hi) of the open group
void lra_bsp_end_group(lra_bsp_builder *b);                        // closes the open group
lra_bsp_pattern lra_bsp_finish(lra_bsp_builder *b, lra_arena *arena);

typedef struct {
    const lra_bsp_pattern *patterns;  // [H], or [1] when shared_pattern
    int shared_pattern;
    lra_bsp_allow_fn allow;           // NULL: every pair of a group
    const void *allow_arg;            // must live as long as the tape (arena)
    int zero_padded_queries;          // output rows of padded queries are 0 (BigBird, Longformer)
} lra_bsp_spec;

// q, k, v: contiguous [B, H, n, p]; mask: contiguous [B, n] (1 = real token) -> [B, H, n, p].  Records one
// tape node.  `spec` is copied; the patterns it points at must live in ctx's arena (or longer).
lra_tensor *lra_bsp_attention(lra_ctx *ctx, const char *op, lra_tensor *q, lra_tensor *k, lra_tensor *v,
                              lra_tensor *mask, const lra_bsp_spec *spec);

#endif
