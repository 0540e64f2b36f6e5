// `lra table RUN_DIR ... [--format markdown|csv]`: the papers' accuracy table from finished runs.
// One row per attention kernel; one column per registered task that has a table title (tasks/task.h:
// ListOps, Text, Retrieval, Image, Pathfinder), then Average.  A cell holds mean +- sample std (n-1)
// of the test accuracy when several seeds share it, and "-" when no run has it.  The average is the
// mean over the task means, shown only when every column is present.
// A directory without eval.json is searched one level down (so `lra table runs/` works).
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "tasks/task.h"
#include "tools/lra/args.h"

#define MAX_ROWS 64
#define MAX_SEEDS 64
#define MAX_COLS 16

typedef struct {
    char attention[64];
    double acc[MAX_COLS][MAX_SEEDS];
    int n[MAX_COLS];
} table_row;

// The table's columns: the registered tasks with a title, in registry order.
static const lra_task_def *g_cols[MAX_COLS];
static int g_n_cols;

static void find_columns(void) {
    g_n_cols = 0;
    for (int i = 0; i < lra_task_count(); i++) {
        const lra_task_def *t = lra_task_get(i);
        if (!t->title) continue;
        LRA_ASSERT_MSG(g_n_cols < MAX_COLS, "more than %d table columns", MAX_COLS);
        g_cols[g_n_cols++] = t;
    }
}

// Value of "key" in a flat JSON object: a string copied into out, or a number's text.
static int json_get(const char *json, const char *key, char *out, size_t cap) {
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return 0;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n') p++;
    size_t k = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && k + 1 < cap; p++) out[k++] = *p;
    } else {
        for (; *p && *p != ',' && *p != '}' && *p != '\n' && k + 1 < cap; p++) out[k++] = *p;
    }
    out[k] = '\0';
    return 1;
}

static int add_run(table_row *rows, int *n_rows, const char *dir) {
    char *path = lra_path_join(dir, "eval.json");
    char *text = NULL;
    size_t len;
    lra_status s = lra_file_read_all(path, &text, &len);
    free(path);
    if (s) return 0;
    char task[64], att[64], acc[64];
    int ok = json_get(text, "task", task, sizeof task) && json_get(text, "attention", att, sizeof att) &&
             json_get(text, "test_accuracy", acc, sizeof acc);
    free(text);
    if (!ok) {
        fprintf(stderr, "lra table: %s/eval.json lacks task, attention or test_accuracy; skipped\n", dir);
        return 1;
    }
    int col = -1;
    for (int i = 0; i < g_n_cols; i++)
        if (!strcmp(task, g_cols[i]->name)) col = i;
    if (col < 0) return 1;  // tasks without a title (pathx) and unknown ones are not in the table
    int r = 0;
    while (r < *n_rows && strcmp(rows[r].attention, att)) r++;
    if (r == *n_rows) {
        if (*n_rows == MAX_ROWS) return 1;
        memset(&rows[r], 0, sizeof rows[r]);
        snprintf(rows[r].attention, sizeof rows[r].attention, "%s", att);
        (*n_rows)++;
    }
    if (rows[r].n[col] < MAX_SEEDS) rows[r].acc[col][rows[r].n[col]++] = 100.0 * atof(acc);
    return 1;
}

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : NAN;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : NAN;
}

int lra_cmd_table(int argc, char **argv) {
    const char *format = "markdown", *v;
    static table_row rows[MAX_ROWS];
    int n_rows = 0, n_dirs = 0;
    find_columns();
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            printf("usage: lra table RUN_DIR ... [--format markdown|csv]\n\nBuilds the accuracy table of finished runs "
                   "(their eval.json): one row per attention kernel,\ncolumns");
            for (int c = 0; c < g_n_cols; c++) printf(" %s,", g_cols[c]->title);
            printf(" Average; mean +- std over seeds.\n");
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--format", &v))) {
            if (m < 0) return 2;
            if (strcmp(v, "markdown") && strcmp(v, "csv")) {
                fprintf(stderr, "lra table: --format: expected markdown or csv, got \"%s\"\n", v);
                return 2;
            }
            format = v;
        } else if (argv[i][0] == '-') {
            return lra_arg_unknown("table", argv[i]);
        } else {
            n_dirs++;
            if (add_run(rows, &n_rows, argv[i])) continue;
            DIR *d = opendir(argv[i]);
            int found = 0;
            if (d) {
                struct dirent *e;
                char **names = NULL;
                int nn = 0;
                while ((e = readdir(d))) {
                    if (e->d_name[0] == '.') continue;
                    names = lra_xrealloc(names, sizeof *names * (size_t)(nn + 1));
                    names[nn++] = lra_path_join(argv[i], e->d_name);
                }
                closedir(d);
                for (int a = 1; a < nn; a++)  // sorted, so the row order does not depend on the file system
                    for (int b = a; b > 0 && strcmp(names[b], names[b - 1]) < 0; b--) {
                        char *t = names[b];
                        names[b] = names[b - 1];
                        names[b - 1] = t;
                    }
                for (int k = 0; k < nn; k++) {
                    found |= add_run(rows, &n_rows, names[k]);
                    free(names[k]);
                }
                free(names);
            }
            if (!found) fprintf(stderr, "lra table: %s: no eval.json (not a finished run); skipped\n", argv[i]);
        }
    }
    if (n_dirs == 0) {
        fprintf(stderr, "usage: lra table RUN_DIR ... [--format markdown|csv]\n");
        return 2;
    }
    if (n_rows == 0) {
        fprintf(stderr, "lra table: no finished runs found\n");
        return 1;
    }
    const int csv = !strcmp(format, "csv");
    if (csv) {
        printf("attention");
        for (int c = 0; c < g_n_cols; c++) {
            const char *t = g_cols[c]->name;
            printf(",%s_mean,%s_std,%s_runs", t, t, t);
        }
        printf(",average\n");
    } else {
        printf("| Attention |");
        for (int c = 0; c < g_n_cols; c++) printf(" %s |", g_cols[c]->title);
        printf(" Average |\n|---|");
        for (int c = 0; c < g_n_cols; c++) printf("---|");
        printf("---|\n");
    }
    for (int r = 0; r < n_rows; r++) {
        double sum = 0;
        int full = 1;
        printf(csv ? "%s" : "| %s |", rows[r].attention);
        for (int c = 0; c < g_n_cols; c++) {
            double mean, sd;
            stats(rows[r].acc[c], rows[r].n[c], &mean, &sd);
            if (!rows[r].n[c]) full = 0;
            else sum += mean;
            if (csv) {
                if (rows[r].n[c]) printf(",%.2f,%s%.2f,%d", mean, "", isnan(sd) ? 0.0 : sd, rows[r].n[c]);
                else printf(",,,0");
            } else if (!rows[r].n[c]) {
                printf(" - |");
            } else if (rows[r].n[c] == 1) {
                printf(" %.2f |", mean);
            } else {
                printf(" %.2f ± %.2f (%d) |", mean, sd, rows[r].n[c]);
            }
        }
        if (csv) printf(full ? ",%.2f\n" : ",\n", sum / g_n_cols);
        else if (full) printf(" %.2f |\n", sum / g_n_cols);
        else printf(" - |\n");
    }
    return 0;
}
