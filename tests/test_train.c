// End-to-end training runs on a small generated ListOps set: byte-exact resume, refused configs,
// corrupted checkpoints, a run killed while checkpointing, evaluation and the results table.
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attention/attention.h"
#include "core/fileio.h"
#include "core/safetensors.h"
#include "core/threads.h"
#include "data/listops_gen.h"
#include "tasks/checkpoint.h"
#include "tasks/settings.h"
#include "tasks/trainer.h"
#include "tests/harness.h"

static char g_root[256];
static char g_data[300];

// A small ListOps set shared by the cases (short expressions so steps are fast).
static const char *data_dir(void) {
    if (g_data[0]) return g_data;
    snprintf(g_root, sizeof g_root, "/tmp/lra-test-train-%d", (int)getpid());
    snprintf(g_data, sizeof g_data, "%s/listops", g_root);
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 3;
    o.n_train = 256;
    o.n_val = 48;
    o.n_test = 40;
    o.max_depth = 4;
    o.min_length = 10;
    o.max_length = 60;
    LRA_ASSERT(lra_path_mkdirs(g_data) == LRA_OK);
    LRA_ASSERT(lra_listops_generate(&o, g_data) == LRA_OK);
    return g_data;
}

static lra_status settings_from(const char *extra_yaml, const char *const *sets, int n_sets, lra_run_settings *s,
                                char **yaml_out) {
    char text[4096];
    snprintf(text, sizeof text,
             "seed: 7\ntask: listops\ndata:\n  path: %s\n  max_length: 64\nmodel:\n  dim: 16\n  heads: 2\n"
             "  head_dim: 8\n  hidden: 32\n  head_hidden: 16\n  dropout: 0.1\n  attention:\n    type: softmax\n"
             "train:\n  steps: 12\n  batch_size: 16\n  accumulation: 2\n  lr: 3.0e-3\n  warmup: 3\n"
             "  eval_every: 4\n  log_every: 2\n  patience: 0\n%s",
             data_dir(), extra_yaml ? extra_yaml : "");
    lra_config_schema *schema = lra_settings_schema();
    lra_config *c = NULL;
    lra_status st = lra_config_parse(&c, "test.yaml", text);
    for (int i = 0; !st && i < n_sets; i++) st = lra_config_set(c, sets[i]);
    if (!st) st = lra_config_validate(c, schema);
    if (!st) st = lra_settings_resolve(c, s);
    if (!st && yaml_out) *yaml_out = lra_settings_resolved_yaml(c, s);
    lra_config_free(c);
    lra_config_schema_free(schema);
    return st;
}

static lra_status run(const char *dir, const lra_run_settings *s, const char *yaml, int resume, int64_t stop_at,
                      lra_train_summary *sum) {
    lra_train_options o = {.run_dir = dir, .config_yaml = yaml, .resume = resume, .stop_at = stop_at,
                           .progress = 0, .rank = 0, .world = 1};
    return lra_train(s, &o, sum);
}

// Parameters and optimizer moments of a checkpoint, as one blob.
static float *checkpoint_state(const char *path, const lra_run_settings *s, size_t *n) {
    lra_model m;
    lra_model_build(&m, &s->model, 999);
    lra_train_state st;
    if (lra_checkpoint_load(path, &m, &st, NULL) != LRA_OK) {
        lra_model_free(&m);
        return NULL;
    }
    *n = m.params.total * 3;
    float *out = malloc(*n * sizeof(float));
    memcpy(out, m.params.data, m.params.total * 4);
    memcpy(out + m.params.total, m.params.m, m.params.total * 4);
    memcpy(out + 2 * m.params.total, m.params.v, m.params.total * 4);
    lra_model_free(&m);
    return out;
}

