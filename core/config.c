// YAML config tree with locations, schema validation, --set overrides and resolved output
// (see config.h).
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/fileio.h"

// ---- tree --------------------------------------------------------------------------------------

enum { N_MAP, N_SEQ, N_SCALAR };

typedef struct cnode {
    int kind;
    char *text;            // scalar text
    bool plain;            // scalar was unquoted (numbers and bools must be plain)
    const char *origin;    // file name or "--set k=v" (owned by the config or schema)
    int line, col;         // of the value, 1-based; 0 when the origin has no lines
    char *key;             // name in the parent mapping
    int kline, kcol;       // place of that key
    struct cnode **kids;   // mapping values / sequence items
    int n, cap;
} cnode;

struct lra_config {
    cnode *root;
    char **origins;
    int n_origins;
    const lra_config_schema *schema;
    bool validated;
};

static cnode *node_new(int kind, const char *origin, int line, int col) {
    cnode *n = lra_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->origin = origin;
    n->line = line;
    n->col = col;
    return n;
}

static void node_free(cnode *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) node_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n->key);
    free(n);
}

static void node_add(cnode *parent, cnode *kid) {
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->kids = lra_xrealloc(parent->kids, (size_t)parent->cap * sizeof *parent->kids);
    }
    parent->kids[parent->n++] = kid;
}

static cnode *map_get(const cnode *m, const char *key, size_t keylen) {
    if (!m || m->kind != N_MAP) return NULL;
    for (int i = 0; i < m->n; i++)
        if (strlen(m->kids[i]->key) == keylen && !memcmp(m->kids[i]->key, key, keylen)) return m->kids[i];
    return NULL;
}

