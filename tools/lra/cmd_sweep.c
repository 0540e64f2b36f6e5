// `lra sweep SPEC.yaml [--dry-run] [--jobs FILE] [--sbatch FILE] [--parallel N] [--threads N]`: runs the
// cells of a sweep (tasks/sweep.h), each as its own `lra train` process, several at once; or writes them
// as commands for a cluster scheduler.
//
// Restarting is always safe: a cell with eval.json is finished and skipped; a cell with a checkpoint
// is resumed (`lra train ... --resume`, byte-exact); any other starts fresh.  Each running cell holds
// an flock on RUN_DIR/.sweep.lock (inherited by its `lra train` process), so a second sweep on the same
// folder skips cells that are running, even when the sweep that started them was killed.  A cell's
// process gets SIGTERM when the sweep dies (PR_SET_PDEATHSIG) and then checkpoints and stops.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/threads.h"
#include "tasks/sweep.h"
#include "tools/lra/args.h"
#include "tools/plot/plot.h"

#define LOCK_NAME ".sweep.lock"
#define LOG_NAME "train.log"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lra sweep SPEC.yaml [--dry-run] [--jobs FILE] [--sbatch FILE] [--parallel N] [--threads N]\n\n"
            "Runs a grid of training runs (tasks x kernels x grid axes x seeds, see README \"Sweeps\") into\n"
            "OUT/<task>-<kernel>[-<axis>=<value>...]-s<seed>, several cells at once.  Finished cells (eval.json)\n"
            "are skipped, interrupted ones resumed from their checkpoint, so the same command continues a sweep\n"
            "that was stopped or killed.  Each cell's output goes to RUN_DIR/train.log; progress (done / running /\n"
            "left, ETA) to stderr.\n\n"
            "  --dry-run       list the cells, their run directories and states; run nothing\n"
            "  --jobs FILE     write one self-contained shell command per cell (line i = cell i) for GNU parallel,\n"
            "                  a Slurm array or mpirun; run nothing\n"
            "  --sbatch FILE   write an `sbatch --array=1-N` script whose task i runs cell i; run nothing\n"
            "  --parallel N    cells at once (default: the spec's parallel, else cores / threads)\n"
            "  --threads N     threads per cell (default: the spec's threads, else cores / parallel, else 1)\n\n"
            "Exit status: 0 every cell finished, 1 a cell failed or the spec is bad, 2 usage, 3 cells left that\n"
            "another sweep is running, 128+N stopped by signal N (running cells checkpointed).\n");
}

// ---- shell commands ---------------------------------------------------------------------------

// s in single quotes for sh.
static void sh_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

static char *absolute(const char *path) {
    char *r = realpath(path, NULL);
    if (r) return r;
    if (path[0] == '/') return lra_xstrdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return lra_xstrdup(path);
    return lra_path_join(cwd, path);
}

// One cell as a command line that runs from anywhere: the same working directory (configs may name data
// relative to it), absolute paths, and `--resume auto` (fresh without a checkpoint, resume with one).
static void write_command(FILE *f, const char *exe, const lra_sweep_cell *c, int threads) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    char *config = absolute(c->config), *dir = absolute(c->run_dir);
    fputs("cd ", f);
    sh_quote(f, cwd);
    fputs(" && ", f);
    sh_quote(f, exe);
    fputs(" train ", f);
    sh_quote(f, config);
    for (int i = 0; i < c->n_sets; i++) {
        fputs(" --set ", f);
        sh_quote(f, c->sets[i]);
    }
    fputs(" --run-dir ", f);
    sh_quote(f, dir);
    fprintf(f, " --resume auto --quiet --threads %d", threads);
    free(config);
    free(dir);
}

static char *program_path(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return lra_xstrdup("lra");
    exe[n] = '\0';
    return lra_xstrdup(exe);
}

static int write_jobs(const lra_sweep *sw, const char *path, const char *exe, int threads) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    for (int i = 0; i < sw->n_cells; i++) {
        write_command(m, exe, &sw->cells[i], threads);
        fputc('\n', m);
    }
    fclose(m);
    lra_status st = lra_atomic_write_file(path, buf, len);
    free(buf);
    if (st) return lra_arg_fail("sweep");
    fprintf(stderr, "lra sweep: %d commands (one per cell) written to %s\n", sw->n_cells, path);
    return 0;
}