static void test_resume_is_byte_exact(void) {
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from(NULL, NULL, 0, &s, &yaml) == LRA_OK);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/straight", g_root);
    snprintf(b, sizeof b, "%s/resumed", g_root);
    lra_train_summary sum;
    CHECK_OK(run(a, &s, yaml, 0, 0, &sum));
    CHECK_EQ_INT(sum.steps_done, 12);
    // Stop at step 6 (not an evaluation step), resume, stop at 9, resume to the end.
    CHECK_OK(run(b, &s, yaml, 0, 6, &sum));
    CHECK(sum.interrupted);
    CHECK_EQ_INT(sum.steps_done, 6);
    CHECK_OK(run(b, &s, yaml, 1, 9, &sum));
    CHECK_EQ_INT(sum.steps_done, 9);
    CHECK_OK(run(b, &s, yaml, 1, 0, &sum));
    CHECK_EQ_INT(sum.steps_done, 12);
    char pa[500], pb[500];
    snprintf(pa, sizeof pa, "%s/ckpt-00000012.lra", a);
    snprintf(pb, sizeof pb, "%s/ckpt-00000012.lra", b);
    size_t na = 0, nb = 0;
    float *x = checkpoint_state(pa, &s, &na), *y = checkpoint_state(pb, &s, &nb);
    REQUIRE(x && y);
    CHECK_EQ_INT(na, nb);
    CHECK_MSG(memcmp(x, y, na * 4) == 0, "parameters/moments after a resumed run differ from the straight run");
    // The test evaluation of both runs must agree too.
    char ja[500], jb[500];
    snprintf(ja, sizeof ja, "%s/eval.json", a);
    snprintf(jb, sizeof jb, "%s/eval.json", b);
    char *ta = NULL, *tb = NULL;
    size_t la, lb;
    CHECK_OK(lra_file_read_all(ja, &ta, &la));
    CHECK_OK(lra_file_read_all(jb, &tb, &lb));
    CHECK(ta && tb && !strcmp(ta, tb));
    free(ta);
    free(tb);
    free(x);
    free(y);
    // Resuming a finished run only redoes the final evaluation; a fresh run in a used directory is refused.
    CHECK_OK(run(b, &s, yaml, 1, 0, &sum));
    CHECK_EQ_INT(run(b, &s, yaml, 0, 0, &sum), LRA_ERR_STATE);
    CHECK(strstr(lra_error_message(), "--resume") != NULL);
    free(yaml);
}

static void test_resume_refuses_changed_config(void) {
    lra_run_settings s, s2;
    char *yaml = NULL, *yaml2 = NULL;
    const char *sets[] = {"train.lr=1e-3"};
    REQUIRE(settings_from(NULL, NULL, 0, &s, &yaml) == LRA_OK);
    REQUIRE(settings_from(NULL, sets, 1, &s2, &yaml2) == LRA_OK);
    char d[400];
    snprintf(d, sizeof d, "%s/changed", g_root);
    lra_train_summary sum;
    CHECK_OK(run(d, &s, yaml, 0, 2, &sum));
    CHECK_EQ_INT(run(d, &s2, yaml2, 1, 0, &sum), LRA_ERR_CONFIG);
    CHECK(strstr(lra_error_message(), "differs") != NULL);
    free(yaml);
    free(yaml2);
}

static void test_bad_configs(void) {
    lra_run_settings s;
    struct {
        const char *extra;
        const char *set;
        const char *want;
        const char *set2;
    } cases[] = {
        {"  bogus: 1\n", NULL, "test.yaml:24:3: unknown key 'train.bogus'", NULL},
        {NULL, "train.batch_size=ten", "--set train.batch_size=ten", NULL},
        {NULL, "train.accumulation=3", "must divide train.batch_size", NULL},
        {NULL, "model.attention.type=nonesuch", "unknown attention kernel", NULL},
        {NULL, "train.lr=-1", "train.lr", NULL},
        {NULL, "model.dropout=1.5", "model.dropout", NULL},
        {NULL, "train.warmup=50", "onecycle needs", NULL},
        {NULL, "model.attention.softmax.dropout=2", "model.attention.softmax.dropout", NULL},
        {NULL, "model.attention.s3.r=5", "expected a divisor of the model width 16, got 5", "model.attention.type=s3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *sets[2] = {cases[i].set, cases[i].set2};
        lra_status st = settings_from(cases[i].extra, sets, cases[i].set ? (cases[i].set2 ? 2 : 1) : 0, &s, NULL);
        CHECK_MSG(st == LRA_ERR_CONFIG, "case %zu: status %d", i, (int)st);
        CHECK_MSG(strstr(lra_error_message(), cases[i].want) != NULL, "case %zu: message \"%s\" lacks \"%s\"", i,
                  lra_error_message(), cases[i].want);
    }
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ 0x10, f);
    fclose(f);
}