static bool is_null(const cnode *n) {
    if (n->kind != N_SCALAR || !n->plain) return false;
    const char *t = n->text;
    return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

// "file:line:col" or the bare origin.
static void node_loc(const cnode *n, bool at_key, char *buf, size_t cap) {
    int line = at_key ? n->kline : n->line, col = at_key ? n->kcol : n->col;
    if (line > 0)
        snprintf(buf, cap, "%s:%d:%d", n->origin, line, col);
    else
        snprintf(buf, cap, "%s", n->origin);
}

static const char *add_origin(lra_config *c, const char *origin) {
    c->origins = lra_xrealloc(c->origins, (size_t)(c->n_origins + 1) * sizeof *c->origins);
    c->origins[c->n_origins] = lra_xstrdup(origin);
    return c->origins[c->n_origins++];
}

static void pop_origin(lra_config *c) {
    LRA_ASSERT(c->n_origins > 0);
    free(c->origins[--c->n_origins]);
}

// ---- YAML -> tree ------------------------------------------------------------------------------

static lra_status yaml_syntax_error(const yaml_parser_t *p, const char *name, bool loc) {
    const yaml_mark_t *m = &p->problem_mark;
    if (!loc)  // a --set value: positions inside it would only confuse
        return lra_error(LRA_ERR_CONFIG, "%s: cannot parse the value as YAML: %s%s%s", name,
                         p->problem ? p->problem : "invalid YAML", p->context ? " " : "", p->context ? p->context : "");
    if (p->context)
        return lra_error(LRA_ERR_CONFIG, "%s:%zu:%zu: YAML syntax error: %s %s (line %zu)", name, m->line + 1,
                         m->column + 1, p->problem ? p->problem : "invalid YAML", p->context,
                         p->context_mark.line + 1);
    return lra_error(LRA_ERR_CONFIG, "%s:%zu:%zu: YAML syntax error: %s", name, m->line + 1, m->column + 1,
                     p->problem ? p->problem : "invalid YAML");
}

// What alias expansion may still produce: nodes and scalar bytes (see LRA_CONFIG_MAX_NODES).
typedef struct {
    uint64_t nodes, bytes;
} budget;

// Copies libyaml's document node `id` into our tree.  Aliases are expanded (depth-limited), and the
// whole expansion is bounded so that a few nested aliases cannot produce billions of nodes.
static lra_status convert(yaml_document_t *doc, int id, const char *origin, bool loc, int depth, budget *b,
                          cnode **out) {
    *out = NULL;
    yaml_node_t *y = yaml_document_get_node(doc, id);
    LRA_ASSERT(y != NULL);
    int line = loc ? (int)y->start_mark.line + 1 : 0, col = loc ? (int)y->start_mark.column + 1 : 0;
    if (depth > 64)
        return lra_error(LRA_ERR_CONFIG, "%s:%d:%d: nesting deeper than 64 levels (recursive alias?)", origin, line, col);
    uint64_t text = y->type == YAML_SCALAR_NODE ? (uint64_t)y->data.scalar.length : 0;
    if (b->nodes == 0 || b->bytes < text)
        return lra_error(LRA_ERR_CONFIG,
                         "%s:%d:%d: the YAML expands to more than %d nodes or %d bytes of text (aliases repeated "
                         "too often?)",
                         origin, line, col, LRA_CONFIG_MAX_NODES, LRA_CONFIG_MAX_TEXT);
    b->nodes--;
    b->bytes -= text;
    if (y->type == YAML_SCALAR_NODE) {
        cnode *n = node_new(N_SCALAR, origin, line, col);
        n->text = lra_xmalloc(y->data.scalar.length + 1);
        memcpy(n->text, y->data.scalar.value, y->data.scalar.length);
        n->text[y->data.scalar.length] = '\0';
        n->plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        *out = n;
        return LRA_OK;
    }
    if (y->type == YAML_SEQUENCE_NODE) {
        cnode *n = node_new(N_SEQ, origin, line, col);
        for (yaml_node_item_t *it = y->data.sequence.items.start; it < y->data.sequence.items.top; it++) {
            cnode *kid;
            lra_status s = convert(doc, *it, origin, loc, depth + 1, b, &kid);
            if (s != LRA_OK) {
                node_free(n);
                return s;
            }
            node_add(n, kid);
        }
        *out = n;
        return LRA_OK;
    }
    LRA_ASSERT(y->type == YAML_MAPPING_NODE);
    cnode *n = node_new(N_MAP, origin, line, col);
    for (yaml_node_pair_t *pr = y->data.mapping.pairs.start; pr < y->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        int kl = loc ? (int)k->start_mark.line + 1 : 0, kc = loc ? (int)k->start_mark.column + 1 : 0;
        lra_status s = LRA_OK;
        if (k->type != YAML_SCALAR_NODE) {
            s = lra_error(LRA_ERR_CONFIG, "%s:%d:%d: a mapping key must be a plain name, not a list or mapping",
                          origin, kl, kc);
        } else {
            const char *kt = (const char *)k->data.scalar.value;
            size_t klen = k->data.scalar.length;
            cnode *prev = map_get(n, kt, klen);
            if (klen == 0 || strlen(kt) != klen)
                s = lra_error(LRA_ERR_CONFIG, "%s:%d:%d: empty key", origin, kl, kc);
            else if (memchr(kt, '.', klen))
                s = lra_error(LRA_ERR_CONFIG,
                              "%s:%d:%d: key '%s' contains '.': write nested mappings (a: {b: 1}) instead of "
                              "dotted keys in files",
                              origin, kl, kc, kt);
            else if (prev)
                s = lra_error(LRA_ERR_CONFIG, "%s:%d:%d: duplicate key '%s' (first given at line %d)", origin, kl,
                              kc, kt, prev->kline);
            else if (b->bytes < klen)  // keys are copied with every expansion too
                s = lra_error(LRA_ERR_CONFIG,
                              "%s:%d:%d: the YAML expands to more than %d bytes of text (aliases repeated too often?)",
                              origin, kl, kc, LRA_CONFIG_MAX_TEXT);
            else {
                b->bytes -= klen;
                cnode *v;
                s = convert(doc, pr->value, origin, loc, depth + 1, b, &v);
                if (s == LRA_OK) {
                    v->key = lra_xstrdup(kt);
                    v->kline = kl;
                    v->kcol = kc;
                    node_add(n, v);
                }
            }
        }
        if (s != LRA_OK) {
            node_free(n);
            return s;
        }
    }
    *out = n;
    return LRA_OK;
}

// Parses one YAML document from text.  *out is NULL for an empty document.  loc: record line/col.
static lra_status parse_yaml(const char *text, size_t len, const char *origin, bool loc, cnode **out) {
    *out = NULL;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return lra_error(LRA_ERR_NOMEM, "%s: cannot initialise libyaml", origin);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_document_t doc;
    lra_status s = LRA_OK;
    if (!yaml_parser_load(&p, &doc)) {
        s = yaml_syntax_error(&p, origin, loc);
        yaml_parser_delete(&p);
        return s;
    }
    if (yaml_document_get_root_node(&doc)) {
        budget b = {LRA_CONFIG_MAX_NODES, LRA_CONFIG_MAX_TEXT};
        s = convert(&doc, 1, origin, loc, 0, &b, out);
        yaml_document_delete(&doc);
        if (s == LRA_OK) {
            yaml_document_t doc2;
            if (!yaml_parser_load(&p, &doc2)) {
                s = yaml_syntax_error(&p, origin, loc);
            } else {
                if (yaml_document_get_root_node(&doc2))
                    s = lra_error(LRA_ERR_CONFIG, "%s:%zu:%zu: a second YAML document ('---'): only one is allowed",
                                  origin, doc2.start_mark.line + 1, doc2.start_mark.column + 1);
                yaml_document_delete(&doc2);
            }
            if (s != LRA_OK) {
                node_free(*out);
                *out = NULL;
            }
        }
    } else {
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return s;
}

lra_config *lra_config_new_empty(void) {
    lra_config *c = lra_xcalloc(1, sizeof *c);
    c->root = node_new(N_MAP, add_origin(c, "(empty config)"), 0, 0);
    return c;
}

lra_status lra_config_parse(lra_config **out, const char *name, const char *text) {
    LRA_ASSERT(out && name && text);
    *out = NULL;
    lra_config *c = lra_xcalloc(1, sizeof *c);
    const char *origin = add_origin(c, name);
    cnode *root;
    lra_status s = parse_yaml(text, strlen(text), origin, true, &root);
    if (s == LRA_OK && root && !(root->kind == N_MAP || is_null(root))) {
        s = lra_error(LRA_ERR_CONFIG, "%s:%d:%d: the top level of a config must be a mapping of keys (key: value)",
                      origin, root->line, root->col);
        node_free(root);
    }
    if (s != LRA_OK) {
        lra_config_free(c);
        return s;
    }
    if (root && root->kind != N_MAP) {  // a document holding only "null"/"~"
        node_free(root);
        root = NULL;
    }
    c->root = root ? root : node_new(N_MAP, origin, 1, 1);
    *out = c;
    return LRA_OK;
}

lra_status lra_config_load(lra_config **out, const char *path) {
    LRA_ASSERT(out && path);
    *out = NULL;
    char *text;
    size_t size;
    LRA_TRY(lra_file_read_all(path, &text, &size));
    if (strlen(text) != size) {
        free(text);
        return lra_error(LRA_ERR_CONFIG, "%s: contains a NUL byte (not a text file?)", path);
    }
    lra_status s = lra_config_parse(out, path, text);
    free(text);
    return s;
}

void lra_config_free(lra_config *c) {
    if (!c) return;
    node_free(c->root);
    for (int i = 0; i < c->n_origins; i++) free(c->origins[i]);
    free(c->origins);
    free(c);
}

// ---- schema ------------------------------------------------------------------------------------

typedef struct {
    lra_config_key k;  // owned copies of the strings
    bool has_lo, has_hi, lo_incl, hi_incl;
    double lo, hi;
    bool int_lo, int_hi;  // the bound is an integer: ilo / ihi hold it exactly (INT keys compare in 64 bits)
    int64_t ilo, ihi;
    char **choices;
    int n_choices;
    cnode *defnode;    // parsed default or NULL
} sentry;

struct lra_config_schema {
    sentry *e;
    int n, cap;
};

lra_config_schema *lra_config_schema_new(void) { return lra_xcalloc(1, sizeof(lra_config_schema)); }

static void sentry_free(sentry *e) {
    free((char *)e->k.key);
    free((char *)e->k.def);
    free((char *)e->k.spec);
    free((char *)e->k.doc);
    for (int i = 0; i < e->n_choices; i++) free(e->choices[i]);
    free(e->choices);
    node_free(e->defnode);
}

void lra_config_schema_free(lra_config_schema *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) sentry_free(&s->e[i]);
    free(s->e);
    free(s);
}

int lra_config_schema_count(const lra_config_schema *s) { return s->n; }
const lra_config_key *lra_config_schema_at(const lra_config_schema *s, int i) {
    LRA_ASSERT(i >= 0 && i < s->n);
    return &s->e[i].k;
}

static const sentry *schema_get(const lra_config_schema *s, const char *key) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->e[i].k.key, key)) return &s->e[i];
    return NULL;
}

