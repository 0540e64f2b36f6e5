// The per-task bar chart of a results table (see plot.h): clusters of bars, error bars, series legend.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/plot/plot.h"

#define MARGIN_L 110
#define MARGIN_R 30
#define MARGIN_T 60
#define PLOT_H 360
#define BAR_MAX 28
#define BAR_MIN 6
#define PLOT_W_TARGET 900

lra_status lra_plot_bar_chart_scene(const char *title, const char *y_label, int n_groups,
                                    const char *const *group_labels, int n_series,
                                    const char *const *series_labels, const double *mean, const double *err,
                                    lra_scene *out, lra_bar_layout *layout) {
    if (n_groups < 1 || n_series < 1 || n_groups > 4096 || n_series > 4096)
        return lra_error(LRA_ERR_ARG, "bar chart: %d groups and %d series (expected 1..4096 each)", n_groups, n_series);
    if (!group_labels || !series_labels || !mean) return lra_error(LRA_ERR_ARG, "bar chart: missing labels or values");
    for (int g = 0; g < n_groups; g++)
        if (!group_labels[g]) return lra_error(LRA_ERR_ARG, "bar chart: group label %d is NULL", g);
    for (int s = 0; s < n_series; s++)
        if (!series_labels[s]) return lra_error(LRA_ERR_ARG, "bar chart: series label %d is NULL", s);
    const int nb = n_groups * n_series;

    // Value range: every bar from 0, with its error bar.
    double lo = 0, hi = 0;
    for (int i = 0; i < nb; i++) {
        if (!isfinite(mean[i])) continue;
        const double e = err && isfinite(err[i]) && err[i] > 0 ? err[i] : 0;
        lo = fmin(lo, mean[i] - e);
        hi = fmax(hi, mean[i] + e);
    }
    if (hi <= lo) hi = lo + 1;

    // Bars as wide as fits the target width (within BAR_MIN..BAR_MAX); a cluster is also at least as
    // wide as its label, and clusters are one bar apart.
    double bar = floor((double)PLOT_W_TARGET / ((double)n_groups * (n_series + 1)));
    bar = fmax(BAR_MIN, fmin(BAR_MAX, bar));
    double label_w = 0;
    for (int g = 0; g < n_groups; g++) label_w = fmax(label_w, lra_text_width(group_labels[g], 2));
    const double plot_w = fmax(fmax(bar * (n_series + 1), label_w + 16) * n_groups, 300);
    const double cluster = plot_w / n_groups;

    lra_legend_entry *entries = lra_xmalloc((size_t)n_series * sizeof *entries);
    for (int s = 0; s < n_series; s++) entries[s] = (lra_legend_entry){series_labels[s], lra_plot_color(s), 2};
    const double legend_h = lra_legend(NULL, 0, 0, plot_w, entries, n_series, 0);
    const double legend_y = MARGIN_T + PLOT_H + 50;
    const int width = (int)ceil(MARGIN_L + plot_w + MARGIN_R);
    const int height = (int)ceil(legend_y + legend_h + 16);
    lra_scene_init(out, width, height);

    lra_axes a;
    lra_axes_set(&a, MARGIN_L + 0.5, MARGIN_T + 0.5, plot_w, PLOT_H, 0, 1, lo, hi);
    a.xmin = 0;  // x is the cluster index: cluster g spans [g, g + 1)
    a.xmax = n_groups;
    lra_axes_draw(out, &a, title, NULL, y_label, LRA_AXES_NO_XTICKS);
    const double base = lra_axes_py(&a, 0);
    double *bar_x = layout ? lra_xmalloc((size_t)nb * sizeof *bar_x) : NULL;
    for (int g = 0; g < n_groups; g++) {
        const double cx = a.x + (g + 0.5) * cluster;
        lra_scene_text(out, cx, a.y + a.h + 18, group_labels[g], 2, LRA_ANCHOR_MIDDLE, 0, LRA_BLACK);
        for (int s = 0; s < n_series; s++) {
            const int i = g * n_series + s;
            const double x = cx + (s - n_series / 2.0) * bar;  // left edge
            if (bar_x) bar_x[i] = x + bar / 2;
            if (!isfinite(mean[i])) continue;
            const double top = lra_axes_py(&a, mean[i]);
            lra_scene_rect(out, x, fmin(top, base), bar, fabs(base - top), lra_plot_color(s), 1);
            if (err && isfinite(err[i]) && err[i] > 0) {
                const double y0 = lra_axes_py(&a, mean[i] - err[i]), y1 = lra_axes_py(&a, mean[i] + err[i]);
                const double mx = x + bar / 2, cap = fmax(2, bar / 4);
                lra_scene_line(out, mx, y0, mx, y1, LRA_BLACK, 1.5);
                lra_scene_line(out, mx - cap, y0, mx + cap, y0, LRA_BLACK, 1.5);
                lra_scene_line(out, mx - cap, y1, mx + cap, y1, LRA_BLACK, 1.5);
            }
        }
    }
    if (lo < 0) lra_scene_line(out, a.x, base, a.x + a.w, base, LRA_BLACK, 1);
    lra_legend(out, MARGIN_L, legend_y, plot_w, entries, n_series, 1);
    free(entries);
    if (layout) {
        layout->axes = a;
        layout->bar_x = bar_x;
        layout->bar_w = bar;
    }
    return LRA_OK;
}

lra_status lra_plot_bar_chart(const char *stem, const char *title, const char *y_label, int n_groups,
                              const char *const *group_labels, int n_series, const char *const *series_labels,
                              const double *mean, const double *err) {
    lra_scene s;
    LRA_TRY(lra_plot_bar_chart_scene(title, y_label, n_groups, group_labels, n_series, series_labels, mean, err, &s,
                                     NULL));
    lra_status st = lra_scene_write(&s, stem, LRA_PLOT_SVG | LRA_PLOT_PNG);
    lra_scene_free(&s);
    return st;
}
