// Sweep specs and their cells (see sweep.h).
#include "tasks/sweep.h"

// The most cells a spec may expand to.  Every cell's config is resolved and checked before anything
// runs (about 2 ms each under ASan), so the bound also keeps a hostile spec from stalling the loader.
#define SWEEP_MAX_CELLS 2000

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/config.h"
#include "core/fileio.h"
#include "tasks/run_dir.h"
#include "tasks/settings.h"

// ---- the YAML document ------------------------------------------------------------------------

typedef struct {
    const char *path;
    yaml_document_t doc;
} spec_doc;

static yaml_node_t *node(spec_doc *d, int id) { return yaml_document_get_node(&d->doc, id); }

// "SPEC:LINE:COL: key 'K': expected ..., got ..."
static lra_status bad(spec_doc *d, const yaml_node_t *n, const char *key, const char *expected) {
    const char *got = n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                      : n && n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
    return lra_error(LRA_ERR_CONFIG, "%s:%lu:%lu: key '%s': expected %s, got %s%s%s", d->path,
                     n ? (unsigned long)n->start_mark.line + 1 : 0UL, n ? (unsigned long)n->start_mark.column + 1 : 0UL,
                     key, expected, n && n->type == YAML_SCALAR_NODE ? "\"" : "", got,
                     n && n->type == YAML_SCALAR_NODE ? "\"" : "");
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

// A scalar or a list of scalars as the list of its texts.
static lra_status scalar_list(spec_doc *d, yaml_node_t *n, const char *key, const char *expected, char ***out,
                             int *count) {
    *out = NULL;
    *count = 0;
    if (n->type == YAML_SCALAR_NODE) {
        if (!*scalar(n)) return bad(d, n, key, expected);
        *out = lra_xmalloc(sizeof **out);
        (*out)[0] = lra_xstrdup(scalar(n));
        *count = 1;
        return LRA_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE) return bad(d, n, key, expected);
    const int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (len == 0) return bad(d, n, key, expected);
    *out = lra_xcalloc((size_t)len, sizeof **out);
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = node(d, n->data.sequence.items.start[i]);
        if (!scalar(e) || !*scalar(e)) return bad(d, e, key, expected);
        (*out)[(*count)++] = lra_xstrdup(scalar(e));
    }
    return LRA_OK;
}

// A value of `set:` as the text of a --set assignment: a scalar verbatim, a list of scalars in flow form.
static lra_status set_value(spec_doc *d, yaml_node_t *n, const char *key, char *buf, size_t cap) {
    if (scalar(n)) {
        snprintf(buf, cap, "%s", scalar(n));
        return LRA_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE) return bad(d, n, key, "a value or a list of values");
    snprintf(buf, cap, "[");
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        const char *v = scalar(node(d, *it));
        if (!v) return bad(d, node(d, *it), key, "a list of plain values");
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s", it == n->data.sequence.items.start ? "" : ", ", v);
    }
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "]");
    return LRA_OK;
}

// A key that occurs twice in one mapping (libyaml accepts it; the second would silently win).
static lra_status duplicate_key(spec_doc *d, yaml_node_t *map, const char *where) {
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++)
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            const char *ka = scalar(node(d, a->key)), *kb = scalar(node(d, b->key));
            if (ka && kb && !strcmp(ka, kb)) {
                const yaml_node_t *n = node(d, a->key);
                return lra_error(LRA_ERR_CONFIG, "%s:%lu:%lu: key '%s%s%s' is given twice", d->path,
                                 (unsigned long)n->start_mark.line + 1, (unsigned long)n->start_mark.column + 1, where,
                                 *where ? "." : "", ka);
            }
        }
    return LRA_OK;
}

