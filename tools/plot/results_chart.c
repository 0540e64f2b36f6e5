// The bar chart of a results table (see plot.h): one cluster per task column, one bar per row.
#include <math.h>
#include <stdlib.h>

#include "tasks/results_table.h"
#include "tools/plot/plot.h"

lra_status lra_plot_results_table(const lra_results_table *t, const char *stem, const char *title) {
    if (t->n_rows < 1 || t->n_cols < 1) return lra_error(LRA_ERR_ARG, "%s: the table has no cells to plot", stem);
    const size_t n = (size_t)t->n_rows * (size_t)t->n_cols;
    double *mean = lra_xcalloc(n, sizeof *mean), *std = lra_xcalloc(n, sizeof *std);
    lra_results_series(t, mean, std);
    const char **groups = lra_xcalloc((size_t)t->n_cols, sizeof *groups);
    char **series = lra_xcalloc((size_t)t->n_rows, sizeof *series);
    for (int c = 0; c < t->n_cols; c++) groups[c] = t->cols[c]->title;
    for (int r = 0; r < t->n_rows; r++) {
        series[r] = lra_xcalloc(600, 1);
        lra_results_row_name(t, r, series[r], 600);
    }
    lra_status st = lra_plot_bar_chart(stem, title, "test accuracy (%)", t->n_cols, groups, t->n_rows,
                                       (const char *const *)series, mean, std);
    for (int r = 0; r < t->n_rows; r++) free(series[r]);
    free(series);
    free(groups);
    free(mean);
    free(std);
    return st;
}
