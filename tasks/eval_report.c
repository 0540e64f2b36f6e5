// Per-class evaluation results (see eval_report.h).
#include "tasks/eval_report.h"

#include <stdlib.h>

#include "core/status.h"

static int64_t row_total(const int64_t *confusion, int C, int label) {
    int64_t n = 0;
    for (int p = 0; p < C; p++) n += confusion[(int64_t)label * C + p];
    return n;
}

char *lra_eval_classes_json(const int64_t *confusion, int C) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    LRA_ASSERT_MSG(f, "out of memory");
    fprintf(f, "\"confusion_matrix\": [");
    for (int l = 0; l < C; l++) {
        fprintf(f, "%s[", l ? ", " : "");
        for (int p = 0; p < C; p++) fprintf(f, "%s%lld", p ? ", " : "", (long long)confusion[(int64_t)l * C + p]);
        fprintf(f, "]");
    }
    fprintf(f, "], \"per_class_accuracy\": [");
    for (int l = 0; l < C; l++) {
        const int64_t n = row_total(confusion, C, l);
        if (n) fprintf(f, "%s%.6f", l ? ", " : "", (double)confusion[(int64_t)l * C + l] / (double)n);
        else fprintf(f, "%snull", l ? ", " : "");
    }
    fprintf(f, "], \"per_class_examples\": [");
    for (int l = 0; l < C; l++) fprintf(f, "%s%lld", l ? ", " : "", (long long)row_total(confusion, C, l));
    fprintf(f, "]");
    LRA_ASSERT_MSG(fclose(f) == 0 && text, "out of memory");
    return text;
}

void lra_eval_classes_print(FILE *f, const int64_t *confusion, int C) {
    fprintf(f, "per class (rows: true label; columns: predicted class)\n%5s %9s %9s |", "label", "examples", "accuracy");
    for (int p = 0; p < C; p++) fprintf(f, " %6d", p);
    fprintf(f, "\n");
    for (int l = 0; l < C; l++) {
        const int64_t n = row_total(confusion, C, l);
        fprintf(f, "%5d %9lld ", l, (long long)n);
        if (n) fprintf(f, "%8.2f%% |", 100.0 * (double)confusion[(int64_t)l * C + l] / (double)n);
        else fprintf(f, "%9s |", "-");
        for (int p = 0; p < C; p++) fprintf(f, " %6lld", (long long)confusion[(int64_t)l * C + p]);
        fprintf(f, "\n");
    }
}
