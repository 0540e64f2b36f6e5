// Fuzz target: the files of a finished run that `lra table` reads (tasks/results_table.c).  The input is
// eval.json, then config.yaml, then data.json, separated by lines "--"; a missing part is a missing file.
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "fuzz/fuzz.h"
#include "tasks/results_table.h"

LRA_FUZZ_TARGET(run_table) {
    static const char *const names[3] = {"eval.json", "config.yaml", "data.json"};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/run", lra_fuzz_tmpdir());
    if (lra_path_mkdirs(dir)) return 0;
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        char leaf[64], path[600];
        snprintf(leaf, sizeof leaf, "run/%s", names[k]);
        if (at > size) {
            snprintf(path, sizeof path, "%s/%s", dir, names[k]);
            lra_file_remove(path);
            continue;
        }
        const uint8_t *sep = NULL;
        for (size_t i = at; i + 4 <= size && !sep; i++)
            if (!memcmp(data + i, "\n--\n", 4)) sep = data + i;
        const size_t end = sep ? (size_t)(sep - data) : size;
        lra_fuzz_write_file(leaf, data + at, end - at, path, sizeof path);
        at = sep ? end + 4 : size + 1;
    }
    const char *paths[1] = {dir};
    lra_results_table t;
    if (lra_results_table_build(paths, 1, &t) == LRA_OK) {
        double avg;
        for (int r = 0; r < t.n_rows; r++) (void)lra_results_row_average(&t, r, &avg);
        lra_results_table_free(&t);
    }
    return 0;
}
