// A PNG decoder (on zlib) that yields 8-bit grayscale pixels, for the Pathfinder/Path-X images and any
// other PNG input (data.md §9.3, Appendix B).
//
// Accepted: every standard colour type and bit depth (gray 1/2/4/8/16, RGB 8/16, palette 1/2/4/8 with
// PLTE, gray+alpha 8/16, RGBA 8/16), all five row filters, and Adam7 interlacing.  Checked: the
// signature, every chunk's CRC-32, IHDR fields and combinations, chunk order (IHDR first, PLTE before
// IDAT, IEND last), the zlib stream of the concatenated IDAT data (incl. its Adler-32) and that it
// holds exactly the image's bytes.  Conversion to gray8:
//   - gray of depth d < 8 is scaled to 0..255 (v * 255 / (2^d - 1)); 16-bit samples are reduced to
//     8 bits with rounding: (v * 255 + 32767) / 65535;
//   - RGB (and palette entries) use the official float32 recipe of data.md §7.2,
//     lra_image_rgb_to_gray (~0.2989 R + 0.5870 G + 0.1140 B, truncated after * 255.5);
//   - alpha channels and tRNS are ignored (the colour is taken as is, not composited).
// Ancillary chunks are skipped after their CRC check; an unknown critical chunk is an error.
// Every error message starts with the file name and says what was wrong.
#ifndef LRA_DATA_PNG_H
#define LRA_DATA_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

// Largest accepted width*height (guards against absurd IHDR sizes before allocating).
#define LRA_PNG_MAX_PIXELS ((int64_t)1 << 28)

// Decodes the PNG held in buf[0..len).  name is used in error messages only.
// On success *pixels is a malloc'd [height][width] row-major gray8 array (free with free()).
// A zero-length buffer is an LRA_ERR_FORMAT error ("empty file"); on any error *pixels is NULL.
lra_status lra_png_decode_gray8(const uint8_t *buf, size_t len, const char *name, uint8_t **pixels,
                                int *width, int *height);

// Reads and decodes the file at path (see lra_png_decode_gray8).  An unreadable file is LRA_ERR_IO;
// a 0-byte file is LRA_ERR_FORMAT with a message naming it.
lra_status lra_png_read_gray8(const char *path, uint8_t **pixels, int *width, int *height);

#endif
