// Fuzz target: a sweep spec (tasks/sweep.c) from YAML text to its validated cells, as `lra sweep` reads it.
// Config paths in the input are resolved as usual (e.g. configs/quickstart.yaml from the repository root).
#include <string.h>

#include "fuzz/fuzz.h"
#include "tasks/sweep.h"

LRA_FUZZ_TARGET(sweep_spec) {
    // Config paths are opened: keep the fuzzer off devices and process files (/dev/zero never ends).
    for (size_t i = 0; i + 5 <= size; i++)
        if (!memcmp(data + i, "/dev", 4) || !memcmp(data + i, "/proc", 5) || !memcmp(data + i, "/sys", 4)) return 0;
    char path[512];
    lra_fuzz_write_file("spec.yaml", data, size, path, sizeof path);
    lra_sweep sw;
    if (lra_sweep_load(path, &sw) == LRA_OK) lra_sweep_free(&sw);
    return 0;
}
