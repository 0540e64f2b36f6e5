// What `lra train` asks of Slurm: durations as Slurm writes them, the time left to the job it runs in
// (`squeue -o %L`), and requeueing that job (`scontrol requeue`).  The job is the one named by
// SLURM_JOB_ID (set by sbatch and srun; an array task has its own).
#ifndef LRA_TOOLS_SLURM_H
#define LRA_TOOLS_SLURM_H

#include "core/status.h"

// "[D-]HH:MM:SS", "H:MM:SS" or "MM:SS" (Slurm's %L and --time forms with seconds) -> seconds.
// Returns 0 when the text is not one of them.
int lra_slurm_parse_duration(const char *text, double *seconds);
// SLURM_JOB_ID when it is set and well formed (digits, with an optional _N array suffix), else NULL.
const char *lra_slurm_job_id(void);
// Seconds left to this job before its time limit.  LRA_ERR_STATE with a message when not running under
// Slurm, when squeue cannot tell, or when the job has no time limit.
lra_status lra_slurm_time_left(double *seconds);
// Puts this job back in the queue (`scontrol requeue ID`); Slurm then ends the running job.
lra_status lra_slurm_requeue(void);

#endif
