// The run directory (see run_dir.h).
#include "tasks/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "tasks/checkpoint.h"
#include "tasks/config_diff.h"

int64_t lra_run_checkpoint_step(const char *name) {
    long long step;
    char tail[8];
    if (sscanf(name, "ckpt-%lld.%7s", &step, tail) == 2 && !strcmp(tail, "lra")) return step;
    return -1;
}

// Checkpoint steps of a run directory, newest first.  *out: malloc'd.  *err (if not NULL): the errno of a
// directory that cannot be listed (0 otherwise), so callers can say "Permission denied" rather than
// "no checkpoint".
static int list_checkpoints_err(const char *dir, int64_t **out, int *err) {
    DIR *d = opendir(dir);
    if (err) *err = d ? 0 : errno;
    int n = 0, cap = 16;
    int64_t *steps = lra_xmalloc(sizeof *steps * (size_t)cap);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            int64_t s = lra_run_checkpoint_step(e->d_name);
            if (s < 0) continue;
            if (n == cap) steps = lra_xrealloc(steps, sizeof *steps * (size_t)(cap *= 2));
            steps[n++] = s;
        }
        closedir(d);
    }
    for (int i = 1; i < n; i++)  // insertion sort, descending
        for (int j = i; j > 0 && steps[j] > steps[j - 1]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    *out = steps;
    return n;
}

static int list_checkpoints(const char *dir, int64_t **out) { return list_checkpoints_err(dir, out, NULL); }

char *lra_run_checkpoint_path(const char *dir, int64_t step) {
    char name[64];
    snprintf(name, sizeof name, "ckpt-%08lld.lra", (long long)step);
    return lra_path_join(dir, name);
}

char *lra_run_latest_checkpoint(const char *run_dir) {
    int64_t *steps;
    int err = 0;
    int n = list_checkpoints_err(run_dir, &steps, &err);
    if (err) {
        free(steps);
        lra_error(LRA_ERR_IO, "%s: cannot read the run directory: %s", run_dir, strerror(err));
        return NULL;
    }
    char *found = NULL, *newest_err = NULL;  // why the newest checkpoint could not be read
    for (int i = 0; i < n && !found; i++) {
        char *p = lra_run_checkpoint_path(run_dir, steps[i]);
        char *cfg = NULL;
        if (lra_checkpoint_read_config(p, &cfg) == LRA_OK) {
            found = p;
            free(cfg);
        } else {
            LRA_LOG_W("skipping unreadable checkpoint: %s", lra_error_message());
            if (!newest_err) newest_err = lra_xstrdup(lra_error_message());
            free(p);
        }
    }
    free(steps);
    if (!found && newest_err)
        lra_error(LRA_ERR_STATE, "%s: no loadable checkpoint (ckpt-*.lra) to resume from; the newest: %s", run_dir,
                  newest_err);
    else if (!found)
        lra_error(LRA_ERR_STATE, "%s: no loadable checkpoint (ckpt-*.lra) to resume from", run_dir);
    free(newest_err);
    return found;
}

void lra_run_prune_checkpoints(const char *dir, int keep) {
    int64_t *steps;
    int n = list_checkpoints(dir, &steps);
    for (int i = keep; i < n; i++) {
        char *p = lra_run_checkpoint_path(dir, steps[i]);
        lra_file_remove(p);
        free(p);
    }
    free(steps);
}

// Compares the run's config.yaml (old) with the config of this invocation: refuses differences that
// change the training, reports and keeps the others.
static lra_status check_config(const char *cfg_path, const char *old, const char *config_yaml) {
    lra_config_changes ch;
    lra_config_diff(old, config_yaml, &ch);
    lra_status s = LRA_OK;
    if (lra_config_changes_refused(&ch)) {
        char *what = lra_config_changes_describe(&ch, 0);
        s = lra_error(LRA_ERR_CONFIG,
                      "%s: the resolved config differs from the run's in %d key(s) that change the training "
                      "(run's value -> this one): %s; resume with the same config and --set flags, or start a "
                      "new --run-dir",
                      cfg_path, lra_config_changes_refused(&ch), what);
        free(what);
    } else if (ch.count) {
        char *what = lra_config_changes_describe(&ch, 1);
        LRA_LOG_I("%s: resuming with changed settings that do not change the training: %s", cfg_path, what);
        free(what);
        s = lra_atomic_write_file(cfg_path, config_yaml, strlen(config_yaml));
    }
    lra_config_changes_free(&ch);
    return s;
}

lra_status lra_run_dir_prepare(const char *run_dir, const char *config_yaml, lra_resume_mode mode, int *resuming) {
    *resuming = 0;
    LRA_TRY(lra_path_mkdirs(run_dir));
    // Temporary files of a run killed while writing (a checkpoint, metrics.jsonl, ...).
    int removed = 0;
    LRA_TRY(lra_atomic_cleanup_dir(run_dir, &removed));
    if (removed) LRA_LOG_I("%s: removed %d temporary file(s) left by a killed run", run_dir, removed);
    int64_t *steps;
    const int n_ckpt = list_checkpoints(run_dir, &steps);
    free(steps);
    char *cfg_path = lra_path_join(run_dir, "config.yaml");
    const int have_cfg = lra_file_exists(cfg_path);
    char *old = NULL;
    size_t n;
    lra_status s = LRA_OK;
    if (mode == LRA_RESUME_ALWAYS && !have_cfg) {
        s = lra_error(LRA_ERR_STATE,
                      "%s: no run to resume (no config.yaml); start it without --resume, or pass --resume auto to "
                      "start it or resume it with one command line",
                      run_dir);
    } else if (mode == LRA_RESUME_ALWAYS || (mode == LRA_RESUME_AUTO && n_ckpt > 0)) {
        s = lra_file_read_all(cfg_path, &old, &n);
        if (!s) s = check_config(cfg_path, old, config_yaml);
        *resuming = s == LRA_OK;
    } else if (n_ckpt > 0) {
        s = lra_error(LRA_ERR_STATE, "%s already holds checkpoints; pass --resume (or --resume auto) to continue it "
                                     "or choose another --run-dir", run_dir);
    } else {
        // A new run.  Under --resume auto a config.yaml without checkpoints is a start that died early:
        // begin again, unless its config is a different run's.
        if (have_cfg && mode == LRA_RESUME_AUTO) {
            s = lra_file_read_all(cfg_path, &old, &n);
            if (!s) s = check_config(cfg_path, old, config_yaml);
            if (!s) LRA_LOG_I("%s: no checkpoint yet; starting the run from the beginning", run_dir);
        }
        if (!s) s = lra_atomic_write_file(cfg_path, config_yaml, strlen(config_yaml));
    }
    free(old);
    free(cfg_path);
    return s;
}
