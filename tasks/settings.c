// Config schema and resolution for training runs (see settings.h).
#include "tasks/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "tasks/memory.h"

static const lra_config_key k_keys[] = {
    {"seed", LRA_CONFIG_INT, "42", "[0,)", "run seed: initialisation, dropout, sampling and data order", 0},
    {"task", LRA_CONFIG_ENUM, NULL, NULL, "LRA task", LRA_CONFIG_REQUIRED},  // choices: the task registry
    {"data.path", LRA_CONFIG_STRING, NULL, NULL, "the task's data: a file, folder or archive (see README)",
     LRA_CONFIG_REQUIRED},
    {"data.cache_dir", LRA_CONFIG_STRING, "", NULL, "folder for the binary cache of preprocessed data (empty: off)", 0},
    {"data.max_length", LRA_CONFIG_INT, "0", "[0,1073741824]", "tokens per sequence before rounding (0: the task's default)", 0},
    {"data.round_pow2", LRA_CONFIG_BOOL, "true", NULL, "pad the length up to a power of two (2000 -> 2048), as the references", 0},
    {"data.pixel_offset", LRA_CONFIG_BOOL, "true", NULL, "image tasks: id = pixel + 1 so black pixels are not padding", 0},
    {"data.mask", LRA_CONFIG_ENUM, "length", "length|nonzero", "padding mask: from lengths, or the official token != 0", 0},
    {"data.pathfinder_difficulty", LRA_CONFIG_ENUM, "hard", "easy|intermediate|hard", "Pathfinder difficulty folder", 0},
    {"data.pathfinder_resolution", LRA_CONFIG_INT, "0", "[0,256]", "Pathfinder image size (0: 32, or 128 for pathx)", 0},
    {"data.max_train", LRA_CONFIG_INT, "0", "[0,)", "keep only the first N training examples (0: all)", 0},
    {"data.max_eval", LRA_CONFIG_INT, "0", "[0,)", "keep only the first N validation and test examples (0: all)", 0},
    {"model.layers", LRA_CONFIG_INT, "2", "[1,16]", "encoder blocks", 0},
    {"model.dim", LRA_CONFIG_INT, "64", "[1,4096]", "model width d", 0},
    {"model.heads", LRA_CONFIG_INT, "2", "[1,64]", "attention heads", 0},
    {"model.head_dim", LRA_CONFIG_INT, "32", "[1,1024]", "width of one head", 0},
    {"model.hidden", LRA_CONFIG_INT, "128", "[1,65536]", "MLP hidden width", 0},
    {"model.head_hidden", LRA_CONFIG_INT, "128", "[1,65536]", "classifier hidden width", 0},
    {"model.dropout", LRA_CONFIG_FLOAT, "0.1", "[0,1)", "dropout after embeddings, attention and in the MLP", 0},
    {"model.pooling", LRA_CONFIG_ENUM, "mean", "mean|cls", "pooling of the encoder output", 0},
    {"model.positions", LRA_CONFIG_ENUM, "learned", "learned|sinusoidal", "position embedding", 0},
    {"model.vocab_size", LRA_CONFIG_INT, "0", "[0,65536]", "embedding rows (0: the task's default)", 0},
    {"model.attention.type", LRA_CONFIG_STRING, "softmax", NULL, "attention kernel (see `lra attention list`)", 0},
    {"train.steps", LRA_CONFIG_INT, "1000", "[1,)", "optimizer steps", 0},
    {"train.batch_size", LRA_CONFIG_INT, "32", "[1,2147483647]", "examples per optimizer step", 0},
    {"train.accumulation", LRA_CONFIG_INT, "1", "[1,2147483647]", "micro-batches per step (divides batch_size)", 0},
    {"train.grad_shards", LRA_CONFIG_INT, "0", "[0,1024]", "gradient shards per micro-batch, summed in a fixed order (0: one per MPI rank); results depend on this, not on the rank count", 0},
    {"train.eval_batch_size", LRA_CONFIG_INT, "0", "[0,2147483647]", "batch size for evaluation (0: batch_size / accumulation)", 0},
    {"train.optimizer", LRA_CONFIG_ENUM, "adamw", "adamw|sgd", "optimizer", 0},
    {"train.lr", LRA_CONFIG_FLOAT, "1e-4", "(0,inf)", "peak learning rate", 0},
    {"train.schedule", LRA_CONFIG_ENUM, "onecycle", "onecycle|linear|rsqrt|cosine|constant", "learning-rate schedule", 0},
    {"train.warmup", LRA_CONFIG_INT, "0", "[0,)", "warmup steps (0: a tenth of the schedule length)", 0},
    {"train.schedule_steps", LRA_CONFIG_INT, "0", "[0,)", "schedule length T (0: train.steps)", 0},
    {"train.beta1", LRA_CONFIG_FLOAT, "0.9", "[0,1)", "AdamW beta1 (OneCycle cycles it 0.95 -> 0.85 -> 0.95)", 0},
    {"train.beta2", LRA_CONFIG_FLOAT, "0.999", "[0,1)", "AdamW beta2", 0},
    {"train.eps", LRA_CONFIG_FLOAT, "1e-6", "(0,inf)", "AdamW epsilon", 0},
    {"train.weight_decay", LRA_CONFIG_FLOAT, "0", "[0,inf)", "decoupled weight decay", 0},
    {"train.momentum", LRA_CONFIG_FLOAT, "0.9", "[0,1)", "SGD momentum", 0},
    {"train.clip", LRA_CONFIG_FLOAT, "0", "[0,inf)", "clip gradients to this global norm (0: off)", 0},
    {"train.eval_every", LRA_CONFIG_INT, "100", "[1,)", "steps between dev evaluations", 0},
    {"train.eval_batches", LRA_CONFIG_INT, "0", "[0,)", "dev batches per evaluation (0: the whole dev set once)", 0},
    {"train.patience", LRA_CONFIG_INT, "0", "[0,2147483647]", "stop after this many evaluations without improvement (0: never)", 0},
    {"train.early_stop_metric", LRA_CONFIG_ENUM, "loss", "loss|accuracy", "dev metric watched by early stopping", 0},
    {"train.best_metric", LRA_CONFIG_ENUM, "accuracy", "loss|accuracy", "dev metric that picks the best checkpoint", 0},
    {"train.log_every", LRA_CONFIG_INT, "10", "[1,)", "steps between training metric lines", 0},
    {"train.checkpoint_every", LRA_CONFIG_INT, "0", "[0,)", "steps between checkpoints (0: at every evaluation)", 0},
    {"train.checkpoint_minutes", LRA_CONFIG_FLOAT, "0", "[0,inf)", "also write a checkpoint when this many minutes passed since the last one (0: off)", 0},
    {"train.keep_checkpoints", LRA_CONFIG_INT, "2", "[1,1000]", "most recent checkpoints kept (besides the best)", 0},
    {"train.prefetch", LRA_CONFIG_BOOL, "true", NULL, "prepare the next batch on a background thread", 0},
};

