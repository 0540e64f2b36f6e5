// Restarting runs as a cluster job does: `--resume auto` (one command line for the first start and every
// restart), resumes that accept cadence changes and name refused ones, a larger train.steps extending
// a finished run, stop signals (SIGUSR1, SIGTERM) and the deadline ending with a checkpoint (exit 75, or
// 143 after SIGTERM),
// a signal during a dev evaluation stopping it at the next batch, and jobs.jsonl.  Every restarted run
// must end byte-identical to the uninterrupted one.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/threads.h"
#include "data/listops_gen.h"
#include "tasks/checkpoint.h"
#include "tasks/config_diff.h"
#include "tasks/evaluate.h"
#include "tasks/settings.h"
#include "tasks/trainer.h"
#include "tests/harness.h"

static char g_root[256];
static char g_data[300];

// Short ListOps expressions; a large dev split so that one full evaluation takes a while (the cases
// that do not need it evaluate 2 batches).
static const char *data_dir(void) {
    if (g_data[0]) return g_data;
    lra_threads_set(1);  // the runs are tiny; on a loaded machine more threads only wait for each other
    snprintf(g_root, sizeof g_root, "/tmp/lra-test-resume-%d", (int)getpid());
    snprintf(g_data, sizeof g_data, "%s/listops", g_root);
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 5;
    o.n_train = 256;
    o.n_val = 1200;
    o.n_test = 32;
    o.max_depth = 4;
    o.min_length = 10;
    o.max_length = 60;
    LRA_ASSERT(lra_path_mkdirs(g_data) == LRA_OK);
    LRA_ASSERT(lra_listops_generate(&o, g_data) == LRA_OK);
    return g_data;
}

// The config text of the small model; `extra` lines are appended under train: (eval_batches and
// log_every default to 2 unless extra sets them).
static void config_text(char *text, size_t cap, const char *extra) {
    extra = extra ? extra : "";
    snprintf(text, cap,
             "seed: 3\ntask: listops\ndata:\n  path: %s\n  max_length: 64\nmodel:\n  dim: 16\n  heads: 2\n"
             "  head_dim: 8\n  hidden: 32\n  head_hidden: 16\n  dropout: 0.1\n  attention:\n    type: softmax\n"
             "train:\n  batch_size: 16\n  lr: 3.0e-3\n  warmup: 3\n%s%s%s",
             data_dir(), strstr(extra, "eval_batches:") ? "" : "  eval_batches: 2\n",
             strstr(extra, "log_every:") ? "" : "  log_every: 2\n", extra);
}

static lra_status settings_from(const char *extra, const char *const *sets, int n_sets, lra_run_settings *s,
                                char **yaml_out) {
    char text[4096];
    config_text(text, sizeof text, extra);
    lra_config_schema *schema = lra_settings_schema();
    lra_config *c = NULL;
    lra_status st = lra_config_parse(&c, "test.yaml", text);
    for (int i = 0; !st && i < n_sets; i++) st = lra_config_set(c, sets[i]);
    if (!st) st = lra_config_validate(c, schema);
    if (!st) st = lra_settings_resolve(c, s);
    if (!st) *yaml_out = lra_settings_resolved_yaml(c, s);
    lra_config_free(c);
    lra_config_schema_free(schema);
    return st;
}

static lra_status run(const char *dir, const lra_run_settings *s, const char *yaml, lra_resume_mode resume,
                      int64_t stop_at, lra_train_summary *sum) {
    lra_train_options o = {.run_dir = dir, .config_yaml = yaml, .resume = resume, .stop_at = stop_at,
                           .progress = 0, .rank = 0, .world = 1};
    return lra_train(s, &o, sum);
}

static char *sub(const char *name) {
    char *p = malloc(strlen(g_root) + strlen(name) + 2);
    sprintf(p, "%s/%s", g_root, name);
    return p;
}

