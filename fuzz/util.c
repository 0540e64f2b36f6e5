// Scratch files for fuzz targets (see fuzz/fuzz.h).
#include "fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/threads.h"
#include "tasks/settings.h"

static char scratch[256];

static void remove_tree(const char *path) {
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", path);
}

static void cleanup(void) {
    if (scratch[0]) remove_tree(scratch);
}

const char *lra_fuzz_tmpdir(void) {
    if (!scratch[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/lra_fuzz_XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(scratch)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(cleanup);
        // Parsers report errors through lra_error; the log would only flood the fuzzer's output.
        lra_log_set_level(LRA_LOG_ERROR);
    }
    return scratch;
}

const char *lra_fuzz_write_file(const char *leaf, const uint8_t *data, size_t size, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", lra_fuzz_tmpdir(), leaf);
    FILE *f = fopen(buf, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(buf);
        abort();
    }
    return buf;
}

lra_config_schema *lra_fuzz_settings_schema(void) {
    static lra_config_schema *s;
    if (!s) s = lra_settings_schema();
    return s;
}

void lra_fuzz_single_thread(void) {
    static int done;
    if (!done) lra_threads_set(1);
    done = 1;
}
