// `lra sweep`: spec expansion and cell names, errors naming the spec and the key, --dry-run, a real small
// sweep killed midway (SIGKILL to the sweep and its cells) and restarted, which must end with every cell
// finished, the finished cells not rerun and the results equal to an uninterrupted sweep; the --jobs
// commands and the --sbatch script run as written; a changed spec is refused for finished cells.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "tasks/sweep.h"
#include "tests/harness.h"

static char g_root[256];

static const char *build_dir(void) {
    const char *b = getenv("LRA_BUILD");
    return b && *b ? b : "build";
}

static void write_file(const char *path, const char *text) {
    LRA_ASSERT(lra_atomic_write_file(path, text, strlen(text)) == LRA_OK);
}

static char *read_file(const char *path) {
    char *t = NULL;
    size_t n;
    return lra_file_read_all(path, &t, &n) == LRA_OK ? t : NULL;
}

// A tiny generated ListOps set and a quick-start-sized (smaller) config, once.
static void setup(void) {
    if (g_root[0]) return;
    snprintf(g_root, sizeof g_root, "/tmp/lra-test-sweep-%d", (int)getpid());
    lra_test_rmtree(g_root);
    LRA_ASSERT(lra_path_mkdirs(g_root) == LRA_OK);
    char cmd[1200], path[400], text[1500];
    snprintf(cmd, sizeof cmd, "%s/lra data generate listops --out '%s/listops' --train 160 --val 32 --test 32 "
             "--max-depth 3 --min-length 10 --max-length 60 > /dev/null", build_dir(), g_root);
    LRA_ASSERT(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/tiny.yaml", g_root);
    snprintf(text, sizeof text,
             "seed: 1\ntask: listops\ndata:\n  path: %s/listops\n  max_length: 64\nmodel:\n  layers: 1\n  dim: 16\n"
             "  heads: 2\n  head_dim: 8\n  hidden: 32\n  head_hidden: 16\n  dropout: 0.0\n  vocab_size: 32\n"
             "  attention:\n    type: softmax\ntrain:\n  steps: 10\n  batch_size: 8\n  lr: 1.0e-3\n"
             "  schedule: onecycle\n  warmup: 2\n  eval_every: 5\n  log_every: 5\n  checkpoint_every: 5\n",
             g_root);
    write_file(path, text);
}

// Writes NAME.yaml in the test folder with the given body and returns its path (one of 8 static buffers,
// so a few may be held at once).
static const char *spec(const char *name, const char *body) {
    static char paths[8][400];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 400, "%s/%s.yaml", g_root, name);
    write_file(path, body);
    return path;
}

