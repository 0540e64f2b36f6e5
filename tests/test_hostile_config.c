// Hostile configs and checkpoints: the cases found by hand and by fuzzing (inputs in tests/fuzz/config and
// tests/fuzz/checkpoint, also replayed by test_fuzz_regress) must be refused with a message naming the
// file, the key or entry, and what was expected -- never a crash, a hang or an allocation abort.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/container.h"
#include "core/fileio.h"
#include "tasks/checkpoint.h"
#include "tasks/memory.h"
#include "tasks/settings.h"
#include "tests/harness.h"

#define HAS(needle) CHECK_MSG(strstr(lra_error_message(), needle) != NULL, "message lacks \"%s\": %s", needle, \
                              lra_error_message())

// Loads, validates and resolves tests/fuzz/config/<name>; returns the status.
static lra_status settings_of(const char *name, const char *const *sets, int n_sets) {
    char path[256];
    snprintf(path, sizeof path, "tests/fuzz/config/%s", name);
    lra_config_schema *sc = lra_settings_schema();
    lra_config *c = NULL;
    lra_status s = lra_settings_load(path, sets, n_sets, sc, &c);
    lra_run_settings rs;
    if (s == LRA_OK) s = lra_settings_resolve(c, &rs);
    lra_config_free(c);
    lra_config_schema_free(sc);
    return s;
}

static void integers_beyond_their_c_type(void) {
    CHECK_EQ_INT(settings_of("int-batch-size-2p32-plus-8.yaml", NULL, 0), LRA_ERR_CONFIG);
    HAS("int-batch-size-2p32-plus-8.yaml:5:15: key 'train.batch_size'");
    HAS("2147483647");
    HAS("4294967304");
    CHECK_EQ_INT(settings_of("int-patience-2p32.yaml", NULL, 0), LRA_ERR_CONFIG);
    HAS("key 'train.patience'");
    CHECK_EQ_INT(settings_of("int-accumulation-2p32.yaml", NULL, 0), LRA_ERR_CONFIG);
    HAS("key 'train.accumulation'");
    CHECK_EQ_INT(settings_of("int-max-length-2p31.yaml", NULL, 0), LRA_ERR_CONFIG);
    HAS("key 'data.max_length'");
    HAS("1073741824");
    CHECK_EQ_INT(settings_of("int-max-length-2p62-plus-1.yaml", NULL, 0), LRA_ERR_CONFIG);
    HAS("key 'data.max_length'");
    const char *set[] = {"train.batch_size=9223372036854775807"};
    CHECK_EQ_INT(settings_of("int-patience-2p32.yaml", set, 1), LRA_ERR_CONFIG);
    HAS("--set train.batch_size=9223372036854775807");
}

// Every integer key the settings narrow to int has a range inside int.
static void schema_ranges_fit_c_types(void) {
    static const char *const narrowed[] = {"data.max_length", "data.pathfinder_resolution", "model.layers", "model.dim",
                                           "model.heads", "model.head_dim", "model.hidden", "model.head_hidden",
                                           "model.vocab_size", "train.batch_size", "train.accumulation",
                                           "train.eval_batch_size", "train.patience", "train.keep_checkpoints",
                                           "train.grad_shards"};
    lra_config_schema *sc = lra_settings_schema();
    for (size_t i = 0; i < sizeof narrowed / sizeof narrowed[0]; i++) {
        const lra_config_key *k = lra_config_schema_find(sc, narrowed[i]);
        REQUIRE(k && k->spec);
        const char *comma = strchr(k->spec, ',');
        REQUIRE(comma);
        char *end;
        long long hi = strtoll(comma + 1, &end, 10);
        CHECK_MSG(end != comma + 1 && hi <= INT_MAX, "%s: range %s exceeds int", narrowed[i], k->spec);
    }
    // Kernel options reach the kernels as int too.
    for (int i = 0; i < lra_config_schema_count(sc); i++) {
        const lra_config_key *o = lra_config_schema_at(sc, i);
        if (o->type != LRA_CONFIG_INT || strncmp(o->key, "model.attention.", 16)) continue;
        const char *comma = o->spec ? strchr(o->spec, ',') : NULL;
        REQUIRE(comma);
        long long hi = strtoll(comma + 1, NULL, 10);
        CHECK_MSG(hi <= INT_MAX, "%s: range %s exceeds int", o->key, o->spec);
    }
    // data.max_length is rounded up to a power of two that must still fit int (the position table).
    const lra_config_key *k = lra_config_schema_find(sc, "data.max_length");
    CHECK(strtoll(strchr(k->spec, ',') + 1, NULL, 10) <= (1LL << 30));
    lra_config_schema_free(sc);
}

