// What a new user meets first, through the `lra` program itself: --help of every (sub-)command, the
// model summary, --print-config and --dry-run, the thread count, the "train done" line of a resumed run,
// eval.json's confusion matrix, `lra eval --predictions`, the messages for a missing data.path and an
// unreadable run directory, and `make install` with its pkg-config file.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "data/listops_gen.h"
#include "tasks/model_summary.h"
#include "tasks/settings.h"
#include "tests/harness.h"

static char g_root[256];
static char g_data[300];
static char g_config[320];

static void cleanup(void) {
    if (g_root[0]) lra_test_rmtree(g_root);
}

static const char *lra_bin(void) {
    static char path[300];
    const char *build = getenv("LRA_BUILD");
    snprintf(path, sizeof path, "%s/lra", build && *build ? build : "build");
    return path;
}

// A tiny ListOps set and a config for a quick model on it (written once, shared by the cases).
static const char *config_path(void) {
    if (g_config[0]) return g_config;
    lra_test_mkdtemp(g_root, sizeof g_root, "cli_ux");
    atexit(cleanup);
    snprintf(g_data, sizeof g_data, "%s/listops", g_root);
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 5;
    o.n_train = 96;
    o.n_val = 24;
    o.n_test = 30;
    o.max_depth = 3;
    o.min_length = 8;
    o.max_length = 40;
    LRA_ASSERT(lra_path_mkdirs(g_data) == LRA_OK);
    LRA_ASSERT(lra_listops_generate(&o, g_data) == LRA_OK);
    char text[2048];
    snprintf(text, sizeof text,
             "seed: 3\ntask: listops\ndata:\n  path: %s\n  max_length: 48\nmodel:\n  layers: 2\n  dim: 16\n"
             "  heads: 2\n  head_dim: 8\n  hidden: 32\n  head_hidden: 16\n  attention:\n    type: softmax\n"
             "train:\n  steps: 8\n  batch_size: 8\n  lr: 3.0e-3\n  warmup: 2\n  eval_every: 4\n  log_every: 2\n",
             g_data);
    snprintf(g_config, sizeof g_config, "%s/tiny.yaml", g_root);
    LRA_ASSERT(lra_atomic_write_file(g_config, text, strlen(text)) == LRA_OK);
    return g_config;
}