// Whether two checkpoints hold the same parameters and optimizer moments (the bytes of each file's
// payload after the config and metrics texts differ only in those texts).
static int same_weights(const char *a, const char *b, const lra_run_settings *s) {
    lra_model ma, mb;
    lra_model_build(&ma, &s->model, 11);
    lra_model_build(&mb, &s->model, 12);
    lra_train_state sa, sb;
    int same = lra_checkpoint_load(a, &ma, &sa, NULL) == LRA_OK && lra_checkpoint_load(b, &mb, &sb, NULL) == LRA_OK;
    const size_t n = ma.params.total * sizeof(float);
    same = same && ma.params.total == mb.params.total && !memcmp(ma.params.data, mb.params.data, n) &&
           !memcmp(ma.params.m, mb.params.m, n) && !memcmp(ma.params.v, mb.params.v, n) && sa.step == sb.step;
    lra_model_free(&ma);
    lra_model_free(&mb);
    return same;
}

static char *ckpt(const char *dir, int64_t step) {
    char *p = malloc(strlen(dir) + 32);
    sprintf(p, "%s/ckpt-%08lld.lra", dir, (long long)step);
    return p;
}

static char *read_text(const char *path) {
    char *t = NULL;
    size_t n;
    if (lra_file_read_all(path, &t, &n) != LRA_OK) return NULL;
    return t;
}

static const char *or_none(const char *t) { return t ? t : "(none)"; }

static int count_of(const char *text, const char *what) {
    int n = 0;
    for (const char *q = text ? strstr(text, what) : NULL; q; q = strstr(q + 1, what)) n++;
    return n;
}

// The uninterrupted 12-step run that several cases compare with (run by the first case that needs it).
static char *straight_run(void) {
    char *dir = sub("auto-straight"), *last = ckpt(dir, 12);
    if (!lra_file_exists(last)) {
        lra_run_settings s;
        char *yaml = NULL;
        LRA_ASSERT(settings_from("  steps: 12\n  eval_every: 4\n", NULL, 0, &s, &yaml) == LRA_OK);
        lra_train_summary sum;
        LRA_ASSERT(run(dir, &s, yaml, LRA_RESUME_NEVER, 0, &sum) == LRA_OK);
        free(yaml);
    }
    free(last);
    return dir;
}

// One command line for start and restart: --resume auto starts a new run in an empty directory and
// resumes it once it has a checkpoint; the result is the uninterrupted run's.  jobs.jsonl records
// every start and end.
static void test_auto_starts_then_resumes(void) {
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from("  steps: 12\n  eval_every: 4\n", NULL, 0, &s, &yaml) == LRA_OK);
    char *a = straight_run(), *b = sub("auto");
    lra_train_summary sum;
    CHECK_OK(run(b, &s, yaml, LRA_RESUME_AUTO, 6, &sum));
    CHECK(sum.interrupted && sum.reason == LRA_STOP_AT);
    CHECK_EQ_INT(sum.steps_done, 6);
    CHECK_OK(run(b, &s, yaml, LRA_RESUME_AUTO, 0, &sum));
    CHECK_EQ_INT(sum.steps_done, 12);
    CHECK(!sum.interrupted);
    char *ca = ckpt(a, 12), *cb = ckpt(b, 12);
    CHECK_MSG(same_weights(ca, cb, &s), "a run started and resumed with --resume auto differs from the straight run");
    // jobs.jsonl: start (new), end (stop_at), start (resumed from 6), end (finished).
    char *jp = sub("auto/jobs.jsonl");
    char *j = read_text(jp);
    CHECK_MSG(j && count_of(j, "\"event\": \"start\"") == 2 && count_of(j, "\"event\": \"end\"") == 2, "%s", or_none(j));
    CHECK(j && strstr(j, "\"step\": 0, \"resumed\": false") && strstr(j, "\"step\": 6, \"resumed\": true"));
    CHECK(j && strstr(j, "\"outcome\": \"stop_at\"") && strstr(j, "\"step\": 12, \"outcome\": \"finished\""));
    free(j);
    free(jp);
    // --resume (always) on a directory that holds no run says how to start it with one command line.
    char *none = sub("no-such-run");
    CHECK_EQ_INT(run(none, &s, yaml, LRA_RESUME_ALWAYS, 0, &sum), LRA_ERR_STATE);
    CHECK_MSG(strstr(lra_error_message(), "--resume auto") != NULL, "%s", lra_error_message());
    free(none);
    free(ca);
    free(cb);
    free(a);
    free(b);
    free(yaml);
}