const lra_config_key *lra_config_schema_find(const lra_config_schema *s, const char *key) {
    const sentry *e = schema_get(s, key);
    return e ? &e->k : NULL;
}

// True when some key starts with "prefix." (i.e. prefix is a section).
static bool schema_is_section(const lra_config_schema *s, const char *prefix, size_t plen) {
    for (int i = 0; i < s->n; i++) {
        const char *k = s->e[i].k.key;
        if (strlen(k) > plen && !memcmp(k, prefix, plen) && k[plen] == '.') return true;
    }
    return false;
}

// Parses a bound of a range spec; an empty text or [+-]inf is unbounded.
static bool parse_bound(const char *t, size_t n, double *v, bool *has, bool *is_int, int64_t *iv) {
    while (n > 0 && isspace((unsigned char)*t)) t++, n--;
    while (n > 0 && isspace((unsigned char)t[n - 1])) n--;
    char buf[64];
    if (n >= sizeof buf) return false;
    memcpy(buf, t, n);
    buf[n] = '\0';
    if (n == 0 || !strcmp(buf, "inf") || !strcmp(buf, "+inf") || !strcmp(buf, "-inf")) {
        *has = false;
        return true;
    }
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    *is_int = *end == '\0' && errno == 0;
    *iv = (int64_t)x;
    errno = 0;
    *v = strtod(buf, &end);
    *has = true;
    return *end == '\0' && errno == 0 && isfinite(*v);
}

static void parse_range(sentry *e) {
    const char *sp = e->k.spec;
    size_t n = strlen(sp);
    const char *comma = strchr(sp, ',');
    bool ok = n >= 3 && (sp[0] == '[' || sp[0] == '(') && (sp[n - 1] == ']' || sp[n - 1] == ')') && comma;
    ok = ok && parse_bound(sp + 1, (size_t)(comma - sp - 1), &e->lo, &e->has_lo, &e->int_lo, &e->ilo);
    ok = ok && parse_bound(comma + 1, (size_t)(sp + n - 1 - comma - 1), &e->hi, &e->has_hi, &e->int_hi, &e->ihi);
    LRA_ASSERT_MSG(ok, "config key '%s': malformed range \"%s\" (use e.g. \"(0,inf)\", \"[1,)\", \"[0,1]\")",
                   e->k.key, sp);
    e->lo_incl = sp[0] == '[';
    e->hi_incl = sp[n - 1] == ']';
}

static void parse_choices(sentry *e) {
    const char *p = e->k.spec;
    LRA_ASSERT_MSG(p && *p, "config key '%s': an enum needs its choices \"a|b|c\" in spec", e->k.key);
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        LRA_ASSERT_MSG(len > 0, "config key '%s': empty choice in \"%s\"", e->k.key, e->k.spec);
        e->choices = lra_xrealloc(e->choices, (size_t)(e->n_choices + 1) * sizeof *e->choices);
        char *c = lra_xmalloc(len + 1);
        memcpy(c, p, len);
        c[len] = '\0';
        e->choices[e->n_choices++] = c;
        if (!bar) break;
        p = bar + 1;
    }
}

static char *dup_or_null(const char *s) { return s ? lra_xstrdup(s) : NULL; }

static int check_node(const sentry *e, const cnode *n, const cnode **bad, char *msg, size_t cap);

static lra_status schema_add_one(lra_config_schema *s, const char *prefix, const lra_config_key *k) {
    LRA_ASSERT(k->key && *k->key);
    size_t pl = strlen(prefix), kl = strlen(k->key);
    char *full = lra_xmalloc(pl + kl + 1);
    memcpy(full, prefix, pl);
    memcpy(full + pl, k->key, kl + 1);
    // A key is a dotted sequence of non-empty names.
    bool name_ok = full[0] != '.' && full[pl + kl - 1] != '.' && !strstr(full, "..");
    for (const char *p = full; *p && name_ok; p++)
        name_ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
    LRA_ASSERT_MSG(name_ok, "config key '%s': use names of letters, digits, '_' and '-' joined by '.'", full);
    const sentry *old = schema_get(s, full);
    if (old) {
        bool same = old->k.type == k->type && ((!old->k.def && !k->def) || (old->k.def && k->def && !strcmp(old->k.def, k->def))) &&
                    ((!old->k.spec && !k->spec) || (old->k.spec && k->spec && !strcmp(old->k.spec, k->spec)));
        lra_status st = same ? LRA_OK
                             : lra_error(LRA_ERR_ARG, "config key '%s' is declared twice with different types, "
                                                      "defaults or ranges", full);
        free(full);
        return st;
    }
    if (schema_is_section(s, full, strlen(full))) {
        lra_status st = lra_error(LRA_ERR_ARG, "config key '%s' is already a section of other keys", full);
        free(full);
        return st;
    }
    for (const char *dot = strchr(full, '.'); dot; dot = strchr(dot + 1, '.')) {
        char *sec = lra_xmalloc((size_t)(dot - full) + 1);
        memcpy(sec, full, (size_t)(dot - full));
        sec[dot - full] = '\0';
        bool clash = schema_get(s, sec) != NULL;
        free(sec);
        if (clash) {
            lra_status st = lra_error(LRA_ERR_ARG, "config key '%s' lies under another key's value", full);
            free(full);
            return st;
        }
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->e = lra_xrealloc(s->e, (size_t)s->cap * sizeof *s->e);
    }
    sentry *e = &s->e[s->n];
    memset(e, 0, sizeof *e);
    e->k.key = full;
    e->k.type = k->type;
    e->k.def = dup_or_null(k->def);
    e->k.spec = dup_or_null(k->spec);
    e->k.doc = lra_xstrdup(k->doc ? k->doc : "");
    e->k.flags = k->flags;
    if ((k->type == LRA_CONFIG_INT || k->type == LRA_CONFIG_FLOAT || k->type == LRA_CONFIG_FLOATS) && k->spec)
        parse_range(e);
    if (k->type == LRA_CONFIG_ENUM) parse_choices(e);
    if (k->def) {
        // Lists are parsed as YAML ("[0.9, 0.999]"); scalars are taken verbatim, like --set values.
        if (k->type == LRA_CONFIG_STRINGS || k->type == LRA_CONFIG_FLOATS) {
            lra_status ps = parse_yaml(k->def, strlen(k->def), "default", false, &e->defnode);
            LRA_ASSERT_MSG(ps == LRA_OK && e->defnode, "config key '%s': default \"%s\" is not a YAML list: %s", full,
                           k->def, lra_error_message());
        } else {
            e->defnode = node_new(N_SCALAR, "default", 0, 0);
            e->defnode->text = lra_xstrdup(k->def);
            e->defnode->plain = true;
        }
        const cnode *bad;
        char why[256];
        LRA_ASSERT_MSG(check_node(e, e->defnode, &bad, why, sizeof why) == 0, "config key '%s': default: %s", full,
                       why);
    }
    s->n++;
    return LRA_OK;
}

