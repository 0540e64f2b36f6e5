// Buffered line reader for the text-format readers: counts lines, strips one trailing '\r', refuses
// lines longer than a limit (so a wrong or binary file cannot exhaust memory), and tells whether the
// last line lacked its line end (a sign of a truncated file).
#ifndef LRA_DATA_TSV_H
#define LRA_DATA_TSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

typedef struct {
    FILE *f;
    const char *path;      // borrowed, for messages
    char *buf;
    size_t cap, start, end;
    size_t max_line;       // longest accepted line in bytes (without the line end)
    int64_t line;          // 1-based number of the line last returned
    int at_eof;            // the file has been read to its end
    int unterminated;      // the line last returned had no '\n' (end of file)
} lra_tsv;

// Opens `path`; `max_line` = 0 means 64 MiB.  The path string must outlive the reader.
lra_status lra_tsv_open(lra_tsv *r, const char *path, size_t max_line);
// Returns the next line (NUL-terminated, without "\n" or "\r\n") in *line/*len, valid until the next
// call; *eof = 1 (and *line = NULL) after the last line.  An over-long line is an LRA_ERR_FORMAT naming
// path:line.
lra_status lra_tsv_next(lra_tsv *r, char **line, size_t *len, int *eof);
void lra_tsv_close(lra_tsv *r);

#endif
