// `lra train CONFIG [--set key=value ...] [--run-dir DIR] [--resume [auto]] [--stop-at STEP]
//  [--time-limit T|auto] [--requeue] [--seed N] [--threads N] [--dry-run] [--print-config]`
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/threads.h"
#include "tasks/dist.h"
#include "tasks/run_data.h"
#include "tasks/settings.h"
#include "tasks/trainer.h"
#include "tools/lra/args.h"
#include "tools/lra/commands.h"
#include "tools/lra/train_preview.h"
#include "tools/lra/slurm.h"

// Exit status of a run that stopped with a checkpoint to be resumed by a requeued job (SIGUSR1, the time
// limit): EX_TEMPFAIL of sysexits.h, "try again later".  SIGINT and SIGTERM keep the shell's 128 + N:
// they also leave a checkpoint, but SIGTERM is how scancel ends a job, which must not come back.
#define EXIT_RESUME 75

// Default threads per process: all cores; under mpirun with several ranks on this machine, the cores a
// rank is bound to when the launcher bound it to fewer than all, else the cores divided among the ranks.
static int default_threads(void) {
    const int cores = lra_threads_cores(), local = lra_dist_local_size();
    if (local <= 1) return cores;
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online > 0 && cores < online) return cores;
    return cores / local > 0 ? cores / local : 1;
}

// Errors are the same on every rank (agreed); rank 0 alone prints them.
static int fail(void) { return lra_dist_rank() == 0 ? lra_arg_fail("train") : 1; }

static void usage(FILE *f) {
    fprintf(f,
            "usage: lra train CONFIG [--set key=value ...] [--run-dir DIR] [--resume [auto]] [--stop-at STEP]\n"
            "                 [--time-limit HH:MM:SS|auto] [--time-margin SECONDS] [--requeue]\n"
            "                 [--seed N] [--threads N] [--quiet] [--profile] [--dry-run] [--print-config]\n\n"
            "Trains a model as CONFIG (YAML) says and writes a run directory: config.yaml, metrics.jsonl,\n"
            "checkpoints (the last few and best.lra), jobs.jsonl (one line per start and end, with Slurm job ids)\n"
            "and eval.json (test accuracy of the best checkpoint).\n\n"
            "  --set key=value  override a config key (repeatable), e.g. --set model.attention.type=skeinformer\n"
            "  --run-dir DIR    run directory (default runs/<task>-<attention>-s<seed>)\n"
            "  --resume         continue the run in --run-dir from its newest checkpoint\n"
            "  --resume auto    continue it when it has a checkpoint, else start it: one command line for a job's\n"
            "                   first start and every restart.  A resume accepts changed train.log_every,\n"
            "                   eval_every, checkpoint_every, checkpoint_minutes, keep_checkpoints, prefetch,\n"
            "                   data.cache_dir and a larger train.steps (same schedule) and refuses other changes\n"
            "  --stop-at STEP   stop after STEP with a checkpoint (continue later with --resume)\n"
            "  --time-limit T   stop with a checkpoint before T (HH:MM:SS, D-HH:MM:SS or MM:SS) has passed since\n"
            "                   the start, planning with the measured step, evaluation and checkpoint times;\n"
            "                   auto: the time left to the Slurm job (squeue)\n"
            "  --time-margin S  seconds kept free before the limit (default 60 with auto, else 0)\n"
            "  --requeue        under Slurm, after a stop by SIGUSR1 or the time limit, requeue this job\n"
            "                   (scontrol requeue $SLURM_JOB_ID) so that it resumes (not after SIGTERM: scancel)\n"
            "  --seed N         same as --set seed=N\n"
            "  --threads N      threads for kernels and BLAS; 0 (the default) means all cores (under mpirun: the\n"
            "                   cores of this machine divided by the ranks on it, or the cores a rank is bound\n"
            "                   to).  The count used is printed at start; results do not depend on it\n"
            "  --quiet          no progress display\n"
            "  --profile        time every phase and op kind of the steps run; print the table at the end and\n"
            "                   write RUN_DIR/profile.json\n"
            "  --print-config   print the resolved config (every key, YAML; the model summary as comments) and exit\n"
            "  --dry-run        check the run without training or writing anything: resolve the config, read every\n"
            "                   split of the data (sizes), build the model (parameter counts), check the memory\n"
            "                   estimate and the run directory; print all that and the resolved config, exit 0\n"
            "  --keys           list every config key with its type, default and meaning (--keys-markdown: as a table)\n\n"
            "Signals: SIGINT, SIGTERM and SIGUSR1 (sbatch --signal=USR1@T) finish the current step (or stop a dev\n"
            "evaluation at its next batch), keep a checkpoint and stop.  Written to a file or pipe, progress and\n"
            "evaluation lines carry a UTC timestamp and come at least every 30 s.\n\n"
            "Exit status: 0 finished (or stopped at --stop-at); 75 stopped with a checkpoint by SIGUSR1 or the\n"
            "time limit: run the same command (with --resume auto) to continue; 130 and 143 the same after\n"
            "SIGINT and SIGTERM; 1 an error; 2 a bad command line.\n");
}

