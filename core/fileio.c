// Checked file I/O, the line reader, atomic writes and path helpers (see fileio.h).
#include "core/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

// A short "what to do" for the errno values a user can act on.
static const char *errno_hint(int e) {
    switch (e) {
    case ENOENT: return " (check the path; relative paths start at the current directory)";
    case EACCES:
    case EPERM: return " (check the permissions of the file and its directories)";
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return " (free disk space or write somewhere else)";
    case EISDIR: return " (a directory was given where a file is expected)";
    case ENOTDIR: return " (a component of the path is a file, not a directory)";
    case EROFS: return " (the file system is read-only; write somewhere else)";
    case EMFILE:
    case ENFILE: return " (too many open files; raise `ulimit -n`)";
    case EIO: return " (low-level I/O error: the disk or network file system may be failing)";
    case ENAMETOOLONG: return " (shorten the path)";
    default: return "";
    }
}

static lra_status io_error(const char *path, const char *what, int e) {
    return lra_error(LRA_ERR_IO, "%s: %s: %s%s", path, what, strerror(e), errno_hint(e));
}

lra_status lra_file_open(FILE **out, const char *path, const char *mode) {
    LRA_ASSERT(out && path && mode);
    *out = NULL;
    errno = 0;
    FILE *fp = fopen(path, mode);
    if (!fp) {
        int e = errno;
        const char *what = (mode[0] == 'r' && !strchr(mode, '+')) ? "cannot open for reading"
                                                                  : "cannot open for writing";
        return io_error(path, what, e);
    }
    // fopen succeeds on directories for reading; say so now rather than at the first read.
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        return io_error(path, "cannot open", EISDIR);
    }
    *out = fp;
    return LRA_OK;
}

lra_status lra_file_read_some(FILE *fp, const char *path, void *buf, size_t cap, size_t *got) {
    LRA_ASSERT(fp && got);
    errno = 0;
    size_t n = fread(buf, 1, cap, fp);
    *got = n;
    if (n < cap && ferror(fp)) return io_error(path, "read failed", errno ? errno : EIO);
    return LRA_OK;
}

lra_status lra_file_read(FILE *fp, const char *path, void *buf, size_t bytes) {
    size_t got;
    LRA_TRY(lra_file_read_some(fp, path, buf, bytes, &got));
    if (got < bytes)
        return lra_error(LRA_ERR_FORMAT,
                         "%s: truncated: expected %zu more bytes but the file ends after %zu "
                         "(the file may be incomplete; re-create or re-download it)",
                         path, bytes, got);
    return LRA_OK;
}

lra_status lra_file_write(FILE *fp, const char *path, const void *buf, size_t bytes) {
    LRA_ASSERT(fp);
    if (bytes == 0) return LRA_OK;
    errno = 0;
    if (fwrite(buf, 1, bytes, fp) != bytes) return io_error(path, "write failed", errno ? errno : EIO);
    return LRA_OK;
}

lra_status lra_file_seek(FILE *fp, const char *path, int64_t offset, int whence) {
    LRA_ASSERT(fp);
    errno = 0;
    if (fseeko(fp, (off_t)offset, whence) != 0) return io_error(path, "seek failed", errno ? errno : EIO);
    return LRA_OK;
}

lra_status lra_file_tell(FILE *fp, const char *path, int64_t *pos) {
    LRA_ASSERT(fp && pos);
    errno = 0;
    off_t p = ftello(fp);
    if (p < 0) return io_error(path, "tell failed", errno ? errno : EIO);
    *pos = (int64_t)p;
    return LRA_OK;
}

lra_status lra_file_close(FILE *fp, const char *path) {
    if (!fp) return LRA_OK;
    errno = 0;
    if (fclose(fp) != 0) return io_error(path, "close failed (data may not have been written)", errno ? errno : EIO);
    return LRA_OK;
}