// Integer ranges compare in 64 bits: 2^53 + 1 is not 2^53 (as it would be through a double).
static void integer_ranges_are_exact(void) {
    static const lra_config_key keys[] = {{"n", LRA_CONFIG_INT, "0", "[0,9007199254740992]", "n", 0}};
    lra_config_schema *sc = lra_config_schema_new();
    CHECK_OK(lra_config_schema_add(sc, keys, 1));
    lra_config *c = NULL;
    CHECK_OK(lra_config_parse(&c, "exact.yaml", "n: 9007199254740992\n"));
    CHECK_OK(lra_config_validate(c, sc));
    CHECK(lra_config_int(c, "n") == 9007199254740992LL);
    lra_config_free(c);
    CHECK_OK(lra_config_parse(&c, "exact.yaml", "n: 9007199254740993\n"));
    CHECK_EQ_INT(lra_config_validate(c, sc), LRA_ERR_CONFIG);
    HAS("exact.yaml:1:4: key 'n'");
    lra_config_free(c);
    lra_config_schema_free(sc);
}

static void memory_refused_up_front(void) {
    CHECK_EQ_INT(settings_of("mem-eval-batch-1e9.yaml", NULL, 0), LRA_ERR_CONFIG);
    HAS("key 'train.eval_batch_size'");
    HAS("GiB of memory");
    CHECK_EQ_INT(settings_of("mem-model-at-maximum.yaml", NULL, 0), LRA_ERR_CONFIG);
    HAS("key 'model.");
    HAS("GiB of memory");
    HAS("parameters and optimizer state");
    // A small model passes the check, and its parameter estimate matches the model built from it.
    lra_config_schema *sc = lra_settings_schema();
    lra_config *c = NULL;
    CHECK_OK(lra_settings_load("tests/fixtures/ref/listops_tiny.yaml", NULL, 0, sc, &c));
    lra_run_settings rs;
    CHECK_OK(lra_settings_resolve(c, &rs));
    lra_memory_estimate m;
    lra_memory_estimate_run(&rs, &m);
    lra_model model;
    lra_model_build(&model, &rs.model, 1);
    int64_t real = lra_params_count_values(&model.params, 0);
    CHECK_MSG(m.params <= (double)real && m.params >= 0.8 * (double)real, "estimate %.0f vs %lld parameters", m.params,
              (long long)real);
    lra_model_free(&model);
    // A limit below the estimate names a key and the amount.
    CHECK_EQ_INT(lra_memory_check(c, &rs, 1024), LRA_ERR_CONFIG);
    HAS("GiB of memory");
    lra_config_free(c);
    lra_config_schema_free(sc);
}

static void alias_bomb_bounded(void) {
    clock_t t0 = clock();
    lra_config *c = NULL;
    CHECK_EQ_INT(lra_config_load(&c, "tests/fuzz/config/alias-bomb-9-levels-of-10.yaml"), LRA_ERR_CONFIG);
    HAS("alias-bomb-9-levels-of-10.yaml:");
    HAS("expands to more than 10000 nodes");
    CHECK(c == NULL);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_MSG(secs < 5, "took %.1f s", secs);
    // Mapping keys are copied with each expansion: a long key repeated by aliases counts as text.
    CHECK_EQ_INT(lra_config_load(&c, "tests/fuzz/config/alias-long-key-repeated.yaml"), LRA_ERR_CONFIG);
    HAS("alias-long-key-repeated.yaml:2:5: ");
    HAS("more than 16777216 bytes of text");
}

// Writes tests/fuzz/checkpoint/<name> without its mode byte to dir/<name>.ckpt.
static const char *ckpt_copy(const char *dir, const char *name, char *out, size_t cap) {
    char src[256];
    snprintf(src, sizeof src, "tests/fuzz/checkpoint/%s", name);
    char *data = NULL;
    size_t n = 0;
    LRA_ASSERT(lra_file_read_all(src, &data, &n) == LRA_OK && n > 1);
    snprintf(out, cap, "%s/%s.ckpt", dir, name);
    FILE *f = fopen(out, "wb");
    LRA_ASSERT(f && fwrite(data + 1, 1, n - 1, f) == n - 1);
    fclose(f);
    free(data);
    return out;
}

// Loads a checkpoint into a model built from its own config `yaml` (as `lra eval` and the checkpoint
// fuzz target do); the config must resolve, the load's status is returned.
static lra_status load_with_its_config(const char *path, const char *yaml, lra_train_state *st, char **metrics) {
    lra_config_schema *sc = lra_settings_schema();
    lra_config *c = NULL;
    lra_run_settings rs;
    lra_status s = lra_config_parse(&c, path, yaml);
    if (s == LRA_OK) s = lra_config_validate(c, sc);
    if (s == LRA_OK) s = lra_settings_resolve(c, &rs);
    CHECK_MSG(s == LRA_OK, "%s: its config does not resolve: %s", path, lra_error_message());
    if (s == LRA_OK) {
        lra_model m;
        lra_model_build(&m, &rs.model, rs.seed);
        lra_train_state_init(st, 0);
        s = lra_checkpoint_load(path, &m, st, metrics);
        lra_model_free(&m);
    }
    lra_config_free(c);
    lra_config_schema_free(sc);
    return s;
}

