// Checkpoint save/load (see checkpoint.h).
#include "tasks/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/container.h"

void lra_train_state_init(lra_train_state *s, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->stop_best = 0;
    s->best_step = -1;
    s->seed = seed;
}

static lra_status put_int(lra_container_writer *w, const char *key, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return lra_container_put_meta(w, key, buf);
}

static lra_status put_double(lra_container_writer *w, const char *key, double v) {
    char buf[40];
    snprintf(buf, sizeof buf, "%a", v);  // hexadecimal: exact round trip
    return lra_container_put_meta(w, key, buf);
}

static lra_status put_text(lra_container_writer *w, const char *name, const char *text) {
    int64_t n = (int64_t)strlen(text ? text : "");
    return lra_container_put_tensor(w, name, LRA_CONTAINER_U8, 1, &n, text ? text : "");
}

// The training state in checkpoint metadata: one row per field of lra_train_state drives both save and
// load (a new field is one row here).  Integers are written in decimal and range-checked on load before
// they are narrowed; doubles in hexadecimal (exact round trip); the seed as the int64 image of a uint64.
typedef enum { FIELD_I64, FIELD_INT, FIELD_U64, FIELD_DOUBLE } field_kind;
typedef struct {
    const char *key;
    size_t offset;
    field_kind kind;
    int64_t lo, hi;  // accepted range of integer fields
} state_field;

#define FIELD(key, member, kind, lo, hi) {key, offsetof(lra_train_state, member), kind, lo, hi}
static const state_field STATE_FIELDS[] = {
    FIELD("step", step, FIELD_I64, 0, INT64_MAX),
    FIELD("optim_step", optim_step, FIELD_I64, 0, INT64_MAX),
    FIELD("cursor_epoch", cursor.epoch, FIELD_I64, 0, INT64_MAX),
    FIELD("cursor_position", cursor.position, FIELD_I64, 0, INT64_MAX),
    FIELD("evals", evals, FIELD_I64, 0, INT64_MAX),
    FIELD("stop_best", stop_best, FIELD_DOUBLE, 0, 0),
    FIELD("bad_evals", bad_evals, FIELD_INT, 0, INT_MAX),
    FIELD("best_value", best_value, FIELD_DOUBLE, 0, 0),
    FIELD("best_step", best_step, FIELD_I64, -1, INT64_MAX),
    FIELD("finished", finished, FIELD_INT, 0, 1),
    FIELD("seed", seed, FIELD_U64, INT64_MIN, INT64_MAX),
};
#undef FIELD

static lra_status save_state(lra_container_writer *w, const lra_train_state *st) {
    for (size_t i = 0; i < sizeof STATE_FIELDS / sizeof STATE_FIELDS[0]; i++) {
        const state_field *f = &STATE_FIELDS[i];
        const char *at = (const char *)st + f->offset;
        switch (f->kind) {
        case FIELD_I64: LRA_TRY(put_int(w, f->key, *(const int64_t *)(const void *)at)); break;
        case FIELD_INT: LRA_TRY(put_int(w, f->key, *(const int *)(const void *)at)); break;
        case FIELD_U64: LRA_TRY(put_int(w, f->key, (int64_t) * (const uint64_t *)(const void *)at)); break;
        case FIELD_DOUBLE: LRA_TRY(put_double(w, f->key, *(const double *)(const void *)at)); break;
        }
    }
    return LRA_OK;
}

static lra_status save_all(lra_container_writer *w, const lra_model *m, const lra_train_state *st,
                           const char *config_yaml, const char *metrics_text) {
    LRA_TRY(lra_container_put_meta(w, "format", LRA_CHECKPOINT_FORMAT));
    LRA_TRY(save_state(w, st));
    const lra_params *p = &m->params;
    for (int i = 0; i < p->count; i++) {
        char name[LRA_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "param/%s", p->entries[i].name);
        LRA_TRY(lra_container_put_tensor(w, name, LRA_CONTAINER_F32, p->entries[i].ndim, p->entries[i].shape,
                                         p->data + p->entries[i].offset));
    }
    int64_t total = (int64_t)p->total;
    LRA_TRY(lra_container_put_tensor(w, "optim/m", LRA_CONTAINER_F32, 1, &total, p->m));
    LRA_TRY(lra_container_put_tensor(w, "optim/v", LRA_CONTAINER_F32, 1, &total, p->v));
    LRA_TRY(put_text(w, "config", config_yaml));
    LRA_TRY(put_text(w, "metrics", metrics_text));
    return LRA_OK;
}

lra_status lra_checkpoint_save(const char *path, const lra_model *m, const lra_train_state *st, const char *config_yaml,
                               const char *metrics_text) {
    lra_container_writer *w = NULL;
    LRA_TRY(lra_container_begin(&w, path, -1));
    lra_status s = save_all(w, m, st, config_yaml, metrics_text);
    if (s) {
        lra_container_abort(w);
        return s;
    }
    return lra_container_commit(w);
}

static lra_status open_checked(const char *path, lra_container_reader **r) {
    LRA_TRY(lra_container_open(r, path));
    const char *fmt = lra_container_meta(*r, "format");
    if (!fmt || strcmp(fmt, LRA_CHECKPOINT_FORMAT)) {
        // The message is formatted before closing: fmt points into the reader.
        lra_status s = lra_error(LRA_ERR_FORMAT, "%s: not a training checkpoint (format \"%.64s\", expected \"%s\")",
                                 path, fmt ? fmt : "none", LRA_CHECKPOINT_FORMAT);
        lra_container_close(*r);
        *r = NULL;
        return s;
    }
    return LRA_OK;
}

