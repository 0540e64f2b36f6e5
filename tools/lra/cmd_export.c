// `lra export RUN_DIR|CHECKPOINT --safetensors FILE` and `lra import FILE --config CONFIG --out CHECKPOINT`:
// weights in the safetensors format under the PyTorch reference module's state-dict names
// (tools/ref/lra_ref.py), so they load into PyTorch with `model.load_state_dict(...)`, and back.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/fileio.h"
#include "core/safetensors.h"
#include "tasks/checkpoint.h"
#include "tasks/settings.h"
#include "tasks/trainer.h"
#include "tools/lra/args.h"

// Checkpoint file of a run directory (best.lra, else the newest) or the path itself.  New string.
static char *resolve_checkpoint(const char *target) {
    lra_file_info info;
    if (lra_file_stat(target, &info) != LRA_OK) return NULL;
    if (!info.is_dir) return lra_xstrdup(target);
    char *best = lra_path_join(target, "best.lra");
    if (lra_file_exists(best)) return best;
    free(best);
    return lra_run_latest_checkpoint(target);
}

// Builds the model described by a config text (with --set overrides).
// The schema must outlive *cfg_out.
static lra_status model_from_yaml(const lra_config_schema *schema, const char *name, const char *yaml,
                                  const char *const *sets, int n_sets, lra_run_settings *s, lra_config **cfg_out) {
    lra_config *cfg = NULL;
    lra_status e = lra_config_parse(&cfg, name, yaml);
    for (int i = 0; !e && i < n_sets; i++) e = lra_config_set(cfg, sets[i]);
    if (!e) e = lra_config_validate(cfg, schema);
    if (!e) e = lra_settings_resolve(cfg, s);
    if (e || !cfg_out) lra_config_free(cfg);
    else *cfg_out = cfg;
    return e;
}

int lra_cmd_export(int argc, char **argv) {
    const char *target = NULL, *out = NULL, *v;
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            printf("usage: lra export RUN_DIR|CHECKPOINT --safetensors FILE\n\n"
                   "Writes the weights (best.lra of a run directory, or the given checkpoint) as safetensors with\n"
                   "the PyTorch reference module's parameter names (tools/ref/lra_ref.py); the resolved config is in\n"
                   "the file's metadata under \"config\".  `lra import` reads such a file back.\n");
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--safetensors", &v))) {
            if (m < 0) return 2;
            out = v;
        } else if (argv[i][0] == '-') {
            return lra_arg_unknown("export", argv[i]);
        } else if (!target) {
            target = argv[i];
        } else {
            return lra_arg_unknown("export", argv[i]);
        }
    }
    if (!target || !out) {
        fprintf(stderr, "usage: lra export RUN_DIR|CHECKPOINT --safetensors FILE\n");
        return 2;
    }
    char *ckpt = resolve_checkpoint(target);
    if (!ckpt) return lra_arg_fail("export");
    char *yaml = NULL;
    lra_run_settings s;
    lra_model m;
    lra_train_state st;
    int rc = 0, built = 0;
    lra_status e = lra_checkpoint_read_config(ckpt, &yaml);
    lra_config_schema *schema = lra_settings_schema();
    if (!e) e = model_from_yaml(schema, ckpt, yaml, NULL, 0, &s, NULL);
    if (!e) {
        lra_model_build(&m, &s.model, s.seed);
        built = 1;
        e = lra_checkpoint_load(ckpt, &m, &st, NULL);
    }
    if (!e) {
        lra_safetensors_tensor *t = lra_xcalloc((size_t)m.params.count, sizeof *t);
        for (int i = 0; i < m.params.count; i++) {
            t[i].name = m.params.entries[i].name;
            t[i].dtype = LRA_CONTAINER_F32;
            t[i].ndim = m.params.entries[i].ndim;
            t[i].shape = m.params.entries[i].shape;
            t[i].data = m.params.data + m.params.entries[i].offset;
        }
        char step[32];
        snprintf(step, sizeof step, "%lld", (long long)st.step);
        const char *meta[] = {"format", "lra-weights-1", "task", s.task->name, "attention", s.attention,
                              "step", step, "config", yaml};
        e = lra_safetensors_write(out, t, m.params.count, meta, 5);
        free(t);
        if (!e)
            printf("%s: %d tensors (%lld values) from %s, step %lld\n", out, m.params.count,
                   (long long)lra_params_count_values(&m.params, 0), ckpt, (long long)st.step);
    }
    if (e) rc = lra_arg_fail("export");
    lra_config_schema_free(schema);
    if (built) lra_model_free(&m);
    free(yaml);
    free(ckpt);
    return rc;
}