static void test_expansion_and_names(void) {
    setup();
    char body[1500];
    snprintf(body, sizeof body,
             "name: grid\nbase: %s/tiny.yaml\nkernels: [softmax, vmean]\nseeds: [3, 4]\n"
             "set: {train.steps: 4, optim.betas: [0.9, 0.98]}\n"
             "grid: {model.dim: [16, 24], model.hidden: [32]}\nout: %s/grid-out\n", g_root, g_root);
    lra_sweep sw;
    lra_status st = lra_sweep_load(spec("grid", body), &sw);
    if (st == LRA_ERR_CONFIG && strstr(lra_error_message(), "optim.betas")) {
        // No such key in this build: the same spec without it.
        snprintf(body, sizeof body,
                 "name: grid\nbase: %s/tiny.yaml\nkernels: [softmax, vmean]\nseeds: [3, 4]\nset: {train.steps: 4}\n"
                 "grid: {model.dim: [16, 24], model.hidden: [32]}\nout: %s/grid-out\n", g_root, g_root);
        st = lra_sweep_load(spec("grid", body), &sw);
    }
    REQUIRE(st == LRA_OK);
    // tasks x kernels x dim x hidden x seeds = 1 x 2 x 2 x 1 x 2, seeds innermost, first axis outermost.
    REQUIRE(sw.n_cells == 8);
    const char *names[8] = {"listops-softmax-dim=16-hidden=32-s3", "listops-softmax-dim=16-hidden=32-s4",
                            "listops-softmax-dim=24-hidden=32-s3", "listops-softmax-dim=24-hidden=32-s4",
                            "listops-vmean-dim=16-hidden=32-s3",   "listops-vmean-dim=16-hidden=32-s4",
                            "listops-vmean-dim=24-hidden=32-s3",   "listops-vmean-dim=24-hidden=32-s4"};
    for (int i = 0; i < 8; i++) CHECK_MSG(!strcmp(sw.cells[i].name, names[i]), "cell %d: %s", i, sw.cells[i].name);
    char want[500];
    snprintf(want, sizeof want, "%s/grid-out/listops-vmean-dim=24-hidden=32-s3", g_root);
    CHECK(!strcmp(sw.cells[6].run_dir, want));
    // The overrides: set, grid values, kernel, seed -- in that order.
    const lra_sweep_cell *c = &sw.cells[6];
    REQUIRE(c->n_sets >= 5);
    CHECK(!strcmp(c->sets[0], "train.steps=4"));
    CHECK(!strcmp(c->sets[c->n_sets - 4], "model.dim=24") && !strcmp(c->sets[c->n_sets - 3], "model.hidden=32"));
    CHECK(!strcmp(c->sets[c->n_sets - 2], "model.attention.type=vmean") && !strcmp(c->sets[c->n_sets - 1], "seed=3"));
    CHECK(strstr(c->resolved_yaml, "dim: 24") && strstr(c->resolved_yaml, "steps: 4"));
    lra_sweep_free(&sw);
    // Per-task configs; no kernels or seeds: the config's; axes sharing a last key part keep the whole key;
    // the default name is the file's and the default folder runs/<name>.
    snprintf(body, sizeof body,
             "tasks: {listops: %s/tiny.yaml}\ngrid: {model.dim: [16], train.dim_unused_is_not_a_key: [1]}\n", g_root);
    CHECK(lra_sweep_load(spec("bad-axis", body), &sw) == LRA_ERR_CONFIG);
    CHECK(strstr(lra_error_message(), "bad-axis.yaml") && strstr(lra_error_message(), "dim_unused_is_not_a_key"));
    // An axis over one kernel's option applies to that kernel's cells only.
    snprintf(body, sizeof body, "base: %s/tiny.yaml\nkernels: [softmax, skeinformer]\nseeds: [1]\n"
             "grid: {model.attention.skeinformer.nb_features: [8, 16]}\n", g_root);
    REQUIRE(lra_sweep_load(spec("kernel-axis", body), &sw) == LRA_OK);
    REQUIRE(sw.n_cells == 3);
    CHECK(!strcmp(sw.cells[0].name, "listops-softmax-s1"));
    CHECK(!strcmp(sw.cells[1].name, "listops-skeinformer-nb_features=8-s1"));
    CHECK(!strcmp(sw.cells[2].name, "listops-skeinformer-nb_features=16-s1"));
    for (int i = 0; i < sw.cells[0].n_sets; i++) CHECK(!strstr(sw.cells[0].sets[i], "nb_features"));
    lra_sweep_free(&sw);
    snprintf(body, sizeof body, "tasks: {listops: tiny.yaml}\n");  // relative to the spec's folder
    REQUIRE(lra_sweep_load(spec("plain", body), &sw) == LRA_OK);
    REQUIRE(sw.n_cells == 1);
    CHECK(!strcmp(sw.cells[0].name, "listops-softmax-s1"));
    CHECK(!strcmp(sw.name, "plain") && !strcmp(sw.out, "runs/plain"));
    lra_sweep_free(&sw);
}

// Each bad spec gives LRA_ERR_CONFIG and a message naming the spec file and `needles`.
static void expect_error(const char *name, const char *body, const char *needle1, const char *needle2) {
    lra_sweep sw;
    lra_status st = lra_sweep_load(spec(name, body), &sw);
    CHECK_MSG(st != LRA_OK, "%s was accepted", name);
    if (st == LRA_OK) {
        lra_sweep_free(&sw);
        return;
    }
    const char *m = lra_error_message();
    char file[100];
    snprintf(file, sizeof file, "%s.yaml", name);
    CHECK_MSG(strstr(m, file) && strstr(m, needle1) && (!needle2 || strstr(m, needle2)), "%s: %s", name, m);
}

