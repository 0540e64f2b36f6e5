// `lra eval RUN_DIR|CHECKPOINT [--split val|test] [--json] [--threads N]`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/fileio.h"
#include "core/threads.h"
#include "tasks/checkpoint.h"
#include "tasks/evaluate.h"
#include "tasks/settings.h"
#include "tasks/trainer.h"
#include "tools/lra/args.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lra eval RUN_DIR|CHECKPOINT [--split val|test] [--json] [--threads N] [--set key=value ...]\n\n"
               "Scores a checkpoint (a run directory means its best.lra, else its newest checkpoint) on every row\n"
               "of a split (default test), in eval mode.  --set overrides the stored config, e.g. data.path when\n"
               "the data moved.  --threads N: threads to use, 0 (the default) means all cores.\n");
}

int lra_cmd_eval(int argc, char **argv) {
    const char *target = NULL, *split_name = "test", *v;
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
    if (!e) {
        lra_ctx *ctx = lra_ctx_new(0);
        lra_eval_options eo = {.batch_size = s.eval_batch_size, .length = s.model.enc.seq_len,
                               .mask_mode = s.mask_nonzero ? LRA_MASK_NONZERO : LRA_MASK_LENGTH, .seed = s.seed,
                               .eval_index = 0, .num_shards = 1};
        e = lra_evaluate(&model, ctx, &ds, &eo, &r);
        lra_ctx_free(ctx);
    }
    if (e) {
        rc = lra_arg_fail("eval");
    } else if (json) {
        printf("{\"checkpoint\": \"%s\", \"task\": \"%s\", \"attention\": \"%s\", \"split\": \"%s\", \"step\": %lld, "
               "\"accuracy\": %.6f, \"loss\": %.6f, \"examples\": %lld}\n",
               ckpt, s.task->name, s.attention, split_name, (long long)st.step, lra_eval_accuracy(&r),
               lra_eval_loss(&r), (long long)r.examples);
    } else {
        printf("%s (%s, %s, step %lld) on %s: accuracy %.2f%%, loss %.4f, %lld examples (every row)\n", ckpt,
               s.task->name, s.attention, (long long)st.step, split_name, 100 * lra_eval_accuracy(&r),
               lra_eval_loss(&r), (long long)r.examples);
    }
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
