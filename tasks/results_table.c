// The results table (see results_table.h).
#include "tasks/results_table.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "tasks/data_fingerprint.h"

// ---- one run ----------------------------------------------------------------------------------

typedef struct {
    char *key, *value;
} kv;

typedef struct {
    char *dir;
    const lra_task_def *task;
    int col;
    char kernel[64];
    unsigned long long seed;
    double acc;           // percent
    kv *cfg;              // the config that must match, sorted by key
    int n_cfg;
    char fp[17];          // "" = unverified (no data.json)
    char dataset[512];    // "" = the task's own
} run_rec;

// Keys that never separate runs: the seed, and settings that do not change what is trained.
static int ignored_key(const char *k, int verified) {
    static const char *const always[] = {"seed", "train.log_every", "train.checkpoint_every", "train.keep_checkpoints",
                                         "train.prefetch", "data.prefetch"};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
        if (!strcmp(k, always[i])) return 1;
    // The data's location matters only through its contents, which the fingerprint stands for.
    return verified && (!strcmp(k, "data.path") || !strcmp(k, "data.cache_dir"));
}

// Value of "key" in a flat one-line JSON object: a string's characters or a number's text.
static int json_get(const char *json, const char *key, char *out, size_t cap) {
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return 0;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '\t') p++;
    size_t k = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && k + 1 < cap; p++) {
            if (*p == '\\' && p[1]) p++;
            out[k++] = *p;
        }
    } else {
        for (; *p && *p != ',' && *p != '}' && *p != '\n' && k + 1 < cap; p++) out[k++] = *p;
    }
    out[k] = '\0';
    return 1;
}

static int kv_cmp(const void *a, const void *b) { return strcmp(((const kv *)a)->key, ((const kv *)b)->key); }

