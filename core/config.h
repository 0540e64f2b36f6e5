// YAML configs with a schema: every key a program reads is declared (type, default, range or choices,
// one line of documentation); any other key in the file is an error, reported with its place in the
// file and a "did you mean" for near misses.  Values keep FILE:LINE:COL, so messages read
//   configs/listops.yaml:12:7: key 'train.lr': expected a number > 0, got "abc"
//
// Typical use (the training CLI):
//   lra_config_schema *s = lra_config_schema_new();
//   lra_config_schema_add(s, TRAIN_KEYS, n);                      // static tables, see lra_config_key
//   lra_config_schema_add_prefixed(s, "model.attention.", kernel_keys, m);  // registries, at run time
//   lra_config *c;
//   LRA_TRY(lra_config_load(&c, "configs/listops.yaml"));
//   for each --set argument: LRA_TRY(lra_config_set(c, "train.lr=3e-4"));
//   LRA_TRY(lra_config_validate(c, s));          // all errors at once, one per line
//   double lr = lra_config_float(c, "train.lr");  // getters after validation cannot fail
//   LRA_TRY(lra_config_write(c, "runs/x/config.yaml"));  // the resolved config, defaults included
//   lra_config_free(c); lra_config_schema_free(s);
//
// Keys are dotted paths into nested mappings ("model.attention.type" is `model: {attention: {type:
// ...}}`).  Scalars follow YAML 1.2: bool is true/false, numbers are plain (unquoted) scalars (so
// 1e-4 is a number), a quoted "3" is a string and is refused where a number is expected.  An empty
// value (`key:` or `key: null`) is refused for every type but string.
#ifndef LRA_CORE_CONFIG_H
#define LRA_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

// Alias expansion limits: a document may expand to at most this many nodes and bytes of scalar text
// (a config has a few hundred keys; nested aliases could otherwise produce billions of nodes, and
// each node costs an allocation).
#define LRA_CONFIG_MAX_NODES 10000
#define LRA_CONFIG_MAX_TEXT (16 * 1024 * 1024)

typedef enum {
    LRA_CONFIG_BOOL,     // true / false
    LRA_CONFIG_INT,      // 64-bit integer; spec: range
    LRA_CONFIG_FLOAT,    // double; spec: range
    LRA_CONFIG_STRING,   // any scalar, kept as text
    LRA_CONFIG_ENUM,     // one of the choices in spec "a|b|c"
    LRA_CONFIG_STRINGS,  // list of strings
    LRA_CONFIG_FLOATS,   // list of numbers; spec: range of each element
} lra_config_type;

#define LRA_CONFIG_REQUIRED 1u  // validation fails when the key is absent

// One declared key.  Tables of these are usually static:
//   {"train.lr", LRA_CONFIG_FLOAT, "1e-4", "(0,inf)", "peak learning rate"},
//   {"train.batch_size", LRA_CONFIG_INT, "32", "[1,)", "examples per optimizer step"},
//   {"model.attention.type", LRA_CONFIG_ENUM, "softmax", "softmax|linformer|nystrom", "attention kernel"},
//   {"data.root", LRA_CONFIG_STRING, NULL, NULL, "folder of the task's files", LRA_CONFIG_REQUIRED},
// Ranges are intervals: "[" / "]" include the bound, "(" / ")" exclude it, an empty side or inf is
// unbounded: "(0,inf)" is > 0, "[1,)" is >= 1, "[0,1)" is 0 <= x < 1.
typedef struct {
    const char *key;       // dotted path
    lra_config_type type;
    const char *def;       // default as YAML text ("1e-4", "true", "[1, 2]"); NULL: no default
    const char *spec;      // range (numbers), choices (enum) or NULL
    const char *doc;       // one line
    unsigned flags;        // LRA_CONFIG_REQUIRED
} lra_config_key;

typedef struct lra_config_schema lra_config_schema;
typedef struct lra_config lra_config;

