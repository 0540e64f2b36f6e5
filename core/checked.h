// The one rule for sizes and counts that come from outside (file headers, archive members, configs,
// checkpoints): do the arithmetic in checked 64-bit integers, and never allocate more than the bytes that
// are actually present could fill before the content has been validated.
//
//   uint64_t bytes;
//   if (!lra_mul_u64(count, item_size, &bytes)) return lra_error(..., "%s: count %llu overflows", ...);
//   LRA_TRY(lra_size_check(bytes, available, 1, path, "image data"));   // then malloc(bytes)
//
// For compressed data the bytes present are the compressed ones; `ratio` bounds the expansion (zlib's
// deflate cannot expand more than LRA_ZLIB_MAX_RATIO : 1).  Where a size cannot be checked against the
// input at all (a stream of unknown length), the caller grows its buffer as data arrives instead.
#ifndef LRA_CORE_CHECKED_H
#define LRA_CORE_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

// deflate's largest expansion: 1032 output bytes per input byte (zlib's documented limit), plus a header.
#define LRA_ZLIB_MAX_RATIO 1032u

// a + b and a * b without wrapping; false (and *out untouched) on overflow.
static inline bool lra_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}
static inline bool lra_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}
static inline bool lra_add_i64(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}
static inline bool lra_mul_i64(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}

// LRA_OK when `declared` bytes can come from `available` bytes of input expanding at most `ratio` times
// (ratio 1 for uncompressed data; LRA_ZLIB_MAX_RATIO for deflate) and fit in size_t; otherwise
// LRA_ERR_FORMAT with "<where>: <what> declares N bytes but only M bytes are present".
lra_status lra_size_check(uint64_t declared, uint64_t available, uint64_t ratio, const char *where,
                          const char *what);

#endif
