// Per-class results of an evaluation, for eval.json (written when training ends) and `lra eval`: the
// confusion matrix (row = true label, column = predicted class, counts) and the accuracy within each
// class (correct / examples of that label; null when the split has none).
#ifndef LRA_TASKS_EVAL_REPORT_H
#define LRA_TASKS_EVAL_REPORT_H

#include <stdint.h>
#include <stdio.h>

// The JSON fields `"confusion_matrix": [[...], ...], "per_class_accuracy": [...], "per_class_examples":
// [...]` of a C x C confusion matrix (new string, for lra_json_end_with).
char *lra_eval_classes_json(const int64_t *confusion, int num_classes);
// The same as a text table: one row per label with its examples, accuracy and predicted-class counts.
void lra_eval_classes_print(FILE *f, const int64_t *confusion, int num_classes);

#endif
