// Streaming reader for tar archives, plain or gzip-compressed (.tar, .tar.gz, .tgz, and the LRA
// release's bare .gz), without extracting anything to disk (data.md §2).
//
// Formats: POSIX ustar (prefix + "/" + name), old GNU and v7 headers, GNU long names ('L'), pax
// extended headers ('x': the path and size records are honoured; 'g' is skipped), GNU base-256 sizes.
// gzip is detected by its magic bytes (several gzip members back to back are fine); anything else is
// read as a plain tar.  Every header's checksum is verified.  Errors name the archive and the member.
//
// Usage:
//   lra_tar *t; LRA_TRY(lra_tar_open(path, &t));
//   for (;;) { const char *name; int64_t size; int done;
//              if ((s = lra_tar_next(t, &name, &size, &done)) != LRA_OK || done) break;
//              ... lra_tar_read(t, buf, n) any number of times, n in total <= size ... }
//   lra_tar_close(t);
#ifndef LRA_DATA_TAR_H
#define LRA_DATA_TAR_H

#include <stdint.h>

#include "core/status.h"

typedef struct lra_tar lra_tar;

// Opens a .tar, .tar.gz or .tgz file.  On error *out is NULL.
lra_status lra_tar_open(const char *path, lra_tar **out);

// Advances to the next regular-file member (skipping unread data of the previous one and non-file
// entries such as directories, links and pax records); *name is its path (valid until the next
// call), *size its size in bytes.  At the end of the archive: LRA_OK with *done = 1.
// An archive that ends without its end-of-archive blocks, inside a header or inside a member's data
// is an LRA_ERR_FORMAT error naming the archive (and member).
lra_status lra_tar_next(lra_tar *t, const char **name, int64_t *size, int *done);

// Reads exactly `size` bytes of the current member into buf (successive calls continue where the
// previous one stopped).  Asking for more than is left of the member is LRA_ERR_ARG; a member cut
// short by the end of the file is LRA_ERR_FORMAT.
lra_status lra_tar_read(lra_tar *t, void *buf, int64_t size);

// Bytes of the current member not read yet.
int64_t lra_tar_remaining(const lra_tar *t);

// The path the archive was opened with.
const char *lra_tar_path(const lra_tar *t);

void lra_tar_close(lra_tar *t);

#endif
