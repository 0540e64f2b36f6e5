// Fuzz target: the PNG decoder (data/png.c) on an in-memory file.
#include <stdlib.h>

#include "data/png.h"
#include "fuzz/fuzz.h"

LRA_FUZZ_TARGET(png) {
    lra_fuzz_tmpdir();  // quiets the log
    uint8_t *px = NULL;
    int w = 0, h = 0;
    if (lra_png_decode_gray8(data, size, "fuzz.png", &px, &w, &h) == LRA_OK) free(px);
    return 0;
}
