// metrics.jsonl reader (see metrics_read.h): one flat JSON object per line, parsed by hand.
#include "tasks/metrics_read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

// The fields of one line that matter; the rest are checked for syntax and dropped.
typedef struct {
    int has_step, has_loss, has_acc, has_ms;
    int64_t step;
    char split[16];  // "train", "val", "test", ...; longer names are cut (and so ignored)
    int has_split;
    double loss, acc, ms;
} line_fields;

// A cursor over one line, for messages: name:line: ... at column col.
typedef struct {
    const char *name;
    int line;
    const char *start, *p, *end;
} cursor;

static lra_status fail(const cursor *c, const char *what) {
    return lra_error(LRA_ERR_FORMAT, "%s:%d: column %d: %s", c->name, c->line, (int)(c->p - c->start) + 1, what);
}

static void skip_space(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r')) c->p++;
}

// A JSON string; its unescaped text (cut to cap - 1 bytes) goes to out.  \u escapes are checked and
// kept as '?' (keys and split names are plain ASCII).
static lra_status parse_string(cursor *c, char *out, size_t cap) {
    if (c->p >= c->end || *c->p != '"') return fail(c, "expected '\"' (a string)");
    c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p;
        if ((unsigned char)ch < 0x20) return fail(c, "control character inside a string");
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end) break;
            const char e = *c->p;
            if (e == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (c->p + k >= c->end || !strchr("0123456789abcdefABCDEF", c->p[k]) || !c->p[k])
                        return fail(c, "expected 4 hex digits after \\u");
                c->p += 4;
                ch = '?';
            } else {
                const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
                const char *hit = e ? strchr(from, e) : NULL;
                if (!hit) return fail(c, "unknown escape in a string");
                ch = to[hit - from];
            }
        }
        if (n + 1 < cap) out[n++] = ch;
        c->p++;
    }
    if (c->p >= c->end) return fail(c, "unterminated string");
    c->p++;
    out[n] = 0;
    return LRA_OK;
}

// A JSON number (the strict grammar: no leading '+', no "inf"/"nan", no hex); *is_int says whether it
// had neither fraction nor exponent.
static lra_status parse_number(cursor *c, double *v, int *is_int) {
    const char *s = c->p;
    const char *q = s;
    if (q < c->end && *q == '-') q++;
    if (q >= c->end || *q < '0' || *q > '9') return fail(c, "expected a value (number, string, true, false or null)");
    if (*q == '0') q++;
    else
        while (q < c->end && *q >= '0' && *q <= '9') q++;
    *is_int = 1;
    if (q < c->end && *q == '.') {
        q++;
        *is_int = 0;
        if (q >= c->end || *q < '0' || *q > '9') return fail(c, "expected a digit after '.'");
        while (q < c->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < c->end && (*q == 'e' || *q == 'E')) {
        q++;
        *is_int = 0;
        if (q < c->end && (*q == '+' || *q == '-')) q++;
        if (q >= c->end || *q < '0' || *q > '9') return fail(c, "expected a digit in the exponent");
        while (q < c->end && *q >= '0' && *q <= '9') q++;
    }
    char buf[64];
    const size_t n = (size_t)(q - s);
    if (n >= sizeof buf) return fail(c, "number too long");
    memcpy(buf, s, n);
    buf[n] = 0;
    *v = strtod(buf, NULL);
    c->p = q;
    return LRA_OK;
}

static int take_word(cursor *c, const char *w) {
    const size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, w, n)) {
        c->p += n;
        return 1;
    }
    return 0;
}

// One value: a number (*kind 'n'), null ('0'), true/false ('b') or a string ('s', into str).
static lra_status parse_value(cursor *c, char *kind, double *num, int *is_int, char *str, size_t cap) {
    if (c->p < c->end && *c->p == '"') {
        *kind = 's';
        return parse_string(c, str, cap);
    }
    if (take_word(c, "null")) {
        *kind = '0';
        *num = NAN;
        return LRA_OK;
    }
    if (take_word(c, "true") || take_word(c, "false")) {
        *kind = 'b';
        return LRA_OK;
    }
    if (c->p < c->end && (*c->p == '{' || *c->p == '['))
        return fail(c, "nested objects and arrays are not expected in a metrics line");
    *kind = 'n';
    return parse_number(c, num, is_int);
}

// Stores a numeric field: a number or null, nothing else.
static lra_status want_number(const cursor *c, const char *key, char kind, double v, double *dst, int *has) {
    if (kind != 'n' && kind != '0') {
        char msg[96];
        snprintf(msg, sizeof msg, "\"%s\" must be a number or null", key);
        return fail(c, msg);
    }
    *dst = v;
    *has = 1;
    return LRA_OK;
}

