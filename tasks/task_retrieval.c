// Retrieval (task `retrieval`): the AAN citation pairs new_aan_pairs.<split>.tsv of the LRA release,
// read by data/read_aan.h; two documents per example (the dual encoder).
#include <stdlib.h>

#include "core/fileio.h"
#include "data/read_aan.h"
#include "tasks/task.h"

static lra_status find_source(const char *path, lra_split split, const lra_load_options *opt, lra_data_plan *p) {
    static const char *const file[3] = {"new_aan_pairs.train.tsv", "new_aan_pairs.eval.tsv", "new_aan_pairs.test.tsv"};
    // A file is read whatever the split (a folder picks the split's file).
    p->source = lra_path_is_dir(path) ? lra_data_find_in_release(path, "tsv_data", file[split]) : lra_xstrdup(path);
    return p->source ? LRA_OK : LRA_ERR_IO;
}

static void add_key(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_data_key *k) {
    lra_data_key_printf(k, "max_len %lld\n", (long long)opt->max_len);
    lra_data_key_source(k, NULL, 0);
}

static lra_status read_split(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_dataset *out) {
    lra_aan_options o = {0};
    o.max_len = opt->max_len;
    return lra_aan_read(p->source, &o, out);
}

const lra_task_def lra_task_retrieval = {
    .name = "retrieval",
    .title = "Retrieval",
    .num_classes = 2,
    .vocab_size = 512,
    .dual = 1,
    .metric = LRA_TASK_METRIC_ACCURACY,
    .max_length = 4000,
    .stops_early = 0,
    .source = {find_source, add_key, read_split, NULL},
};
