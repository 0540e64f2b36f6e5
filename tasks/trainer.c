// The training loop (see trainer.h): setup, the step loop, stopping.  The step itself is tasks/step.c,
// evaluation tasks/trainer_eval.c, the run directory tasks/run_dir.c, metrics tasks/metrics.c and the
// stop signals tasks/signals.c.
#include "tasks/trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/log.h"
#include "core/profile.h"
#include "data/load.h"
#include "tasks/dist.h"
#include "tasks/model_summary.h"
#include "tasks/run_dir.h"
#include "tasks/run_jobs.h"
#include "tasks/signals.h"
#include "tasks/trainer_run.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static lra_status save_step_checkpoint(lra_trainer *t) {
    t->saved_step = t->st.step;
    if (!t->is_root) return LRA_OK;
    char *p = lra_run_checkpoint_path(t->o->run_dir, t->st.step);
    lra_status s = lra_trainer_save(t, p);
    free(p);
    if (s == LRA_OK) lra_run_prune_checkpoints(t->o->run_dir, t->s->keep_checkpoints);
    return s;
}

// Batch-statistics buffers (BatchNorm running mean/var, e.g. S3's smoother: non-trainable entries that
// the forward pass updates in place) saw only this rank's shard; averaging them over the ranks keeps
// every rank's copy the same (for the means, equal to one process's up to rounding).  Other
// non-trainable entries (fixed projections) never change and are left alone.
static void sync_running_stats(lra_trainer *t) {
    if (t->o->world <= 1) return;
    lra_params *p = &t->model.params;
    for (int i = 0; i < p->count; i++) {
        const lra_param_entry *e = &p->entries[i];
        if (!e->batch_stat) continue;
        float *x = p->data + e->offset;
        lra_dist_allreduce_sum_f32(x, (size_t)e->numel);
        for (int64_t j = 0; j < e->numel; j++) x[j] /= (float)t->o->world;
    }
}

// After rank 0 alone read a checkpoint: its weights and training state go to every rank, so only rank 0
// needs to see the run directory.
static void share_state(lra_trainer *t) {
    if (t->o->world <= 1) return;
    lra_trainer_share_weights(t);
    lra_dist_bcast_bytes(&t->st, sizeof t->st, 0);
}

// The batcher as the step's batch source.
static lra_status next_batch(void *user, const lra_batch **out) { return lra_batcher_next(user, out); }

// Checks that the batch splits over the ranks; same decision on every rank, so no agreement needed.
static lra_status check_split(const lra_run_settings *s, const lra_train_options *o) {
    // Each micro-batch splits evenly over the ranks (none computes padding rows), and an evaluation batch
    // has a row for every rank.
    if (o->world > 1 && (s->batch_size / s->accumulation) % o->world)
        return lra_error(LRA_ERR_CONFIG,
                         "train.batch_size %d / train.accumulation %d = %d examples per micro-batch do not split "
                         "evenly over %d ranks: run a rank count that divides %d, or choose train.batch_size and "
                         "train.accumulation so that batch_size / accumulation is a multiple of %d",
                         s->batch_size, s->accumulation, s->batch_size / s->accumulation, o->world,
                         s->batch_size / s->accumulation, o->world);
    if (o->world > 1 && s->eval_batch_size < o->world)
        return lra_error(LRA_ERR_CONFIG, "train.eval_batch_size %d is smaller than the %d ranks (each needs a row)",
                         s->eval_batch_size, o->world);
    return LRA_OK;
}

// Model, optimizer, schedule and the step of a run (no data, no run directory).
static lra_status build_model(lra_trainer *t) {
    const lra_run_settings *s = t->s;
    lra_model_build(&t->model, &s->model, s->seed);
    if (t->o->world > 1) lra_dist_bcast_f32(t->model.params.data, t->model.params.total, 0);
    lra_optimizer_config oc = {.kind = s->optimizer, .beta1 = s->beta1, .beta2 = s->beta2, .eps = s->eps,
                               .momentum = s->momentum, .weight_decay = s->weight_decay};
    lra_optimizer_init(&t->opt, &oc);
    lra_schedule_init(&t->sched, s->schedule, s->lr, s->warmup, s->schedule_steps);
    t->sched.base_beta1 = s->beta1;
    lra_train_state_init(&t->st, s->seed);
    t->ctx = lra_ctx_new(0);
    t->stepper = (lra_stepper){.model = &t->model, .opt = &t->opt, .sched = &t->sched, .ctx = t->ctx,
                               .seed = s->seed, .batch_size = s->batch_size, .accumulation = s->accumulation,
                               .grad_shards = s->grad_shards, .clip = s->clip, .rank = t->o->rank,
                               .world = t->o->world};
    return lra_stepper_init(&t->stepper);
}

