// Image token ids and the float32 grayscale recipe of the official pipeline.
#include "data/image.h"

#include <stddef.h>

void lra_image_options_default(lra_image_options *opt) { opt->pixel_offset = 1; }

int32_t lra_image_vocab_size(const lra_image_options *opt) {
    return (opt == NULL || opt->pixel_offset) ? 257 : 256;
}

void lra_image_tokens(const lra_image_options *opt, const uint8_t *pixels, int64_t n, uint16_t *tokens) {
    uint16_t off = (opt == NULL || opt->pixel_offset) ? 1 : 0;
    for (int64_t i = 0; i < n; i++) tokens[i] = (uint16_t)(pixels[i] + off);
}

uint8_t lra_image_rgb_to_gray(uint8_t r, uint8_t g, uint8_t b) {
    // Each product and sum goes through a volatile float so that it is rounded to float32 on its own,
    // whatever -ffp-contract the build uses; the 237-triple difference to the rational form (§7.2)
    // depends on this.
    const float s = (float)(1.0 / 255.0);
    volatile float rr = (float)r * s, gg = (float)g * s, bb = (float)b * s;
    volatile float pr = rr * 0.2989f, pg = gg * 0.5870f, pb = bb * 0.1140f;
    volatile float y = pr + pg;
    y = y + pb;
    volatile float scaled = y * 255.5f;
    return (uint8_t)scaled;
}