// An array job: task i runs cell i (the commands are embedded, so the script is all it needs).
static int write_sbatch(const lra_sweep *sw, const char *path, const char *exe, int threads) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char *out = absolute(sw->out);
    fprintf(m, "#!/bin/sh\n# Sweep %s (%s): %d cells; array task i runs cell i.  Written by `lra sweep --sbatch`.\n",
            sw->name, sw->path, sw->n_cells);
    fprintf(m, "#SBATCH --job-name=%s\n#SBATCH --array=1-%d\n#SBATCH --cpus-per-task=%d\n", sw->name, sw->n_cells,
            threads);
    fprintf(m, "#SBATCH --output=%s/slurm-%%A_%%a.log\n\n", out);
    fprintf(m, "case \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (int i = 0; i < sw->n_cells; i++) {
        fprintf(m, "%d) ", i + 1);
        write_command(m, exe, &sw->cells[i], threads);
        fprintf(m, " ;;\n");
    }
    fprintf(m, "*) echo \"no cell $SLURM_ARRAY_TASK_ID (1-%d)\" >&2; exit 2 ;;\nesac\n", sw->n_cells);
    fclose(m);
    free(out);
    lra_status st = lra_path_mkdirs(sw->out);  // the log folder must exist when the job starts
    if (!st) st = lra_atomic_write_file(path, buf, len);
    free(buf);
    if (st) return lra_arg_fail("sweep");
    fprintf(stderr, "lra sweep: array job script for %d cells written to %s (submit: sbatch %s)\n", sw->n_cells, path,
            path);
    return 0;
}

// ---- running ----------------------------------------------------------------------------------

typedef enum { C_PENDING, C_RUNNING, C_DONE, C_FAILED, C_BUSY } cell_status;

typedef struct {
    cell_status status;
    pid_t pid;
    double started;
    int resumed;
} cell_run;

