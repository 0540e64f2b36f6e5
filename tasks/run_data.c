// A run's split (see run_data.h).
#include "tasks/run_data.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "data/load.h"
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

lra_status lra_run_load_split(const lra_run_settings *s, lra_split split, lra_dataset *out) {
    LRA_TRY(lra_run_check_data_path(s));
    lra_load_options lo;
    lra_load_options_default(&lo);
    lo.cache_dir = s->cache_dir[0] ? s->cache_dir : NULL;
    lo.image_pixel_offset = s->pixel_offset;
    lo.max_len = s->max_length;
    lo.pathfinder_resolution = s->pf_resolution;
    lo.pathfinder_difficulty = s->pf_difficulty;
    int64_t limit = split == LRA_SPLIT_TRAIN ? s->max_train : s->max_eval;
    if (s->task->stops_early) lo.max_examples = limit;  // the reader stops there instead of reading it all
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
