// Published LRA accuracy tables, read from data/reference/results.tsv (transcribed from the project's
// ../shared/reference/results.md by tools/reference/extract_results.py), for `lra table --reference NAME`.
// Each source keeps its own column order and says how its numbers were obtained (its protocol); each
// printed row names the paper's model and, where there is one, our attention kernel.
#ifndef LRA_TASKS_REFERENCE_RESULTS_H
#define LRA_TASKS_REFERENCE_RESULTS_H

#include "core/status.h"

#define LRA_REF_MAX_COLS 12

typedef struct {
    char name[64];                     // what --reference takes: lra, nystromformer, skeinformer, s3attention
    char title[256];                   // "Skeinformer, Table 1 (NAACL 2022)"
    char protocol[1024];               // model size, checkpoint tested, runs per number, ...
    int n_cols;
    char cols[LRA_REF_MAX_COLS][32];   // task names and "average", in the paper's order
} lra_ref_source;

typedef struct {
    int source;                        // index into sources
    char model[128];                   // the paper's row name
    char kernel[64];                   // our attention kernel, "" for none
    double value[LRA_REF_MAX_COLS];    // NAN where the paper prints no number (FAIL, NA, -)
    double std[LRA_REF_MAX_COLS];      // NAN where the paper prints no spread
    char text[LRA_REF_MAX_COLS][32];   // the cell as printed
} lra_ref_row;

typedef struct {
    lra_ref_source *sources;
    int n_sources;
    lra_ref_row *rows;
    int n_rows;
} lra_reference;

// Parses the file; errors name the file, the line and what was expected.
lra_status lra_reference_load(const char *path, lra_reference *out);
void lra_reference_free(lra_reference *r);
// The source called name, or -1 with a message listing the names.
int lra_reference_find(const lra_reference *r, const char *name);
// The published value of `column` (a task name or "average") in a row; NAN when absent.  *std may be NULL.
double lra_reference_value(const lra_reference *r, const lra_ref_row *row, const char *column, double *std);

#endif
