// Fuzz target: the Pathfinder reader (data/read_pathfinder.c) on a fuzzed metadata file.  The folder
// beside it holds imgs/{0,2,10}/sample_0.png .. sample_9.png (valid 3x3 PNGs, sample_9 5x3) and an
// empty imgs/<b>/empty.png; size % 3 picks the split, (size / 3) % 2 a cap of 2 examples.
#include <stdlib.h>

#include "data/png_write.h"
#include "data/read_pathfinder.h"
#include "fuzz/data_fuzz.h"

static void make_images(void) {
    static int done;
    if (done) return;
    done = 1;
    char d[512], p[512];
    lra_fuzz_subdir("pf/metadata", d, sizeof d);
    static const char *const sub[3] = {"0", "2", "10"};   // the folders the seed metadata names
    uint8_t px[16];
    for (int s = 0; s < 3; s++) {
        char rel[64];
        snprintf(rel, sizeof rel, "pf/imgs/%s", sub[s]);
        lra_fuzz_subdir(rel, d, sizeof d);
        for (int i = 0; i < 10; i++) {
            for (int k = 0; k < 15; k++) px[k] = (uint8_t)(k * 16 + i);
            uint8_t *png;
            size_t n;
            if (lra_png_encode_gray8(px, i == 9 ? 5 : 3, 3, &png, &n) != LRA_OK) abort();
            char leaf[96];
            snprintf(leaf, sizeof leaf, "%s/sample_%d.png", rel, i);
            lra_fuzz_write_file(leaf, png, n, p, sizeof p);
            free(png);
        }
        snprintf(rel, sizeof rel, "pf/imgs/%s/empty.png", sub[s]);
        lra_fuzz_write_file(rel, NULL, 0, p, sizeof p);
    }
}

LRA_FUZZ_TARGET(pathfinder) {
    make_images();
    char p[512], dir[512];
    lra_fuzz_write_file("pf/metadata/0.npy", data, size, p, sizeof p);
    snprintf(dir, sizeof dir, "%s/pf", lra_fuzz_tmpdir());
    lra_pathfinder_options o;
    lra_pathfinder_options_default(&o);
    o.max_examples = (size / 3) % 2 ? 2 : 0;
    lra_dataset ds;
    lra_pathfinder_info info;
    if (lra_pathfinder_read(dir, (lra_split)(size % 3), &o, &ds, &info) == LRA_OK) {
        if (lra_dataset_validate(&ds, "fuzz") != LRA_OK) __builtin_trap();
        lra_dataset_free(&ds);
    }
    return 0;
}
