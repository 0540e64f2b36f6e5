// The registry of attention kernels and option-value handling (see attention.h).
// To add a kernel: define `const lra_attn_kernel_def lra_attn_<name>` in its own file and list it below
// (the extern declaration and the table entry come from one LRA_KERNELS line).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"

// Every kernel, in the order of `lra attention list`: one line each.
#define LRA_KERNELS(X) \
    X(softmax) \
    X(vmean) \
    X(linformer) \
    X(skeinformer) \
    X(skein_nopilot) \
    X(skein_uniform) \
    X(skein_simplenorm) \
    X(skein_nonorm) \
    X(informer) \
    X(informer_masked) \
    X(nystrom) \
    X(performer) \
    X(skyformer) \
    X(linformer_unreduced) \
    X(yoso_e) \
    X(yoso) \
    X(s3) \
    X(linear) \
    X(synthesizer) \
    X(reformer) \
    X(sinkhorn) \
    X(fnet) \
    X(ponet) \
    X(luna) \
    X(transformer_ls) \
    X(cosformer) \
    X(fmmformer) \
    X(scatterbrain) \
    X(h_transformer_1d) \
    X(bigbird) \
    X(longformer) \
    X(local) \
    X(sparse)

#define LRA_KERNEL_DECLARE(name) extern const lra_attn_kernel_def lra_attn_##name;
LRA_KERNELS(LRA_KERNEL_DECLARE)
#define LRA_KERNEL_ENTRY(name) &lra_attn_##name,
static const lra_attn_kernel_def *const g_kernels[] = {LRA_KERNELS(LRA_KERNEL_ENTRY) NULL};

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

// The text of choice `idx` of "a|b|c" into out.
static void choice_text(const char *choices, int idx, char *out, size_t cap) {
    const char *p = choices;
    for (int k = 0; k < idx && p; k++) p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
    size_t n = p ? (strchr(p, '|') ? (size_t)(strchr(p, '|') - p) : strlen(p)) : 0;
    snprintf(out, cap, "%.*s", (int)n, p ? p : "");
}

lra_config_key lra_attn_config_key(const lra_attn_kernel_def *def, const lra_attn_option *o,
                                   lra_attn_config_text *text) {
    snprintf(text->key, sizeof text->key, "model.attention.%s.%s", def->name, o->name);
    lra_config_key k = {text->key, LRA_CONFIG_FLOAT, text->def, text->spec, o->doc, 0};
    switch (o->type) {
    case LRA_OPT_INT:
        k.type = LRA_CONFIG_INT;
        snprintf(text->def, sizeof text->def, "%lld", (long long)o->def);
        snprintf(text->spec, sizeof text->spec, "[%lld,%lld]", (long long)o->min, (long long)o->max);
        break;
    case LRA_OPT_FLOAT:
        snprintf(text->def, sizeof text->def, "%.17g", o->def);
        snprintf(text->spec, sizeof text->spec, "[%.17g,%.17g]", o->min, o->max);
        break;
    case LRA_OPT_BOOL:
        k.type = LRA_CONFIG_BOOL;
        snprintf(text->def, sizeof text->def, "%s", o->def != 0 ? "true" : "false");
        k.spec = NULL;
        break;
    case LRA_OPT_ENUM:
        k.type = LRA_CONFIG_ENUM;
        choice_text(o->choices, (int)o->def, text->def, sizeof text->def);
        snprintf(text->spec, sizeof text->spec, "%s", o->choices);
        break;
    }
    return k;
}

// The value is parsed by core/config exactly as `--set <key>=<text>` would be: one rule for both.
lra_status lra_attn_values_set(const lra_attn_kernel_def *def, lra_attn_values *vals, const char *name,
                               const char *text) {
    for (int i = 0; i < def->n_options; i++) {
        const lra_attn_option *o = &def->options[i];
        if (strcmp(o->name, name)) continue;
        lra_attn_config_text t;
        lra_config_key key = lra_attn_config_key(def, o, &t);
        lra_config_schema *schema = lra_config_schema_new();
        lra_status st = lra_config_schema_add(schema, &key, 1);
        LRA_ASSERT_MSG(st == LRA_OK, "schema: %s", lra_error_message());
        lra_config *c = lra_config_new_empty();
        size_t len = strlen(t.key) + strlen(text) + 2;
        char *assign = lra_xmalloc(len);
        snprintf(assign, len, "%s=%s", t.key, text);
        st = lra_config_set(c, assign);
        if (st == LRA_OK) st = lra_config_validate(c, schema);
        if (st == LRA_OK) {
            const double v = o->type == LRA_OPT_BOOL   ? (double)lra_config_bool(c, t.key)
                             : o->type == LRA_OPT_ENUM ? (double)lra_config_enum(c, t.key)
                                                       : lra_config_float(c, t.key);
            for (int j = 0; j < vals->n; j++)
                if (!strcmp(vals->names[j], name)) vals->values[j] = v;
        }
        free(assign);
        lra_config_free(c);
        lra_config_schema_free(schema);
        return st;
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

const lra_attn_option *lra_attn_count_option(const lra_attn_kernel_def *def) {
    for (int i = 0; i < def->n_options; i++)
        if (def->options[i].flags & LRA_OPT_COUNT) return &def->options[i];
    return NULL;
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
            lra_attn_config_text t;
            lra_attn_config_key(d, o, &t);
            if (o->type == LRA_OPT_FLOAT) snprintf(t.def, sizeof t.def, "%g", o->def);
            fprintf(f, "    %-22s %-5s default %-10s %s%s%s%s%s\n", o->name, type_names[o->type], t.def, o->doc,
                    o->type == LRA_OPT_ENUM ? " (" : "", o->type == LRA_OPT_ENUM ? o->choices : "",
                    o->type == LRA_OPT_ENUM ? ")" : "", o->flags & LRA_OPT_COUNT ? " [count]" : "");
        }
    }
}
