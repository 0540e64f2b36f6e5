// Options and helpers shared by the image readers (CIFAR-10, IDX, Pathfinder): how a gray pixel
// becomes a token id, and the RGB -> gray conversion of the official pipeline.
//
// Token ids (data.md §10): the official code uses id = pixel value (vocabulary 256), so black pixels
// share id 0 with padding and a value-derived mask hides them.  By default this project shifts every
// pixel by one (id = pixel + 1, vocabulary 257) so id 0 stays free for padding; set pixel_offset = 0
// for the reference ids.  Masks must still come from sequence lengths, never from token values.
// Images are stored unpadded (H*W tokens, row-major); padding to a model length is the batcher's job.
#ifndef LRA_DATA_IMAGE_H
#define LRA_DATA_IMAGE_H

#include <stdint.h>

typedef struct {
    int pixel_offset;   // 1 (default): id = pixel + 1, vocab 257;  0: id = pixel, vocab 256 (official)
} lra_image_options;

// Fills the defaults (pixel_offset = 1).  Readers take NULL options to mean the defaults.
void lra_image_options_default(lra_image_options *opt);
// Vocabulary size implied by the options (257 or 256); opt may be NULL.
int32_t lra_image_vocab_size(const lra_image_options *opt);
// Token ids of n gray pixels.  pixels: [n], tokens: [n]; opt may be NULL.
void lra_image_tokens(const lra_image_options *opt, const uint8_t *pixels, int64_t n, uint16_t *tokens);

// RGB -> gray exactly as tf.image.rgb_to_grayscale on uint8 (data.md §7.2), in float32 with every step
// rounded to float32 and no fused multiply-add:
//   s = (float)(1/255);  y = ((R*s)*0.2989f + (G*s)*0.5870f) + (B*s)*0.1140f;  gray = (uint8)(y*255.5f)
// (truncation).  A pure gray v maps to v.  Used by CIFAR-10 and by the PNG decoder for colour images.
uint8_t lra_image_rgb_to_gray(uint8_t r, uint8_t g, uint8_t b);

#endif