// --time-limit and --time-margin -> the CLOCK_MONOTONIC deadline (0: none), the same on every rank
// (rank 0 asks Slurm).  Returns 0 after printing a message when the limit cannot be had.
static int deadline_from(const char *limit, int64_t margin, double *deadline) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double now = ts.tv_sec + ts.tv_nsec * 1e-9;
    *deadline = 0;
    if (!limit) return 1;
    double seconds = 0;
    int ok = 1;
    if (!strcmp(limit, "auto")) {
        lra_status st = lra_dist_rank() == 0 ? lra_slurm_time_left(&seconds) : LRA_OK;
        if (lra_dist_agree(st)) {
            if (lra_dist_rank() == 0) fprintf(stderr, "lra train: --time-limit auto: %s\n", lra_error_message());
            return 0;
        }
        lra_dist_bcast_bytes(&seconds, sizeof seconds, 0);
        if (margin < 0) margin = 60;
    } else if (!lra_slurm_parse_duration(limit, &seconds)) {
        fprintf(stderr, "lra train: --time-limit: expected HH:MM:SS, D-HH:MM:SS, MM:SS or auto, got '%s'\n", limit);
        ok = 0;
    }
    if (margin < 0) margin = 0;
    if (ok && seconds <= (double)margin) {
        fprintf(stderr, "lra train: --time-limit %s leaves no time after the %lld s margin\n", limit,
                (long long)margin);
        ok = 0;
    }
    if (ok) *deadline = now + seconds - (double)margin;
    return ok;
}