static void test_corrupt_checkpoints_refused(void) {
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from(NULL, NULL, 0, &s, &yaml) == LRA_OK);
    char d[400], ck[500], cmd[1200];
    snprintf(d, sizeof d, "%s/corrupt", g_root);
    lra_train_summary sum;
    CHECK_OK(run(d, &s, yaml, 0, 4, &sum));
    snprintf(ck, sizeof ck, "%s/ckpt-00000004.lra", d);
    lra_model m;
    lra_model_build(&m, &s.model, 1);
    lra_train_state st;
    CHECK_OK(lra_checkpoint_load(ck, &m, &st, NULL));
    CHECK_EQ_INT(st.step, 4);
    const char *kinds[] = {"truncated", "bit-flipped", "wrong version"};
    for (int k = 0; k < 3; k++) {
        char bad[600];
        snprintf(bad, sizeof bad, "%s/bad-%d.lra", d, k);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", ck, bad);
        REQUIRE(system(cmd) == 0);
        if (k == 0) REQUIRE(truncate(bad, 3000) == 0);
        if (k == 1) flip_byte(bad, -200);
        if (k == 2) flip_byte(bad, 8);  // the version field follows the 8-byte magic
        lra_status e = lra_checkpoint_load(bad, &m, &st, NULL);
        CHECK_MSG(e != LRA_OK, "%s checkpoint was accepted", kinds[k]);
        CHECK_MSG(strstr(lra_error_message(), bad) != NULL, "%s: message does not name the file: %s", kinds[k],
                  lra_error_message());
        remove(bad);
    }
    // A checkpoint of another model shape is refused by name.
    lra_run_settings s2;
    const char *sets[] = {"model.hidden=48"};
    REQUIRE(settings_from(NULL, sets, 1, &s2, NULL) == LRA_OK);
    lra_model m2;
    lra_model_build(&m2, &s2.model, 1);
    CHECK(lra_checkpoint_load(ck, &m2, &st, NULL) != LRA_OK);
    CHECK(strstr(lra_error_message(), "mlpblock") != NULL);
    lra_model_free(&m2);
    // The newest checkpoint being damaged: resume falls back to the previous complete one.
    lra_model_free(&m);
    free(yaml);
}