static volatile sig_atomic_t g_signal;
static void on_signal(int sig) { g_signal = sig; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The lock of a cell, taken (fd >= 0), or -1 when another process holds it (errno EWOULDBLOCK) or on an
// error (message set).
static int take_lock(const char *run_dir, int *busy) {
    *busy = 0;
    if (lra_path_mkdirs(run_dir)) return -1;
    char *p = lra_path_join(run_dir, LOCK_NAME);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        lra_error(LRA_ERR_IO, "%s: cannot open: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    free(p);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        *busy = errno == EWOULDBLOCK;
        if (!*busy) lra_error(LRA_ERR_IO, "%s/%s: cannot lock: %s", run_dir, LOCK_NAME, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

// Whether another process holds the cell's lock now (for --dry-run).
static int lock_held(const char *run_dir) {
    char *p = lra_path_join(run_dir, LOCK_NAME);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    free(p);
    if (fd < 0) return 0;
    int held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

static pid_t start_cell(const char *exe, const lra_sweep_cell *c, int resume, int threads, int lock_fd) {
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    // The child: it holds the lock (the descriptor survives exec) and stops when the sweep dies.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    fcntl(lock_fd, F_SETFD, 0);
    char *log = lra_path_join(c->run_dir, LOG_NAME);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    char threads_s[32];
    snprintf(threads_s, sizeof threads_s, "%d", threads);
    const int argc = 9 + 2 * c->n_sets + 1;
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    int k = 0;
    argv[k++] = (char *)exe;
    argv[k++] = "train";
    argv[k++] = c->config;
    for (int i = 0; i < c->n_sets; i++) {
        argv[k++] = "--set";
        argv[k++] = c->sets[i];
    }
    argv[k++] = "--run-dir";
    argv[k++] = c->run_dir;
    if (resume) argv[k++] = "--resume";
    argv[k++] = "--quiet";
    argv[k++] = "--threads";
    argv[k++] = threads_s;
    argv[k] = NULL;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv(exe, argv);
    fprintf(stderr, "lra sweep: cannot run %s: %s\n", exe, strerror(errno));
    _exit(127);
}

static void fmt_duration(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

static void progress(const lra_sweep *sw, const cell_run *cr, int parallel, double work_s, int finished_here) {
    int done = 0, running = 0, left = 0, failed = 0, busy = 0;
    for (int i = 0; i < sw->n_cells; i++) {
        done += cr[i].status == C_DONE;
        running += cr[i].status == C_RUNNING;
        left += cr[i].status == C_PENDING;
        failed += cr[i].status == C_FAILED;
        busy += cr[i].status == C_BUSY;
    }
    char eta[64] = "ETA unknown";
    if (finished_here > 0 && (left || running)) {
        // Cells still to run times the mean time of a cell finished in this session, over the cells at once.
        const int slots = parallel < left + running ? parallel : left + running;
        char d[32];
        fmt_duration(work_s / finished_here * (left + running) / (slots > 0 ? slots : 1), d, sizeof d);
        snprintf(eta, sizeof eta, "ETA %s", d);
    } else if (!left && !running) {
        snprintf(eta, sizeof eta, "finished");
    }
    fprintf(stderr, "lra sweep %s: %d/%d done, %d running, %d left", sw->name, done, sw->n_cells, running, left);
    if (failed) fprintf(stderr, ", %d failed", failed);
    if (busy) fprintf(stderr, ", %d running elsewhere", busy);
    fprintf(stderr, "; %s\n", eta);
}

// The finished sweep's table as a bar chart, OUT/results.{svg,png} (a failure is reported, not fatal).
static void write_chart(const lra_sweep *sw) {
    const char *paths[1] = {sw->out};
    lra_results_table t;
    memset(&t, 0, sizeof t);
    char stem[PATH_MAX];
    snprintf(stem, sizeof stem, "%s/results", sw->out);
    if (lra_results_table_build(paths, 1, &t) || lra_plot_results_table(&t, stem, sw->name))
        fprintf(stderr, "lra sweep %s: no chart: %s\n", sw->name, lra_error_message());
    else
        fprintf(stderr, "lra sweep %s: chart %s.svg, %s.png\n", sw->name, stem, stem);
    lra_results_table_free(&t);
}

static int run_sweep(const lra_sweep *sw, const char *exe, int parallel, int threads) {
    cell_run *cr = lra_xcalloc((size_t)sw->n_cells, sizeof *cr);
    int rc = 0;
    for (int i = 0; i < sw->n_cells; i++) {
        lra_cell_state state;
        if (lra_sweep_cell_state(&sw->cells[i], &state)) {
            fprintf(stderr, "lra sweep: error: %s\n", lra_error_message());
            cr[i].status = C_FAILED;
        } else {
            cr[i].status = state == LRA_CELL_DONE ? C_DONE : C_PENDING;
        }
    }
    fprintf(stderr, "lra sweep %s: %d cells in %s, %d at once with %d thread%s each\n", sw->name, sw->n_cells, sw->out,
            parallel, threads, threads == 1 ? "" : "s");
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;  // no SA_RESTART: waitpid returns EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double work_s = 0;
    int finished_here = 0, running = 0, forwarded = 0, next = 0;
    progress(sw, cr, parallel, work_s, finished_here);
    for (;;) {
        int started = 0;
        while (!g_signal && running < parallel && next < sw->n_cells) {
            const int i = next++;
            if (cr[i].status != C_PENDING) continue;
            const lra_sweep_cell *c = &sw->cells[i];
            lra_cell_state state;
            if (lra_sweep_cell_state(c, &state)) {  // it may have changed since the scan
                fprintf(stderr, "lra sweep: error: %s\n", lra_error_message());
                cr[i].status = C_FAILED;
                continue;
            }
            if (state == LRA_CELL_DONE) {
                cr[i].status = C_DONE;
                continue;
            }
            int busy = 0;
            const int fd = take_lock(c->run_dir, &busy);
            if (fd < 0) {
                if (!busy) fprintf(stderr, "lra sweep: error: %s\n", lra_error_message());
                else fprintf(stderr, "lra sweep: %s is running in another process; skipped\n", c->name);
                cr[i].status = busy ? C_BUSY : C_FAILED;
                continue;
            }
            // Checked again under the lock: a sweep that held it may have finished the cell meanwhile.
            if (lra_sweep_cell_state(c, &state) || state == LRA_CELL_DONE) {
                cr[i].status = state == LRA_CELL_DONE ? C_DONE : C_FAILED;
                close(fd);
                continue;
            }
            cr[i].resumed = state == LRA_CELL_RESUME;
            cr[i].pid = start_cell(exe, c, cr[i].resumed, threads, fd);
            close(fd);
            if (cr[i].pid < 0) {
                fprintf(stderr, "lra sweep: cannot start %s: %s\n", c->name, strerror(errno));
                cr[i].status = C_FAILED;
                continue;
            }
            cr[i].status = C_RUNNING;
            cr[i].started = now_s();
            running++;
            started++;
            fprintf(stderr, "lra sweep: %s %s (log: %s/%s)\n", cr[i].resumed ? "resuming" : "starting", c->name,
                    c->run_dir, LOG_NAME);
        }
        if (started) progress(sw, cr, parallel, work_s, finished_here);
        if (!running) break;
        if (g_signal && !forwarded) {  // stop the cells: each finishes its step and checkpoints
            fprintf(stderr, "lra sweep: %s: stopping %d running cell(s) (they checkpoint)\n", strsignal((int)g_signal),
                    running);
            for (int i = 0; i < sw->n_cells; i++)
                if (cr[i].status == C_RUNNING) kill(cr[i].pid, SIGTERM);
            forwarded = 1;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < sw->n_cells; i++) {
            if (cr[i].status != C_RUNNING || cr[i].pid != pid) continue;
            running--;
            char *eval = lra_path_join(sw->cells[i].run_dir, "eval.json");
            const int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && lra_path_is_file(eval);
            free(eval);
            char took[32];
            fmt_duration(now_s() - cr[i].started, took, sizeof took);
            if (ok) {
                cr[i].status = C_DONE;
                work_s += now_s() - cr[i].started;
                finished_here++;
                fprintf(stderr, "lra sweep: %s finished in %s\n", sw->cells[i].name, took);
            } else if (forwarded) {
                cr[i].status = C_PENDING;  // stopped by us: resumed by the next sweep
            } else {
                cr[i].status = C_FAILED;
                fprintf(stderr, "lra sweep: %s failed (%s %d) after %s; see %s/%s\n", sw->cells[i].name,
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), took, sw->cells[i].run_dir,
                        LOG_NAME);
            }
            progress(sw, cr, parallel, work_s, finished_here);
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    int failed = 0, busy = 0, pending = 0;
    for (int i = 0; i < sw->n_cells; i++) {
        failed += cr[i].status == C_FAILED;
        busy += cr[i].status == C_BUSY;
        pending += cr[i].status == C_PENDING;
    }
    if (g_signal) {
        fprintf(stderr, "lra sweep: stopped (%s); %d cell(s) left; run the same command to continue\n",
                strsignal((int)g_signal), pending + busy);
        rc = 128 + g_signal;
    } else if (failed) {
        fprintf(stderr, "lra sweep: %d cell(s) failed; fix them and run the same command again\n", failed);
        rc = 1;
    } else if (busy) {
        fprintf(stderr, "lra sweep: %d cell(s) are running in another process; run the sweep again when they end\n",
                busy);
        rc = 3;
    } else {
        fprintf(stderr, "lra sweep %s: all %d cells finished; table: lra table %s\n", sw->name, sw->n_cells, sw->out);
        write_chart(sw);
    }
    free(cr);
    return rc;
}

static void dry_run(const lra_sweep *sw, int parallel, int threads) {
    printf("sweep %s: %d cells in %s (%d at once, %d thread%s each)\n", sw->name, sw->n_cells, sw->out, parallel,
           threads, threads == 1 ? "" : "s");
    for (int i = 0; i < sw->n_cells; i++) {
        const lra_sweep_cell *c = &sw->cells[i];
        lra_cell_state state;
        const char *what;
        if (lra_sweep_cell_state(c, &state)) what = "error: another config in the run directory";
        else if (state == LRA_CELL_DONE) what = "done";
        else if (lock_held(c->run_dir)) what = "running";
        else if (state == LRA_CELL_RESUME) what = "resume";
        else what = "new";
        printf("%4d  %-8s %s  %s", i + 1, what, c->name, c->config);
        for (int k = 0; k < c->n_sets; k++) printf(" --set %s", c->sets[k]);
        printf("\n");
    }
}

int lra_cmd_sweep(int argc, char **argv) {
    const char *spec = NULL, *jobs = NULL, *sbatch = NULL, *v;
    int dry = 0;
    int64_t parallel = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (lra_arg_flag(argv[i], "--dry-run")) {
            dry = 1;
        } else if ((m = lra_arg_value(argc, argv, &i, "--jobs", &v))) {
            if (m < 0) return 2;
            jobs = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--sbatch", &v))) {
            if (m < 0) return 2;
            sbatch = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--parallel", &v))) {
            if (m < 0 || !lra_arg_int("sweep", "--parallel", v, 1, &parallel)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--threads", &v))) {
            if (m < 0 || !lra_arg_int("sweep", "--threads", v, 1, &threads)) return 2;
        } else if (argv[i][0] == '-') {
            return lra_arg_unknown("sweep", argv[i]);
        } else if (!spec) {
            spec = argv[i];
        } else {
            fprintf(stderr, "lra sweep: more than one SPEC given ('%s' and '%s')\n", spec, argv[i]);
            return 2;
        }
    }
    if (!spec) {
        usage(stderr);
        return 2;
    }
    lra_sweep sw;
    if (lra_sweep_load(spec, &sw)) return lra_arg_fail("sweep");
    // Cells at once and threads per cell: flags, then the spec, then sized to the cores.
    const int cores = lra_threads_cores() > 0 ? lra_threads_cores() : 1;
    int p = parallel ? (int)parallel : sw.parallel, t = threads ? (int)threads : sw.threads;
    if (!t) t = p ? (cores / p > 0 ? cores / p : 1) : 1;
    if (!p) p = cores / t > 0 ? cores / t : 1;
    char *exe = program_path();
    int rc = 0;
    if (jobs) rc = write_jobs(&sw, jobs, exe, t);
    if (!rc && sbatch) rc = write_sbatch(&sw, sbatch, exe, t);
    if (!rc && dry) dry_run(&sw, p, t);
    if (!rc && !jobs && !sbatch && !dry) rc = run_sweep(&sw, exe, p, t);
    free(exe);
    lra_sweep_free(&sw);
    return rc;
}
