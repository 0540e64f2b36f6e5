// The registry of attention kernels and option-value handling (see attention.h).
// To add a kernel: define `const lra_attn_kernel_def lra_attn_<name>` in its own file and list it below.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"

extern const lra_attn_kernel_def lra_attn_softmax;
extern const lra_attn_kernel_def lra_attn_vmean;
extern const lra_attn_kernel_def lra_attn_linformer;
extern const lra_attn_kernel_def lra_attn_skeinformer;
extern const lra_attn_kernel_def lra_attn_skein_nopilot;
extern const lra_attn_kernel_def lra_attn_skein_uniform;
extern const lra_attn_kernel_def lra_attn_skein_simplenorm;
extern const lra_attn_kernel_def lra_attn_skein_nonorm;
extern const lra_attn_kernel_def lra_attn_informer;
extern const lra_attn_kernel_def lra_attn_informer_masked;
extern const lra_attn_kernel_def lra_attn_nystrom;
extern const lra_attn_kernel_def lra_attn_performer;
extern const lra_attn_kernel_def lra_attn_skyformer;
extern const lra_attn_kernel_def lra_attn_linformer_unreduced;
extern const lra_attn_kernel_def lra_attn_yoso_e;
extern const lra_attn_kernel_def lra_attn_yoso;
extern const lra_attn_kernel_def lra_attn_s3;

static const lra_attn_kernel_def *const g_kernels[] = {
    &lra_attn_softmax,
    &lra_attn_vmean,
    &lra_attn_linformer,
    &lra_attn_skeinformer,
    &lra_attn_skein_nopilot,
    &lra_attn_skein_uniform,
    &lra_attn_skein_simplenorm,
    &lra_attn_skein_nonorm,
    &lra_attn_informer,
    &lra_attn_informer_masked,
    &lra_attn_nystrom,
    &lra_attn_performer,
    &lra_attn_skyformer,
    &lra_attn_linformer_unreduced,
    &lra_attn_yoso_e,
    &lra_attn_yoso,
    &lra_attn_s3,
    NULL,
};

int lra_attention_count(void) {
    int n = 0;
    while (g_kernels[n]) n++;
    return n;
}

const lra_attn_kernel_def *lra_attention_get(int i) {
    LRA_ASSERT(i >= 0 && i < lra_attention_count());
    return g_kernels[i];
}

const lra_attn_kernel_def *lra_attention_find(const char *name) {
    for (int i = 0; g_kernels[i]; i++)
        if (!strcmp(g_kernels[i]->name, name)) return g_kernels[i];
    return NULL;
}

void lra_attn_values_defaults(const lra_attn_kernel_def *def, lra_attn_values *out) {
    LRA_ASSERT(def->n_options <= LRA_ATTN_MAX_OPTIONS);
    memset(out, 0, sizeof *out);
    out->n = def->n_options;
    for (int i = 0; i < def->n_options; i++) {
        out->names[i] = def->options[i].name;
        out->values[i] = def->options[i].def;
    }
}

// Index of `choice` in "a|b|c", or -1.
static int enum_index(const char *choices, const char *choice) {
    int idx = 0;
    size_t len = strlen(choice);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, choice, n)) return idx;
        idx++;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

lra_status lra_attn_values_set(const lra_attn_kernel_def *def, lra_attn_values *vals, const char *name,
                               const char *text) {
    for (int i = 0; i < def->n_options; i++) {
        const lra_attn_option *o = &def->options[i];
        if (strcmp(o->name, name)) continue;
        double v = 0;
        char *end = NULL;
        switch (o->type) {
        case LRA_OPT_BOOL:
            if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes")) v = 1;
            else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no")) v = 0;
            else
                return lra_error(LRA_ERR_CONFIG, "attention '%s' option '%s': expected true or false, got \"%s\"",
                                 def->name, name, text);
            break;
        case LRA_OPT_ENUM: {
            int k = enum_index(o->choices, text);
            if (k < 0)
                return lra_error(LRA_ERR_CONFIG, "attention '%s' option '%s': expected one of %s, got \"%s\"",
                                 def->name, name, o->choices, text);
            v = k;
            break;
        }
        case LRA_OPT_INT:
        case LRA_OPT_FLOAT:
            errno = 0;
            v = strtod(text, &end);
            if (end == text || *end || errno || !isfinite(v))
                return lra_error(LRA_ERR_CONFIG, "attention '%s' option '%s': expected %s, got \"%s\"", def->name,
                                 name, o->type == LRA_OPT_INT ? "an integer" : "a number", text);
            if (o->type == LRA_OPT_INT && v != floor(v))
                return lra_error(LRA_ERR_CONFIG, "attention '%s' option '%s': expected an integer, got \"%s\"",
                                 def->name, name, text);
            if (v < o->min || v > o->max)
                return lra_error(LRA_ERR_CONFIG, "attention '%s' option '%s': expected a value in [%g, %g], got %s",
                                 def->name, name, o->min, o->max, text);
            break;
        }
        for (int j = 0; j < vals->n; j++)
            if (!strcmp(vals->names[j], name)) vals->values[j] = v;
        return LRA_OK;
    }
    // Unknown option: list the valid ones.
    char list[512] = "";
    for (int i = 0; i < def->n_options; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, def->options[i].name, sizeof list - strlen(list) - 1);
    }
    return lra_error(LRA_ERR_CONFIG, "attention '%s' has no option '%s' (options: %s)", def->name, name,
                     def->n_options ? list : "none");
}

double lra_attn_value(const lra_attn_values *vals, const char *name) {
    for (int i = 0; i < vals->n; i++)
        if (!strcmp(vals->names[i], name)) return vals->values[i];
    LRA_ASSERT_MSG(0, "attention option '%s' not declared", name);
    return 0;
}

void lra_attention_print_list(FILE *f) {
    static const char *type_names[] = {"int", "float", "bool", "enum"};
    for (int i = 0; g_kernels[i]; i++) {
        const lra_attn_kernel_def *d = g_kernels[i];
        fprintf(f, "%-20s %s\n", d->name, d->summary);
        for (int j = 0; j < d->n_options; j++) {
            const lra_attn_option *o = &d->options[j];
            char def[64];
            if (o->type == LRA_OPT_ENUM) {
                const char *p = o->choices;
                for (int k = 0; k < (int)o->def && p; k++) p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
                size_t n = p ? (strchr(p, '|') ? (size_t)(strchr(p, '|') - p) : strlen(p)) : 0;
                snprintf(def, sizeof def, "%.*s", (int)n, p ? p : "");
            } else if (o->type == LRA_OPT_BOOL) {
                snprintf(def, sizeof def, "%s", o->def != 0 ? "true" : "false");
            } else {
                snprintf(def, sizeof def, "%g", o->def);
            }
            fprintf(f, "    %-22s %-5s default %-10s %s%s%s%s\n", o->name, type_names[o->type], def, o->doc,
                    o->type == LRA_OPT_ENUM ? " (" : "", o->type == LRA_OPT_ENUM ? o->choices : "", o->type == LRA_OPT_ENUM ? ")" : "");
        }
    }
}
