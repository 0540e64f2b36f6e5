// Tests of the YAML config tree and its schema: typed getters, defaults, unknown keys, wrong types,
// ranges, syntax errors and --set overrides, each error checked for FILE:LINE:COL and the key; the
// resolved config written back and reloaded; schema registration and documentation.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/fileio.h"
#include "tests/harness.h"

// A schema shaped like the trainer's (see the keys of reference/training.md §2).
static const lra_config_key KEYS[] = {
    {"task.name", LRA_CONFIG_ENUM, "listops", "listops|text|retrieval|image|pathfinder", "LRA task", 0},
    {"seed", LRA_CONFIG_INT, "42", "[0,)", "base seed", 0},
    {"data.root", LRA_CONFIG_STRING, NULL, NULL, "folder of the task's files", LRA_CONFIG_REQUIRED},
    {"model.width", LRA_CONFIG_INT, "64", "[1,)", "model width d", 0},
    {"model.dropout", LRA_CONFIG_FLOAT, "0.1", "[0,1)", "dropout rate", 0},
    {"model.attention.type", LRA_CONFIG_ENUM, "softmax", "softmax|linformer|nystrom", "attention kernel", 0},
    {"train.lr", LRA_CONFIG_FLOAT, "1e-4", "(0,inf)", "peak learning rate", 0},
    {"train.batch_size", LRA_CONFIG_INT, "32", "[1,)", "examples per optimizer step", 0},
    {"train.betas", LRA_CONFIG_FLOATS, "[0.9, 0.999]", "[0,1)", "Adam betas", 0},
    {"train.mixed_precision", LRA_CONFIG_BOOL, "false", NULL, "fp16 autocast", 0},
    {"train.max_hours", LRA_CONFIG_FLOAT, NULL, "(0,)", "optional time limit", 0},
    {"eval.metrics", LRA_CONFIG_STRINGS, "[accuracy, loss]", NULL, "metrics to report", 0},
    {"run.name", LRA_CONFIG_STRING, "", NULL, "run name | free text", 0},
};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

// Options a kernel registers at run time under model.attention.
static const lra_config_key NYSTROM_KEYS[] = {
    {"num_landmarks", LRA_CONFIG_INT, "64", "[1,)", "Nystrom landmarks", 0},
    {"conv_kernel", LRA_CONFIG_INT, "0", "[0,)", "depthwise conv on V (0: off)", 0},
};

static lra_config_schema *make_schema(void) {
    lra_config_schema *s = lra_config_schema_new();
    LRA_ASSERT(lra_config_schema_add(s, KEYS, N_KEYS) == LRA_OK);
    LRA_ASSERT(lra_config_schema_add_prefixed(s, "model.attention.", NYSTROM_KEYS, 2) == LRA_OK);
    return s;
}

static char g_path[512];
static const char *fixture(const char *name) {
    snprintf(g_path, sizeof g_path, "%s/config/%s", lra_test_fixtures(), name);
    return g_path;
}

// True when the error message has a line equal to `line`.
static bool has_line(const char *line) {
    const char *m = lra_error_message();
    size_t n = strlen(line);
    for (const char *p = m; (p = strstr(p, line)); p++)
        if ((p == m || p[-1] == '\n') && (p[n] == '\0' || p[n] == '\n')) return true;
    return false;
}
#define CHECK_LINE(line) CHECK_MSG(has_line(line), "missing line\n    %s\n  in\n%s", line, lra_error_message())

static int count_lines(void) {
    int n = 1;
    for (const char *p = lra_error_message(); *p; p++) n += *p == '\n';
    return n;
}

