// Minimal PNG writer: 8-bit grayscale or 8-bit RGB, non-interlaced, filter None, zlib-compressed.
#ifndef LRA_DATA_PNG_WRITE_H
#define LRA_DATA_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

// Encodes px: [h, w] row-major into a malloc'd PNG byte buffer (*out, *out_len).
lra_status lra_png_encode_gray8(const uint8_t *px, int w, int h, uint8_t **out, size_t *out_len);
// Writes px: [h, w] to `path` atomically (a temporary file next to it, then rename).
lra_status lra_png_write_gray8(const char *path, const uint8_t *px, int w, int h);
// The same for RGB pixels: px is [h, w, 3] row-major (R, G, B bytes).
lra_status lra_png_encode_rgb8(const uint8_t *px, int w, int h, uint8_t **out, size_t *out_len);
lra_status lra_png_write_rgb8(const char *path, const uint8_t *px, int w, int h);

#endif
