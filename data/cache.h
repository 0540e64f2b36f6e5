// Binary cache of a preprocessed dataset split, so that a source is parsed once and later runs load
// a compact file instead (ListOps train: ~650 MB of text -> a file of tens of MB loaded in well under 2 s,
// see tests/bench_cache.c).
//
// File layout (little-endian):
//   header   magic "LRACACHE", u32 version, u32 header bytes, u32 key bytes, u32 flags (token width, the
//            narrowest that holds every id: bit 1 = 4 bits, two per byte, low nibble first (ids < 16,
//            e.g. ListOps); bit 0 = uint8 (ids < 256); neither = uint16), i64 count, i32 n_seq, i32 vocab_size,
//            i32 num_classes, i32 0, i64 max_seq_len, i64 total tokens, then for each of the three
//            sections (lengths u32 [count*n_seq], tokens, labels i32 [count]): u64 raw bytes, u64
//            compressed bytes, u32 CRC-32 of the raw bytes, u32 0; then the key text; then u32 CRC-32
//            of everything before it.
//   payload  the three sections, each one zlib stream.
// The key is free text written by the caller (data/load.c puts in it the task, the split, the reader
// options and the size and modification time of every source file); a cache whose key differs is
// stale.  Files are written atomically (temporary file, fsync, rename).
#ifndef LRA_DATA_CACHE_H
#define LRA_DATA_CACHE_H

#include "core/status.h"
#include "data/dataset.h"

#define LRA_CACHE_MAGIC "LRACACHE"
#define LRA_CACHE_VERSION 1u

// Writes `ds` with `key` to `path` (atomically; the directory must exist).
lra_status lra_cache_save(const char *path, const char *key, const lra_dataset *ds);

// Loads `path` into `out` (initialised by this call) when its key equals `key`.
// Returns LRA_OK on a hit; otherwise `out` is left empty (zeroed) and the status says why:
//   LRA_ERR_IO      no such file, or it cannot be read
//   LRA_ERR_STATE   stale: the key or the format version differs (the message shows the difference)
//   LRA_ERR_FORMAT  corrupt: bad magic, header or section CRC, truncated, inconsistent contents
lra_status lra_cache_load(const char *path, const char *key, lra_dataset *out);

#endif
