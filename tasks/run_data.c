// A run's split (see run_data.h).
#include "tasks/run_data.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "data/load.h"
#include "tasks/data_fingerprint.h"
#include "tasks/task.h"

lra_status lra_run_check_data_path(const lra_run_settings *s) {
    struct stat sb;
    if (stat(s->data_path, &sb) == 0) return LRA_OK;
    const int e = errno;
    if (e != ENOENT)
        return lra_error(LRA_ERR_IO, "data.path '%s' (task %s): %s", s->data_path, s->task->name, strerror(e));
    if (s->task->generate)
        return lra_error(LRA_ERR_IO,
                         "data.path '%s' (task %s): no such file or directory; generate it with `lra data generate %s "
                         "--out %s`, or point data.path at the data (--set data.path=PATH)",
                         s->data_path, s->task->name, s->task->generate, s->data_path);
    return lra_error(LRA_ERR_IO,
                     "data.path '%s' (task %s): no such file or directory; download the data (README: \"Where the data "
                     "come from\") and point data.path at it (--set data.path=PATH)",
                     s->data_path, s->task->name);
}

// The loader's options for a split of the run.
static void load_options(const lra_run_settings *s, lra_split split, lra_load_options *lo) {
    lra_load_options_default(lo);
    lo->cache_dir = s->cache_dir[0] ? s->cache_dir : NULL;
    lo->image_pixel_offset = s->pixel_offset;
    lo->max_len = s->max_length;
    lo->pathfinder_resolution = s->pf_resolution;
    lo->pathfinder_difficulty = s->pf_difficulty;
    int64_t limit = split == LRA_SPLIT_TRAIN ? s->max_train : s->max_eval;
    if (s->task->stops_early) lo->max_examples = limit;  // the reader stops there instead of reading it all
}

lra_status lra_run_record_data(const lra_run_settings *s, const char *run_dir, const lra_dataset *train,
                               const lra_dataset *val, const lra_dataset *test) {
    lra_data_fingerprint fp;
    memset(&fp, 0, sizeof fp);
    const lra_dataset *splits[3] = {train, val, test};
    lra_data_fingerprint_compute(splits, &fp);
    lra_load_options lo;
    load_options(s, LRA_SPLIT_TRAIN, &lo);
    LRA_TRY(lra_task_describe_data(s->task->name, s->data_path, &lo, fp.dataset, sizeof fp.dataset));
    return lra_data_fingerprint_write(run_dir, s->task->name, &fp);
}

lra_status lra_run_load_split(const lra_run_settings *s, lra_split split, lra_dataset *out) {
    LRA_TRY(lra_run_check_data_path(s));
    lra_load_options lo;
    load_options(s, split, &lo);
    int64_t limit = split == LRA_SPLIT_TRAIN ? s->max_train : s->max_eval;
    LRA_TRY(lra_task_load(s->task->name, s->data_path, split, &lo, out));
    if (limit > 0 && out->count > limit) out->count = limit;  // offsets beyond stay valid and unused
    if (out->count == 0)
        return lra_error(LRA_ERR_FORMAT, "%s: the %s split of task %s is empty", s->data_path, lra_split_name(split),
                         s->task->name);
    const int need = s->model.enc.kernel ? s->model.enc.kernel->min_tokens : 0;
    if (need > 0)
        for (int64_t i = 0; i < out->count; i++)
            for (int q = 0; q < out->n_seq; q++)
                if (lra_dataset_len(out, i, q) < need)
                    return lra_error(LRA_ERR_FORMAT,
                                     "%s: example %lld of the %s split has %lld tokens; attention '%s' needs at least %d "
                                     "real tokens per sequence",
                                     s->data_path, (long long)i, lra_split_name(split),
                                     (long long)lra_dataset_len(out, i, q), s->model.enc.kernel->name, need);
    if (out->vocab_size > s->model.enc.vocab_size)
        return lra_error(LRA_ERR_CONFIG, "model.vocab_size %d is smaller than the data's vocabulary (%d ids)",
                         s->model.enc.vocab_size, out->vocab_size);
    return LRA_OK;
}