// A finished run resumed with a larger train.steps (and the same schedule, tasks/config_diff.c) trains
// on, unless it had stopped early.
static void extend_finished_run(lra_trainer *t) {
    const lra_run_settings *s = t->s;
    const int early = s->patience > 0 && t->st.bad_evals >= s->patience;
    if (!t->st.finished || early || t->st.step >= s->steps) return;
    t->st.finished = 0;
    if (t->is_root) LRA_LOG_I("extending the finished run from %lld to %lld steps", (long long)t->st.step,
                              (long long)s->steps);
}

// Resumes from the newest checkpoint (rank 0 reads it; any rank count wrote it: the state and data
// cursor are global) and starts the metrics log with its text; or starts a fresh log.
static lra_status start_or_resume(lra_trainer *t) {
    const lra_train_options *o = t->o;
    if (!t->resuming) return lra_metrics_open(&t->metrics, o->run_dir, NULL, t->is_root);
    char *ck = t->is_root ? lra_run_latest_checkpoint(o->run_dir) : NULL;
    lra_status st = ck || !t->is_root ? LRA_OK : LRA_ERR_STATE;
    char *mtext = NULL;
    if (ck) st = lra_checkpoint_load(ck, &t->model, &t->st, &mtext);
    st = lra_dist_agree(st);
    if (!st) {
        share_state(t);
        lra_optimizer_set_steps(&t->opt, t->st.optim_step);
        // Rank 0's metrics text is the one that matters (only it writes files and checkpoints).
        st = lra_metrics_open(&t->metrics, o->run_dir, mtext, t->is_root);
        if (t->is_root && !st) LRA_LOG_I("resuming %s from step %lld", ck, (long long)t->st.step);
        t->saved_step = t->st.step;
        extend_finished_run(t);
    }
    free(ck);
    free(mtext);
    return lra_dist_agree(st);
}

static lra_status make_batcher(lra_trainer *t, lra_batcher **b) {
    const lra_run_settings *s = t->s;
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
    bo.cls_token = lra_model_cls_token(&s->model);
    if (t->o->world > 1) {
        bo.num_shards = t->o->world;
        bo.shard_rank = t->o->rank;
    }
    LRA_TRY(lra_dist_agree(lra_batcher_create(b, &t->train, &bo)));
    lra_status st = LRA_OK;
    if (t->st.step > 0 || t->st.cursor.epoch || t->st.cursor.position) st = lra_batcher_seek(*b, t->st.cursor);
    return lra_dist_agree(st);
}

// Training-interval metrics, written every train.log_every steps.
typedef struct {
    double loss_sum, t0;
    int64_t correct, examples, steps;
} interval;

static void log_interval(lra_trainer *t, interval *iv, const lra_step_result *r, lra_progress *prog) {
    const lra_run_settings *s = t->s;
    double red[3] = {iv->loss_sum, (double)iv->correct, (double)iv->examples};
    if (t->o->world > 1) lra_dist_allreduce_sum_f64(red, 3);
    const double dt = now_s() - iv->t0;
    const double loss = red[0] / fmax(1.0, red[2]);
    const double acc = red[1] / fmax(1.0, red[2]);
    const int64_t tokens_per_step = (int64_t)s->batch_size * s->model.enc.seq_len * (s->task->dual ? 2 : 1);
    lra_json j;
    lra_json_begin(&j);
    lra_json_int(&j, "step", (long long)t->st.step);
    lra_json_str(&j, "split", "train");
    lra_json_num(&j, "loss", "%.6f", loss);
    lra_json_num(&j, "accuracy", "%.6f", acc);
    lra_json_num(&j, "lr", "%.6e", r->lr);
    lra_json_num(&j, "grad_norm", "%.6f", r->grad_norm);
    lra_json_num(&j, "tokens_per_s", "%.1f", (double)(tokens_per_step * iv->steps) / fmax(dt, 1e-9));
    lra_json_num(&j, "ms_per_step", "%.2f", 1000 * dt / (double)iv->steps);
    lra_json_num(&j, "peak_rss_mb", "%.1f", lra_trainer_peak_rss_mb());
    lra_metrics_add(&t->metrics, lra_json_end(&j));
    if (prog) lra_progress_update(prog, t->st.step, loss, acc, r->lr);
    *iv = (interval){.t0 = now_s()};
}