static void test_kill_during_checkpoint(void) {
    lra_run_settings s;
    char *yaml = NULL;
    const char *sets[] = {"train.steps=400", "train.eval_every=1000", "train.checkpoint_every=1"};
    REQUIRE(settings_from(NULL, sets, 3, &s, &yaml) == LRA_OK);
    char d[400];
    snprintf(d, sizeof d, "%s/killed", g_root);
    // The run goes in a child process running the CLI (OpenMP's thread pool does not survive a plain fork).
    char cfg_path[500];
    snprintf(cfg_path, sizeof cfg_path, "%s/killed.yaml", g_root);
    REQUIRE(lra_atomic_write_file(cfg_path, yaml, strlen(yaml)) == LRA_OK);
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    char lra_path[300];
    snprintf(lra_path, sizeof lra_path, "%s/lra", build);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        execl(lra_path, lra_path, "train", cfg_path, "--run-dir", d, "--quiet", "--threads", "1", (char *)NULL);
        _exit(127);
    }
    // Let it write a few checkpoints, then SIGKILL at an arbitrary moment (likely mid-write: it writes
    // one every step).
    for (int i = 0; i < 400; i++) {
        usleep(20000);
        char *latest = lra_run_latest_checkpoint(d);
        int have = latest && lra_run_checkpoint_step(lra_path_basename(latest)) >= 5;
        free(latest);
        if (have) break;
    }
    usleep(7000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    char *latest = lra_run_latest_checkpoint(d);
    if (!latest) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "ls -la '%s'", d);
        if (system(cmd)) {
        }
    }
    REQUIRE(latest != NULL);
    lra_model m;
    lra_model_build(&m, &s.model, 1);
    lra_train_state st;
    CHECK_OK(lra_checkpoint_load(latest, &m, &st, NULL));
    CHECK(st.step >= 5);
    lra_model_free(&m);
    free(latest);
    // A temporary file of a dead writer (as a kill mid-write leaves) is swept when the run resumes.
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char stale[600];
    snprintf(stale, sizeof stale, "%s/.ckpt-00000099.lra.tmp.%ld.0", d, (long)dead);
    REQUIRE(lra_atomic_write_file(stale, "partial", 7) == LRA_OK);
    // And the run resumes from it.
    lra_run_settings s3;
    char *yaml3 = NULL;
    REQUIRE(settings_from(NULL, sets, 3, &s3, &yaml3) == LRA_OK);
    s3.steps = s.steps;
    lra_train_summary sum;
    CHECK_OK(run(d, &s, yaml, 1, st.step + 2, &sum));
    CHECK_EQ_INT(sum.steps_done, st.step + 2);
    DIR *dir = opendir(d);
    REQUIRE(dir != NULL);
    int temps = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) temps += strstr(e->d_name, ".tmp.") != NULL;
    closedir(dir);
    CHECK_MSG(temps == 0, "%d temporary files left in the resumed run directory", temps);
    free(yaml);
    free(yaml3);
}

// SIGTERM (as a job scheduler sends) finishes the step, writes a checkpoint, exits with 128+15 and a
// message saying how to resume; the resumed run then completes.
static void test_sigterm_checkpoints_and_resumes(void) {
    lra_run_settings s;
    char *yaml = NULL;
    const char *sets[] = {"train.steps=100000", "train.eval_every=100000", "train.checkpoint_every=100000"};
    REQUIRE(settings_from(NULL, sets, 3, &s, &yaml) == LRA_OK);
    char d[400], cfg_path[500], err_path[500];
    snprintf(d, sizeof d, "%s/sigterm", g_root);
    snprintf(cfg_path, sizeof cfg_path, "%s/sigterm.yaml", g_root);
    snprintf(err_path, sizeof err_path, "%s/sigterm.err", g_root);
    REQUIRE(lra_atomic_write_file(cfg_path, yaml, strlen(yaml)) == LRA_OK);
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    char lra_path[300];
    snprintf(lra_path, sizeof lra_path, "%s/lra", build);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(err_path, "w", stderr)) _exit(126);
        execl(lra_path, lra_path, "train", cfg_path, "--run-dir", d, "--threads", "1", (char *)NULL);
        _exit(127);
    }
    // Wait until training runs (metrics.jsonl has lines), then ask it to stop.
    char metrics[500];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", d);
    for (int i = 0; i < 500; i++) {
        usleep(20000);
        lra_file_info info;
        if (lra_file_stat(metrics, &info) == LRA_OK && info.size > 0) break;
    }
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM);
    char *err = NULL;
    size_t n;
    CHECK_OK(lra_file_read_all(err_path, &err, &n));
    CHECK_MSG(err && strstr(err, "--resume") && strstr(err, "terminated (SIGTERM)"), "stderr: %s", err ? err : "");
    free(err);
    char *latest = lra_run_latest_checkpoint(d);
    REQUIRE(latest != NULL);
    const int64_t step = lra_run_checkpoint_step(lra_path_basename(latest));
    CHECK(step >= 2);
    free(latest);
    lra_train_summary sum;
    CHECK_OK(run(d, &s, yaml, 1, step + 3, &sum));
    CHECK_EQ_INT(sum.steps_done, step + 3);
    free(yaml);
}

