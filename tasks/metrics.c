// metrics.jsonl (see metrics.h).
#include "tasks/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

static void append(lra_metrics *m, const char *s) {
    size_t n = strlen(s);
    if (m->len + n + 1 > m->cap) {
        m->cap = (m->len + n + 1) * 2;
        m->text = lra_xrealloc(m->text, m->cap);
    }
    memcpy(m->text + m->len, s, n + 1);
    m->len += n;
}

lra_status lra_metrics_open(lra_metrics *m, const char *run_dir, const char *previous, int write) {
    memset(m, 0, sizeof *m);
    append(m, previous ? previous : "");
    m->path = lra_path_join(run_dir, "metrics.jsonl");
    if (!write) return LRA_OK;
    LRA_TRY(lra_atomic_write_file(m->path, m->text, m->len));
    return lra_file_open(&m->file, m->path, "ab");
}

void lra_metrics_add(lra_metrics *m, const char *line) {
    append(m, line);
    append(m, "\n");
    if (m->file) {
        fprintf(m->file, "%s\n", line);
        fflush(m->file);
    }
}

const char *lra_metrics_text(const lra_metrics *m) { return m->text ? m->text : ""; }

void lra_metrics_close(lra_metrics *m) {
    if (m->file) fclose(m->file);
    free(m->text);
    free(m->path);
    memset(m, 0, sizeof *m);
}
