// Reading a run's metrics.jsonl back (the writer is tasks/metrics.c): the training lines and the dev
// ("val") lines as points, for `lra plot`.  Each line must be one flat JSON object with an integer
// "step" and a string "split"; "train" and "val" lines also need numeric (or null) "loss" and
// "accuracy".  Other splits ("test") and other keys are read and ignored.  Errors name file:line and
// the column where the line went wrong.
//
// Wall time is not logged as such: each training line carries "ms_per_step", the mean over the steps
// since the previous training line, and those intervals include the dev evaluations and checkpoints
// in between.  So the wall time at a training line is the running sum of ms_per_step * (steps in the
// interval); a dev line gets the time of the training line at its step, or a linear interpolation
// (past the last training line: extrapolated at the last rate).  Setup time (data loading, building the
// model) is not counted.  A run without ms_per_step has NAN wall times.
#ifndef LRA_TASKS_METRICS_READ_H
#define LRA_TASKS_METRICS_READ_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    int64_t step;
    double wall_s;    // seconds of training up to this point (see above); NAN when unknown
    double loss;      // NAN for null
    double accuracy;  // NAN for null
} lra_metric_point;

typedef struct {
    lra_metric_point *train, *dev;  // in file order; steps never decrease within a split
    int n_train, n_dev;
} lra_metric_series;

// Parses text[0..len) (the content of the file `name`, used in messages only).  On error *out is empty.
lra_status lra_metrics_parse(const char *text, size_t len, const char *name, lra_metric_series *out);
// Reads and parses the file at path.
lra_status lra_metrics_read(const char *path, lra_metric_series *out);
void lra_metric_series_free(lra_metric_series *s);

#endif