static void test_cli_eval_and_table(void) {
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    char cmd[1500], d[400];
    snprintf(d, sizeof d, "%s/straight", g_root);
    char out[500];
    snprintf(out, sizeof out, "%s/table.md", g_root);
    snprintf(cmd, sizeof cmd, "%s/lra table '%s' > '%s'", build, d, out);
    REQUIRE(system(cmd) == 0);
    char *t = NULL;
    size_t n;
    CHECK_OK(lra_file_read_all(out, &t, &n));
    CHECK(t && strstr(t, "| Attention | ListOps | Text | Retrieval | Image | Pathfinder | Average |"));
    CHECK(t && strstr(t, "| softmax |"));
    free(t);
    snprintf(cmd, sizeof cmd, "%s/lra eval '%s' --json > '%s/eval-cli.json'", build, d, g_root);
    CHECK(system(cmd) == 0);
    snprintf(out, sizeof out, "%s/eval-cli.json", g_root);
    CHECK_OK(lra_file_read_all(out, &t, &n));
    CHECK(t && strstr(t, "\"split\": \"test\"") && strstr(t, "\"examples\": 40"));
    free(t);
    snprintf(cmd, sizeof cmd, "%s/lra train nonexistent.yaml --quiet 2> '%s/err.txt'", build, g_root);
    CHECK(system(cmd) != 0);
    snprintf(cmd, sizeof cmd, "%s/lra train --bogus 2> /dev/null", build);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
}

static void test_thread_count_independent(void) {
    lra_run_settings s;
    char *yaml = NULL;
    const char *sets[] = {"train.steps=6", "train.eval_every=3"};
    REQUIRE(settings_from(NULL, sets, 2, &s, &yaml) == LRA_OK);
    float *state[4] = {NULL, NULL, NULL, NULL};
    size_t n[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        char d[400], ck[500];
        snprintf(d, sizeof d, "%s/threads-%d", g_root, k + 1);
        lra_threads_set(k + 1);
        lra_train_summary sum;
        CHECK_OK(run(d, &s, yaml, 0, 0, &sum));
        snprintf(ck, sizeof ck, "%s/ckpt-00000006.lra", d);
        state[k] = checkpoint_state(ck, &s, &n[k]);
    }
    lra_threads_set(0);
    for (int k = 1; k < 4; k++) {
        REQUIRE(state[0] && state[k] && n[0] == n[k]);
        CHECK_MSG(memcmp(state[0], state[k], n[0] * 4) == 0, "training with 1 and %d threads gave different parameters",
                  k + 1);
    }
    for (int k = 0; k < 4; k++) free(state[k]);
    free(yaml);
}

