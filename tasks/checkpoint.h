// Training checkpoints in the container format of core/container.h (magic, version, CRC32 per tensor,
// zlib, atomic write): every parameter under "param/<name>", the optimizer moments as flat buffers
// "optim/m" and "optim/v", the resolved config ("config", text) and the metrics so far ("metrics",
// the metrics.jsonl text), and the training state as metadata: step, optimizer step, data cursor,
// early-stopping and best-checkpoint state, evaluation counter, seed.  Everything a resumed run needs
// to continue exactly as an uninterrupted one.
#ifndef LRA_TASKS_CHECKPOINT_H
#define LRA_TASKS_CHECKPOINT_H

#include <stdint.h>

#include "data/batcher.h"
#include "tasks/model.h"

#define LRA_CHECKPOINT_FORMAT "lra-checkpoint-1"

typedef struct {
    int64_t step;             // optimizer steps completed
    int64_t optim_step;       // the optimizer's own counter (AdamW k / SGD steps)
    lra_batch_cursor cursor;  // next training batch
    int64_t evals;            // evaluations done (keys eval-time sampling)
    double stop_best;         // best dev value seen by early stopping
    int bad_evals;            // evaluations since it improved
    double best_value;        // dev value of the best checkpoint
    int64_t best_step;        // -1: none yet
    int finished;             // 1: training ended (steps done or early stop)
    uint64_t seed;
} lra_train_state;

void lra_train_state_init(lra_train_state *s, uint64_t seed);

lra_status lra_checkpoint_save(const char *path, const lra_model *m, const lra_train_state *st, const char *config_yaml,
                               const char *metrics_text);
// Reads only the config text (to rebuild the model before loading).  *config_yaml: free().
lra_status lra_checkpoint_read_config(const char *path, char **config_yaml);
// Loads into an already built model of the same configuration.  metrics_text may be NULL (not wanted);
// otherwise *metrics_text receives a new string (free()).
lra_status lra_checkpoint_load(const char *path, lra_model *m, lra_train_state *st, char **metrics_text);

#endif
