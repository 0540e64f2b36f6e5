// The Pathfinder / Path-X image generator: a port of the original "snakes" generator
// (drewlinsley/pathfinder, as configured for LRA), data.md section 12.
//
// Two random-number modes:
//  - LRA_PF_RNG_PHILOX (default): every image draws from its own Philox stream keyed by
//    (seed, batch, image index), so images are generated in parallel (OpenMP) and the output does not
//    depend on the thread count;
//  - LRA_PF_RNG_COMPAT: numpy's legacy RandomState seeded with `seed`, drawn sequentially in the
//    original's order, which reproduces the original program's images and metadata bit for bit.
// Output layout (release layout, data.md 9.1/12.10):
//   <out>/<difficulty>/imgs/<batch>/sample_<i>.png  and  <out>/<difficulty>/metadata/<batch>.npy (text)
#ifndef LRA_DATA_PATHFINDER_GEN_H
#define LRA_DATA_PATHFINDER_GEN_H

#include <stdint.h>

#include "core/status.h"

typedef enum { LRA_PF_RNG_PHILOX = 0, LRA_PF_RNG_COMPAT = 1 } lra_pathfinder_rng_mode;

// Generator parameters (data.md 12.1).  Fill with lra_pathfinder_params_preset and adjust if needed.
typedef struct {
    int size;                // H = W
    int padding;             // occupied frame around the image
    int aa;                  // antialias factor
    int paddle_length;       // L (pixels)
    double thickness;        // T; T*aa must be an integer
    int margins[4];          // paddle margins M; one is drawn per image (no draw when n_margins == 1)
    int n_margins;
    int seed_distance;       // D, distance between the two target snakes' start points
    double marker_radius;    // Rm
    double continuity;       // C (turning penalty)
    int contour_length;      // CL, paddles per target snake
    int distractor_length;   // DL
    int n_distractors;       // ND
    double snake_contrast;   // cS (distractors)
    double paddle_contrast;  // cP; target snakes use cP * cS
    int max_snake_retrial;   // 4: a distractor snake is tried 5 times
    int max_paddle_retrial;  // 2: a paddle placement is tried 3 times
    int opencv_border;       // 1: OpenCV's -DBL_MAX dilation border (12.11, the original); 0: zero padding
    char continuity_text[16];  // how the original prints C and T in the metadata ("1.0", "0.5")
    char thickness_text[16];
} lra_pathfinder_params;

// The LRA configuration for image size 32, 64, 128 or 256 and contour length 6, 9 or 14.
lra_status lra_pathfinder_params_preset(lra_pathfinder_params *p, int size, int contour_length);
// "curv_baseline", "curv_contour_length_9", "curv_contour_length_14" (NULL for other lengths).
const char *lra_pathfinder_difficulty_name(int contour_length);

typedef struct {
    lra_pathfinder_params params;
    lra_pathfinder_rng_mode rng;
    uint64_t seed;     // COMPAT: numpy seed, must be < 2^32
    int batch;         // batch id (folder imgs/<batch>, metadata/<batch>.npy)
    int n_images;      // images in the batch
    int threads;       // OpenMP threads for the default mode (0 = OpenMP's default); COMPAT is sequential
} lra_pathfinder_gen_options;

// What the generator decided for one image.
typedef struct {
    int label;         // 1 = the two markers are on the same snake
    int margin;        // paddle margin used
    int attempts;      // two-snake attempts needed
    int distractors;   // distractor snakes placed
} lra_pathfinder_image_info;

typedef struct lra_pathfinder_gen lra_pathfinder_gen;

// Builds the lookup tables for `o` (paddle patches, seed kernels, resampling weights).
lra_status lra_pathfinder_gen_new(const lra_pathfinder_gen_options *o, lra_pathfinder_gen **out);
void lra_pathfinder_gen_free(lra_pathfinder_gen *g);

// One image into px: [size, size].  Default mode: image `index` (any order).  COMPAT mode: the next image
// of the sequential stream, whose index must be given (0, 1, 2, ... in order; else LRA_ERR_STATE).
// Not thread-safe on one generator.
lra_status lra_pathfinder_gen_image(lra_pathfinder_gen *g, int64_t index, uint8_t *px,
                                    lra_pathfinder_image_info *info);

// Integer seed orientations (of 360) for which a seed can be placed at all: with the OpenCV border a
// seed kernel lacking a tap in some quadrant makes the dilation -DBL_MAX somewhere and the seed fails
// (data.md 12.11: 30 for pf32, 95 for pf64, 354 / 360 for pf128 with margin 2 / 3).  margin_index
// selects params.margins[margin_index].
int lra_pathfinder_gen_usable_orientations(const lra_pathfinder_gen *g, int margin_index);

// Images 0..o->n_images-1 into px: [n_images, size, size] and info: [n_images] (info may be NULL).
// Default mode runs in parallel over images; COMPAT restarts the stream from the seed.
lra_status lra_pathfinder_generate_mem(const lra_pathfinder_gen_options *o, uint8_t *px,
                                       lra_pathfinder_image_info *info);

// Writes one batch in the release layout under out_dir/<difficulty>/.  Refuses (LRA_ERR_STATE) when the
// batch's metadata file already exists, as the original does.
lra_status lra_pathfinder_generate(const lra_pathfinder_gen_options *o, const char *out_dir);

// The metadata line of image i (with its trailing '\n') into buf; returns its length.
int lra_pathfinder_metadata_line(const lra_pathfinder_params *p, int batch, int i, int label, int margin,
                                 char *buf, int cap);

#endif