lra_status lra_config_schema_add_prefixed(lra_config_schema *s, const char *prefix, const lra_config_key *keys,
                                          int n) {
    LRA_ASSERT(s && prefix && (keys || n == 0));
    for (int i = 0; i < n; i++) LRA_TRY(schema_add_one(s, prefix, &keys[i]));
    return LRA_OK;
}

lra_status lra_config_schema_add(lra_config_schema *s, const lra_config_key *keys, int n) {
    return lra_config_schema_add_prefixed(s, "", keys, n);
}

// ---- values ------------------------------------------------------------------------------------

static bool parse_int(const char *t, int64_t *v) {
    const char *p = t;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return false;
    errno = 0;
    long long x = strtoll(t, NULL, 10);
    if (errno == ERANGE) return false;
    *v = (int64_t)x;
    return true;
}

static bool parse_float(const char *t, double *v) {
    if (!*t || isspace((unsigned char)*t)) return false;
    // Plain decimal syntax only (no hex floats, inf or nan).
    for (const char *q = t; *q; q++)
        if (!(isdigit((unsigned char)*q) || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-'))
            return false;
    char *end;
    errno = 0;
    double x = strtod(t, &end);
    if (*end != '\0' || !isfinite(x)) return false;
    *v = x;
    return true;
}

// For INT keys: exact 64-bit comparison against integer bounds (a double cannot tell 2^53 + 1 from 2^53).
static bool in_range_int(const sentry *e, int64_t x) {
    if (e->has_lo && e->int_lo ? (e->lo_incl ? x < e->ilo : x <= e->ilo)
                               : (e->has_lo && (e->lo_incl ? (double)x < e->lo : (double)x <= e->lo)))
        return false;
    if (e->has_hi && e->int_hi ? (e->hi_incl ? x > e->ihi : x >= e->ihi)
                               : (e->has_hi && (e->hi_incl ? (double)x > e->hi : (double)x >= e->hi)))
        return false;
    return true;
}

static bool in_range(const sentry *e, double x) {
    if (e->has_lo && (e->lo_incl ? x < e->lo : x <= e->lo)) return false;
    if (e->has_hi && (e->hi_incl ? x > e->hi : x >= e->hi)) return false;
    return true;
}

// Shortest decimal text that reads back as exactly v.
static void fmt_double(double v, char *buf, size_t cap) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

// "> 0", ">= 1", "in [0, 1)", or "" when unbounded.
static void range_text(const sentry *e, char *buf, size_t cap) {
    char lo[40], hi[40];
    fmt_double(e->lo, lo, sizeof lo);
    fmt_double(e->hi, hi, sizeof hi);
    if (e->has_lo && e->has_hi)
        snprintf(buf, cap, "in %c%s, %s%c", e->lo_incl ? '[' : '(', lo, hi, e->hi_incl ? ']' : ')');
    else if (e->has_lo)
        snprintf(buf, cap, "%s %s", e->lo_incl ? ">=" : ">", lo);
    else if (e->has_hi)
        snprintf(buf, cap, "%s %s", e->hi_incl ? "<=" : "<", hi);
    else
        snprintf(buf, cap, "%s", "");
}

// "a number > 0", "an integer in [1, 8]", "one of a, b", ...
static void describe(const sentry *e, char *buf, size_t cap) {
    const lra_config_type t = e->k.type;
    switch (t) {
    case LRA_CONFIG_BOOL: snprintf(buf, cap, "true or false"); return;
    case LRA_CONFIG_STRING: snprintf(buf, cap, "a string"); return;
    case LRA_CONFIG_STRINGS: snprintf(buf, cap, "a list of strings"); return;
    case LRA_CONFIG_ENUM: {
        size_t k = (size_t)snprintf(buf, cap, "one of ");
        for (int i = 0; i < e->n_choices && k < cap; i++)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", e->choices[i]);
        return;
    }
    case LRA_CONFIG_INT:
    case LRA_CONFIG_FLOAT:
    case LRA_CONFIG_FLOATS: {
        const char *what = t == LRA_CONFIG_INT ? "an integer" : t == LRA_CONFIG_FLOATS ? "a list of numbers" : "a number";
        char r[100];
        range_text(e, r, sizeof r);
        snprintf(buf, cap, "%s%s%s", what, *r ? " " : "", r);
        return;
    }
    }
}

// How a value looks in a message: "abc" (quoted, cut at 60 bytes), a list, a mapping, an empty value.
static void show(const cnode *n, char *buf, size_t cap) {
    if (n->kind == N_MAP) {
        snprintf(buf, cap, "a mapping");
    } else if (n->kind == N_SEQ) {
        snprintf(buf, cap, "a list");
    } else if (is_null(n)) {
        snprintf(buf, cap, "an empty value");
    } else {
        size_t len = strlen(n->text);
        snprintf(buf, cap, "%s\"%.*s%s\"", n->plain ? "" : "the quoted string ", len > 60 ? 60 : (int)len, n->text,
                 len > 60 ? "..." : "");
    }
}

static size_t levenshtein(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na > 200 || nb > 200) return (size_t)-1;
    size_t row[201];
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

// The closest of `cands` to `word`, or NULL when none is close.  Same last component ("train.dropout"
// vs "model.dropout") counts as close.
static const char *closest(const char *word, const char *const *cands, int n) {
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    const char *wl = strrchr(word, '.');
    wl = wl ? wl + 1 : word;
    size_t limit = 1 + strlen(wl) / 4;
    if (limit > 3) limit = 3;
    for (int i = 0; i < n; i++) {
        size_t d = levenshtein(word, cands[i]);
        const char *cl = strrchr(cands[i], '.');
        cl = cl ? cl + 1 : cands[i];
        if (d > 1 && wl != word && !strcmp(wl, cl)) d = 1;
        if (d > 1 && strcasecmp(word, cands[i]) == 0) d = 1;
        if (d <= limit && d < bestd) best = cands[i], bestd = d;
    }
    return best;
}

// Checks one value against its declaration.  On failure fills msg ("expected ..., got ...") and
// *bad (the offending node: the value or a list element) and returns -1.
static int check_node(const sentry *e, const cnode *n, const cnode **bad, char *msg, size_t cap) {
    char want[512], got[128];
    *bad = n;
    lra_config_type t = e->k.type;
    if (t == LRA_CONFIG_STRINGS || t == LRA_CONFIG_FLOATS) {
        if (n->kind != N_SEQ) {
            describe(e, want, sizeof want);
            show(n, got, sizeof got);
            snprintf(msg, cap, "expected %s such as [a, b], got %s", want, got);
            return -1;
        }
        for (int i = 0; i < n->n; i++) {
            const cnode *it = n->kids[i];
            double x;
            bool ok = it->kind == N_SCALAR;
            if (ok && t == LRA_CONFIG_FLOATS) ok = it->plain && parse_float(it->text, &x) && in_range(e, x);
            if (!ok) {
                if (t == LRA_CONFIG_FLOATS) {
                    char r[100];
                    range_text(e, r, sizeof r);
                    snprintf(want, sizeof want, "a number%s%s", *r ? " " : "", r);
                } else {
                    snprintf(want, sizeof want, "a string");
                }
                show(it, got, sizeof got);
                snprintf(msg, cap, "element %d: expected %s, got %s", i + 1, want, got);
                *bad = it;
                return -1;
            }
        }
        return 0;
    }
    bool ok = n->kind == N_SCALAR && (t == LRA_CONFIG_STRING || (n->plain && !is_null(n)) ||
                                      (t == LRA_CONFIG_ENUM && !is_null(n)));
    const char *hint = "";
    char hintbuf[160] = "";
    if (ok) {
        const char *tx = n->text;
        int64_t iv;
        double fv;
        switch (t) {
        case LRA_CONFIG_BOOL:
            ok = !strcmp(tx, "true") || !strcmp(tx, "false");
            if (!ok && (!strcasecmp(tx, "yes") || !strcasecmp(tx, "no") || !strcasecmp(tx, "on") ||
                        !strcasecmp(tx, "off") || !strcasecmp(tx, "true") || !strcasecmp(tx, "false")))
                hint = " (write true or false in lower case)";
            break;
        case LRA_CONFIG_INT:
            ok = parse_int(tx, &iv) && in_range_int(e, iv);
            if (!parse_int(tx, &iv) && parse_float(tx, &fv)) {
                bool digits = true;  // all digits but too long for int64
                for (const char *q = (*tx == '-' || *tx == '+') ? tx + 1 : tx; *q && digits; q++)
                    digits = isdigit((unsigned char)*q);
                hint = digits ? " (beyond the 64-bit integer range)" : " (an integer has no decimal point or exponent)";
            }
            break;
        case LRA_CONFIG_FLOAT: ok = parse_float(tx, &fv) && in_range(e, fv); break;
        case LRA_CONFIG_ENUM: {
            ok = false;
            for (int i = 0; i < e->n_choices && !ok; i++) ok = !strcmp(tx, e->choices[i]);
            const char *near = ok ? NULL : closest(tx, (const char *const *)e->choices, e->n_choices);
            if (near) {
                snprintf(hintbuf, sizeof hintbuf, " (did you mean '%s'?)", near);
                hint = hintbuf;
            }
            break;
        }
        default: break;
        }
    } else if (n->kind == N_SCALAR && !n->plain && t != LRA_CONFIG_STRING) {
        hint = " (remove the quotes)";
    }
    if (ok) return 0;
    describe(e, want, sizeof want);
    show(n, got, sizeof got);
    snprintf(msg, cap, "expected %s, got %s%s", want, got, hint);
    return -1;
}

// ---- validation --------------------------------------------------------------------------------

typedef struct {
    char buf[1900];
    size_t len;
    int count, dropped;
} err_list;

static void err_add(err_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_add(err_list *l, const char *fmt, ...) {
    char line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    if (l->len + n + 2 > sizeof l->buf - 40) {
        l->dropped++;
        return;
    }
    if (l->count) l->buf[l->len++] = '\n';
    memcpy(l->buf + l->len, line, n + 1);
    l->len += n;
    l->count++;
}

static void validate_map(const lra_config_schema *s, const cnode *m, const char *prefix, err_list *errs,
                         const char *const *all_keys, int n_all) {
    for (int i = 0; i < m->n; i++) {
        const cnode *kid = m->kids[i];
        char path[512], where[600];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", kid->key);
        const sentry *e = schema_get(s, path);
        if (e) {
            const cnode *bad;
            char why[900];
            if (check_node(e, kid, &bad, why, sizeof why) != 0) {
                node_loc(bad, false, where, sizeof where);
                err_add(errs, "%s: key '%s': %s", where, path, why);
            }
        } else if (schema_is_section(s, path, strlen(path))) {
            if (kid->kind == N_MAP) {
                validate_map(s, kid, path, errs, all_keys, n_all);
            } else if (!is_null(kid)) {  // `section:` with nothing under it is fine
                char got[128];
                show(kid, got, sizeof got);
                node_loc(kid, false, where, sizeof where);
                err_add(errs, "%s: key '%s': expected a mapping of keys (a section), got %s", where, path, got);
            }
        } else {
            const char *near = closest(path, all_keys, n_all);
            node_loc(kid, true, where, sizeof where);
            if (near)
                err_add(errs, "%s: unknown key '%s' (did you mean '%s'?)", where, path, near);
            else
                err_add(errs, "%s: unknown key '%s' (no similar key is declared)", where, path);
        }
    }
}

static const cnode *lookup(const cnode *root, const char *key) {
    const cnode *n = root;
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        n = map_get(n, p, len);
        if (!n || !dot) return n;
        p = dot + 1;
    }
}

lra_status lra_config_validate(lra_config *c, const lra_config_schema *s) {
    LRA_ASSERT(c && s);
    c->validated = false;
    c->schema = s;
    // Candidates for "did you mean": every key and every section ("model.attention").
    int n_all = 0, cap_all = s->n + 8;
    char **all = lra_xmalloc((size_t)cap_all * sizeof *all);
    for (int i = 0; i < s->n; i++) {
        const char *k = s->e[i].k.key;
        for (const char *dot = strchr(k, '.');; dot = strchr(dot + 1, '.')) {
            size_t len = dot ? (size_t)(dot - k) : strlen(k);
            bool dup = false;
            for (int j = 0; j < n_all && !dup; j++) dup = strlen(all[j]) == len && !memcmp(all[j], k, len);
            if (!dup) {
                if (n_all == cap_all) all = lra_xrealloc(all, (size_t)(cap_all *= 2) * sizeof *all);
                all[n_all] = lra_xmalloc(len + 1);
                memcpy(all[n_all], k, len);
                all[n_all++][len] = '\0';
            }
            if (!dot) break;
        }
    }
    err_list *errs = lra_xcalloc(1, sizeof *errs);
    validate_map(s, c->root, "", errs, (const char *const *)all, n_all);
    for (int i = 0; i < s->n; i++) {
        if (!(s->e[i].k.flags & LRA_CONFIG_REQUIRED)) continue;
        const cnode *n = lookup(c->root, s->e[i].k.key);
        if (!n) err_add(errs, "%s: missing required key '%s' (%s)", c->root->origin, s->e[i].k.key, s->e[i].k.doc);
    }
    for (int i = 0; i < n_all; i++) free(all[i]);
    free(all);
    lra_status st = LRA_OK;
    if (errs->count) {
        if (errs->dropped) snprintf(errs->buf + errs->len, sizeof errs->buf - errs->len, "\n... and %d more errors", errs->dropped);
        st = lra_error(LRA_ERR_CONFIG, "%s", errs->buf);
    } else {
        c->validated = true;
    }
    free(errs);
    return st;
}

// ---- --set -------------------------------------------------------------------------------------

static bool is_name_char(char ch) { return isalnum((unsigned char)ch) || ch == '_' || ch == '-'; }

lra_status lra_config_set(lra_config *c, const char *assignment) {
    LRA_ASSERT(c && assignment);
    c->validated = false;
    char origin_text[600];
    snprintf(origin_text, sizeof origin_text, "--set %s", assignment);
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return lra_error(LRA_ERR_CONFIG, "%s: expected KEY=VALUE, e.g. --set train.lr=3e-4", origin_text);
    size_t klen = (size_t)(eq - assignment);
    bool ok = assignment[0] != '.' && assignment[klen - 1] != '.';
    for (size_t i = 0; i < klen && ok; i++)
        ok = is_name_char(assignment[i]) || (assignment[i] == '.' && assignment[i + 1] != '.');
    if (!ok)
        return lra_error(LRA_ERR_CONFIG, "%s: bad key '%.*s' (names of letters, digits, '_' and '-' joined by '.')",
                         origin_text, (int)klen, assignment);
    const char *origin = add_origin(c, origin_text);
    const char *value = eq + 1;
    // Flow collections and quoted scalars are parsed as YAML; anything else is taken as plain text,
    // so that "a: b", "#x" or "x, y" need no shell-level YAML quoting.
    cnode *v = NULL;
    if (value[0] == '[' || value[0] == '{' || value[0] == '"' || value[0] == '\'') {
        lra_status s = parse_yaml(value, strlen(value), origin, false, &v);
        if (s != LRA_OK) {
            pop_origin(c);
            return s;
        }
    }
    if (!v) {
        v = node_new(N_SCALAR, origin, 0, 0);
        v->text = lra_xstrdup(value);
        v->plain = true;
    }
    // Walk/create the sections.
    cnode *m = c->root;
    const char *p = assignment;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(eq - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(eq - p);
        cnode *kid = map_get(m, p, len);
        if (!dot) {
            char *key = lra_xmalloc(len + 1);
            memcpy(key, p, len);
            key[len] = '\0';
            v->key = key;
            if (kid) {  // replace in place, keeping the key's order
                for (int i = 0; i < m->n; i++)
                    if (m->kids[i] == kid) m->kids[i] = v;
                node_free(kid);
            } else {
                node_add(m, v);
            }
            return LRA_OK;
        }
        if (kid && is_null(kid)) {  // "section:" with nothing under it
            kid->kind = N_MAP;
            free(kid->text);
            kid->text = NULL;
        }
        if (kid && kid->kind != N_MAP) {
            char where[600];
            node_loc(kid, false, where, sizeof where);
            node_free(v);
            lra_status st = lra_error(LRA_ERR_CONFIG, "%s: '%.*s' holds a value (at %s), not a mapping of keys",
                                      origin, (int)(dot - assignment), assignment, where);
            pop_origin(c);  // nothing refers to it: sections are only created below existing mappings
            return st;
        }
        if (!kid) {
            kid = node_new(N_MAP, origin, 0, 0);
            kid->key = lra_xmalloc(len + 1);
            memcpy(kid->key, p, len);
            kid->key[len] = '\0';
            node_add(m, kid);
        }
        m = kid;
        p = dot + 1;
    }
}

// ---- getters -----------------------------------------------------------------------------------

// The node giving the key's value (set or default) after validation; NULL when unset.
static const cnode *value_of(const lra_config *c, const char *key, const sentry **ep, lra_config_type t1,
                             lra_config_type t2) {
    LRA_ASSERT_MSG(c->validated && c->schema, "config read before lra_config_validate succeeded (key '%s')", key);
    const sentry *e = schema_get(c->schema, key);
    LRA_ASSERT_MSG(e != NULL, "config key '%s' is not declared in the schema", key);
    LRA_ASSERT_MSG(e->k.type == t1 || e->k.type == t2, "config key '%s' read with the wrong type", key);
    *ep = e;
    const cnode *n = lookup(c->root, key);
    return n ? n : e->defnode;
}

bool lra_config_bool(const lra_config *c, const char *key) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_BOOL, LRA_CONFIG_BOOL);
    LRA_ASSERT_MSG(n != NULL, "config key '%s' has no value and no default", key);
    return !strcmp(n->text, "true");
}

