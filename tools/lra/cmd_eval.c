// `lra eval RUN_DIR|CHECKPOINT [--split val|test] [--json] [--predictions FILE] [--threads N]`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/threads.h"
#include "tasks/checkpoint.h"
#include "tasks/eval_report.h"
#include "tasks/evaluate.h"
#include "tasks/settings.h"
#include "tasks/trainer.h"
#include "tools/lra/args.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lra eval RUN_DIR|CHECKPOINT [--split val|test] [--json] [--predictions FILE] [--threads N]\n"
               "                [--set key=value ...]\n\n"
               "Scores a checkpoint (a run directory means its best.lra, else its newest checkpoint) on every row\n"
               "of a split (default test), in eval mode, and prints the accuracy, the accuracy of each class and\n"
               "the confusion matrix (rows: true label, columns: predicted class; --json: one JSON object).\n"
               "--predictions FILE writes one line per example: its index in the split, label, prediction and\n"
               "logits, as JSON lines when FILE ends in .jsonl, else as CSV with a header line\n"
               "(index,label,prediction,logit_0,...).  --set overrides the stored config, e.g. data.path when\n"
               "the data moved.  --threads N: threads to use, 0 (the default) means all cores.\n");
}

// --predictions: one line per example, collected in memory and written atomically at the end.
typedef struct {
    FILE *f;
    char *text;
    size_t len;
    int jsonl;
} predictions;

static void write_predictions(void *user, const lra_batch *batch, const lra_tensor *logits) {
    predictions *p = user;
    const int64_t C = logits->shape[1];
    for (int r = 0; r < batch->count; r++) {
        const float *x = lra_f32(logits) + r * logits->stride[0];
        const long long index = (long long)batch->index[r], label = batch->labels[r];
        const long long pred = (long long)lra_model_prediction(logits, r);
        if (p->jsonl) fprintf(p->f, "{\"index\": %lld, \"label\": %lld, \"prediction\": %lld, \"logits\": [", index, label, pred);
        else fprintf(p->f, "%lld,%lld,%lld", index, label, pred);
        for (int64_t c = 0; c < C; c++)  // %.9g: the float's exact value survives the round trip
            fprintf(p->f, "%s%.9g", p->jsonl ? (c ? ", " : "") : ",", x[c * logits->stride[1]]);
        fputs(p->jsonl ? "]}\n" : "\n", p->f);
    }
}