// A resume accepts changed logging, evaluation and checkpoint cadence (and the weights stay those of
// the straight run); a change that alters the training is refused, naming every such key with both
// values.
static void test_cadence_changes_accepted_others_named(void) {
    lra_run_settings s, s2, s3;
    char *yaml = NULL, *yaml2 = NULL, *yaml3 = NULL;
    REQUIRE(settings_from("  steps: 12\n  eval_every: 4\n", NULL, 0, &s, &yaml) == LRA_OK);
    const char *cadence[] = {"train.log_every=3", "train.eval_every=6", "train.checkpoint_minutes=5",
                             "train.keep_checkpoints=3"};
    REQUIRE(settings_from("  steps: 12\n  eval_every: 4\n", cadence, 4, &s2, &yaml2) == LRA_OK);
    const char *semantic[] = {"train.lr=1e-3", "model.dropout=0.2", "train.log_every=5"};
    REQUIRE(settings_from("  steps: 12\n  eval_every: 4\n", semantic, 3, &s3, &yaml3) == LRA_OK);
    char *a = straight_run(), *b = sub("cadence");
    lra_train_summary sum;
    CHECK_OK(run(b, &s, yaml, LRA_RESUME_NEVER, 5, &sum));
    CHECK_EQ_INT(run(b, &s3, yaml3, LRA_RESUME_AUTO, 0, &sum), LRA_ERR_CONFIG);
    const char *msg = lra_error_message();
    CHECK_MSG(strstr(msg, "differs") && strstr(msg, "2 key(s)") && strstr(msg, "train.lr: 0.003 -> 0.001") &&
                  strstr(msg, "model.dropout: 0.1 -> 0.2") && !strstr(msg, "log_every"),
              "message: %s", msg);
    CHECK_OK(run(b, &s2, yaml2, LRA_RESUME_ALWAYS, 0, &sum));
    CHECK_EQ_INT(sum.steps_done, 12);
    char *cfg = sub("cadence/config.yaml");
    char *t = read_text(cfg);
    CHECK_MSG(t && strstr(t, "log_every: 3") && strstr(t, "checkpoint_minutes: 5"), "config.yaml now: %s", or_none(t));
    free(t);
    free(cfg);
    char *ca = ckpt(a, 12), *cb = ckpt(b, 12);
    CHECK_MSG(same_weights(ca, cb, &s), "a resume with changed cadence differs from the straight run");
    free(ca);
    free(cb);
    free(a);
    free(b);
    free(yaml);
    free(yaml2);
    free(yaml3);
}

