// safetensors writer and reader with a small JSON emitter and parser for the header (see
// safetensors.h).
#include "core/safetensors.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

#define MAX_HEADER ((uint64_t)100 * 1000 * 1000)  // the reference implementation's limit

// ---- dtypes ------------------------------------------------------------------------------------

static const struct {
    const char *name;
    size_t size;
    lra_container_dtype dt;  // 0: no container equivalent
} DTYPES[] = {
    {"F32", 4, LRA_CONTAINER_F32},  {"F64", 8, LRA_CONTAINER_F64}, {"I32", 4, LRA_CONTAINER_I32},
    {"I64", 8, LRA_CONTAINER_I64},  {"U8", 1, LRA_CONTAINER_U8},   {"U64", 8, LRA_CONTAINER_U64},
    {"BOOL", 1, 0}, {"I8", 1, 0},   {"I16", 2, 0}, {"U16", 2, 0},   {"U32", 4, 0},
    {"F16", 2, 0},  {"BF16", 2, 0}, {"F8_E5M2", 1, 0}, {"F8_E4M3", 1, 0},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

static const char *st_name_of(lra_container_dtype dt) {
    for (int i = 0; i < N_DTYPES; i++)
        if (DTYPES[i].dt == dt && dt != 0) return DTYPES[i].name;
    return NULL;
}

// ---- JSON text building ------------------------------------------------------------------------

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t k) {
    if (b->n + k + 1 > b->cap) {
        b->cap = (b->n + k + 1) * 2 + 64;
        b->p = lra_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, k);
    b->n += k;
    b->p[b->n] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_u64(sbuf *b, uint64_t v) {
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    sb_str(b, t);
}
// A JSON string literal.
static void sb_json_string(sbuf *b, const char *s) {
    sb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char t[2] = {'\\', (char)*p};
            sb_add(b, t, 2);
        } else if (*p < 0x20) {
            char t[8];
            snprintf(t, sizeof t, "\\u%04x", *p);
            sb_str(b, t);
        } else {
            sb_add(b, (const char *)p, 1);
        }
    }
    sb_add(b, "\"", 1);
}

// ---- writer ------------------------------------------------------------------------------------

lra_status lra_safetensors_write(const char *path, const lra_safetensors_tensor *t, int n, const char *const *meta,
                                 int n_meta) {
    LRA_ASSERT(path && (t || n == 0) && (meta || n_meta == 0));
    sbuf h = {0};
    sb_str(&h, "{");
    bool first = true;
    if (n_meta > 0) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, meta[2 * i]);
            sb_str(&h, ":");
            sb_json_string(&h, meta[2 * i + 1]);
        }
        sb_str(&h, "}");
        first = false;
    }
    uint64_t off = 0;
    uint64_t *sizes = lra_xmalloc((size_t)(n + 1) * sizeof *sizes);
    for (int i = 0; i < n; i++) {
        const char *dn = st_name_of(t[i].dtype);
        LRA_ASSERT_MSG(dn != NULL, "tensor '%s': dtype %d", t[i].name, (int)t[i].dtype);
        LRA_ASSERT_MSG(t[i].ndim >= 0 && t[i].ndim <= LRA_SAFETENSORS_MAX_DIMS, "tensor '%s': ndim", t[i].name);
        bool bad_name = !t[i].name[0] || !strcmp(t[i].name, "__metadata__");
        for (int j = 0; j < i && !bad_name; j++) bad_name = !strcmp(t[i].name, t[j].name);
        if (bad_name) {
            free(h.p);
            free(sizes);
            return lra_error(LRA_ERR_ARG, "%s: tensor name '%s' is empty, reserved or repeated", path, t[i].name);
        }
        uint64_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            LRA_ASSERT(t[i].shape[d] >= 0);
            count *= (uint64_t)t[i].shape[d];
        }
        sizes[i] = count * lra_container_dtype_size(t[i].dtype);
        if (!first) sb_str(&h, ",");
        first = false;
        sb_json_string(&h, t[i].name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, dn);
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            if (d) sb_str(&h, ",");
            sb_u64(&h, (uint64_t)t[i].shape[d]);
        }
        sb_str(&h, "],\"data_offsets\":[");
        sb_u64(&h, off);
        sb_str(&h, ",");
        sb_u64(&h, off + sizes[i]);
        sb_str(&h, "]}");
        off += sizes[i];
    }
    sb_str(&h, "}");
    while (h.n % 8) sb_str(&h, " ");  // the data area starts 8-byte aligned
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    lra_atomic_writer *w;
    lra_status s = lra_atomic_begin(&w, path);
    if (s == LRA_OK) {
        lra_atomic_write(w, len8, 8);
        lra_atomic_write(w, h.p, h.n);
        for (int i = 0; i < n; i++) lra_atomic_write(w, t[i].data, (size_t)sizes[i]);
        s = lra_atomic_commit(w);  // reports the first write error, if any
    }
    free(h.p);
    free(sizes);
    return s;
}

