// Tensors: float32 (or int32 for indices), up to 4 dimensions, shape + strides (in elements).
// A tensor header is small and usually lives in the step arena; `data` points at element [0,...,0] of the
// view, so views (transpose, permute, slice, reshape of contiguous data) share memory with their base.
// `grad` is always a CONTIGUOUS float buffer of the tensor's logical shape (allocated on first need by
// lra_grad(); parameters point it into the flat gradient buffer).
#ifndef LRA_CORE_TENSOR_H
#define LRA_CORE_TENSOR_H

#include <stdint.h>
#include <stdio.h>

#include "core/arena.h"

#define LRA_MAX_DIMS 4

typedef enum { LRA_F32 = 0, LRA_I32 = 1 } lra_dtype;

typedef struct lra_tensor {
    lra_dtype dtype;
    int ndim;
    int64_t shape[LRA_MAX_DIMS];
    int64_t stride[LRA_MAX_DIMS];  // elements; shape[i] == 1 dims may have any stride
    void *data;                    // element [0,...,0]
    float *grad;                   // contiguous [numel] gradient, NULL until needed
    int requires_grad;             // set on parameters/inputs, and on op outputs that depend on them
    const char *name;              // optional label (parameters, debugging)
} lra_tensor;

// Shape literal for the constructors: lra_tensor_new(a, LRA_F32, LRA_DIMS(B, n, d)).
#define LRA_DIMS(...) (const int64_t[]){__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static inline float *lra_f32(const lra_tensor *t) { return (float *)t->data; }
static inline int32_t *lra_i32(const lra_tensor *t) { return (int32_t *)t->data; }

int64_t lra_shape_numel(const int64_t *shape, int ndim);
int64_t lra_tensor_numel(const lra_tensor *t);
int lra_tensor_is_contiguous(const lra_tensor *t);
int lra_tensor_same_shape(const lra_tensor *a, const lra_tensor *b);
// Normalises a possibly negative axis (-1 = last) and asserts it is in range.
int lra_tensor_axis(const lra_tensor *t, int axis);

// Fills `t`'s strides for a contiguous row-major layout.
void lra_tensor_set_contiguous(lra_tensor *t);
// A tensor header by value over existing memory (contiguous); for persistent tensors (parameters, inputs).
lra_tensor lra_tensor_make(lra_dtype dtype, void *data, const int64_t *shape, int ndim);

// New contiguous tensors in an arena (uninitialised / zeroed) and arena headers over existing memory.
lra_tensor *lra_tensor_new(lra_arena *a, lra_dtype dtype, const int64_t *shape, int ndim);
lra_tensor *lra_tensor_zeros(lra_arena *a, lra_dtype dtype, const int64_t *shape, int ndim);
lra_tensor *lra_tensor_wrap(lra_arena *a, lra_dtype dtype, void *data, const int64_t *shape, int ndim);
// A header-only copy (same data, same strides, no grad) in the arena: the starting point of a view.
lra_tensor *lra_tensor_view_of(lra_arena *a, const lra_tensor *t);

// Element offset (in elements from data) of a multi-index idx[ndim].
int64_t lra_tensor_offset(const lra_tensor *t, const int64_t *idx);
// Element at a flat row-major logical index (handles strides).  For tests and slow paths.
float lra_tensor_get_flat(const lra_tensor *t, int64_t i);
// Copies the logical contents (row-major order) into dst[numel], whatever the strides.
void lra_tensor_gather_contiguous(const lra_tensor *t, void *dst);

// "[2, 3, 4]" into buf.
const char *lra_shape_str(const int64_t *shape, int ndim, char *buf, size_t len);

#endif