// A larger train.steps with the same schedule (train.schedule_steps set) continues a finished run to
// the weights of a run that was that long from the start; with the schedule derived from train.steps
// the change alters the learning rates already applied and is refused.
static void test_larger_steps_extend_finished_run(void) {
    lra_run_settings s12, s16, s16b;
    char *y12 = NULL, *y16 = NULL, *y16b = NULL;
    REQUIRE(settings_from("  steps: 12\n  schedule_steps: 12\n  eval_every: 4\n", NULL, 0, &s12, &y12) == LRA_OK);
    REQUIRE(settings_from("  steps: 16\n  schedule_steps: 12\n  eval_every: 4\n", NULL, 0, &s16, &y16) == LRA_OK);
    REQUIRE(settings_from("  steps: 16\n  eval_every: 4\n", NULL, 0, &s16b, &y16b) == LRA_OK);
    char *a = sub("long-straight"), *b = sub("extended");
    lra_train_summary sum;
    CHECK_OK(run(a, &s16, y16, LRA_RESUME_NEVER, 0, &sum));
    CHECK_OK(run(b, &s12, y12, LRA_RESUME_NEVER, 0, &sum));
    CHECK_EQ_INT(sum.steps_done, 12);
    CHECK_EQ_INT(run(b, &s16b, y16b, LRA_RESUME_AUTO, 0, &sum), LRA_ERR_CONFIG);
    CHECK_MSG(strstr(lra_error_message(), "train.steps: 12 -> 16") && strstr(lra_error_message(), "schedule_steps: 12 -> 0"),
              "%s", lra_error_message());
    CHECK_OK(run(b, &s16, y16, LRA_RESUME_AUTO, 0, &sum));
    CHECK_EQ_INT(sum.steps_done, 16);
    char *ca = ckpt(a, 16), *cb = ckpt(b, 16);
    CHECK_MSG(same_weights(ca, cb, &s16), "the extended run differs from the run that was 16 steps from the start");
    free(ca);
    free(cb);
    free(a);
    free(b);
    free(y12);
    free(y16);
    free(y16b);
}

// train.checkpoint_minutes writes checkpoints by elapsed time when no step count asks for one (here
// 6 ms: about one per step), and they change nothing in the result.
static void test_checkpoint_minutes(void) {
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from("  steps: 12\n  eval_every: 4\n  checkpoint_every: 1000\n  checkpoint_minutes: 0.0001\n"
                          "  keep_checkpoints: 1000\n",
                          NULL, 0, &s, &yaml) == LRA_OK);
    char *a = straight_run(), *b = sub("minutes");
    lra_train_summary sum;
    CHECK_OK(run(b, &s, yaml, LRA_RESUME_NEVER, 0, &sum));
    int n = 0;
    for (int step = 1; step <= 12; step++) {
        char *p = ckpt(b, step);
        n += lra_file_exists(p);
        free(p);
    }
    // Steps 4, 8 and 12 (evaluations) always; by time at least one more on any machine.
    CHECK_MSG(n > 3, "%d step checkpoints", n);
    char *ca = ckpt(a, 12), *cb = ckpt(b, 12);
    CHECK(same_weights(ca, cb, &s));
    free(ca);
    free(cb);
    free(a);
    free(b);
    free(yaml);
}

// The comparison rules on their own: sections, quoted values, keys missing on one side.
static void test_config_diff_rules(void) {
    const char *old = "# header\nseed: 1  # doc\ndata:\n  path: \"/a # b\"  # where\ntrain:\n  steps: 10  # n\n"
                      "  schedule_steps: 0\n  warmup: 0\n  log_every: 5\n  lr: 0.1\n";
    const char *now = "# other header\nseed: 1\ndata:\n  path: \"/a # b\"\ntrain:\n  steps: 20\n"
                      "  schedule_steps: 10\n  warmup: 0\n  log_every: 7\n  lr: 0.1\n  checkpoint_minutes: 2\n";
    lra_config_changes c;
    lra_config_diff(old, now, &c);
    CHECK_EQ_INT(c.count, 4);  // steps, schedule_steps, log_every, checkpoint_minutes
    CHECK_EQ_INT(lra_config_changes_refused(&c), 0);  // the effective schedule stays 10 steps, warmup 1
    char *d = lra_config_changes_describe(&c, 1);
    CHECK_MSG(!strcmp(d, "train.steps: 10 -> 20; train.schedule_steps: 0 -> 10; train.log_every: 5 -> 7; "
                         "train.checkpoint_minutes: (absent) -> 2"),
              "%s", d);
    free(d);
    lra_config_changes_free(&c);
    // A smaller train.steps, or one that moves the schedule, is refused; so is a key only in the old text.
    lra_config_diff("train:\n  steps: 10\n  lr: 1\n", "train:\n  steps: 5\n", &c);
    CHECK_EQ_INT(lra_config_changes_refused(&c), 2);
    d = lra_config_changes_describe(&c, 0);
    CHECK_MSG(!strcmp(d, "train.steps: 10 -> 5; train.lr: 1 -> (absent)"), "%s", d);
    free(d);
    lra_config_changes_free(&c);
}