// export -> safetensors with PyTorch names -> import -> the same weights; and the PyTorch-written
// reference dump (tools/ref/make_dumps.py) imports into a checkpoint whose parameters equal the dump.
// Across OpenBLAS core types (what differs between CPUs: the BLAS kernels the library picks), training
// agrees within a tolerance, not bit for bit.  6 AdamW steps of the small model under each core type the
// CPU can run, compared with the first: parameters within 1e-5 relative (2-norm over all parameters).
static void test_coretypes_agree_within_tolerance(void) {
#ifdef __SANITIZE_ADDRESS__
    SKIP("seven more runs of the sanitised binaries: the release build covers the OpenBLAS core types");
#endif
    const char *build = getenv("LRA_BUILD");
    if (!build || !*build) build = "build";
    lra_run_settings s;
    char *yaml = NULL;
    const char *sets[] = {"train.steps=6", "train.eval_every=6"};
    REQUIRE(settings_from(NULL, sets, 2, &s, &yaml) == LRA_OK);
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/coretypes.yaml", g_root);
    REQUIRE(lra_atomic_write_file(cfg, yaml, strlen(yaml)) == LRA_OK);
    const char *types[8];
    const int nt = lra_test_coretypes(types, 8);
    float *ref = NULL;
    size_t nref = 0;
    double worst = 0.0;
    for (int i = 0; i < nt; i++) {
        char d[400], ck[500], cmd[1400];
        snprintf(d, sizeof d, "%s/coretype-%s", g_root, types[i]);
        snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=%s %s/lra train '%s' --run-dir '%s' --quiet --threads 2 > /dev/null 2>&1",
                 types[i], build, cfg, d);
        CHECK_MSG(system(cmd) == 0, "training under OPENBLAS_CORETYPE=%s failed", types[i]);
        snprintf(ck, sizeof ck, "%s/ckpt-00000006.lra", d);
        size_t n = 0;
        float *st = checkpoint_state(ck, &s, &n);
        REQUIRE(st);
        if (!ref) {
            ref = st, nref = n;
            continue;
        }
        REQUIRE(n == nref);
        const size_t np = n / 3;  // parameters (then the two moments)
        double dd = 0, aa = 0;
        for (size_t j = 0; j < np; j++) {
            dd += ((double)st[j] - ref[j]) * ((double)st[j] - ref[j]);
            aa += (double)ref[j] * ref[j];
        }
        const double r = sqrt(dd / aa);
        printf("  %-12s vs %s: parameters differ by %.3g (relative 2-norm)\n", types[i], types[0], r);
        if (r > worst) worst = r;
        free(st);
    }
    CHECK_MSG(worst <= 1e-5, "OpenBLAS core types disagree by %.3g after 6 steps", worst);
    free(ref);
    free(yaml);
}

