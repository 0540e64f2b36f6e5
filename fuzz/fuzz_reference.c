// Fuzz target: the published-results file of `lra table --reference` (tasks/reference_results.c).
#include "fuzz/fuzz.h"
#include "tasks/reference_results.h"

LRA_FUZZ_TARGET(reference) {
    char path[512];
    lra_fuzz_write_file("results.tsv", data, size, path, sizeof path);
    lra_reference r;
    if (lra_reference_load(path, &r) == LRA_OK) {
        for (int i = 0; i < r.n_rows; i++) (void)lra_reference_value(&r, &r.rows[i], "listops", NULL);
        lra_reference_free(&r);
    }
    return 0;
}
