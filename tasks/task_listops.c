// ListOps (task `listops`): basic_<split>.tsv of the LRA release, read by data/read_listops.h.
#include <stdlib.h>

#include "core/fileio.h"
#include "data/read_listops.h"
#include "tasks/task.h"

static lra_status find_source(const char *path, lra_split split, const lra_load_options *opt, lra_data_plan *p) {
    static const char *const file[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    // One file cannot be train, val and test at once: ListOps needs the folder of all three.
    if (!lra_path_is_dir(path))
        return lra_error(LRA_ERR_ARG, "%s: is a file; data.path for listops must be a folder holding "
                         "basic_train.tsv, basic_val.tsv and basic_test.tsv (or listops-1000/ with them)", path);
    p->source = lra_data_find_in_release(path, "listops-1000", file[split]);
    return p->source ? LRA_OK : LRA_ERR_IO;
}

static void add_key(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_data_key *k) {
    lra_data_key_printf(k, "max_len %lld\nallow_unknown %d\n", (long long)opt->max_len,
                        opt->listops_allow_unknown != 0);
    lra_data_key_source(k, NULL, 0);
}

static lra_status read_split(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_dataset *out) {
    lra_listops_options o = {0};
    o.allow_unknown = opt->listops_allow_unknown;
    o.max_len = opt->max_len;
    return lra_listops_read(p->source, &o, out);
}

const lra_task_def lra_task_listops = {
    .name = "listops",
    .title = "ListOps",
    .num_classes = 10,
    .vocab_size = 32,
    .dual = 0,
    .metric = LRA_TASK_METRIC_ACCURACY,
    .max_length = 2000,
    .stops_early = 0,
    .generate = "listops",
    .source = {find_source, add_key, read_split, NULL},
};