static void test_good_file_getters_and_defaults(void) {
    lra_config_schema *s = make_schema();
    lra_config *c;
    CHECK_OK(lra_config_load(&c, fixture("good.yaml")));
    REQUIRE(c != NULL);
    CHECK_OK(lra_config_validate(c, s));
    CHECK(!strcmp(lra_config_string(c, "task.name"), "text"));
    CHECK_EQ_INT(lra_config_enum(c, "task.name"), 1);
    CHECK_EQ_INT(lra_config_int(c, "seed"), 7);
    CHECK(!strcmp(lra_config_string(c, "data.root"), "../shared/data/text: imdb"));
    CHECK_EQ_INT(lra_config_int(c, "model.width"), 128);
    CHECK(lra_config_float(c, "model.dropout") == 0.25);
    CHECK_EQ_INT(lra_config_enum(c, "model.attention.type"), 2);
    CHECK_EQ_INT(lra_config_int(c, "model.attention.num_landmarks"), 16);  // a registered kernel option
    CHECK_EQ_INT(lra_config_int(c, "model.attention.conv_kernel"), 0);     // its default
    CHECK(lra_config_float(c, "train.lr") == 3e-4);
    CHECK(lra_config_float(c, "train.batch_size") == 64.0);  // an int read as a float
    CHECK_EQ_INT(lra_config_list_len(c, "train.betas"), 2);
    CHECK(lra_config_list_float(c, "train.betas", 0) == 0.85 && lra_config_list_float(c, "train.betas", 1) == 0.995);
    CHECK(lra_config_bool(c, "train.mixed_precision"));
    CHECK(!lra_config_is_set(c, "train.max_hours"));
    CHECK_EQ_INT(lra_config_list_len(c, "eval.metrics"), 2);
    CHECK(!strcmp(lra_config_list_string(c, "eval.metrics", 1), "loss"));
    CHECK(!strcmp(lra_config_string(c, "run.name"), ""));  // default ""

    char where[256];
    lra_config_where(c, "train.lr", where, sizeof where);
    CHECK_MSG(!strcmp(where, "tests/fixtures/config/good.yaml:14:7"), "where = %s", where);
    lra_config_where(c, "model.attention.conv_kernel", where, sizeof where);
    CHECK(!strcmp(where, "default"));
    CHECK(lra_config_is_set(c, "model.width") && !lra_config_is_set(c, "model.attention.conv_kernel"));
    // Checks across keys done by the caller use the same form.
    CHECK_EQ_INT(lra_config_error(c, "model.width", "must be divisible by the %d heads", 3), LRA_ERR_CONFIG);
    CHECK_LINE("tests/fixtures/config/good.yaml:8:10: key 'model.width': must be divisible by the 3 heads");
    lra_config_free(c);

    // An empty config has all the defaults, but misses the required key.
    c = lra_config_new_empty();
    CHECK_EQ_INT(lra_config_validate(c, s), LRA_ERR_CONFIG);
    CHECK(strstr(lra_error_message(), "missing required key 'data.root'") != NULL);
    CHECK_OK(lra_config_set(c, "data.root=/data"));
    CHECK_OK(lra_config_validate(c, s));
    CHECK_EQ_INT(lra_config_int(c, "seed"), 42);
    CHECK(lra_config_float(c, "train.lr") == 1e-4);
    CHECK(!lra_config_bool(c, "train.mixed_precision"));
    CHECK(lra_config_list_float(c, "train.betas", 1) == 0.999);
    CHECK(!strcmp(lra_config_list_string(c, "eval.metrics", 0), "accuracy"));
    CHECK(!strcmp(lra_config_string(c, "model.attention.type"), "softmax"));
    lra_config_free(c);
    lra_config_schema_free(s);
}

static void test_unknown_keys_reported_with_place(void) {
    lra_config_schema *s = make_schema();
    lra_config *c;
    CHECK_OK(lra_config_load(&c, fixture("unknown_key.yaml")));
    REQUIRE(c != NULL);
    CHECK_EQ_INT(lra_config_validate(c, s), LRA_ERR_CONFIG);
    CHECK_LINE("tests/fixtures/config/unknown_key.yaml:5:3: unknown key 'train.batch_sise' (did you mean "
               "'train.batch_size'?)");
    CHECK_LINE("tests/fixtures/config/unknown_key.yaml:6:3: unknown key 'train.dropout' (did you mean "
               "'model.dropout'?)");
    CHECK_LINE("tests/fixtures/config/unknown_key.yaml:8:3: unknown key 'model.atention' (did you mean "
               "'model.attention'?)");
    CHECK_LINE("tests/fixtures/config/unknown_key.yaml:10:1: unknown key 'colour' (no similar key is declared)");
    CHECK_EQ_INT(count_lines(), 4);
    lra_config_free(c);
    lra_config_schema_free(s);
}