// Runs a shell command; its stdout and stderr (together, or stdout only when split is set and then
// stderr into *err) are returned in *out.  Returns the exit status (-1 when it did not exit).
static int run_cmd(const char *cmd, char **out, char **err) {
    char out_path[400], err_path[400], full[4096];
    snprintf(out_path, sizeof out_path, "%s/cmd.out", g_root[0] ? g_root : "/tmp");
    snprintf(err_path, sizeof err_path, "%s/cmd.err", g_root[0] ? g_root : "/tmp");
    if (err) snprintf(full, sizeof full, "( %s ) > '%s' 2> '%s'", cmd, out_path, err_path);
    else snprintf(full, sizeof full, "( %s ) > '%s' 2>&1", cmd, out_path);
    const int st = system(full);
    size_t n;
    *out = NULL;
    if (lra_file_read_all(out_path, out, &n) != LRA_OK) *out = lra_xstrdup("");
    if (err && lra_file_read_all(err_path, err, &n) != LRA_OK) *err = lra_xstrdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// Every command and sub-command answers --help (and -h) with its usage on stdout and exit status 0.
static void test_help_everywhere(void) {
    config_path();
    const char *cmds[] = {"train", "eval", "table", "data", "data generate", "data generate listops",
                          "data generate pathfinder", "data inspect", "export", "import", "attention",
                          "attention list", "bench", "bench approx", "bench attention", "bench train"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        for (int h = 0; h < 2; h++) {
            char cmd[1024], *out;
            snprintf(cmd, sizeof cmd, "%s %s %s", lra_bin(), cmds[i], h ? "-h" : "--help");
            const int rc = run_cmd(cmd, &out, NULL);
            CHECK_MSG(rc == 0 && strstr(out, "usage: lra") != NULL, "`lra %s %s`: exit %d, output: %s", cmds[i],
                      h ? "-h" : "--help", rc, out);
            free(out);
        }
    // --threads 0 is documented as "all cores".
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd, "%s train --help", lra_bin());
    REQUIRE(run_cmd(cmd, &out, NULL) == 0);
    CHECK_MSG(strstr(out, "0 (the default) means all cores") != NULL, "%s", out);
    free(out);
}

static lra_status settings_for(const char *const *sets, int n, lra_run_settings *s) {
    lra_config_schema *schema = lra_settings_schema();
    lra_config *c = NULL;
    lra_status st = lra_settings_load(config_path(), sets, n, schema, &c);
    if (!st) st = lra_settings_resolve(c, s);
    lra_config_free(c);
    lra_config_schema_free(schema);
    return st;
}

// The summary's groups add up to the parameter store, split trainable / fixed, in the model's order.
static void test_model_summary_counts(void) {
    lra_run_settings s;
    REQUIRE(settings_for(NULL, 0, &s) == LRA_OK);
    lra_model m;
    lra_model_build(&m, &s.model, 1);
    lra_model_summary sum;
    lra_model_summarize(&m.params, &sum);
    const char *want[] = {"embeddings", "layer 0 attention", "layer 0 MLP", "layer 1 attention", "layer 1 MLP",
                          "final norm", "classifier head"};
    REQUIRE(sum.count == 7);
    for (int g = 0; g < 7; g++) CHECK_MSG(!strcmp(sum.groups[g].name, want[g]), "group %d: %s", g, sum.groups[g].name);
    CHECK_EQ_INT(sum.trainable, lra_params_count_values(&m.params, 1));
    CHECK_EQ_INT(sum.trainable + sum.fixed, lra_params_count_values(&m.params, 0));
    CHECK_EQ_INT(sum.fixed, 0);
    // Embeddings: vocabulary (32 ListOps ids) and position rows (48 -> 64) times the width 16.
    CHECK_EQ_INT(sum.groups[0].trainable, (32 + 64) * 16);
    // MLP of a layer: its norm (2 x 16) and two linears 16 -> 32 -> 16 with biases.
    CHECK_EQ_INT(sum.groups[2].trainable, 2 * 16 + 16 * 32 + 32 + 32 * 16 + 16);
    // Head: 16 -> 16 -> 10 with biases.
    CHECK_EQ_INT(sum.groups[6].trainable, 16 * 16 + 16 + 16 * 10 + 10);
    lra_model_summary_free(&sum);
    lra_model_free(&m);
    // A kernel with fixed random features counts them as fixed, in its layer's attention group.
    const char *sets[] = {"model.attention.type=performer", "model.attention.performer.nb_features=8"};
    REQUIRE(settings_for(sets, 2, &s) == LRA_OK);
    lra_model_build(&m, &s.model, 1);
    lra_model_summarize(&m.params, &sum);
    CHECK(sum.fixed > 0);
    CHECK_EQ_INT(sum.trainable, lra_params_count_values(&m.params, 1));
    CHECK_EQ_INT(sum.trainable + sum.fixed, lra_params_count_values(&m.params, 0));
    int64_t fixed_in_attention = 0;
    for (int g = 0; g < sum.count; g++)
        if (strstr(sum.groups[g].name, "attention")) fixed_in_attention += sum.groups[g].fixed;
    CHECK_EQ_INT(fixed_in_attention, sum.fixed);
    lra_model_summary_free(&sum);
    lra_model_free(&m);
}

// --print-config: the summary as comments, then every key; the output is itself a config that resolves
// to the same YAML.
static void test_print_config_round_trip(void) {
    char cmd[2500], *out, *again;
    snprintf(cmd, sizeof cmd, "%s train '%s' --set train.lr=0.002 --print-config", lra_bin(), config_path());
    REQUIRE(run_cmd(cmd, &out, NULL) == 0);
    CHECK_MSG(strstr(out, "# model: 2 layers, dim 16") && strstr(out, "#   total"), "%s", out);
    CHECK(strstr(out, "  keep_checkpoints: 2") && strstr(out, "  lr: 0.002") && strstr(out, "  pooling: mean"));
    char saved[400];
    snprintf(saved, sizeof saved, "%s/printed.yaml", g_root);
    REQUIRE(lra_atomic_write_file(saved, out, strlen(out)) == LRA_OK);
    snprintf(cmd, sizeof cmd, "%s train '%s' --print-config", lra_bin(), saved);
    REQUIRE(run_cmd(cmd, &again, NULL) == 0);
    // Equal after the header comments (which name the source file).
    const char *a = strstr(out, "\nseed:"), *b = strstr(again, "\nseed:");
    CHECK_MSG(a && b && !strcmp(a, b), "printed config does not round-trip:\n%s\n---\n%s", out, again);
    free(out);
    free(again);
}

// --dry-run reads the data, builds the model and prints both with the config, writes nothing and exits
// 0; problems a real start would hit make it exit 1 with the message.
static void test_dry_run(void) {
    char cmd[2500], *out, *err, run_dir[400], cache[400], path_buf[400];
    snprintf(run_dir, sizeof run_dir, "%s/dry-run", g_root);
    snprintf(cache, sizeof cache, "%s/cache", g_root);
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s' --set data.cache_dir='%s' --dry-run", lra_bin(),
             config_path(), run_dir, cache);
    int rc = run_cmd(cmd, &out, &err);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, err);
    CHECK_MSG(strstr(out, "train        96 examples") && strstr(out, "val          24 examples") &&
                  strstr(out, "test         30 examples"),
              "%s", out);
    CHECK(strstr(out, "  classifier head") && strstr(out, "  total"));
    CHECK(strstr(out, "resolved config:\n") && strstr(out, "  eval_every: 4"));
    CHECK(strstr(out, "nothing was trained or written"));
    CHECK_MSG(!lra_path_is_dir(run_dir) && !lra_path_is_dir(cache), "--dry-run wrote the run directory or the cache");
    free(out);
    free(err);
    // Missing data: the key and how to make the data.
    snprintf(cmd, sizeof cmd, "%s train '%s' --set data.path='%s/nowhere' --dry-run", lra_bin(), config_path(),
             g_root);
    rc = run_cmd(cmd, &out, &err);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(err, "data.path") && strstr(err, "no such file or directory") &&
                  strstr(err, "lra data generate listops --out"),
              "%s", err);
    free(out);
    free(err);
    // The real start refuses it the same way before it makes the run directory.
    snprintf(cmd, sizeof cmd, "%s train '%s' --set data.path='%s/nowhere' --run-dir '%s/never' --quiet", lra_bin(),
             config_path(), g_root, g_root);
    rc = run_cmd(cmd, &out, &err);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(err, "data.path") && strstr(err, "lra data generate listops --out"), "%s", err);
    snprintf(path_buf, sizeof path_buf, "%s/never", g_root);
    CHECK_MSG(!lra_path_is_dir(path_buf), "a run directory was made for a run without data");
    free(out);
    free(err);
    // A run directory with checkpoints needs --resume, as the real start would say.
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s/done' --quiet --threads 1 > /dev/null 2>&1", lra_bin(),
             config_path(), g_root);
    REQUIRE(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s/done' --dry-run", lra_bin(), config_path(), g_root);
    rc = run_cmd(cmd, &out, &err);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(err, "already holds checkpoints") && strstr(err, "--resume"), "%s", err);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s/done' --dry-run --resume", lra_bin(), config_path(), g_root);
    rc = run_cmd(cmd, &out, &err);
    CHECK_MSG(rc == 0 && strstr(out, "would resume from ckpt-00000008.lra"), "exit %d: %s%s", rc, out, err);
    free(out);
    free(err);
}

