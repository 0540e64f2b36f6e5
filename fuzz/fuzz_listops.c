// Fuzz target: the ListOps TSV reader (data/read_listops.c).  size % 4 picks the options: unknown
// symbols allowed or not, rows cut to 7 tokens or kept whole, and a 256-byte line limit.
#include "data/read_listops.h"
#include "fuzz/fuzz.h"

LRA_FUZZ_TARGET(listops) {
    char path[512];
    lra_fuzz_write_file("basic_train.tsv", data, size, path, sizeof path);
    lra_listops_options o = {0};
    o.allow_unknown = size % 2;
    o.max_len = (size / 2) % 2 ? 7 : 0;
    o.max_line = (size / 4) % 2 ? 256 : 0;
    lra_dataset ds;
    if (lra_listops_read(path, &o, &ds) == LRA_OK) {
        if (lra_dataset_validate(&ds, "fuzz") != LRA_OK) __builtin_trap();
        lra_dataset_free(&ds);
    }
    return 0;
}