static void test_wrong_types_reported(void) {
    lra_config_schema *s = make_schema();
    lra_config *c;
    CHECK_OK(lra_config_load(&c, fixture("wrong_type.yaml")));
    REQUIRE(c != NULL);
    CHECK_EQ_INT(lra_config_validate(c, s), LRA_ERR_CONFIG);
    const char *f = "tests/fixtures/config/wrong_type.yaml";
    char line[512];
    snprintf(line, sizeof line, "%s:4:7: key 'train.lr': expected a number > 0, got \"abc\"", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line,
             "%s:5:15: key 'train.batch_size': expected an integer >= 1, got the quoted string \"32\" (remove the "
             "quotes)", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line,
             "%s:6:20: key 'train.mixed_precision': expected true or false, got \"yes\" (write true or false in "
             "lower case)", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line, "%s:7:16: key 'train.betas': element 2: expected a number in [0, 1), got \"fast\"", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line,
             "%s:10:11: key 'model.attention.type': expected one of softmax, linformer, nystrom, got \"softmx\" (did "
             "you mean 'softmax'?)", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line, "%s:11:10: key 'model.width': expected an integer >= 1, got a mapping", f);
    CHECK_LINE(line);
    CHECK_EQ_INT(count_lines(), 6);
    lra_config_free(c);

    // A section given a value, and an empty value for a number.
    CHECK_OK(lra_config_parse(&c, "inline.yaml", "data:\n  root: x\nmodel: 3\ntrain:\n  lr:\n"));
    CHECK_EQ_INT(lra_config_validate(c, s), LRA_ERR_CONFIG);
    CHECK_LINE("inline.yaml:3:8: key 'model': expected a mapping of keys (a section), got \"3\"");
    CHECK_LINE("inline.yaml:5:6: key 'train.lr': expected a number > 0, got an empty value");
    lra_config_free(c);
    lra_config_schema_free(s);
}

static void test_out_of_range_reported(void) {
    lra_config_schema *s = make_schema();
    lra_config *c;
    CHECK_OK(lra_config_load(&c, fixture("out_of_range.yaml")));
    REQUIRE(c != NULL);
    CHECK_EQ_INT(lra_config_validate(c, s), LRA_ERR_CONFIG);
    const char *f = "tests/fixtures/config/out_of_range.yaml";
    char line[512];
    snprintf(line, sizeof line, "%s:4:7: key 'train.lr': expected a number > 0, got \"0\"", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line, "%s:5:15: key 'train.batch_size': expected an integer >= 1, got \"0\"", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line, "%s:7:12: key 'model.dropout': expected a number in [0, 1), got \"1.5\"", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line,
             "%s:8:10: key 'model.width': expected an integer >= 1, got \"2.5\" (an integer has no decimal point or "
             "exponent)", f);
    CHECK_LINE(line);
    snprintf(line, sizeof line,
             "%s:9:7: key 'seed': expected an integer >= 0, got \"99999999999999999999\" (beyond the 64-bit integer "
             "range)", f);
    CHECK_LINE(line);
    CHECK_EQ_INT(count_lines(), 5);
    lra_config_free(c);
    lra_config_schema_free(s);
}

