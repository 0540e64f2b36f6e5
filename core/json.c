// One-line JSON objects (see json.h).
#include "core/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"

static void put(lra_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(lra_json *j, const char *fmt, ...) {
    const size_t cap = sizeof j->buf - 2;  // room for the closing brace and NUL
    if (j->len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(j->buf + j->len, cap - j->len, fmt, ap);
    va_end(ap);
    if (n > 0) j->len = j->len + (size_t)n < cap ? j->len + (size_t)n : cap - 1;
}

static void key(lra_json *j, const char *k) { put(j, "%s\"%s\": ", j->fields++ ? ", " : "", k); }

void lra_json_begin(lra_json *j) {
    j->len = 0;
    j->fields = 0;
    j->buf[0] = '\0';
    put(j, "{");
}

void lra_json_int(lra_json *j, const char *k, long long v) {
    key(j, k);
    put(j, "%lld", v);
}

void lra_json_uint(lra_json *j, const char *k, unsigned long long v) {
    key(j, k);
    put(j, "%llu", v);
}

void lra_json_num(lra_json *j, const char *k, const char *fmt, double v) {
    key(j, k);
    if (!isfinite(v)) {
        put(j, "null");
        return;
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, fmt, v);
    put(j, "%s", tmp);
}

void lra_json_str(lra_json *j, const char *k, const char *v) {
    key(j, k);
    put(j, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            put(j, "\\%c", *p);
        else if (*p < 0x20)
            put(j, "\\u%04x", *p);
        else
            put(j, "%c", *p);
    }
    put(j, "\"");
}

void lra_json_bool(lra_json *j, const char *k, int v) {
    key(j, k);
    put(j, "%s", v ? "true" : "false");
}

const char *lra_json_end(lra_json *j) {
    j->buf[j->len++] = '}';
    j->buf[j->len] = '\0';
    return j->buf;
}

char *lra_json_end_with(lra_json *j, const char *fields) {
    const size_t n = strlen(fields);
    char *out = lra_xmalloc(j->len + n + 4);
    memcpy(out, j->buf, j->len);
    size_t o = j->len;
    if (n) {
        if (j->fields) {
            memcpy(out + o, ", ", 2);
            o += 2;
        }
        memcpy(out + o, fields, n);
        o += n;
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}
