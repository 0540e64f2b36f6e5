// Axes, ticks, curves, bands and legends on a scene (see axes.h).
#include "tools/plot/axes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_SCALE 2
#define GRID LRA_RGB(225, 225, 225)

void lra_nice_range(double lo, double hi, int target, double *nlo, double *nhi, double *step) {
    if (!isfinite(lo) || !isfinite(hi) || lo > hi) lo = 0, hi = 1;
    lo = fmax(lo, -1e300);  // so that hi - lo stays finite
    hi = fmin(hi, 1e300);
    if (!(hi - lo >= 1e-200)) {  // one value (or a span too small to divide): a range around it
        const double c = lo, d = fabs(c) * 0.1 >= 1e-200 ? fabs(c) * 0.1 : 1;
        lo = c - d;
        hi = c + d;
    }
    if (target < 1) target = 1;
    const double raw = (hi - lo) / target;
    const double p = pow(10, floor(log10(raw)));
    const double f = raw / p * (1 - 1e-9);  // 0.6 / 3 / 0.1 is 2.0000000000000004: still a 2
    const double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    *step = nice * p;
    // A hair of slack, so that data sitting on a multiple (0.3 as 0.30000000000000004) do not add a tick.
    const double eps = *step * 1e-9;
    *nlo = floor((lo + eps) / *step) * *step;
    *nhi = ceil((hi - eps) / *step) * *step;
    if (*nhi <= *nlo) *nhi = *nlo + *step;
}

void lra_axes_set(lra_axes *a, double x, double y, double w, double h, double xlo, double xhi, double ylo,
                  double yhi) {
    memset(a, 0, sizeof *a);
    a->x = x;
    a->y = y;
    a->w = w;
    a->h = h;
    lra_nice_range(xlo, xhi, (int)fmax(2, w / 110), &a->xmin, &a->xmax, &a->xstep);
    lra_nice_range(ylo, yhi, (int)fmax(2, h / 70), &a->ymin, &a->ymax, &a->ystep);
}

double lra_axes_px(const lra_axes *a, double v) { return a->x + (v - a->xmin) / (a->xmax - a->xmin) * a->w; }
double lra_axes_py(const lra_axes *a, double v) { return a->y + a->h - (v - a->ymin) / (a->ymax - a->ymin) * a->h; }

void lra_tick_label(double v, double step, char *buf, int cap) {
    if (fabs(v) < step * 1e-6) v = 0;  // no "-0" or "1e-17" at the origin
    const int decimals = (int)fmax(0, -floor(log10(step) + 1e-9));
    if (fabs(v) >= 1e6 || decimals > 6) snprintf(buf, (size_t)cap, "%g", v);
    else snprintf(buf, (size_t)cap, "%.*f", decimals, v);
}

// The tick values lo, lo + step, ... hi (computed by index, so no error accumulates).
static int ticks(double lo, double hi, double step, double *out, int cap) {
    const double intervals = floor((hi - lo) / step + 0.5);
    if (!(intervals >= 0 && intervals < cap)) return 0;
    const int n = (int)intervals + 1;
    int k = 0;
    for (int i = 0; i < n && k < cap; i++) out[k++] = lo + i * step;
    return k;
}

