// Fuzz target: a sweep spec (tasks/sweep.c) from YAML text to its validated cells, as `lra sweep` reads it.
// Config paths in the input are resolved as usual (e.g. configs/quickstart.yaml from the repository root).
#include "fuzz/fuzz.h"
#include "tasks/sweep.h"

LRA_FUZZ_TARGET(sweep_spec) {
    char path[512];
    lra_fuzz_write_file("spec.yaml", data, size, path, sizeof path);
    lra_sweep sw;
    if (lra_sweep_load(path, &sw) == LRA_OK) lra_sweep_free(&sw);
    return 0;
}
