// Checked file I/O: every wrapper names the file, says what failed and adds a hint of what to do,
// e.g. "runs/x/ckpt.bin: cannot open for writing: No space left on device (free disk space or
// write elsewhere)".  All functions return LRA_OK or an lra_status with the message set
// (core/status.h); none of them aborts on a bad file.
//
// Also here: the atomic writer (temporary file in the same directory, fsync, rename, fsync of the
// directory, so a crash leaves either the old or the new file), a line reader with line numbers,
// mkdir -p, size/mtime queries for cache keys and path helpers.
#ifndef LRA_CORE_FILEIO_H
#define LRA_CORE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

// ---- plain files -------------------------------------------------------------------------------
// `path` is only used for messages in the functions that take an open FILE.

// fopen with a message; mode as for fopen ("rb", "wb", ...).
lra_status lra_file_open(FILE **out, const char *path, const char *mode);
// Reads exactly `bytes`; a short read is LRA_ERR_FORMAT ("truncated: expected N more bytes").
lra_status lra_file_read(FILE *fp, const char *path, void *buf, size_t bytes);
// Reads up to `cap` bytes; *got < cap only at end of file.
lra_status lra_file_read_some(FILE *fp, const char *path, void *buf, size_t cap, size_t *got);
lra_status lra_file_write(FILE *fp, const char *path, const void *buf, size_t bytes);
// whence: SEEK_SET, SEEK_CUR or SEEK_END.  64-bit offsets.
lra_status lra_file_seek(FILE *fp, const char *path, int64_t offset, int whence);
lra_status lra_file_tell(FILE *fp, const char *path, int64_t *pos);
// fclose that reports the errors of delayed writes.  fp == NULL is a no-op.
lra_status lra_file_close(FILE *fp, const char *path);
// Reads a whole file into a new buffer (free with free()); a NUL is appended after the data
// (not counted in *size), so text can be used as a C string.
lra_status lra_file_read_all(const char *path, char **data, size_t *size);

typedef struct {
    int64_t size;      // bytes
    int64_t mtime_ns;  // modification time, nanoseconds since the epoch
    bool is_dir;
} lra_file_info;

// stat(2) with a message.  For cache keys: (size, mtime_ns) of each input file.
lra_status lra_file_stat(const char *path, lra_file_info *info);
bool lra_file_exists(const char *path);   // true for files and directories
bool lra_path_is_dir(const char *path);   // an existing directory (after following links)
bool lra_path_is_file(const char *path);  // an existing regular file (after following links)
lra_status lra_file_remove(const char *path);  // unlink; a missing file is not an error

// ---- line reader -------------------------------------------------------------------------------
// Usage:
//   lra_lines lr; LRA_TRY(lra_lines_open(&lr, path));
//   bool got; while ((s = lra_lines_next(&lr, &got)) == LRA_OK && got) use(lr.line, lr.len, lr.lineno);
//   lra_lines_close(&lr);
typedef struct {
    char *line;       // current line without its "\n" or "\r\n", NUL-terminated
    size_t len;       // bytes in line (a line may contain NUL bytes)
    int64_t lineno;   // 1-based number of the current line
    // private
    FILE *fp_;
    char *path_;
    size_t cap_;
} lra_lines;

lra_status lra_lines_open(lra_lines *r, const char *path);
// *got = false at end of file.  A final line without a newline is returned as a line.
lra_status lra_lines_next(lra_lines *r, bool *got);
void lra_lines_close(lra_lines *r);

// ---- atomic writes -----------------------------------------------------------------------------
// The data go to "DIR/.NAME.tmp.PID.N" next to the target; commit flushes, fsyncs, renames it over
// the target and fsyncs the directory.  Abandoning the writer (abort, an error, a crash, SIGKILL)
// leaves the previous target untouched.  The first error is sticky: later writes do nothing and
// commit returns it, so a caller may check only the commit.  A killed process can leave its
// temporary file behind (the name starts with '.' and contains ".tmp.").
typedef struct lra_atomic_writer lra_atomic_writer;

lra_status lra_atomic_begin(lra_atomic_writer **out, const char *path);
lra_status lra_atomic_write(lra_atomic_writer *w, const void *buf, size_t bytes);
lra_status lra_atomic_printf(lra_atomic_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Random access within the temporary file (e.g. to patch a header after the payload).
lra_status lra_atomic_seek(lra_atomic_writer *w, int64_t offset);
int64_t lra_atomic_tell(const lra_atomic_writer *w);
const char *lra_atomic_path(const lra_atomic_writer *w);       // the target path
const char *lra_atomic_temp_path(const lra_atomic_writer *w);  // the temporary file
// Makes the file visible under its name and frees w (also on failure, after removing the temp).
lra_status lra_atomic_commit(lra_atomic_writer *w);
// Removes the temporary file and frees w; the target is unchanged.  w == NULL is a no-op.
void lra_atomic_abort(lra_atomic_writer *w);
// One-shot: writes `bytes` from data atomically to path.
lra_status lra_atomic_write_file(const char *path, const void *data, size_t bytes);
// Removes the temporary files that writers of `path` left behind when they were killed (those whose
// process no longer exists); *removed (may be NULL) receives their number.
lra_status lra_atomic_cleanup(const char *path, int *removed);
// The same for every target in a directory (`lra train` calls it on its run directory at start, so a
// run killed while writing a checkpoint leaves no .tmp file behind once it is resumed or restarted).
lra_status lra_atomic_cleanup_dir(const char *dir, int *removed);

// ---- directories and paths ---------------------------------------------------------------------
// mkdir -p (mode 0777 minus umask); existing directories are fine, an existing file is an error.
lra_status lra_path_mkdirs(const char *path);
// "a" + "b" -> "a/b" (one slash); an absolute or empty b returns a copy of b / a.  Free with free().
char *lra_path_join(const char *a, const char *b);
// "x/y/z.bin" -> "x/y"; "z.bin" -> "."; "/z" -> "/".  Free with free().
char *lra_path_dirname(const char *path);
// "x/y/z.bin" -> "z.bin" (a pointer into path, trailing slashes are not stripped).
const char *lra_path_basename(const char *path);

#endif
