// Axes on a scene (scene.h): a plotting rectangle in pixels, data limits widened to "nice" tick values
// (1, 2 or 5 times a power of ten), the mapping from data to pixels, and the pieces drawn in it: frame,
// grid, ticks and labels, curves, bands, bars and a legend.
#ifndef LRA_TOOLS_PLOT_AXES_H
#define LRA_TOOLS_PLOT_AXES_H

#include "tools/plot/scene.h"

typedef struct {
    double x, y, w, h;              // plotting rectangle: left, top, width, height (pixels)
    double xmin, xmax, ymin, ymax;  // data limits at its edges
    double xstep, ystep;            // tick spacing
} lra_axes;

// Nice limits for data in [lo, hi] with about `target` intervals: *step is 1, 2 or 5 times a power of
// ten and [*nlo, *nhi] the smallest multiples of it around [lo, hi].  An empty or non-finite range
// becomes [0, 1], a single value v a range around it.
void lra_nice_range(double lo, double hi, int target, double *nlo, double *nhi, double *step);
// Sets the rectangle and nice limits covering the data ranges [xlo, xhi] x [ylo, yhi].
void lra_axes_set(lra_axes *a, double x, double y, double w, double h, double xlo, double xhi, double ylo,
                  double yhi);
double lra_axes_px(const lra_axes *a, double v);  // data x -> pixel x
double lra_axes_py(const lra_axes *a, double v);  // data y -> pixel y
// The label of tick value v for tick spacing step ("0.25", "2000", "1e+06").
void lra_tick_label(double v, double step, char *buf, int cap);

enum { LRA_AXES_NO_XTICKS = 1 };  // categorical x (bar charts): no x grid, ticks or tick labels
// Grid, frame, tick marks and labels, axis labels (x below, y turned, to the left) and the title above.
void lra_axes_draw(lra_scene *s, const lra_axes *a, const char *title, const char *xlabel, const char *ylabel,
                   int flags);
// A curve through (x[i], y[i]); a NAN breaks it.  Drawn clipped to the rectangle's data range by the
// limits (which cover the data).
void lra_axes_curve(lra_scene *s, const lra_axes *a, const double *x, const double *y, int n, lra_rgb color,
                    double width);
// The area between lo[i] and hi[i] over x[i]; a NAN in any of them splits it.
void lra_axes_band(lra_scene *s, const lra_axes *a, const double *x, const double *lo, const double *hi, int n,
                   lra_rgb color, double alpha);

typedef struct {
    const char *label;
    lra_rgb color;
    int kind;  // 0: a line (curve), 1: a line over a band, 2: a filled box (bar)
} lra_legend_entry;
// Lays the entries out in as many columns as fit in max_w pixels from (x, y) (top left) and returns the
// height used.  With draw == 0 nothing is drawn (to measure first).
double lra_legend(lra_scene *s, double x, double y, double max_w, const lra_legend_entry *e, int n, int draw);

#endif
