// Comparing resolved configs key by key (see config_diff.h).
#include "tasks/config_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

// One flattened "key: value" of a resolved config.
typedef struct {
    char *key, *value;
} kv;

typedef struct {
    kv *items;
    int count, cap;
} kv_list;

static void kv_add(kv_list *l, const char *key, const char *value, size_t value_len) {
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = lra_xrealloc(l->items, sizeof *l->items * (size_t)l->cap);
    }
    kv *e = &l->items[l->count++];
    e->key = lra_xstrdup(key);
    e->value = lra_xmalloc(value_len + 1);
    memcpy(e->value, value, value_len);
    e->value[value_len] = '\0';
}

static void kv_free(kv_list *l) {
    for (int i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
}

static const char *kv_find(const kv_list *l, const char *key) {
    for (int i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].key, key)) return l->items[i].value;
    return NULL;
}

// Length of a scalar value at v: a double-quoted string up to its closing quote, anything else up to
// a "  #" comment or the end of the line, without trailing blanks.
static size_t value_length(const char *v, size_t rest) {
    size_t n = 0;
    if (rest > 0 && v[0] == '"') {
        for (n = 1; n < rest && v[n] != '"'; n++)
            if (v[n] == '\\' && n + 1 < rest) n++;
        return n < rest ? n + 1 : n;
    }
    while (n < rest && !(v[n] == '#' && n > 0 && v[n - 1] == ' ')) n++;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\r')) n--;
    return n;
}

// The resolved YAML as dotted keys: two spaces per level, "key:" opens a section, "key: value" is a
// leaf; comment lines are skipped.  Lines that fit neither are ignored (the text is our own).
static void flatten(const char *yaml, kv_list *out) {
    enum { MAX_DEPTH = 16 };
    char path[MAX_DEPTH][128];
    int depth_open = 0;
    memset(out, 0, sizeof *out);
    for (const char *line = yaml; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t ind = 0;
        while (ind < len && line[ind] == ' ') ind++;
        const char *colon = memchr(line + ind, ':', len - ind);
        if (ind < len && line[ind] != '#' && colon && ind % 2 == 0 && (int)(ind / 2) < MAX_DEPTH) {
            int depth = (int)(ind / 2);
            if (depth <= depth_open) {
                size_t klen = (size_t)(colon - (line + ind));
                if (klen >= sizeof path[0]) klen = sizeof path[0] - 1;
                memcpy(path[depth], line + ind, klen);
                path[depth][klen] = '\0';
                const char *v = colon + 1;
                while (v < line + len && *v == ' ') v++;
                size_t rest = (size_t)(line + len - v);
                size_t vlen = value_length(v, rest);
                if (vlen == 0 || v[0] == '#') {
                    depth_open = depth + 1;  // a section: its keys follow, one level deeper
                } else {
                    char key[MAX_DEPTH * 130];
                    size_t k = 0;
                    for (int d = 0; d <= depth; d++)
                        k += (size_t)snprintf(key + k, sizeof key - k, "%s%s", d ? "." : "", path[d]);
                    kv_add(out, key, v, vlen);
                    depth_open = depth;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
}

static long long int_of(const kv_list *l, const char *key, long long def) {
    const char *v = kv_find(l, key);
    return v ? strtoll(v, NULL, 10) : def;
}

// The schedule length and warmup a config trains with (train.schedule_steps 0 means train.steps,
// train.warmup 0 a tenth of that), as tasks/settings.c resolves them.
static void effective_schedule(const kv_list *l, long long *length, long long *warmup) {
    *length = int_of(l, "train.schedule_steps", 0);
    if (*length == 0) *length = int_of(l, "train.steps", 0);
    *warmup = int_of(l, "train.warmup", 0);
    if (*warmup == 0) *warmup = *length / 10 > 0 ? *length / 10 : 1;
}

// Keys that only change how often the run logs, evaluates on the dev set or writes checkpoints, or how
// it reads its data: the weights of a resumed run do not depend on them.
static const char *const k_cadence_keys[] = {
    "train.log_every", "train.eval_every", "train.checkpoint_every", "train.checkpoint_minutes",
    "train.keep_checkpoints", "train.prefetch", "data.cache_dir",
};

static int allowed_change(const char *key, const kv_list *old, const kv_list *now) {
    for (size_t i = 0; i < sizeof k_cadence_keys / sizeof k_cadence_keys[0]; i++)
        if (!strcmp(key, k_cadence_keys[i])) return 1;
    long long lo, wo, ln, wn;
    effective_schedule(old, &lo, &wo);
    effective_schedule(now, &ln, &wn);
    const int same_schedule = lo == ln && wo == wn;
    // A longer run with the same learning-rate curve continues the same trajectory.
    if (!strcmp(key, "train.steps")) return same_schedule && int_of(now, key, 0) > int_of(old, key, 0);
    if (!strcmp(key, "train.schedule_steps") || !strcmp(key, "train.warmup")) return same_schedule;
    return 0;
}

static void add_change(lra_config_changes *c, const char *key, const char *o, const char *n, int allowed) {
    c->items = lra_xrealloc(c->items, sizeof *c->items * (size_t)(c->count + 1));
    lra_config_change *e = &c->items[c->count++];
    e->key = lra_xstrdup(key);
    e->old_value = o ? lra_xstrdup(o) : NULL;
    e->new_value = n ? lra_xstrdup(n) : NULL;
    e->allowed = allowed;
}

void lra_config_diff(const char *old_yaml, const char *new_yaml, lra_config_changes *out) {
    memset(out, 0, sizeof *out);
    kv_list a, b;
    flatten(old_yaml, &a);
    flatten(new_yaml, &b);
    for (int i = 0; i < b.count; i++) {
        const char *o = kv_find(&a, b.items[i].key);
        if (!o || strcmp(o, b.items[i].value))
            add_change(out, b.items[i].key, o, b.items[i].value, allowed_change(b.items[i].key, &a, &b));
    }
    for (int i = 0; i < a.count; i++)
        if (!kv_find(&b, a.items[i].key))
            add_change(out, a.items[i].key, a.items[i].value, NULL, allowed_change(a.items[i].key, &a, &b));
    kv_free(&a);
    kv_free(&b);
}

void lra_config_changes_free(lra_config_changes *c) {
    for (int i = 0; i < c->count; i++) {
        free(c->items[i].key);
        free(c->items[i].old_value);
        free(c->items[i].new_value);
    }
    free(c->items);
    memset(c, 0, sizeof *c);
}

int lra_config_changes_refused(const lra_config_changes *c) {
    int n = 0;
    for (int i = 0; i < c->count; i++) n += !c->items[i].allowed;
    return n;
}

char *lra_config_changes_describe(const lra_config_changes *c, int want_allowed) {
    size_t cap = 1, len = 0;
    for (int i = 0; i < c->count; i++)
        cap += strlen(c->items[i].key) + 32 + (c->items[i].old_value ? strlen(c->items[i].old_value) : 10) +
               (c->items[i].new_value ? strlen(c->items[i].new_value) : 10);
    char *s = lra_xmalloc(cap);
    s[0] = '\0';
    for (int i = 0; i < c->count; i++) {
        const lra_config_change *e = &c->items[i];
        if (e->allowed != want_allowed) continue;
        len += (size_t)snprintf(s + len, cap - len, "%s%s: %s -> %s", len ? "; " : "", e->key,
                                e->old_value ? e->old_value : "(absent)", e->new_value ? e->new_value : "(absent)");
    }
    return s;
}
