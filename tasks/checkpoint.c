// Checkpoint save/load (see checkpoint.h).
#include "tasks/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
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

static lra_status save_all(lra_container_writer *w, const lra_model *m, const lra_train_state *st,
                           const char *config_yaml, const char *metrics_text) {
    LRA_TRY(lra_container_put_meta(w, "format", LRA_CHECKPOINT_FORMAT));
    LRA_TRY(put_int(w, "step", st->step));
    LRA_TRY(put_int(w, "optim_step", st->optim_step));
    LRA_TRY(put_int(w, "cursor_epoch", st->cursor.epoch));
    LRA_TRY(put_int(w, "cursor_position", st->cursor.position));
    LRA_TRY(put_int(w, "evals", st->evals));
    LRA_TRY(put_double(w, "stop_best", st->stop_best));
    LRA_TRY(put_int(w, "bad_evals", st->bad_evals));
    LRA_TRY(put_double(w, "best_value", st->best_value));
    LRA_TRY(put_int(w, "best_step", st->best_step));
    LRA_TRY(put_int(w, "finished", st->finished));
    LRA_TRY(put_int(w, "seed", (int64_t)st->seed));
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

static lra_status load_all(lra_container_reader *r, const char *path, lra_model *m, lra_train_state *st,
                           char **metrics_text) {
    int64_t v;
    LRA_TRY(get_int_in(r, path, "step", 0, INT64_MAX, &st->step));
    LRA_TRY(get_int_in(r, path, "optim_step", 0, INT64_MAX, &st->optim_step));
    LRA_TRY(get_int_in(r, path, "cursor_epoch", 0, INT64_MAX, &st->cursor.epoch));
    LRA_TRY(get_int_in(r, path, "cursor_position", 0, INT64_MAX, &st->cursor.position));
    LRA_TRY(get_int_in(r, path, "evals", 0, INT64_MAX, &st->evals));
    LRA_TRY(get_double(r, path, "stop_best", &st->stop_best));
    LRA_TRY(get_int_in(r, path, "bad_evals", 0, INT_MAX, &v));
    st->bad_evals = (int)v;
    LRA_TRY(get_double(r, path, "best_value", &st->best_value));
    LRA_TRY(get_int_in(r, path, "best_step", -1, INT64_MAX, &st->best_step));
    LRA_TRY(get_int_in(r, path, "finished", 0, 1, &v));
    st->finished = (int)v;
    // Saved as the int64 image of a uint64.
    LRA_TRY(get_int(r, path, "seed", &v));
    st->seed = (uint64_t)v;
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
