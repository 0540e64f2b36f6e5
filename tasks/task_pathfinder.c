// Pathfinder (task `pathfinder`, 32x32) and Path-X (task `pathx`, the same at 128x128): a difficulty
// folder of the LRA release (images and metadata/*.npy), read by data/read_pathfinder.h.  The reader
// can stop after the first max_examples of a split, so the tasks declare stops_early.
#include <stdlib.h>

#include "core/log.h"
#include "data/read_pathfinder.h"
#include "tasks/task.h"

enum { P_RESOLUTION, P_DIFFICULTY };  // lra_data_plan.param

static uint32_t split_seed(const lra_load_options *opt) {
    return opt->pathfinder_seed ? opt->pathfinder_seed : LRA_PATHFINDER_SEED;
}

// data.pathfinder_resolution 0 means the task's own size.
static lra_status plan_at(int default_resolution, const char *path, const lra_load_options *opt, lra_data_plan *p) {
    p->param[P_RESOLUTION] = opt->pathfinder_resolution > 0 ? opt->pathfinder_resolution : default_resolution;
    lra_pf_difficulty d = LRA_PF_HARD;
    if (opt->pathfinder_difficulty) LRA_TRY(lra_pathfinder_parse_difficulty(opt->pathfinder_difficulty, &d));
    p->param[P_DIFFICULTY] = (int)d;
    p->source = lra_pathfinder_find(path, p->param[P_RESOLUTION], d);
    return p->source ? LRA_OK : LRA_ERR_IO;
}

static lra_status plan32(const char *path, lra_split split, const lra_load_options *opt, lra_data_plan *p) {
    return plan_at(32, path, opt, p);
}

static lra_status plan128(const char *path, lra_split split, const lra_load_options *opt, lra_data_plan *p) {
    return plan_at(128, path, opt, p);
}

static void add_key(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_data_key *k) {
    lra_data_key_printf(k, "resolution %d\ndifficulty %d\nseed %u\nmax_examples %lld\npixel_offset %d\n",
                        p->param[P_RESOLUTION], p->param[P_DIFFICULTY], split_seed(opt), (long long)opt->max_examples,
                        opt->image_pixel_offset != 0);
    // Metadata files one by one; image folders by their modification times (not 200,000 stats).
    lra_data_key_source(k, "metadata", 1);
    lra_data_key_source(k, "imgs", 1);
}

static lra_status read_split(const lra_data_plan *p, lra_split split, const lra_load_options *opt, lra_dataset *out) {
    lra_pathfinder_options o;
    lra_pathfinder_options_default(&o);
    o.image.pixel_offset = opt->image_pixel_offset != 0;
    o.seed = split_seed(opt);
    o.max_examples = opt->max_examples;
    lra_pathfinder_info info;
    lra_status st = lra_pathfinder_read(p->source, split, &o, out, &info);
    if (st == LRA_OK && info.skipped_empty > 0)
        LRA_LOG_I("%s: %lld empty image file(s) skipped", p->source, (long long)info.skipped_empty);
    return st;
}

const lra_task_def lra_task_pathfinder = {
    .name = "pathfinder",
    .title = "Pathfinder",
    .num_classes = 2,
    .vocab_size = 512,
    .dual = 0,
    .metric = LRA_TASK_METRIC_ACCURACY,
    .max_length = 1024,
    .stops_early = 1,
    .generate = "pathfinder",
    .source = {plan32, add_key, read_split, NULL},
};

const lra_task_def lra_task_pathx = {
    .name = "pathx",
    .title = NULL,  // Path-X is not a column of the papers' table
    .num_classes = 2,
    .vocab_size = 512,
    .dual = 0,
    .metric = LRA_TASK_METRIC_ACCURACY,
    .max_length = 16384,
    .stops_early = 1,
    .generate = "pathfinder --size 128",
    .source = {plan128, add_key, read_split, NULL},
};
