// Fuzz target: the safetensors reader (core/safetensors.c) as `lra import` uses it: open (header JSON,
// dtypes, shapes, byte ranges), read every tensor, and when the file carries a "config" metadata entry,
// resolve it and load a (small) model's parameters from the file.
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/threads.h"
#include "core/safetensors.h"
#include "fuzz/fuzz.h"
#include "tasks/memory.h"
#include "tasks/settings.h"

#define MODEL_LIMIT (64u << 20)  // bytes a fuzzed config may make the harness allocate

static void import_model(lra_safetensors *f, const char *path, const char *yaml) {
    lra_config *c = NULL;
    lra_run_settings rs;
    lra_status s = lra_config_parse(&c, path, yaml);
    if (s == LRA_OK) s = lra_config_validate(c, lra_fuzz_settings_schema());
    if (s == LRA_OK) s = lra_settings_resolve(c, &rs);
    if (s == LRA_OK) s = lra_memory_check(c, &rs, MODEL_LIMIT);
    if (s == LRA_OK) {
        lra_model m;
        lra_model_build(&m, &rs.model, rs.seed);
        for (int i = 0; s == LRA_OK && i < m.params.count; i++) {
            const lra_param_entry *e = &m.params.entries[i];
            if (!lra_safetensors_find(f, e->name)) break;
            s = lra_safetensors_read(f, e->name, LRA_CONTAINER_F32, e->ndim, e->shape, m.params.data + e->offset,
                                     (size_t)e->numel * 4);
        }
        lra_model_free(&m);
    }
    lra_config_free(c);
}

LRA_FUZZ_TARGET(safetensors) {
    lra_fuzz_single_thread();
    char path[512];
    lra_fuzz_write_file("fuzz.safetensors", data, size, path, sizeof path);
    lra_safetensors *f = NULL;
    if (lra_safetensors_open(&f, path) != LRA_OK) return 0;
    for (int i = 0; i < lra_safetensors_count(f); i++) {
        const lra_safetensors_entry *e = lra_safetensors_entry_at(f, i);
        if (!e->dtype) continue;
        // The reader checked that [begin, end) lies in the file, so this allocation is bounded by the input.
        size_t n = (size_t)(e->end - e->begin);
        void *buf = malloc(n ? n : 1);
        if (!buf) continue;
        (void)lra_safetensors_read(f, e->name, e->dtype, -1, NULL, buf, n);
        free(buf);
    }
    const char *yaml = lra_safetensors_meta(f, "config");
    if (yaml) import_model(f, path, yaml);
    lra_safetensors_close(f);
    return 0;
}
