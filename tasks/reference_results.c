// Published tables (see reference_results.h).
#include "tasks/reference_results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

// Splits line at tabs into fields (pointers into line).  Returns the count.
static int split_tabs(char *line, char **f, int cap) {
    int n = 0;
    for (char *p = line; n < cap;) {
        f[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static int find_source(const lra_reference *r, const char *name) {
    for (int i = 0; i < r->n_sources; i++)
        if (!strcmp(r->sources[i].name, name)) return i;
    return -1;
}

// "38.30", "38.30(0.40)", or a non-number (FAIL, NA, -): NAN.
static int parse_cell(const char *s, double *v, double *sd) {
    *v = *sd = NAN;
    if (!strcmp(s, "FAIL") || !strcmp(s, "NA") || !strcmp(s, "-")) return 1;
    char *end;
    *v = strtod(s, &end);
    if (end == s) return 0;
    if (*end == '(') {
        const char *q = end + 1;
        *sd = strtod(q, &end);
        if (end == q || *end != ')') return 0;
        end++;
    }
    return *end == '\0';
}

lra_status lra_reference_load(const char *path, lra_reference *out) {
    memset(out, 0, sizeof *out);
    lra_lines lr;
    LRA_TRY(lra_lines_open(&lr, path));
    bool got;
    lra_status st;
    while ((st = lra_lines_next(&lr, &got)) == LRA_OK && got) {
        if (!lr.len || lr.line[0] == '#') continue;
        char *f[LRA_REF_MAX_COLS + 8];
        const int n = split_tabs(lr.line, f, LRA_REF_MAX_COLS + 8);
        const long long ln = (long long)lr.lineno;
        if (!strcmp(f[0], "source")) {
            if (n != 4) {
                st = lra_error(LRA_ERR_FORMAT, "%s:%lld: expected 'source<TAB>NAME<TAB>TITLE<TAB>PROTOCOL'", path, ln);
                break;
            }
            out->sources = lra_xrealloc(out->sources, sizeof *out->sources * (size_t)(out->n_sources + 1));
            lra_ref_source *s = &out->sources[out->n_sources++];
            memset(s, 0, sizeof *s);
            snprintf(s->name, sizeof s->name, "%s", f[1]);
            snprintf(s->title, sizeof s->title, "%s", f[2]);
            snprintf(s->protocol, sizeof s->protocol, "%s", f[3]);
        } else if (!strcmp(f[0], "columns")) {
            const int si = n >= 2 ? find_source(out, f[1]) : -1;
            if (si < 0 || n < 3 || n - 2 > LRA_REF_MAX_COLS) {
                st = lra_error(LRA_ERR_FORMAT, "%s:%lld: expected 'columns<TAB>NAME<TAB>COLUMN...' after NAME's source "
                               "line, at most %d columns", path, ln, LRA_REF_MAX_COLS);
                break;
            }
            lra_ref_source *s = &out->sources[si];
            s->n_cols = n - 2;
            for (int c = 0; c < s->n_cols; c++) snprintf(s->cols[c], sizeof s->cols[c], "%s", f[c + 2]);
        } else if (!strcmp(f[0], "row")) {
            const int si = n >= 2 ? find_source(out, f[1]) : -1;
            if (si < 0 || !out->sources[si].n_cols || n != 4 + out->sources[si].n_cols) {
                st = lra_error(LRA_ERR_FORMAT, "%s:%lld: expected 'row<TAB>NAME<TAB>MODEL<TAB>KERNEL' and one value per "
                               "column of NAME (after its columns line)", path, ln);
                break;
            }
            out->rows = lra_xrealloc(out->rows, sizeof *out->rows * (size_t)(out->n_rows + 1));
            lra_ref_row *r = &out->rows[out->n_rows++];
            memset(r, 0, sizeof *r);
            r->source = si;
            snprintf(r->model, sizeof r->model, "%s", f[2]);
            snprintf(r->kernel, sizeof r->kernel, "%s", strcmp(f[3], "-") ? f[3] : "");
            for (int c = 0; c < out->sources[si].n_cols; c++) {
                snprintf(r->text[c], sizeof r->text[c], "%s", f[4 + c]);
                if (!parse_cell(f[4 + c], &r->value[c], &r->std[c])) {
                    st = lra_error(LRA_ERR_FORMAT, "%s:%lld: column %s: expected a number, number(std), FAIL, NA or -, "
                                   "got \"%s\"", path, ln, out->sources[si].cols[c], f[4 + c]);
                    break;
                }
            }
            if (st) break;
        } else {
            st = lra_error(LRA_ERR_FORMAT, "%s:%lld: expected a line starting with source, columns or row, got \"%s\"",
                           path, ln, f[0]);
            break;
        }
    }
    lra_lines_close(&lr);
    if (!st && out->n_sources == 0) st = lra_error(LRA_ERR_FORMAT, "%s: no source line", path);
    if (st) lra_reference_free(out);
    return st;
}

void lra_reference_free(lra_reference *r) {
    free(r->sources);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

int lra_reference_find(const lra_reference *r, const char *name) {
    const int i = find_source(r, name);
    if (i >= 0) return i;
    char names[512] = "";
    for (int k = 0; k < r->n_sources; k++) {
        strncat(names, k ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, r->sources[k].name, sizeof names - strlen(names) - 1);
    }
    if (!strcmp(name, "yoso"))
        lra_error(LRA_ERR_ARG, "--reference yoso: YOSO's LRA tables are not available (see ../shared/reference/"
                  "results.md section 5); YOSO trains with Nystromformer's protocol, so use --reference nystromformer");
    else
        lra_error(LRA_ERR_ARG, "--reference %s: unknown table; expected one of %s", name, names);
    return -1;
}

double lra_reference_value(const lra_reference *r, const lra_ref_row *row, const char *column, double *std) {
    const lra_ref_source *s = &r->sources[row->source];
    if (std) *std = NAN;
    for (int c = 0; c < s->n_cols; c++)
        if (!strcmp(s->cols[c], column)) {
            if (std) *std = row->std[c];
            return row->value[c];
        }
    return NAN;
}