// At start: the thread count and the model summary; a resumed run's closing line names the step reached
// of the total and the steps this session ran.
static void test_train_start_and_done_lines(void) {
    char cmd[2500], *out, *err, run_dir[400];
    snprintf(run_dir, sizeof run_dir, "%s/resumed", g_root);
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s' --threads 1 --stop-at 4", lra_bin(), config_path(), run_dir);
    int rc = run_cmd(cmd, &out, &err);
    REQUIRE(rc == 0);
    CHECK_MSG(strstr(err, "lra train: 1 thread (--threads)") != NULL, "%s", err);
    CHECK_MSG(strstr(err, "model: 2 layers, dim 16") && strstr(err, "  layer 1 MLP"), "%s", err);
    CHECK_MSG(strstr(err, "train done: step 4 of 8 in") != NULL, "%s", err);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s' --resume", lra_bin(), config_path(), run_dir);
    rc = run_cmd(cmd, &out, &err);
    REQUIRE(rc == 0);
    CHECK_MSG(strstr(err, "train done: step 8 of 8 (4 this session) in") != NULL, "%s", err);
    CHECK_MSG(strstr(err, "all cores: --threads 0") != NULL, "%s", err);
    free(out);
    free(err);
}

// Reads "key": [numbers...] (flat, or nested one level for the matrix) into v; returns the count.
static int json_numbers(const char *json, const char *key, double *v, int cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    p += strlen(pat);
    int n = 0, depth = 1;
    while (*p && depth > 0 && n < cap) {
        if (*p == '[') depth++, p++;
        else if (*p == ']') depth--, p++;
        else if (*p == ',' || *p == ' ') p++;
        else if (!strncmp(p, "null", 4)) v[n++] = -1, p += 4;
        else {
            char *end;
            v[n++] = strtod(p, &end);
            if (end == p) return -1;
            p = end;
        }
    }
    return n;
}

