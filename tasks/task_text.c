// Text (task `text`): IMDb reviews, aclImdb/ or aclImdb_v1.tar.gz, read by data/read_imdb.h.
#include <stdio.h>
#include <stdlib.h>

#include "core/fileio.h"
#include "data/read_imdb.h"
#include "tasks/task.h"

static lra_status find_source(const char *path, lra_split split, const lra_load_options *opt, lra_data_plan *p) {
    p->source = lra_path_is_dir(path) ? lra_imdb_find_root(path) : lra_xstrdup(path);
    return p->source ? LRA_OK : LRA_ERR_IO;
}

static void add_key(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_data_key *k) {
    lra_data_key_printf(k, "max_len %lld\n", (long long)opt->max_len);
    if (!lra_path_is_dir(p->source)) {  // the archive
        lra_data_key_source(k, NULL, 0);
        return;
    }
    // Only the review folders this split reads (val reads test/, as IMDb has no validation split).
    const char *sd = split == LRA_SPLIT_TRAIN ? "train" : "test";
    for (int l = 0; l < 2; l++) {
        char sub[32];
        snprintf(sub, sizeof sub, "%s/%s", sd, l ? "pos" : "neg");
        lra_data_key_source(k, sub, 1);
    }
}

static lra_status read_split(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_dataset *out) {
    lra_imdb_options o = {0};
    o.max_len = opt->max_len;
    return lra_imdb_read(p->source, split, &o, out);
}

const lra_task_def lra_task_text = {
    .name = "text",
    .title = "Text",
    .num_classes = 2,
    .vocab_size = 512,
    .dual = 0,
    .metric = LRA_TASK_METRIC_ACCURACY,
    .max_length = 4000,
    .stops_early = 0,
    .source = {find_source, add_key, read_split, NULL},
};
