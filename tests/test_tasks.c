// The task registry (tasks/task.h): every task is complete, the config enum and the loader accept
// exactly the registered names, and `lra table` takes its columns from the registry.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/fileio.h"
#include "data/load.h"
#include "tasks/settings.h"
#include "tasks/task.h"
#include "tests/harness.h"

static void test_every_task_is_complete(void) {
    REQUIRE(lra_task_count() > 0);
    for (int i = 0; i < lra_task_count(); i++) {
        const lra_task_def *t = lra_task_get(i);
        REQUIRE(t && t->name && *t->name);
        CHECK_MSG(lra_task_find(t->name) == t, "%s: find", t->name);
        CHECK_MSG(t->num_classes >= 2, "%s: classes", t->name);
        CHECK_MSG(t->vocab_size > 0, "%s: vocab", t->name);
        CHECK_MSG(t->dual == 0 || t->dual == 1, "%s: head kind", t->name);
        CHECK_MSG(t->metric == LRA_TASK_METRIC_ACCURACY, "%s: metric", t->name);
        CHECK_MSG(t->max_length > 0, "%s: max_length", t->name);
        CHECK_MSG(t->stops_early == 0 || t->stops_early == 1, "%s: stops_early", t->name);
        CHECK_MSG(t->source.plan && t->source.key && t->source.read, "%s: source functions", t->name);
        CHECK_MSG(!t->title || *t->title, "%s: empty title", t->name);
        for (int j = 0; j < i; j++) {
            const lra_task_def *u = lra_task_get(j);
            CHECK_MSG(strcmp(t->name, u->name), "%s registered twice", t->name);
            CHECK_MSG(!t->title || !u->title || strcmp(t->title, u->title), "%s, %s: same title", t->name, u->name);
        }
    }
    CHECK(lra_task_find("sorting") == NULL);
    CHECK(lra_task_find(NULL) == NULL);
    CHECK(lra_task_find("") == NULL);
}

// The reference models' sizes (training.md §2.2) of the LRA tasks, first in the registry in this
// order (the config enum and the table columns follow it); checkpoints and results depend on them.
// A new task goes after them and needs no line here.
static void test_reference_values(void) {
    static const struct {
        const char *name, *title;
        int classes, vocab, dual, stops_early;
        int64_t max_length;
    } want[] = {
        {"listops", "ListOps", 10, 32, 0, 0, 2000},     {"text", "Text", 2, 512, 0, 0, 4000},
        {"retrieval", "Retrieval", 2, 512, 1, 0, 4000}, {"image", "Image", 10, 512, 0, 0, 1024},
        {"pathfinder", "Pathfinder", 2, 512, 0, 1, 1024}, {"pathx", NULL, 2, 512, 0, 1, 16384},
    };
    const int n = (int)(sizeof want / sizeof want[0]);
    REQUIRE(lra_task_count() >= n);
    for (int i = 0; i < n; i++) {
        const lra_task_def *t = lra_task_get(i);
        CHECK_MSG(!strcmp(t->name, want[i].name), "task %d: %s", i, t->name);
        CHECK_MSG(want[i].title ? t->title && !strcmp(t->title, want[i].title) : !t->title, "%s: title", t->name);
        CHECK_EQ_INT(t->num_classes, want[i].classes);
        CHECK_EQ_INT(t->vocab_size, want[i].vocab);
        CHECK_EQ_INT(t->dual, want[i].dual);
        CHECK_EQ_INT(t->stops_early, want[i].stops_early);
        CHECK_EQ_INT(t->max_length, want[i].max_length);
    }
    char buf[256];
    const char *bars = "listops|text|retrieval|image|pathfinder|pathx";
    CHECK(!strncmp(lra_task_names(buf, sizeof buf, "|", "|"), bars, strlen(bars)));
    if (lra_task_count() == n)
        CHECK(!strcmp(lra_task_names(buf, sizeof buf, ", ", " or "),
                      "listops, text, retrieval, image, pathfinder or pathx"));
    CHECK(!strcmp(lra_task_names(buf, 8, "|", "|"), "listops"));  // truncated, still a string
}

static lra_status settings_for(const lra_config_schema *schema, const char *task, lra_run_settings *s) {
    char text[256];
    snprintf(text, sizeof text, "task: %s\ndata:\n  path: /nonexistent\n", task);
    lra_config *c = NULL;
    lra_status st = lra_config_parse(&c, "test.yaml", text);
    if (!st) st = lra_config_validate(c, schema);
    if (!st) st = lra_settings_resolve(c, s);
    lra_config_free(c);
    return st;
}

// The config enum `task` is the registry, and a task's defaults reach the run settings.
static void test_settings_accept_exactly_the_registry(void) {
    lra_config_schema *schema = lra_settings_schema();
    const lra_config_key *k = lra_config_schema_find(schema, "task");
    REQUIRE(k && k->type == LRA_CONFIG_ENUM && k->spec);
    char names[256];
    CHECK_MSG(!strcmp(k->spec, lra_task_names(names, sizeof names, "|", "|")), "spec %s", k->spec);
    for (int i = 0; i < lra_task_count(); i++) {
        const lra_task_def *t = lra_task_get(i);
        lra_run_settings s;
        CHECK_OK(settings_for(schema, t->name, &s));
        CHECK(s.task == t);
        CHECK_EQ_INT(s.max_length, t->max_length);
        CHECK_EQ_INT(s.model.num_classes, t->num_classes);
        CHECK_EQ_INT(s.model.enc.vocab_size, t->vocab_size);
        CHECK_EQ_INT(s.model.dual, t->dual);
    }
    lra_run_settings s;
    CHECK_EQ_INT(settings_for(schema, "sorting", &s), LRA_ERR_CONFIG);
    CHECK(strstr(lra_error_message(), "sorting") && strstr(lra_error_message(), "pathx"));
    lra_config_schema_free(schema);
}

