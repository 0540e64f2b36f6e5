// Fuzz target: the metrics.jsonl reader of `lra plot` (tasks/metrics_read.c) on in-memory text.
#include "fuzz/fuzz.h"
#include "tasks/metrics_read.h"

LRA_FUZZ_TARGET(metrics) {
    lra_fuzz_tmpdir();  // quiets the log
    lra_metric_series s;
    if (lra_metrics_parse((const char *)data, size, "fuzz.jsonl", &s) == LRA_OK) lra_metric_series_free(&s);
    return 0;
}