lra_status lra_file_read_all(const char *path, char **data, size_t *size) {
    LRA_ASSERT(data && size);
    *data = NULL;
    *size = 0;
    FILE *fp;
    LRA_TRY(lra_file_open(&fp, path, "rb"));
    size_t cap = 1 << 16, n = 0;
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) cap = (size_t)st.st_size + 1;
    char *buf = lra_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {  // keep room for the NUL; files may grow or be pipes
            cap *= 2;
            buf = lra_xrealloc(buf, cap);
        }
        size_t got;
        lra_status s = lra_file_read_some(fp, path, buf + n, cap - 1 - n, &got);
        if (s != LRA_OK) {
            free(buf);
            fclose(fp);
            return s;
        }
        n += got;
        if (got == 0) break;
    }
    fclose(fp);
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return LRA_OK;
}

lra_status lra_file_stat(const char *path, lra_file_info *info) {
    LRA_ASSERT(path && info);
    struct stat st;
    if (stat(path, &st) != 0) return io_error(path, "cannot stat", errno);
    info->size = (int64_t)st.st_size;
    info->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + (int64_t)st.st_mtim.tv_nsec;
    info->is_dir = S_ISDIR(st.st_mode);
    return LRA_OK;
}

bool lra_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool lra_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool lra_path_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

lra_status lra_file_remove(const char *path) {
    if (unlink(path) != 0 && errno != ENOENT) return io_error(path, "cannot remove", errno);
    return LRA_OK;
}

// ---- line reader -------------------------------------------------------------------------------

lra_status lra_lines_open(lra_lines *r, const char *path) {
    LRA_ASSERT(r && path);
    memset(r, 0, sizeof *r);
    LRA_TRY(lra_file_open(&r->fp_, path, "rb"));
    r->path_ = lra_xstrdup(path);
    return LRA_OK;
}

lra_status lra_lines_next(lra_lines *r, bool *got) {
    LRA_ASSERT(r && r->fp_ && got);
    *got = false;
    errno = 0;
    ssize_t n = getline(&r->line, &r->cap_, r->fp_);
    if (n < 0) {
        if (ferror(r->fp_))
            return lra_error(LRA_ERR_IO, "%s:%lld: read failed: %s%s", r->path_, (long long)r->lineno + 1,
                             strerror(errno ? errno : EIO), errno_hint(errno));
        r->len = 0;
        return LRA_OK;  // end of file
    }
    size_t len = (size_t)n;
    if (len > 0 && r->line[len - 1] == '\n') len--;
    if (len > 0 && r->line[len - 1] == '\r') len--;
    r->line[len] = '\0';
    r->len = len;
    r->lineno++;
    *got = true;
    return LRA_OK;
}

void lra_lines_close(lra_lines *r) {
    if (!r) return;
    if (r->fp_) fclose(r->fp_);
    free(r->line);
    free(r->path_);
    memset(r, 0, sizeof *r);
}

// ---- atomic writer -----------------------------------------------------------------------------

struct lra_atomic_writer {
    FILE *fp;
    char *path;
    char *tmp;
    char *dir;
    lra_status failed;     // first error (sticky)
    char first_msg[512];   // its message, restored by commit
};

static lra_status atomic_fail(lra_atomic_writer *w, lra_status s) {
    if (w->failed == LRA_OK) {
        w->failed = s;
        snprintf(w->first_msg, sizeof w->first_msg, "%s", lra_error_message());
    }
    return s;
}

lra_status lra_atomic_begin(lra_atomic_writer **out, const char *path) {
    LRA_ASSERT(out && path && *path);
    *out = NULL;
    static _Atomic unsigned counter = 0;
    char *dir = lra_path_dirname(path);
    const char *base = lra_path_basename(path);
    size_t cap = strlen(dir) + strlen(base) + 64;
    char *tmp = lra_xmalloc(cap);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, cap, "%s/.%s.tmp.%ld.%u", dir, base, (long)getpid(), counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        lra_status s = lra_error(LRA_ERR_IO, "%s: cannot create a temporary file in '%s': %s%s", path, dir,
                                 strerror(e), errno_hint(e));
        free(tmp);
        free(dir);
        return s;
    }
    FILE *fp = fdopen(fd, "wb");
    LRA_ASSERT(fp != NULL);
    lra_atomic_writer *w = lra_xcalloc(1, sizeof *w);
    w->fp = fp;
    w->path = lra_xstrdup(path);
    w->tmp = tmp;
    w->dir = dir;
    *out = w;
    return LRA_OK;
}