// ---- schema ------------------------------------------------------------------------------------
lra_config_schema *lra_config_schema_new(void);
void lra_config_schema_free(lra_config_schema *s);
// Declares keys (the strings are copied).  A key declared again with the same type, default and
// spec is accepted (two kernels may share an option); a conflicting declaration, or a key that is
// also a section of another key ("model" and "model.width"), is LRA_ERR_ARG.  A default that does
// not satisfy its own type/range, or a malformed spec, is a programming error (assertion).
lra_status lra_config_schema_add(lra_config_schema *s, const lra_config_key *keys, int n);
// Same with `prefix` prepended to every key, e.g. "model.attention." for a kernel's options.
lra_status lra_config_schema_add_prefixed(lra_config_schema *s, const char *prefix, const lra_config_key *keys,
                                          int n);
int lra_config_schema_count(const lra_config_schema *s);
const lra_config_key *lra_config_schema_at(const lra_config_schema *s, int i);  // in declaration order
const lra_config_key *lra_config_schema_find(const lra_config_schema *s, const char *key);  // NULL if none
// Prints the keys as documentation: markdown (a table for the README) or plain text (--help).
// Only keys starting with `prefix` (NULL: all).
void lra_config_schema_print(const lra_config_schema *s, FILE *out, bool markdown, const char *prefix);

// ---- loading and overrides ---------------------------------------------------------------------
// Parses a YAML file whose top level is a mapping (an empty file is an empty mapping).  Syntax
// errors, duplicate keys, non-scalar keys and keys containing '.' are reported as FILE:LINE:COL.
lra_status lra_config_load(lra_config **out, const char *path);
// The same from text in memory; `name` is used in messages instead of a file name.
lra_status lra_config_parse(lra_config **out, const char *name, const char *text);
// A config with no keys (only defaults and --set values).
lra_config *lra_config_new_empty(void);
void lra_config_free(lra_config *c);
// Applies one "--set" override "dotted.key=value".  A value starting with [ { " or ' is parsed as
// YAML (a flow list such as [0.9, 0.98], a flow mapping, a quoted string); any other value is taken
// verbatim as a plain scalar (so `--set data.root=a: b` needs no YAML quoting; "3e-4" is a number,
// "true" a bool, an empty value is null).  Intermediate mappings are created.  Messages name
// "--set KEY=VALUE".
// The config must be validated again afterwards.
lra_status lra_config_set(lra_config *c, const char *assignment);
// Checks every key against the schema: unknown keys ("did you mean ...?"), types, ranges, choices,
// missing required keys.  All errors are reported, one per line.  The schema must outlive c.
lra_status lra_config_validate(lra_config *c, const lra_config_schema *s);

// ---- getters (after a successful lra_config_validate) ------------------------------------------
// The key must be declared with the matching type (else: assertion).  Absent keys give the
// schema's default.
bool lra_config_bool(const lra_config *c, const char *key);
int64_t lra_config_int(const lra_config *c, const char *key);
double lra_config_float(const lra_config *c, const char *key);   // also accepts INT keys
const char *lra_config_string(const lra_config *c, const char *key);  // STRING or ENUM; NULL if unset
int lra_config_enum(const lra_config *c, const char *key);        // index of the value in the choices
int lra_config_list_len(const lra_config *c, const char *key);    // STRINGS / FLOATS; 0 if unset
const char *lra_config_list_string(const lra_config *c, const char *key, int i);
double lra_config_list_float(const lra_config *c, const char *key, int i);
// True when the file or a --set gave the key a value (false: default or unset).
bool lra_config_is_set(const lra_config *c, const char *key);
// Where the key's value came from: "FILE:LINE:COL", "--set k=v" or "default".
void lra_config_where(const lra_config *c, const char *key, char *buf, size_t cap);
// For checks across keys done by the caller: sets "WHERE: key 'K': MESSAGE" and returns LRA_ERR_CONFIG.
lra_status lra_config_error(const lra_config *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// ---- output ------------------------------------------------------------------------------------
// The resolved config as YAML: every declared key with its value (defaults included), nested in
// declaration order, each with its documentation as a comment.  Free with free().  Loading it back
// with the same schema gives the same values.
char *lra_config_to_yaml(const lra_config *c);
// Writes lra_config_to_yaml atomically to path (e.g. RUN_DIR/config.yaml).
lra_status lra_config_write(const lra_config *c, const char *path);

#endif
