// Key-by-key comparison of two resolved configs (the text lra_settings_resolved_yaml writes and a run
// directory keeps as config.yaml), and the rule of which differences a resumed run accepts: those that
// do not change the weights it computes (logging, evaluation and checkpoint cadence, a larger
// train.steps with the same learning-rate schedule).
#ifndef LRA_TASKS_CONFIG_DIFF_H
#define LRA_TASKS_CONFIG_DIFF_H

#include <stddef.h>

typedef struct {
    char *key;        // dotted, e.g. "train.lr"
    char *old_value;  // as written in the YAML; NULL when the key is absent there
    char *new_value;
    int allowed;      // 1: a resumed run may take the new value
} lra_config_change;

typedef struct {
    lra_config_change *items;
    int count;
} lra_config_changes;

// Every key whose value differs (in the order of new_yaml, then keys only in old_yaml).
void lra_config_diff(const char *old_yaml, const char *new_yaml, lra_config_changes *out);
void lra_config_changes_free(lra_config_changes *c);
// Number of changes a resume must refuse.
int lra_config_changes_refused(const lra_config_changes *c);
// "key: OLD -> NEW" for the changes with allowed == want_allowed, joined by "; " (new string).
char *lra_config_changes_describe(const lra_config_changes *c, int want_allowed);

#endif
