// Fuzz target: the IMDb reader (data/read_imdb.c) on an archive (.tar or .tar.gz by content).
// size % 2: train or test split; (size / 2) % 2: reviews cut to 4 bytes; (size / 4) % 2: a 100-byte
// review limit.
#include "data/read_imdb.h"
#include "fuzz/data_fuzz.h"

LRA_FUZZ_TARGET(imdb) {
    if (!lra_fuzz_inflate_ok(data, size)) return 0;
    char path[512];
    lra_fuzz_write_file("aclImdb.tar", data, size, path, sizeof path);
    lra_imdb_options o = {0};
    o.max_len = (size / 2) % 2 ? 4 : 0;
    o.max_review = (size / 4) % 2 ? 100 : 0;
    lra_dataset ds;
    if (lra_imdb_read(path, size % 2 ? LRA_SPLIT_TEST : LRA_SPLIT_TRAIN, &o, &ds) == LRA_OK) {
        if (lra_dataset_validate(&ds, "fuzz") != LRA_OK) __builtin_trap();
        lra_dataset_free(&ds);
    }
    return 0;
}
