// --print-config and --dry-run of `lra train` (see train_preview.h).
#include "tools/lra/train_preview.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "tasks/memory.h"
#include "tasks/model_summary.h"
#include "tasks/run_data.h"
#include "tasks/run_dir.h"
#include "tools/lra/args.h"

int lra_train_print_config(const lra_run_settings *s, const char *yaml, FILE *out) {
    lra_model m;
    lra_model_build(&m, &s->model, s->seed);
    lra_model_summary_print(&m, out, "# ");
    lra_model_free(&m);
    fputs(yaml, out);
    return 0;
}

// Counts and sequence lengths of one loaded split.
static void print_split(FILE *out, lra_split split, const lra_dataset *ds) {
    int64_t minl = INT64_MAX, maxl = 0;
    double sum = 0;
    for (int64_t i = 0; i < ds->count; i++)
        for (int q = 0; q < ds->n_seq; q++) {
            const int64_t l = lra_dataset_len(ds, i, q);
            sum += (double)l;
            if (l < minl) minl = l;
            if (l > maxl) maxl = l;
        }
    fprintf(out, "  %-5s %9lld examples, tokens per sequence min %lld, mean %.1f, max %lld\n", lra_split_name(split),
            (long long)ds->count, (long long)(ds->count ? minl : 0),
            ds->count ? sum / ((double)ds->count * ds->n_seq) : 0.0, (long long)maxl);
}

static int dry_fail(void) {
    fprintf(stderr, "lra train: dry run: error: %s\n", lra_error_message());
    return 1;
}

int lra_train_dry_run(const lra_run_settings *s, const char *yaml, const char *run_dir, lra_resume_mode resume,
                      int threads,
                      FILE *out) {
    fprintf(out, "dry run: config resolved (task %s, attention %s, seed %llu, %d threads)\n", s->task->name,
            s->attention, (unsigned long long)s->seed, threads);
    // The data, read the way the run reads it, without the cache (which a dry run must not write).
    lra_run_settings plain = *s;
    plain.cache_dir[0] = '\0';
    fprintf(out, "data: %s%s\n", s->data_path, s->cache_dir[0] ? " (read directly; data.cache_dir is not touched)" : "");
    for (int sp = 0; sp < 3; sp++) {
        lra_dataset ds;
        memset(&ds, 0, sizeof ds);
        if (lra_run_load_split(&plain, (lra_split)sp, &ds)) {
            lra_dataset_free(&ds);
            return dry_fail();
        }
        print_split(out, (lra_split)sp, &ds);
        lra_dataset_free(&ds);
    }
    lra_model m;
    lra_model_build(&m, &s->model, s->seed);
    lra_model_summary_print(&m, out, "");
    lra_model_free(&m);
    lra_memory_estimate me;
    lra_memory_estimate_run(s, &me);
    const uint64_t phys = lra_memory_physical();
    fprintf(out, "memory: about %.1f MiB at least (parameters with gradients and moments %.1f MiB)",
            me.total_bytes / 1048576.0, me.params_bytes / 1048576.0);
    if (phys) fprintf(out, " of %.1f GiB physical", (double)phys / 1073741824.0);
    fprintf(out, "\n");
    // The run directory: what the real run would find there (read only).
    if (lra_path_is_dir(run_dir)) {
        char *ck = lra_run_latest_checkpoint(run_dir);
        if (ck && !resume) {
            free(ck);
            lra_error(LRA_ERR_STATE, "%s already holds checkpoints; pass --resume to continue it or choose another "
                                     "--run-dir", run_dir);
            return dry_fail();
        }
        if (!ck && resume == LRA_RESUME_ALWAYS) return dry_fail();
        fprintf(out, "run directory: %s (exists; %s%s)\n", run_dir, ck ? "would resume from " : "no checkpoints",
                ck ? lra_path_basename(ck) : "");
        free(ck);
    } else if (resume == LRA_RESUME_ALWAYS) {
        lra_error(LRA_ERR_STATE, "%s: no such run directory to resume (--resume auto starts it)", run_dir);
        return dry_fail();
    } else {
        fprintf(out, "run directory: %s (would be created)\n", run_dir);
    }
    fprintf(out, "resolved config:\n");
    fputs(yaml, out);
    fprintf(out, "dry run: all checks passed; nothing was trained or written\n");
    return 0;
}