static void free_strings(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

// ---- expansion --------------------------------------------------------------------------------

typedef struct {
    char *key;
    char **values;
    int n;
    const char *short_name;  // in cell names
} axis;

typedef struct {
    char **task_names, **task_configs;  // task_names[i] NULL for `base`
    int n_tasks;
    char **kernels;
    int n_kernels;
    char **seeds;
    int n_seeds;
    char **sets;
    int n_sets;
    axis *axes;
    int n_axes;
} spec_parts;

static void free_parts(spec_parts *p) {
    free_strings(p->task_names, p->n_tasks);
    free_strings(p->task_configs, p->n_tasks);
    free_strings(p->kernels, p->n_kernels);
    free_strings(p->seeds, p->n_seeds);
    free_strings(p->sets, p->n_sets);
    for (int i = 0; i < p->n_axes; i++) {
        free(p->axes[i].key);
        free_strings(p->axes[i].values, p->axes[i].n);
    }
    free(p->axes);
}

// A name part: letters, digits and . _ + - kept, anything else '_'.
static void name_part(char *dst, size_t cap, const char *src) {
    size_t k = strlen(dst);
    for (; *src && k + 1 < cap; src++) {
        const char c = *src;
        dst[k++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._+-=", c)
                       ? c : '_';
    }
    dst[k] = '\0';
}

// The config path as given when it exists from here, else relative to the spec's folder.
static char *config_path(const char *spec, const char *given) {
    if (given[0] == '/' || lra_path_is_file(given)) return lra_xstrdup(given);
    char *dir = lra_path_dirname(spec);
    char *p = lra_path_join(dir, given);
    free(dir);
    if (lra_path_is_file(p)) return p;
    free(p);
    return lra_xstrdup(given);  // the settings loader names it in its message
}

static void add_set(char ***sets, int *n, const char *fmt, const char *a, const char *b) {
    *sets = lra_xrealloc(*sets, sizeof **sets * (size_t)(*n + 1));
    const size_t len = strlen(fmt) + strlen(a) + strlen(b) + 1;
    (*sets)[*n] = lra_xmalloc(len);
    snprintf((*sets)[*n], len, fmt, a, b);
    (*n)++;
}

// An axis over another kernel's option (model.attention.<kernel>.<option>) does not apply to a cell: its
// values would only repeat the same run under other names.
static int axis_applies(const char *key, const char *kernel) {
    static const char pre[] = "model.attention.";
    if (strncmp(key, pre, sizeof pre - 1)) return 1;
    const char *k = key + sizeof pre - 1, *dot = strchr(k, '.');
    if (!dot) return 1;
    return strlen(kernel) == (size_t)(dot - k) && !strncmp(k, kernel, (size_t)(dot - k));
}

// Builds and checks one cell (task t, kernel k or -1, grid choice pick[], seed s or -1).  *skip = 1 (and
// nothing built) for a cell that repeats another because an axis does not apply to its kernel.
static lra_status make_cell(lra_sweep *sw, const spec_parts *p, const lra_config_schema *schema, int t, int k,
                            const int *pick, int s, lra_sweep_cell *c, int *skip) {
    memset(c, 0, sizeof *c);
    *skip = 0;
    c->config = config_path(sw->path, p->task_configs[t]);
    for (int i = 0; i < p->n_sets; i++) add_set(&c->sets, &c->n_sets, "%s%s", p->sets[i], "");
    for (int a = 0; a < p->n_axes; a++) add_set(&c->sets, &c->n_sets, "%s=%s", p->axes[a].key, p->axes[a].values[pick[a]]);
    if (k >= 0) add_set(&c->sets, &c->n_sets, "%s%s", "model.attention.type=", p->kernels[k]);
    if (s >= 0) add_set(&c->sets, &c->n_sets, "%s%s", "seed=", p->seeds[s]);
    lra_config *cfg = NULL;
    lra_run_settings rs;
    lra_status st = lra_settings_load(c->config, (const char *const *)c->sets, c->n_sets, schema, &cfg);
    if (!st) st = lra_settings_resolve(cfg, &rs);
    if (st) {
        char what[512] = "";
        for (int i = p->n_sets; i < c->n_sets; i++) {
            strncat(what, i > p->n_sets ? ", " : "", sizeof what - strlen(what) - 1);
            strncat(what, c->sets[i], sizeof what - strlen(what) - 1);
        }
        lra_config_free(cfg);
        return lra_error_context(st, "%s: the cell of %s%s%s: ", sw->path, c->config, *what ? " with " : "", what);
    }
    if (p->task_names[t] && strcmp(p->task_names[t], rs.task->name)) {
        lra_config_free(cfg);
        return lra_error(LRA_ERR_CONFIG, "%s: key 'tasks.%s': the config %s is for task '%s', not '%s'", sw->path,
                         p->task_names[t], c->config, rs.task->name, p->task_names[t]);
    }
    for (int a = 0; a < p->n_axes; a++)
        if (!axis_applies(p->axes[a].key, rs.attention) && pick[a] != 0) *skip = 1;
    if (*skip) {
        lra_config_free(cfg);
        return LRA_OK;
    }
    // Drop the overrides of axes that do not apply (another kernel's option), from the sets and the name.
    for (int a = p->n_axes - 1; a >= 0; a--)
        if (!axis_applies(p->axes[a].key, rs.attention)) {
            const int at = p->n_sets + a;
            free(c->sets[at]);
            memmove(&c->sets[at], &c->sets[at + 1], sizeof *c->sets * (size_t)(c->n_sets - at - 1));
            c->n_sets--;
        }
    snprintf(c->name, sizeof c->name, "%s-", rs.task->name);
    name_part(c->name, sizeof c->name, rs.attention);
    for (int a = 0; a < p->n_axes; a++) {
        if (!axis_applies(p->axes[a].key, rs.attention)) continue;
        char part[160];
        snprintf(part, sizeof part, "-%s=%s", p->axes[a].short_name, p->axes[a].values[pick[a]]);
        name_part(c->name, sizeof c->name, part);
    }
    char seed[40];
    snprintf(seed, sizeof seed, "-s%llu", (unsigned long long)rs.seed);
    name_part(c->name, sizeof c->name, seed);
    c->run_dir = lra_path_join(sw->out, c->name);
    c->resolved_yaml = lra_settings_resolved_yaml(cfg, &rs);
    lra_config_free(cfg);
    return LRA_OK;
}

static void free_cell(lra_sweep_cell *c) {
    free(c->config);
    free_strings(c->sets, c->n_sets);
    free(c->run_dir);
    free(c->resolved_yaml);
}

static lra_status expand(lra_sweep *sw, const spec_parts *p) {
    lra_config_schema *schema = lra_settings_schema();
    const int nk = p->n_kernels ? p->n_kernels : 1, ns = p->n_seeds ? p->n_seeds : 1;
    // Counted in 64 bits and stopped early: axes multiply.
    int64_t total = (int64_t)p->n_tasks * nk * ns;
    int grid = 1;
    for (int a = 0; a < p->n_axes && total <= SWEEP_MAX_CELLS; a++) {
        grid *= p->axes[a].n;
        total *= p->axes[a].n;
    }
    if (total > SWEEP_MAX_CELLS) {
        lra_config_schema_free(schema);
        return lra_error(LRA_ERR_CONFIG, "%s: the grid has more than %d cells (tasks x kernels x axes x seeds)",
                         sw->path, SWEEP_MAX_CELLS);
    }
    sw->cells = lra_xcalloc((size_t)total, sizeof *sw->cells);
    int *pick = lra_xcalloc((size_t)(p->n_axes + 1), sizeof *pick);
    lra_status st = LRA_OK;
    for (int t = 0; t < p->n_tasks && !st; t++)
        for (int k = 0; k < nk && !st; k++)
            for (int g = 0; g < grid && !st; g++) {
                for (int a = p->n_axes - 1, rest = g; a >= 0; a--) {  // the first axis varies slowest
                    pick[a] = rest % p->axes[a].n;
                    rest /= p->axes[a].n;
                }
                for (int s = 0; s < ns && !st; s++) {
                    int skip = 0;
                    st = make_cell(sw, p, schema, t, p->n_kernels ? k : -1, pick, p->n_seeds ? s : -1,
                                   &sw->cells[sw->n_cells], &skip);
                    if (!st && !skip) sw->n_cells++;
                    else free_cell(&sw->cells[sw->n_cells]);
                }
            }
    free(pick);
    lra_config_schema_free(schema);
    for (int i = 0; i < sw->n_cells && !st; i++)
        for (int j = 0; j < i && !st; j++)
            if (!strcmp(sw->cells[i].name, sw->cells[j].name))
                st = lra_error(LRA_ERR_CONFIG, "%s: cells %d and %d are both named %s (two seeds or values that are "
                               "the same); make the lists' values distinct", sw->path, j + 1, i + 1, sw->cells[i].name);
    return st;
}

// ---- loading ----------------------------------------------------------------------------------

static lra_status parse_int(spec_doc *d, yaml_node_t *n, const char *key, int64_t min, int64_t *out) {
    const char *v = scalar(n);
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || end == v || *end || errno || x < min) {
        char what[64];
        snprintf(what, sizeof what, "an integer >= %lld", (long long)min);
        return bad(d, n, key, what);
    }
    *out = x;
    return LRA_OK;
}

static lra_status parse_spec(spec_doc *d, lra_sweep *sw, spec_parts *p) {
    yaml_node_t *root = yaml_document_get_root_node(&d->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return lra_error(LRA_ERR_CONFIG, "%s: expected a mapping of sweep keys (name, base or tasks, kernels, seeds, "
                         "set, grid, out, parallel, threads)", d->path);
    const char *base = NULL;
    yaml_node_t *tasks = NULL;
    LRA_TRY(duplicate_key(d, root, ""));
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(d, pr->key), *v = node(d, pr->value);
        const char *k = scalar(kn);
        int64_t x;
        if (!k) return bad(d, kn, "?", "a key");
        if (!strcmp(k, "name")) {
            if (!scalar(v) || !*scalar(v)) return bad(d, v, k, "a name");
            snprintf(sw->name, sizeof sw->name, "%s", scalar(v));
        } else if (!strcmp(k, "base")) {
            if (!scalar(v) || !*scalar(v)) return bad(d, v, k, "the path of a config file");
            base = scalar(v);
        } else if (!strcmp(k, "tasks")) {
            if (v->type != YAML_MAPPING_NODE || v->data.mapping.pairs.top == v->data.mapping.pairs.start)
                return bad(d, v, k, "a mapping of task names to config files, e.g. {listops: configs/listops.yaml}");
            LRA_TRY(duplicate_key(d, v, "tasks"));
            tasks = v;
        } else if (!strcmp(k, "kernels")) {
            LRA_TRY(scalar_list(d, v, k, "a list of attention kernels (see `lra attention list`)", &p->kernels,
                                &p->n_kernels));
        } else if (!strcmp(k, "seeds")) {
            LRA_TRY(scalar_list(d, v, k, "a list of integer seeds >= 0", &p->seeds, &p->n_seeds));
            for (int i = 0; i < p->n_seeds; i++) {
                char *end = NULL;
                errno = 0;
                (void)strtoull(p->seeds[i], &end, 10);
                if (p->seeds[i][0] == '-' || end == p->seeds[i] || *end || errno) return bad(d, v, k, "a list of integer seeds >= 0");
            }
        } else if (!strcmp(k, "set")) {
            if (v->type != YAML_MAPPING_NODE) return bad(d, v, k, "a mapping of config keys to values, e.g. {train.steps: 5000}");
            LRA_TRY(duplicate_key(d, v, "set"));
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                const char *sk = scalar(node(d, q->key));
                char val[1024], full[1200];
                if (!sk) return bad(d, node(d, q->key), "set", "a config key");
                snprintf(full, sizeof full, "set.%s", sk);
                LRA_TRY(set_value(d, node(d, q->value), full, val, sizeof val));
                add_set(&p->sets, &p->n_sets, "%s=%s", sk, val);
            }
        } else if (!strcmp(k, "grid")) {
            if (v->type != YAML_MAPPING_NODE) return bad(d, v, k, "a mapping of config keys to lists of values");
            LRA_TRY(duplicate_key(d, v, "grid"));
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                const char *gk = scalar(node(d, q->key));
                if (!gk) return bad(d, node(d, q->key), "grid", "a config key");
                char full[600];
                snprintf(full, sizeof full, "grid.%s", gk);
                p->axes = lra_xrealloc(p->axes, sizeof *p->axes * (size_t)(p->n_axes + 1));
                axis *ax = &p->axes[p->n_axes++];
                memset(ax, 0, sizeof *ax);
                ax->key = lra_xstrdup(gk);
                LRA_TRY(scalar_list(d, node(d, q->value), full, "a list of values", &ax->values, &ax->n));
            }
        } else if (!strcmp(k, "out")) {
            if (!scalar(v) || !*scalar(v)) return bad(d, v, k, "a folder for the run directories");
            free(sw->out);
            sw->out = lra_xstrdup(scalar(v));
        } else if (!strcmp(k, "parallel")) {
            LRA_TRY(parse_int(d, v, k, 1, &x));
            sw->parallel = (int)(x > 4096 ? 4096 : x);
        } else if (!strcmp(k, "threads")) {
            LRA_TRY(parse_int(d, v, k, 1, &x));
            sw->threads = (int)(x > 4096 ? 4096 : x);
        } else {
            return lra_error(LRA_ERR_CONFIG, "%s:%lu:%lu: unknown key '%s'; expected name, base, tasks, kernels, seeds, "
                             "set, grid, out, parallel or threads", d->path, (unsigned long)kn->start_mark.line + 1,
                             (unsigned long)kn->start_mark.column + 1, k);
        }
    }
    if (!!base == !!tasks)
        return lra_error(LRA_ERR_CONFIG, "%s: expected exactly one of 'base' (one config) and 'tasks' (a config per "
                         "task)", d->path);
    if (base) {
        p->n_tasks = 1;
        p->task_names = lra_xcalloc(1, sizeof *p->task_names);
        p->task_configs = lra_xcalloc(1, sizeof *p->task_configs);
        p->task_configs[0] = lra_xstrdup(base);
    } else {
        const int n = (int)(tasks->data.mapping.pairs.top - tasks->data.mapping.pairs.start);
        p->task_names = lra_xcalloc((size_t)n, sizeof *p->task_names);
        p->task_configs = lra_xcalloc((size_t)n, sizeof *p->task_configs);
        for (int i = 0; i < n; i++) {
            yaml_node_pair_t *q = &tasks->data.mapping.pairs.start[i];
            const char *tn = scalar(node(d, q->key)), *tc = scalar(node(d, q->value));
            if (!tn) return bad(d, node(d, q->key), "tasks", "a task name");
            char full[200];
            snprintf(full, sizeof full, "tasks.%s", tn);
            if (!tc || !*tc) return bad(d, node(d, q->value), full, "the path of a config file");
            p->task_names[i] = lra_xstrdup(tn);
            p->task_configs[i] = lra_xstrdup(tc);
            p->n_tasks++;
        }
    }
    // Short axis names: the last part of the key, unless two axes share it.
    for (int a = 0; a < p->n_axes; a++) {
        const char *dot = strrchr(p->axes[a].key, '.');
        p->axes[a].short_name = dot ? dot + 1 : p->axes[a].key;
    }
    for (int a = 0; a < p->n_axes; a++)
        for (int b = 0; b < p->n_axes; b++)
            if (a != b && !strcmp(strrchr(p->axes[a].key, '.') ? strrchr(p->axes[a].key, '.') + 1 : p->axes[a].key,
                                  strrchr(p->axes[b].key, '.') ? strrchr(p->axes[b].key, '.') + 1 : p->axes[b].key))
                p->axes[a].short_name = p->axes[a].key;
    return LRA_OK;
}

