// Image (task `image`): CIFAR-10 in grayscale (data/read_cifar.h), or MNIST-like IDX files
// (data/read_idx.h) when the folder holds train-images-idx3-ubyte[.gz].
#include <stdlib.h>
#include <zlib.h>

#include "core/fileio.h"
#include "data/image.h"
#include "data/read_cifar.h"
#include "data/read_idx.h"
#include "tasks/task.h"

enum { P_IDX };  // lra_data_plan.param: 1 = IDX files, 0 = CIFAR-10

static int is_idx_dir(const char *dir) {
    const char *names[2] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"};
    for (int k = 0; k < 2; k++) {
        char *p = lra_path_join(dir, names[k]);
        int ok = lra_path_is_file(p);
        free(p);
        if (ok) return 1;
    }
    return 0;
}

// 1 when the file starts (after gunzip, if compressed) with an IDX magic: 00 00 <type> <dims>.
static int looks_like_idx(const char *path) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) return 0;
    unsigned char m[4];
    int n = gzread(gz, m, 4);
    gzclose(gz);
    return n == 4 && m[0] == 0 && m[1] == 0 && (m[2] == 0x08 || m[2] == 0x09 || (m[2] >= 0x0B && m[2] <= 0x0E)) &&
           m[3] >= 1 && m[3] <= 3;
}

static lra_status find_source(const char *path, lra_split split, const lra_load_options *opt, lra_data_plan *p) {
    const int dir = lra_path_is_dir(path);
    if (!dir && looks_like_idx(path))
        return lra_error(LRA_ERR_ARG, "%s: is a single IDX file; data.path for image must be a folder of IDX files "
                         "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                         "t10k-labels-idx1-ubyte, each optionally .gz) or a CIFAR-10 archive "
                         "(cifar-10-binary.tar.gz) or folder (cifar-10-batches-bin/)", path);
    p->param[P_IDX] = dir && is_idx_dir(path);
    p->source = lra_xstrdup(path);
    return LRA_OK;
}

static void add_key(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_data_key *k) {
    lra_data_key_printf(k, "format %s\npixel_offset %d\n", p->param[P_IDX] ? "idx" : "cifar",
                        opt->image_pixel_offset != 0);
    lra_data_key_source(k, NULL, 2);
}

static lra_status read_split(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_dataset *out) {
    lra_image_options img;
    lra_image_options_default(&img);
    img.pixel_offset = opt->image_pixel_offset != 0;
    if (p->param[P_IDX]) return lra_idx_read(p->source, split, &img, out);
    lra_status st = lra_cifar_read(p->source, split, &img, out);
    if (st == LRA_ERR_FORMAT && !lra_path_is_dir(p->source))  // say what a file path was expected to be
        lra_error_context(st, "%s: expected a CIFAR-10 archive (cifar-10-binary.tar.gz) or a folder of CIFAR-10 "
                          "or IDX files: ", p->source);
    return st;
}

// IDX files are some MNIST-like set (MNIST, Fashion-MNIST), never the task's CIFAR-10.
static const char *dataset_name(const lra_data_plan *p) {
    return p->param[P_IDX] ? "IDX images (MNIST-like), not CIFAR-10" : NULL;
}

const lra_task_def lra_task_image = {
    .name = "image",
    .title = "Image",
    .num_classes = 10,
    .vocab_size = 512,
    .dual = 0,
    .metric = LRA_TASK_METRIC_ACCURACY,
    .max_length = 1024,
    .stops_early = 0,
    .source = {find_source, add_key, read_split, dataset_name},
};
