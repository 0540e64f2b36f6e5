// `lra plot RUN_DIR...`: learning curves of runs as SVG and PNG (tools/plot/plot.h draws them).
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "tools/lra/args.h"
#include "tools/plot/plot.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lra plot RUN_DIR|FOLDER... [--out STEM] [--x step|time|both] [--metrics LIST] [--format svg,png]\n\n"
            "Draws the learning curves of runs from their metrics.jsonl: one panel per metric side by side,\n"
            "one curve per run; runs whose config.yaml differs only in the seed are drawn as their mean with a\n"
            "min-max band.  Writes STEM-step.svg/.png (against the step) and STEM-time.svg/.png (against wall\n"
            "time, summed from the logged ms_per_step).  A FOLDER stands for its subfolders that hold a\n"
            "metrics.jsonl.\n\n"
            "  --out STEM      output path without suffix (default: curves)\n"
            "  --x AXIS        step, time or both (default: both)\n"
            "  --metrics LIST  comma-separated: loss (= train_loss,dev_loss), accuracy (= dev_accuracy),\n"
            "                  train_loss, dev_loss, dev_accuracy, train_accuracy (default: loss,accuracy)\n"
            "  --format LIST   svg, png or svg,png (default: svg,png)\n");
}

typedef struct {
    char **dirs;
    int n, cap;
} dir_list;

static void push_dir(dir_list *l, char *dir) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->dirs = lra_xrealloc(l->dirs, (size_t)l->cap * sizeof *l->dirs);
    }
    l->dirs[l->n++] = dir;
}

static int has_metrics(const char *dir) {
    char *p = lra_path_join(dir, "metrics.jsonl");
    const int yes = lra_file_exists(p);
    free(p);
    return yes;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// A run directory, or a folder of them (its subfolders holding metrics.jsonl, in name order, so the
// colours do not depend on the file system).  Returns 0 (message printed) when there is none.
static int add_runs(dir_list *l, const char *arg) {
    if (has_metrics(arg)) {
        push_dir(l, lra_xstrdup(arg));
        return 1;
    }
    const int before = l->n;
    DIR *d = opendir(arg);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char *sub = lra_path_join(arg, e->d_name);
            if (has_metrics(sub)) push_dir(l, sub);
            else free(sub);
        }
        closedir(d);
    }
    qsort(l->dirs + before, (size_t)(l->n - before), sizeof *l->dirs, by_name);
    if (l->n > before) return 1;
    fprintf(stderr, "lra plot: %s: no metrics.jsonl there or in its subfolders (expected a run directory of "
                    "`lra train`)\n", arg);
    return 0;
}

static int parse_formats(const char *v, int *formats) {
    *formats = 0;
    if (!strcmp(v, "svg")) *formats = LRA_PLOT_SVG;
    else if (!strcmp(v, "png")) *formats = LRA_PLOT_PNG;
    else if (!strcmp(v, "svg,png") || !strcmp(v, "png,svg")) *formats = LRA_PLOT_SVG | LRA_PLOT_PNG;
    if (*formats) return 1;
    fprintf(stderr, "lra plot: --format: expected svg, png or svg,png, got \"%s\"\n", v);
    return 0;
}

int lra_cmd_plot(int argc, char **argv) {
    const char *stem = "curves", *x_axis = "both", *metrics = "loss,accuracy", *v;
    int formats = LRA_PLOT_SVG | LRA_PLOT_PNG;
    dir_list runs = {0};
    int n_args = 0, rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            usage(stdout);
            rc = -1;
        } else if ((m = lra_arg_value(argc, argv, &i, "--out", &v))) {
            if (m < 0) rc = 2;
            else if (!*v) {
                fprintf(stderr, "lra plot: --out: expected a path without suffix, got an empty one\n");
                rc = 2;
            }
            stem = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--x", &v))) {
            if (m < 0) rc = 2;
            else if (strcmp(v, "step") && strcmp(v, "time") && strcmp(v, "both")) {
                fprintf(stderr, "lra plot: --x: expected step, time or both, got \"%s\"\n", v);
                rc = 2;
            }
            x_axis = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--metrics", &v))) {
            if (m < 0) rc = 2;
            metrics = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--format", &v))) {
            if (m < 0 || !parse_formats(v, &formats)) rc = 2;
        } else if (argv[i][0] == '-') {
            rc = lra_arg_unknown("plot", argv[i]);
        } else {
            n_args++;
            if (!add_runs(&runs, argv[i])) rc = 1;
        }
    }
    if (!rc && n_args == 0) {
        usage(stderr);
        rc = 2;
    }
    lra_curve_options o;
    memset(&o, 0, sizeof o);
    if (!rc && lra_curve_panels_parse(metrics, &o)) {
        fprintf(stderr, "lra plot: %s\n", lra_error_message());
        rc = 2;
    }
    lra_run_set rs;
    if (!rc && lra_run_set_load((const char *const *)runs.dirs, runs.n, &rs)) rc = lra_arg_fail("plot");
    for (int i = 0; i < runs.n; i++) free(runs.dirs[i]);
    free(runs.dirs);
    if (rc) return rc < 0 ? 0 : rc;
    for (int t = 0; t < 2 && !rc; t++) {
        if ((t == 0 && !strcmp(x_axis, "time")) || (t == 1 && !strcmp(x_axis, "step"))) continue;
        o.x_time = t;
        lra_scene s;
        lra_plot_curves_scene(&rs, &o, &s, NULL);
        const size_t n = strlen(stem) + 8;
        char *path = lra_xmalloc(n);
        snprintf(path, n, "%s-%s", stem, t ? "time" : "step");
        if (lra_scene_write(&s, path, formats)) rc = lra_arg_fail("plot");
        else
            for (int f = LRA_PLOT_SVG; f <= LRA_PLOT_PNG; f <<= 1)
                if (formats & f) printf("wrote %s.%s\n", path, f == LRA_PLOT_SVG ? "svg" : "png");
        free(path);
        lra_scene_free(&s);
    }
    lra_run_set_free(&rs);
    return rc;
}