// A signal caught by any rank stops every rank at the same point (mpirun forwards signals to all ranks,
// which may notice them at different steps).
int lra_trainer_stop_signal(const lra_trainer *t) {
    int sig = lra_stop_signal();
    if (t->o->world > 1) {
        double f[3] = {sig == SIGINT, sig == SIGTERM, sig == SIGUSR1};
        lra_dist_allreduce_sum_f64(f, 3);
        sig = f[0] > 0 ? SIGINT : f[1] > 0 ? SIGTERM : f[2] > 0 ? SIGUSR1 : 0;
    }
    return sig;
}

// The longest step, dev evaluation and checkpoint write seen so far: what the deadline check plans with.
typedef struct {
    double step, eval, save;
} durations;

// Whether one more step (with its evaluation when one is due) and a checkpoint after it would end past
// the deadline; then the loop stops now with a checkpoint.  Decided on rank 0 and shared.
static int deadline_reached(const lra_trainer *t, const durations *d) {
    int stop = 0;
    if (t->o->deadline > 0 && t->is_root) {
        const lra_run_settings *s = t->s;
        const int64_t next = t->st.step + 1;
        double eval = 0;
        if (next % s->eval_every == 0 || next == s->steps) {
            // Before the first evaluation is timed: its batches, a forward pass costing about half a step.
            const double batches = (double)(t->val.count + s->eval_batch_size - 1) / s->eval_batch_size;
            eval = d->eval > 0 ? d->eval
                               : 0.5 * d->step * (s->eval_batches > 0 ? fmin(batches, (double)s->eval_batches) : batches);
        }
        const double save = d->save > 0 ? d->save : d->step;
        stop = now_s() + d->step + eval + save > t->o->deadline;
    }
    if (t->o->world > 1) lra_dist_bcast_bytes(&stop, sizeof stop, 0);
    return stop;
}

// train.checkpoint_minutes: whether that much time passed since the last checkpoint (rank 0's clock
// decides, so that every rank enters the save together).
static int checkpoint_time_due(const lra_trainer *t, double last_save) {
    int due = t->s->checkpoint_minutes > 0 && now_s() - last_save >= 60 * t->s->checkpoint_minutes;
    if (t->o->world > 1) lra_dist_bcast_bytes(&due, sizeof due, 0);
    return due;
}

// How an interrupted run is described: "terminated (SIGTERM)", "stopped (--stop-at)", ...
static const char *stop_words(lra_stop_reason r, int sig) {
    if (r == LRA_STOP_AT) return "stopped (--stop-at)";
    if (r == LRA_STOP_TIME_LIMIT) return "stopped before the time limit";
    if (sig == SIGINT) return "interrupted (SIGINT)";
    if (sig == SIGTERM) return "terminated (SIGTERM)";
    if (sig == SIGUSR1) return "asked to stop (SIGUSR1)";
    return "stopped";
}

// The profile of the steps this invocation ran: the table on stderr and RUN_DIR/profile.json (rank 0).
static void write_profile(lra_trainer *t, long long steps_run) {
    lra_profile_phase(LRA_PHASE_NONE);
    if (t->is_root && steps_run > 0) {
        lra_profile_report(stderr, steps_run, 0);
        char *path = lra_path_join(t->o->run_dir, "profile.json");
        FILE *f = fopen(path, "w");
        if (f) {
            lra_profile_report(f, steps_run, 1);
            fclose(f);
        } else {
            LRA_LOG_W("%s: cannot write the profile", path);
        }
        free(path);
    }
    lra_profile_enable(0);
}

