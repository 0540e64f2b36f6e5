// Loading the runs of `lra plot` and grouping the runs that differ only in their seed (see plot.h).
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "tools/plot/plot.h"

// config.yaml without its comment lines and its top-level seed line: what must match for two runs to
// be seeds of one configuration.  NULL when the run has no config.yaml.
static lra_status config_key(const char *dir, char **key) {
    *key = NULL;
    char *path = lra_path_join(dir, "config.yaml");
    if (access(path, F_OK) != 0) {
        free(path);
        return LRA_OK;
    }
    char *text = NULL;
    size_t n = 0;
    lra_status st = lra_file_read_all(path, &text, &n);
    free(path);
    if (st) return st;
    char *out = lra_xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        const size_t end = nl ? (size_t)(nl - text) + 1 : n;
        const int skip = text[i] == '#' || (end - i >= 5 && !memcmp(text + i, "seed:", 5));
        if (!skip) {
            memcpy(out + k, text + i, end - i);
            k += end - i;
        }
        i = end;
    }
    out[k] = 0;
    free(text);
    *key = out;
    return LRA_OK;
}

// The folder's last component ("runs/a-s1/" -> "a-s1").
static char *folder_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    char *s = lra_xmalloc(n - b + 1);
    memcpy(s, dir + b, n - b);
    s[n - b] = 0;
    return s;
}

// A group's legend text: the first run's folder name; for several seeds without a trailing "-s<digits>"
// (or "_s<digits>", "-seed<digits>") and with the number of seeds appended.
static char *group_label(const lra_run_group *g) {
    char *name = folder_name(g->dirs[0]);
    if (g->n_runs == 1) return name;
    size_t n = strlen(name), d = n;
    while (d > 0 && isdigit((unsigned char)name[d - 1])) d--;
    if (d < n) {
        if (d >= 5 && !memcmp(name + d - 5, "-seed", 5)) name[d - 5] = 0;
        else if (d >= 2 && name[d - 1] == 's' && (name[d - 2] == '-' || name[d - 2] == '_')) name[d - 2] = 0;
    }
    char *label = lra_xmalloc(strlen(name) + 32);
    snprintf(label, strlen(name) + 32, "%s (%d seeds)", name, g->n_runs);
    free(name);
    return label;
}

lra_status lra_run_set_load(const char *const *dirs, int n, lra_run_set *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return lra_error(LRA_ERR_ARG, "no run directories given");
    out->groups = lra_xcalloc((size_t)n, sizeof *out->groups);
    char **keys = lra_xcalloc((size_t)n, sizeof *keys);  // per group
    lra_status st = LRA_OK;
    for (int i = 0; i < n && !st; i++) {
        lra_metric_series ms;
        char *path = lra_path_join(dirs[i], "metrics.jsonl");
        if (access(path, F_OK) != 0)
            st = lra_error(LRA_ERR_IO, "%s: no metrics.jsonl (is %s a run directory of `lra train`?)", path, dirs[i]);
        else
            st = lra_metrics_read(path, &ms);
        free(path);
        char *key = NULL;
        if (!st) st = config_key(dirs[i], &key);
        if (st) break;
        int g = 0;
        while (g < out->n_groups && !(key && keys[g] && !strcmp(key, keys[g]))) g++;
        lra_run_group *grp = &out->groups[g];
        if (g == out->n_groups) {
            out->n_groups++;
            keys[g] = key;
            grp->dirs = lra_xcalloc((size_t)n, sizeof *grp->dirs);
            grp->series = lra_xcalloc((size_t)n, sizeof *grp->series);
        } else {
            free(key);
        }
        grp->dirs[grp->n_runs] = lra_xstrdup(dirs[i]);
        grp->series[grp->n_runs] = ms;
        grp->n_runs++;
    }
    for (int g = 0; g < n; g++) free(keys[g]);
    free(keys);
    if (st) {
        lra_run_set_free(out);
        return st;
    }
    for (int g = 0; g < out->n_groups; g++) out->groups[g].label = group_label(&out->groups[g]);
    return LRA_OK;
}

void lra_run_set_free(lra_run_set *rs) {
    for (int g = 0; g < rs->n_groups; g++) {
        lra_run_group *grp = &rs->groups[g];
        for (int r = 0; r < grp->n_runs; r++) {
            free(grp->dirs[r]);
            lra_metric_series_free(&grp->series[r]);
        }
        free(grp->dirs);
        free(grp->series);
        free(grp->label);
    }
    free(rs->groups);
    memset(rs, 0, sizeof *rs);
}
