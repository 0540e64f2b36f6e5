// Evaluation during and after training: dev evaluations with early stopping and best-checkpoint
// selection, and the final test evaluation of the best checkpoint (see trainer_run.h).
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/profile.h"
#include "tasks/dist.h"
#include "tasks/eval_report.h"
#include "tasks/evaluate.h"
#include "tasks/trainer_run.h"

double lra_trainer_peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

lra_status lra_trainer_save(lra_trainer *t, const char *path) {
    if (!t->is_root) return LRA_OK;
    return lra_checkpoint_save(path, &t->model, &t->st, t->o->config_yaml, lra_metrics_text(&t->metrics));
}

// The evaluation's cancel hook: a stop signal ends a dev or test evaluation at its next batch.
static int eval_cancel(void *user) { return lra_trainer_stop_signal(user) != 0; }

// Evaluates a split (sharded over the ranks) and sums the counts over the ranks; with `confusion` (C x C,
// zeroed here) also the confusion matrix.
static lra_status evaluate_split(lra_trainer *t, const lra_dataset *ds, int64_t max_batches, lra_eval_result *r,
                                 int64_t *confusion) {
    const int C = t->s->model.num_classes;
    lra_eval_options eo;
    memset(&eo, 0, sizeof eo);
    eo.batch_size = t->s->eval_batch_size;
    eo.length = t->s->model.enc.seq_len;
    eo.mask_mode = t->s->mask_nonzero ? LRA_MASK_NONZERO : LRA_MASK_LENGTH;
    eo.seed = t->s->seed;
    eo.eval_index = (uint64_t)t->st.evals;
    eo.num_shards = t->o->world;
    eo.shard_rank = t->o->rank;
    eo.max_batches = max_batches;
    eo.confusion = confusion;
    eo.num_classes = C;
    if (confusion) memset(confusion, 0, sizeof *confusion * (size_t)C * (size_t)C);
    eo.cancel = eval_cancel;
    eo.cancel_user = t;
    lra_profile_phase(LRA_PHASE_EVAL);
    lra_status s = lra_dist_agree(lra_evaluate(&t->model, t->ctx, ds, &eo, r));
    lra_profile_phase(LRA_PHASE_OTHER);
    LRA_TRY(s);
    double buf[3] = {r->loss_sum, (double)r->correct, (double)r->examples};
    lra_dist_allreduce_sum_f64(buf, 3);
    r->loss_sum = buf[0];
    r->correct = (int64_t)buf[1];
    r->examples = (int64_t)buf[2];
    if (confusion && t->o->world > 1) {  // counts are exact in double (far below 2^53)
        double *c = lra_xmalloc(sizeof *c * (size_t)C * (size_t)C);
        for (int i = 0; i < C * C; i++) c[i] = (double)confusion[i];
        lra_dist_allreduce_sum_f64(c, (size_t)C * (size_t)C);
        for (int i = 0; i < C * C; i++) confusion[i] = (int64_t)c[i];
        free(c);
    }
    return LRA_OK;
}

// Returns 1 when `v` improves on `best` for the metric (strictly; loss lower, accuracy higher).
static int improves(lra_metric_kind k, double v, double best, int first) {
    if (first) return 1;
    return k == LRA_METRIC_LOSS ? v < best : v > best;
}

lra_status lra_trainer_dev_eval(lra_trainer *t, lra_progress *prog, int *stop) {
    lra_eval_result r;
    LRA_TRY(evaluate_split(t, &t->val, t->s->eval_batches, &r, NULL));
    t->st.evals++;
    const double loss = lra_eval_loss(&r), acc = lra_eval_accuracy(&r);
    lra_json j;
    lra_json_begin(&j);
    lra_json_int(&j, "step", (long long)t->st.step);
    lra_json_str(&j, "split", "val");
    lra_json_num(&j, "loss", "%.6f", loss);
    lra_json_num(&j, "accuracy", "%.6f", acc);
    lra_json_int(&j, "examples", (long long)r.examples);
    lra_json_num(&j, "peak_rss_mb", "%.1f", lra_trainer_peak_rss_mb());
    lra_metrics_add(&t->metrics, lra_json_end(&j));
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
        lra_status s = lra_trainer_save(t, p);
        free(p);
        LRA_TRY(s);
    }
    return LRA_OK;
}