// ---- JSON parser -------------------------------------------------------------------------------

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jval {
    int type;
    char *str;           // J_STR; J_NUM: the literal text
    bool is_uint;        // J_NUM: a non-negative integer that fits in uint64
    uint64_t u;
    int n;               // J_ARR / J_OBJ
    char **keys;         // J_OBJ
    struct jval *items;
} jval;

typedef struct {
    const char *p, *end, *start;
    const char *path;
    lra_status err;
} jparser;

static void jfree(jval *v) {
    free(v->str);
    for (int i = 0; i < v->n; i++) {
        if (v->keys) free(v->keys[i]);
        jfree(&v->items[i]);
    }
    free(v->keys);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static bool jfail(jparser *j, const char *what) {
    if (j->err == LRA_OK)
        j->err = lra_error(LRA_ERR_FORMAT, "%s: bad safetensors header: %s at byte %ld of the JSON", j->path, what,
                           (long)(j->p - j->start));
    return false;
}

static void jws(jparser *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static void put_utf8(sbuf *b, uint32_t cp) {
    char t[4];
    size_t k;
    if (cp < 0x80) t[0] = (char)cp, k = 1;
    else if (cp < 0x800) t[0] = (char)(0xC0 | (cp >> 6)), t[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
    else if (cp < 0x10000)
        t[0] = (char)(0xE0 | (cp >> 12)), t[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), t[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
    else
        t[0] = (char)(0xF0 | (cp >> 18)), t[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), t[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
    sb_add(b, t, k);
}

static bool hex4(jparser *j, uint32_t *v) {
    if (j->end - j->p < 4) return jfail(j, "cut-short \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return jfail(j, "bad \\u escape");
        *v = (*v << 4) | (uint32_t)d;
    }
    return true;
}

static bool jstring(jparser *j, char **out) {
    j->p++;  // opening quote
    sbuf b = {0};
    sb_add(&b, "", 0);
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20) {
            free(b.p);
            return jfail(j, "control character in a string");
        }
        if (c != '\\') {
            sb_add(&b, j->p++, 1);
            continue;
        }
        j->p++;
        if (j->p >= j->end) break;
        char e = *j->p++;
        const char *m = strchr("\"\\/bfnrt", e);
        if (e && m) {
            const char *rep = "\"\\/\b\f\n\r\t";
            sb_add(&b, rep + (m - "\"\\/bfnrt"), 1);
        } else if (e == 'u') {
            uint32_t cp, lo;
            if (!hex4(j, &cp)) {
                free(b.p);
                return false;
            }
            if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u') {
                    free(b.p);
                    return jfail(j, "unpaired surrogate");
                }
                j->p += 2;
                if (!hex4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(b.p);
                    return jfail(j, "unpaired surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                free(b.p);
                return jfail(j, "unpaired surrogate");
            }
            if (cp == 0) {
                free(b.p);
                return jfail(j, "NUL character in a string");
            }
            put_utf8(&b, cp);
        } else {
            free(b.p);
            return jfail(j, "bad escape in a string");
        }
    }
    if (j->p >= j->end) {
        free(b.p);
        return jfail(j, "unterminated string");
    }
    j->p++;
    *out = b.p;
    return true;
}

static bool jvalue(jparser *j, jval *v, int depth);

static bool jcompound(jparser *j, jval *v, int depth, bool obj) {
    v->type = obj ? J_OBJ : J_ARR;
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        return true;
    }
    int cap = 0;
    for (;;) {
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = lra_xrealloc(v->items, (size_t)cap * sizeof *v->items);
            if (obj) v->keys = lra_xrealloc(v->keys, (size_t)cap * sizeof *v->keys);
        }
        jws(j);
        char *key = NULL;
        if (obj) {
            if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a \"key\"");
            if (!jstring(j, &key)) return false;
            jws(j);
            if (j->p >= j->end || *j->p != ':') {
                free(key);
                return jfail(j, "expected ':'");
            }
            j->p++;
        }
        memset(&v->items[v->n], 0, sizeof v->items[v->n]);
        if (obj) v->keys[v->n] = key;
        v->n++;
        if (!jvalue(j, &v->items[v->n - 1], depth + 1)) return false;
        jws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
            return true;
        }
        return jfail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool jvalue(jparser *j, jval *v, int depth) {
    memset(v, 0, sizeof *v);
    if (depth > 32) return jfail(j, "nesting too deep");
    jws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end");
    char c = *j->p;
    if (c == '{' || c == '[') return jcompound(j, v, depth, c == '{');
    if (c == '"') {
        v->type = J_STR;
        return jstring(j, &v->str);
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(words[i]);
        if ((size_t)(j->end - j->p) >= k && !memcmp(j->p, words[i], k)) {
            v->type = i < 2 ? J_BOOL : J_NULL;
            j->p += k;
            return true;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = j->p;
        if (*j->p == '-') j->p++;
        while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || strchr(".eE+-", *j->p))) j->p++;
        v->type = J_NUM;
        size_t k = (size_t)(j->p - s);
        v->str = lra_xmalloc(k + 1);
        memcpy(v->str, s, k);
        v->str[k] = '\0';
        v->is_uint = k > 0 && k <= 20;
        uint64_t u = 0;
        for (size_t i = 0; i < k && v->is_uint; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (d > 9 || u > (UINT64_MAX - d) / 10) v->is_uint = false;
            else u = u * 10 + d;
        }
        if (k > 1 && s[0] == '0') v->is_uint = false;  // JSON forbids leading zeros
        v->u = u;
        return true;
    }
    return jfail(j, "unexpected character");
}