// The loader knows the same names and says which they are.
static void test_loader_names_the_registry(void) {
    lra_dataset d;
    CHECK_EQ_INT(lra_task_load("sorting", "/nonexistent", LRA_SPLIT_TRAIN, NULL, &d), LRA_ERR_ARG);
    char names[256], want[400];
    snprintf(want, sizeof want, "unknown task 'sorting' (expected %s)",
             lra_task_names(names, sizeof names, ", ", " or "));
    CHECK_MSG(strstr(lra_error_message(), want) != NULL, "%s", lra_error_message());
    for (int i = 0; i < lra_task_count(); i++) {  // known names get as far as the path
        const char *name = lra_task_get(i)->name;
        CHECK_EQ_INT(lra_task_load(name, "/nonexistent", LRA_SPLIT_TRAIN, NULL, &d), LRA_ERR_IO);
        CHECK_MSG(strstr(lra_error_message(), "/nonexistent: no such file or directory") != NULL, "%s: %s", name,
                  lra_error_message());
    }
}

// `lra table` has one column per titled task in registry order, then Average.
static void test_table_columns_from_registry(void) {
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    char root[256], cmd[1200], path[600];
    lra_test_mkdtemp(root, sizeof root, "tasks_table");
    int n_titled = 0;
    for (int i = 0; i < lra_task_count(); i++) {
        const lra_task_def *t = lra_task_get(i);
        n_titled += t->title != NULL;
        snprintf(path, sizeof path, "%s/run-%s", root, t->name);
        CHECK_OK(lra_path_mkdirs(path));
        snprintf(path, sizeof path, "%s/run-%s/eval.json", root, t->name);
        char json[256];
        snprintf(json, sizeof json, "{\"task\": \"%s\", \"attention\": \"softmax\", \"seed\": 1, "
                 "\"test_accuracy\": 0.5}\n", t->name);
        CHECK_OK(lra_atomic_write_file(path, json, strlen(json)));
        // What the table compares besides eval.json: the config and the data fingerprint.
        snprintf(path, sizeof path, "%s/run-%s/config.yaml", root, t->name);
        snprintf(json, sizeof json, "seed: 1\ntask: %s\n", t->name);
        CHECK_OK(lra_atomic_write_file(path, json, strlen(json)));
        snprintf(path, sizeof path, "%s/run-%s/data.json", root, t->name);
        snprintf(json, sizeof json, "{\"fingerprint\": \"0123456789abcdef\", \"dataset\": \"\"}\n");
        CHECK_OK(lra_atomic_write_file(path, json, strlen(json)));
    }
    for (int csv = 0; csv < 2; csv++) {
        snprintf(cmd, sizeof cmd, "%s/lra table '%s' %s > '%s/out.txt'", build, root, csv ? "--format csv" : "", root);
        REQUIRE(system(cmd) == 0);
        snprintf(path, sizeof path, "%s/out.txt", root);
        char *text = NULL;
        size_t len;
        CHECK_OK(lra_file_read_all(path, &text, &len));
        REQUIRE(text);
        char want[1024] = "", row[1024] = "";
        strcat(want, csv ? "attention,variant,kind" : "| Attention |");
        strcat(row, csv ? "softmax,,ours" : "| softmax |");
        for (int i = 0; i < lra_task_count(); i++) {
            const lra_task_def *t = lra_task_get(i);
            if (!t->title) continue;
            char cell[160];
            if (csv)
                snprintf(cell, sizeof cell, ",%s_mean,%s_std,%s_n", t->name, t->name, t->name);
            else
                snprintf(cell, sizeof cell, " %s |", t->title);
            strcat(want, cell);
            strcat(row, csv ? ",50.00,,1" : " 50.00 (n=1) |");
        }
        strcat(want, csv ? ",average,flags\n" : " Average |\n");
        strcat(row, csv ? ",50.00,\n" : " 50.00 |\n");
        CHECK_MSG(strncmp(text, want, strlen(want)) == 0, "header:\n%s\nwant:\n%s", text, want);
        CHECK_MSG(strstr(text, row) != NULL, "row:\n%s\nwant:\n%s", text, row);
        if (!csv) {  // the separator has one cell per column
            char sep[256] = "|---|";
            for (int c = 0; c <= n_titled; c++) strcat(sep, "---|");
            CHECK_MSG(strstr(text, sep) != NULL, "separator:\n%s", text);
        }
        free(text);
    }
    lra_test_rmtree(root);
}

static const lra_test_case TESTS[] = {
    {"every_task_is_complete", test_every_task_is_complete},
    {"reference_values", test_reference_values},
    {"settings_accept_exactly_the_registry", test_settings_accept_exactly_the_registry},
    {"loader_names_the_registry", test_loader_names_the_registry},
    {"table_columns_from_registry", test_table_columns_from_registry},
};
LRA_TEST_MAIN(TESTS)
