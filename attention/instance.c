// Kernel instances (see attention.h): the one place that builds a kernel, checks and enforces the
// guarantees on its inputs, and runs it.  Used by the attention layer, the tests and the benches.
#include <string.h>

#include "attention/attention.h"
#include "core/ops.h"

lra_status lra_attn_instance_make(lra_attn_instance *in, const lra_attn_kernel_def *def,
                                  const lra_attn_setup *setup, lra_params *params, uint64_t seed) {
    memset(in, 0, sizeof *in);
    LRA_ASSERT_MSG(!def->forward != !def->mix && !(def->mix && def->pre_transform),
                   "attention '%s': exactly one of forward and mix (a mixer has no pre_transform)", def->name);
    in->def = def;
    in->opts = *setup->opts;
    lra_attn_setup s = *setup;
    s.opts = &in->opts;
    if (def->validate) LRA_TRY(def->validate(&s));
    in->owns_params = params == NULL;
    if (in->owns_params) lra_params_init(&in->own);
    in->params = in->owns_params ? &in->own : params;
    in->state = def->create ? def->create(&s, in->params) : NULL;
    if (in->owns_params) {
        lra_params_finalize(&in->own);
        lra_params_initialize(&in->own, seed);
        lra_attn_instance_init(in, seed);
    }
    return LRA_OK;
}

void lra_attn_instance_init(lra_attn_instance *in, uint64_t seed) {
    if (in->def->init_params) in->def->init_params(in->state, in->params, seed);
}

void lra_attn_instance_free(lra_attn_instance *in) {
    if (!in->def) return;
    if (in->def->destroy) in->def->destroy(in->state);
    if (in->owns_params) lra_params_free(&in->own);
    memset(in, 0, sizeof *in);
}

// The mask contract: f32 [B, n] matching the batch and length of the data.
static lra_tensor *checked_mask(lra_ctx *ctx, lra_tensor *mask, int64_t B, int64_t n, const char *kernel) {
    LRA_ASSERT_MSG(mask->dtype == LRA_F32 && mask->ndim == 2 && mask->shape[0] == B && mask->shape[1] == n,
                   "attention '%s': mask must be f32 [%lld, %lld]", kernel, (long long)B, (long long)n);
    return lra_op_contiguous(ctx, mask);
}

lra_tensor *lra_attn_instance_pre(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                                  const lra_attn_call *call) {
    if (!in->def->pre_transform) return x;
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim == 3, "attention '%s': x must be f32 [B, n, D]", in->def->name);
    x = lra_op_contiguous(ctx, x);
    mask = checked_mask(ctx, mask, x->shape[0], x->shape[1], in->def->name);
    return in->def->pre_transform(in->state, in->params, ctx, x, mask, call);
}

lra_tensor *lra_attn_instance_forward(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                      lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    const char *name = in->def->name;
    LRA_ASSERT_MSG(in->def->forward, "attention '%s' is a token mixer: use lra_attn_instance_mix", name);
    LRA_ASSERT_MSG(q->dtype == LRA_F32 && q->ndim == 4 && lra_tensor_same_shape(q, k) && lra_tensor_same_shape(q, v),
                   "attention '%s': q, k, v must be f32 [B, H, n, p] of one shape", name);
    q = lra_op_contiguous(ctx, q);
    k = lra_op_contiguous(ctx, k);
    v = lra_op_contiguous(ctx, v);
    mask = checked_mask(ctx, mask, q->shape[0], q->shape[2], name);
    return in->def->forward(in->state, in->params, ctx, q, k, v, mask, call);
}

lra_tensor *lra_attn_instance_mix(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *x, lra_tensor *mask,
                                  const lra_attn_call *call) {
    const char *name = in->def->name;
    LRA_ASSERT_MSG(in->def->mix, "attention '%s' is not a token mixer", name);
    LRA_ASSERT_MSG(x->dtype == LRA_F32 && x->ndim == 3, "attention '%s': x must be f32 [B, n, D]", name);
    x = lra_op_contiguous(ctx, x);
    mask = checked_mask(ctx, mask, x->shape[0], x->shape[1], name);
    lra_tensor *own = NULL;
    lra_attn_call c = *call;
    if (!c.carry) c.carry = &own;
    lra_tensor *in_carry = *c.carry;
    LRA_ASSERT_MSG(!in_carry || (in_carry->dtype == LRA_F32 && in_carry->ndim == 3 &&
                                 in_carry->shape[0] == x->shape[0] && in_carry->shape[2] == x->shape[2]),
                   "attention '%s': the carried sequence must be f32 [B, m, D]", name);
    if (in_carry) *c.carry = lra_op_contiguous(ctx, in_carry);
    lra_tensor *out = in->def->mix(in->state, in->params, ctx, x, mask, &c);
    LRA_ASSERT_MSG(out->ndim == 3 && lra_tensor_same_shape(out, x), "attention '%s': mix must return [B, n, D]", name);
    LRA_ASSERT_MSG(!*c.carry || ((*c.carry)->ndim == 3 && (*c.carry)->shape[0] == x->shape[0]),
                   "attention '%s': the carry left must be [B, m, D]", name);
    return out;
}

lra_tensor *lra_attn_instance_run_heads(const lra_attn_instance *in, lra_ctx *ctx, lra_tensor *q, lra_tensor *k,
                                        lra_tensor *v, lra_tensor *mask, const lra_attn_call *call) {
    if (!in->def->mix) return lra_attn_instance_forward(in, ctx, q, k, v, mask, call);
    LRA_ASSERT_MSG(q->ndim == 4 && lra_tensor_same_shape(q, k) && lra_tensor_same_shape(q, v),
                   "attention '%s': q, k, v must be [B, H, n, p] of one shape", in->def->name);
    const int64_t B = q->shape[0], H = q->shape[1], n = q->shape[2], p = q->shape[3];
    lra_tensor *s = lra_op_add(ctx, lra_op_add(ctx, q, k), v);
    lra_tensor *x = lra_op_reshape(ctx, lra_op_contiguous(ctx, lra_op_transpose(ctx, s, 1, 2)), LRA_DIMS(B, n, H * p));
    lra_tensor *o = lra_attn_instance_mix(in, ctx, x, mask, call);
    o = lra_op_reshape(ctx, o, LRA_DIMS(B, n, H, p));
    return lra_op_contiguous(ctx, lra_op_transpose(ctx, o, 1, 2));
}