static void test_export_import_round_trip(void) {
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    char cmd[2000], d[400];
    snprintf(d, sizeof d, "%s/straight", g_root);
    snprintf(cmd, sizeof cmd,
             "%s/lra export '%s' --safetensors '%s/w.safetensors' > /dev/null && "
             "%s/lra import '%s/w.safetensors' --out '%s/imported.lra' > /dev/null",
             build, d, g_root, build, g_root, g_root);
    REQUIRE(system(cmd) == 0);
    lra_run_settings s;
    REQUIRE(settings_from(NULL, NULL, 0, &s, NULL) == LRA_OK);
    char a[500], b[500];
    snprintf(a, sizeof a, "%s/best.lra", d);
    snprintf(b, sizeof b, "%s/imported.lra", g_root);
    size_t na = 0, nb = 0;
    float *x = checkpoint_state(a, &s, &na), *y = checkpoint_state(b, &s, &nb);
    REQUIRE(x && y && na == nb);
    CHECK_MSG(memcmp(x, y, na / 3 * 4) == 0, "weights changed through export/import");
    free(x);
    free(y);
    // The safetensors file names tensors as the PyTorch module does.
    lra_safetensors *f = NULL;
    snprintf(a, sizeof a, "%s/w.safetensors", g_root);
    CHECK_OK(lra_safetensors_open(&f, a));
    CHECK(f && lra_safetensors_find(f, "model.transformer_1.mha.W_q.weight"));
    CHECK(f && lra_safetensors_find(f, "seq_classifer.mlpblock.2.bias"));
    CHECK(f && lra_safetensors_meta(f, "config"));
    lra_safetensors_close(f);
    // A PyTorch-written dump imports, and exports back to exactly the same tensors.
    snprintf(cmd, sizeof cmd,
             "%s/lra import '%s/ref/model_listops.safetensors' --prefix param. --allow-extra "
             "--config '%s/ref/listops_tiny.yaml' --out '%s/torch.lra' > /dev/null && "
             "%s/lra export '%s/torch.lra' --safetensors '%s/torch-again.safetensors' > /dev/null",
             build, lra_test_fixtures(), lra_test_fixtures(), g_root, build, g_root, g_root);
    REQUIRE(system(cmd) == 0);
    lra_safetensors *ref = NULL, *again = NULL;
    snprintf(a, sizeof a, "%s/ref/model_listops.safetensors", lra_test_fixtures());
    snprintf(b, sizeof b, "%s/torch-again.safetensors", g_root);
    CHECK_OK(lra_safetensors_open(&ref, a));
    CHECK_OK(lra_safetensors_open(&again, b));
    REQUIRE(ref && again);
    CHECK_EQ_INT(lra_safetensors_count(again), 40);
    for (int i = 0; i < lra_safetensors_count(again); i++) {
        const lra_safetensors_entry *e = lra_safetensors_entry_at(again, i);
        char key[300];
        snprintf(key, sizeof key, "param.%s", e->name);
        const lra_safetensors_entry *r = lra_safetensors_find(ref, key);
        CHECK_MSG(r != NULL, "%s missing from the PyTorch dump", key);
        if (!r) continue;
        size_t bytes = (size_t)(e->end - e->begin);
        CHECK_EQ_INT(bytes, r->end - r->begin);
        float *p1 = malloc(bytes), *p2 = malloc(bytes);
        CHECK_OK(lra_safetensors_read(again, e->name, LRA_CONTAINER_F32, e->ndim, e->shape, p1, bytes));
        CHECK_OK(lra_safetensors_read(ref, key, LRA_CONTAINER_F32, r->ndim, r->shape, p2, bytes));
        CHECK_MSG(memcmp(p1, p2, bytes) == 0, "%s changed through import/export", e->name);
        free(p1);
        free(p2);
    }
    lra_safetensors_close(ref);
    lra_safetensors_close(again);
    // Importing a file that lacks a tensor is refused by name.
    snprintf(cmd, sizeof cmd, "%s/lra import '%s/ref/model_single.safetensors' --config /dev/null --out '%s/x.lra' "
             "2> '%s/imp.err'", build, lra_test_fixtures(), g_root, g_root);
    CHECK(system(cmd) != 0);
}

// A sampling kernel (which needs real tokens in every example) with a last partial evaluation batch:
// only real rows reach the model.
static void test_sampling_kernel_partial_eval_batch(void) {
    lra_run_settings s;
    char *yaml = NULL;
    const char *sets[] = {"model.attention.type=skeinformer", "train.steps=3", "train.eval_every=3",
                          "train.eval_batch_size=5", "train.warmup=1"};
    lra_status st = settings_from(NULL, sets, 5, &s, &yaml);
    CHECK_MSG(st == LRA_OK, "%s", lra_error_message());
    if (st) return;
    char d[400];
    snprintf(d, sizeof d, "%s/skein-partial", g_root);
    lra_train_summary sum;
    CHECK_OK(run(d, &s, yaml, 0, 0, &sum));
    CHECK_EQ_INT(sum.test_examples, 40);
    free(yaml);
}

// Data with a sequence shorter than a kernel's minimum (skeinformer samples need 2 real tokens) is
// refused with the example named, before training starts.
static void test_too_short_sequences_refused(void) {
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/short-listops", g_root);
    REQUIRE(lra_path_mkdirs(dir) == LRA_OK);
    const char *tsv = "Source\tTarget\r\n[MAX 2 5 ]\t5\r\n3\t3\r\n";
    const char *names[] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        REQUIRE(lra_atomic_write_file(path, tsv, strlen(tsv)) == LRA_OK);
    }
    char set_path[520];
    snprintf(set_path, sizeof set_path, "data.path=%s", dir);
    const char *sets[] = {"model.attention.type=skeinformer", set_path};
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from(NULL, sets, 2, &s, &yaml) == LRA_OK);
    char d[400];
    snprintf(d, sizeof d, "%s/short-run", g_root);
    lra_train_summary sum;
    CHECK_EQ_INT(run(d, &s, yaml, 0, 0, &sum), LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "example 1 of the train split has 1 tokens"), "%s", lra_error_message());
    free(yaml);
}