lra_status lra_sweep_load(const char *path, lra_sweep *out) {
    memset(out, 0, sizeof *out);
    out->path = lra_xstrdup(path);
    char *text = NULL;
    size_t len = 0;
    lra_status st = lra_file_read_all(path, &text, &len);
    if (st) {
        lra_sweep_free(out);
        return st;
    }
    spec_doc d;
    memset(&d, 0, sizeof d);
    d.path = path;
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &d.doc)) {
        st = lra_error(LRA_ERR_CONFIG, "%s:%lu:%lu: YAML syntax: %s", path, (unsigned long)parser.problem_mark.line + 1,
                       (unsigned long)parser.problem_mark.column + 1, parser.problem ? parser.problem : "error");
        yaml_parser_delete(&parser);
        free(text);
        lra_sweep_free(out);
        return st;
    }
    yaml_parser_delete(&parser);
    free(text);
    spec_parts p;
    memset(&p, 0, sizeof p);
    st = parse_spec(&d, out, &p);
    yaml_document_delete(&d.doc);
    if (!st) {
        if (!out->name[0]) {  // the spec file's name without its extension
            snprintf(out->name, sizeof out->name, "%s", lra_path_basename(path));
            char *dot = strrchr(out->name, '.');
            if (dot && dot != out->name) *dot = '\0';
        }
        if (!out->out) {
            char *runs = lra_path_join("runs", out->name);
            out->out = runs;
        }
        st = expand(out, &p);
    }
    free_parts(&p);
    if (st) lra_sweep_free(out);
    return st;
}

