// `vmean`: O_i = (1/n_b) sum_j m_j v_j for every row i, padded rows included (attention.md §2.2).
// Q and K are unused (zero gradient); dV_j = (m_j / n_b) sum_i dO_i.  One composite node, O(np).
#include <omp.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/attn_util.h"
#include "core/ops.h"

typedef struct {
    const float *mask;  // [B, n]
} vmean_saved;

static void vmean_backward(lra_ctx *ctx, lra_node *node) {
    lra_tensor *v = node->in[0];
    if (!v->requires_grad) return;
    const vmean_saved *sv = node->extra;
    const int64_t B = v->shape[0], H = v->shape[1], n = v->shape[2], p = v->shape[3];
    float *dv = lra_grad(ctx, v);
    const float *dO = node->out->grad;
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const float *m = sv->mask + (bh / H) * n;
        const int64_t nb = lra_attn_valid_positions(m, n, NULL);
        double acc[p];
        memset(acc, 0, sizeof acc);
        for (int64_t i = 0; i < n; i++)
            for (int64_t c = 0; c < p; c++) acc[c] += dO[(bh * n + i) * p + c];
        for (int64_t j = 0; j < n; j++) {
            if (nb > 0 && m[j] == 0.0f) continue;
            for (int64_t c = 0; c < p; c++) dv[(bh * n + j) * p + c] += (float)(acc[c] / (double)(nb ? nb : n));
        }
    }
}

// q, k, v: [B, H, n, p], mask [B, n] -> [B, H, n, p]
static lra_tensor *vmean_forward(void *state, lra_params *params, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                 lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const int64_t B = v->shape[0], H = v->shape[1], n = v->shape[2], p = v->shape[3];
    lra_tensor *out = lra_tensor_new(ctx->arena, LRA_F32, v->shape, 4);
    const float *vd = lra_f32(v), *md = lra_f32(mask);
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const float *m = md + (bh / H) * n;
        const int64_t nb = lra_attn_valid_positions(m, n, NULL);
        double acc[p];
        memset(acc, 0, sizeof acc);
        for (int64_t j = 0; j < n; j++) {
            if (nb > 0 && m[j] == 0.0f) continue;
            for (int64_t c = 0; c < p; c++) acc[c] += vd[(bh * n + j) * p + c];
        }
        float mean[p];
        for (int64_t c = 0; c < p; c++) mean[c] = (float)(acc[c] / (double)(nb ? nb : n));
        for (int64_t i = 0; i < n; i++) memcpy(lra_f32(out) + (bh * n + i) * p, mean, (size_t)p * sizeof(float));
    }
    lra_node *nd = lra_tape_record(ctx, "attention.vmean", vmean_backward, out, 1, (lra_tensor *[]){v});
    if (nd) {
        vmean_saved *sv = lra_node_alloc(ctx, sizeof *sv);
        sv->mask = md;
        nd->extra = sv;
    }
    return out;
}

const lra_attn_kernel_def lra_attn_vmean = {
    .name = "vmean",
    .summary = "V-Mean: every row is the mean of the real value rows (rank-one baseline)",
    .forward = vmean_forward,
};