static lra_status parse_line(cursor *c, line_fields *f) {
    memset(f, 0, sizeof *f);
    skip_space(c);
    if (c->p >= c->end || *c->p != '{') return fail(c, "expected '{' (one JSON object per line)");
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == '}') c->p++;
    else
        for (;;) {
            char key[32], str[32];
            skip_space(c);
            LRA_TRY(parse_string(c, key, sizeof key));
            skip_space(c);
            if (c->p >= c->end || *c->p != ':') return fail(c, "expected ':' after the key");
            c->p++;
            skip_space(c);
            const cursor at = *c;  // the value's column, for messages about it
            char kind = 0;
            double v = NAN;
            int is_int = 0;
            LRA_TRY(parse_value(c, &kind, &v, &is_int, str, sizeof str));
            if (!strcmp(key, "step")) {
                if (kind != 'n' || !is_int || v < 0 || v > 4e18)
                    return fail(&at, "\"step\" must be a non-negative integer");
                f->step = (int64_t)v;
                f->has_step = 1;
            } else if (!strcmp(key, "split")) {
                if (kind != 's') return fail(&at, "\"split\" must be a string");
                memcpy(f->split, str, sizeof f->split - 1);
                f->split[sizeof f->split - 1] = 0;
                f->has_split = 1;
            } else if (!strcmp(key, "loss")) {
                LRA_TRY(want_number(&at, key, kind, v, &f->loss, &f->has_loss));
            } else if (!strcmp(key, "accuracy")) {
                LRA_TRY(want_number(&at, key, kind, v, &f->acc, &f->has_acc));
            } else if (!strcmp(key, "ms_per_step")) {
                LRA_TRY(want_number(&at, key, kind, v, &f->ms, &f->has_ms));
            }
            skip_space(c);
            if (c->p < c->end && *c->p == ',') {
                c->p++;
                continue;
            }
            if (c->p < c->end && *c->p == '}') {
                c->p++;
                break;
            }
            return fail(c, "expected ',' or '}' after a value");
        }
    skip_space(c);
    if (c->p != c->end) return fail(c, "unexpected text after the object");
    if (!f->has_step) return fail(c, "the line has no \"step\"");
    if (!f->has_split) return fail(c, "the line has no \"split\"");
    return LRA_OK;
}

static void push(lra_metric_point **a, int *n, int *cap, lra_metric_point p) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *a = lra_xrealloc(*a, (size_t)*cap * sizeof **a);
    }
    (*a)[(*n)++] = p;
}

// Wall time at `step` from the training points (see the header): linear between them, at the last
// rate past the end, from (0, 0) before the first.
static double wall_at(const lra_metric_point *t, int n, int64_t step) {
    double s0 = 0, w0 = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].step >= step) {
            const double ds = (double)t[i].step - s0;
            return ds > 0 ? w0 + (t[i].wall_s - w0) * ((double)step - s0) / ds : t[i].wall_s;
        }
        s0 = (double)t[i].step;
        w0 = t[i].wall_s;
    }
    if (n == 0) return NAN;
    const double prev = n > 1 ? (double)t[n - 2].step : 0, prev_w = n > 1 ? t[n - 2].wall_s : 0;
    const double rate = s0 > prev ? (w0 - prev_w) / (s0 - prev) : 0;
    return w0 + rate * ((double)step - s0);
}

lra_status lra_metrics_parse(const char *text, size_t len, const char *name, lra_metric_series *out) {
    memset(out, 0, sizeof *out);
    int cap_t = 0, cap_d = 0, line = 0;
    double wall = 0;
    int have_time = 1;
    lra_status st = LRA_OK;
    for (size_t pos = 0; pos < len && !st;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        const size_t end = nl ? (size_t)(nl - text) : len;
        cursor c = {.name = name, .line = ++line, .start = text + pos, .p = text + pos, .end = text + end};
        pos = end + 1;
        const char *zero = memchr(c.start, 0, (size_t)(c.end - c.start));
        if (zero) {
            c.p = zero;
            st = fail(&c, "NUL byte in a text file");
            break;
        }
        skip_space(&c);
        if (c.p == c.end) continue;  // blank line
        line_fields f;
        if ((st = parse_line(&c, &f))) break;
        const int train = !strcmp(f.split, "train"), dev = !strcmp(f.split, "val");
        if (!train && !dev) continue;
        c.p = c.start;
        if (!f.has_loss || !f.has_acc) {
            st = fail(&c, "a train or val line needs \"loss\" and \"accuracy\"");
            break;
        }
        const lra_metric_point *prev = train ? (out->n_train ? &out->train[out->n_train - 1] : NULL)
                                             : (out->n_dev ? &out->dev[out->n_dev - 1] : NULL);
        if (prev && f.step < prev->step) {
            char msg[128];
            snprintf(msg, sizeof msg, "step %lld comes after step %lld of the same split", (long long)f.step,
                     (long long)prev->step);
            st = fail(&c, msg);
            break;
        }
        lra_metric_point p = {.step = f.step, .wall_s = NAN, .loss = f.loss, .accuracy = f.acc};
        if (train) {
            const int64_t since = f.step - (prev ? prev->step : 0);
            if (!f.has_ms || !isfinite(f.ms) || f.ms < 0) have_time = 0;
            else wall += f.ms * 1e-3 * (double)since;
            p.wall_s = have_time ? wall : NAN;
            push(&out->train, &out->n_train, &cap_t, p);
        } else {
            push(&out->dev, &out->n_dev, &cap_d, p);
        }
    }
    if (st) {
        lra_metric_series_free(out);
        return st;
    }
    for (int i = 0; i < out->n_dev; i++)
        out->dev[i].wall_s = have_time ? wall_at(out->train, out->n_train, out->dev[i].step) : NAN;
    return LRA_OK;
}

lra_status lra_metrics_read(const char *path, lra_metric_series *out) {
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t n = 0;
    LRA_TRY(lra_file_read_all(path, &text, &n));
    lra_status st = lra_metrics_parse(text, n, path, out);
    free(text);
    return st;
}

void lra_metric_series_free(lra_metric_series *s) {
    free(s->train);
    free(s->dev);
    memset(s, 0, sizeof *s);
}
