// The drawing model of the plots: a scene is a list of primitives in pixel coordinates (origin at the
// top left, y down) on a canvas of width x height pixels.  The same scene goes to two back ends, so the
// pictures agree: an SVG file (svg.c, coordinates written as they are) and a PNG file (raster.c, our own
// rasteriser with 4x4-sample anti-aliasing and a built-in bitmap font, font.c).  Output bytes depend
// only on the scene.
//
//   lra_scene s;  lra_scene_init(&s, 640, 480);
//   lra_scene_polyline(&s, xy, n, LRA_RGB(31, 119, 180), 2.0);
//   lra_scene_text(&s, 320, 20, "title", 2, LRA_ANCHOR_MIDDLE, 0, LRA_BLACK);
//   lra_scene_write(&s, "out/fig", LRA_PLOT_SVG | LRA_PLOT_PNG);   // out/fig.svg, out/fig.png
//   lra_scene_free(&s);
#ifndef LRA_TOOLS_PLOT_SCENE_H
#define LRA_TOOLS_PLOT_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    uint8_t r, g, b;
} lra_rgb;
#define LRA_RGB(r, g, b) ((lra_rgb){(r), (g), (b)})
#define LRA_BLACK LRA_RGB(0, 0, 0)
#define LRA_WHITE LRA_RGB(255, 255, 255)

// The i-th colour of the series palette (any i >= 0; colours repeat after a few dozen).
lra_rgb lra_plot_color(int i);

typedef enum { LRA_ANCHOR_START, LRA_ANCHOR_MIDDLE, LRA_ANCHOR_END } lra_anchor;

typedef enum {
    LRA_PRIM_POLYLINE,  // stroked, width px, round joins and caps
    LRA_PRIM_POLYGON,   // filled (even-odd), with opacity
    LRA_PRIM_TEXT       // bitmap text: glyph cells of 6 x 8 units, scale px per unit
} lra_prim_kind;

typedef struct {
    lra_prim_kind kind;
    lra_rgb color;
    double alpha;     // 0..1 (polygons; 1 for the others)
    double width;     // polyline stroke width
    int n;            // points
    double *xy;       // [n][2]
    // text
    char *text;
    double x, y;      // anchor point: the text's baseline-free box is centred vertically on y
    int scale;        // 1, 2, ... (the glyph cell is 6*scale x 8*scale pixels)
    lra_anchor anchor;
    int vertical;     // 1: rotated 90 degrees counter-clockwise (reads bottom to top)
} lra_prim;

typedef struct {
    int width, height;
    lra_rgb background;
    lra_prim *prims;
    int n, cap;
} lra_scene;

void lra_scene_init(lra_scene *s, int width, int height);
void lra_scene_free(lra_scene *s);
// Primitives are copied.  A polyline needs n >= 2 points, a polygon n >= 3 (fewer draw nothing); one
// with a non-finite coordinate is dropped.
void lra_scene_polyline(lra_scene *s, const double *xy, int n, lra_rgb color, double width);
void lra_scene_polygon(lra_scene *s, const double *xy, int n, lra_rgb color, double alpha);
void lra_scene_rect(lra_scene *s, double x, double y, double w, double h, lra_rgb color, double alpha);
void lra_scene_line(lra_scene *s, double x0, double y0, double x1, double y1, lra_rgb color, double width);
void lra_scene_text(lra_scene *s, double x, double y, const char *text, int scale, lra_anchor anchor,
                    int vertical, lra_rgb color);
// Width in pixels of `text` at `scale` (the same in both back ends' layout).
double lra_text_width(const char *text, int scale);

// Back ends.  lra_scene_svg returns a malloc'd NUL-terminated document (*len its length).
char *lra_scene_svg(const lra_scene *s, size_t *len);
// Renders into a malloc'd [height][width][3] RGB buffer.
uint8_t *lra_scene_raster(const lra_scene *s);

enum { LRA_PLOT_SVG = 1, LRA_PLOT_PNG = 2 };
// Writes stem.svg and/or stem.png (atomically: temporary file, then rename).
lra_status lra_scene_write(const lra_scene *s, const char *stem, int formats);

#endif
