// Learning-curve figures (see plot.h): panels of training/dev loss and accuracy against the step or
// wall time, one curve per run group, seeds as their mean with a min-max band.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/plot/plot.h"

// Figure geometry (pixels).
#define PANEL_W 460
#define PANEL_H 340
#define MARGIN_L 110
#define MARGIN_R 30
#define MARGIN_T 80
#define MARGIN_B 70
#define LINE_W 2.5
#define BAND_ALPHA 0.25

static const struct {
    const char *name, *title, *y_label;
    int dev, accuracy;
} PANELS[] = {
    [LRA_PANEL_TRAIN_LOSS] = {"train_loss", "training loss", "loss", 0, 0},
    [LRA_PANEL_DEV_LOSS] = {"dev_loss", "dev loss", "loss", 1, 0},
    [LRA_PANEL_DEV_ACCURACY] = {"dev_accuracy", "dev accuracy", "accuracy", 1, 1},
    [LRA_PANEL_TRAIN_ACCURACY] = {"train_accuracy", "training accuracy", "accuracy", 0, 1},
};

static lra_status add_panel(lra_curve_options *o, lra_panel p, const char *list) {
    for (int i = 0; i < o->n_panels; i++)
        if (o->panels[i] == p) return LRA_OK;  // named twice: drawn once
    if (o->n_panels == LRA_MAX_PANELS) return lra_error(LRA_ERR_ARG, "--metrics %s: too many panels", list);
    o->panels[o->n_panels++] = p;
    return LRA_OK;
}

lra_status lra_curve_panels_parse(const char *list, lra_curve_options *o) {
    o->n_panels = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int found = 0;
        if (n == 4 && !memcmp(p, "loss", 4)) {
            LRA_TRY(add_panel(o, LRA_PANEL_TRAIN_LOSS, list));
            LRA_TRY(add_panel(o, LRA_PANEL_DEV_LOSS, list));
            found = 1;
        } else if (n == 8 && !memcmp(p, "accuracy", 8)) {
            LRA_TRY(add_panel(o, LRA_PANEL_DEV_ACCURACY, list));
            found = 1;
        }
        for (int k = 0; k < (int)(sizeof PANELS / sizeof PANELS[0]) && !found; k++)
            if (strlen(PANELS[k].name) == n && !memcmp(p, PANELS[k].name, n)) {
                LRA_TRY(add_panel(o, (lra_panel)k, list));
                found = 1;
            }
        if (!found)
            return lra_error(LRA_ERR_ARG,
                             "--metrics: unknown metric '%.*s' (expected a comma-separated list of loss, accuracy, "
                             "train_loss, dev_loss, dev_accuracy, train_accuracy)",
                             (int)n, p);
        if (!comma) break;
        p = comma + 1;
    }
    return LRA_OK;
}

// One group's curve in one panel: at each step logged by any of its runs, the x position (the step, or
// the runs' mean wall time in time units) and the mean, minimum and maximum of the runs' values there.
typedef struct {
    double *x, *mean, *lo, *hi;
    int n;
} curve;

static void curve_free(curve *c) {
    free(c->x);
    free(c->mean);
    free(c->lo);
    free(c->hi);
}

