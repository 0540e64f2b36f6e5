// The PNG back end's rasteriser (see scene.h).  Each primitive becomes a coverage mask over its bounding
// box (0..1 per pixel), then is blended once onto the canvas with its colour and opacity, so the
// overlapping pieces of one stroke never darken each other.  Coverage is exact across a row and sampled
// at four sub-rows per pixel row: enough anti-aliasing for thin lines and text-free shapes.  Text is
// drawn from the bitmap font (font.c) without anti-aliasing, scaled by whole pixels.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/plot/font.h"
#include "tools/plot/scene.h"

#define SUBROWS 4

typedef struct {
    int x0, y0, w, h;  // pixel box on the canvas
    float *cov;        // [h][w]
    float *row;        // [w] scratch: one polygon's coverage of the current row
    double *cross;     // scratch: crossings of one sub-row
    int cross_cap;
} mask;

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
// floor(v) as an int, v first limited to [lo, hi] (casting a huge double to int is undefined).
static int floor_in(double v, int lo, int hi) { return (int)floor(fmin(fmax(v, lo), hi)); }
static int ceil_in(double v, int lo, int hi) { return (int)ceil(fmin(fmax(v, lo), hi)); }

// A mask over the box [x0, x1) x [y0, y1) (in pixels, clipped to the canvas); w or h is 0 when empty.
static void mask_init(mask *m, const lra_scene *s, double x0, double y0, double x1, double y1) {
    memset(m, 0, sizeof *m);
    const int ax = floor_in(x0, 0, s->width), bx = ceil_in(x1, 0, s->width);
    const int ay = floor_in(y0, 0, s->height), by = ceil_in(y1, 0, s->height);
    if (bx <= ax || by <= ay) return;
    m->x0 = ax;
    m->y0 = ay;
    m->w = bx - ax;
    m->h = by - ay;
    m->cov = lra_xcalloc((size_t)m->w * (size_t)m->h, sizeof *m->cov);
    m->row = lra_xmalloc((size_t)m->w * sizeof *m->row);
}

static void mask_free(mask *m) {
    free(m->cov);
    free(m->row);
    free(m->cross);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Adds the even-odd interior of the polygon xy[n] into the mask (coverage = max of old and new).
static void cover_polygon(mask *m, const double *xy, int n) {
    if (!m->w || n < 3) return;
    double ymin = xy[1], ymax = xy[1];
    for (int i = 1; i < n; i++) {
        ymin = fmin(ymin, xy[2 * i + 1]);
        ymax = fmax(ymax, xy[2 * i + 1]);
    }
    if (m->cross_cap < n) {
        m->cross_cap = n;
        m->cross = lra_xrealloc(m->cross, (size_t)n * sizeof *m->cross);
    }
    const int ry0 = floor_in(ymin, m->y0, m->y0 + m->h), ry1 = ceil_in(ymax, m->y0, m->y0 + m->h);
    for (int py = ry0; py < ry1; py++) {
        int touched = 0, lo = m->w, hi = 0;
        for (int sub = 0; sub < SUBROWS; sub++) {
            const double yy = py + (sub + 0.5) / SUBROWS;
            int nc = 0;
            for (int i = 0; i < n; i++) {
                const int j = (i + 1) % n;
                const double ya = xy[2 * i + 1], yb = xy[2 * j + 1];
                if ((ya <= yy && yy < yb) || (yb <= yy && yy < ya)) {
                    const double xa = xy[2 * i], xb = xy[2 * j];
                    m->cross[nc++] = xa + (yy - ya) * (xb - xa) / (yb - ya);
                }
            }
            if (nc < 2) continue;
            qsort(m->cross, (size_t)nc, sizeof *m->cross, cmp_double);
            for (int k = 0; k + 1 < nc; k += 2) {
                const double a = fmax(m->cross[k], m->x0), b = fmin(m->cross[k + 1], m->x0 + m->w);
                if (b <= a) continue;
                if (!touched) {
                    memset(m->row, 0, (size_t)m->w * sizeof *m->row);
                    touched = 1;
                }
                const int pa = (int)floor(a), pb = clampi((int)ceil(b), pa + 1, m->x0 + m->w);
                for (int px = pa; px < pb; px++) {
                    const double part = fmin(b, px + 1.0) - fmax(a, (double)px);
                    if (part > 0) m->row[px - m->x0] += (float)(part / SUBROWS);
                }
                lo = pa - m->x0 < lo ? pa - m->x0 : lo;
                hi = pb - m->x0 > hi ? pb - m->x0 : hi;
            }
        }
        if (!touched) continue;
        float *dst = m->cov + (size_t)(py - m->y0) * (size_t)m->w;
        for (int i = lo; i < hi; i++) dst[i] = fmaxf(dst[i], fminf(m->row[i], 1.0f));
    }
}

static uint8_t mix(uint8_t bg, uint8_t fg, double a) { return (uint8_t)floor(bg + (fg - bg) * a + 0.5); }

static void blend_pixel(uint8_t *img, const lra_scene *s, int x, int y, lra_rgb c, double a) {
    if (x < 0 || y < 0 || x >= s->width || y >= s->height || a <= 0) return;
    uint8_t *p = img + ((size_t)y * (size_t)s->width + (size_t)x) * 3;
    p[0] = mix(p[0], c.r, a);
    p[1] = mix(p[1], c.g, a);
    p[2] = mix(p[2], c.b, a);
}

static void blend_mask(uint8_t *img, const lra_scene *s, const mask *m, lra_rgb c, double alpha) {
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
            blend_pixel(img, s, m->x0 + x, m->y0 + y, c, alpha * m->cov[(size_t)y * (size_t)m->w + (size_t)x]);
}

static void bounds(const lra_prim *p, double pad, double *x0, double *y0, double *x1, double *y1) {
    *x0 = *x1 = p->xy[0];
    *y0 = *y1 = p->xy[1];
    for (int i = 1; i < p->n; i++) {
        *x0 = fmin(*x0, p->xy[2 * i]);
        *x1 = fmax(*x1, p->xy[2 * i]);
        *y0 = fmin(*y0, p->xy[2 * i + 1]);
        *y1 = fmax(*y1, p->xy[2 * i + 1]);
    }
    *x0 -= pad;
    *y0 -= pad;
    *x1 += pad;
    *y1 += pad;
}

// A stroke of width w: each segment a rectangle, each vertex a disc (round joins and caps).
static void draw_polyline(uint8_t *img, const lra_scene *s, const lra_prim *p) {
    const double r = p->width / 2;
    double x0, y0, x1, y1;
    bounds(p, r + 1, &x0, &y0, &x1, &y1);
    mask m;
    mask_init(&m, s, x0, y0, x1, y1);
    if (!m.w) return;
    enum { DISC = 16 };
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < p->n; i++) {
        const double cx = p->xy[2 * i], cy = p->xy[2 * i + 1];
        double disc[2 * DISC];
        for (int k = 0; k < DISC; k++) {
            disc[2 * k] = cx + r * cos(2 * pi * k / DISC);
            disc[2 * k + 1] = cy + r * sin(2 * pi * k / DISC);
        }
        cover_polygon(&m, disc, DISC);
        if (i + 1 == p->n) break;
        const double dx = p->xy[2 * i + 2] - cx, dy = p->xy[2 * i + 3] - cy, len = hypot(dx, dy);
        if (len <= 0) continue;
        const double nx = -dy / len * r, ny = dx / len * r;
        const double quad[8] = {cx + nx, cy + ny, cx + dx + nx, cy + dy + ny, cx + dx - nx, cy + dy - ny, cx - nx, cy - ny};
        cover_polygon(&m, quad, 4);
    }
    blend_mask(img, s, &m, p->color, 1.0);
    mask_free(&m);
}