int lra_cmd_train(int argc, char **argv) {
    const char *config = NULL, *run_dir = NULL, *v = NULL;
    const char **sets = lra_xcalloc((size_t)argc + 1, sizeof *sets);
    int n_sets = 0, quiet = 0, profile = 0, requeue = 0, rc = 0, dry_run = 0, print_config = 0;
    lra_resume_mode resume = LRA_RESUME_NEVER;
    int64_t stop_at = 0, threads = 0, margin = -1;
    const char *time_limit = NULL;
    char seed_set[64];
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            usage(stdout);
            free(sets);
            return 0;
        } else if (lra_arg_flag(argv[i], "--keys") || lra_arg_flag(argv[i], "--keys-markdown")) {
            lra_config_schema *s = lra_settings_schema();
            lra_config_schema_print(s, stdout, lra_arg_flag(argv[i], "--keys-markdown"), NULL);
            lra_config_schema_free(s);
            free(sets);
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--set", &v))) {
            if (m < 0) goto bad;
            sets[n_sets++] = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--run-dir", &v))) {
            if (m < 0) goto bad;
            run_dir = v;
        } else if (lra_arg_flag(argv[i], "--resume")) {
            resume = LRA_RESUME_ALWAYS;
            if (i + 1 < argc && !strcmp(argv[i + 1], "auto")) {
                resume = LRA_RESUME_AUTO;
                i++;
            }
        } else if (lra_arg_flag(argv[i], "--resume=auto")) {
            resume = LRA_RESUME_AUTO;
        } else if (lra_arg_flag(argv[i], "--requeue")) {
            requeue = 1;
        } else if ((m = lra_arg_value(argc, argv, &i, "--time-limit", &v))) {
            if (m < 0) goto bad;
            time_limit = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--time-margin", &v))) {
            if (m < 0 || !lra_arg_int("train", "--time-margin", v, 0, &margin)) goto bad;
        } else if (lra_arg_flag(argv[i], "--quiet")) {
            quiet = 1;
        } else if (lra_arg_flag(argv[i], "--profile")) {
            profile = 1;
        } else if (lra_arg_flag(argv[i], "--dry-run")) {
            dry_run = 1;
        } else if (lra_arg_flag(argv[i], "--print-config")) {
            print_config = 1;
        } else if ((m = lra_arg_value(argc, argv, &i, "--stop-at", &v))) {
            if (m < 0 || !lra_arg_int("train", "--stop-at", v, 1, &stop_at)) goto bad;
        } else if ((m = lra_arg_value(argc, argv, &i, "--seed", &v))) {
            int64_t seed;
            if (m < 0 || !lra_arg_int("train", "--seed", v, 0, &seed)) goto bad;
            snprintf(seed_set, sizeof seed_set, "seed=%lld", (long long)seed);
            sets[n_sets++] = seed_set;
        } else if ((m = lra_arg_value(argc, argv, &i, "--threads", &v))) {
            if (m < 0 || !lra_arg_int("train", "--threads", v, 0, &threads)) goto bad;
        } else if (argv[i][0] == '-') {
            free(sets);
            return lra_arg_unknown("train", argv[i]);
        } else if (!config) {
            config = argv[i];
        } else {
            fprintf(stderr, "lra train: more than one CONFIG given ('%s' and '%s')\n", config, argv[i]);
            goto bad;
        }
    }
    if (!config) {
        usage(stderr);
        goto bad;
    }
    // In a log file (sbatch, nohup, `> run.log 2>&1`) the result line must not wait for the exit.
    if (!isatty(STDOUT_FILENO)) setvbuf(stdout, NULL, _IOLBF, 0);
    if (requeue && !lra_slurm_job_id() && lra_dist_rank() == 0)
        fprintf(stderr, "lra train: --requeue: not running in a Slurm job (no SLURM_JOB_ID); a stop will not requeue\n");
    double deadline = 0;
    if (!deadline_from(time_limit, margin, &deadline)) goto bad;
    const int nthreads = lra_threads_set(threads > 0 ? (int)threads : default_threads());
    lra_config_schema *schema = lra_settings_schema();
    lra_config *cfg = NULL;
    lra_run_settings s;
    lra_status ls = lra_settings_load(config, sets, n_sets, schema, &cfg);
    if (!ls) ls = lra_settings_resolve(cfg, &s);
    if (!ls && !print_config) ls = lra_run_check_data_path(&s);  // before the run directory is made
    if (lra_dist_agree(ls)) {  // a config missing on one machine stops every rank
        rc = fail();
        goto out_cfg;
    }
    char default_dir[256];
    if (!run_dir) {
        snprintf(default_dir, sizeof default_dir, "runs/%s-%s-s%llu", s.task->name, s.attention,
                 (unsigned long long)s.seed);
        run_dir = default_dir;
    }
    char *yaml = lra_settings_resolved_yaml(cfg, &s);
    if (print_config || dry_run) {  // look, do not touch (tools/lra/train_preview.c)
        if (lra_dist_rank() == 0)
            rc = print_config ? lra_train_print_config(&s, yaml, stdout)
                              : lra_train_dry_run(&s, yaml, run_dir, resume, nthreads, stdout);
        free(yaml);
        goto out_cfg;
    }
    if (lra_dist_rank() == 0)  // the thread count in use, --quiet or not (--threads 0 means "all cores")
        fprintf(stderr, "lra train: %d thread%s (%s)\n", nthreads, nthreads == 1 ? "" : "s",
                threads > 0               ? "--threads"
                : lra_dist_local_size() > 1 ? "this rank's share of the cores: --threads 0, the default"
                                            : "all cores: --threads 0, the default");
    if (!quiet && lra_dist_rank() == 0) lra_threads_describe(stderr);  // the head of a run's log
    lra_train_options o = {.run_dir = run_dir, .config_yaml = yaml, .resume = resume, .stop_at = stop_at,
                           .deadline = deadline, .progress = !quiet, .rank = lra_dist_rank(),
                           .world = lra_dist_size(), .profile = profile};
    lra_train_summary sum;
    lra_status st = lra_train(&s, &o, &sum);
    if (st == LRA_ERR_INTERRUPTED || (st == LRA_OK && sum.interrupted)) {
        if (o.rank == 0)
            fprintf(stderr, "lra train: %s; state saved in %s.\nResume with: lra train %s --run-dir %s --resume%s\n",
                    st ? lra_error_message()
                       : sum.reason == LRA_STOP_AT ? "stopped at --stop-at" : "stopped before the time limit",
                    run_dir, config, run_dir, n_sets ? " (and the same --set flags)" : "");
        rc = sum.reason == LRA_STOP_AT                              ? 0
             : sum.signal == SIGINT || sum.signal == SIGTERM ? 128 + sum.signal
                                                             : EXIT_RESUME;
        if (requeue && rc == EXIT_RESUME && o.rank == 0 && lra_slurm_job_id()) {
            fprintf(stderr, "lra train: requeueing Slurm job %s\n", lra_slurm_job_id());
            if (lra_slurm_requeue()) fprintf(stderr, "lra train: --requeue: %s\n", lra_error_message());
        }
    } else if (st) {
        rc = fail();
    } else if (o.rank == 0) {
        printf("%s: test accuracy %.2f%% (%lld examples, best checkpoint), %lld steps%s -> %s/eval.json\n",
               s.task->name, 100 * sum.test_accuracy, (long long)sum.test_examples, (long long)sum.steps_done,
               sum.stopped_early ? " (early stop)" : "", run_dir);
    }
    free(yaml);
out_cfg:
    lra_config_free(cfg);
    lra_config_schema_free(schema);
    free(sets);
    return rc;
bad:
    free(sets);
    return 2;
}