lra_config_schema *lra_settings_schema(void) {
    lra_config_schema *s = lra_config_schema_new();
    lra_status st = LRA_OK;
    char tasks[512];
    lra_task_names(tasks, sizeof tasks, "|", "|");
    for (size_t i = 0; i < sizeof k_keys / sizeof k_keys[0]; i++) {
        lra_config_key k = k_keys[i];
        if (!strcmp(k.key, "task")) k.spec = tasks;  // the registered tasks (tasks/task.c)
        st = lra_config_schema_add(s, &k, 1);
        LRA_ASSERT_MSG(st == LRA_OK, "schema: %s", lra_error_message());
    }
    // Every kernel's options under model.attention.<kernel>.
    for (int i = 0; i < lra_attention_count(); i++) {
        const lra_attn_kernel_def *d = lra_attention_get(i);
        for (int j = 0; j < d->n_options; j++) {
            lra_attn_config_text text;
            lra_config_key k = lra_attn_config_key(d, &d->options[j], &text);
            st = lra_config_schema_add(s, &k, 1);
            LRA_ASSERT_MSG(st == LRA_OK, "schema: %s", lra_error_message());
        }
    }
    return s;
}

lra_status lra_settings_load(const char *path, const char *const *sets, int n_sets, const lra_config_schema *schema,
                             lra_config **out) {
    lra_config *c = NULL;
    LRA_TRY(lra_config_load(&c, path));
    for (int i = 0; i < n_sets; i++) {
        lra_status st = lra_config_set(c, sets[i]);
        if (st) {
            lra_config_free(c);
            return st;
        }
    }
    lra_status st = lra_config_validate(c, schema);
    if (st) {
        lra_config_free(c);
        return st;
    }
    *out = c;
    return LRA_OK;
}