static void test_syntax_errors_reported(void) {
    lra_config *c = (lra_config *)1;
    CHECK_EQ_INT(lra_config_load(&c, fixture("bad_syntax.yaml")), LRA_ERR_CONFIG);
    CHECK(c == NULL);
    CHECK_LINE("tests/fixtures/config/bad_syntax.yaml:5:14: YAML syntax error: mapping values are not allowed in "
               "this context");
    CHECK_EQ_INT(lra_config_load(&c, fixture("duplicate_key.yaml")), LRA_ERR_CONFIG);
    CHECK_LINE("tests/fixtures/config/duplicate_key.yaml:6:3: duplicate key 'lr' (first given at line 4)");
    CHECK_EQ_INT(lra_config_load(&c, fixture("missing.yaml")), LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "missing.yaml: cannot open for reading") != NULL);

    const struct {
        const char *text, *msg;
    } cases[] = {
        {"train: [1, 2\n", "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']'"},
        {"- a\n- b\n", "t.yaml:1:1: the top level of a config must be a mapping of keys (key: value)"},
        {"train.lr: 1\n", "t.yaml:1:1: key 'train.lr' contains '.': write nested mappings"},
        {"? [a, b]\n: 1\n", "t.yaml:1:3: a mapping key must be a plain name"},
        {"a: 1\n---\nb: 2\n", "t.yaml:2:1: a second YAML document ('---'): only one is allowed"},
        {"a: \"unterminated\n", "t.yaml:2:1: YAML syntax error: found unexpected end of stream"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        c = (lra_config *)1;
        lra_status st = lra_config_parse(&c, "t.yaml", cases[i].text);
        CHECK_MSG(st == LRA_ERR_CONFIG && c == NULL, "case %zu: status %d", i, (int)st);
        CHECK_MSG(strstr(lra_error_message(), cases[i].msg) != NULL, "case %zu: %s", i, lra_error_message());
    }
    // Empty documents and comment-only files are empty mappings; anchors and aliases work.
    CHECK_OK(lra_config_parse(&c, "t.yaml", "# nothing\n"));
    lra_config_free(c);
    lra_config_schema *s = make_schema();
    CHECK_OK(lra_config_parse(&c, "t.yaml", "data: {root: &r here}\nrun: {name: *r}\n"));
    if (c) {
        CHECK_OK(lra_config_validate(c, s));
        CHECK(!strcmp(lra_config_string(c, "run.name"), "here"));
        lra_config_free(c);
    }
    lra_config_schema_free(s);
}

static void test_set_overrides(void) {
    lra_config_schema *s = make_schema();
    lra_config *c;
    CHECK_OK(lra_config_load(&c, fixture("good.yaml")));
    REQUIRE(c != NULL);
    CHECK_OK(lra_config_set(c, "train.lr=5e-4"));
    CHECK_OK(lra_config_set(c, "model.attention.type=linformer"));
    CHECK_OK(lra_config_set(c, "model.attention.conv_kernel=33"));  // new key in an existing section
    CHECK_OK(lra_config_set(c, "train.betas=[0.8, 0.98]"));
    CHECK_OK(lra_config_set(c, "data.root=/data/a b: c #1"));       // verbatim text
    CHECK_OK(lra_config_set(c, "run.name=\"quoted \\\"x\\\"\""));  // YAML double-quoted scalar
    CHECK_OK(lra_config_set(c, "train.max_hours=1.5"));
    CHECK_OK(lra_config_set(c, "eval.metrics=[f1]"));
    CHECK_OK(lra_config_validate(c, s));
    CHECK(lra_config_float(c, "train.lr") == 5e-4);
    CHECK(!strcmp(lra_config_string(c, "model.attention.type"), "linformer"));
    CHECK_EQ_INT(lra_config_int(c, "model.attention.conv_kernel"), 33);
    CHECK_EQ_INT(lra_config_int(c, "model.attention.num_landmarks"), 16);  // untouched sibling
    CHECK(lra_config_list_float(c, "train.betas", 0) == 0.8 && lra_config_list_float(c, "train.betas", 1) == 0.98);
    CHECK(!strcmp(lra_config_string(c, "data.root"), "/data/a b: c #1"));
    CHECK(!strcmp(lra_config_string(c, "run.name"), "quoted \"x\""));
    CHECK(lra_config_float(c, "train.max_hours") == 1.5);
    CHECK_EQ_INT(lra_config_list_len(c, "eval.metrics"), 1);
    char where[256];
    lra_config_where(c, "train.lr", where, sizeof where);
    CHECK(!strcmp(where, "--set train.lr=5e-4"));

    // Errors from --set values name the override.
    CHECK_OK(lra_config_set(c, "train.lr=abc"));
    CHECK_OK(lra_config_set(c, "train.lrr=1"));
    CHECK_OK(lra_config_set(c, "train.batch_size=\"8\""));
    CHECK_OK(lra_config_set(c, "model.width="));
    CHECK_EQ_INT(lra_config_validate(c, s), LRA_ERR_CONFIG);
    CHECK_LINE("--set train.lr=abc: key 'train.lr': expected a number > 0, got \"abc\"");
    CHECK_LINE("--set train.lrr=1: unknown key 'train.lrr' (did you mean 'train.lr'?)");
    CHECK_LINE("--set train.batch_size=\"8\": key 'train.batch_size': expected an integer >= 1, got the quoted "
               "string \"8\" (remove the quotes)");
    CHECK_LINE("--set model.width=: key 'model.width': expected an integer >= 1, got an empty value");
    CHECK_EQ_INT(count_lines(), 4);

    // Malformed overrides are refused at once.
    CHECK_EQ_INT(lra_config_set(c, "trainlr"), LRA_ERR_CONFIG);
    CHECK_LINE("--set trainlr: expected KEY=VALUE, e.g. --set train.lr=3e-4");
    CHECK_EQ_INT(lra_config_set(c, "=3"), LRA_ERR_CONFIG);
    CHECK_EQ_INT(lra_config_set(c, "a..b=1"), LRA_ERR_CONFIG);
    CHECK_LINE("--set a..b=1: bad key 'a..b' (names of letters, digits, '_' and '-' joined by '.')");
    CHECK_EQ_INT(lra_config_set(c, "train.lr.x=1"), LRA_ERR_CONFIG);
    CHECK_LINE("--set train.lr.x=1: 'train.lr' holds a value (at --set train.lr=abc), not a mapping of keys");
    CHECK_EQ_INT(lra_config_set(c, "seed.x=1"), LRA_ERR_CONFIG);
    CHECK_LINE("--set seed.x=1: 'seed' holds a value (at tests/fixtures/config/good.yaml:4:7), not a mapping of keys");
    CHECK_EQ_INT(lra_config_set(c, "train.betas=[1,"), LRA_ERR_CONFIG);
    CHECK(strstr(lra_error_message(), "--set train.betas=[1,: cannot parse the value as YAML") == lra_error_message());
    lra_config_free(c);
    lra_config_schema_free(s);
}

