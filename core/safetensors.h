// The safetensors format (https://huggingface.co/docs/safetensors), for exchanging weights with
// PyTorch: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// (padded with spaces to a multiple of 8), then the tensor bytes; offsets are relative to the end
// of the header.  The writer puts tensors in the order given, back to back.  The reader checks the
// JSON, the dtypes, that each tensor's byte range matches its shape and that the ranges tile the
// data area exactly (as the reference implementation requires), and names the file and the tensor
// in each message.
#ifndef LRA_CORE_SAFETENSORS_H
#define LRA_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/container.h"
#include "core/status.h"

#define LRA_SAFETENSORS_MAX_DIMS 8

// A tensor to write.  dtype: F32, F64, I32, I64 or U8 (container dtypes; U64 is written as "U64").
typedef struct {
    const char *name;
    lra_container_dtype dtype;
    int ndim;
    const int64_t *shape;  // ndim entries
    const void *data;      // prod(shape) elements, host (little-endian) byte order
} lra_safetensors_tensor;

// Writes the tensors atomically.  meta: n_meta pairs {key0, value0, key1, value1, ...} for
// "__metadata__" (NULL / 0 for none).  Names must be unique and not "__metadata__".
lra_status lra_safetensors_write(const char *path, const lra_safetensors_tensor *tensors, int n,
                                 const char *const *meta, int n_meta);

// One tensor of a file being read.
typedef struct {
    const char *name;
    const char *dtype_name;   // as in the file: "F32", "BF16", ...
    lra_container_dtype dtype;  // 0 when the dtype has no container equivalent (read refuses it)
    int ndim;
    int64_t shape[LRA_SAFETENSORS_MAX_DIMS];
    uint64_t begin, end;      // byte range relative to the data area
} lra_safetensors_entry;

typedef struct lra_safetensors lra_safetensors;

lra_status lra_safetensors_open(lra_safetensors **out, const char *path);
void lra_safetensors_close(lra_safetensors *f);
int lra_safetensors_count(const lra_safetensors *f);
const lra_safetensors_entry *lra_safetensors_entry_at(const lra_safetensors *f, int i);  // in file order
const lra_safetensors_entry *lra_safetensors_find(const lra_safetensors *f, const char *name);
const char *lra_safetensors_meta(const lra_safetensors *f, const char *key);  // NULL if absent
// Reads tensor `name` into dst after checking dtype, ndim and shape (shape NULL: no shape check).
lra_status lra_safetensors_read(lra_safetensors *f, const char *name, lra_container_dtype dtype, int ndim,
                                const int64_t *shape, void *dst, size_t dst_bytes);

#endif
