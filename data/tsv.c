// Buffered line reader (see tsv.h).
#include "data/tsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LRA_TSV_CHUNK ((size_t)1 << 20)

lra_status lra_tsv_open(lra_tsv *r, const char *path, size_t max_line) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->max_line = max_line ? max_line : ((size_t)64 << 20);
    r->f = fopen(path, "rb");
    if (!r->f) return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    r->cap = LRA_TSV_CHUNK;
    r->buf = lra_xmalloc(r->cap);
    return LRA_OK;
}

void lra_tsv_close(lra_tsv *r) {
    if (r->f) fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

// Appends at least one byte from the file to the buffer (or sets at_eof).
static lra_status fill(lra_tsv *r) {
    if (r->start > 0) {  // keep the pending partial line at the front
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end < LRA_TSV_CHUNK / 2) {
        r->cap *= 2;
        r->buf = lra_xrealloc(r->buf, r->cap);
    }
    size_t got = fread(r->buf + r->end, 1, r->cap - r->end - 1, r->f);  // -1: room for the final NUL
    if (got == 0) {
        if (ferror(r->f))
            return lra_error(LRA_ERR_IO, "%s: read error after line %lld: %s", r->path, (long long)r->line,
                             strerror(errno));
        r->at_eof = 1;
    }
    r->end += got;
    return LRA_OK;
}

lra_status lra_tsv_next(lra_tsv *r, char **line, size_t *len, int *eof) {
    *line = NULL;
    *len = 0;
    *eof = 0;
    size_t scanned = r->start;  // bytes before this are known to hold no '\n'
    for (;;) {
        char *nl = memchr(r->buf + scanned, '\n', r->end - scanned);
        size_t n = (nl ? (size_t)(nl - r->buf) : r->end) - r->start;
        if (n > r->max_line + 1)  // +1: a '\r' that will be stripped
            return lra_error(LRA_ERR_FORMAT, "%s:%lld: line longer than the limit of %zu bytes (wrong file?)", r->path,
                             (long long)r->line + 1, r->max_line);
        if (nl || r->at_eof) {
            if (!nl && n == 0) {
                *eof = 1;
                return LRA_OK;
            }
            char *s = r->buf + r->start;
            s[n] = '\0';  // overwrites '\n', or the spare byte after the data at end of file
            r->unterminated = nl == NULL;
            r->start += n + (nl ? 1 : 0);
            if (n > 0 && s[n - 1] == '\r') s[--n] = '\0';
            if (n > r->max_line)
                return lra_error(LRA_ERR_FORMAT, "%s:%lld: line longer than the limit of %zu bytes (wrong file?)",
                                 r->path, (long long)r->line + 1, r->max_line);
            r->line++;
            *line = s;
            *len = n;
            return LRA_OK;
        }
        size_t pending = r->end - r->start;
        LRA_TRY(fill(r));
        scanned = r->start + pending;
    }
}
