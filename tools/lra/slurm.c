// Slurm queries of `lra train` (see slurm.h).
#include "tools/lra/slurm.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// Reads a non-negative decimal number of at most `max_digits` digits; returns the characters used.
static int read_number(const char *s, int max_digits, long *out) {
    int n = 0;
    long v = 0;
    while (n < max_digits && isdigit((unsigned char)s[n])) v = v * 10 + (s[n++] - '0');
    *out = v;
    return n;
}

int lra_slurm_parse_duration(const char *text, double *seconds) {
    long part[4] = {0, 0, 0, 0}, days = 0;
    const char *p = text;
    int n = read_number(p, 6, &part[0]);
    if (n == 0) return 0;
    p += n;
    if (*p == '-') {  // days
        days = part[0];
        p++;
        if (!(n = read_number(p, 2, &part[0]))) return 0;
        p += n;
    }
    int fields = 1;
    while (*p == ':' && fields < 3) {
        if ((n = read_number(p + 1, 2, &part[fields])) != 2) return 0;
        p += 1 + n;
        fields++;
    }
    if (*p || fields < 2 || (days && fields != 3)) return 0;
    long h = 0, m, s;
    if (fields == 3) {
        h = part[0];
        m = part[1];
        s = part[2];
    } else {
        m = part[0];
        s = part[1];
    }
    if (s > 59 || (fields == 3 && m > 59)) return 0;
    *seconds = (double)(((days * 24 + h) * 60 + m) * 60 + s);
    return 1;
}

const char *lra_slurm_job_id(void) {
    const char *id = getenv("SLURM_JOB_ID");
    if (!id || !*id || strlen(id) > 40) return NULL;
    for (const char *c = id; *c; c++)
        if (!isdigit((unsigned char)*c) && *c != '_') return NULL;
    return id;
}

lra_status lra_slurm_time_left(double *seconds) {
    const char *id = lra_slurm_job_id();
    if (!id) return lra_error(LRA_ERR_STATE, "not running in a Slurm job (SLURM_JOB_ID is not set)");
    char cmd[128], line[128] = "";
    snprintf(cmd, sizeof cmd, "squeue -h -j %s -o %%L 2>&1", id);  // id is digits only
    FILE *f = popen(cmd, "r");
    if (!f) return lra_error(LRA_ERR_STATE, "cannot run squeue to read job %s's time limit", id);
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    const int rc = pclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (rc != 0) return lra_error(LRA_ERR_STATE, "`%s` failed: %s", cmd, line[0] ? line : "no output");
    if (!strcmp(line, "UNLIMITED") || !strcmp(line, "NOT_SET"))
        return lra_error(LRA_ERR_STATE, "Slurm job %s has no time limit (squeue: %s)", id, line);
    if (!lra_slurm_parse_duration(line, seconds))
        return lra_error(LRA_ERR_STATE, "squeue gave job %s's time left as '%s', expected [D-]HH:MM:SS or MM:SS", id,
                         line);
    return LRA_OK;
}

lra_status lra_slurm_requeue(void) {
    const char *id = lra_slurm_job_id();
    if (!id) return lra_error(LRA_ERR_STATE, "not running in a Slurm job (SLURM_JOB_ID is not set)");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return lra_error(LRA_ERR_STATE, "cannot start scontrol to requeue job %s", id);
    if (pid == 0) {
        execlp("scontrol", "scontrol", "requeue", id, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return lra_error(LRA_ERR_STATE, "`scontrol requeue %s` failed (exit status %d)", id,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return LRA_OK;
}
