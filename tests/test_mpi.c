// Data-parallel training under MPI (`make MPI=1`): runs `lra train` under mpirun on a small generated
// ListOps set and checks that
//   - 2 ranks give the parameters of 1 process with the same global batch and seed (1e-6 relative), and
//     the same 2-rank run twice gives byte-identical parameters (fixed-order reductions);
//   - a checkpoint written by 2 ranks resumes with 1 process (and one written by 1 process with 2) and
//     continues exactly as the uninterrupted run, data cursor included;
//   - a rank killed with SIGKILL stops the whole run with a message naming the rank, instead of a hang,
//     and the last checkpoint stays loadable; a rank whose data cannot be read stops every rank with a
//     message naming the rank and the file;
//   - with train.grad_shards = 4, 1 process, 2 ranks and 4 ranks give byte-identical parameters (the
//     gradient is 4 shard gradients added in shard order, however the shards are spread over ranks);
//   - a batch that does not split evenly over the ranks is refused at start.
// In the default build (no MPI) every case is skipped.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "data/listops_gen.h"
#include "tasks/checkpoint.h"
#include "tasks/settings.h"
#include "tasks/trainer.h"
#include "tests/harness.h"

static char g_root[256];
static char g_cfg[320];
static char g_lra[512];
static char g_skip[1024];

// The mpirun line used by every case: more ranks than cores are allowed.  Under `make MPI=1 asan` the
// ranks skip LeakSanitizer: Open MPI holds allocations until exit in plugins it unloads at
// MPI_Finalize, which no suppression can name (the 1-process runs keep leak checks).
#define MPIRUN "mpirun --oversubscribe -x ASAN_OPTIONS=detect_leaks=0 -np"

#ifdef LRA_WITH_MPI
static int g_ready = -1;  // -1: not checked yet, 0: skip, 1: ready

// Writes the data set and the config once.
static int setup(void) {
    if (g_ready >= 0) return g_ready;
    g_ready = 0;
    if (system("command -v mpirun > /dev/null 2>&1") != 0) {
        snprintf(g_skip, sizeof g_skip, "mpirun not found (tools/install-deps.sh --mpi)");
        return 0;
    }
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    snprintf(g_lra, sizeof g_lra, "%s/lra", build);
    if (!lra_file_exists(g_lra)) {
        snprintf(g_skip, sizeof g_skip, "%s not built", g_lra);
        return 0;
    }
    // Open MPI refuses root unless told (CI containers run as root).
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    snprintf(g_root, sizeof g_root, "/tmp/lra-test-mpi-%d", (int)getpid());
    char data[400];
    snprintf(data, sizeof data, "%s/listops", g_root);
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 11;
    o.n_train = 256;
    o.n_val = 40;
    o.n_test = 40;
    o.max_depth = 4;
    o.min_length = 10;
    o.max_length = 60;
    if (lra_path_mkdirs(data) != LRA_OK || lra_listops_generate(&o, data) != LRA_OK) {
        snprintf(g_skip, sizeof g_skip, "cannot write the data set: %s", lra_error_message());
        return 0;
    }
    // 20 steps of 16 examples (2 micro-batches of 8, 4 rows per rank with 2 ranks) cross an epoch
    // boundary (256 rows); dropout is on, so per-row keyed draws are exercised.
    char text[2048];
    snprintf(text, sizeof text,
             "seed: 3\ntask: listops\ndata:\n  path: %s\n  max_length: 64\nmodel:\n  layers: 2\n  dim: 16\n"
             "  heads: 2\n  head_dim: 8\n  hidden: 32\n  head_hidden: 16\n  dropout: 0.1\n  attention:\n"
             "    type: softmax\n    softmax:\n      dropout: 0.1\ntrain:\n  steps: 20\n  batch_size: 16\n"
             "  accumulation: 2\n  lr: 3.0e-3\n  warmup: 4\n  eval_every: 10\n  log_every: 5\n  patience: 0\n",
             data);
    snprintf(g_cfg, sizeof g_cfg, "%s/cfg.yaml", g_root);
    if (lra_atomic_write_file(g_cfg, text, strlen(text)) != LRA_OK) {
        snprintf(g_skip, sizeof g_skip, "cannot write %s", g_cfg);
        return 0;
    }
    g_ready = 1;
    return 1;
}
#else
static int setup(void) {
    snprintf(g_skip, sizeof g_skip, "built without MPI (make MPI=1)");
    return 0;
}
#endif