static bool utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (extra < 0 || (c & 0xFE) == 0xC0 || (size_t)extra > n - 1 - i) return false;
        for (int k = 1; k <= extra; k++)
            if ((s[i + (size_t)k] & 0xC0) != 0x80) return false;
        i += (size_t)extra + 1;
    }
    return true;
}

// ---- reader ------------------------------------------------------------------------------------

typedef struct {
    char *key, *value;
} kv;

struct lra_safetensors {
    char *path;
    FILE *fp;
    uint64_t data_start;  // 8 + header length
    lra_safetensors_entry *e;
    int n;
    kv *meta;
    int n_meta;
};

void lra_safetensors_close(lra_safetensors *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    for (int i = 0; i < f->n; i++) {
        free((char *)f->e[i].name);
        free((char *)f->e[i].dtype_name);
    }
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->e);
    free(f->meta);
    free(f->path);
    free(f);
}

static const jval *jget(const jval *obj, const char *key) {
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return &obj->items[i];
    return NULL;
}

static int cmp_begin(const void *a, const void *b) {
    const lra_safetensors_entry *x = *(const lra_safetensors_entry *const *)a, *y = *(const lra_safetensors_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

// Fills f's entries and metadata from the parsed header and checks them against the data size.
static lra_status take_header(lra_safetensors *f, const jval *root, uint64_t data_bytes) {
    const char *path = f->path;
    if (root->type != J_OBJ) return lra_error(LRA_ERR_FORMAT, "%s: bad safetensors header: not a JSON object", path);
    f->e = lra_xcalloc((size_t)root->n + 1, sizeof *f->e);
    for (int i = 0; i < root->n; i++) {
        const char *name = root->keys[i];
        const jval *v = &root->items[i];
        for (int j = 0; j < i; j++)
            if (!strcmp(root->keys[j], name))
                return lra_error(LRA_ERR_FORMAT, "%s: bad safetensors header: '%s' appears twice", path, name);
        if (!strcmp(name, "__metadata__")) {
            if (v->type != J_OBJ)
                return lra_error(LRA_ERR_FORMAT, "%s: __metadata__ must be an object of strings", path);
            f->meta = lra_xcalloc((size_t)v->n + 1, sizeof *f->meta);
            for (int k = 0; k < v->n; k++) {
                if (v->items[k].type != J_STR)
                    return lra_error(LRA_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", path, v->keys[k]);
                f->meta[f->n_meta].key = lra_xstrdup(v->keys[k]);
                f->meta[f->n_meta].value = lra_xstrdup(v->items[k].str);
                f->n_meta++;
            }
            continue;
        }
        if (v->type != J_OBJ) return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", path, name);
        const jval *dt = jget(v, "dtype"), *sh = jget(v, "shape"), *of = jget(v, "data_offsets");
        if (!dt || dt->type != J_STR || !sh || sh->type != J_ARR || !of || of->type != J_ARR)
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': needs \"dtype\" (string), \"shape\" and \"data_offsets\" (lists)",
                             path, name);
        lra_safetensors_entry *e = &f->e[f->n];
        e->name = lra_xstrdup(name);
        e->dtype_name = lra_xstrdup(dt->str);
        f->n++;
        size_t esize = 0;
        for (int k = 0; k < N_DTYPES; k++)
            if (!strcmp(DTYPES[k].name, dt->str)) esize = DTYPES[k].size, e->dtype = DTYPES[k].dt;
        if (!esize) return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\"", path, name, dt->str);
        if (sh->n > LRA_SAFETENSORS_MAX_DIMS)
            return lra_error(LRA_ERR_UNSUPPORTED, "%s: tensor '%s': %d dimensions (at most %d)", path, name, sh->n,
                             LRA_SAFETENSORS_MAX_DIMS);
        e->ndim = sh->n;
        uint64_t count = 1;
        for (int d = 0; d < sh->n; d++) {
            const jval *x = &sh->items[d];
            if (x->type != J_NUM || !x->is_uint || x->u > (uint64_t)INT64_MAX)
                return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': shape entries must be non-negative integers", path, name);
            if (x->u != 0 && count > UINT64_MAX / x->u / esize)
                return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': shape too large", path, name);
            e->shape[d] = (int64_t)x->u;
            count *= x->u;
        }
        if (of->n != 2 || of->items[0].type != J_NUM || !of->items[0].is_uint || of->items[1].type != J_NUM ||
            !of->items[1].is_uint || of->items[1].u < of->items[0].u)
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end] with begin <= end",
                             path, name);
        e->begin = of->items[0].u;
        e->end = of->items[1].u;
        if (e->end - e->begin != count * esize)
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': data_offsets cover %llu bytes but shape and dtype need %llu",
                             path, name, (unsigned long long)(e->end - e->begin), (unsigned long long)(count * esize));
    }
    // The byte ranges must tile [0, data_bytes) with no gap or overlap.
    lra_safetensors_entry **order = lra_xmalloc((size_t)(f->n + 1) * sizeof *order);
    for (int i = 0; i < f->n; i++) order[i] = &f->e[i];
    qsort(order, (size_t)f->n, sizeof *order, cmp_begin);
    uint64_t at = 0;
    lra_status s = LRA_OK;
    for (int i = 0; i < f->n && s == LRA_OK; i++) {
        if (order[i]->begin != at)
            s = lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': data starts at %llu but the previous tensor ends at %llu "
                          "(overlap or gap)", path, order[i]->name, (unsigned long long)order[i]->begin,
                          (unsigned long long)at);
        at = order[i]->end;
    }
    free(order);
    LRA_TRY(s);
    if (at != data_bytes)
        return lra_error(LRA_ERR_FORMAT, "%s: the tensors cover %llu bytes but the file has %llu bytes of data (%s)",
                         path, (unsigned long long)at, (unsigned long long)data_bytes,
                         at > data_bytes ? "truncated file" : "trailing bytes");
    return LRA_OK;
}