void lra_axes_draw(lra_scene *s, const lra_axes *a, const char *title, const char *xlabel, const char *ylabel,
                   int flags) {
    double t[64];
    char buf[48];
    const double x0 = a->x, y0 = a->y, x1 = a->x + a->w, y1 = a->y + a->h;
    const int ny = ticks(a->ymin, a->ymax, a->ystep, t, 64);
    double label_w = 0;
    for (int i = 0; i < ny; i++) {
        const double py = lra_axes_py(a, t[i]);
        lra_scene_line(s, x0, py, x1, py, GRID, 1);
        lra_scene_line(s, x0 - 5, py, x0, py, LRA_BLACK, 1);
        lra_tick_label(t[i], a->ystep, buf, sizeof buf);
        lra_scene_text(s, x0 - 8, py, buf, TEXT_SCALE, LRA_ANCHOR_END, 0, LRA_BLACK);
        label_w = fmax(label_w, lra_text_width(buf, TEXT_SCALE));
    }
    if (!(flags & LRA_AXES_NO_XTICKS)) {
        const int nx = ticks(a->xmin, a->xmax, a->xstep, t, 64);
        for (int i = 0; i < nx; i++) {
            const double px = lra_axes_px(a, t[i]);
            lra_scene_line(s, px, y0, px, y1, GRID, 1);
            lra_scene_line(s, px, y1, px, y1 + 5, LRA_BLACK, 1);
            lra_tick_label(t[i], a->xstep, buf, sizeof buf);
            lra_scene_text(s, px, y1 + 16, buf, TEXT_SCALE, LRA_ANCHOR_MIDDLE, 0, LRA_BLACK);
        }
    }
    const double frame[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
    lra_scene_polyline(s, frame, 5, LRA_BLACK, 1);
    if (xlabel && *xlabel) lra_scene_text(s, (x0 + x1) / 2, y1 + 40, xlabel, TEXT_SCALE, LRA_ANCHOR_MIDDLE, 0, LRA_BLACK);
    if (ylabel && *ylabel)
        lra_scene_text(s, x0 - label_w - 24, (y0 + y1) / 2, ylabel, TEXT_SCALE, LRA_ANCHOR_MIDDLE, 1, LRA_BLACK);
    if (title && *title) lra_scene_text(s, (x0 + x1) / 2, y0 - 16, title, TEXT_SCALE, LRA_ANCHOR_MIDDLE, 0, LRA_BLACK);
}

void lra_axes_curve(lra_scene *s, const lra_axes *a, const double *x, const double *y, int n, lra_rgb color,
                    double width) {
    double *xy = lra_xmalloc((size_t)(n + 1) * 2 * sizeof *xy);  // + 1: a lone point doubled into a dot
    int k = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && isfinite(x[i]) && isfinite(y[i])) {
            xy[2 * k] = lra_axes_px(a, x[i]);
            xy[2 * k + 1] = lra_axes_py(a, y[i]);
            k++;
            continue;
        }
        // A run of one point still shows: as a dot (a zero-length stroke with round caps).
        if (k == 1) {
            xy[2] = xy[0];
            xy[3] = xy[1];
            k = 2;
        }
        lra_scene_polyline(s, xy, k, color, width);
        k = 0;
    }
    free(xy);
}

void lra_axes_band(lra_scene *s, const lra_axes *a, const double *x, const double *lo, const double *hi, int n,
                   lra_rgb color, double alpha) {
    double *xy = lra_xmalloc((size_t)(n > 0 ? n : 1) * 4 * sizeof *xy);
    int start = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && isfinite(x[i]) && isfinite(lo[i]) && isfinite(hi[i])) continue;
        // Points start..i-1: the upper edge left to right, then the lower edge back.
        const int m = i - start;
        if (m >= 2) {
            for (int k = 0; k < m; k++) {
                xy[2 * k] = lra_axes_px(a, x[start + k]);
                xy[2 * k + 1] = lra_axes_py(a, hi[start + k]);
                xy[2 * (2 * m - 1 - k)] = lra_axes_px(a, x[start + k]);
                xy[2 * (2 * m - 1 - k) + 1] = lra_axes_py(a, lo[start + k]);
            }
            lra_scene_polygon(s, xy, 2 * m, color, alpha);
        }
        start = i + 1;
    }
    free(xy);
}

double lra_legend(lra_scene *s, double x, double y, double max_w, const lra_legend_entry *e, int n, int draw) {
    const double swatch = 28, row_h = 22;
    double label_w = 0;
    for (int i = 0; i < n; i++) label_w = fmax(label_w, lra_text_width(e[i].label, TEXT_SCALE));
    const double col_w = swatch + 8 + label_w + 20;
    int cols = (int)floor(max_w / col_w);
    if (cols < 1) cols = 1;
    const int rows = (n + cols - 1) / cols;
    if (draw)
        for (int i = 0; i < n; i++) {
            // Column-major, so a long list reads down the columns.
            const double cx = x + (i / rows) * col_w, cy = y + (i % rows) * row_h + row_h / 2;
            if (e[i].kind == 1) lra_scene_rect(s, cx, cy - 7, swatch, 14, e[i].color, 0.25);
            if (e[i].kind == 2) lra_scene_rect(s, cx + 4, cy - 7, swatch - 8, 14, e[i].color, 1);
            else lra_scene_line(s, cx, cy, cx + swatch, cy, e[i].color, 2.5);
            lra_scene_text(s, cx + swatch + 8, cy, e[i].label, TEXT_SCALE, LRA_ANCHOR_START, 0, LRA_BLACK);
        }
    return rows * row_h;
}