int64_t lra_config_int(const lra_config *c, const char *key) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_INT, LRA_CONFIG_INT);
    LRA_ASSERT_MSG(n != NULL, "config key '%s' has no value and no default", key);
    int64_t v = 0;
    LRA_ASSERT(parse_int(n->text, &v));
    return v;
}

double lra_config_float(const lra_config *c, const char *key) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_FLOAT, LRA_CONFIG_INT);
    LRA_ASSERT_MSG(n != NULL, "config key '%s' has no value and no default", key);
    double v = 0;
    LRA_ASSERT(parse_float(n->text, &v));
    return v;
}

const char *lra_config_string(const lra_config *c, const char *key) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_STRING, LRA_CONFIG_ENUM);
    if (n && is_null(n)) return "";  // `key:`, `key: ~` and `key: null` of a string mean ""
    return n ? n->text : NULL;
}

int lra_config_enum(const lra_config *c, const char *key) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_ENUM, LRA_CONFIG_ENUM);
    LRA_ASSERT_MSG(n != NULL, "config key '%s' has no value and no default", key);
    for (int i = 0; i < e->n_choices; i++)
        if (!strcmp(n->text, e->choices[i])) return i;
    LRA_ASSERT_MSG(0, "config key '%s': value not among the choices", key);
    return -1;
}

