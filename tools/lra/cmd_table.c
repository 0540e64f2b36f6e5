// `lra table RUN_DIR... [--format markdown|csv|latex] [--reference NAME]`: the accuracy table of finished
// runs, built by tasks/results_table.h (which decides what may share a cell) and printed here.  With
// --reference, the published rows of a paper (tasks/reference_results.h) follow each of our rows of the
// same kernel, with the difference ours - published.
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "tasks/reference_results.h"
#include "tasks/results_table.h"
#include "tools/lra/args.h"
#include "tools/plot/plot.h"

typedef enum { FMT_MARKDOWN, FMT_CSV, FMT_LATEX } table_format;

static void usage(FILE *f) {
    fprintf(f,
            "usage: lra table RUN_DIR... [--format markdown|csv|latex] [--reference NAME] [--reference-file FILE]\n"
            "                            [--plot STEM]\n"
            "       lra table --reference NAME     (the published table alone)\n\n"
            "The accuracy table of finished runs (RUN_DIR/eval.json; a folder is searched two levels deep, so\n"
            "a folder of sweeps works): one row per attention kernel, one column per task, then Average.  A cell\n"
            "is mean ± std over seeds with the count n.  Runs share a cell only when they share the data\n"
            "(RUN_DIR/data.json's fingerprint) and the config apart from the seed; otherwise each group gets its\n"
            "own row, labelled with what differs.  A duplicate seed is counted once and flagged; a data set that\n"
            "is not the task's own (generated, IDX images for Image) and runs without a fingerprint (\"unverified\n"
            "data\") are labelled.\n\n"
            "  --format F          markdown (default), csv or latex; the notes go after the table (csv: to stderr)\n"
            "  --reference NAME    add a paper's published rows and the difference: lra, nystromformer,\n"
            "                      skeinformer or s3attention (see data/reference/results.tsv for their protocols)\n"
            "  --reference-file F  the published tables (default: data/reference/results.tsv beside the program)\n"
            "  --plot STEM         also draw the table as a bar chart (a cluster per task, a bar per row, +-std):\n"
            "                      STEM.svg and STEM.png\n");
}

// data/reference/results.tsv of the source tree (build/lra -> ../data) or of an installation
// (PREFIX/bin/lra -> PREFIX/share/lra/reference).
static char *default_reference_path(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = lra_path_dirname(exe);
        const char *rel[2] = {"../data/reference/results.tsv", "../share/lra/reference/results.tsv"};
        for (int i = 0; i < 2; i++) {
            char *p = lra_path_join(dir, rel[i]);
            if (lra_path_is_file(p)) {
                free(dir);
                return p;
            }
            free(p);
        }
        free(dir);
    }
    return lra_xstrdup("data/reference/results.tsv");
}

// ---- cell text --------------------------------------------------------------------------------

typedef struct {
    table_format fmt;
} printer;

static const char *pm(const printer *p) { return p->fmt == FMT_LATEX ? " $\\pm$ " : " ± "; }

static void latex_escaped(FILE *f, const char *s) {
    for (; *s; s++) {
        if (strchr("_%&#$", *s)) fputc('\\', f);
        fputc(*s, f);
    }
}

// Text of a markdown/LaTeX cell (CSV writes numbers in separate columns).
static void our_cell(const printer *p, const lra_table_cell *c, char *buf, size_t cap) {
    if (!c->n) {
        snprintf(buf, cap, "-");
        return;
    }
    if (c->n == 1) snprintf(buf, cap, "%.2f (n=1)", c->mean);
    else snprintf(buf, cap, "%.2f%s%.2f (n=%d)", c->mean, pm(p), c->std, c->n);
    if (c->duplicate_seeds) strncat(buf, " dup-seed", cap - strlen(buf) - 1);
}

static void ref_cell(const printer *p, double v, double sd, char *buf, size_t cap) {
    if (isnan(v)) snprintf(buf, cap, "-");
    else if (isnan(sd)) snprintf(buf, cap, "%.2f", v);
    else snprintf(buf, cap, "%.2f%s%.2f", v, pm(p), sd);
}