static void checkpoint_bad_format_message(void) {
    char dir[512], path[1024];
    lra_test_mkdtemp(dir, sizeof dir, "hostile_ckpt");
    char *yaml = NULL;
    CHECK_EQ_INT(lra_checkpoint_read_config(ckpt_copy(dir, "bad-format-uaf", path, sizeof path), &yaml), LRA_ERR_FORMAT);
    HAS("bad-format-uaf.ckpt: not a training checkpoint (format \"lra-xheckpoint-9\", expected \"lra-checkpoint-1\")");
    CHECK(yaml == NULL);
    // The seed itself loads.
    CHECK_OK(lra_checkpoint_read_config(ckpt_copy(dir, "seed-tiny-listops", path, sizeof path), &yaml));
    CHECK(yaml && strstr(yaml, "task: listops"));
    // ... into the model its config describes (what the checkpoint fuzz target does).
    lra_train_state st;
    char *metrics = NULL;
    CHECK_OK(load_with_its_config(path, yaml, &st, &metrics));
    CHECK_EQ_INT(st.step, 3);
    CHECK(metrics && strstr(metrics, "\"loss\""));
    free(metrics);
    free(yaml);
    lra_test_rmtree(dir);
}

static void checkpoint_raw_sizes_checked(void) {
    char dir[512], path[1024];
    lra_test_mkdtemp(dir, sizeof dir, "hostile_ckpt");
    char *yaml = NULL;
    // 2^64 - 1 bytes hidden in the unused dimensions (size + 1 wrapped to 0).
    CHECK_EQ_INT(lra_checkpoint_read_config(ckpt_copy(dir, "config-raw-2p64m1-wraps", path, sizeof path), &yaml),
                 LRA_ERR_FORMAT);
    HAS("config-raw-2p64m1-wraps.ckpt: tensor 'config': unused dimension 1 is 257, expected 1");
    CHECK_EQ_INT(lra_checkpoint_read_config(ckpt_copy(dir, "config-raw-2p64m1-one-dim", path, sizeof path), &yaml),
                 LRA_ERR_FORMAT);
    HAS("tensor 'config': dimension 0 is too large");
    CHECK_EQ_INT(lra_checkpoint_read_config(ckpt_copy(dir, "config-raw-1tib", path, sizeof path), &yaml),
                 LRA_ERR_FORMAT);
    HAS("config-raw-1tib.ckpt: tensor 'config' declares 1099511627776 bytes but only");
    CHECK_EQ_INT(lra_checkpoint_read_config(ckpt_copy(dir, "config-raw-20gib", path, sizeof path), &yaml),
                 LRA_ERR_FORMAT);
    HAS("tensor 'config' declares 21474836480 bytes but only");
    CHECK(yaml == NULL);
    lra_test_rmtree(dir);
}

// Training-state metadata is range-checked before it is narrowed (finished is 0 or 1).
static void checkpoint_state_ranges(void) {
    char dir[512], path[1024];
    lra_test_mkdtemp(dir, sizeof dir, "hostile_ckpt");
    char *yaml = NULL;
    CHECK_OK(lra_checkpoint_read_config(ckpt_copy(dir, "meta-finished-out-of-range", path, sizeof path), &yaml));
    lra_train_state st;
    CHECK_EQ_INT(load_with_its_config(path, yaml, &st, NULL), LRA_ERR_FORMAT);
    HAS("meta-finished-out-of-range.ckpt: metadata 'finished' is 9, expected 0..1");
    free(yaml);
    lra_test_rmtree(dir);
}

static const lra_test_case TESTS[] = {
    {"integers_beyond_their_c_type", integers_beyond_their_c_type},
    {"schema_ranges_fit_c_types", schema_ranges_fit_c_types},
    {"integer_ranges_are_exact", integer_ranges_are_exact},
    {"memory_refused_up_front", memory_refused_up_front},
    {"alias_bomb_bounded", alias_bomb_bounded},
    {"checkpoint_bad_format_message", checkpoint_bad_format_message},
    {"checkpoint_raw_sizes_checked", checkpoint_raw_sizes_checked},
    {"checkpoint_state_ranges", checkpoint_state_ranges},
};
LRA_TEST_MAIN(TESTS)