int lra_config_list_len(const lra_config *c, const char *key) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_STRINGS, LRA_CONFIG_FLOATS);
    return n ? n->n : 0;
}

const char *lra_config_list_string(const lra_config *c, const char *key, int i) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_STRINGS, LRA_CONFIG_STRINGS);
    LRA_ASSERT_MSG(n && i >= 0 && i < n->n, "config key '%s': element %d out of range", key, i);
    return n->kids[i]->text;
}

double lra_config_list_float(const lra_config *c, const char *key, int i) {
    const sentry *e;
    const cnode *n = value_of(c, key, &e, LRA_CONFIG_FLOATS, LRA_CONFIG_FLOATS);
    LRA_ASSERT_MSG(n && i >= 0 && i < n->n, "config key '%s': element %d out of range", key, i);
    double v = 0;
    LRA_ASSERT(parse_float(n->kids[i]->text, &v));
    return v;
}

bool lra_config_is_set(const lra_config *c, const char *key) { return lookup(c->root, key) != NULL; }

void lra_config_where(const lra_config *c, const char *key, char *buf, size_t cap) {
    const cnode *n = lookup(c->root, key);
    if (n)
        node_loc(n, false, buf, cap);
    else
        snprintf(buf, cap, "default");
}

lra_status lra_config_error(const lra_config *c, const char *key, const char *fmt, ...) {
    char where[600], msg[1024];
    const cnode *n = lookup(c->root, key);
    if (n)
        node_loc(n, false, where, sizeof where);
    else
        snprintf(where, sizeof where, "%s (default)", c->root->origin);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lra_error(LRA_ERR_CONFIG, "%s: key '%s': %s", where, key, msg);
}

