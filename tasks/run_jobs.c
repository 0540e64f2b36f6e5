// The invocation log of a run directory (see run_jobs.h).
#include "tasks/run_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/log.h"

static void add_env(lra_json *j, const char *key, const char *var) {
    const char *v = getenv(var);
    if (v && *v) lra_json_str(j, key, v);
}

void lra_run_jobs_record(const char *run_dir, const char *event, int64_t step, int resumed, const char *outcome) {
    char when[32], host[256] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gethostname(host, sizeof host - 1);
    lra_json j;
    lra_json_begin(&j);
    lra_json_str(&j, "event", event);
    lra_json_str(&j, "time", when);
    lra_json_str(&j, "host", host);
    lra_json_int(&j, "pid", (long long)getpid());
    lra_json_int(&j, "step", (long long)step);
    if (outcome) lra_json_str(&j, "outcome", outcome);
    else lra_json_bool(&j, "resumed", resumed);
    add_env(&j, "slurm_job_id", "SLURM_JOB_ID");
    add_env(&j, "slurm_array_job_id", "SLURM_ARRAY_JOB_ID");
    add_env(&j, "slurm_array_task_id", "SLURM_ARRAY_TASK_ID");
    add_env(&j, "slurm_restart_count", "SLURM_RESTART_COUNT");
    const char *text = lra_json_end(&j);
    size_t n = strlen(text);
    char *line = lra_xmalloc(n + 2);
    memcpy(line, text, n);
    line[n] = '\n';
    char *path = lra_path_join(run_dir, "jobs.jsonl");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0 || write(fd, line, n + 1) != (ssize_t)(n + 1))
        LRA_LOG_W("%s: cannot record the invocation: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    free(path);
    free(line);
}