// Runs a shell command (printf-style) with output to `log` under the root; returns the exit status.
// Kills the command's process group and fails the case when it runs past `limit_s` (a hang).
static int sh_timeout(double limit_s, const char *log, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh_timeout(double limit_s, const char *log, const char *fmt, ...) {
    char cmd[4096], full[4800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s > '%s/%s' 2>&1", cmd, g_root, log);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    const int polls = (int)(limit_s * 50);
    for (int i = 0; i < polls; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(20000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    lra_test_fail_(__FILE__, __LINE__, "command still running after %.0f s (hang?): %s", limit_s, cmd);
    return -1;
}

// Text of a file under the root ("" if missing); free().
static char *root_file(const char *name) {
    char p[600], *t = NULL;
    size_t n;
    snprintf(p, sizeof p, "%s/%s", g_root, name);
    if (lra_file_read_all(p, &t, &n) != LRA_OK) return lra_xstrdup("");
    return t;
}

static int settings(lra_run_settings *s) {
    lra_config_schema *schema = lra_settings_schema();
    lra_config *c = NULL;
    lra_status st = lra_settings_load(g_cfg, NULL, 0, schema, &c);
    if (!st) st = lra_settings_resolve(c, s);
    lra_config_free(c);
    lra_config_schema_free(schema);
    return st == LRA_OK;
}

// Parameters, then the two optimizer moments, of run `dir`'s checkpoint at `step`; NULL if unreadable.
static float *ckpt_state(const char *dir, int step, size_t *n, lra_train_state *ts) {
    lra_run_settings s;
    if (!settings(&s)) return NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/%s/ckpt-%08d.lra", g_root, dir, step);
    lra_model m;
    lra_model_build(&m, &s.model, 12345);
    lra_train_state st;
    if (lra_checkpoint_load(p, &m, &st, NULL) != LRA_OK) {
        lra_model_free(&m);
        return NULL;
    }
    const size_t T = m.params.total;
    float *out = lra_xmalloc(3 * T * sizeof *out);
    memcpy(out, m.params.data, T * sizeof *out);
    memcpy(out + T, m.params.m, T * sizeof *out);
    memcpy(out + 2 * T, m.params.v, T * sizeof *out);
    *n = 3 * T;
    if (ts) *ts = st;
    lra_model_free(&m);
    return out;
}

// ||a - b|| / ||a|| (2-norms) for each of the three buffers (parameters, first and second moments); the
// largest of the three.  A norm, not an element-wise bound: the attention key bias has a gradient that
// is zero in exact arithmetic (softmax ignores a per-query constant), so AdamW turns its float noise,
// which depends on the summation order, into updates of about lr * 1e-3 whose sign is arbitrary.
static double rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (int part = 0; part < 3; part++) {
        const size_t lo = part * n / 3, hi = (part + 1) * n / 3;
        double dd = 0, aa = 0;
        for (size_t i = lo; i < hi; i++) {
            const double d = (double)a[i] - (double)b[i];
            dd += d * d;
            aa += (double)a[i] * (double)a[i];
        }
        double r = aa > 0 ? sqrt(dd / aa) : sqrt(dd);
        if (r != r) r = INFINITY;
        if (getenv("LRA_MPI_DEBUG")) printf("    part %d: relative difference %.3g\n", part, r);
        if (r > worst) worst = r;
    }
    return worst;
}

// Trains the reference: one process, all 20 steps (shared by the cases).
static int reference(void) {
    static int done = -1;
    if (done < 0)
        done = sh_timeout(60, "one.log", "%s train '%s' --run-dir '%s/one' --quiet --threads 1", g_lra, g_cfg, g_root) == 0;
    return done;
}

static void test_two_ranks_match_one_process(void) {
    if (!setup()) SKIP("%s", g_skip);
    REQUIRE(reference());
    CHECK_EQ_INT(sh_timeout(60, "two.log", MPIRUN " 2 %s train '%s' --run-dir '%s/two' --quiet --threads 1", g_lra,
                            g_cfg, g_root),
                 0);
    CHECK_EQ_INT(sh_timeout(60, "two-again.log", MPIRUN " 2 %s train '%s' --run-dir '%s/two-again' --quiet --threads 1",
                            g_lra, g_cfg, g_root),
                 0);
    size_t n1 = 0, n2 = 0, n3 = 0;
    float *one = ckpt_state("one", 20, &n1, NULL), *two = ckpt_state("two", 20, &n2, NULL),
          *again = ckpt_state("two-again", 20, &n3, NULL);
    if (!one || !two || !again) {
        char *log = root_file("two.log");
        lra_test_fail_(__FILE__, __LINE__, "missing step-20 checkpoint; 2-rank log:\n%s", log);
        free(log);
    } else {
        CHECK_EQ_INT(n1, n2);
        const double r = rel_diff(one, two, n1);
        printf("  2 ranks vs 1 process after 20 steps: max relative difference %.3g\n", r);
        CHECK_MSG(r <= 1e-6, "2 ranks differ from 1 process by %.3g (relative) after 20 steps", r);
        CHECK_MSG(memcmp(two, again, n2 * sizeof *two) == 0, "two 2-rank runs with the same seed differ");
    }
    // Rank 0 alone wrote the run directory, and the evaluation counts every test example once.
    char *ev = root_file("two/eval.json");
    CHECK_MSG(strstr(ev, "\"test_examples\": 40") != NULL, "eval.json of the 2-rank run: %s", ev);
    free(ev);
    char *m = root_file("two/metrics.jsonl");
    int lines = 0;
    for (char *p = m; *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 4 + 2 + 1);  // train lines at 5, 10, 15, 20; val at 10, 20; test (one writer)
    free(m);
    free(one);
    free(two);
    free(again);
}

// Stops at step 8 with `first` ranks, resumes with `second` (0 = no mpirun) and compares with the
// uninterrupted 1-process run.
static void resume_case(const char *name, int first, int second) {
    REQUIRE(reference());
    char launch1[64] = "", launch2[64] = "";
    if (first) snprintf(launch1, sizeof launch1, MPIRUN " %d ", first);
    if (second) snprintf(launch2, sizeof launch2, MPIRUN " %d ", second);
    CHECK_EQ_INT(sh_timeout(60, "stop.log", "%s%s train '%s' --run-dir '%s/%s' --quiet --threads 1 --stop-at 8", launch1,
                            g_lra, g_cfg, g_root, name),
                 0);
    size_t n8 = 0;
    lra_train_state st;
    float *at8 = ckpt_state(name, 8, &n8, &st);
    REQUIRE(at8 != NULL);
    // 8 steps of 16 rows: the data cursor is global, whatever the rank count that wrote it.
    CHECK_EQ_INT(st.step, 8);
    CHECK_EQ_INT(st.cursor.epoch, 0);
    CHECK_EQ_INT(st.cursor.position, 8 * 16);
    free(at8);
    CHECK_EQ_INT(sh_timeout(60, "resume.log", "%s%s train '%s' --run-dir '%s/%s' --quiet --threads 1 --resume", launch2,
                            g_lra, g_cfg, g_root, name),
                 0);
    size_t n1 = 0, n2 = 0;
    float *one = ckpt_state("one", 20, &n1, NULL), *res = ckpt_state(name, 20, &n2, &st);
    if (!res) {
        char *log = root_file("resume.log");
        lra_test_fail_(__FILE__, __LINE__, "the resumed run wrote no step-20 checkpoint:\n%s", log);
        free(log);
    }
    if (one && res) {
        const double r = rel_diff(one, res, n1);
        printf("  %s: max relative difference to the straight 1-process run %.3g\n", name, r);
        CHECK_MSG(r <= 1e-6, "%s: resumed run differs by %.3g (relative)", name, r);
        // 320 rows drawn from 256: the cursor went on into epoch 1.
        CHECK_EQ_INT(st.cursor.epoch, 1);
        CHECK_EQ_INT(st.cursor.position, 320 - 256);
    }
    free(one);
    free(res);
}

static void test_resume_two_ranks_with_one(void) {
    if (!setup()) SKIP("%s", g_skip);
    resume_case("k2-to-k1", 2, 0);
}

static void test_resume_one_process_with_two_ranks(void) {
    if (!setup()) SKIP("%s", g_skip);
    resume_case("k1-to-k2", 0, 2);
}

// Each rank runs `wrap.sh`, which records its pid and, for rank $BAD_RANK, appends the extra arguments
// in $BAD_ARGS (a rank-specific fault).
static void write_wrapper(void) {
    char p[400];
    snprintf(p, sizeof p, "%s/wrap.sh", g_root);
    const char *text = "#!/bin/sh\n"
                       "r=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}\n"
                       "echo $$ > \"$PIDDIR/pid.$r\"\n"
                       "if [ \"$r\" = \"${BAD_RANK:--1}\" ]; then exec \"$@\" $BAD_ARGS; fi\n"
                       "exec \"$@\"\n";
    LRA_ASSERT(lra_atomic_write_file(p, text, strlen(text)) == LRA_OK);
}

static void test_killed_rank_stops_the_run(void) {
    if (!setup()) SKIP("%s", g_skip);
    write_wrapper();
    char dir[400];
    snprintf(dir, sizeof dir, "%s/killed", g_root);
    setenv("PIDDIR", g_root, 1);
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[2000];
        snprintf(cmd, sizeof cmd,
                 MPIRUN " 2 -x PIDDIR sh '%s/wrap.sh' %s train '%s' --run-dir '%s' --quiet --threads 1 "
                        "--set train.steps=100000 --set train.eval_every=100000 --set train.checkpoint_every=3 "
                        "> '%s/killed.log' 2>&1",
                 g_root, g_lra, g_cfg, dir, g_root);
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    // Wait for a few checkpoints, then SIGKILL rank 1.
    int have = 0;
    for (int i = 0; i < 1500 && !have; i++) {
        usleep(20000);
        char *latest = lra_run_latest_checkpoint(dir);
        have = latest && lra_run_checkpoint_step(lra_path_basename(latest)) >= 6;
        free(latest);
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
    }
    char *pidtext = root_file("pid.1");
    const int victim = atoi(pidtext);
    free(pidtext);
    if (!have || victim <= 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        char *log = root_file("killed.log");
        lra_test_fail_(__FILE__, __LINE__, "the 2-rank run did not reach step 6 (rank 1 pid %d):\n%s", victim, log);
        free(log);
        return;
    }
    CHECK(kill(victim, SIGKILL) == 0);
    int status = 0, ended = 0;
    for (int i = 0; i < 1500 && !ended; i++) {  // 30 s: far more than mpirun needs to notice
        if (waitpid(pid, &status, WNOHANG) == pid) ended = 1;
        else usleep(20000);
    }
    if (!ended) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    CHECK_MSG(ended, "the run still hangs 30 s after rank 1 was killed");
    CHECK(ended && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char *log = root_file("killed.log");
    // Open MPI: "mpirun noticed that process rank 1 with PID ... exited on signal 9 (Killed)."
    CHECK_MSG(strstr(log, "rank 1") && strstr(log, "signal 9"), "the message does not name rank 1 and the cause:\n%s",
              log);
    free(log);
    // The last checkpoint is complete and loads.
    char *latest = lra_run_latest_checkpoint(dir);
    REQUIRE(latest != NULL);
    const int64_t step = lra_run_checkpoint_step(lra_path_basename(latest));
    size_t n = 0;
    lra_train_state st;
    float *x = ckpt_state("killed", (int)step, &n, &st);
    CHECK_MSG(x != NULL, "%s does not load", latest);
    CHECK(step >= 6 && st.step == step);
    free(x);
    free(latest);
}

static void test_unreadable_data_on_one_rank(void) {
    if (!setup()) SKIP("%s", g_skip);
    write_wrapper();
    char dir[400];
    snprintf(dir, sizeof dir, "%s/baddata", g_root);
    setenv("PIDDIR", g_root, 1);
    setenv("BAD_RANK", "1", 1);
    setenv("BAD_ARGS", "--set data.path=/nonexistent/lra-mpi-data", 1);
    int rc = sh_timeout(60, "baddata.log",
                        MPIRUN " 2 -x PIDDIR -x BAD_RANK -x BAD_ARGS sh '%s/wrap.sh' %s train '%s' --run-dir '%s' --quiet "
                               "--threads 1",
                        g_root, g_lra, g_cfg, dir);
    unsetenv("BAD_RANK");
    unsetenv("BAD_ARGS");
    CHECK(rc > 0);
    char *log = root_file("baddata.log");
    CHECK_MSG(strstr(log, "rank 1: ") && strstr(log, "/nonexistent/lra-mpi-data"),
              "the message does not name rank 1 and the file:\n%s", log);
    free(log);
    char *latest = lra_run_latest_checkpoint(dir);
    CHECK(latest == NULL);  // stopped before any step
    free(latest);
}

static void test_uneven_batch_refused(void) {
    if (!setup()) SKIP("%s", g_skip);
    // 16 / 2 = 8 rows per micro-batch over 3 ranks.
    int rc = sh_timeout(60, "uneven.log", MPIRUN " 3 %s train '%s' --run-dir '%s/uneven' --quiet --threads 1", g_lra,
                        g_cfg, g_root);
    CHECK(rc > 0);
    char *log = root_file("uneven.log");
    CHECK_MSG(strstr(log, "do not split evenly over 3 ranks"), "no clear error for 3 ranks:\n%s", log);
    free(log);
    char p[500];
    snprintf(p, sizeof p, "%s/uneven/config.yaml", g_root);
    CHECK(!lra_file_exists(p));  // refused before touching the run directory
}

// Gradient shards: the arithmetic depends on train.grad_shards only, so the rank count changes nothing.
static void test_grad_shards_make_rank_count_irrelevant(void) {
    if (!setup()) SKIP("%s", g_skip);
    static const int ranks[3] = {1, 2, 4};
    float *state[3] = {NULL, NULL, NULL};
    size_t n[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        char dir[32], log[32], launch[128] = "";
        snprintf(dir, sizeof dir, "shards-%d", ranks[i]);
        snprintf(log, sizeof log, "shards-%d.log", ranks[i]);
        if (ranks[i] > 1) snprintf(launch, sizeof launch, MPIRUN " %d ", ranks[i]);
        CHECK_EQ_INT(sh_timeout(120, log, "%s%s train '%s' --run-dir '%s/%s' --quiet --threads 1 --set train.grad_shards=4",
                                launch, g_lra, g_cfg, g_root, dir),
                     0);
        state[i] = ckpt_state(dir, 20, &n[i], NULL);
    }
    for (int i = 1; i < 3; i++) {
        REQUIRE(state[0] && state[i] && n[0] == n[i]);
        CHECK_MSG(memcmp(state[0], state[i], n[0] * sizeof(float)) == 0,
                  "train.grad_shards=4: %d ranks differ from 1 process", ranks[i]);
    }
    for (int i = 0; i < 3; i++) free(state[i]);
    // 3 shards cannot be spread over 2 ranks: refused with the key named.
    CHECK(sh_timeout(60, "shards-bad.log", MPIRUN " 2 %s train '%s' --run-dir '%s/shards-bad' --quiet --threads 1 --set train.grad_shards=3",
                     g_lra, g_cfg, g_root) != 0);
    char *log = root_file("shards-bad.log");
    CHECK_MSG(strstr(log, "train.grad_shards"), "no clear error for 3 shards on 2 ranks:\n%s", log);
    free(log);
}

static void test_cleanup(void) {
    if (g_root[0] && !getenv("LRA_KEEP_TEST_FILES")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
        if (system(cmd)) {
        }
    }
}

static const lra_test_case TESTS[] = {
    {"two_ranks_match_one_process", test_two_ranks_match_one_process},
    {"resume_two_ranks_with_one", test_resume_two_ranks_with_one},
    {"resume_one_process_with_two_ranks", test_resume_one_process_with_two_ranks},
    {"killed_rank_stops_the_run", test_killed_rank_stops_the_run},
    {"unreadable_data_on_one_rank", test_unreadable_data_on_one_rank},
    {"uneven_batch_refused", test_uneven_batch_refused},
    {"grad_shards_make_rank_count_irrelevant", test_grad_shards_make_rank_count_irrelevant},
    {"cleanup", test_cleanup},
};
LRA_TEST_MAIN(TESTS)