// The step loop.  Returns with t->st at the last completed step.
static lra_status train_loop(lra_trainer *t, lra_batcher *b, lra_train_summary *out) {
    const lra_run_settings *s = t->s;
    const lra_train_options *o = t->o;
    lra_progress *prog = NULL;
    if (o->progress && t->is_root && !t->st.finished) {
        lra_progress_opts po;
        memset(&po, 0, sizeof po);
        po.start = t->st.step;
        po.timestamps = 1;       // in a log file: each line says when it was written
        po.plain_interval = 30;  // and one comes at least every 30 s, whatever the step count
        prog = lra_progress_begin_opts(s->steps, "train", &po);
    }
    if (o->profile) lra_profile_enable(1);
    lra_status st = LRA_OK;
    int stop = 0, eval_cut = 0;
    interval iv = {.t0 = now_s()};
    durations d = {0, 0, 0};
    double last_save = now_s();
    long long steps_run = 0;
    // A stop asked while the data were loading: nothing new to save.
    int sig = lra_trainer_stop_signal(t);
    if (sig) {
        out->reason = LRA_STOP_SIGNAL;
        out->signal = sig;
    }
    while (!sig && !t->st.finished && t->st.step < s->steps) {
        lra_step_result r;
        const double t0 = now_s();
        if ((st = lra_dist_agree(lra_step(&t->stepper, t->st.step, next_batch, b, &r)))) break;
        t->st.optim_step = lra_optimizer_steps(&t->opt);
        sync_running_stats(t);
        const int64_t step = ++t->st.step;
        steps_run++;
        d.step = fmax(d.step, now_s() - t0);
        iv.loss_sum += r.loss_sum;
        iv.correct += r.correct;
        iv.examples += r.examples;
        iv.steps++;
        if (step % s->log_every == 0 || step == s->steps) log_interval(t, &iv, &r, prog);
        const int eval_now = step % s->eval_every == 0 || step == s->steps;
        if (eval_now) {
            const double e0 = now_s();
            st = lra_dist_agree(lra_trainer_dev_eval(t, prog, &stop));
            if (st == LRA_ERR_INTERRUPTED) {
                // Stopped at an evaluation batch: the newest checkpoint stays the resume point and the
                // evaluation is done again after the resumed steps.
                st = LRA_OK;
                eval_cut = 1;
                sig = lra_trainer_stop_signal(t);
                out->reason = LRA_STOP_SIGNAL;
                out->signal = sig;
                break;
            }
            if (st) break;
            d.eval = fmax(d.eval, now_s() - e0);
        }
        t->st.cursor = lra_batcher_cursor(b);
        const int stop_at = o->stop_at > 0 && step >= o->stop_at && step < s->steps;
        sig = lra_trainer_stop_signal(t);
        if (stop || step == s->steps) t->st.finished = 1;
        const int time_up = !t->st.finished && !sig && !stop_at && deadline_reached(t, &d);
        const int minutes_due = checkpoint_time_due(t, last_save);
        if (eval_now || step % s->checkpoint_every == 0 || minutes_due || stop_at || sig || time_up ||
            t->st.finished) {
            const double c0 = now_s();
            if ((st = lra_dist_agree(save_step_checkpoint(t)))) break;
            last_save = now_s();
            d.save = fmax(d.save, last_save - c0);
        }
        if (stop_at || sig || time_up) {
            out->reason = sig ? LRA_STOP_SIGNAL : stop_at ? LRA_STOP_AT : LRA_STOP_TIME_LIMIT;
            out->signal = sig;
            break;
        }
    }
    if (out->reason) {
        out->interrupted = 1;
        out->checkpoint_step = t->saved_step;
        if (prog) {
            if (eval_cut)
                lra_progress_note(prog, "%s during the dev evaluation at step %lld; the newest checkpoint (%s%lld) "
                                        "is the resume point",
                                  stop_words(out->reason, out->signal), (long long)t->st.step,
                                  t->saved_step >= 0 ? "step " : "none: ", (long long)t->saved_step);
            else if (steps_run == 0)
                lra_progress_note(prog, "%s before the first step; nothing new to save", stop_words(out->reason, sig));
            else
                lra_progress_note(prog, "%s at step %lld; checkpoint written to %s", stop_words(out->reason, out->signal),
                                  (long long)t->st.step, o->run_dir);
        }
    }
    if (prog) lra_progress_end(prog);
    if (o->profile) write_profile(t, steps_run);
    out->stopped_early = stop;
    return st;
}

