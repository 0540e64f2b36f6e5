// Scene construction and the file writer (see scene.h); the back ends are svg.c and raster.c.
#include "tools/plot/scene.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "data/png_write.h"
#include "tools/plot/font.h"

lra_rgb lra_plot_color(int i) {
    // Ten well-separated hues; later series reuse them darker, then lighter.
    static const lra_rgb base[10] = {{31, 100, 180}, {230, 110, 20}, {40, 150, 50},   {200, 40, 40},
                                     {140, 90, 190}, {140, 85, 70},  {220, 110, 190}, {110, 110, 110},
                                     {170, 170, 30}, {20, 170, 190}};
    if (i < 0) i = -i;
    lra_rgb c = base[i % 10];
    const int variant = (i / 10) % 3;
    if (variant == 1) return LRA_RGB((uint8_t)(c.r * 13 / 20), (uint8_t)(c.g * 13 / 20), (uint8_t)(c.b * 13 / 20));
    if (variant == 2)
        return LRA_RGB((uint8_t)((c.r * 3 + 255 * 2) / 5), (uint8_t)((c.g * 3 + 255 * 2) / 5),
                       (uint8_t)((c.b * 3 + 255 * 2) / 5));
    return c;
}

void lra_scene_init(lra_scene *s, int width, int height) {
    memset(s, 0, sizeof *s);
    s->width = width;
    s->height = height;
    s->background = LRA_WHITE;
}

void lra_scene_free(lra_scene *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->prims[i].xy);
        free(s->prims[i].text);
    }
    free(s->prims);
    memset(s, 0, sizeof *s);
}

static lra_prim *add(lra_scene *s, lra_prim_kind kind, lra_rgb color) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->prims = lra_xrealloc(s->prims, (size_t)s->cap * sizeof *s->prims);
    }
    lra_prim *p = &s->prims[s->n++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->color = color;
    p->alpha = 1;
    return p;
}

// Non-finite coordinates (a NAN or an overflowed mapping) would draw garbage: such primitives are dropped.
static int finite_points(const double *xy, int n) {
    for (int i = 0; i < 2 * n; i++)
        if (!isfinite(xy[i])) return 0;
    return 1;
}

static double *copy_points(const double *xy, int n) {
    double *c = lra_xmalloc((size_t)n * 2 * sizeof *c);
    memcpy(c, xy, (size_t)n * 2 * sizeof *c);
    return c;
}

void lra_scene_polyline(lra_scene *s, const double *xy, int n, lra_rgb color, double width) {
    if (n < 2 || !finite_points(xy, n) || !isfinite(width)) return;
    lra_prim *p = add(s, LRA_PRIM_POLYLINE, color);
    p->width = width;
    p->n = n;
    p->xy = copy_points(xy, n);
}

void lra_scene_polygon(lra_scene *s, const double *xy, int n, lra_rgb color, double alpha) {
    if (n < 3 || !finite_points(xy, n) || !isfinite(alpha)) return;
    lra_prim *p = add(s, LRA_PRIM_POLYGON, color);
    p->alpha = alpha;
    p->n = n;
    p->xy = copy_points(xy, n);
}

void lra_scene_rect(lra_scene *s, double x, double y, double w, double h, lra_rgb color, double alpha) {
    const double xy[8] = {x, y, x + w, y, x + w, y + h, x, y + h};
    lra_scene_polygon(s, xy, 4, color, alpha);
}

void lra_scene_line(lra_scene *s, double x0, double y0, double x1, double y1, lra_rgb color, double width) {
    const double xy[4] = {x0, y0, x1, y1};
    lra_scene_polyline(s, xy, 2, color, width);
}

void lra_scene_text(lra_scene *s, double x, double y, const char *text, int scale, lra_anchor anchor,
                    int vertical, lra_rgb color) {
    if (!isfinite(x) || !isfinite(y)) return;
    lra_prim *p = add(s, LRA_PRIM_TEXT, color);
    p->text = lra_xstrdup(text);
    p->x = x;
    p->y = y;
    p->scale = scale < 1 ? 1 : scale;
    p->anchor = anchor;
    p->vertical = vertical;
}

double lra_text_width(const char *text, int scale) {
    return (double)strlen(text) * LRA_FONT_CELL_W * (scale < 1 ? 1 : scale);
}

lra_status lra_scene_write(const lra_scene *s, const char *stem, int formats) {
    const size_t n = strlen(stem);
    char *path = lra_xmalloc(n + 5);
    memcpy(path, stem, n);
    lra_status st = LRA_OK;
    if (formats & LRA_PLOT_SVG) {
        memcpy(path + n, ".svg", 5);
        size_t len;
        char *doc = lra_scene_svg(s, &len);
        st = lra_atomic_write_file(path, doc, len);
        free(doc);
    }
    if (!st && (formats & LRA_PLOT_PNG)) {
        memcpy(path + n, ".png", 5);
        uint8_t *px = lra_scene_raster(s);
        st = lra_png_write_rgb8(path, px, s->width, s->height);
        free(px);
    }
    free(path);
    return st;
}
