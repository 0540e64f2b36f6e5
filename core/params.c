// Flat parameter store (see params.h).
#include "core/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

void lra_params_init(lra_params *p) { memset(p, 0, sizeof *p); }

void lra_params_free(lra_params *p) {
    free(p->entries);
    free(p->data);
    free(p->grad);
    free(p->m);
    free(p->v);
    free(p->tensors);
    memset(p, 0, sizeof *p);
}

int lra_params_add(lra_params *p, const char *name, const int64_t *shape, int ndim, lra_init_kind init,
                   float init_a) {
    LRA_ASSERT_MSG(!p->finalized, "parameter '%s' added after finalize", name);
    LRA_ASSERT_MSG(strlen(name) < LRA_PARAM_NAME_MAX, "parameter name too long: %s", name);
    LRA_ASSERT_MSG(lra_params_find(p, name) < 0, "duplicate parameter name %s", name);
    LRA_ASSERT(ndim >= 1 && ndim <= LRA_MAX_DIMS);
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->entries = lra_xrealloc(p->entries, (size_t)p->cap * sizeof *p->entries);
    }
    lra_param_entry *e = &p->entries[p->count];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->numel = lra_shape_numel(shape, ndim);
    e->offset = p->total;
    e->init = init;
    e->init_a = init_a;
    e->trainable = 1;
    p->total += ((size_t)e->numel + 15) / 16 * 16;
    return p->count++;
}

void lra_params_set_trainable(lra_params *p, int index, int trainable) {
    LRA_ASSERT(index >= 0 && index < p->count);
    p->entries[index].trainable = trainable;
    if (p->finalized) p->tensors[index].requires_grad = trainable;
}

void lra_params_set_batch_stat(lra_params *p, int index) {
    LRA_ASSERT(index >= 0 && index < p->count);
    lra_params_set_trainable(p, index, 0);
    p->entries[index].batch_stat = 1;
}

static float *alloc_flat(size_t n) {
    size_t bytes = (n ? n : 16) * sizeof(float);
    float *b = aligned_alloc(64, (bytes + 63) / 64 * 64);
    LRA_ASSERT_MSG(b != NULL, "out of memory for %zu parameters", n);
    memset(b, 0, bytes);
    return b;
}

void lra_params_finalize(lra_params *p) {
    LRA_ASSERT(!p->finalized);
    p->data = alloc_flat(p->total);
    p->grad = alloc_flat(p->total);
    p->m = alloc_flat(p->total);
    p->v = alloc_flat(p->total);
    p->tensors = lra_xcalloc((size_t)(p->count ? p->count : 1), sizeof *p->tensors);
    for (int i = 0; i < p->count; i++) {
        lra_param_entry *e = &p->entries[i];
        p->tensors[i] = lra_tensor_make(LRA_F32, p->data + e->offset, e->shape, e->ndim);
        p->tensors[i].grad = p->grad + e->offset;
        p->tensors[i].requires_grad = e->trainable;
        p->tensors[i].name = e->name;
    }
    p->finalized = 1;
}

void lra_params_initialize(lra_params *p, uint64_t seed) {
    LRA_ASSERT(p->finalized);
    for (int i = 0; i < p->count; i++) {
        lra_param_entry *e = &p->entries[i];
        float *d = p->data + e->offset;
        size_t n = (size_t)e->numel;
        uint64_t stream = lra_rng_stream(0x9a7a, (uint64_t)i, 0, 0);
        switch (e->init) {
        case LRA_INIT_ZEROS: memset(d, 0, n * sizeof(float)); break;
        case LRA_INIT_ONES:
            for (size_t j = 0; j < n; j++) d[j] = 1.0f;
            break;
        case LRA_INIT_NORMAL: lra_rng_fill_normal(seed, stream, 0, d, n, 0.0f, e->init_a); break;
        case LRA_INIT_UNIFORM:
            lra_rng_fill_uniform(seed, stream, 0, d, n);
            for (size_t j = 0; j < n; j++) d[j] = (2.0f * d[j] - 1.0f) * e->init_a;
            break;
        }
    }
}

lra_tensor *lra_params_tensor(lra_params *p, int index) {
    LRA_ASSERT(p->finalized && index >= 0 && index < p->count);
    return &p->tensors[index];
}

int lra_params_find(const lra_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->entries[i].name, name)) return i;
    return -1;
}

int64_t lra_params_count_values(const lra_params *p, int trainable_only) {
    int64_t n = 0;
    for (int i = 0; i < p->count; i++)
        if (!trainable_only || p->entries[i].trainable) n += p->entries[i].numel;
    return n;
}

void lra_params_zero_grad(lra_params *p) { memset(p->grad, 0, p->total * sizeof(float)); }

float *lra_params_swap_grad(lra_params *p, float *buf) {
    float *old = p->grad;
    p->grad = buf;
    for (int i = 0; i < p->count; i++) p->tensors[i].grad = buf + p->entries[i].offset;
    return old;
}

double lra_params_grad_norm(const lra_params *p) {
    double s = 0.0;
    for (int i = 0; i < p->count; i++) {
        const lra_param_entry *e = &p->entries[i];
        if (!e->trainable) continue;
        const float *g = p->grad + e->offset;
        for (int64_t j = 0; j < e->numel; j++) s += (double)g[j] * (double)g[j];
    }
    return sqrt(s);
}

void lra_params_scale_grad(lra_params *p, float s) {
    for (int i = 0; i < p->count; i++) {
        const lra_param_entry *e = &p->entries[i];
        if (!e->trainable) continue;
        float *g = p->grad + e->offset;
        for (int64_t j = 0; j < e->numel; j++) g[j] *= s;
    }
}