static double json_number(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

// eval.json (end of training) and `lra eval --json` hold the confusion matrix of the best weights on
// the test split: it sums to the examples, its diagonal to the correct ones, its rows to the labels'
// counts; `lra eval --predictions` writes one line per example whose prediction is its largest logit.
static void test_eval_confusion_and_predictions(void) {
    char cmd[2500], *out, *err, run_dir[400], path[500];
    snprintf(run_dir, sizeof run_dir, "%s/evaluated", g_root);
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s' --quiet --threads 1 > /dev/null 2>&1", lra_bin(),
             config_path(), run_dir);
    REQUIRE(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/eval.json", run_dir);
    char *ej = NULL;
    size_t n;
    REQUIRE(lra_file_read_all(path, &ej, &n) == LRA_OK);
    double m[100], acc[10], ex[10];
    CHECK_EQ_INT(json_number(ej, "classes"), 10);
    REQUIRE(json_numbers(ej, "confusion_matrix", m, 100) == 100);
    REQUIRE(json_numbers(ej, "per_class_accuracy", acc, 10) == 10);
    REQUIRE(json_numbers(ej, "per_class_examples", ex, 10) == 10);
    double total = 0, diag = 0;
    for (int i = 0; i < 100; i++) total += m[i];
    for (int l = 0; l < 10; l++) {
        diag += m[l * 10 + l];
        double row = 0;
        for (int p = 0; p < 10; p++) row += m[l * 10 + p];
        CHECK_EQ_INT(row, ex[l]);
        if (ex[l] > 0) CHECK_NEAR(acc[l], m[l * 10 + l] / ex[l], 1e-6);
        else CHECK_EQ_INT(acc[l], -1);  // null
    }
    CHECK_EQ_INT(total, 30);
    CHECK_EQ_INT(json_number(ej, "test_examples"), 30);
    CHECK_NEAR(diag / 30, json_number(ej, "test_accuracy"), 1e-6);
    // lra table still reads it.
    snprintf(cmd, sizeof cmd, "%s table '%s'", lra_bin(), run_dir);
    CHECK(run_cmd(cmd, &out, NULL) == 0 && strstr(out, "| softmax |"));
    free(out);
    free(ej);

    // lra eval --json: the same matrix (best.lra on the test split); --predictions as CSV.
    char csv[500], jsonl[500];
    snprintf(csv, sizeof csv, "%s/pred.csv", g_root);
    snprintf(jsonl, sizeof jsonl, "%s/pred.jsonl", g_root);
    snprintf(cmd, sizeof cmd, "%s eval '%s' --json --threads 1 --predictions '%s'", lra_bin(), run_dir, csv);
    REQUIRE(run_cmd(cmd, &out, &err) == 0);
    double m2[100];
    CHECK(json_numbers(out, "confusion_matrix", m2, 100) == 100 && !memcmp(m, m2, sizeof m));
    free(out);
    free(err);
    char *text = NULL;
    REQUIRE(lra_file_read_all(csv, &text, &n) == LRA_OK);
    CHECK_EQ_INT(count_lines(text), 31);
    CHECK(!strncmp(text, "index,label,prediction,logit_0,logit_1,", 39));
    // Every row: prediction = first maximal logit; (label, prediction) pairs rebuild the matrix.
    double rebuilt[100] = {0};
    int rows = 0, index_ok = 1;
    for (char *line = strchr(text, '\n') + 1; *line; rows++) {
        long idx, label, pred;
        int used = 0;
        REQUIRE(sscanf(line, "%ld,%ld,%ld%n", &idx, &label, &pred, &used) == 3);
        index_ok &= idx == rows;
        char *p = line + used;
        float best = 0;
        long arg = -1;
        for (int c = 0; c < 10; c++) {
            REQUIRE(*p == ',');
            float v = strtof(p + 1, &p);
            if (arg < 0 || v > best) best = v, arg = c;
        }
        CHECK_EQ_INT(pred, arg);
        if (label >= 0 && label < 10 && pred >= 0 && pred < 10) rebuilt[label * 10 + pred]++;
        line = strchr(line, '\n') + 1;
    }
    CHECK_EQ_INT(rows, 30);
    CHECK(index_ok);
    CHECK_MSG(!memcmp(rebuilt, m, sizeof m), "the predictions do not rebuild the confusion matrix");
    free(text);
    // JSON lines for .jsonl, the same predictions.
    snprintf(cmd, sizeof cmd, "%s eval '%s' --threads 1 --predictions '%s'", lra_bin(), run_dir, jsonl);
    REQUIRE(run_cmd(cmd, &out, &err) == 0);
    CHECK_MSG(strstr(out, "per class (rows: true label; columns: predicted class)"), "%s", out);
    free(out);
    free(err);
    REQUIRE(lra_file_read_all(jsonl, &text, &n) == LRA_OK);
    CHECK_EQ_INT(count_lines(text), 30);
    CHECK(!strncmp(text, "{\"index\": 0, \"label\": ", 22) && strstr(text, "\"logits\": ["));
    free(text);
}

// A run directory that cannot be read says why (the errno text), not "no checkpoint".
static void test_unreadable_run_dir(void) {
    char cmd[2500], *out, *err, path[400];
    config_path();
    snprintf(path, sizeof path, "%s/a-file", g_root);
    REQUIRE(lra_atomic_write_file(path, "x", 1) == LRA_OK);
    // A path through a file: "Not a directory".
    snprintf(cmd, sizeof cmd, "%s train '%s' --run-dir '%s/run' --resume --quiet", lra_bin(), config_path(), path);
    int rc = run_cmd(cmd, &out, &err);
    CHECK(rc != 0);
    CHECK_MSG(strcasestr(err, "not a directory") && !strstr(err, "no loadable checkpoint"), "%s", err);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s eval '%s/run'", lra_bin(), path);
    rc = run_cmd(cmd, &out, &err);
    CHECK(rc == 1);
    CHECK_MSG(strcasestr(err, "not a directory") && !strstr(err, "no loadable checkpoint"), "%s", err);
    free(out);
    free(err);
    // A folder without read permission: "Permission denied".  Root reads everything, so the command
    // then runs as the unprivileged user nobody.
    char locked[400];
    snprintf(locked, sizeof locked, "%s/locked", g_root);
    REQUIRE(lra_path_mkdirs(locked) == LRA_OK);
    REQUIRE(chmod(locked, 0300) == 0);  // writable and searchable, not listable
    REQUIRE(chmod(g_root, 0755) == 0);
    char err_path[400];
    snprintf(err_path, sizeof err_path, "%s/locked.err", g_root);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0 || dup2(fd, 2) < 0 || !freopen("/dev/null", "w", stdout)) _exit(126);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(125);
        execl(lra_bin(), lra_bin(), "eval", locked, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    chmod(locked, 0700);
    if (WEXITSTATUS(status) == 125 || WEXITSTATUS(status) == 127) SKIP("cannot run lra as an unprivileged user here");
    CHECK(WEXITSTATUS(status) == 1);
    char *text = NULL;
    size_t n;
    REQUIRE(lra_file_read_all(err_path, &text, &n) == LRA_OK);
    CHECK_MSG(strstr(text, "cannot read the run directory: Permission denied") != NULL, "%s", text);
    free(text);
}

// make install: a portable build with headers, liblra.a and lra.pc; a program compiled with
// `pkg-config --cflags --libs lra` against the installed tree links and runs, and the installed binary
// uses no AVX (ymm) instructions, so it runs on any x86-64-v2 CPU.
static void test_make_install_pkg_config(void) {
#ifdef __SANITIZE_ADDRESS__
    SKIP("the release build covers make install");
#endif
    if (system("command -v pkg-config > /dev/null 2>&1 && command -v objdump > /dev/null 2>&1") != 0)
        SKIP("pkg-config or objdump is not installed");
    config_path();
    char prefix[400], cmd[2500], *out;
    snprintf(prefix, sizeof prefix, "%s/prefix", g_root);
    // The build of the portable objects (build-portable/, kept between runs) is not part of the parent
    // make's job server.
    snprintf(cmd, sizeof cmd, "env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -j2 --no-print-directory install PREFIX='%s'",
             prefix);
    int rc = run_cmd(cmd, &out, NULL);
    CHECK_MSG(rc == 0, "make install failed (exit %d): %s", rc, out);
    free(out);
    if (rc) return;
    char src[500];
    snprintf(src, sizeof src, "%s/hello.c", g_root);
    const char *program =
        "#include <stdio.h>\n#include \"core/params.h\"\n#include \"tasks/task.h\"\n"
        "int main(void) {\n  lra_params p;\n  lra_params_init(&p);\n"
        "  lra_params_add(&p, \"w\", (int64_t[]){3, 4}, 2, LRA_INIT_ZEROS, 0);\n  lra_params_finalize(&p);\n"
        "  printf(\"%lld %d %s\\n\", (long long)lra_params_count_values(&p, 1), lra_task_count(),\n"
        "         lra_task_get(0)->name);\n  lra_params_free(&p);\n  return 0;\n}\n";
    REQUIRE(lra_atomic_write_file(src, program, strlen(program)) == LRA_OK);
    snprintf(cmd, sizeof cmd,
             "PKG_CONFIG_PATH='%s/lib/pkgconfig' && export PKG_CONFIG_PATH && pkg-config --modversion lra && "
             "gcc -std=c11 -o '%s/hello' '%s' $(pkg-config --cflags lra) $(pkg-config --libs lra) && '%s/hello'",
             prefix, g_root, src, g_root);
    rc = run_cmd(cmd, &out, NULL);
    CHECK_MSG(rc == 0 && strstr(out, "0.1.0\n12 6 listops\n"), "exit %d: %s", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s/bin/lra' --version && objdump -d '%s/bin/lra' | grep -c '%%ymm'", prefix, prefix);
    rc = run_cmd(cmd, &out, NULL);
    CHECK_MSG(strstr(out, "lra 0.1.0\n0\n") != NULL, "the installed binary uses AVX registers: %s", out);
    free(out);
}

static const lra_test_case TESTS[] = {
    {"help_everywhere", test_help_everywhere},
    {"model_summary_counts", test_model_summary_counts},
    {"print_config_round_trip", test_print_config_round_trip},
    {"dry_run", test_dry_run},
    {"train_start_and_done_lines", test_train_start_and_done_lines},
    {"eval_confusion_and_predictions", test_eval_confusion_and_predictions},
    {"unreadable_run_dir", test_unreadable_run_dir},
    {"make_install_pkg_config", test_make_install_pkg_config},
};
LRA_TEST_MAIN(TESTS)