// ---- output ------------------------------------------------------------------------------------

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        LRA_ASSERT(k >= 0);
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->p = lra_xrealloc(b->p, b->cap);
    }
}

// A scalar as YAML text that reads back as the same value of type t.
static void emit_scalar(sbuf *b, lra_config_type t, const char *text) {
    if (t == LRA_CONFIG_FLOAT || t == LRA_CONFIG_FLOATS) {
        double v = 0;
        LRA_ASSERT(parse_float(text, &v));
        char tmp[40];
        fmt_double(v, tmp, sizeof tmp);
        sb_printf(b, "%s", tmp);
        return;
    }
    if (t == LRA_CONFIG_BOOL || t == LRA_CONFIG_INT) {
        sb_printf(b, "%s", text);
        return;
    }
    bool plain = *text && (isalpha((unsigned char)*text) || *text == '_');
    for (const char *p = text; *p && plain; p++) plain = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
    if (plain && (!strcmp(text, "true") || !strcmp(text, "false") || !strcmp(text, "null") ||
                  !strcasecmp(text, "yes") || !strcasecmp(text, "no") || !strcasecmp(text, "on") ||
                  !strcasecmp(text, "off") || !strcasecmp(text, "null")))
        plain = false;
    if (plain) {
        sb_printf(b, "%s", text);
        return;
    }
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if (*p == '\n')
            sb_printf(b, "\\n");
        else if (*p == '\t')
            sb_printf(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            sb_printf(b, "\\x%02x", *p);
        else
            sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

static void emit_value(sbuf *b, const sentry *e, const cnode *n) {
    if (n->kind == N_SEQ) {
        sb_printf(b, "[");
        for (int i = 0; i < n->n; i++) {
            if (i) sb_printf(b, ", ");
            emit_scalar(b, e->k.type, n->kids[i]->text);
        }
        sb_printf(b, "]");
    } else {
        emit_scalar(b, e->k.type, is_null(n) ? "" : n->text);
    }
}

static void emit_doc(sbuf *b, const char *doc) {
    if (!doc || !*doc) {
        sb_printf(b, "\n");
        return;
    }
    sb_printf(b, "  # ");
    for (const char *p = doc; *p; p++) sb_printf(b, "%c", *p == '\n' ? ' ' : *p);
    sb_printf(b, "\n");
}

// Emits the keys under `prefix` (with its trailing '.', or "" at the top) at `indent`, in the order
// in which their first key was declared.
static void emit_section(const lra_config *c, sbuf *b, const char *prefix, int indent) {
    const lra_config_schema *s = c->schema;
    size_t pl = strlen(prefix);
    for (int i = 0; i < s->n; i++) {
        const sentry *e = &s->e[i];
        const char *k = e->k.key;
        if (strncmp(k, prefix, pl) != 0) continue;
        const char *rest = k + pl;
        const char *dot = strchr(rest, '.');
        if (!dot) {
            const cnode *n = lookup(c->root, k);
            if (!n) n = e->defnode;
            if (!n) {
                sb_printf(b, "%*s# %s: (not set)", indent, "", rest);
            } else {
                sb_printf(b, "%*s%s: ", indent, "", rest);
                emit_value(b, e, n);
            }
            emit_doc(b, e->k.doc);
            continue;
        }
        // A section: emit it at the first key that belongs to it.
        size_t sl = (size_t)(dot - rest);
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) {
            const char *kj = s->e[j].k.key;
            seen = !strncmp(kj, prefix, pl) && !strncmp(kj + pl, rest, sl) && kj[pl + sl] == '.';
        }
        if (seen) continue;
        sb_printf(b, "%*s%.*s:\n", indent, "", (int)sl, rest);
        char *sub = lra_xmalloc(pl + sl + 2);
        memcpy(sub, k, pl + sl + 1);  // includes the '.'
        sub[pl + sl + 1] = '\0';
        emit_section(c, b, sub, indent + 2);
        free(sub);
    }
}

char *lra_config_to_yaml(const lra_config *c) {
    LRA_ASSERT_MSG(c->validated && c->schema, "lra_config_to_yaml before lra_config_validate succeeded");
    sbuf b = {0};
    sb_printf(&b, "# Resolved configuration (every key, defaults included) from ");
    for (int i = 0; i < c->n_origins; i++) {
        if (i) sb_printf(&b, ", ");
        for (const char *p = c->origins[i]; *p; p++) sb_printf(&b, "%c", *p == '\n' || *p == '\r' ? ' ' : *p);
    }
    sb_printf(&b, "\n");
    emit_section(c, &b, "", 0);
    return b.p;
}

lra_status lra_config_write(const lra_config *c, const char *path) {
    char *y = lra_config_to_yaml(c);
    lra_status s = lra_atomic_write_file(path, y, strlen(y));
    free(y);
    return s;
}

static const char *type_name(lra_config_type t) {
    switch (t) {
    case LRA_CONFIG_BOOL: return "bool";
    case LRA_CONFIG_INT: return "int";
    case LRA_CONFIG_FLOAT: return "float";
    case LRA_CONFIG_STRING: return "string";
    case LRA_CONFIG_ENUM: return "enum";
    case LRA_CONFIG_STRINGS: return "list of strings";
    case LRA_CONFIG_FLOATS: return "list of numbers";
    }
    return "?";
}

void lra_config_schema_print(const lra_config_schema *s, FILE *out, bool markdown, const char *prefix) {
    if (markdown) {
        fprintf(out, "| key | type | default | allowed | description |\n|---|---|---|---|---|\n");
    }
    int wk = 3, wt = 4, wd = 7;  // column widths of the plain-text form
    for (int i = 0; i < s->n; i++) {
        const sentry *e = &s->e[i];
        int lk = (int)strlen(e->k.key), lt = (int)strlen(type_name(e->k.type)), ld = e->k.def ? (int)strlen(e->k.def) : 10;
        wk = lk > wk ? lk : wk;
        wt = lt > wt ? lt : wt;
        wd = ld > wd ? ld : wd;
    }
    for (int i = 0; i < s->n; i++) {
        const sentry *e = &s->e[i];
        if (prefix && strncmp(e->k.key, prefix, strlen(prefix)) != 0) continue;
        char allowed[512] = "";
        if (e->k.type == LRA_CONFIG_ENUM) {
            size_t k = 0;
            for (int j = 0; j < e->n_choices && k < sizeof allowed; j++)
                k += (size_t)snprintf(allowed + k, sizeof allowed - k, "%s%s", j ? (markdown ? ", " : "|") : "",
                                      e->choices[j]);
        } else if (e->k.spec) {
            range_text(e, allowed, sizeof allowed);
        }
        const char *def = e->k.def ? e->k.def : (e->k.flags & LRA_CONFIG_REQUIRED) ? "(required)" : "(none)";
        if (markdown) {
            fprintf(out, "| `%s` | %s | `%s` | %s | ", e->k.key, type_name(e->k.type), def, allowed);
            for (const char *p = e->k.doc; *p; p++) fputs(*p == '|' ? "\\|" : (char[2]){*p, 0}, out);
            fprintf(out, " |\n");
        } else {
            fprintf(out, "  %-*s  %-*s  %-*s  %s%s%s\n", wk, e->k.key, wt, type_name(e->k.type), wd, def, e->k.doc,
                    *allowed ? "; allowed: " : "", allowed);
        }
    }
}