static int cmp_i64(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void points_of(const lra_metric_series *s, lra_panel p, const lra_metric_point **pts, int *n) {
    *pts = PANELS[p].dev ? s->dev : s->train;
    *n = PANELS[p].dev ? s->n_dev : s->n_train;
}

static void group_curve(const lra_run_group *g, lra_panel p, int x_time, double unit, curve *c) {
    memset(c, 0, sizeof *c);
    int total = 0;
    for (int r = 0; r < g->n_runs; r++) {
        const lra_metric_point *pts;
        int n;
        points_of(&g->series[r], p, &pts, &n);
        total += n;
    }
    if (!total) return;
    int64_t *steps = lra_xmalloc((size_t)total * sizeof *steps);
    int k = 0;
    for (int r = 0; r < g->n_runs; r++) {
        const lra_metric_point *pts;
        int n;
        points_of(&g->series[r], p, &pts, &n);
        for (int i = 0; i < n; i++) steps[k++] = pts[i].step;
    }
    qsort(steps, (size_t)total, sizeof *steps, cmp_i64);
    int m = 0;
    for (int i = 0; i < total; i++)
        if (!m || steps[i] != steps[m - 1]) steps[m++] = steps[i];
    c->x = lra_xmalloc((size_t)m * sizeof *c->x);
    c->mean = lra_xmalloc((size_t)m * sizeof *c->mean);
    c->lo = lra_xmalloc((size_t)m * sizeof *c->lo);
    c->hi = lra_xmalloc((size_t)m * sizeof *c->hi);
    int *at = lra_xcalloc((size_t)g->n_runs, sizeof *at);  // each run's cursor (its steps are sorted)
    for (int i = 0; i < m; i++) {
        double sum = 0, wall = 0, lo = INFINITY, hi = -INFINITY;
        int cnt = 0, wcnt = 0;
        for (int r = 0; r < g->n_runs; r++) {
            const lra_metric_point *pts;
            int n;
            points_of(&g->series[r], p, &pts, &n);
            const lra_metric_point *hit = NULL;
            while (at[r] < n && pts[at[r]].step <= steps[i]) {
                if (pts[at[r]].step == steps[i]) hit = &pts[at[r]];  // the last line of a step counts
                at[r]++;
            }
            if (!hit) continue;
            const double v = PANELS[p].accuracy ? hit->accuracy : hit->loss;
            if (isfinite(v)) {
                sum += v;
                lo = fmin(lo, v);
                hi = fmax(hi, v);
                cnt++;
            }
            if (isfinite(hit->wall_s)) {
                wall += hit->wall_s;
                wcnt++;
            }
        }
        c->x[i] = x_time ? (wcnt ? wall / wcnt / unit : NAN) : (double)steps[i];
        c->mean[i] = cnt ? sum / cnt : NAN;
        c->lo[i] = cnt ? lo : NAN;
        c->hi[i] = cnt ? hi : NAN;
    }
    c->n = m;
    free(at);
    free(steps);
}

// The largest wall time of any point, to pick the time unit.
static double max_wall(const lra_run_set *rs) {
    double w = 0;
    for (int g = 0; g < rs->n_groups; g++)
        for (int r = 0; r < rs->groups[g].n_runs; r++) {
            const lra_metric_series *s = &rs->groups[g].series[r];
            for (int i = 0; i < s->n_train; i++)
                if (isfinite(s->train[i].wall_s)) w = fmax(w, s->train[i].wall_s);
            for (int i = 0; i < s->n_dev; i++)
                if (isfinite(s->dev[i].wall_s)) w = fmax(w, s->dev[i].wall_s);
        }
    return w;
}

void lra_plot_curves_scene(const lra_run_set *rs, const lra_curve_options *o, lra_scene *out,
                           lra_curve_layout *layout) {
    const int np = o->n_panels;
    const double wmax = max_wall(rs);
    const double unit = !o->x_time ? 1 : wmax > 2 * 3600 ? 3600 : wmax > 120 ? 60 : 1;
    const char *x_label = !o->x_time ? "step" : unit == 3600 ? "wall time (h)" : unit == 60 ? "wall time (min)"
                                                                                            : "wall time (s)";
    lra_legend_entry *entries = lra_xcalloc((size_t)(rs->n_groups > 0 ? rs->n_groups : 1), sizeof *entries);
    for (int g = 0; g < rs->n_groups; g++)
        entries[g] = (lra_legend_entry){rs->groups[g].label, lra_plot_color(g), rs->groups[g].n_runs > 1};
    const double cell_w = MARGIN_L + PANEL_W + MARGIN_R;
    // One legend column: as wide as its longest label.
    double label_w = 0;
    for (int g = 0; g < rs->n_groups; g++) label_w = fmax(label_w, lra_text_width(entries[g].label, 2));
    const double legend_col = 28 + 8 + label_w + 20;
    const double legend_h = lra_legend(NULL, 0, 0, legend_col, entries, rs->n_groups, 0);
    const int width = (int)ceil(np * cell_w + legend_col + 10);
    const int height = (int)ceil(fmax(MARGIN_T + PANEL_H + MARGIN_B, MARGIN_T + legend_h + 20));
    lra_scene_init(out, width, height);
    lra_scene_text(out, width / 2.0, 24, o->x_time ? "learning curves against wall time" : "learning curves against step",
                   2, LRA_ANCHOR_MIDDLE, 0, LRA_BLACK);

    curve *cv = lra_xcalloc((size_t)(rs->n_groups > 0 ? rs->n_groups : 1), sizeof *cv);
    if (layout) {
        memset(layout, 0, sizeof *layout);
        layout->n_panels = np;
        layout->time_unit_s = unit;
    }
    for (int k = 0; k < np; k++) {
        const lra_panel p = o->panels[k];
        double xlo = 0, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
        for (int g = 0; g < rs->n_groups; g++) {
            group_curve(&rs->groups[g], p, o->x_time, unit, &cv[g]);
            for (int i = 0; i < cv[g].n; i++) {
                if (!isfinite(cv[g].x[i]) || !isfinite(cv[g].mean[i])) continue;
                xhi = fmax(xhi, cv[g].x[i]);
                ylo = fmin(ylo, cv[g].lo[i]);
                yhi = fmax(yhi, cv[g].hi[i]);
            }
        }
        if (!(xhi > xlo)) xhi = xlo + 1;  // nothing to draw: an empty [0, 1] frame
        if (!(yhi >= ylo)) ylo = 0, yhi = 1;
        lra_axes a;
        lra_axes_set(&a, k * cell_w + MARGIN_L + 0.5, MARGIN_T + 0.5, PANEL_W, PANEL_H, xlo, xhi, ylo, yhi);
        lra_axes_draw(out, &a, PANELS[p].title, x_label, PANELS[p].y_label, 0);
        for (int g = 0; g < rs->n_groups; g++)
            if (rs->groups[g].n_runs > 1)
                lra_axes_band(out, &a, cv[g].x, cv[g].lo, cv[g].hi, cv[g].n, lra_plot_color(g), BAND_ALPHA);
        for (int g = 0; g < rs->n_groups; g++) {
            lra_axes_curve(out, &a, cv[g].x, cv[g].mean, cv[g].n, lra_plot_color(g), LINE_W);
            curve_free(&cv[g]);
        }
        if (layout) layout->axes[k] = a;
    }
    lra_legend(out, np * cell_w, MARGIN_T, legend_col, entries, rs->n_groups, 1);
    free(cv);
    free(entries);
}