lra_status lra_safetensors_open(lra_safetensors **out, const char *path) {
    LRA_ASSERT(out && path);
    *out = NULL;
    FILE *fp;
    LRA_TRY(lra_file_open(&fp, path, "rb"));
    lra_safetensors *f = lra_xcalloc(1, sizeof *f);
    f->fp = fp;
    f->path = lra_xstrdup(path);
    char *hdr = NULL;
    jval root = {0};
    lra_status s;
    int64_t size;
    unsigned char len8[8];
    if ((s = lra_file_seek(fp, path, 0, SEEK_END)) || (s = lra_file_tell(fp, path, &size)) ||
        (s = lra_file_seek(fp, path, 0, SEEK_SET)))
        goto done;
    if (size < 8) {
        s = lra_error(LRA_ERR_FORMAT, "%s: not a safetensors file: only %lld bytes", path, (long long)size);
        goto done;
    }
    if ((s = lra_file_read(fp, path, len8, 8))) goto done;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | len8[i];
    if (hlen > MAX_HEADER || hlen < 2) {
        s = lra_error(LRA_ERR_FORMAT, "%s: not a safetensors file: header length %llu is implausible", path,
                      (unsigned long long)hlen);
        goto done;
    }
    if (hlen > (uint64_t)size - 8) {
        s = lra_error(LRA_ERR_FORMAT, "%s: truncated safetensors file: the header needs %llu bytes, the file has %lld",
                      path, (unsigned long long)hlen, (long long)size - 8);
        goto done;
    }
    hdr = lra_xmalloc((size_t)hlen + 1);
    if ((s = lra_file_read(fp, path, hdr, (size_t)hlen))) goto done;
    hdr[hlen] = '\0';
    if (hdr[0] != '{' || !utf8_valid((const unsigned char *)hdr, (size_t)hlen)) {
        s = lra_error(LRA_ERR_FORMAT, "%s: not a safetensors file: the header is not a UTF-8 JSON object", path);
        goto done;
    }
    jparser j = {hdr, hdr + hlen, hdr, path, LRA_OK};
    if (!jvalue(&j, &root, 0)) {
        s = j.err;
        goto done;
    }
    jws(&j);
    if (j.p != j.end) {
        jfail(&j, "trailing characters after the JSON object");
        s = j.err;
        goto done;
    }
    f->data_start = 8 + hlen;
    s = take_header(f, &root, (uint64_t)size - f->data_start);
done:
    jfree(&root);
    free(hdr);
    if (s != LRA_OK) {
        lra_safetensors_close(f);
        return s;
    }
    *out = f;
    return LRA_OK;
}