// ---- rows -------------------------------------------------------------------------------------

static void row_begin(const printer *p, const char *label) {
    if (p->fmt == FMT_MARKDOWN) {
        printf("| %s |", label);
    } else if (p->fmt == FMT_LATEX) {
        latex_escaped(stdout, label);
    }
}

static void row_cell(const printer *p, const char *text) {
    if (p->fmt == FMT_MARKDOWN) printf(" %s |", text);
    else if (p->fmt == FMT_LATEX) printf(" & %s", text);
}

static void row_end(const printer *p) {
    if (p->fmt == FMT_MARKDOWN) printf("\n");
    else if (p->fmt == FMT_LATEX) printf(" \\\\\n");
}

static void header(const printer *p, const lra_task_def *const *cols, int n_cols, const char *first) {
    if (p->fmt == FMT_CSV) {
        printf("attention,variant,kind");
        for (int c = 0; c < n_cols; c++) printf(",%s_mean,%s_std,%s_n", cols[c]->name, cols[c]->name, cols[c]->name);
        printf(",average,flags\n");
        return;
    }
    if (p->fmt == FMT_LATEX) {
        printf("\\begin{tabular}{l");
        for (int c = 0; c <= n_cols; c++) printf("r");
        printf("}\n\\hline\n%s", first);
        for (int c = 0; c < n_cols; c++) printf(" & %s", cols[c]->title);
        printf(" & Average \\\\\n\\hline\n");
        return;
    }
    printf("| %s |", first);
    for (int c = 0; c < n_cols; c++) printf(" %s |", cols[c]->title);
    printf(" Average |\n|---|");
    for (int c = 0; c <= n_cols; c++) printf("---|");
    printf("\n");
}