int lra_cmd_import(int argc, char **argv) {
    const char *file = NULL, *config = NULL, *out = NULL, *prefix = "", *v;
    const char **sets = lra_xcalloc((size_t)argc + 1, sizeof *sets);
    int n_sets = 0, allow_extra = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (lra_arg_flag(argv[i], "--help") || lra_arg_flag(argv[i], "-h")) {
            printf("usage: lra import FILE.safetensors --out CHECKPOINT [--config CONFIG] [--set key=value ...]\n"
                   "                  [--prefix P] [--allow-extra]\n\n"
                   "Builds the model of CONFIG (default: the \"config\" metadata of FILE, as `lra export` writes it)\n"
                   "and loads every parameter from FILE by name (P + the PyTorch state-dict name), then writes a\n"
                   "checkpoint (step 0, fresh optimizer state) that `lra eval` scores or `lra train --resume` continues.\n"
                   "Missing or mis-shaped tensors are errors; unused tensors too, unless --allow-extra.\n");
            free(sets);
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--out", &v))) {
            if (m < 0) goto bad;
            out = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--config", &v))) {
            if (m < 0) goto bad;
            config = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--set", &v))) {
            if (m < 0) goto bad;
            sets[n_sets++] = v;
        } else if ((m = lra_arg_value(argc, argv, &i, "--prefix", &v))) {
            if (m < 0) goto bad;
            prefix = v;
        } else if (lra_arg_flag(argv[i], "--allow-extra")) {
            allow_extra = 1;
        } else if (argv[i][0] == '-') {
            free(sets);
            return lra_arg_unknown("import", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            goto bad;
        }
    }
    if (!file || !out) {
        fprintf(stderr, "usage: lra import FILE.safetensors --out CHECKPOINT [--config CONFIG] ...\n");
        goto bad;
    }
    lra_safetensors *f = NULL;
    char *yaml = NULL;
    size_t ylen;
    lra_config *cfg = NULL;
    lra_run_settings s;
    lra_model m;
    int built = 0, rc = 0;
    lra_status e = lra_safetensors_open(&f, file);
    if (!e) {
        if (config) e = lra_file_read_all(config, &yaml, &ylen);
        else if (lra_safetensors_meta(f, "config")) yaml = lra_xstrdup(lra_safetensors_meta(f, "config"));
        else e = lra_error(LRA_ERR_ARG, "%s has no \"config\" metadata: pass --config CONFIG", file);
    }
    lra_config_schema *schema = lra_settings_schema();
    if (!e) e = model_from_yaml(schema, config ? config : file, yaml, sets, n_sets, &s, &cfg);
    if (!e) {
        lra_model_build(&m, &s.model, s.seed);
        built = 1;
        for (int i = 0; !e && i < m.params.count; i++) {
            char name[256];
            snprintf(name, sizeof name, "%s%s", prefix, m.params.entries[i].name);
            if (!lra_safetensors_find(f, name)) {
                e = lra_error(LRA_ERR_FORMAT, "%s: no tensor '%s' (the model needs it)", file, name);
                break;
            }
            e = lra_safetensors_read(f, name, LRA_CONTAINER_F32, m.params.entries[i].ndim, m.params.entries[i].shape,
                                     m.params.data + m.params.entries[i].offset, (size_t)m.params.entries[i].numel * 4);
        }
        if (!e && !allow_extra) {
            size_t plen = strlen(prefix);
            for (int i = 0; i < lra_safetensors_count(f); i++) {
                const char *n = lra_safetensors_entry_at(f, i)->name;
                if (strncmp(n, prefix, plen) || lra_params_find(&m.params, n + plen) < 0) {
                    e = lra_error(LRA_ERR_FORMAT, "%s: tensor '%s' is not a parameter of this model (--allow-extra "
                                                  "ignores such tensors)", file, n);
                    break;
                }
            }
        }
    }
    if (!e) {
        char *resolved = lra_settings_resolved_yaml(cfg, &s);
        lra_train_state st;
        lra_train_state_init(&st, s.seed);
        e = lra_checkpoint_save(out, &m, &st, resolved, "");
        free(resolved);
        if (!e) printf("%s: %d tensors imported from %s\n", out, m.params.count, file);
    }
    if (e) rc = lra_arg_fail("import");
    if (built) lra_model_free(&m);
    lra_config_free(cfg);
    lra_config_schema_free(schema);
    free(yaml);
    lra_safetensors_close(f);
    free(sets);
    return rc;
bad:
    free(sets);
    return 2;
}