static void draw_polygon(uint8_t *img, const lra_scene *s, const lra_prim *p) {
    double x0, y0, x1, y1;
    bounds(p, 1, &x0, &y0, &x1, &y1);
    mask m;
    mask_init(&m, s, x0, y0, x1, y1);
    cover_polygon(&m, p->xy, p->n);
    if (m.w) blend_mask(img, s, &m, p->color, p->alpha);
    mask_free(&m);
}

// Glyph cells left to right; a vertical text is the same box turned a quarter counter-clockwise about
// the anchor point: (u, v) relative to it lands at (v, -u).
static void draw_text(uint8_t *img, const lra_scene *s, const lra_prim *p) {
    const int sc = p->scale;
    const double tw = lra_text_width(p->text, sc), th = LRA_FONT_CELL_H * sc;
    const double u0 = p->anchor == LRA_ANCHOR_START ? 0 : p->anchor == LRA_ANCHOR_MIDDLE ? -tw / 2 : -tw;
    const double v0 = -th / 2;
    const int ax = floor_in(p->x + 0.5, -(1 << 24), 1 << 24), ay = floor_in(p->y + 0.5, -(1 << 24), 1 << 24);
    const int bu = (int)floor(u0 + 0.5), bv = (int)floor(v0 + 0.5);
    const size_t len = strlen(p->text);
    for (size_t k = 0; k < len; k++)
        for (int row = 0; row < LRA_FONT_GLYPH_H; row++)
            for (int col = 0; col < LRA_FONT_GLYPH_W; col++) {
                if (!lra_font_pixel((unsigned char)p->text[k], col, row)) continue;
                for (int dy = 0; dy < sc; dy++)
                    for (int dx = 0; dx < sc; dx++) {
                        const int u = bu + ((int)k * LRA_FONT_CELL_W + col) * sc + dx;
                        const int v = bv + row * sc + dy;
                        if (p->vertical) blend_pixel(img, s, ax + v, ay - u - 1, p->color, 1.0);
                        else blend_pixel(img, s, ax + u, ay + v, p->color, 1.0);
                    }
            }
}

uint8_t *lra_scene_raster(const lra_scene *s) {
    const size_t npx = (size_t)s->width * (size_t)s->height;
    uint8_t *img = lra_xmalloc(npx * 3 + 1);
    for (size_t i = 0; i < npx; i++) {
        img[3 * i] = s->background.r;
        img[3 * i + 1] = s->background.g;
        img[3 * i + 2] = s->background.b;
    }
    for (int i = 0; i < s->n; i++) {
        const lra_prim *p = &s->prims[i];
        if (p->kind == LRA_PRIM_POLYLINE) draw_polyline(img, s, p);
        else if (p->kind == LRA_PRIM_POLYGON) draw_polygon(img, s, p);
        else draw_text(img, s, p);
    }
    return img;
}