static void csv_field(const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void csv_num(double v, const char *fmt) {
    putchar(',');
    if (!isnan(v)) printf(fmt, v);
}

static void print_our_row(const printer *p, const lra_results_table *t, int r) {
    const lra_table_row *row = &t->rows[r];
    double avg;
    const int full = lra_results_row_average(t, r, &avg);
    if (p->fmt == FMT_CSV) {
        csv_field(row->kernel);
        putchar(',');
        csv_field(row->label);
        printf(",ours");
        int dups = 0;
        for (int c = 0; c < t->n_cols; c++) {
            const lra_table_cell *cell = lra_results_cell(t, r, c);
            csv_num(cell->n ? cell->mean : NAN, "%.2f");
            csv_num(cell->n ? cell->std : NAN, "%.2f");
            printf(",%d", cell->n);
            dups += cell->duplicate_seeds;
        }
        csv_num(full ? avg : NAN, "%.2f");
        printf(",%s\n", dups ? "duplicate-seed" : "");
        return;
    }
    char label[700], buf[128];
    lra_results_row_name(t, r, label, sizeof label);
    row_begin(p, label);
    for (int c = 0; c < t->n_cols; c++) {
        our_cell(p, lra_results_cell(t, r, c), buf, sizeof buf);
        row_cell(p, buf);
    }
    if (full) snprintf(buf, sizeof buf, "%.2f", avg);
    else snprintf(buf, sizeof buf, "-");
    row_cell(p, buf);
    row_end(p);
}

// A published row, and (when `ours` >= 0) the difference ours - published.
// One "ours - published" cell: "+1.23", or "-" when either side is missing (CSV: the number, then
// csv_tail for the columns that follow it).
static void diff_cell(const printer *p, double d, const char *csv_tail) {
    if (p->fmt == FMT_CSV) {
        csv_num(d, "%+.2f");
        printf("%s", csv_tail);
        return;
    }
    char buf[32];
    if (isnan(d)) snprintf(buf, sizeof buf, "-");
    else snprintf(buf, sizeof buf, "%+.2f", d);
    row_cell(p, buf);
}

static void print_ref_rows(const printer *p, const lra_results_table *t, int ours, const lra_reference *ref,
                           const lra_ref_row *rr) {
    const lra_ref_source *src = &ref->sources[rr->source];
    const lra_task_def *const *cols = t->cols;
    double sd, avg = lra_reference_value(ref, rr, "average", &sd), avg_sd = sd;
    char label[512], buf[128];
    if (ours >= 0) snprintf(label, sizeof label, "  published, %s: %s", src->name, rr->model);
    else if (rr->kernel[0]) snprintf(label, sizeof label, "%s: %s (%s)", src->name, rr->model, rr->kernel);
    else snprintf(label, sizeof label, "%s: %s", src->name, rr->model);
    if (p->fmt == FMT_CSV) {
        csv_field(rr->kernel[0] ? rr->kernel : "-");
        putchar(',');
        csv_field(label + (ours >= 0 ? 2 : 0));
        printf(",published");
        for (int c = 0; c < t->n_cols; c++) {
            double v = lra_reference_value(ref, rr, cols[c]->name, &sd);
            csv_num(v, "%.2f");
            csv_num(sd, "%.2f");
            printf(",");
        }
        csv_num(avg, "%.2f");
        printf(",\n");
    } else {
        row_begin(p, label);
        for (int c = 0; c < t->n_cols; c++) {
            double v = lra_reference_value(ref, rr, cols[c]->name, &sd);
            ref_cell(p, v, sd, buf, sizeof buf);
            row_cell(p, buf);
        }
        ref_cell(p, avg, avg_sd, buf, sizeof buf);
        row_cell(p, buf);
        row_end(p);
    }
    if (ours < 0) return;
    // The difference, where both have a number.
    double ours_avg;
    const int full = lra_results_row_average(t, ours, &ours_avg);
    snprintf(label, sizeof label, "  difference (ours - %s: %s)", src->name, rr->model);
    if (p->fmt == FMT_CSV) {
        csv_field(rr->kernel);
        putchar(',');
        csv_field(label + 2);
        printf(",difference");
    } else {
        row_begin(p, label);
    }
    for (int c = 0; c < t->n_cols; c++) {
        const lra_table_cell *cell = lra_results_cell(t, ours, c);
        double v = lra_reference_value(ref, rr, cols[c]->name, NULL);
        diff_cell(p, cell->n && !isnan(v) ? cell->mean - v : NAN, ",,");
    }
    diff_cell(p, full && !isnan(avg) ? ours_avg - avg : NAN, ",\n");
    if (p->fmt != FMT_CSV) row_end(p);
}

static void print_notes(const printer *p, char *const *notes, int n) {
    if (!n) return;
    if (p->fmt == FMT_CSV) {
        for (int i = 0; i < n; i++) fprintf(stderr, "lra table: note: %s\n", notes[i]);
        return;
    }
    printf("\n");
    if (p->fmt == FMT_LATEX) printf("\\noindent Notes:\n\\begin{itemize}\n");
    else printf("Notes:\n");
    for (int i = 0; i < n; i++) {
        if (p->fmt == FMT_LATEX) {
            printf("\\item ");
            latex_escaped(stdout, notes[i]);
            printf("\n");
        } else {
            printf("- %s\n", notes[i]);
        }
    }
    if (p->fmt == FMT_LATEX) printf("\\end{itemize}\n");
}

static void table_end(const printer *p) {
    if (p->fmt == FMT_LATEX) printf("\\hline\n\\end{tabular}\n");
}

int lra_cmd_table(int argc, char **argv) {
    const char *v, *ref_name = NULL, *ref_file = NULL, *plot_stem = NULL;
    printer p = {FMT_MARKDOWN};
    const char **dirs = lra_xcalloc((size_t)argc + 1, sizeof *dirs);
    int n_dirs = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            usage(stdout);
            free(dirs);
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--format", &v))) {
            if (m < 0) goto bad;
            if (!strcmp(v, "markdown")) p.fmt = FMT_MARKDOWN;
            else if (!strcmp(v, "csv")) p.fmt = FMT_CSV;
            else if (!strcmp(v, "latex")) p.fmt = FMT_LATEX;
            else {
                fprintf(stderr, "lra table: --format: expected markdown, csv or latex, got \"%s\"\n", v);
                goto bad;
            }
        } else if ((m = lra_arg_value(argc, argv, &i, "--reference", &v))) {
            if (m < 0) goto bad;
            ref_name = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--reference-file", &v))) {
            if (m < 0) goto bad;
            ref_file = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--plot", &v))) {
            if (m < 0) goto bad;
            plot_stem = v;
        } else if (argv[i][0] == '-') {
            free(dirs);
            return lra_arg_unknown("table", argv[i]);
        } else {
            dirs[n_dirs++] = argv[i];
        }
    }
    if (n_dirs == 0 && !ref_name) {
        usage(stderr);
        goto bad;
    }
    if (plot_stem && n_dirs == 0) {
        fprintf(stderr, "lra table: --plot draws our runs: give RUN_DIR arguments\n");
        goto bad;
    }
    lra_reference ref;
    memset(&ref, 0, sizeof ref);
    int src = -1;
    if (ref_name) {
        char *path = ref_file ? lra_xstrdup(ref_file) : default_reference_path();
        lra_status st = lra_reference_load(path, &ref);
        free(path);
        if (st || (src = lra_reference_find(&ref, ref_name)) < 0) {
            lra_reference_free(&ref);
            free(dirs);
            return lra_arg_fail("table");
        }
    }
    lra_results_table t;
    memset(&t, 0, sizeof t);
    if (n_dirs) {
        if (lra_results_table_build(dirs, n_dirs, &t)) {
            lra_reference_free(&ref);
            free(dirs);
            return lra_arg_fail("table");
        }
    } else {  // the published table alone: its rows in our columns
        t.cols = lra_xcalloc((size_t)lra_task_count(), sizeof *t.cols);
        for (int i = 0; i < lra_task_count(); i++)
            if (lra_task_get(i)->title) t.cols[t.n_cols++] = lra_task_get(i);
    }
    header(&p, t.cols, t.n_cols, n_dirs ? "Attention" : "Model");
    if (n_dirs) {
        for (int r = 0; r < t.n_rows; r++) {
            print_our_row(&p, &t, r);
            for (int k = 0; src >= 0 && k < ref.n_rows; k++)
                if (ref.rows[k].source == src && !strcmp(ref.rows[k].kernel, t.rows[r].kernel))
                    print_ref_rows(&p, &t, r, &ref, &ref.rows[k]);
        }
    } else {
        for (int k = 0; k < ref.n_rows; k++)
            if (ref.rows[k].source == src) print_ref_rows(&p, &t, -1, &ref, &ref.rows[k]);
    }
    table_end(&p);
    char **notes = t.notes;
    int n_notes = t.n_notes;
    if (src >= 0) {  // the protocol behind the published numbers, as the last note
        char buf[1600];
        snprintf(buf, sizeof buf, "published rows (%s): %s. Protocol: %s", ref.sources[src].name,
                 ref.sources[src].title, ref.sources[src].protocol);
        notes = lra_xrealloc(notes, sizeof *notes * (size_t)(n_notes + 1));
        notes[n_notes++] = lra_xstrdup(buf);
        t.notes = notes;
        t.n_notes = n_notes;
    }
    print_notes(&p, notes, n_notes);
    if (plot_stem) {
        if (lra_plot_results_table(&t, plot_stem, "test accuracy by task")) {
            rc = lra_arg_fail("table");
        } else {
            fprintf(stderr, "lra table: wrote %s.svg and %s.png\n", plot_stem, plot_stem);
        }
    }
    lra_results_table_free(&t);
    lra_reference_free(&ref);
    free(dirs);
    return rc;
bad:
    free(dirs);
    return 2;
}