// The resolved config.yaml (as lra train writes it: two-space indentation, "key: value  # doc") as
// sorted dotted keys, without the ignored ones.
static lra_status read_config(const char *dir, int verified, kv **out, int *n_out) {
    char *path = lra_path_join(dir, "config.yaml");
    char *text = NULL;
    size_t len = 0;
    lra_status st = lra_file_read_all(path, &text, &len);
    free(path);
    *out = NULL;
    *n_out = 0;
    if (st) return st;
    char stack[16][128];
    int depth_indent[16], depth = 0, n = 0, cap = 0;
    kv *list = NULL;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        int indent = 0;
        while (line[indent] == ' ') indent++;
        char *s = line + indent;
        char *colon = *s && *s != '#' ? strchr(s, ':') : NULL;
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ') v++;
            // Drop the documentation comment: "  # ..." outside quotes.
            int quoted = 0;
            for (char *c = v; *c; c++) {
                if (*c == '"' && (c == v || c[-1] != '\\')) quoted = !quoted;
                if (!quoted && *c == '#' && c > v && c[-1] == ' ') {
                    *c = '\0';
                    break;
                }
            }
            size_t vl = strlen(v);
            while (vl > 0 && v[vl - 1] == ' ') v[--vl] = '\0';
            while (depth > 0 && depth_indent[depth - 1] >= indent) depth--;
            char key[1024] = "";
            for (int d = 0; d < depth; d++) {
                strncat(key, stack[d], sizeof key - strlen(key) - 1);
                strncat(key, ".", sizeof key - strlen(key) - 1);
            }
            strncat(key, s, sizeof key - strlen(key) - 1);
            if (!*v) {  // a section: its keys follow, indented
                if (depth < 16) {
                    snprintf(stack[depth], sizeof stack[depth], "%s", s);
                    depth_indent[depth++] = indent;
                }
            } else if (!ignored_key(key, verified)) {
                if (n == cap) list = lra_xrealloc(list, sizeof *list * (size_t)(cap = cap ? 2 * cap : 64));
                list[n].key = lra_xstrdup(key);
                list[n].value = lra_xstrdup(v);
                n++;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    if (n) qsort(list, (size_t)n, sizeof *list, kv_cmp);
    *out = list;
    *n_out = n;
    return LRA_OK;
}

static const char *cfg_value(const run_rec *r, const char *key) {
    kv probe = {(char *)key, NULL};
    const kv *hit = r->n_cfg ? bsearch(&probe, r->cfg, (size_t)r->n_cfg, sizeof *r->cfg, kv_cmp) : NULL;
    return hit ? hit->value : NULL;
}

static void free_run(run_rec *r) {
    for (int i = 0; i < r->n_cfg; i++) {
        free(r->cfg[i].key);
        free(r->cfg[i].value);
    }
    free(r->cfg);
    free(r->dir);
}

// ---- collecting -------------------------------------------------------------------------------

typedef struct {
    run_rec *runs;
    int n_runs, cap;
    lra_results_table *t;
} collect;

static void note(lra_results_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(lra_results_table *t, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->notes = lra_xrealloc(t->notes, sizeof *t->notes * (size_t)(t->n_notes + 1));
    t->notes[t->n_notes++] = lra_xstrdup(buf);
}

// Adds the run in dir.  Returns 1 when dir holds eval.json, 0 when it does not, -1 on an error.
static int add_run(collect *c, const char *dir) {
    char *path = lra_path_join(dir, "eval.json");
    if (!lra_path_is_file(path)) {
        free(path);
        return 0;
    }
    char *text = NULL;
    size_t len;
    lra_status st = lra_file_read_all(path, &text, &len);
    if (st) {
        free(path);
        return -1;
    }
    run_rec r;
    memset(&r, 0, sizeof r);
    char task[64], seed[64], acc[64];
    int ok = json_get(text, "task", task, sizeof task) && json_get(text, "attention", r.kernel, sizeof r.kernel) &&
             json_get(text, "test_accuracy", acc, sizeof acc) && json_get(text, "seed", seed, sizeof seed);
    free(text);
    char *end = NULL;
    r.acc = ok ? 100.0 * strtod(acc, &end) : NAN;
    if (!ok || end == acc || !isfinite(r.acc)) {
        lra_error(LRA_ERR_FORMAT, "%s: expected a JSON object with task, attention, seed and a numeric test_accuracy",
                  path);
        free(path);
        return -1;
    }
    free(path);
    r.seed = strtoull(seed, NULL, 10);
    r.task = lra_task_find(task);
    r.col = -1;
    for (int i = 0; r.task && i < c->t->n_cols; i++)
        if (c->t->cols[i] == r.task) r.col = i;
    if (r.col < 0) {
        note(c->t, "%s: task '%s' has no column in the table; skipped", dir, task);
        return 1;
    }
    // The data fingerprint (absent for runs trained before it existed).
    char *dpath = lra_path_join(dir, LRA_DATA_JSON);
    if (lra_path_is_file(dpath) && lra_file_read_all(dpath, &text, &len) == LRA_OK) {
        if (!json_get(text, "fingerprint", r.fp, sizeof r.fp) || strlen(r.fp) != 16) r.fp[0] = '\0';
        if (!json_get(text, "dataset", r.dataset, sizeof r.dataset)) r.dataset[0] = '\0';
        free(text);
    }
    free(dpath);
    if (read_config(dir, r.fp[0] != '\0', &r.cfg, &r.n_cfg)) {
        lra_error_context(LRA_ERR_IO, "%s: a finished run needs its config.yaml to be compared: ", dir);
        return -1;
    }
    r.dir = lra_xstrdup(dir);
    if (c->n_runs == c->cap) c->runs = lra_xrealloc(c->runs, sizeof *c->runs * (size_t)(c->cap = c->cap ? 2 * c->cap : 32));
    c->runs[c->n_runs++] = r;
    return 1;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

#define MAX_DEPTH 2  // runs/<sweep>/<cell>: a folder of sweeps is read too

static int has_config(const char *dir) {
    char *p = lra_path_join(dir, "config.yaml");
    const int yes = lra_path_is_file(p);
    free(p);
    return yes;
}

// Adds the run in path, or the runs below it (MAX_DEPTH levels, in name order).  *found counts them.
static lra_status add_tree(collect *c, const char *path, int depth, int *found) {
    int got = add_run(c, path);
    if (got < 0) return LRA_ERR_FORMAT;
    if (got) {
        (*found)++;
        return LRA_OK;
    }
    if (has_config(path)) {  // a run directory without eval.json: unfinished (or still running)
        note(c->t, "%s: not a finished run (no eval.json); skipped", path);
        return LRA_OK;
    }
    DIR *d = depth < MAX_DEPTH ? opendir(path) : NULL;
    if (!d) return LRA_OK;
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        names = lra_xrealloc(names, sizeof *names * (size_t)(n + 1));
        names[n++] = lra_path_join(path, e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, str_cmp);
    lra_status st = LRA_OK;
    for (int i = 0; i < n; i++) {
        if (!st && lra_path_is_dir(names[i])) st = add_tree(c, names[i], depth + 1, found);
        free(names[i]);
    }
    free(names);
    return st;
}

static lra_status add_path(collect *c, const char *path) {
    int found = 0;
    lra_status st = add_tree(c, path, 0, &found);
    if (!st && !found && !has_config(path))
        note(c->t, "%s: no finished run (eval.json) in it or up to %d levels down; skipped", path, MAX_DEPTH);
    return st;
}

// ---- grouping ---------------------------------------------------------------------------------

// Runs that may share a cell: same task, kernel, data and config apart from the seed.
static int same_group(const run_rec *a, const run_rec *b) {
    if (a->col != b->col || strcmp(a->kernel, b->kernel) || strcmp(a->fp, b->fp) || a->n_cfg != b->n_cfg) return 0;
    for (int i = 0; i < a->n_cfg; i++)
        if (strcmp(a->cfg[i].key, b->cfg[i].key) || strcmp(a->cfg[i].value, b->cfg[i].value)) return 0;
    return 1;
}

typedef struct {
    int first;        // index of its first run (the representative)
    int *members;
    int n;
    int row;
    char label[512];
} group;

// The keys (of `key_prefix`, "" for all) whose values differ between the groups in idx[0..m), and the
// data pseudo-key "data" when the fingerprints differ.  Returns how many were written to keys.
static int differing_keys(const run_rec *runs, const group *g, const int *idx, int m, const char *key_prefix,
                          const char **keys, int cap) {
    int n = 0;
    const run_rec *base = &runs[g[idx[0]].first];
    for (int k = 0; k < m && n < cap; k++) {
        const run_rec *r = &runs[g[idx[k]].first];
        for (int i = 0; i < r->n_cfg && n < cap; i++) {
            const char *key = r->cfg[i].key;
            if (strncmp(key, key_prefix, strlen(key_prefix))) continue;
            // Where the data lie is not a difference of its own: the "data" pseudo-key compares contents.
            if (!strcmp(key, "data.path") || !strcmp(key, "data.cache_dir")) continue;
            int differs = 0;
            for (int j = 0; j < m && !differs; j++) {
                const char *v = cfg_value(&runs[g[idx[j]].first], key);
                differs = !v || strcmp(v, r->cfg[i].value);
            }
            int seen = 0;
            for (int q = 0; q < n; q++) seen |= !strcmp(keys[q], key);
            if (differs && !seen) keys[n++] = key;
        }
    }
    for (int k = 1; k < m && !*key_prefix; k++)
        if (strcmp(runs[g[idx[k]].first].fp, base->fp)) {
            if (n < cap) keys[n++] = "data";
            break;
        }
    return n;
}

static void append(char *buf, size_t cap, const char *sep, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, const char *sep, const char *fmt, ...) {
    size_t len = strlen(buf);
    if (len && len + strlen(sep) < cap) {
        strcat(buf, sep);
        len = strlen(buf);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

static int find_row(lra_results_table *t, const char *kernel, const char *label) {
    for (int i = 0; i < t->n_rows; i++)
        if (!strcmp(t->rows[i].kernel, kernel) && !strcmp(t->rows[i].label, label)) return i;
    t->rows = lra_xrealloc(t->rows, sizeof *t->rows * (size_t)(t->n_rows + 1));
    snprintf(t->rows[t->n_rows].kernel, sizeof t->rows[t->n_rows].kernel, "%s", kernel);
    snprintf(t->rows[t->n_rows].label, sizeof t->rows[t->n_rows].label, "%s", label);
    return t->n_rows++;
}

#define MAX_DIFF 64

lra_status lra_results_table_build(const char *const *paths, int n_paths, lra_results_table *out) {
    lra_results_table *t = out;
    memset(t, 0, sizeof *t);
    t->cols = lra_xcalloc((size_t)lra_task_count(), sizeof *t->cols);
    for (int i = 0; i < lra_task_count(); i++)
        if (lra_task_get(i)->title) t->cols[t->n_cols++] = lra_task_get(i);
    collect c = {NULL, 0, 0, t};
    lra_status st = LRA_OK;
    for (int i = 0; i < n_paths && !st; i++) st = add_path(&c, paths[i]);
    if (!st && c.n_runs == 0) st = lra_error(LRA_ERR_ARG, "no finished runs (RUN_DIR/eval.json) found");
    if (st) {
        for (int i = 0; i < c.n_runs; i++) free_run(&c.runs[i]);
        free(c.runs);
        lra_results_table_free(t);
        return st;
    }
    run_rec *runs = c.runs;
    const int nr = c.n_runs;
    // Groups, in order of their first run.
    group *g = lra_xcalloc((size_t)nr, sizeof *g);
    int ng = 0;
    for (int i = 0; i < nr; i++) {
        int k = 0;
        while (k < ng && !same_group(&runs[g[k].first], &runs[i])) k++;
        if (k == ng) {
            g[ng].first = i;
            g[ng].members = lra_xmalloc(sizeof(int) * (size_t)nr);
            ng++;
        }
        g[k].members[g[k].n++] = i;
    }
    // Labels: within one kernel and task, the keys that tell the groups apart; then the data set.
    int *idx = lra_xmalloc(sizeof(int) * (size_t)(ng ? ng : 1));
    int *done = lra_xcalloc((size_t)(ng ? ng : 1), sizeof(int));
    const char *keys[MAX_DIFF];
    for (int a = 0; a < ng; a++) {
        if (done[a]) continue;
        const run_rec *ra = &runs[g[a].first];
        int m = 0;
        for (int b = a; b < ng; b++) {
            const run_rec *rb = &runs[g[b].first];
            if (!done[b] && rb->col == ra->col && !strcmp(rb->kernel, ra->kernel)) {
                idx[m++] = b;
                done[b] = 1;
            }
        }
        int nk = m > 1 ? differing_keys(runs, g, idx, m, "", keys, MAX_DIFF) : 0;
        if (m > 1) {
            char list[1024] = "";
            for (int q = 0; q < nk; q++) append(list, sizeof list, ", ", "%s", keys[q]);
            note(t, "%s on %s: %d groups of runs differ in %s; each has its own row, none are averaged together",
                 ra->kernel, ra->task->title, m, list);
        }
        for (int k = 0; k < m; k++) {
            group *gr = &g[idx[k]];
            const run_rec *r = &runs[gr->first];
            int shown = 0;
            for (int q = 0; q < nk; q++) {
                if (!strcmp(keys[q], "data")) continue;
                if (shown == 3) {
                    append(gr->label, sizeof gr->label, ", ", "+%d more", nk - q);
                    break;
                }
                const char *v = cfg_value(r, keys[q]);
                append(gr->label, sizeof gr->label, ", ", "%s=%s", keys[q], v ? v : "(unset)");
                shown++;
            }
            // Two verified data sets here: name each by its fingerprint.
            int other_data = 0;
            for (int q = 0; q < m; q++) {
                const char *fq = runs[g[idx[q]].first].fp;
                other_data |= r->fp[0] && fq[0] && strcmp(fq, r->fp);
            }
            if (!r->fp[0]) append(gr->label, sizeof gr->label, "; ", "unverified data");
            else if (r->dataset[0]) append(gr->label, sizeof gr->label, "; ", "data: %s", r->dataset);
            if (other_data) append(gr->label, sizeof gr->label, "; ", "data %s", r->fp);
        }
        // Labels cut short ("+N more") could coincide: number the later ones.
        for (int k = 1; k < m; k++)
            for (int q = 0; q < k; q++)
                if (!strcmp(g[idx[k]].label, g[idx[q]].label)) {
                    append(g[idx[k]].label, sizeof g[idx[k]].label, "; ", "variant %d", k + 1);
                    break;
                }
    }
    // Rows: kernels in order of first appearance; a kernel's unlabelled row first, then its labelled rows.
    for (int a = 0; a < ng; a++) {
        const run_rec *r = &runs[g[a].first];
        int seen = 0;
        for (int i = 0; i < t->n_rows; i++) seen |= !strcmp(t->rows[i].kernel, r->kernel);
        if (!seen) find_row(t, r->kernel, "");
    }
    lra_table_row *order = NULL;
    int n_order = 0;
    for (int i = 0; i < t->n_rows; i++) {
        const char *kern = t->rows[i].kernel;
        int has_plain = 0;
        for (int a = 0; a < ng; a++)
            if (!strcmp(runs[g[a].first].kernel, kern) && !g[a].label[0]) has_plain = 1;
        if (has_plain) {
            order = lra_xrealloc(order, sizeof *order * (size_t)(n_order + 1));
            order[n_order++] = t->rows[i];
        }
        // The kernel's labelled rows, by label.
        const char *labels[256];
        int nl = 0;
        for (int a = 0; a < ng && nl < 256; a++) {
            if (strcmp(runs[g[a].first].kernel, kern) || !g[a].label[0]) continue;
            int seen = 0;
            for (int q = 0; q < nl; q++) seen |= !strcmp(labels[q], g[a].label);
            if (!seen) labels[nl++] = g[a].label;
        }
        qsort(labels, (size_t)nl, sizeof *labels, str_cmp);
        for (int q = 0; q < nl; q++) {
            order = lra_xrealloc(order, sizeof *order * (size_t)(n_order + 1));
            snprintf(order[n_order].kernel, sizeof order[n_order].kernel, "%s", kern);
            snprintf(order[n_order].label, sizeof order[n_order].label, "%s", labels[q]);
            n_order++;
        }
    }
    free(t->rows);
    t->rows = order;
    t->n_rows = n_order;
    // Cells: distinct seeds of each group.
    t->cells = lra_xcalloc((size_t)(t->n_rows * t->n_cols), sizeof *t->cells);
    for (int a = 0; a < ng; a++) {
        const run_rec *r0 = &runs[g[a].first];
        const int row = find_row(t, r0->kernel, g[a].label);
        lra_table_cell *cell = &t->cells[row * t->n_cols + r0->col];
        LRA_ASSERT_MSG(cell->n == 0, "two groups in one cell (%.60s [%.200s])", r0->kernel, g[a].label);
        double sum = 0, sq = 0;
        double *acc = lra_xmalloc(sizeof(double) * (size_t)g[a].n);
        int n = 0;
        for (int k = 0; k < g[a].n; k++) {
            const run_rec *r = &runs[g[a].members[k]];
            int dup = -1;
            for (int q = 0; q < k && dup < 0; q++)
                if (runs[g[a].members[q]].seed == r->seed) dup = g[a].members[q];
            if (dup >= 0) {
                cell->duplicate_seeds++;
                note(t, "%s on %s%s%s%s: seed %llu appears in %s and %s; counted once", r->kernel, r->task->title,
                     g[a].label[0] ? " [" : "", g[a].label, g[a].label[0] ? "]" : "", r->seed, runs[dup].dir, r->dir);
                continue;
            }
            acc[n++] = r->acc;
            sum += r->acc;
        }
        cell->n = n;
        cell->mean = sum / n;
        for (int k = 0; k < n; k++) sq += (acc[k] - cell->mean) * (acc[k] - cell->mean);
        cell->std = n > 1 ? sqrt(sq / (n - 1)) : NAN;
        free(acc);
    }
    // Columns whose rows were trained with different budgets or data: say so.
    for (int col = 0; col < t->n_cols; col++) {
        int m = 0;
        for (int a = 0; a < ng; a++)
            if (runs[g[a].first].col == col) idx[m++] = a;
        if (m < 2) continue;
        int nk = differing_keys(runs, g, idx, m, "train.", keys, MAX_DIFF);
        int data = 0;
        for (int k = 1; k < m; k++) data |= strcmp(runs[g[idx[k]].first].fp, runs[g[idx[0]].first].fp) != 0;
        if (!nk && !data) continue;
        char list[1024] = "";
        for (int q = 0; q < nk; q++) append(list, sizeof list, ", ", "%s", keys[q]);
        if (data) append(list, sizeof list, ", ", "the data");
        note(t, "%s: the rows differ in %s; compare them with care", t->cols[col]->title, list);
    }
    int unverified = 0;
    for (int i = 0; i < nr; i++) unverified += !runs[i].fp[0];
    if (unverified)
        note(t, "unverified data: %d run(s) have no %s (trained before data fingerprints); their data cannot be "
                "checked", unverified, LRA_DATA_JSON);
    for (int a = 0; a < ng; a++) free(g[a].members);
    free(g);
    free(idx);
    free(done);
    for (int i = 0; i < nr; i++) free_run(&runs[i]);
    free(runs);
    return LRA_OK;
}

int lra_results_row_average(const lra_results_table *t, int row, double *avg) {
    double sum = 0;
    for (int c = 0; c < t->n_cols; c++) {
        const lra_table_cell *cell = lra_results_cell(t, row, c);
        if (!cell->n) return 0;
        sum += cell->mean;
    }
    *avg = sum / t->n_cols;
    return 1;
}

void lra_results_row_name(const lra_results_table *t, int row, char *buf, size_t cap) {
    const lra_table_row *r = &t->rows[row];
    if (r->label[0]) snprintf(buf, cap, "%s [%s]", r->kernel, r->label);
    else snprintf(buf, cap, "%s", r->kernel);
}

void lra_results_series(const lra_results_table *t, double *mean, double *std) {
    for (int c = 0; c < t->n_cols; c++)
        for (int r = 0; r < t->n_rows; r++) {
            const lra_table_cell *cell = lra_results_cell(t, r, c);
            mean[c * t->n_rows + r] = cell->n ? cell->mean : NAN;
            std[c * t->n_rows + r] = cell->n ? cell->std : NAN;
        }
}

void lra_results_table_free(lra_results_table *t) {
    free(t->rows);
    free(t->cols);
    free(t->cells);
    for (int i = 0; i < t->n_notes; i++) free(t->notes[i]);
    free(t->notes);
    memset(t, 0, sizeof *t);
}
