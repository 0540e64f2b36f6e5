// Fuzz target: the CIFAR-10 reader (data/read_cifar.c).  size % 2 == 0: the input is the archive
// (.tar or .tar.gz) and (size / 2) % 3 picks the split; size % 2 == 1: the input is test_batch.bin in a
// folder (the test split).
#include <stdlib.h>

#include "data/read_cifar.h"
#include "fuzz/data_fuzz.h"

LRA_FUZZ_TARGET(cifar) {
    if (!lra_fuzz_inflate_ok(data, size)) return 0;
    char path[512], dir[512];
    lra_dataset ds;
    lra_status s;
    if (size % 2 == 0) {
        lra_fuzz_write_file("cifar.tar", data, size, path, sizeof path);
        s = lra_cifar_read(path, (lra_split)((size / 2) % 3), NULL, &ds);
    } else {
        lra_fuzz_subdir("cifar", dir, sizeof dir);
        lra_fuzz_write_file("cifar/test_batch.bin", data, size, path, sizeof path);
        s = lra_cifar_read(dir, LRA_SPLIT_TEST, NULL, &ds);
    }
    if (s == LRA_OK) lra_dataset_free(&ds);
    return 0;
}