static void test_resolved_config_round_trip(void) {
    char dir[256];
    lra_test_mkdtemp(dir, sizeof dir, "test_config");
    char *out = lra_path_join(dir, "run/config.yaml");
    char *run = lra_path_dirname(out);
    CHECK_OK(lra_path_mkdirs(run));
    lra_config_schema *s = make_schema();
    lra_config *c;
    CHECK_OK(lra_config_load(&c, fixture("good.yaml")));
    REQUIRE(c != NULL);
    CHECK_OK(lra_config_set(c, "train.lr=0.1"));
    CHECK_OK(lra_config_set(c, "run.name=\"tab\\t, quote \\\" colon: yes\""));
    CHECK_OK(lra_config_set(c, "eval.metrics=[\"true\", \"a, b\", plain]"));
    CHECK_OK(lra_config_validate(c, s));
    CHECK_OK(lra_config_write(c, out));
    char *yaml = lra_config_to_yaml(c);
    CHECK(strstr(yaml, "  lr: 0.1  # peak learning rate\n") != NULL);
    CHECK(strstr(yaml, "    conv_kernel: 0  # depthwise conv on V (0: off)\n") != NULL);  // default written
    CHECK(strstr(yaml, "  # max_hours: (not set)") != NULL);
    CHECK(strstr(yaml, "model:\n  width: 128") != NULL);  // nested in declaration order

    lra_config *r;
    CHECK_OK(lra_config_load(&r, out));
    REQUIRE(r != NULL);
    CHECK_OK(lra_config_validate(r, s));
    for (int i = 0; i < lra_config_schema_count(s); i++) {
        const lra_config_key *k = lra_config_schema_at(s, i);
        if (!strcmp(k->key, "train.max_hours")) {
            CHECK(!lra_config_is_set(r, k->key));
            continue;
        }
        CHECK_MSG(lra_config_is_set(r, k->key), "key %s not written", k->key);
        switch (k->type) {
        case LRA_CONFIG_BOOL: CHECK(lra_config_bool(r, k->key) == lra_config_bool(c, k->key)); break;
        case LRA_CONFIG_INT: CHECK(lra_config_int(r, k->key) == lra_config_int(c, k->key)); break;
        case LRA_CONFIG_FLOAT: CHECK(lra_config_float(r, k->key) == lra_config_float(c, k->key)); break;
        case LRA_CONFIG_STRING:
        case LRA_CONFIG_ENUM:
            CHECK_MSG(!strcmp(lra_config_string(r, k->key), lra_config_string(c, k->key)), "%s: '%s' vs '%s'", k->key,
                      lra_config_string(r, k->key), lra_config_string(c, k->key));
            break;
        case LRA_CONFIG_FLOATS:
        case LRA_CONFIG_STRINGS:
            CHECK_EQ_INT(lra_config_list_len(r, k->key), lra_config_list_len(c, k->key));
            for (int j = 0; j < lra_config_list_len(c, k->key); j++) {
                if (k->type == LRA_CONFIG_FLOATS)
                    CHECK(lra_config_list_float(r, k->key, j) == lra_config_list_float(c, k->key, j));
                else
                    CHECK(!strcmp(lra_config_list_string(r, k->key, j), lra_config_list_string(c, k->key, j)));
            }
            break;
        }
    }
    CHECK(!strcmp(lra_config_string(r, "run.name"), "tab\t, quote \" colon: yes"));
    CHECK(!strcmp(lra_config_list_string(r, "eval.metrics", 0), "true"));
    free(yaml);
    lra_config_free(r);
    lra_config_free(c);
    lra_config_schema_free(s);
    free(run);
    free(out);
    lra_test_rmtree(dir);
}