// The evaluation's cancel hook ends it at a batch boundary with LRA_ERR_INTERRUPTED.
static int g_batches_seen;
static int cancel_after_two(void *user) {
    (void)user;
    return g_batches_seen++ >= 2;
}

static void test_eval_cancel_hook(void) {
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from("  steps: 4\n", NULL, 0, &s, &yaml) == LRA_OK);
    lra_dataset val;
    REQUIRE(lra_run_load_split(&s, LRA_SPLIT_VAL, &val) == LRA_OK);
    lra_model m;
    lra_model_build(&m, &s.model, 1);
    lra_ctx *ctx = lra_ctx_new(0);
    lra_eval_options eo = {.batch_size = 8, .length = s.model.enc.seq_len, .seed = 1, .num_shards = 1,
                           .cancel = cancel_after_two};
    lra_eval_result r;
    g_batches_seen = 0;
    CHECK_EQ_INT(lra_evaluate(&m, ctx, &val, &eo, &r), LRA_ERR_INTERRUPTED);
    CHECK_EQ_INT(r.examples, 16);
    eo.cancel = NULL;
    CHECK_OK(lra_evaluate(&m, ctx, &val, &eo, &r));
    CHECK_EQ_INT(r.examples, val.count);
    lra_ctx_free(ctx);
    lra_model_free(&m);
    lra_dataset_free(&val);
    free(yaml);
}

// ---- the command line --------------------------------------------------------------------------

