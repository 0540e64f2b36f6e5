// Fuzz target: a `lra train` config from YAML text to resolved settings (tasks/settings.c), as the CLI does
// before training: parse, apply overrides, validate against the full schema, resolve (cross-key checks and
// the memory estimate) and render the resolved YAML.  Lines "#set KEY=VALUE" (YAML comments, so the seeds
// stay valid files) are applied as --set overrides.
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "fuzz/fuzz.h"
#include "tasks/settings.h"

LRA_FUZZ_TARGET(config) {
    lra_fuzz_tmpdir();  // quiets the log
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    lra_config *c = NULL;
    lra_status s = lra_config_parse(&c, "fuzz.yaml", text);
    for (char *line = text; s == LRA_OK && line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "#set ", 5)) continue;
        char *end = strchr(line, '\n');
        char saved = end ? *end : '\0';
        if (end) *end = '\0';
        s = lra_config_set(c, line + 5);
        if (end) *end = saved;
    }
    if (s == LRA_OK) s = lra_config_validate(c, lra_fuzz_settings_schema());
    lra_run_settings rs;
    if (s == LRA_OK) s = lra_settings_resolve(c, &rs);
    if (s == LRA_OK) free(lra_settings_resolved_yaml(c, &rs));
    lra_config_free(c);
    free(text);
    return 0;
}
