// The plots of `lra plot` (learning curves) and the per-task bar chart of `lra table --plot` /
// `lra sweep`, built on the drawing model of scene.h and axes.h.  Every figure is written as STEM.svg
// and STEM.png (formats LRA_PLOT_SVG | LRA_PLOT_PNG); the bytes depend only on the inputs.
#ifndef LRA_TOOLS_PLOT_PLOT_H
#define LRA_TOOLS_PLOT_PLOT_H

#include "tasks/metrics_read.h"
#include "tasks/results_table.h"
#include "tools/plot/axes.h"
#include "tools/plot/scene.h"

// ---- runs ----------------------------------------------------------------------------------------
// Runs whose config.yaml is the same apart from the top-level `seed:` line (and the leading comment
// lines) form one group, drawn as the mean over its runs with a min-max band; a run without config.yaml
// is a group of its own.  Groups keep the order of their first run on the command line.
typedef struct {
    char *label;                // legend text: the first run's folder name (minus "-s<seed>" when grouped)
    int n_runs;
    char **dirs;                // [n_runs]
    lra_metric_series *series;  // [n_runs]
} lra_run_group;

typedef struct {
    lra_run_group *groups;
    int n_groups;
} lra_run_set;

// Reads RUN_DIR/metrics.jsonl (errors name file:line) and RUN_DIR/config.yaml of each run.
lra_status lra_run_set_load(const char *const *dirs, int n, lra_run_set *out);
void lra_run_set_free(lra_run_set *rs);

// ---- learning curves -------------------------------------------------------------------------------
typedef enum { LRA_PANEL_TRAIN_LOSS, LRA_PANEL_DEV_LOSS, LRA_PANEL_DEV_ACCURACY, LRA_PANEL_TRAIN_ACCURACY } lra_panel;
#define LRA_MAX_PANELS 4

typedef struct {
    int x_time;                       // 0: against the step, 1: against wall time (metrics_read.h)
    int n_panels;
    lra_panel panels[LRA_MAX_PANELS]; // left to right
} lra_curve_options;

// Where the figure put things, for tests and callers that annotate it.
typedef struct {
    int n_panels;
    lra_axes axes[LRA_MAX_PANELS];
    double time_unit_s;  // x values of a wall-time figure are seconds / time_unit_s (1, 60 or 3600)
} lra_curve_layout;

// Parses a comma-separated panel list: train_loss, dev_loss, dev_accuracy, train_accuracy, or the
// shorthands loss (= train_loss,dev_loss) and accuracy (= dev_accuracy).  Errors name the bad word.
lra_status lra_curve_panels_parse(const char *list, lra_curve_options *o);
// Builds the figure: one panel per metric side by side, one curve (a mean and band for a group of
// seeds) per group in each, a shared legend on the right.  `layout` may be NULL.
void lra_plot_curves_scene(const lra_run_set *rs, const lra_curve_options *o, lra_scene *out,
                           lra_curve_layout *layout);

// ---- bar chart -------------------------------------------------------------------------------------
// Where the bar chart put things: the axes, and the centre x and width (pixels) of each bar.
typedef struct {
    lra_axes axes;
    double *bar_x;  // [n_groups * n_series], malloc'd; free with free()
    double bar_w;
} lra_bar_layout;

// One cluster of bars per group (task) with one bar per series (kernel) in the series' colour, an error
// bar of +-err where err[i] is finite and > 0, nothing where mean[i] is NAN (a missing cell), and a
// legend of the series below.  mean and err are [n_groups * n_series], group-major: mean[g * n_series + s];
// err may be NULL.  Bars start at 0 (the y range always includes 0).  title and y_label may be NULL.
// Returns LRA_ERR_ARG (with a message) for counts < 1 or missing labels.  `layout` may be NULL.
lra_status lra_plot_bar_chart_scene(const char *title, const char *y_label, int n_groups,
                                    const char *const *group_labels, int n_series,
                                    const char *const *series_labels, const double *mean, const double *err,
                                    lra_scene *out, lra_bar_layout *layout);
// The same, written to stem.svg and stem.png.
lra_status lra_plot_bar_chart(const char *stem, const char *title, const char *y_label, int n_groups,
                              const char *const *group_labels, int n_series, const char *const *series_labels,
                              const double *mean, const double *err);

// The bar chart of `lra table` (tasks/results_table.h): a cluster per task column, a bar per row (its
// printed name), mean test accuracy with +-std error bars; written to stem.svg and stem.png.  Used by
// `lra table --plot` and by `lra sweep` when its cells have finished.
lra_status lra_plot_results_table(const lra_results_table *t, const char *stem, const char *title);

#endif