// Every registered kernel trains end to end inside the model (2 steps, evaluation, test of the best
// checkpoint) with finite losses.
static void test_every_kernel_trains(void) {
    for (int i = 0; i < lra_attention_count(); i++) {
        const char *name = lra_attention_get(i)->name;
        char set_type[128], d[400];
        snprintf(set_type, sizeof set_type, "model.attention.type=%s", name);
        const char *sets[] = {set_type, "train.steps=2", "train.eval_every=2", "train.warmup=1",
                              "model.attention.nystrom.num_landmarks=16"};  // divides the length 64
        lra_run_settings s;
        char *yaml = NULL;
        lra_status st = settings_from(NULL, sets, 5, &s, &yaml);
        CHECK_MSG(st == LRA_OK, "%s: %s", name, lra_error_message());
        if (st) continue;
        snprintf(d, sizeof d, "%s/kernel-%s", g_root, name);
        lra_train_summary sum;
        st = run(d, &s, yaml, 0, 0, &sum);
        CHECK_MSG(st == LRA_OK, "%s: %s", name, lra_error_message());
        CHECK_MSG(st || (isfinite(sum.test_loss) && sum.test_examples == 40), "%s: test loss %g on %lld examples", name,
                  sum.test_loss, (long long)sum.test_examples);
        free(yaml);
    }
}

// Every shipped config validates against the schema and resolves (so configs/ never rots).
static void test_shipped_configs_validate(void) {
    const char *names[] = {"listops", "text", "retrieval", "image", "pathfinder", "quickstart"};
    lra_config_schema *schema = lra_settings_schema();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "configs/%s.yaml", names[i]);
        lra_config *c = NULL;
        lra_run_settings s;
        lra_status st = lra_config_load(&c, path);
        if (!st) st = lra_config_validate(c, schema);
        if (!st) st = lra_settings_resolve(c, &s);
        CHECK_MSG(st == LRA_OK, "%s: %s", path, lra_error_message());
        if (!st && strcmp(names[i], "quickstart")) {
            CHECK_MSG(!strcmp(s.task->name, names[i]), "%s: task %s", path, s.task->name);
            CHECK_EQ_INT(s.model.enc.layers, 2);
            CHECK_EQ_INT(s.model.enc.dim, 64);
        }
        lra_config_free(c);
    }
    lra_config_schema_free(schema);
}

static void test_cleanup(void) {
    if (g_root[0]) lra_test_rmtree(g_root);
}

static const lra_test_case TESTS[] = {
    {"resume_is_byte_exact", test_resume_is_byte_exact},
    {"resume_refuses_changed_config", test_resume_refuses_changed_config},
    {"bad_configs", test_bad_configs},
    {"corrupt_checkpoints_refused", test_corrupt_checkpoints_refused},
    {"kill_during_checkpoint", test_kill_during_checkpoint},
    {"sigterm_checkpoints_and_resumes", test_sigterm_checkpoints_and_resumes},
    {"cli_eval_and_table", test_cli_eval_and_table},
    {"thread_count_independent", test_thread_count_independent},
    {"coretypes_agree_within_tolerance", test_coretypes_agree_within_tolerance},
    {"export_import_round_trip", test_export_import_round_trip},
    {"sampling_kernel_partial_eval_batch", test_sampling_kernel_partial_eval_batch},
    {"too_short_sequences_refused", test_too_short_sequences_refused},
    {"every_kernel_trains", test_every_kernel_trains},
    {"shipped_configs_validate", test_shipped_configs_validate},
    {"cleanup", test_cleanup},
};
LRA_TEST_MAIN(TESTS)