void lra_sweep_free(lra_sweep *s) {
    for (int i = 0; i < s->n_cells; i++) free_cell(&s->cells[i]);
    free(s->cells);
    free(s->path);
    free(s->out);
    memset(s, 0, sizeof *s);
}

// ---- state of a cell --------------------------------------------------------------------------

// The resolved config without its leading comment lines (they name the file it came from).
static const char *body(const char *y) {
    while (*y == '#') {
        const char *nl = strchr(y, '\n');
        if (!nl) return y + strlen(y);
        y = nl + 1;
    }
    return y;
}

lra_status lra_sweep_cell_state(const lra_sweep_cell *c, lra_cell_state *state) {
    *state = LRA_CELL_NEW;
    char *cfg = lra_path_join(c->run_dir, "config.yaml"), *eval = lra_path_join(c->run_dir, "eval.json");
    char *old = NULL;
    size_t n;
    lra_status st = LRA_OK;
    if (lra_path_is_file(cfg) && lra_file_read_all(cfg, &old, &n) == LRA_OK && strcmp(body(old), body(c->resolved_yaml)))
        st = lra_error(LRA_ERR_STATE, "%s: the run directory holds a run of another config (the spec changed?); "
                       "remove %s or change the sweep's 'out'", cfg, c->run_dir);
    free(old);
    if (!st) {
        if (lra_path_is_file(eval)) {
            *state = LRA_CELL_DONE;
        } else {
            char *ck = lra_path_is_dir(c->run_dir) ? lra_run_latest_checkpoint(c->run_dir) : NULL;
            if (ck) *state = LRA_CELL_RESUME;
            free(ck);
            lra_error_clear();
        }
    }
    free(cfg);
    free(eval);
    return st;
}