static void test_spec_errors(void) {
    setup();
    char b[1000];
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nkernals: [softmax]\n", g_root);
    expect_error("e-unknown", b, "e-unknown.yaml:2:1: unknown key 'kernals'", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nseeds: [1, -2]\n", g_root);
    expect_error("e-seed", b, "key 'seeds': expected a list of integer seeds >= 0", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nparallel: 0\n", g_root);
    expect_error("e-parallel", b, "e-parallel.yaml:2:11: key 'parallel': expected an integer >= 1, got \"0\"", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\ntasks: {listops: %s/tiny.yaml}\n", g_root, g_root);
    expect_error("e-both", b, "exactly one of 'base'", NULL);
    expect_error("e-none", "kernels: [softmax]\n", "exactly one of 'base'", NULL);
    snprintf(b, sizeof b, "tasks: {text: %s/tiny.yaml}\n", g_root);
    expect_error("e-task", b, "key 'tasks.text'", "for task 'listops'");
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nseeds: [1, 01]\n", g_root);
    expect_error("e-dup", b, "both named listops-softmax-s1", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nkernels: [softmax, skeinfromer]\n", g_root);
    expect_error("e-kernel", b, "model.attention.type", "skeinfromer");
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nset: {train.stepz: 5}\n", g_root);
    expect_error("e-set", b, "train.stepz", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nset: [train.steps]\n", g_root);
    expect_error("e-set-list", b, "key 'set': expected a mapping", NULL);
    expect_error("e-missing", "base: no/such/config.yaml\n", "no/such/config.yaml", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\nseeds: [1]\nseeds: [2]\n", g_root);
    expect_error("e-twice", b, "e-twice.yaml:3:1: key 'seeds' is given twice", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\ngrid: {model.dim: [16], model.dim: [24]}\n", g_root);
    expect_error("e-twice-grid", b, "key 'grid.model.dim' is given twice", NULL);
    expect_error("e-syntax", "base: [unclosed\n", "YAML syntax", NULL);
    snprintf(b, sizeof b, "base: %s/tiny.yaml\ngrid: {a.a: [1,2,3,4,5,6,7,8,9,10], a.b: [1,2,3,4,5,6,7,8,9,10], "
             "a.c: [1,2,3,4,5,6,7,8,9,10], a.d: [1,2,3,4,5,6,7,8,9,10], a.e: [1,2,3,4,5,6,7,8,9,10], "
             "a.f: [1,2,3,4,5,6,7,8,9,10], a.g: [1,2,3,4,5,6,7,8,9,10], a.h: [1,2,3,4,5,6,7,8,9,10], "
             "a.i: [1,2,3,4,5,6,7,8,9,10], a.j: [1,2,3,4,5,6,7,8,9,10], a.k: [1,2,3,4,5,6,7,8,9,10]}\n", g_root);
    expect_error("e-huge", b, "more than 2000 cells", NULL);
}

// ---- running ----------------------------------------------------------------------------------

// The spec of the real sweep: two budgets (fast 20-step cells and slow 150-step ones) x two seeds.
static const char *run_spec(const char *name) {
    char body[1000];
    snprintf(body, sizeof body,
             "name: %s\nbase: %s/tiny.yaml\nkernels: [softmax]\nseeds: [1, 2]\ngrid: {train.steps: [20, 150]}\n"
             "out: %s/%s\nparallel: 2\nthreads: 1\n", name, g_root, g_root, name);
    return spec(name, body);
}

static const char *const CELLS[4] = {"listops-softmax-steps=20-s1", "listops-softmax-steps=20-s2",
                                     "listops-softmax-steps=150-s1", "listops-softmax-steps=150-s2"};

static int run_cmd(const char *fmt, const char *a, const char *b) {
    char cmd[2000];
    snprintf(cmd, sizeof cmd, fmt, build_dir(), a, b);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int file_in(const char *out, const char *cell, const char *name) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s/%s/%s", g_root, out, cell, name);
    return lra_path_is_file(p);
}

static int has_checkpoint(const char *out, const char *cell) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s/%s", g_root, out, cell);
    for (int s = 5; s <= 150; s += 5) {
        char q[700];
        snprintf(q, sizeof q, "%s/ckpt-%08d.lra", p, s);
        if (lra_path_is_file(q)) return 1;
    }
    return 0;
}

static void eval_equal(const char *out_a, const char *out_b) {
    for (int i = 0; i < 4; i++) {
        char pa[600], pb[600];
        snprintf(pa, sizeof pa, "%s/%s/%s/eval.json", g_root, out_a, CELLS[i]);
        snprintf(pb, sizeof pb, "%s/%s/%s/eval.json", g_root, out_b, CELLS[i]);
        char *a = read_file(pa), *b = read_file(pb);
        CHECK_MSG(a && b && !strcmp(a, b), "%s differs between %s and %s:\n%s\n%s", CELLS[i], out_a, out_b,
                  a ? a : "(none)", b ? b : "(none)");
        free(a);
        free(b);
    }
}

static void test_uninterrupted_and_dry_run(void) {
    setup();
    const char *s = run_spec("straight");
    char log[400];
    snprintf(log, sizeof log, "%s/straight.log", g_root);
    CHECK_EQ_INT(run_cmd("%s/lra sweep '%s' 2> '%s'", s, log), 0);
    for (int i = 0; i < 4; i++) CHECK_MSG(file_in("straight", CELLS[i], "eval.json"), "%s unfinished", CELLS[i]);
    // The finished sweep draws its table: OUT/results.svg and .png (the chart itself: test_plot).
    CHECK(file_in("straight", ".", "results.svg") && file_in("straight", ".", "results.png"));
    char *err = read_file(log);
    CHECK_MSG(err && strstr(err, "4/4 done, 0 running, 0 left") && strstr(err, "2 running") && strstr(err, "ETA"),
              "%s", err ? err : "");
    free(err);
    // --dry-run lists every cell with its state; nothing runs.
    char out[400];
    snprintf(out, sizeof out, "%s/dry.txt", g_root);
    CHECK_EQ_INT(run_cmd("%s/lra sweep '%s' --dry-run > '%s'", s, out), 0);
    char *d = read_file(out);
    REQUIRE(d);
    CHECK(strstr(d, "sweep straight: 4 cells in ") && strstr(d, "(2 at once, 1 thread each)"));
    for (int i = 0; i < 4; i++) {
        char line[200];
        snprintf(line, sizeof line, "%4d  %-8s %s  ", i + 1, "done", CELLS[i]);
        CHECK_MSG(strstr(d, line), "no line '%s' in\n%s", line, d);
    }
    free(d);
    const char *fresh = run_spec("never-run");
    CHECK_EQ_INT(run_cmd("%s/lra sweep '%s' --dry-run > '%s'", fresh, out), 0);
    d = read_file(out);
    CHECK(d && strstr(d, "   3  new      listops-softmax-steps=150-s1  ") && strstr(d, "--set train.steps=150"));
    free(d);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/never-run", g_root);
    CHECK(!lra_file_exists(dir));
    // A finished sweep run again does nothing; a changed spec is refused for finished cells.
    CHECK_EQ_INT(run_cmd("%s/lra sweep '%s' 2> '%s'", s, log), 0);
    err = read_file(log);
    CHECK(err && !strstr(err, "starting") && strstr(err, "all 4 cells finished"));
    free(err);
    char body[1000];
    snprintf(body, sizeof body,
             "name: straight\nbase: %s/tiny.yaml\nkernels: [softmax]\nseeds: [1, 2]\ngrid: {train.steps: [20, 150]}\n"
             "set: {train.lr: 2.0e-3}\nout: %s/straight\nparallel: 2\nthreads: 1\n", g_root, g_root);
    const char *changed = spec("changed", body);
    CHECK_EQ_INT(run_cmd("%s/lra sweep '%s' 2> '%s'", changed, log), 1);
    err = read_file(log);
    CHECK_MSG(err && strstr(err, "holds a run of another config"), "%s", err ? err : "");
    free(err);
}

// The uninterrupted sweep the others are compared with (run here when its case was not).
static void ensure_straight(void) {
    int done = 1;
    for (int i = 0; i < 4; i++) done &= file_in("straight", CELLS[i], "eval.json");
    if (!done) CHECK_EQ_INT(run_cmd("%s/lra sweep '%s' 2> /dev/null%s", run_spec("straight"), ""), 0);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_killed_and_restarted(void) {
    setup();
    const char *s = run_spec("killed");
    char log[400], lra[300];
    snprintf(log, sizeof log, "%s/killed-1.log", g_root);
    snprintf(lra, sizeof lra, "%s/lra", build_dir());
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // its own process group, so the test can kill the sweep and its cells at once
        setpgid(0, 0);
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execl(lra, lra, "sweep", s, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    // Kill once the fast cells are finished and a slow one has a checkpoint but no eval.json.
    int ready = 0;
    for (double t0 = now_s(); !ready && now_s() - t0 < 120; usleep(5000)) {
        const int fast = file_in("killed", CELLS[0], "eval.json") && file_in("killed", CELLS[1], "eval.json");
        for (int i = 2; i < 4 && fast; i++)
            ready |= has_checkpoint("killed", CELLS[i]) && !file_in("killed", CELLS[i], "eval.json");
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    REQUIRE(ready);
    // Until the cells' processes are gone too (they hold their cells' locks while they exist).
    for (double t0 = now_s(); kill(-pid, 0) == 0 && now_s() - t0 < 30; usleep(10000)) {
    }
    int unfinished = 0;
    for (int i = 2; i < 4; i++) unfinished += !file_in("killed", CELLS[i], "eval.json");
    REQUIRE(unfinished > 0);
    // The finished cells' results, to see that the restart leaves them alone.
    struct stat before[2];
    for (int i = 0; i < 2; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/killed/%s/eval.json", g_root, CELLS[i]);
        REQUIRE(stat(p, &before[i]) == 0);
    }
    snprintf(log, sizeof log, "%s/killed-2.log", g_root);
    CHECK_EQ_INT(run_cmd("%s/lra sweep '%s' 2> '%s'", s, log), 0);
    char *err = read_file(log);
    REQUIRE(err);
    CHECK_MSG(!strstr(err, "starting listops-softmax-steps=20-") && strstr(err, "resuming listops-softmax-steps=150-") &&
              strstr(err, "all 4 cells finished"), "%s", err);
    free(err);
    for (int i = 0; i < 2; i++) {
        char p[600];
        struct stat after;
        snprintf(p, sizeof p, "%s/killed/%s/eval.json", g_root, CELLS[i]);
        REQUIRE(stat(p, &after) == 0);
        CHECK_MSG(after.st_ino == before[i].st_ino && after.st_mtim.tv_sec == before[i].st_mtim.tv_sec &&
                  after.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec, "%s was rewritten", p);
    }
    // Resumes are byte-exact, so the killed sweep ends where the straight one did.
    ensure_straight();
    eval_equal("straight", "killed");
}

// The --jobs lines and the --sbatch script, run by sh exactly as written, reproduce the sweep.
static void test_jobs_and_sbatch_run_as_is(void) {
    setup();
    const char *s = run_spec("jobs");
    char jobs[400], sb[400];
    snprintf(jobs, sizeof jobs, "%s/jobs.txt", g_root);
    snprintf(sb, sizeof sb, "%s/jobs.sbatch", g_root);
    char args[900];
    snprintf(args, sizeof args, "%s' --sbatch '%s", jobs, sb);
    REQUIRE(run_cmd("%s/lra sweep '%s' --jobs '%s' 2> /dev/null", s, args) == 0);
    char *text = read_file(jobs);
    REQUIRE(text);
    int lines = 0;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 4);
    CHECK(strstr(text, "--resume auto") && strstr(text, "listops-softmax-steps=150-s2' --resume auto"));
    free(text);
    char *script = read_file(sb);
    REQUIRE(script);
    CHECK(strstr(script, "#SBATCH --array=1-4\n") && strstr(script, "#SBATCH --cpus-per-task=1\n"));
    free(script);
    // `--resume auto` comes with the cluster work (another branch); without it, a first start is the same
    // command minus the flag.
    char probe[300];
    snprintf(probe, sizeof probe, "%s/lra train --help 2>&1 | grep -q -- '--resume auto'", build_dir());
    const int auto_ok = system(probe) == 0;
    if (!auto_ok) printf("  note: this lra train has no --resume auto yet; running the commands without it\n");
    char cmd[1500];
    // Lines 1-3 from the jobs file (line by line, as GNU parallel or an array task would), line 4 from the
    // array script with SLURM_ARRAY_TASK_ID=4.
    snprintf(cmd, sizeof cmd, "head -n 3 '%s' %s | while read -r line; do sh -c \"$line\" > /dev/null 2>&1 || exit 1; done",
             jobs, auto_ok ? "" : "| sed 's/ --resume auto//'");
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s SLURM_ARRAY_TASK_ID=4 sh '%s' > /dev/null 2>&1", "", sb);
    if (!auto_ok) snprintf(cmd, sizeof cmd, "sed 's/ --resume auto//' '%s' | SLURM_ARRAY_TASK_ID=4 sh > /dev/null 2>&1", sb);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=9 sh '%s' 2> /dev/null", sb);
    const int bad = system(cmd);
    CHECK(WIFEXITED(bad) && WEXITSTATUS(bad) == 2);  // no such cell
    ensure_straight();
    eval_equal("straight", "jobs");
    lra_test_rmtree(g_root);
}

static const lra_test_case TESTS[] = {
    {"expansion_and_names", test_expansion_and_names},
    {"spec_errors", test_spec_errors},
    {"uninterrupted_and_dry_run", test_uninterrupted_and_dry_run},
    {"killed_and_restarted", test_killed_and_restarted},
    {"jobs_and_sbatch_run_as_is", test_jobs_and_sbatch_run_as_is},
};
LRA_TEST_MAIN(TESTS)