static lra_status read_text(lra_container_reader *r, const char *path, const char *name, char **out) {
    const lra_container_entry *e = lra_container_find(r, name);
    if (!e) return lra_error(LRA_ERR_FORMAT, "%s: checkpoint has no '%s' entry", path, name);
    if (e->dtype != LRA_CONTAINER_U8)
        return lra_error(LRA_ERR_FORMAT, "%s: checkpoint entry '%s' has dtype %s but u8 text was expected", path, name,
                         lra_container_dtype_name(e->dtype));
    // The container already bounded raw_bytes by the stored bytes; + 1 must still not wrap.
    uint64_t cap;
    if (!lra_add_u64(e->raw_bytes, 1, &cap) || cap > SIZE_MAX)
        return lra_error(LRA_ERR_FORMAT, "%s: checkpoint entry '%s' declares %llu bytes, more than can be addressed",
                         path, name, (unsigned long long)e->raw_bytes);
    char *buf = malloc((size_t)cap);
    if (!buf)
        return lra_error(LRA_ERR_NOMEM, "%s: checkpoint entry '%s': cannot allocate %llu bytes", path, name,
                         (unsigned long long)cap);
    lra_status s = lra_container_read(r, name, LRA_CONTAINER_U8, 1, NULL, buf, (size_t)e->raw_bytes);
    if (s) {
        free(buf);
        return s;
    }
    buf[e->raw_bytes] = '\0';
    *out = buf;
    return LRA_OK;
}

lra_status lra_checkpoint_read_config(const char *path, char **config_yaml) {
    lra_container_reader *r = NULL;
    LRA_TRY(open_checked(path, &r));
    lra_status s = read_text(r, path, "config", config_yaml);
    lra_container_close(r);
    return s;
}

static lra_status get_int(lra_container_reader *r, const char *path, const char *key, int64_t *v) {
    const char *t = lra_container_meta(r, key);
    char *end = NULL;
    if (!t) return lra_error(LRA_ERR_FORMAT, "%s: checkpoint metadata lacks '%s'", path, key);
    errno = 0;
    *v = strtoll(t, &end, 10);
    if (end == t || *end || errno == ERANGE)
        return lra_error(LRA_ERR_FORMAT, "%s: metadata '%s' is not a 64-bit integer: \"%.64s\"", path, key, t);
    return LRA_OK;
}

// An integer metadata value that must lie in [lo, hi].
static lra_status get_int_in(lra_container_reader *r, const char *path, const char *key, int64_t lo, int64_t hi,
                             int64_t *v) {
    LRA_TRY(get_int(r, path, key, v));
    if (*v < lo || *v > hi)
        return lra_error(LRA_ERR_FORMAT, "%s: metadata '%s' is %lld, expected %lld..%lld", path, key, (long long)*v,
                         (long long)lo, (long long)hi);
    return LRA_OK;
}

static lra_status get_double(lra_container_reader *r, const char *path, const char *key, double *v) {
    const char *t = lra_container_meta(r, key);
    char *end = NULL;
    if (!t) return lra_error(LRA_ERR_FORMAT, "%s: checkpoint metadata lacks '%s'", path, key);
    *v = strtod(t, &end);
    if (end == t || *end) return lra_error(LRA_ERR_FORMAT, "%s: metadata '%s' is not a number: \"%.64s\"", path, key, t);
    return LRA_OK;
}

static lra_status load_state(lra_container_reader *r, const char *path, lra_train_state *st) {
    for (size_t i = 0; i < sizeof STATE_FIELDS / sizeof STATE_FIELDS[0]; i++) {
        const state_field *f = &STATE_FIELDS[i];
        char *at = (char *)st + f->offset;
        int64_t v = 0;
        if (f->kind == FIELD_DOUBLE) {
            LRA_TRY(get_double(r, path, f->key, (double *)(void *)at));
            continue;
        }
        LRA_TRY(get_int_in(r, path, f->key, f->lo, f->hi, &v));
        if (f->kind == FIELD_I64)
            *(int64_t *)(void *)at = v;
        else if (f->kind == FIELD_INT)
            *(int *)(void *)at = (int)v;
        else
            *(uint64_t *)(void *)at = (uint64_t)v;
    }
    return LRA_OK;
}

static lra_status load_all(lra_container_reader *r, const char *path, lra_model *m, lra_train_state *st,
                           char **metrics_text) {
    LRA_TRY(load_state(r, path, st));
    lra_params *p = &m->params;
    for (int i = 0; i < p->count; i++) {
        char name[LRA_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "param/%s", p->entries[i].name);
        lra_status s = lra_container_read(r, name, LRA_CONTAINER_F32, p->entries[i].ndim, p->entries[i].shape,
                                          p->data + p->entries[i].offset, (size_t)p->entries[i].numel * 4);
        if (s) return lra_error_context(s, "%s: parameter '%s' does not match this model: ", path, p->entries[i].name);
    }
    int64_t total = (int64_t)p->total;
    LRA_TRY(lra_container_read(r, "optim/m", LRA_CONTAINER_F32, 1, &total, p->m, p->total * 4));
    LRA_TRY(lra_container_read(r, "optim/v", LRA_CONTAINER_F32, 1, &total, p->v, p->total * 4));
    if (metrics_text) LRA_TRY(read_text(r, path, "metrics", metrics_text));
    return LRA_OK;
}

lra_status lra_checkpoint_load(const char *path, lra_model *m, lra_train_state *st, char **metrics_text) {
    lra_container_reader *r = NULL;
    LRA_TRY(open_checked(path, &r));
    lra_status s = load_all(r, path, m, st, metrics_text);
    lra_container_close(r);
    return s;
}
