// Parameter counts per module group (see model_summary.h).
#include "tasks/model_summary.h"

#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "core/status.h"

void lra_model_param_group(const char *param_name, char *name, size_t cap) {
    const char *n = param_name;
    if (!strncmp(n, "model.", 6)) {
        n += 6;
        int layer, used = 0;
        if (!strncmp(n, "embeddings.", 11)) {
            snprintf(name, cap, "embeddings");
        } else if (sscanf(n, "transformer_%d.%n", &layer, &used) == 1 && used > 0) {
            // A pre-LN block: norm1 feeds the attention, norm2 the MLP; they belong to their sub-layer.
            const char *part = n + used;
            const char *kind = !strncmp(part, "norm1.", 6) || !strncmp(part, "mha.", 4)       ? "attention"
                               : !strncmp(part, "norm2.", 6) || !strncmp(part, "mlpblock.", 9) ? "MLP"
                                                                                               : "other";
            snprintf(name, cap, "layer %d %s", layer, kind);
        } else if (!strncmp(n, "norm.", 5)) {
            snprintf(name, cap, "final norm");
        } else {
            snprintf(name, cap, "encoder other");
        }
    } else if (!strncmp(n, "seq_classifer.", 14)) {
        snprintf(name, cap, "classifier head");
    } else {
        // Unknown names keep their first component, so nothing is silently merged.
        const char *dot = strchr(n, '.');
        snprintf(name, cap, "%.*s", dot ? (int)(dot - n) : (int)strlen(n), n);
    }
}

void lra_model_summarize(const lra_params *p, lra_model_summary *out) {
    memset(out, 0, sizeof *out);
    out->groups = lra_xcalloc((size_t)(p->count > 0 ? p->count : 1), sizeof *out->groups);
    for (int i = 0; i < p->count; i++) {
        const lra_param_entry *e = &p->entries[i];
        char name[sizeof out->groups[0].name];
        lra_model_param_group(e->name, name, sizeof name);
        int g = 0;
        while (g < out->count && strcmp(out->groups[g].name, name)) g++;
        if (g == out->count) snprintf(out->groups[out->count++].name, sizeof name, "%s", name);
        lra_param_group *grp = &out->groups[g];
        grp->tensors++;
        if (e->trainable) {
            grp->trainable += e->numel;
            out->trainable += e->numel;
        } else {
            grp->fixed += e->numel;
            out->fixed += e->numel;
        }
    }
}

void lra_model_summary_free(lra_model_summary *s) {
    free(s->groups);
    memset(s, 0, sizeof *s);
}

// 1234567 -> "1,234,567".
static const char *with_commas(int64_t v, char *buf, size_t cap) {
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)v);
    const size_t n = strlen(digits);
    size_t o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

void lra_model_summary_print(const lra_model *m, FILE *f, const char *prefix) {
    const lra_model_config *c = &m->cfg;
    const lra_encoder_config *e = &c->enc;
    fprintf(f, "%smodel: %d layer%s, dim %d, %d heads x %d, MLP %d, attention %s, length %lld, %d classes%s\n", prefix,
            e->layers, e->layers == 1 ? "" : "s", e->dim, e->heads, e->head_dim, e->hidden,
            e->kernel ? e->kernel->name : "?", (long long)e->seq_len, c->num_classes,
            c->dual ? " (dual encoder)" : "");
    lra_model_summary s;
    lra_model_summarize(&m->params, &s);
    char a[32], b[32];
    fprintf(f, "%s  %-20s %14s %12s %8s\n", prefix, "parameters", "trainable", "fixed", "tensors");
    for (int g = 0; g < s.count; g++)
        fprintf(f, "%s  %-20s %14s %12s %8d\n", prefix, s.groups[g].name, with_commas(s.groups[g].trainable, a, sizeof a),
                with_commas(s.groups[g].fixed, b, sizeof b), s.groups[g].tensors);
    fprintf(f, "%s  %-20s %14s %12s %8d\n", prefix, "total", with_commas(s.trainable, a, sizeof a),
            with_commas(s.fixed, b, sizeof b), m->params.count);
    lra_model_summary_free(&s);
}
