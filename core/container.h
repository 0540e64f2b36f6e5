// The tensor container: the self-describing file format of checkpoints.
//
// Layout (all integers little-endian):
//   [0, 64)      header: magic "\x89LRA\r\n\x1a\n", u32 version (1), u32 flags (0), u64 file_bytes,
//                u64 index_offset, u64 index_bytes, u32 n_meta, u32 n_tensors, u32 index_crc,
//                u32 reserved[2], u32 header_crc (CRC32 of bytes [0, 60))
//   [64, index)  tensor payloads, one after another, each zlib-compressed (or stored raw)
//   [index, end) index: n_meta x (u32 key_len, key, u32 value_len, value), then n_tensors x
//                (u32 name_len, name, u32 dtype, u32 ndim, u64 dims[4], u64 offset, u64 stored_bytes,
//                 u64 raw_bytes, u32 crc32 of the raw bytes, u32 compression 0=stored 1=zlib,
//                 u32 crc32 of the stored bytes, u32 reserved 0)
// Two CRCs per tensor: the raw one checks what the reader gets, the stored one also catches flips
// that zlib ignores (e.g. the padding bits after the last deflate block).
// The file is written through the atomic writer (temp file, fsync, rename), so a crash leaves the
// previous file or the new one.  Reading checks the magic, version, header and index CRCs, the file
// size (truncation), every entry's bounds, and each tensor's CRC when it is read, and names the
// file and the tensor in every message.
//
// Writer:  lra_container_begin -> put_meta / put_tensor ... -> commit (or abort)
// Reader:  lra_container_open -> meta / count / entry / find / read -> close
// Payload bytes are the host's in-memory bytes; the writer refuses big-endian hosts.
#ifndef LRA_CORE_CONTAINER_H
#define LRA_CORE_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define LRA_CONTAINER_VERSION 1
#define LRA_CONTAINER_MAX_DIMS 4
#define LRA_CONTAINER_MAX_NAME 1024

typedef enum {
    LRA_CONTAINER_F32 = 1,
    LRA_CONTAINER_I32 = 2,
    LRA_CONTAINER_U8 = 3,
    LRA_CONTAINER_U64 = 4,
    LRA_CONTAINER_F64 = 5,
    LRA_CONTAINER_I64 = 6,
} lra_container_dtype;

size_t lra_container_dtype_size(lra_container_dtype dt);   // 0 for an unknown value
const char *lra_container_dtype_name(lra_container_dtype dt);  // "f32", ...; "?" if unknown

// One tensor of the directory.
typedef struct {
    const char *name;
    lra_container_dtype dtype;
    int ndim;                                // 0 (scalar) .. 4
    int64_t shape[LRA_CONTAINER_MAX_DIMS];   // unused dims are 1
    uint64_t offset;                         // of the stored bytes in the file
    uint64_t stored_bytes;                   // bytes in the file (compressed)
    uint64_t raw_bytes;                      // prod(shape) * dtype size
    uint32_t crc32;                          // CRC32 of the raw bytes
    uint32_t compression;                    // 0 stored, 1 zlib
    uint32_t stored_crc32;                   // CRC32 of the bytes in the file
} lra_container_entry;

// ---- writer ------------------------------------------------------------------------------------
typedef struct lra_container_writer lra_container_writer;

// level: zlib level 0..9 (0 stores raw bytes), or -1 for the default (1: fast; weights barely
// compress, so higher levels cost time for little).
lra_status lra_container_begin(lra_container_writer **out, const char *path, int level);
// Metadata: text key/value pairs (UTF-8, no length limit besides memory); keys must be unique.
lra_status lra_container_put_meta(lra_container_writer *w, const char *key, const char *value);
// Appends one tensor; data: prod(shape[0..ndim)) elements of dtype.  Names must be unique.  The
// data are compressed and written now (streamed through the atomic writer), so the caller's
// buffer may be reused after the call.
lra_status lra_container_put_tensor(lra_container_writer *w, const char *name, lra_container_dtype dtype,
                                    int ndim, const int64_t *shape, const void *data);
// Writes the index and the header, then fsync + rename.  Frees w (also on failure).
lra_status lra_container_commit(lra_container_writer *w);
// Drops everything written; the target file is unchanged.  Frees w; NULL is a no-op.
void lra_container_abort(lra_container_writer *w);

// ---- reader ------------------------------------------------------------------------------------
typedef struct lra_container_reader lra_container_reader;

// Opens and verifies the header and the index (tensor payload CRCs are checked when read).
lra_status lra_container_open(lra_container_reader **out, const char *path);
void lra_container_close(lra_container_reader *r);
const char *lra_container_meta(const lra_container_reader *r, const char *key);  // NULL if absent
int lra_container_meta_count(const lra_container_reader *r);
void lra_container_meta_at(const lra_container_reader *r, int i, const char **key, const char **value);
int lra_container_count(const lra_container_reader *r);
const lra_container_entry *lra_container_entry_at(const lra_container_reader *r, int i);
const lra_container_entry *lra_container_find(const lra_container_reader *r, const char *name);  // NULL if absent
// Reads tensor `name` into dst (dst_bytes must equal its raw size), after checking that it exists
// and has the expected dtype, ndim and shape (shape == NULL skips the shape check, ndim < 0 the
// ndim check).  Verifies the stored size and the CRC32.
lra_status lra_container_read(lra_container_reader *r, const char *name, lra_container_dtype dtype, int ndim,
                              const int64_t *shape, void *dst, size_t dst_bytes);
// Reads every tensor once to check its CRC (a full integrity check; opening checks only the header
// and index).  scratch is allocated here.
lra_status lra_container_verify(lra_container_reader *r);
const char *lra_container_path(const lra_container_reader *r);

#endif