static void copy_str(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

lra_status lra_settings_resolve(const lra_config *c, lra_run_settings *s) {
    memset(s, 0, sizeof *s);
    s->seed = (uint64_t)lra_config_int(c, "seed");
    s->task = lra_task_find(lra_config_string(c, "task"));
    LRA_ASSERT(s->task);
    copy_str(s->data_path, sizeof s->data_path, lra_config_string(c, "data.path"));
    copy_str(s->cache_dir, sizeof s->cache_dir, lra_config_string(c, "data.cache_dir"));
    s->max_length = lra_config_int(c, "data.max_length");
    if (s->max_length == 0) s->max_length = s->task->max_length;
    s->round_pow2 = lra_config_bool(c, "data.round_pow2");
    s->pixel_offset = lra_config_bool(c, "data.pixel_offset");
    s->mask_nonzero = lra_config_enum(c, "data.mask") == 1;
    copy_str(s->pf_difficulty, sizeof s->pf_difficulty, lra_config_string(c, "data.pathfinder_difficulty"));
    s->pf_resolution = (int)lra_config_int(c, "data.pathfinder_resolution");
    s->max_train = lra_config_int(c, "data.max_train");
    s->max_eval = lra_config_int(c, "data.max_eval");

    // model
    lra_model_config *m = &s->model;
    const char *kname = lra_config_string(c, "model.attention.type");
    copy_str(s->attention, sizeof s->attention, kname);
    const lra_attn_kernel_def *kdef = lra_attention_find(kname);
    if (!kdef) {
        char names[1024] = "";
        for (int i = 0; i < lra_attention_count(); i++) {
            if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, lra_attention_get(i)->name, sizeof names - strlen(names) - 1);
        }
        return lra_config_error(c, "model.attention.type", "unknown attention kernel \"%s\" (available: %s)", kname,
                                names);
    }
    m->enc.kernel = kdef;
    lra_attn_values_defaults(kdef, &m->enc.kernel_opts);
    for (int j = 0; j < kdef->n_options; j++) {
        char key[160];
        const lra_attn_option *o = &kdef->options[j];
        snprintf(key, sizeof key, "model.attention.%s.%s", kdef->name, o->name);
        double v = o->type == LRA_OPT_BOOL   ? (double)lra_config_bool(c, key)
                   : o->type == LRA_OPT_ENUM ? (double)lra_config_enum(c, key)
                                             : lra_config_float(c, key);
        m->enc.kernel_opts.values[j] = v;
    }
    int64_t L = s->max_length;
    if (s->round_pow2) {
        int64_t p2 = 1;
        while (p2 < L) p2 *= 2;
        L = p2;
    }
    m->enc.seq_len = L;
    m->enc.pos_len = (int)L + 0;
    m->enc.vocab_size = (int)lra_config_int(c, "model.vocab_size");
    if (m->enc.vocab_size == 0) m->enc.vocab_size = s->task->vocab_size;
    m->enc.dim = (int)lra_config_int(c, "model.dim");
    m->enc.heads = (int)lra_config_int(c, "model.heads");
    m->enc.head_dim = (int)lra_config_int(c, "model.head_dim");
    m->enc.hidden = (int)lra_config_int(c, "model.hidden");
    m->enc.layers = (int)lra_config_int(c, "model.layers");
    m->enc.dropout = (float)lra_config_float(c, "model.dropout");
    m->enc.pos_kind = lra_config_enum(c, "model.positions") == 1 ? LRA_POS_SINUSOIDAL : LRA_POS_LEARNED;
    m->pooling = lra_config_enum(c, "model.pooling") == 1 ? LRA_POOL_CLS : LRA_POOL_MEAN;
    m->num_classes = s->task->num_classes;
    m->head_hidden = (int)lra_config_int(c, "model.head_hidden");
    m->dual = s->task->dual;

    // training
    s->steps = lra_config_int(c, "train.steps");
    s->batch_size = (int)lra_config_int(c, "train.batch_size");
    s->accumulation = (int)lra_config_int(c, "train.accumulation");
    if (s->batch_size % s->accumulation)
        return lra_config_error(c, "train.accumulation", "must divide train.batch_size (%d), got %d", s->batch_size,
                                s->accumulation);
    s->grad_shards = (int)lra_config_int(c, "train.grad_shards");
    if (s->grad_shards > 0 && (s->batch_size / s->accumulation) % s->grad_shards)
        return lra_config_error(c, "train.grad_shards", "must divide the micro-batch (train.batch_size / train.accumulation = %d), got %d",
                                s->batch_size / s->accumulation, s->grad_shards);
    s->eval_batch_size = (int)lra_config_int(c, "train.eval_batch_size");
    if (s->eval_batch_size == 0) s->eval_batch_size = s->batch_size / s->accumulation;
    s->optimizer = lra_config_enum(c, "train.optimizer") == 1 ? LRA_OPTIM_SGD : LRA_OPTIM_ADAMW;
    s->lr = lra_config_float(c, "train.lr");
    LRA_TRY(lra_schedule_parse_kind(lra_config_string(c, "train.schedule"), &s->schedule));
    s->warmup = lra_config_int(c, "train.warmup");
    s->schedule_steps = lra_config_int(c, "train.schedule_steps");
    if (s->schedule_steps == 0) s->schedule_steps = s->steps;
    if (s->warmup == 0) s->warmup = s->schedule_steps / 10 > 0 ? s->schedule_steps / 10 : 1;
    if (s->schedule == LRA_SCHED_ONECYCLE && (s->warmup < 1 || s->warmup >= s->schedule_steps))
        return lra_config_error(c, "train.warmup", "onecycle needs 1 <= warmup < schedule length (%lld), got %lld",
                                (long long)s->schedule_steps, (long long)s->warmup);
    s->beta1 = lra_config_float(c, "train.beta1");
    s->beta2 = lra_config_float(c, "train.beta2");
    s->eps = lra_config_float(c, "train.eps");
    s->weight_decay = lra_config_float(c, "train.weight_decay");
    s->momentum = lra_config_float(c, "train.momentum");
    s->clip = lra_config_float(c, "train.clip");
    s->eval_every = lra_config_int(c, "train.eval_every");
    s->eval_batches = lra_config_int(c, "train.eval_batches");
    s->log_every = lra_config_int(c, "train.log_every");
    s->checkpoint_every = lra_config_int(c, "train.checkpoint_every");
    if (s->checkpoint_every == 0) s->checkpoint_every = s->eval_every;
    s->patience = (int)lra_config_int(c, "train.patience");
    s->early_stop_metric = lra_config_enum(c, "train.early_stop_metric") == 1 ? LRA_METRIC_ACCURACY : LRA_METRIC_LOSS;
    s->best_metric = lra_config_enum(c, "train.best_metric") == 1 ? LRA_METRIC_ACCURACY : LRA_METRIC_LOSS;
    s->keep_checkpoints = (int)lra_config_int(c, "train.keep_checkpoints");
    s->checkpoint_minutes = lra_config_float(c, "train.checkpoint_minutes");
    s->prefetch = lra_config_bool(c, "train.prefetch");
    if (kdef->validate) {
        lra_attn_setup setup = {.layer = 0, .n_heads = m->enc.heads, .head_dim = m->enc.head_dim,
                                .model_dim = m->enc.dim, .seq_len = m->enc.seq_len, .opts = &m->enc.kernel_opts,
                                .prefix = ""};
        if (kdef->validate(&setup) != LRA_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", lra_error_message());
            return lra_config_error(c, "model.attention.type", "%s", msg);
        }
    }
    // Refused here, with the key to blame, rather than in the allocator while building the model.
    return lra_memory_check(c, s, 0);
}