static int ends_with(const char *s, const char *tail) {
    const size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

int lra_cmd_eval(int argc, char **argv) {
    const char *target = NULL, *split_name = "test", *pred_path = NULL, *v;
    int json = 0, n_sets = 0;
    int64_t threads = 0;
    const char **sets = lra_xcalloc((size_t)argc + 1, sizeof *sets);
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            usage(stdout);
            free(sets);
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--split", &v))) {
            if (m < 0) goto bad;
            split_name = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--set", &v))) {
            if (m < 0) goto bad;
            sets[n_sets++] = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--threads", &v))) {
            if (m < 0 || !lra_arg_int("eval", "--threads", v, 0, &threads)) goto bad;
        } else if ((m = lra_arg_value(argc, argv, &i, "--predictions", &v))) {
            if (m < 0) goto bad;
            pred_path = v;
        } else if (lra_arg_flag(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-') {
            free(sets);
            return lra_arg_unknown("eval", argv[i]);
        } else if (!target) {
            target = argv[i];
        } else {
            goto bad;
        }
    }
    lra_split split;
    if (!target) {
        usage(stderr);
        goto bad;
    }
    if (lra_split_parse(split_name, &split) != LRA_OK || split == LRA_SPLIT_TRAIN) {
        fprintf(stderr, "lra eval: --split: expected val or test, got \"%s\"\n", split_name);
        goto bad;
    }
    lra_threads_set((int)threads);
    char *ckpt = NULL;
    lra_file_info info;
    if (lra_file_stat(target, &info) != LRA_OK) {
        free(sets);
        return lra_arg_fail("eval");
    }
    if (info.is_dir) {
        char *best = lra_path_join(target, "best.lra");
        if (lra_file_exists(best)) ckpt = best;
        else {
            free(best);
            ckpt = lra_run_latest_checkpoint(target);
            if (!ckpt) {
                free(sets);
                return lra_arg_fail("eval");
            }
        }
    } else {
        ckpt = lra_xstrdup(target);
    }
    int rc = 0;
    char *yaml = NULL;
    lra_config *cfg = NULL;
    lra_config_schema *schema = lra_settings_schema();
    lra_run_settings s;
    lra_model model;
    int built = 0;
    lra_dataset ds;
    memset(&ds, 0, sizeof ds);
    lra_train_state st;
    lra_status e = lra_checkpoint_read_config(ckpt, &yaml);
    if (!e) e = lra_config_parse(&cfg, ckpt, yaml);
    for (int i = 0; !e && i < n_sets; i++) e = lra_config_set(cfg, sets[i]);
    if (!e) e = lra_config_validate(cfg, schema);
    if (!e) e = lra_settings_resolve(cfg, &s);
    if (!e) {
        lra_model_build(&model, &s.model, s.seed);
        built = 1;
        e = lra_checkpoint_load(ckpt, &model, &st, NULL);
    }
    if (!e) e = lra_run_load_split(&s, split, &ds);
    lra_eval_result r;
    const int C = built ? model.cfg.num_classes : 0;
    int64_t *confusion = lra_xcalloc((size_t)(C > 0 ? C * C : 1), sizeof *confusion);
    predictions pred = {.jsonl = pred_path && ends_with(pred_path, ".jsonl")};
    if (!e) {
        lra_ctx *ctx = lra_ctx_new(0);
        lra_eval_options eo = {.batch_size = s.eval_batch_size, .length = s.model.enc.seq_len,
                               .mask_mode = s.mask_nonzero ? LRA_MASK_NONZERO : LRA_MASK_LENGTH, .seed = s.seed,
                               .eval_index = 0, .num_shards = 1, .confusion = confusion, .num_classes = C};
        if (pred_path) {
            pred.f = open_memstream(&pred.text, &pred.len);
            LRA_ASSERT_MSG(pred.f, "out of memory");
            if (!pred.jsonl) {
                fprintf(pred.f, "index,label,prediction");
                for (int c = 0; c < C; c++) fprintf(pred.f, ",logit_%d", c);
                fprintf(pred.f, "\n");
            }
            eo.on_batch = write_predictions;
            eo.user = &pred;
        }
        e = lra_evaluate(&model, ctx, &ds, &eo, &r);
        lra_ctx_free(ctx);
        if (pred.f) {
            LRA_ASSERT_MSG(fclose(pred.f) == 0 && pred.text, "out of memory");
            if (!e) e = lra_atomic_write_file(pred_path, pred.text, pred.len);
        }
    }
    if (e) {
        rc = lra_arg_fail("eval");
    } else if (json) {
        lra_json j;
        lra_json_begin(&j);
        lra_json_str(&j, "checkpoint", ckpt);
        lra_json_str(&j, "task", s.task->name);
        lra_json_str(&j, "attention", s.attention);
        lra_json_str(&j, "split", split_name);
        lra_json_int(&j, "step", (long long)st.step);
        lra_json_num(&j, "accuracy", "%.6f", lra_eval_accuracy(&r));
        lra_json_num(&j, "loss", "%.6f", lra_eval_loss(&r));
        lra_json_int(&j, "examples", (long long)r.examples);
        lra_json_int(&j, "classes", C);
        char *classes = lra_eval_classes_json(confusion, C);
        char *text = lra_json_end_with(&j, classes);
        printf("%s\n", text);
        free(text);
        free(classes);
    } else {
        printf("%s (%s, %s, step %lld) on %s: accuracy %.2f%%, loss %.4f, %lld examples (every row)\n", ckpt,
               s.task->name, s.attention, (long long)st.step, split_name, 100 * lra_eval_accuracy(&r),
               lra_eval_loss(&r), (long long)r.examples);
        lra_eval_classes_print(stdout, confusion, C);
    }
    if (!e && pred_path)
        fprintf(stderr, "lra eval: %lld predictions written to %s (%s)\n", (long long)r.examples, pred_path,
                pred.jsonl ? "JSON lines" : "CSV");
    free(pred.text);
    free(confusion);
    lra_dataset_free(&ds);
    if (built) lra_model_free(&model);
    lra_config_free(cfg);
    lra_config_schema_free(schema);
    free(yaml);
    free(ckpt);
    free(sets);
    return rc;
bad:
    free(sets);
    return 2;
}