lra_status lra_atomic_write(lra_atomic_writer *w, const void *buf, size_t bytes) {
    LRA_ASSERT(w);
    if (w->failed) return w->failed;
    if (bytes == 0) return LRA_OK;
    errno = 0;
    if (fwrite(buf, 1, bytes, w->fp) != bytes) {
        int e = errno ? errno : EIO;
        return atomic_fail(w, lra_error(LRA_ERR_IO, "%s: write failed (temporary file %s): %s%s", w->path,
                                        w->tmp, strerror(e), errno_hint(e)));
    }
    return LRA_OK;
}

lra_status lra_atomic_printf(lra_atomic_writer *w, const char *fmt, ...) {
    LRA_ASSERT(w);
    if (w->failed) return w->failed;
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    LRA_ASSERT(n >= 0);
    if ((size_t)n < sizeof small) return lra_atomic_write(w, small, (size_t)n);
    char *big = lra_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    lra_status s = lra_atomic_write(w, big, (size_t)n);
    free(big);
    return s;
}

lra_status lra_atomic_seek(lra_atomic_writer *w, int64_t offset) {
    LRA_ASSERT(w && offset >= 0);
    if (w->failed) return w->failed;
    lra_status s = lra_file_seek(w->fp, w->tmp, offset, SEEK_SET);
    return s ? atomic_fail(w, s) : LRA_OK;
}

int64_t lra_atomic_tell(const lra_atomic_writer *w) {
    LRA_ASSERT(w);
    return (int64_t)ftello(w->fp);
}

const char *lra_atomic_path(const lra_atomic_writer *w) { return w->path; }
const char *lra_atomic_temp_path(const lra_atomic_writer *w) { return w->tmp; }

static void atomic_free(lra_atomic_writer *w) {
    free(w->path);
    free(w->tmp);
    free(w->dir);
    free(w);
}

lra_status lra_atomic_commit(lra_atomic_writer *w) {
    LRA_ASSERT(w);
    lra_status s = w->failed;
    int e = 0;
    const char *what = NULL;
    if (s == LRA_OK) {
        if (fflush(w->fp) != 0) e = errno, what = "flush failed";
        else if (fsync(fileno(w->fp)) != 0) e = errno, what = "fsync failed";
    }
    if (fclose(w->fp) != 0 && s == LRA_OK && !what) e = errno, what = "close failed";
    w->fp = NULL;
    if (s == LRA_OK && !what && rename(w->tmp, w->path) != 0) e = errno, what = "cannot rename the temporary file over it";
    if (s == LRA_OK && what)
        s = lra_error(LRA_ERR_IO, "%s: %s (temporary file %s): %s%s", w->path, what, w->tmp, strerror(e),
                      errno_hint(e));
    else if (s != LRA_OK)
        lra_error(s, "%s", w->first_msg);
    if (s != LRA_OK) {
        unlink(w->tmp);
        atomic_free(w);
        return s;
    }
    // Make the rename itself durable.  Some file systems refuse fsync on directories (EINVAL):
    // the data are already in place then, so only real I/O errors count.
    int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno == EIO) s = io_error(w->dir, "fsync of the directory failed", EIO);
        close(dfd);
    }
    atomic_free(w);
    return s;
}

void lra_atomic_abort(lra_atomic_writer *w) {
    if (!w) return;
    if (w->fp) fclose(w->fp);
    unlink(w->tmp);
    atomic_free(w);
}

lra_status lra_atomic_write_file(const char *path, const void *data, size_t bytes) {
    lra_atomic_writer *w;
    LRA_TRY(lra_atomic_begin(&w, path));
    lra_status s = lra_atomic_write(w, data, bytes);
    if (s != LRA_OK) {
        lra_atomic_abort(w);
        return s;
    }
    return lra_atomic_commit(w);
}