// Indentation (in spaces) of a line, or -1 for a blank/comment-only line.
static int line_indent(const char *line, size_t len) {
    size_t i = 0;
    while (i < len && line[i] == ' ') i++;
    if (i == len || line[i] == '#') return -1;
    return (int)i;
}

char *lra_settings_resolved_yaml(const lra_config *c, const lra_run_settings *s) {
    char *full = lra_config_to_yaml(c);
    size_t n = strlen(full), out_len = 0;
    char *out = lra_xmalloc(n + 1);
    // The emitter nests keys by two spaces: "model:" / "  attention:" / "    <kernel>:" / "      option".
    int in_model = 0, in_attention = 0, skipping = 0;
    for (const char *line = full; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        int ind = line_indent(line, len);
        if (ind >= 0) {
            const char *key = line + ind;
            if (ind == 0) in_model = !strncmp(key, "model:", 6);
            if (ind <= 2) in_attention = in_model && ind == 2 && !strncmp(key, "attention:", 10);
            if (ind <= 4) skipping = 0;
            if (in_attention && ind == 4 && strncmp(key, "type:", 5)) {
                size_t klen = strlen(s->attention);
                skipping = !(strncmp(key, s->attention, klen) == 0 && key[klen] == ':');
            }
        }
        if (!skipping) {
            memcpy(out + out_len, line, len);
            out_len += len;
        }
        line += len;
    }
    out[out_len] = '\0';
    free(full);
    return out;
}
