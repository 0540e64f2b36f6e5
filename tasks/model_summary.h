// The model summary printed when a run starts (`lra train`, `--dry-run`, `--print-config`): the
// parameter count of each module group -- the embeddings, each layer's attention (its pre-norm, the
// Q/K/V/output projections and the kernel's own parameters) and MLP (its pre-norm and two linears), the
// final norm and the classifier head -- split into trainable and fixed values (fixed: random
// projections and batch statistics, saved but never updated by the optimizer), with the totals.
//
// Groups come from the parameter names (the PyTorch state-dict names of tasks/model.h), in declaration
// order, so the summary follows the model as built and needs no list of its own.
#ifndef LRA_TASKS_MODEL_SUMMARY_H
#define LRA_TASKS_MODEL_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "core/params.h"
#include "tasks/model.h"

typedef struct {
    char name[48];        // "embeddings", "layer 0 attention", "layer 0 MLP", "final norm", "classifier head"
    int64_t trainable, fixed;
    int tensors;
} lra_param_group;

typedef struct {
    lra_param_group *groups;
    int count;
    int64_t trainable, fixed;  // totals over all groups
} lra_model_summary;

// Groups the parameters of p (finalized or not).  Free with lra_model_summary_free.
void lra_model_summarize(const lra_params *p, lra_model_summary *out);
void lra_model_summary_free(lra_model_summary *s);
// The group a parameter name belongs to, written into name (cap bytes).
void lra_model_param_group(const char *param_name, char *name, size_t cap);
// Prints a one-line description of the model, then the table, every line starting with `prefix`
// ("" or "# " to keep YAML output valid).
void lra_model_summary_print(const lra_model *m, FILE *f, const char *prefix);

#endif