static void test_schema_registration_and_docs(void) {
    lra_config_schema *s = make_schema();
    // The same declaration twice (two kernels sharing an option) is fine; a conflicting one is not.
    CHECK_OK(lra_config_schema_add_prefixed(s, "model.attention.", NYSTROM_KEYS, 1));
    const lra_config_key clash = {"num_landmarks", LRA_CONFIG_INT, "32", "[1,)", "other default", 0};
    CHECK_EQ_INT(lra_config_schema_add_prefixed(s, "model.attention.", &clash, 1), LRA_ERR_ARG);
    CHECK(strstr(lra_error_message(), "'model.attention.num_landmarks' is declared twice") != NULL);
    const lra_config_key leaf_under_value = {"seed.offset", LRA_CONFIG_INT, "0", NULL, "", 0};
    CHECK_EQ_INT(lra_config_schema_add(s, &leaf_under_value, 1), LRA_ERR_ARG);
    const lra_config_key value_over_section = {"model.attention", LRA_CONFIG_STRING, "x", NULL, "", 0};
    CHECK_EQ_INT(lra_config_schema_add(s, &value_over_section, 1), LRA_ERR_ARG);
    CHECK_EQ_INT(lra_config_schema_count(s), N_KEYS + 2);
    const lra_config_key *k = lra_config_schema_find(s, "model.attention.conv_kernel");
    CHECK(k && k->type == LRA_CONFIG_INT && !strcmp(k->def, "0"));
    CHECK(lra_config_schema_find(s, "model.attention") == NULL);

    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    REQUIRE(mem != NULL);
    lra_config_schema_print(s, mem, true, NULL);
    fclose(mem);
    CHECK(strstr(text, "| key | type | default | allowed | description |\n") == text);
    CHECK(strstr(text, "| `train.lr` | float | `1e-4` | > 0 | peak learning rate |\n") != NULL);
    CHECK(strstr(text, "| `task.name` | enum | `listops` | listops, text, retrieval, image, pathfinder | LRA task |") != NULL);
    CHECK(strstr(text, "| `data.root` | string | `(required)` |  |") != NULL);
    CHECK(strstr(text, "run name \\| free text") != NULL);  // '|' escaped for markdown tables
    free(text);
    mem = open_memstream(&text, &len);
    lra_config_schema_print(s, mem, false, "model.attention.");
    fclose(mem);
    CHECK(strstr(text, "model.attention.num_landmarks") != NULL);
    CHECK(strstr(text, "train.lr") == NULL);  // filtered by prefix
    CHECK(strstr(text, "Nystrom landmarks; allowed: >= 1") != NULL);
    free(text);
    lra_config_schema_free(s);
}

static const lra_test_case TESTS[] = {
    {"good_file_getters_and_defaults", test_good_file_getters_and_defaults},
    {"unknown_keys_reported_with_place", test_unknown_keys_reported_with_place},
    {"wrong_types_reported", test_wrong_types_reported},
    {"out_of_range_reported", test_out_of_range_reported},
    {"syntax_errors_reported", test_syntax_errors_reported},
    {"set_overrides", test_set_overrides},
    {"resolved_config_round_trip", test_resolved_config_round_trip},
    {"schema_registration_and_docs", test_schema_registration_and_docs},
};
LRA_TEST_MAIN(TESTS)