static const char *lra_bin(void) {
    static char path[300];
    snprintf(path, sizeof path, "%s/lra", getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build");
    return path;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Writes the config `extra` (under train:) to DIR.yaml and returns its path.
static char *write_config(const char *name, const char *extra) {
    char text[4096];
    config_text(text, sizeof text, extra);
    char file[128];
    snprintf(file, sizeof file, "%s.yaml", name);
    char *p = sub(file);
    LRA_ASSERT(lra_atomic_write_file(p, text, strlen(text)) == LRA_OK);
    return p;
}

// Starts `lra train CFG --run-dir DIR --threads 1 EXTRA...` with stdout and stderr to LOG; returns its pid.
static pid_t start_train(const char *cfg, const char *dir, const char *log, const char *x1, const char *x2,
                         const char *x3) {
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stderr) || dup2(fileno(stderr), STDOUT_FILENO) < 0) _exit(126);
        unsetenv("SLURM_JOB_ID");
        const char *argv[12] = {lra_bin(), "train", cfg, "--run-dir", dir, "--threads", "1"};
        int n = 7;
        if (x1) argv[n++] = x1;
        if (x2) argv[n++] = x2;
        if (x3) argv[n++] = x3;
        argv[n] = NULL;
        execv(lra_bin(), (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int wait_for_file(const char *path, double seconds) {
    for (double t0 = now_s(); now_s() - t0 < seconds; usleep(10000))
        if (lra_file_exists(path)) return 1;
    return 0;
}

// SIGUSR1 (sbatch --signal=USR1@T) during a dev evaluation stops it at its next batch: no checkpoint of
// that step, the previous one stays the resume point, exit 75; resuming redoes the steps and the
// evaluation and ends where the straight run ends.
static void test_usr1_during_eval_keeps_last_checkpoint(void) {
    // Evaluate the whole 1200-row dev set 4 rows at a time at step 2: long enough to be signalled in.
    const char *extra = "  steps: 4\n  eval_every: 2\n  checkpoint_every: 1\n  eval_batches: 0\n  eval_batch_size: 4\n";
    char *cfg = write_config("evalcut", extra);
    char *d = sub("evalcut"), *log = sub("evalcut.log"), *c1 = ckpt(d, 1), *c2 = ckpt(d, 2);
    pid_t pid = start_train(cfg, d, log, "--resume", "auto", NULL);
    REQUIRE(wait_for_file(c1, 60));
    kill(pid, SIGUSR1);
    const int rc = wait_exit(pid);
    char *err = read_text(log);
    CHECK_MSG(rc == 75, "exit %d, log:\n%s", rc, or_none(err));
    CHECK_MSG(err && strstr(err, "asked to stop (SIGUSR1) during the dev evaluation at step 2") &&
                  strstr(err, "newest checkpoint (step 1)"),
              "log:\n%s", or_none(err));
    CHECK_MSG(!lra_file_exists(c2), "a checkpoint of the step whose evaluation was cut was written");
    free(err);
    // Resume to the end; the straight run gives the same weights.
    pid = start_train(cfg, d, log, "--resume", "auto", "--quiet");
    CHECK_EQ_INT(wait_exit(pid), 0);
    char *straight = sub("evalcut-straight");
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from(extra, NULL, 0, &s, &yaml) == LRA_OK);
    lra_train_summary sum;
    CHECK_OK(run(straight, &s, yaml, LRA_RESUME_NEVER, 0, &sum));
    char *ca = ckpt(straight, 4), *cb = ckpt(d, 4);
    CHECK_MSG(same_weights(ca, cb, &s), "the run whose evaluation was cut differs from the straight run");
    free(ca);
    free(cb);
    free(yaml);
    free(straight);
    free(c1);
    free(c2);
    free(cfg);
    free(d);
    free(log);
}

// --time-limit: the run stops on its own before the limit with a checkpoint, exit 75, and resumes to the
// straight run's weights.  Bad values are refused.
static void test_time_limit_stops_with_checkpoint(void) {
    const char *extra = "  steps: 100000\n  eval_every: 100000\n  checkpoint_every: 100000\n";
    char *cfg = write_config("deadline", extra);
    char *d = sub("deadline"), *log = sub("deadline.log");
    const double t0 = now_s();
    pid_t pid = start_train(cfg, d, log, "--time-limit", "00:03", "--resume=auto");
    const int rc = wait_exit(pid);
    const double took = now_s() - t0;
    char *err = read_text(log);
    CHECK_MSG(rc == 75, "exit %d, log:\n%s", rc, or_none(err));
    CHECK_MSG(took < 3.0 + 1.5, "the run took %.1f s with a 3 s limit", took);  // + process start and exit
    CHECK_MSG(err && strstr(err, "stopped before the time limit at step"), "log:\n%s", or_none(err));
    free(err);
    char *jp = sub("deadline/jobs.jsonl");
    char *j = read_text(jp);
    CHECK_MSG(j && strstr(j, "\"outcome\": \"time_limit\""), "%s", or_none(j));
    free(j);
    free(jp);
    char *latest = lra_run_latest_checkpoint(d);
    REQUIRE(latest);
    const int64_t step = lra_run_checkpoint_step(lra_path_basename(latest));
    CHECK(step > 0);
    free(latest);
    // Resume for a few more steps, and compare with a straight run stopped at the same step.
    char stop[32];
    snprintf(stop, sizeof stop, "--stop-at=%lld", (long long)step + 3);
    pid = start_train(cfg, d, log, "--resume", "auto", stop);
    CHECK_EQ_INT(wait_exit(pid), 0);
    lra_run_settings s;
    char *yaml = NULL;
    REQUIRE(settings_from(extra, NULL, 0, &s, &yaml) == LRA_OK);
    char *straight = sub("deadline-straight");
    lra_train_summary sum;
    CHECK_OK(run(straight, &s, yaml, LRA_RESUME_NEVER, step + 3, &sum));
    char *ca = ckpt(straight, step + 3), *cb = ckpt(d, step + 3);
    CHECK_MSG(same_weights(ca, cb, &s), "the run stopped by its time limit and resumed differs from the straight run");
    free(ca);
    free(cb);
    free(straight);
    free(yaml);
    // Malformed limits are refused with exit 2, naming the value; --requeue outside Slurm only warns.
    const char *bad[] = {"90", "1:2", "00:61", "auto"};
    for (int i = 0; i < 4; i++) {
        pid = start_train(cfg, d, log, "--time-limit", bad[i], "--requeue");
        const int brc = wait_exit(pid);
        err = read_text(log);
        CHECK_MSG(brc == 2 && err && strstr(err, "--time-limit"), "--time-limit %s: exit %d, %s", bad[i], brc, or_none(err));
        CHECK(err && strstr(err, "not running in a Slurm job"));
        free(err);
    }
    free(cfg);
    free(d);
    free(log);
}

// SIGTERM and SIGUSR1 while training: the step is finished, a checkpoint written, exit 143 (128 + 15, as
// scancel's SIGTERM must not lead to a requeue) and 75 (resume me); the log
// (stdout and stderr in one file) has whole, timestamped progress lines while the run goes on.
static void test_signals_exit_codes_and_log_lines(void) {
    // 4000 steps: a plain progress line every 200 steps (a twentieth), the first within seconds.
    const char *extra = "  steps: 4000\n  eval_every: 100000\n  checkpoint_every: 100000\n  log_every: 1\n";
    char *cfg = write_config("signals", extra);
    const int sigs[2] = {SIGTERM, SIGUSR1};
    for (int i = 0; i < 2; i++) {
        char name[32], logname[32];
        snprintf(name, sizeof name, "signals-%d", i);
        snprintf(logname, sizeof logname, "signals-%d.log", i);  // a fresh file: no old line to be fooled by
        char *d = sub(name), *log = sub(logname);
        pid_t pid = start_train(cfg, d, log, "--resume", "auto", NULL);
        // Progress lines reach the file while the run goes on: wait for the first one (a minute at most).
        int seen = 0;
        for (double t0 = now_s(); !seen && now_s() - t0 < 60; usleep(20000)) {
            char *t = read_text(log);
            seen = t && strstr(t, "Z train step ");
            free(t);
        }
        CHECK_MSG(seen, "no progress line in the log while the run went on");
        kill(pid, sigs[i]);
        const int rc = wait_exit(pid);
        char *t = read_text(log);
        CHECK_MSG(rc == (sigs[i] == SIGTERM ? 128 + SIGTERM : 75), "signal %d: exit %d, log:\n%s", sigs[i], rc,
                  or_none(t));
        CHECK(t && strstr(t, sigs[i] == SIGTERM ? "terminated (SIGTERM) at step" : "asked to stop (SIGUSR1) at step"));
        free(t);
        char *latest = lra_run_latest_checkpoint(d);
        CHECK(latest != NULL);
        free(latest);
        free(d);
        free(log);
    }
    free(cfg);
}

static void test_cleanup(void) {
    if (g_root[0]) lra_test_rmtree(g_root);
}

static const lra_test_case TESTS[] = {
    {"auto_starts_then_resumes", test_auto_starts_then_resumes},
    {"cadence_changes_accepted_others_named", test_cadence_changes_accepted_others_named},
    {"larger_steps_extend_finished_run", test_larger_steps_extend_finished_run},
    {"checkpoint_minutes", test_checkpoint_minutes},
    {"config_diff_rules", test_config_diff_rules},
    {"eval_cancel_hook", test_eval_cancel_hook},
    {"usr1_during_eval_keeps_last_checkpoint", test_usr1_during_eval_keeps_last_checkpoint},
    {"time_limit_stops_with_checkpoint", test_time_limit_stops_with_checkpoint},
    {"signals_exit_codes_and_log_lines", test_signals_exit_codes_and_log_lines},
    {"cleanup", test_cleanup},
};
LRA_TEST_MAIN(TESTS)
