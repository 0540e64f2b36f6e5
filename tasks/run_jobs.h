// RUN_DIR/jobs.jsonl: one line when an invocation of `lra train` starts on a run directory and one when
// it ends, so a run that was pre-empted and requeued several times tells which job did what.  A line
// holds the UTC time, host and process id, the step, and under Slurm the job id, the array job and task
// ids and the restart count (SLURM_JOB_ID, SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_RESTART_COUNT):
//   {"event": "start", "time": "2026-12-03T07:40:00Z", "host": "n12", "pid": 4242, "step": 600,
//    "resumed": true, "slurm_job_id": "1234", "slurm_array_job_id": "1230", "slurm_array_task_id": "4",
//    "slurm_restart_count": "1"}
//   {"event": "end", "time": "...", "host": "n12", "pid": 4242, "step": 900, "outcome": "time_limit", ...}
// Lines are appended whole (one write each); losing one is harmless, so no atomic rewrite.
#ifndef LRA_TASKS_RUN_JOBS_H
#define LRA_TASKS_RUN_JOBS_H

#include <stdint.h>

// outcome (end lines): "finished", "stop_at", "signal", "time_limit" or "error"; NULL for a start line.
// resumed: start lines only.  Failure to write is only warned about.
void lra_run_jobs_record(const char *run_dir, const char *event, int64_t step, int resumed, const char *outcome);

#endif
