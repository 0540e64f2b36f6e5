// Runs under a real Slurm: a one-node cluster (munged, slurmctld, slurmd) that tests/slurm/cluster.sh
// starts on this machine with a generated slurm.conf, driven with sbatch, scancel, squeue and scontrol.
//   - a job signalled with SIGUSR1 midway (as `--signal=B:USR1@T` does) checkpoints, requeues itself
//     and, run again, ends with the weights of an uninterrupted run, byte for byte;
//   - a job whose time limit comes first (--time-limit auto: from squeue) stops with a checkpoint before
//     it and the requeued job completes the run, again byte-identical;
//   - an array job (tools/slurm/array.sbatch) runs a small sweep (`lra sweep --jobs`) to completion;
//   - the job's log shows timestamped progress lines while the job runs.
// Skipped, with the reason, where Slurm cannot run (packages missing: tools/install-deps.sh --slurm;
// not root) and under AddressSanitizer (the jobs' timing is what is tested; `make test` covers it).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/fileio.h"
#include "data/listops_gen.h"
#include "tasks/checkpoint.h"
#include "tasks/settings.h"
#include "tests/harness.h"

static char g_dir[256];      // everything of this test: cluster state, data, runs, logs
static int g_up = 0;         // the cluster runs
static char g_lra[1024];      // absolute path of the lra program
static char g_repo[512];     // the repository root (tools/slurm/*.sbatch)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Runs a shell command and returns its first output line (new string, "" when none) and exit status.
static char *sh(int *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sh(int *rc, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    char line[1024] = "";
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        char rest[256];
        while (fgets(rest, sizeof rest, f)) {}
        int st = pclose(f);
        if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    } else if (rc) {
        *rc = -1;
    }
    line[strcspn(line, "\n")] = '\0';
    return lra_xstrdup(line);
}

static char *read_text(const char *path) {
    char *t = NULL;
    size_t n;
    return lra_file_read_all(path, &t, &n) == LRA_OK ? t : NULL;
}

static const char *or_none(const char *t) { return t ? t : "(none)"; }

// "KEY=VALUE" of `scontrol -o show job ID` (new string; "" when absent or the job is unknown).
static char *job_field(const char *id, const char *key) {
    char *line = sh(NULL, "scontrol -o show job %s 2>/dev/null", id);
    char want[64], *out;
    snprintf(want, sizeof want, " %s=", key);
    const char *p = strstr(line, want);
    if (p) {
        p += strlen(want);
        out = lra_xstrdup(p);
        out[strcspn(out, " ")] = '\0';
    } else {
        out = lra_xstrdup("");
    }
    free(line);
    return out;
}

// A requeued job waits about two minutes before it may start (Slurm's requeue delay): let it start
// now.  Returns 1 when the job was released.
static int release_requeued(const char *id) {
    char *state = job_field(id, "JobState"), *reason = job_field(id, "Reason");
    int held = !strcmp(state, "PENDING") && !strcmp(reason, "BeginTime");
    if (held) free(sh(NULL, "scontrol update JobId=%s StartTime=now 2>&1", id));
    free(state);
    free(reason);
    return held;
}

static int job_ended(const char *id) {
    char *state = job_field(id, "JobState");
    const int ended = !strcmp(state, "COMPLETED") || !strcmp(state, "FAILED") || !strcmp(state, "CANCELLED") ||
                      !strcmp(state, "TIMEOUT") || !strcmp(state, "NODE_FAIL") || !state[0];
    free(state);
    return ended;
}