// The outcome word of jobs.jsonl.
static const char *outcome_of(lra_status st, const lra_train_summary *out) {
    if (out->reason == LRA_STOP_SIGNAL) return "signal";
    if (st) return "error";
    if (out->reason == LRA_STOP_AT) return "stop_at";
    if (out->reason == LRA_STOP_TIME_LIMIT) return "time_limit";
    return "finished";
}

lra_status lra_train(const lra_run_settings *s, const lra_train_options *o, lra_train_summary *out) {
    memset(out, 0, sizeof *out);
    out->checkpoint_step = -1;
    lra_trainer T;
    memset(&T, 0, sizeof T);
    lra_trainer *t = &T;
    t->s = s;
    t->o = o;
    t->is_root = o->rank == 0;
    t->saved_step = -1;
    LRA_TRY(check_split(s, o));
    // Only rank 0 touches the run directory (the other machines need not see it).
    LRA_TRY(lra_dist_agree(t->is_root ? lra_run_dir_prepare(o->run_dir, o->config_yaml, o->resume, &t->resuming)
                                      : LRA_OK));
    if (o->world > 1) lra_dist_bcast_bytes(&t->resuming, sizeof t->resuming, 0);
    // From here a stop signal is only recorded: a scheduler's SIGTERM or SIGUSR1 during data loading
    // stops the run before its first step, one during training after the step, with a checkpoint.
    lra_stop_signals_catch();

    lra_status st = lra_run_load_split(s, LRA_SPLIT_TRAIN, &t->train);
    if (!st) st = lra_run_load_split(s, LRA_SPLIT_VAL, &t->val);
    if (!st) st = lra_run_load_split(s, LRA_SPLIT_TEST, &t->test);
    // What `lra table` compares: the data this run sees (RUN_DIR/data.json).
    if (!st && t->is_root) st = lra_run_record_data(s, o->run_dir, &t->train, &t->val, &t->test);
    st = lra_dist_agree(st);
    lra_batcher *b = NULL;
    if (!st) st = lra_dist_agree(build_model(t));
    if (!st && t->is_root && o->progress) lra_model_summary_print(&t->model, stderr, "");  // what is trained
    if (!st) st = start_or_resume(t);
    const int recorded = !st && t->is_root;
    if (recorded) lra_run_jobs_record(o->run_dir, "start", t->st.step, t->resuming, NULL);
    if (!st) st = make_batcher(t, &b);
    if (!st) st = train_loop(t, b, out);
    out->steps_done = t->st.step;
    if (!st && t->st.finished && !out->interrupted) {
        st = lra_dist_agree(lra_trainer_final_eval(t, out->stopped_early, out));
        if (st == LRA_ERR_INTERRUPTED) {  // the finished run's checkpoint is kept; a resume evaluates again
            st = LRA_OK;
            out->interrupted = 1;
            out->reason = LRA_STOP_SIGNAL;
            out->signal = lra_trainer_stop_signal(t);
            out->checkpoint_step = t->saved_step;
            if (t->is_root) LRA_LOG_I("%s during the final test evaluation; resume to evaluate again",
                                      stop_words(out->reason, out->signal));
        }
    }
    lra_stop_signals_release();
    if (recorded) lra_run_jobs_record(o->run_dir, "end", t->st.step, 0, outcome_of(st, out));
    if (!st && out->reason == LRA_STOP_SIGNAL)
        st = lra_error(LRA_ERR_INTERRUPTED, "%s at step %lld", stop_words(out->reason, out->signal),
                       (long long)t->st.step);
    lra_batcher_free(b);
    if (t->ctx) lra_ctx_free(t->ctx);
    lra_stepper_free(&t->stepper);
    lra_metrics_close(&t->metrics);
    lra_model_free(&t->model);
    lra_dataset_free(&t->train);
    lra_dataset_free(&t->val);
    lra_dataset_free(&t->test);
    return st;
}