static lra_status write_eval_json(lra_trainer *t, const lra_eval_result *best, const lra_eval_result *last,
                                  const int64_t *best_confusion, int stopped_early) {
    const lra_run_settings *s = t->s;
    char key[32];
    snprintf(key, sizeof key, "best_dev_%s", s->best_metric == LRA_METRIC_LOSS ? "loss" : "accuracy");
    lra_json j;
    lra_json_begin(&j);
    lra_json_str(&j, "task", s->task->name);
    lra_json_str(&j, "attention", s->attention);
    lra_json_uint(&j, "seed", (unsigned long long)s->seed);
    lra_json_int(&j, "steps", (long long)t->st.step);
    lra_json_bool(&j, "stopped_early", stopped_early);
    lra_json_int(&j, "best_step", (long long)t->st.best_step);
    lra_json_num(&j, key, "%.6f", t->st.best_value);
    lra_json_num(&j, "test_accuracy", "%.6f", lra_eval_accuracy(best));
    lra_json_num(&j, "test_loss", "%.6f", lra_eval_loss(best));
    lra_json_int(&j, "test_examples", (long long)best->examples);
    lra_json_num(&j, "last_test_accuracy", "%.6f", lra_eval_accuracy(last));
    lra_json_num(&j, "last_test_loss", "%.6f", lra_eval_loss(last));
    lra_json_str(&j, "weights", t->st.best_step >= 0 ? "best.lra" : "last");
    lra_json_int(&j, "classes", t->s->model.num_classes);
    char *classes = lra_eval_classes_json(best_confusion, t->s->model.num_classes);  // of the best weights
    char *text = lra_json_end_with(&j, classes);
    free(classes);
    char *p = lra_path_join(t->o->run_dir, "eval.json");
    char *body = lra_xmalloc(strlen(text) + 2);
    sprintf(body, "%s\n", text);
    lra_status st = lra_atomic_write_file(p, body, strlen(body));
    free(body);
    free(text);
    free(p);
    return st;
}

void lra_trainer_share_weights(lra_trainer *t) {
    if (t->o->world <= 1) return;
    lra_params *p = &t->model.params;
    lra_dist_bcast_f32(p->data, p->total, 0);
    lra_dist_bcast_f32(p->m, p->total, 0);
    lra_dist_bcast_f32(p->v, p->total, 0);
}

lra_status lra_trainer_final_eval(lra_trainer *t, int stopped_early, lra_train_summary *out) {
    lra_eval_result last, best;
    const size_t cc = (size_t)t->s->model.num_classes * (size_t)t->s->model.num_classes;
    int64_t *confusion = lra_xcalloc(cc, sizeof *confusion);  // last weights, then the best's
    lra_status es = evaluate_split(t, &t->test, 0, &last, confusion);
    if (es) {
        free(confusion);
        return es;
    }
    best = last;
    char *bp = lra_path_join(t->o->run_dir, "best.lra");
    int have_best = t->st.best_step >= 0 && t->is_root && lra_file_exists(bp);
    lra_dist_bcast_bytes(&have_best, sizeof have_best, 0);  // rank 0 alone reads best.lra, then shares it
    if (have_best) {
        lra_train_state keep = t->st, tmp;
        lra_status s = lra_dist_agree(t->is_root ? lra_checkpoint_load(bp, &t->model, &tmp, NULL) : LRA_OK);
        if (!s) {
            lra_trainer_share_weights(t);
            t->st = keep;
            s = evaluate_split(t, &t->test, 0, &best, confusion);
        }
        if (s) {
            free(bp);
            free(confusion);
            return s;
        }
    }
    free(bp);
    out->test_accuracy = lra_eval_accuracy(&best);
    out->test_loss = lra_eval_loss(&best);
    out->test_examples = best.examples;
    lra_json j;
    lra_json_begin(&j);
    lra_json_int(&j, "step", (long long)t->st.step);
    lra_json_str(&j, "split", "test");
    lra_json_num(&j, "loss", "%.6f", out->test_loss);
    lra_json_num(&j, "accuracy", "%.6f", out->test_accuracy);
    lra_json_int(&j, "examples", (long long)best.examples);
    lra_json_str(&j, "weights", "best");
    lra_json_num(&j, "last_accuracy", "%.6f", lra_eval_accuracy(&last));
    lra_metrics_add(&t->metrics, lra_json_end(&j));
    lra_status st = write_eval_json(t, &best, &last, confusion, stopped_early);
    free(confusion);
    return st;
}
