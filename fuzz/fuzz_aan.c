// Fuzz target: the AAN (Retrieval) TSV reader (data/read_aan.c).  size % 4 picks the options: texts cut
// to 5 bytes or 3 tokens, and a 512-byte line limit.
#include "data/read_aan.h"
#include "fuzz/fuzz.h"

LRA_FUZZ_TARGET(aan) {
    char path[512];
    lra_fuzz_write_file("new_aan_pairs.train.tsv", data, size, path, sizeof path);
    lra_aan_options o = {0};
    o.max_bytes = size % 2 ? 5 : 0;
    o.max_len = (size / 2) % 2 ? 3 : 0;
    o.max_line = (size / 4) % 2 ? 512 : 0;
    lra_dataset ds;
    if (lra_aan_read(path, &o, &ds) == LRA_OK) {
        if (lra_dataset_validate(&ds, "fuzz") != LRA_OK) __builtin_trap();
        lra_dataset_free(&ds);
    }
    return 0;
}
