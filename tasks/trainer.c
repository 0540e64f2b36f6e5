// The training loop (see trainer.h).
#include "tasks/trainer.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/ops.h"
#include "core/progress.h"
#include "data/load.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/sgd.h"
#include "tasks/batch_tensors.h"
#include "tasks/checkpoint.h"
#include "tasks/dist.h"
#include "tasks/evaluate.h"

// ------------------------------------------------------------------------------------------ signals
static volatile sig_atomic_t g_signal = 0;
static void on_signal(int sig) { g_signal = sig; }

// ------------------------------------------------------------------------------------------ helpers
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

// A growing text buffer (the metrics so far, kept for checkpoints).
typedef struct {
    char *s;
    size_t len, cap;
} text_buf;

static void text_append(text_buf *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = lra_xrealloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

int64_t lra_run_checkpoint_step(const char *name) {
    long long step;
    char tail[8];
    if (sscanf(name, "ckpt-%lld.%7s", &step, tail) == 2 && !strcmp(tail, "lra")) return step;
    return -1;
}

// Checkpoint steps of a run directory, newest first.  *out: malloc'd.
static int list_checkpoints(const char *dir, int64_t **out) {
    DIR *d = opendir(dir);
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

static char *checkpoint_path(const char *dir, int64_t step) {
    char name[64];
    snprintf(name, sizeof name, "ckpt-%08lld.lra", (long long)step);
    return lra_path_join(dir, name);
}

char *lra_run_latest_checkpoint(const char *run_dir) {
    int64_t *steps;
    int n = list_checkpoints(run_dir, &steps);
    char *found = NULL;
    for (int i = 0; i < n && !found; i++) {
        char *p = checkpoint_path(run_dir, steps[i]);
        char *cfg = NULL;
        if (lra_checkpoint_read_config(p, &cfg) == LRA_OK) {
            found = p;
            free(cfg);
        } else {
            LRA_LOG_W("skipping unreadable checkpoint: %s", lra_error_message());
            free(p);
        }
    }
    free(steps);
    if (!found) lra_error(LRA_ERR_STATE, "%s: no loadable checkpoint (ckpt-*.lra) to resume from", run_dir);
    return found;
}

static void prune_checkpoints(const char *dir, int keep) {
    int64_t *steps;
    int n = list_checkpoints(dir, &steps);
    for (int i = keep; i < n; i++) {
        char *p = checkpoint_path(dir, steps[i]);
        lra_file_remove(p);
        free(p);
    }
    free(steps);
}

lra_status lra_run_load_split(const lra_run_settings *s, lra_split split, lra_dataset *out) {
    lra_load_options lo;
    lra_load_options_default(&lo);
    lo.cache_dir = s->cache_dir[0] ? s->cache_dir : NULL;
    lo.image_pixel_offset = s->pixel_offset;
    lo.max_len = s->max_length;
    lo.pathfinder_resolution = s->pf_resolution;
    lo.pathfinder_difficulty = s->pf_difficulty;
    int64_t limit = split == LRA_SPLIT_TRAIN ? s->max_train : s->max_eval;
    if (!strcmp(s->task->name, "pathfinder") || !strcmp(s->task->name, "pathx")) lo.max_examples = limit;
    LRA_TRY(lra_data_load(s->task->name, s->data_path, split, &lo, out));
    if (limit > 0 && out->count > limit) out->count = limit;  // offsets beyond stay valid and unused
    if (out->count == 0)
        return lra_error(LRA_ERR_FORMAT, "%s: the %s split of task %s is empty", s->data_path, lra_split_name(split),
                         s->task->name);
    const int need = s->model.enc.kernel ? s->model.enc.kernel->min_tokens : 0;
    if (need > 0)
        for (int64_t i = 0; i < out->count; i++)
            for (int q = 0; q < out->n_seq; q++)
                if (lra_dataset_len(out, i, q) < need)
                    return lra_error(LRA_ERR_FORMAT,
                                     "%s: example %lld of the %s split has %lld tokens; attention '%s' needs at least %d "
                                     "real tokens per sequence",
                                     s->data_path, (long long)i, lra_split_name(split),
                                     (long long)lra_dataset_len(out, i, q), s->model.enc.kernel->name, need);
    if (out->vocab_size > s->model.enc.vocab_size)
        return lra_error(LRA_ERR_CONFIG, "model.vocab_size %d is smaller than the data's vocabulary (%d ids)",
                         s->model.enc.vocab_size, out->vocab_size);
    return LRA_OK;
}

// --------------------------------------------------------------------------------------- the loop
typedef struct {
    const lra_run_settings *s;
    const lra_train_options *o;
    lra_model model;
    lra_dataset train, val, test;
    lra_ctx *ctx;
    lra_adamw adamw;
    lra_sgd sgd;
    lra_schedule sched;
    lra_train_state st;
    text_buf metrics;
    FILE *metrics_file;
    char *metrics_path;
    int is_root;
    int local_shards;     // gradient shards this rank computes per micro-batch (see train_step)
    float *shard_grads;   // [local_shards, params.total] when local_shards > 1
} trainer;

static void metrics_line(trainer *t, const char *line) {
    text_append(&t->metrics, line);
    text_append(&t->metrics, "\n");
    if (t->metrics_file) {
        fprintf(t->metrics_file, "%s\n", line);
        fflush(t->metrics_file);
    }
}

static lra_status save_checkpoint(trainer *t, const char *path) {
    if (!t->is_root) return LRA_OK;
    return lra_checkpoint_save(path, &t->model, &t->st, t->o->config_yaml, t->metrics.s ? t->metrics.s : "");
}

static lra_status save_step_checkpoint(trainer *t) {
    if (!t->is_root) return LRA_OK;
    char *p = checkpoint_path(t->o->run_dir, t->st.step);
    lra_status s = save_checkpoint(t, p);
    free(p);
    if (s == LRA_OK) prune_checkpoints(t->o->run_dir, t->s->keep_checkpoints);
    return s;
}

static lra_eval_options eval_options(const trainer *t) {
    lra_eval_options eo;
    memset(&eo, 0, sizeof eo);
    eo.batch_size = t->s->eval_batch_size;
    eo.length = t->s->model.enc.seq_len;
    eo.mask_mode = t->s->mask_nonzero ? LRA_MASK_NONZERO : LRA_MASK_LENGTH;
    eo.seed = t->s->seed;
    eo.eval_index = (uint64_t)t->st.evals;
    eo.num_shards = t->o->world;
    eo.shard_rank = t->o->rank;
    return eo;
}

// Evaluates and sums the counts over ranks.
static lra_status evaluate_split(trainer *t, const lra_dataset *ds, int64_t max_batches, lra_eval_result *r) {
    lra_eval_options eo = eval_options(t);
    eo.max_batches = max_batches;
    lra_status s = lra_dist_agree(lra_evaluate(&t->model, t->ctx, ds, &eo, r));
    if (s) return s;
    double buf[3] = {r->loss_sum, (double)r->correct, (double)r->examples};
    lra_dist_allreduce_sum_f64(buf, 3);
    r->loss_sum = buf[0];
    r->correct = (int64_t)buf[1];
    r->examples = (int64_t)buf[2];
    return LRA_OK;
}

// Returns 1 when `v` improves on `best` for the metric (strictly; loss lower, accuracy higher).
static int improves(lra_metric_kind k, double v, double best, int first) {
    if (first) return 1;
    return k == LRA_METRIC_LOSS ? v < best : v > best;
}

static lra_status do_eval(trainer *t, lra_progress *prog, int *stop) {
    lra_eval_result r;
    LRA_TRY(evaluate_split(t, &t->val, t->s->eval_batches, &r));
    t->st.evals++;
    const double loss = lra_eval_loss(&r), acc = lra_eval_accuracy(&r);
    char line[512];
    snprintf(line, sizeof line,
             "{\"step\": %lld, \"split\": \"val\", \"loss\": %.6f, \"accuracy\": %.6f, \"examples\": %lld, "
             "\"peak_rss_mb\": %.1f}",
             (long long)t->st.step, loss, acc, (long long)r.examples, peak_rss_mb());
    metrics_line(t, line);
    if (prog) lra_progress_note(prog, "step %lld: dev loss %.4f, dev accuracy %.2f%% (%lld examples)",
                                (long long)t->st.step, loss, 100 * acc, (long long)r.examples);
    // early stopping
    const double es = t->s->early_stop_metric == LRA_METRIC_LOSS ? loss : acc;
    if (improves(t->s->early_stop_metric, es, t->st.stop_best, t->st.evals == 1)) {
        t->st.stop_best = es;
        t->st.bad_evals = 0;
    } else {
        t->st.bad_evals++;
        if (t->s->patience > 0 && t->st.bad_evals >= t->s->patience) *stop = 1;
    }
    // best checkpoint
    const double bv = t->s->best_metric == LRA_METRIC_LOSS ? loss : acc;
    if (improves(t->s->best_metric, bv, t->st.best_value, t->st.best_step < 0)) {
        t->st.best_value = bv;
        t->st.best_step = t->st.step;
        char *p = lra_path_join(t->o->run_dir, "best.lra");
        lra_status s = save_checkpoint(t, p);
        free(p);
        LRA_TRY(s);
    }
    return LRA_OK;
}

// Batch-statistics buffers (BatchNorm running mean/var, e.g. S3's smoother: non-trainable entries that
// the forward pass updates in place) saw only this rank's shard; averaging them over the ranks keeps
// every rank's copy the same (for the means, equal to one process's up to rounding).  Other
// non-trainable entries (fixed projections) never change and are left alone.
static void sync_running_stats(trainer *t) {
    if (t->o->world <= 1) return;
    lra_params *p = &t->model.params;
    for (int i = 0; i < p->count; i++) {
        const lra_param_entry *e = &p->entries[i];
        if (e->trainable || !strstr(e->name, "running_")) continue;
        float *x = p->data + e->offset;
        lra_dist_allreduce_sum_f32(x, (size_t)e->numel);
        for (int64_t j = 0; j < e->numel; j++) x[j] /= (float)t->o->world;
    }
}

// One optimizer step.  Gradient shards make the arithmetic independent of the rank count: the rows of
// each micro-batch are cut into S shards (train.grad_shards; default one per rank), rank r computes
// shards r*S/W .. (r+1)*S/W - 1, each shard's gradient accumulates over the micro-batches in a buffer of
// its own, and lra_dist_sum_shards_f32 adds the S buffers in shard order in double.  So 1 process with
// S = 2 and 2 ranks with S = 2 compute the same bits; with one shard per process no buffer is needed.
static lra_status train_step(trainer *t, lra_batcher *b, double *loss_sum, int64_t *correct, int64_t *examples,
                             double *grad_norm, double *lr_used) {
    const lra_run_settings *s = t->s;
    lra_params *p = &t->model.params;
    const int L = t->local_shards;
    if (L > 1)
        memset(t->shard_grads, 0, (size_t)L * p->total * sizeof(float));
    else
        lra_params_zero_grad(p);
    const int mb_global = s->batch_size / s->accumulation, rows = mb_global / t->o->world, shard_rows = rows / L;
    lra_status local = LRA_OK;
    for (int micro = 0; micro < s->accumulation; micro++) {
        const lra_batch *batch = NULL;
        // No early return: a rank that failed alone would skip the all-reduce below and hang the others.
        if ((local = lra_batcher_next(b, &batch)) != LRA_OK) break;
        for (int j = 0; j < L; j++) {
            lra_batch part = *batch;  // rows [j * shard_rows, (j + 1) * shard_rows) of this rank's rows
            const int r0 = j * shard_rows;
            part.count = batch->count - r0 < shard_rows ? batch->count - r0 : shard_rows;
            if (part.count <= 0) continue;
            part.tokens += (size_t)r0 * batch->n_seq * batch->length;
            part.mask += (size_t)r0 * batch->n_seq * batch->length;
            part.labels += r0;
            lra_ctx_reset(t->ctx);
            t->ctx->training = 1;
            t->ctx->seed = s->seed;
            t->ctx->step = (uint64_t)t->st.step;
            // Row r of the global batch keys its own draws, whatever the split into micro-batches, ranks
            // or shards.
            t->ctx->example_offset = (int64_t)micro * mb_global + (int64_t)t->o->rank * rows + r0;
            float *keep = L > 1 ? lra_params_swap_grad(p, t->shard_grads + (size_t)j * p->total) : NULL;
            lra_batch_tensors bt;
            lra_batch_tensors_make(t->ctx, &part, &bt);
            lra_tensor *logits = lra_batch_logits(&t->model, t->ctx, &bt);
            lra_tensor *loss = lra_model_loss(t->ctx, logits, bt.labels, (double)s->batch_size);
            lra_backward(t->ctx, loss);
            if (keep) lra_params_swap_grad(p, keep);
            *loss_sum += (double)lra_f32(loss)[0] * s->batch_size;
            *correct += lra_model_correct(logits, bt.labels);
            *examples += bt.count;
        }
    }
    lra_ctx_reset(t->ctx);
    LRA_TRY(lra_dist_agree(local));
    // Fixed-order sum over all shards of all ranks (tasks/dist_mpi.c): every rank applies the same update.
    if (L > 1)
        lra_dist_sum_shards_f32(t->shard_grads, L, p->total, p->grad);
    else if (t->o->world > 1)
        lra_dist_sum_shards_f32(p->grad, 1, p->total, p->grad);
    *grad_norm = lra_clip_grad_norm(p, s->clip);
    double lr, beta1;
    lra_schedule_at(&t->sched, t->st.step, &lr, &beta1);
    if (s->schedule != LRA_SCHED_ONECYCLE) beta1 = s->beta1;
    if (s->optimizer == LRA_OPTIM_ADAMW) {
        lra_adamw_step(&t->adamw, p, lr, beta1);
        t->st.optim_step = t->adamw.step;
    } else {
        lra_sgd_step(&t->sgd, p, lr);
        t->st.optim_step = t->sgd.step;
    }
    sync_running_stats(t);
    *lr_used = lr;
    t->st.step++;
    return LRA_OK;
}

static lra_status write_eval_json(trainer *t, const lra_eval_result *best, const lra_eval_result *last,
                                  int stopped_early) {
    if (!t->is_root) return LRA_OK;
    char buf[2048];
    const lra_run_settings *s = t->s;
    snprintf(buf, sizeof buf,
             "{\n  \"task\": \"%s\",\n  \"attention\": \"%s\",\n  \"seed\": %llu,\n  \"steps\": %lld,\n"
             "  \"stopped_early\": %s,\n  \"best_step\": %lld,\n  \"best_dev_%s\": %.6f,\n"
             "  \"test_accuracy\": %.6f,\n  \"test_loss\": %.6f,\n  \"test_examples\": %lld,\n"
             "  \"last_test_accuracy\": %.6f,\n  \"last_test_loss\": %.6f,\n  \"weights\": \"%s\"\n}\n",
             s->task->name, s->attention, (unsigned long long)s->seed, (long long)t->st.step,
             stopped_early ? "true" : "false", (long long)t->st.best_step,
             s->best_metric == LRA_METRIC_LOSS ? "loss" : "accuracy", t->st.best_value, lra_eval_accuracy(best),
             lra_eval_loss(best), (long long)best->examples, lra_eval_accuracy(last), lra_eval_loss(last),
             t->st.best_step >= 0 ? "best.lra" : "last");
    char *p = lra_path_join(t->o->run_dir, "eval.json");
    lra_status st = lra_atomic_write_file(p, buf, strlen(buf));
    free(p);
    return st;
}

// After rank 0 alone read a checkpoint: its parameters, optimizer moments and (when st is given) training
// state go to every rank, so only rank 0 needs to see the run directory.
static void share_state(trainer *t, lra_train_state *st) {
    if (t->o->world <= 1) return;
    lra_params *p = &t->model.params;
    lra_dist_bcast_f32(p->data, p->total, 0);
    lra_dist_bcast_f32(p->m, p->total, 0);
    lra_dist_bcast_f32(p->v, p->total, 0);
    if (st) lra_dist_bcast_bytes(st, sizeof *st, 0);
}

static lra_status final_evaluation(trainer *t, int stopped_early, lra_train_summary *out) {
    lra_eval_result last, best;
    LRA_TRY(evaluate_split(t, &t->test, 0, &last));
    best = last;
    char *bp = lra_path_join(t->o->run_dir, "best.lra");
    int have_best = t->st.best_step >= 0 && t->is_root && lra_file_exists(bp);
    lra_dist_bcast_bytes(&have_best, sizeof have_best, 0);  // rank 0 alone reads best.lra, then shares it
    if (have_best) {
        lra_train_state keep = t->st, tmp;
        lra_status s = lra_dist_agree(t->is_root ? lra_checkpoint_load(bp, &t->model, &tmp, NULL) : LRA_OK);
        if (s) {
            free(bp);
            return s;
        }
        share_state(t, NULL);
        t->st = keep;
        LRA_TRY(evaluate_split(t, &t->test, 0, &best));
    }
    free(bp);
    out->test_accuracy = lra_eval_accuracy(&best);
    out->test_loss = lra_eval_loss(&best);
    out->test_examples = best.examples;
    char line[512];
    snprintf(line, sizeof line,
             "{\"step\": %lld, \"split\": \"test\", \"loss\": %.6f, \"accuracy\": %.6f, \"examples\": %lld, "
             "\"weights\": \"best\", \"last_accuracy\": %.6f}",
             (long long)t->st.step, out->test_loss, out->test_accuracy, (long long)best.examples,
             lra_eval_accuracy(&last));
    metrics_line(t, line);
    return write_eval_json(t, &best, &last, stopped_early);
}

// The resolved config without its leading comment lines (they name where the values came from, which
// may legitimately differ between the original run and its resumption).
static const char *skip_header(const char *y) {
    while (*y == '#') {
        const char *nl = strchr(y, '\n');
        if (!nl) return y + strlen(y);
        y = nl + 1;
    }
    return y;
}

static lra_status prepare_run_dir(trainer *t) {
    const lra_train_options *o = t->o;
    LRA_TRY(lra_path_mkdirs(o->run_dir));
    char *cfg_path = lra_path_join(o->run_dir, "config.yaml");
    lra_status s = LRA_OK;
    if (o->resume) {
        char *old = NULL;
        size_t n;
        s = lra_file_read_all(cfg_path, &old, &n);
        if (s == LRA_OK && strcmp(skip_header(old), skip_header(o->config_yaml))) {
            // Find the first differing line for the message.
            const char *a = skip_header(old), *b = skip_header(o->config_yaml);
            int line = 1;
            for (const char *h = old; h < a; h++) line += *h == '\n';
            while (*a && *a == *b) {
                if (*a == '\n') line++;
                a++;
                b++;
            }
            s = lra_error(LRA_ERR_CONFIG,
                          "%s: the resolved config differs from the run's (first at line %d); resume with the same "
                          "config and --set flags, or start a new --run-dir",
                          cfg_path, line);
        }
        free(old);
    } else {
        int64_t *steps;
        int n = list_checkpoints(o->run_dir, &steps);
        free(steps);
        if (n > 0)
            s = lra_error(LRA_ERR_STATE, "%s already holds checkpoints; pass --resume to continue it or choose another "
                                         "--run-dir", o->run_dir);
        else if (t->is_root)
            s = lra_atomic_write_file(cfg_path, o->config_yaml, strlen(o->config_yaml));
    }
    free(cfg_path);
    return s;
}

lra_status lra_train(const lra_run_settings *s, const lra_train_options *o, lra_train_summary *out) {
    memset(out, 0, sizeof *out);
    trainer T;
    memset(&T, 0, sizeof T);
    trainer *t = &T;
    t->s = s;
    t->o = o;
    t->is_root = o->rank == 0;
    // Data parallelism: each micro-batch splits evenly over the ranks (none computes padding rows), and an
    // evaluation batch has a row for every rank.  Same decision on every rank, so no agreement needed.
    if (o->world > 1 && (s->batch_size / s->accumulation) % o->world)
        return lra_error(LRA_ERR_CONFIG,
                         "train.batch_size %d / train.accumulation %d = %d examples per micro-batch do not split "
                         "evenly over %d ranks: run a rank count that divides %d, or choose train.batch_size and "
                         "train.accumulation so that batch_size / accumulation is a multiple of %d",
                         s->batch_size, s->accumulation, s->batch_size / s->accumulation, o->world,
                         s->batch_size / s->accumulation, o->world);
    const int shards = s->grad_shards > 0 ? s->grad_shards : o->world;
    if (shards % o->world)
        return lra_error(LRA_ERR_CONFIG,
                         "train.grad_shards %d is not a multiple of the %d ranks: each rank computes the same number "
                         "of gradient shards (choose train.grad_shards = %d, %d, ...)",
                         s->grad_shards, o->world, o->world, 2 * o->world);
    t->local_shards = shards / o->world;
    if (o->world > 1 && s->eval_batch_size < o->world)
        return lra_error(LRA_ERR_CONFIG, "train.eval_batch_size %d is smaller than the %d ranks (each needs a row)",
                         s->eval_batch_size, o->world);
    // Only rank 0 touches the run directory (the other machines need not see it).
    lra_status st = lra_dist_agree(t->is_root ? prepare_run_dir(t) : LRA_OK);
    if (st) return st;

    st = lra_run_load_split(s, LRA_SPLIT_TRAIN, &t->train);
    if (!st) st = lra_run_load_split(s, LRA_SPLIT_VAL, &t->val);
    if (!st) st = lra_run_load_split(s, LRA_SPLIT_TEST, &t->test);
    st = lra_dist_agree(st);
    if (st) goto done_data;

    lra_model_build(&t->model, &s->model, s->seed);
    if (t->local_shards > 1)
        t->shard_grads = lra_xcalloc((size_t)t->local_shards * t->model.params.total, sizeof(float));
    if (o->world > 1) lra_dist_bcast_f32(t->model.params.data, t->model.params.total, 0);
    lra_adamw_init(&t->adamw);
    t->adamw.beta1 = s->beta1;
    t->adamw.beta2 = s->beta2;
    t->adamw.eps = s->eps;
    t->adamw.weight_decay = s->weight_decay;
    lra_sgd_init(&t->sgd);
    t->sgd.momentum = s->momentum;
    t->sgd.weight_decay = s->weight_decay;
    lra_schedule_init(&t->sched, s->schedule, s->lr, s->warmup, s->schedule_steps);
    t->sched.base_beta1 = s->beta1;
    lra_train_state_init(&t->st, s->seed);
    t->metrics_path = lra_path_join(o->run_dir, "metrics.jsonl");

    if (o->resume) {
        // Rank 0 reads the checkpoint (any rank count wrote it: the state and data cursor are global).
        char *ck = t->is_root ? lra_run_latest_checkpoint(o->run_dir) : NULL;
        st = ck || !t->is_root ? LRA_OK : LRA_ERR_STATE;
        char *mtext = NULL;
        if (ck) st = lra_checkpoint_load(ck, &t->model, &t->st, &mtext);
        st = lra_dist_agree(st);
        if (st) {
            free(ck);
            free(mtext);
            goto done_model;
        }
        share_state(t, &t->st);
        t->adamw.step = t->sgd.step = t->st.optim_step;
        if (t->is_root) {
            text_append(&t->metrics, mtext ? mtext : "");
            st = lra_atomic_write_file(t->metrics_path, t->metrics.s ? t->metrics.s : "", t->metrics.len);
            LRA_LOG_I("resuming %s from step %lld", ck, (long long)t->st.step);
        } else if (mtext) {
            text_append(&t->metrics, mtext);
        }
        free(ck);
        free(mtext);
        if ((st = lra_dist_agree(st))) goto done_model;
    } else if (t->is_root) {
        st = lra_atomic_write_file(t->metrics_path, "", 0);
        if (st) goto done_model;
    }
    if (t->is_root) {
        st = lra_file_open(&t->metrics_file, t->metrics_path, "ab");
        if (st) goto done_model;
    }

    lra_batcher_options bo;
    lra_batcher_options_default(&bo);
    bo.batch_size = s->batch_size / s->accumulation;
    bo.max_length = s->model.enc.seq_len;
    bo.round_pow2 = 0;
    bo.shuffle = 1;
    bo.seed = s->seed;
    bo.drop_last = 1;
    bo.prefetch = s->prefetch;
    bo.mask_mode = s->mask_nonzero ? LRA_MASK_NONZERO : LRA_MASK_LENGTH;
    if (o->world > 1) {
        bo.num_shards = o->world;
        bo.shard_rank = o->rank;
    }
    lra_batcher *b = NULL;
    st = lra_dist_agree(lra_batcher_create(&b, &t->train, &bo));
    if (st) goto done_model;
    if (t->st.step > 0 || t->st.cursor.epoch || t->st.cursor.position) st = lra_batcher_seek(b, t->st.cursor);
    if ((st = lra_dist_agree(st))) goto done_batcher;

    t->ctx = lra_ctx_new(0);
    g_signal = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    lra_progress *prog = NULL;
    if (o->progress && t->is_root && !t->st.finished) {
        lra_progress_opts po;
        memset(&po, 0, sizeof po);
        po.start = t->st.step;
        prog = lra_progress_begin_opts(s->steps, "train", &po);
    }
    int stop = 0, sig_seen = 0;
    double iv_loss = 0, t_iv = now_s();
    int64_t iv_correct = 0, iv_examples = 0, iv_steps = 0;
    const int64_t tokens_per_step = (int64_t)s->batch_size * s->model.enc.seq_len * (s->task->dual ? 2 : 1);
    while (!t->st.finished && t->st.step < s->steps) {
        double gnorm = 0, lr = 0;
        st = lra_dist_agree(train_step(t, b, &iv_loss, &iv_correct, &iv_examples, &gnorm, &lr));
        if (st) break;
        iv_steps++;
        const int64_t step = t->st.step;
        if (step % s->log_every == 0 || step == s->steps) {
            double red[3] = {iv_loss, (double)iv_correct, (double)iv_examples};
            if (o->world > 1) lra_dist_allreduce_sum_f64(red, 3);
            const double dt = now_s() - t_iv;
            const double loss = red[0] / fmax(1.0, (double)iv_steps * s->batch_size);
            const double acc = red[1] / fmax(1.0, red[2]);
            char line[512];
            snprintf(line, sizeof line,
                     "{\"step\": %lld, \"split\": \"train\", \"loss\": %.6f, \"accuracy\": %.6f, \"lr\": %.6e, "
                     "\"grad_norm\": %.6f, \"tokens_per_s\": %.1f, \"ms_per_step\": %.2f, \"peak_rss_mb\": %.1f}",
                     (long long)step, loss, acc, lr, gnorm, tokens_per_step * iv_steps / fmax(dt, 1e-9),
                     1000 * dt / (double)iv_steps, peak_rss_mb());
            metrics_line(t, line);
            if (prog) lra_progress_update(prog, step, loss, acc, lr);
            iv_loss = 0;
            iv_correct = iv_examples = iv_steps = 0;
            t_iv = now_s();
        }
        int eval_now = step % s->eval_every == 0 || step == s->steps;
        if (eval_now) {
            st = do_eval(t, prog, &stop);
            if ((st = lra_dist_agree(st))) break;
        }
        t->st.cursor = lra_batcher_cursor(b);
        const int stop_at = o->stop_at > 0 && step >= o->stop_at && step < s->steps;
        // A signal caught by any rank stops every rank after this same step (mpirun forwards SIGINT and
        // SIGTERM to all ranks, which may notice them at different steps).
        int sig = g_signal;
        if (o->world > 1) {
            double f[2] = {sig == SIGINT, sig == SIGTERM};
            lra_dist_allreduce_sum_f64(f, 2);
            sig = f[1] > 0 ? SIGTERM : f[0] > 0 ? SIGINT : 0;
        }
        if (sig) sig_seen = sig;
        if (stop || step == s->steps) t->st.finished = 1;
        if (eval_now || step % s->checkpoint_every == 0 || stop_at || sig || t->st.finished) {
            st = lra_dist_agree(save_step_checkpoint(t));
            if (st) break;
        }
        if (stop_at || sig) {
            out->interrupted = 1;
            out->signal = sig;
            if (prog) lra_progress_note(prog, "%s at step %lld; checkpoint written to %s",
                                        sig ? (sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)")
                                            : "stopped (--stop-at)",
                                        (long long)step, o->run_dir);
            break;
        }
    }
    if (prog) lra_progress_end(prog);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    out->steps_done = t->st.step;
    out->stopped_early = stop;
    if (!st && t->st.finished && !out->interrupted) st = lra_dist_agree(final_evaluation(t, stop, out));
    if (!st && out->interrupted && sig_seen) st = lra_error(LRA_ERR_INTERRUPTED, "interrupted by signal %d at step %lld",
                                                            sig_seen, (long long)t->st.step);
    lra_ctx_free(t->ctx);
done_batcher:
    lra_batcher_free(b);
done_model:
    if (t->metrics_file) fclose(t->metrics_file);
    free(t->metrics.s);
    free(t->metrics_path);
    lra_model_free(&t->model);
    free(t->shard_grads);
done_data:
    lra_dataset_free(&t->train);
    lra_dataset_free(&t->val);
    lra_dataset_free(&t->test);
    return st;
}
