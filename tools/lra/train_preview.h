// `lra train CONFIG --print-config` and `lra train CONFIG --dry-run`: look at a run before starting it.
// Neither trains nor writes anything (the data cache is neither read nor written by --dry-run).
#ifndef LRA_TOOLS_TRAIN_PREVIEW_H
#define LRA_TOOLS_TRAIN_PREVIEW_H

#include <stdint.h>
#include <stdio.h>

#include "tasks/run_dir.h"
#include "tasks/settings.h"

// The resolved config (every key, as config.yaml of the run would hold it), preceded by the model
// summary as YAML comments, so the output can be saved and used as a config.  Returns the exit status.
int lra_train_print_config(const lra_run_settings *s, const char *yaml, FILE *out);

// Checks everything a run needs before it starts -- the resolved config (done by the caller), the data of
// every split (found, readable, sizes, vocabulary and minimum lengths), the model (built and summarised),
// the memory estimate and the run directory (a fresh run must not find checkpoints there; --resume must
// find one) -- prints what it found and the resolved config to `out`, and returns the exit status: 0 when
// a real run would start, 1 (message printed) when it would not.
int lra_train_dry_run(const lra_run_settings *s, const char *yaml, const char *run_dir, lra_resume_mode resume,
                      int threads, FILE *out);

#endif