static char *path_in(const char *name) {
    char *p = lra_xmalloc(strlen(g_dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", g_dir, name);
    return p;
}

// The training flags shared by every job and the reference run: the quick-start model on short
// generated ListOps expressions.
static const char *train_flags(void) {
    static char f[1024];
    snprintf(f, sizeof f,
             "%s/configs/quickstart.yaml --set data.path=%s/data --set data.max_length=64 --set train.steps=240 "
             "--set train.warmup=24 --set train.eval_every=60 --set train.log_every=5 --threads 1",
             g_repo, g_dir);
    return f;
}

// Parameters and optimizer moments of two checkpoints are the same bytes.
static int same_weights(const char *a, const char *b) {
    char *yaml = NULL;
    if (lra_checkpoint_read_config(a, &yaml) != LRA_OK) return 0;
    lra_config_schema *schema = lra_settings_schema();
    lra_config *c = NULL;
    lra_run_settings s;
    lra_status st = lra_config_parse(&c, a, yaml);
    if (!st) st = lra_config_validate(c, schema);
    if (!st) st = lra_settings_resolve(c, &s);
    int same = 0;
    if (!st) {
        lra_model ma, mb;
        lra_model_build(&ma, &s.model, 1);
        lra_model_build(&mb, &s.model, 2);
        lra_train_state sa, sb;
        same = lra_checkpoint_load(a, &ma, &sa, NULL) == LRA_OK && lra_checkpoint_load(b, &mb, &sb, NULL) == LRA_OK;
        const size_t n = ma.params.total * sizeof(float);
        same = same && sa.step == sb.step && !memcmp(ma.params.data, mb.params.data, n) &&
               !memcmp(ma.params.m, mb.params.m, n) && !memcmp(ma.params.v, mb.params.v, n);
        lra_model_free(&ma);
        lra_model_free(&mb);
    }
    lra_config_free(c);
    lra_config_schema_free(schema);
    free(yaml);
    return same;
}

static void test_cluster_up(void) {
#if defined(__SANITIZE_ADDRESS__)
    SKIP("under AddressSanitizer: the Slurm jobs run in `make test`");
#endif
    if (!getcwd(g_repo, sizeof g_repo)) SKIP("no working directory");
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    snprintf(g_lra, sizeof g_lra, "%s/%s/lra", g_repo, build);
    lra_test_mkdtemp(g_dir, sizeof g_dir, "slurm");
    int rc;
    char *log = path_in("cluster.err");
    char *out = sh(&rc, "sh tests/slurm/cluster.sh start %s/cluster 2>%s", g_dir, log);
    free(out);
    if (rc != 0) {
        char *why = read_text(log);
        if (why) why[strcspn(why, "\n")] = '\0';
        free(log);
        if (rc == 77) SKIP("%s", why ? why : "Slurm cannot run here");
        CHECK_MSG(0, "the one-node cluster did not start (exit %d): %s", rc, or_none(why));
        free(why);
        return;
    }
    free(log);
    g_up = 1;
    char conf[400];
    snprintf(conf, sizeof conf, "%s/cluster/slurm.conf", g_dir);
    setenv("SLURM_CONF", conf, 1);
    setenv("LRA", g_lra, 1);  // the job scripts' lra program
    // The data of every job.
    char data[400];
    snprintf(data, sizeof data, "%s/data", g_dir);
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 2;
    o.n_train = 400;
    o.n_val = 64;
    o.n_test = 64;
    o.max_depth = 4;
    o.min_length = 10;
    o.max_length = 60;
    REQUIRE(lra_path_mkdirs(data) == LRA_OK);
    REQUIRE(lra_listops_generate(&o, data) == LRA_OK);
}

// The uninterrupted run both requeued jobs must reproduce, started in the background (its exit status
// goes to reference.rc).
static void start_reference(void) {
    int rc;
    free(sh(&rc, "(%s train %s --run-dir %s/reference --quiet > %s/reference.log 2>&1; echo $? > %s/reference.rc) &",
            g_lra, train_flags(), g_dir, g_dir, g_dir));
}

static char *submit(const char *opts, const char *script, const char *args) {
    int rc;
    char *id = sh(&rc, "sbatch --parsable %s %s/tools/slurm/%s %s 2>&1", opts, g_repo, script, args);
    if (rc != 0) {
        CHECK_MSG(0, "sbatch failed: %s", id);
        free(id);
        return NULL;
    }
    id[strcspn(id, ";")] = '\0';  // "ID;cluster"
    return id;
}

static void test_usr1_requeue_and_time_limit(void) {
    if (!g_up) SKIP("no cluster");
    char args[2048], opts[600];
    // Job 1: signalled with SIGUSR1 once its log shows progress.
    // run.sbatch takes CONFIG RUN_DIR, then flags: train_flags() without its leading config.
    snprintf(args, sizeof args, "%s/configs/quickstart.yaml %s/usr1 %s", g_repo, g_dir, strchr(train_flags(), ' ') + 1);
    snprintf(opts, sizeof opts, "-o %s/usr1.log -c 1", g_dir);
    char *j1 = submit(opts, "run.sbatch", args);
    // Job 2: a one-minute limit; --time-limit auto with a 57 s margin stops it about 3 s in.
    snprintf(args, sizeof args, "%s/configs/quickstart.yaml %s/limit %s --time-limit auto --time-margin 57", g_repo,
             g_dir, strchr(train_flags(), ' ') + 1);
    snprintf(opts, sizeof opts, "-o %s/limit.log -c 1 --time=1", g_dir);
    char *j2 = submit(opts, "run.sbatch", args);
    REQUIRE(j1 && j2);
    // While job 1 runs, its log shows timestamped progress lines; then it gets SIGUSR1 (as
    // --signal=B:USR1@T sends: to the batch shell, which run.sbatch made lra itself).
    char *log1 = path_in("usr1.log");
    int progress = 0;
    for (double t0 = now_s(); !progress && now_s() - t0 < 90; usleep(100000)) {
        char *t = read_text(log1);
        progress = t && strstr(t, "Z train step ") != NULL;
        free(t);
    }
    char *state = job_field(j1, "JobState");
    CHECK_MSG(progress && !strcmp(state, "RUNNING"), "job %s: state %s, no progress line in its log yet", j1, state);
    free(state);
    free(sh(NULL, "scancel --batch --signal=USR1 %s 2>&1", j1));
    start_reference();  // meanwhile
    // Both jobs stop and requeue themselves; a requeued job is let start at once.  Job 2 gets a longer
    // limit for its second run once it is back in the queue.
    char *rcp = path_in("reference.rc");
    int j2_extended = 0, ended = 0;
    for (double t0 = now_s(); ended < 3 && now_s() - t0 < 180; usleep(200000)) {
        release_requeued(j1);
        if (release_requeued(j2) && !j2_extended) {
            free(sh(NULL, "scontrol update JobId=%s TimeLimit=10 2>&1", j2));
            j2_extended = 1;
        }
        ended = job_ended(j1) + job_ended(j2) + lra_file_exists(rcp);
    }
    char *s1 = job_field(j1, "JobState"), *s2 = job_field(j2, "JobState"), *rct = read_text(rcp);
    CHECK_MSG(!strcmp(s1, "COMPLETED") && !strcmp(s2, "COMPLETED"), "jobs ended %s and %s", s1, s2);
    CHECK_MSG(rct && atoi(rct) == 0, "the reference run: exit %s (see %s/reference.log)", or_none(rct), g_dir);
    free(s1);
    free(s2);
    free(rct);
    free(rcp);
    char *r1 = job_field(j1, "Restarts"), *r2 = job_field(j2, "Restarts");
    CHECK_MSG(atoi(r1) >= 1 && atoi(r2) >= 1, "restarts: %s and %s", r1, r2);
    free(r1);
    free(r2);
    // The logs tell the story; the weights are the uninterrupted run's.
    char *t1 = read_text(log1), *log2 = path_in("limit.log"), *t2 = read_text(log2);
    CHECK_MSG(t1 && strstr(t1, "asked to stop (SIGUSR1) at step") && strstr(t1, "requeueing Slurm job") &&
                  strstr(t1, "resuming ") && strstr(t1, "test accuracy"),
              "job 1 log:\n%s", or_none(t1));
    CHECK_MSG(t2 && strstr(t2, "stopped before the time limit at step") && strstr(t2, "requeueing Slurm job") &&
                  strstr(t2, "resuming ") && strstr(t2, "test accuracy"),
              "job 2 log:\n%s", or_none(t2));
    char *ref = path_in("reference/ckpt-00000240.lra"), *c1 = path_in("usr1/ckpt-00000240.lra"),
         *c2 = path_in("limit/ckpt-00000240.lra");
    CHECK_MSG(same_weights(ref, c1), "the SIGUSR1-requeued run's weights differ from the uninterrupted run's");
    CHECK_MSG(same_weights(ref, c2), "the time-limited, requeued run's weights differ from the uninterrupted run's");
    char *e0 = path_in("reference/eval.json"), *e1 = path_in("usr1/eval.json");
    char *x0 = read_text(e0), *x1 = read_text(e1);
    CHECK_MSG(x0 && x1 && !strcmp(x0, x1), "eval.json differs:\n%s\n%s", or_none(x0), or_none(x1));
    // jobs.jsonl names the job and its restarts.
    char *jp = path_in("usr1/jobs.jsonl"), *jt = read_text(jp);
    char want[128];
    snprintf(want, sizeof want, "\"slurm_job_id\": \"%s\", \"slurm_restart_count\": \"1\"", j1);
    CHECK_MSG(jt && strstr(jt, want) && strstr(jt, "\"outcome\": \"signal\"") && strstr(jt, "\"outcome\": \"finished\""),
              "jobs.jsonl:\n%s", or_none(jt));
    free(jp);
    free(jt);
    free(e0);
    free(e1);
    free(x0);
    free(x1);
    free(ref);
    free(c1);
    free(c2);
    free(t1);
    free(t2);
    free(log1);
    free(log2);
    free(j1);
    free(j2);
}

// A small sweep (three seeds) written as a jobs file by `lra sweep --jobs`, one cell per line;
// array.sbatch runs line $SLURM_ARRAY_TASK_ID of it.
static void test_array_sweep(void) {
    if (!g_up) SKIP("no cluster");
    char *spec = path_in("sweep.yaml"), *jobs = path_in("jobs.txt");
    FILE *f = fopen(spec, "w");
    REQUIRE(f);
    fprintf(f, "name: array\nbase: %s/configs/quickstart.yaml\nseeds: [1, 2, 3]\nout: %s/sweep\nthreads: 1\n"
               "set: {data.path: %s/data, data.max_length: 64, train.steps: 30, train.warmup: 3, "
               "train.eval_every: 15}\n",
            g_repo, g_dir, g_dir);
    fclose(f);
    free(sh(NULL, "%s sweep %s --jobs %s 2>&1", g_lra, spec, jobs));
    char *lines = read_text(jobs);
    REQUIRE(lines);
    int n_lines = 0;
    for (const char *c = lines; *c; c++) n_lines += *c == '\n';
    CHECK_MSG(n_lines == 3 && strstr(lines, "--resume auto"), "jobs file:\n%s", lines);
    free(lines);
    char opts[600];
    snprintf(opts, sizeof opts, "--array=1-3 -c 1 -o %s/sweep-%%a.log", g_dir);
    char *id = submit(opts, "array.sbatch", jobs);
    REQUIRE(id);
    int done = 0;
    for (double t0 = now_s(); done < 3 && now_s() - t0 < 120; usleep(200000)) {
        done = 0;
        for (int i = 1; i <= 3; i++) {
            char name[64];
            snprintf(name, sizeof name, "sweep/listops-softmax-s%d/eval.json", i);
            char *p = path_in(name);
            done += lra_file_exists(p);
            free(p);
        }
    }
    CHECK_MSG(done == 3, "%d of 3 array tasks (the sweep's cells) finished", done);
    for (int i = 1; i <= 3; i++) {
        char name[64], want[64];
        snprintf(name, sizeof name, "sweep/listops-softmax-s%d/jobs.jsonl", i);
        char *p = path_in(name), *t = read_text(p);
        snprintf(want, sizeof want, "\"slurm_array_task_id\": \"%d\"", i);
        CHECK_MSG(t && strstr(t, want) && strstr(t, "\"slurm_array_job_id\""), "%s:\n%s", name, or_none(t));
        free(t);
        free(p);
        snprintf(name, sizeof name, "sweep-%d.log", i);
        p = path_in(name);
        t = read_text(p);
        CHECK_MSG(t && strstr(t, "array.sbatch: task") && strstr(t, "test accuracy"), "%s:\n%s", name, or_none(t));
        free(t);
        free(p);
    }
    free(id);
    free(jobs);
    free(spec);
}

static void test_cluster_down(void) {
    if (!g_dir[0]) return;
    if (g_up) free(sh(NULL, "scancel --user=root 2>/dev/null; sh tests/slurm/cluster.sh stop %s/cluster", g_dir));
    g_up = 0;
    if (!getenv("LRA_KEEP_SLURM_TEST")) lra_test_rmtree(g_dir);
}

static const lra_test_case TESTS[] = {
    {"cluster_up", test_cluster_up},
    {"usr1_requeue_and_time_limit", test_usr1_requeue_and_time_limit},
    {"array_sweep", test_array_sweep},
    {"cluster_down", test_cluster_down},
};
LRA_TEST_MAIN(TESTS)
