// Tensor headers, strides and strided copies (see tensor.h).
#include "core/tensor.h"

#include <string.h>

#include "core/status.h"

int64_t lra_shape_numel(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int64_t lra_tensor_numel(const lra_tensor *t) { return lra_shape_numel(t->shape, t->ndim); }

int lra_tensor_is_contiguous(const lra_tensor *t) {
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return 0;
        expect *= t->shape[i];
    }
    return 1;
}

int lra_tensor_same_shape(const lra_tensor *a, const lra_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

int lra_tensor_axis(const lra_tensor *t, int axis) {
    int ax = axis < 0 ? axis + t->ndim : axis;
    LRA_ASSERT_MSG(ax >= 0 && ax < t->ndim, "axis %d out of range for a %d-d tensor", axis, t->ndim);
    return ax;
}

void lra_tensor_set_contiguous(lra_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

lra_tensor lra_tensor_make(lra_dtype dtype, void *data, const int64_t *shape, int ndim) {
    LRA_ASSERT_MSG(ndim >= 0 && ndim <= LRA_MAX_DIMS, "tensor rank %d not in 0..%d", ndim, LRA_MAX_DIMS);
    lra_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        LRA_ASSERT_MSG(shape[i] >= 0, "negative dimension %lld", (long long)shape[i]);
        t.shape[i] = shape[i];
    }
    lra_tensor_set_contiguous(&t);
    t.data = data;
    return t;
}

lra_tensor *lra_tensor_wrap(lra_arena *a, lra_dtype dtype, void *data, const int64_t *shape, int ndim) {
    lra_tensor *t = lra_arena_alloc(a, sizeof *t);
    *t = lra_tensor_make(dtype, data, shape, ndim);
    return t;
}

lra_tensor *lra_tensor_new(lra_arena *a, lra_dtype dtype, const int64_t *shape, int ndim) {
    int64_t n = lra_shape_numel(shape, ndim);
    void *data = lra_arena_alloc(a, (size_t)n * 4);
    return lra_tensor_wrap(a, dtype, data, shape, ndim);
}

lra_tensor *lra_tensor_zeros(lra_arena *a, lra_dtype dtype, const int64_t *shape, int ndim) {
    int64_t n = lra_shape_numel(shape, ndim);
    void *data = lra_arena_calloc(a, (size_t)n * 4);
    return lra_tensor_wrap(a, dtype, data, shape, ndim);
}

lra_tensor *lra_tensor_view_of(lra_arena *a, const lra_tensor *t) {
    lra_tensor *v = lra_arena_alloc(a, sizeof *v);
    *v = *t;
    v->grad = NULL;
    v->requires_grad = 0;
    v->name = NULL;
    return v;
}

int64_t lra_tensor_offset(const lra_tensor *t, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) off += idx[i] * t->stride[i];
    return off;
}

// Walks the logical index space in row-major order, calling back with the element offset.
#define FOR_EACH_OFFSET(t, off, body)                                                          \
    do {                                                                                       \
        int64_t sh_[4] = {1, 1, 1, 1}, st_[4] = {0, 0, 0, 0};                                  \
        int pad_ = 4 - (t)->ndim;                                                              \
        for (int d_ = 0; d_ < (t)->ndim; d_++) {                                               \
            sh_[pad_ + d_] = (t)->shape[d_];                                                   \
            st_[pad_ + d_] = (t)->stride[d_];                                                  \
        }                                                                                      \
        int64_t lin_ = 0;                                                                      \
        for (int64_t i0 = 0; i0 < sh_[0]; i0++)                                                \
            for (int64_t i1 = 0; i1 < sh_[1]; i1++)                                            \
                for (int64_t i2 = 0; i2 < sh_[2]; i2++)                                        \
                    for (int64_t i3 = 0; i3 < sh_[3]; i3++, lin_++) {                          \
                        int64_t off = i0 * st_[0] + i1 * st_[1] + i2 * st_[2] + i3 * st_[3];   \
                        body;                                                                  \
                    }                                                                          \
    } while (0)

float lra_tensor_get_flat(const lra_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t k = i % t->shape[d];
        i /= t->shape[d];
        off += k * t->stride[d];
    }
    if (t->dtype == LRA_I32) return (float)((const int32_t *)t->data)[off];
    return ((const float *)t->data)[off];
}

void lra_tensor_gather_contiguous(const lra_tensor *t, void *dst) {
    const uint32_t *src = t->data;  // f32 and i32 are both 4 bytes
    uint32_t *out = dst;
    if (lra_tensor_is_contiguous(t)) {
        memcpy(dst, src, (size_t)lra_tensor_numel(t) * 4);
        return;
    }
    FOR_EACH_OFFSET(t, off, out[lin_] = src[off]);
}

const char *lra_shape_str(const int64_t *shape, int ndim, char *buf, size_t len) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "[");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}