// Removes from dir the temporary files ".NAME.tmp.PID.N" of atomic writers whose process is gone;
// only_base: NAME must be this (NULL: any NAME).
static lra_status cleanup_temps(const char *dir, const char *only_base, int *removed) {
    if (removed) *removed = 0;
    DIR *d = opendir(dir);
    if (!d) return io_error(dir, "cannot list the directory", errno);
    lra_status s = LRA_OK;
    struct dirent *e;
    while ((e = readdir(d)) && s == LRA_OK) {
        const char *name = e->d_name, *tag = strstr(name, ".tmp.");
        if (name[0] != '.' || !tag || tag == name + 1) continue;
        // The last ".tmp." separates NAME from PID.N (NAME itself may contain ".tmp.").
        for (const char *t; (t = strstr(tag + 1, ".tmp.")) != NULL;) tag = t;
        if (only_base && ((size_t)(tag - name - 1) != strlen(only_base) || strncmp(name + 1, only_base, strlen(only_base))))
            continue;
        char *end;
        long pid = strtol(tag + 5, &end, 10);
        if (end == tag + 5 || *end != '.' || pid <= 0) continue;  // not one of ours
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;  // writer alive
        char *full = lra_path_join(dir, name);
        if (unlink(full) == 0) {
            if (removed) (*removed)++;
        } else if (errno != ENOENT) {
            s = io_error(full, "cannot remove a stale temporary file", errno);
        }
        free(full);
    }
    closedir(d);
    return s;
}

lra_status lra_atomic_cleanup(const char *path, int *removed) {
    LRA_ASSERT(path);
    char *dir = lra_path_dirname(path);
    lra_status s = cleanup_temps(dir, lra_path_basename(path), removed);
    free(dir);
    return s;
}

lra_status lra_atomic_cleanup_dir(const char *dir, int *removed) {
    LRA_ASSERT(dir);
    return cleanup_temps(dir, NULL, removed);
}

// ---- directories and paths ---------------------------------------------------------------------

lra_status lra_path_mkdirs(const char *path) {
    LRA_ASSERT(path);
    if (!*path) return LRA_OK;
    char *p = lra_xstrdup(path);
    size_t n = strlen(p);
    lra_status s = LRA_OK;
    // Create each prefix that ends before a '/', then the whole path.
    for (size_t i = 1; i <= n && s == LRA_OK; i++) {
        if (i < n && p[i] != '/') continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0) {
            int e = errno;
            struct stat st;
            if (e == EEXIST && stat(p, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                    s = lra_error(LRA_ERR_IO, "%s: cannot create directory: '%s' exists and is not a directory",
                                  path, p);
            } else {
                s = lra_error(LRA_ERR_IO, "%s: cannot create directory '%s': %s%s", path, p, strerror(e),
                              errno_hint(e));
            }
        }
        p[i] = saved;
    }
    free(p);
    return s;
}

char *lra_path_join(const char *a, const char *b) {
    LRA_ASSERT(a && b);
    if (b[0] == '/' || a[0] == '\0') return lra_xstrdup(b);
    if (b[0] == '\0') return lra_xstrdup(a);
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/') na--;
    char *r = lra_xmalloc(na + nb + 2);
    memcpy(r, a, na);
    size_t k = na;
    if (a[na - 1] != '/') r[k++] = '/';
    memcpy(r + k, b, nb + 1);
    return r;
}

char *lra_path_dirname(const char *path) {
    LRA_ASSERT(path);
    const char *slash = strrchr(path, '/');
    if (!slash) return lra_xstrdup(".");
    size_t n = (size_t)(slash - path);
    while (n > 0 && path[n - 1] == '/') n--;
    if (n == 0) return lra_xstrdup("/");
    char *r = lra_xmalloc(n + 1);
    memcpy(r, path, n);
    r[n] = '\0';
    return r;
}

const char *lra_path_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