int lra_safetensors_count(const lra_safetensors *f) { return f->n; }

const lra_safetensors_entry *lra_safetensors_entry_at(const lra_safetensors *f, int i) {
    LRA_ASSERT(i >= 0 && i < f->n);
    return &f->e[i];
}

const lra_safetensors_entry *lra_safetensors_find(const lra_safetensors *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].name, name)) return &f->e[i];
    return NULL;
}

const char *lra_safetensors_meta(const lra_safetensors *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

lra_status lra_safetensors_read(lra_safetensors *f, const char *name, lra_container_dtype dtype, int ndim,
                                const int64_t *shape, void *dst, size_t dst_bytes) {
    const lra_safetensors_entry *e = lra_safetensors_find(f, name);
    if (!e) return lra_error(LRA_ERR_FORMAT, "%s: no tensor named '%s'", f->path, name);
    if (e->dtype != dtype)
        return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s' has dtype %s but %s was expected", f->path, name,
                         e->dtype_name, st_name_of(dtype) ? st_name_of(dtype) : "?");
    bool ok = ndim < 0 || ndim == e->ndim;
    for (int d = 0; ok && shape && d < e->ndim; d++) ok = shape[d] == e->shape[d];
    if (!ok) {
        char have[160];
        size_t k = (size_t)snprintf(have, sizeof have, "[");
        for (int d = 0; d < e->ndim && k < sizeof have; d++)
            k += (size_t)snprintf(have + k, sizeof have - k, "%s%lld", d ? ", " : "", (long long)e->shape[d]);
        if (k < sizeof have) snprintf(have + k, sizeof have - k, "]");
        return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s' has shape %s, which is not the expected one (%d dims)",
                         f->path, name, have, ndim);
    }
    if (dst_bytes != e->end - e->begin)
        return lra_error(LRA_ERR_ARG, "%s: tensor '%s' has %llu bytes but the buffer has %zu", f->path, name,
                         (unsigned long long)(e->end - e->begin), dst_bytes);
    LRA_TRY(lra_file_seek(f->fp, f->path, (int64_t)(f->data_start + e->begin), SEEK_SET));
    return lra_file_read(f->fp, f->path, dst, dst_bytes);
}
