// Tar reading over zlib's gz* file API, which inflates gzip input (one or more members) and passes
// any other file through unchanged, so plain and compressed archives share one code path.
#include "data/tar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/checked.h"

#define TAR_BLOCK 512
#define TAR_MAX_META ((int64_t)1 << 20)   // largest GNU long name / pax record block we accept

struct lra_tar {
    char *path;
    gzFile gz;
    int64_t offset;       // position in the uncompressed tar stream
    int64_t remaining;    // unread data bytes of the current member
    int64_t padding;      // padding bytes after the current member's data
    int64_t size;         // size of the current member
    int at_end;
    int64_t file_bytes;   // size of the archive file on disk, bounds every member size
    char *name;           // current member's path
    char *pending_name;   // from a GNU 'L' or pax 'x' record, for the next header
    int64_t pending_size; // from a pax 'x' record, -1 when none
    uint8_t scratch[65536];
};

const char *lra_tar_path(const lra_tar *t) { return t->path; }
int64_t lra_tar_remaining(const lra_tar *t) { return t->remaining; }

// Reads up to n bytes; *got < n only at the end of the input.  A decompression error is reported.
static lra_status raw_read(lra_tar *t, void *buf, size_t n, size_t *got, const char *what) {
    size_t total = 0;
    while (total < n) {
        size_t want = n - total;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(t->gz, (char *)buf + total, (unsigned)want);
        if (r < 0) {
            int errnum;
            const char *msg = gzerror(t->gz, &errnum);
            if (errnum == Z_ERRNO) msg = strerror(errno);
            if (errnum == Z_BUF_ERROR) break;   // truncated gzip stream: the caller reports a short read
            return lra_error(LRA_ERR_FORMAT, "%s: decompression error at tar offset %lld (%s): %s", t->path,
                             (long long)(t->offset + (int64_t)total), what, msg);
        }
        if (r == 0) break;
        total += (size_t)r;
    }
    t->offset += (int64_t)total;
    *got = total;
    return LRA_OK;
}

// Text that explains why a read came up short (a gzip error if there was one).
static const char *short_reason(lra_tar *t) {
    int errnum = Z_OK;
    const char *msg = gzerror(t->gz, &errnum);
    if (errnum != Z_OK && msg && *msg) return msg;
    return "end of file";
}

static lra_status skip_bytes(lra_tar *t, int64_t n) {
    while (n > 0) {
        size_t want = n > (int64_t)sizeof t->scratch ? sizeof t->scratch : (size_t)n;
        size_t got;
        LRA_TRY(raw_read(t, t->scratch, want, &got, t->name ? t->name : "skipping"));
        if (got < want)
            return lra_error(LRA_ERR_FORMAT, "%s: member '%s' cut short: archive ends at tar offset %lld (%s)",
                             t->path, t->name ? t->name : "?", (long long)t->offset, short_reason(t));
        n -= (int64_t)got;
    }
    return LRA_OK;
}

lra_status lra_tar_open(const char *path, lra_tar **out) {
    *out = NULL;
    FILE *probe = fopen(path, "rb");
    if (!probe) return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    int64_t file_bytes = fstat(fileno(probe), &sb) == 0 ? (int64_t)sb.st_size : INT64_MAX;
    fclose(probe);
    gzFile gz = gzopen(path, "rb");
    if (!gz) return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(gz, 1 << 17);
    lra_tar *t = lra_xcalloc(1, sizeof *t);
    t->path = lra_xstrdup(path);
    t->gz = gz;
    t->pending_size = -1;
    t->file_bytes = file_bytes;
    *out = t;
    return LRA_OK;
}

void lra_tar_close(lra_tar *t) {
    if (!t) return;
    if (t->gz) gzclose(t->gz);
    free(t->path);
    free(t->name);
    free(t->pending_name);
    free(t);
}

// Parses a numeric header field: octal ASCII (leading spaces, ended by NUL or space) or GNU base-256.
static int parse_number(const uint8_t *f, int len, int64_t *out) {
    if (f[0] & 0x80) {
        if (f[0] != 0x80) return 0;   // negative or over 2^63: not a size we accept
        uint64_t v = 0;
        for (int i = 1; i < len; i++) {
            if (v >> 55) return 0;
            v = (v << 8) | f[i];
        }
        if (v > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v;
        return 1;
    }
    int i = 0;
    while (i < len && f[i] == ' ') i++;
    uint64_t v = 0;
    int digits = 0;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60) return 0;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (i < len && f[i] != ' ' && f[i] != '\0') return 0;
    if (digits == 0 && i < len && f[i] == ' ') return 0;
    *out = (int64_t)v;
    return 1;
}

static int header_checksum_ok(const uint8_t *h, int64_t stored) {
    int64_t us = 0, ss = 0;   // unsigned sum (POSIX) and signed sum (some old writers)
    for (int i = 0; i < TAR_BLOCK; i++) {
        uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];
        us += c;
        ss += (int8_t)c;
    }
    return stored == us || stored == ss;
}

// Copies a NUL-padded field of at most len bytes.
static char *field_str(const uint8_t *f, size_t len) {
    size_t n = strnlen((const char *)f, len);
    char *s = lra_xmalloc(n + 1);
    memcpy(s, f, n);
    s[n] = '\0';
    return s;
}

// Reads a metadata member's data (long name or pax records) into a NUL-terminated buffer.
static lra_status read_meta(lra_tar *t, int64_t size, const char *kind, char **out) {
    if (size > TAR_MAX_META)
        return lra_error(LRA_ERR_FORMAT, "%s: %s record at tar offset %lld is %lld bytes (limit %lld)", t->path, kind,
                         (long long)t->offset, (long long)size, (long long)TAR_MAX_META);
    char *buf = lra_xmalloc((size_t)size + 1);
    size_t got;
    lra_status s = raw_read(t, buf, (size_t)size, &got, kind);
    if (s == LRA_OK && got < (size_t)size)
        s = lra_error(LRA_ERR_FORMAT, "%s: %s record cut short at tar offset %lld (%s)", t->path, kind,
                      (long long)t->offset, short_reason(t));
    if (s == LRA_OK) s = skip_bytes(t, (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
    if (s != LRA_OK) {
        free(buf);
        return s;
    }
    buf[size] = '\0';
    *out = buf;
    return LRA_OK;
}

// Parses pax records "<len> <key>=<value>\n"; keeps path and size.
static lra_status parse_pax(lra_tar *t, const char *rec, int64_t size) {
    int64_t pos = 0;
    while (pos < size) {
        int64_t len = 0, i = pos;
        while (i < size && rec[i] >= '0' && rec[i] <= '9' && len < size) len = len * 10 + (rec[i++] - '0');
        if (i >= size || rec[i] != ' ' || len <= i - pos + 1 || pos + len > size || rec[pos + len - 1] != '\n')
            return lra_error(LRA_ERR_FORMAT, "%s: malformed pax record at byte %lld of an extended header",
                             t->path, (long long)pos);
        const char *kv = rec + i + 1, *end = rec + pos + len - 1;
        const char *eq = memchr(kv, '=', (size_t)(end - kv));
        if (!eq) return lra_error(LRA_ERR_FORMAT, "%s: pax record without '=' in an extended header", t->path);
        size_t klen = (size_t)(eq - kv);
        if (klen == 4 && !memcmp(kv, "path", 4)) {
            free(t->pending_name);
            size_t vlen = (size_t)(end - eq - 1);
            t->pending_name = lra_xmalloc(vlen + 1);
            memcpy(t->pending_name, eq + 1, vlen);
            t->pending_name[vlen] = '\0';
        } else if (klen == 4 && !memcmp(kv, "size", 4)) {
            int64_t v = 0;
            const char *p = eq + 1;
            if (p == end) return lra_error(LRA_ERR_FORMAT, "%s: empty pax size record", t->path);
            for (; p < end; p++) {
                if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
                    return lra_error(LRA_ERR_FORMAT, "%s: bad pax size record", t->path);
                v = v * 10 + (*p - '0');
            }
            t->pending_size = v;
        }
        pos += len;
    }
    return LRA_OK;
}

static int all_zero(const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

// For gzip input, reads the rest of the stream (normally zero padding) so that a cut-off or corrupt
// gzip trailer (CRC-32, length) is reported instead of silently accepted.
static lra_status drain_gzip(lra_tar *t) {
    if (gzdirect(t->gz)) return LRA_OK;
    for (;;) {
        int r = gzread(t->gz, t->scratch, sizeof t->scratch);
        int errnum = Z_OK;
        const char *msg = gzerror(t->gz, &errnum);
        if (r == 0 && errnum == Z_OK) return LRA_OK;
        if (r <= 0) {   // a cut-off gzip stream reads as 0 bytes with Z_BUF_ERROR set
            return lra_error(LRA_ERR_FORMAT, "%s: gzip stream %s after the end-of-archive block: %s", t->path,
                             errnum == Z_BUF_ERROR ? "cut short" : "damaged", msg);
        }
    }
}

// A member's data (plus padding) must fit in what the archive file can hold: its size on disk, or
// LRA_ZLIB_MAX_RATIO times that when it is gzip-compressed.  This also keeps size + padding and the
// offsets derived from it far from int64 overflow.
static lra_status check_member_size(lra_tar *t, int64_t size, const char *member, int64_t hdr_off) {
    uint64_t padded;
    if (size < 0 || !lra_add_u64((uint64_t)size, TAR_BLOCK, &padded))
        return lra_error(LRA_ERR_FORMAT, "%s: member '%s' at tar offset %lld has an impossible size %lld", t->path,
                         member, (long long)hdr_off, (long long)size);
    if (gzdirect(t->gz)) {   // a plain archive: the data must end within the file
        uint64_t end = (uint64_t)hdr_off + TAR_BLOCK + (uint64_t)size;
        if ((uint64_t)size > (uint64_t)t->file_bytes || end > (uint64_t)t->file_bytes)
            return lra_error(LRA_ERR_FORMAT, "%s: member '%s' cut short: its header at tar offset %lld declares %lld "
                             "bytes, but the archive ends at offset %lld (truncated or corrupt?)", t->path, member,
                             (long long)hdr_off, (long long)size, (long long)t->file_bytes);
        return LRA_OK;
    }
    char where[512];
    snprintf(where, sizeof where, "%s: member '%s' at tar offset %lld", t->path, member, (long long)hdr_off);
    return lra_size_check(padded, (uint64_t)t->file_bytes, LRA_ZLIB_MAX_RATIO, where, "its header");
}

lra_status lra_tar_next(lra_tar *t, const char **name, int64_t *size, int *done) {
    *done = 0;
    *name = NULL;
    *size = 0;
    if (t->at_end) {
        *done = 1;
        return LRA_OK;
    }
    LRA_TRY(skip_bytes(t, t->remaining + t->padding));
    t->remaining = t->padding = 0;
    uint8_t h[TAR_BLOCK];
    for (;;) {
        int64_t hdr_off = t->offset;
        size_t got;
        LRA_TRY(raw_read(t, h, TAR_BLOCK, &got, "header"));
        if (got == 0)
            return lra_error(LRA_ERR_FORMAT, "%s: truncated archive: ends at tar offset %lld without the "
                             "end-of-archive blocks (%s)", t->path, (long long)hdr_off, short_reason(t));
        if (got < TAR_BLOCK)
            return lra_error(LRA_ERR_FORMAT, "%s: truncated archive: ends inside the header at tar offset %lld (%s)",
                             t->path, (long long)hdr_off, short_reason(t));
        if (all_zero(h, TAR_BLOCK)) {   // end-of-archive marker (the second zero block is not required)
            t->at_end = 1;
            LRA_TRY(drain_gzip(t));
            free(t->name);
            t->name = NULL;
            *done = 1;
            return LRA_OK;
        }
        char shown[101];
        memcpy(shown, h, 100);
        shown[100] = '\0';
        int64_t stored_sum, hsize;
        if (!parse_number(h + 148, 8, &stored_sum) || !header_checksum_ok(h, stored_sum))
            return lra_error(LRA_ERR_FORMAT, "%s: bad header checksum at tar offset %lld (member '%s'): not a tar "
                             "archive or corrupt", t->path, (long long)hdr_off, shown);
        if (!parse_number(h + 124, 12, &hsize))
            return lra_error(LRA_ERR_FORMAT, "%s: bad size field in the header of member '%s' at tar offset %lld",
                             t->path, shown, (long long)hdr_off);
        char type = (char)h[156];
        if (t->pending_size >= 0 && type != 'L' && type != 'x' && type != 'g' && type != 'K') {
            hsize = t->pending_size;
        }
        LRA_TRY(check_member_size(t, hsize, t->pending_name ? t->pending_name : shown, hdr_off));
        if (type == 'L' || type == 'K') {
            char *s;
            LRA_TRY(read_meta(t, hsize, type == 'L' ? "GNU long name" : "GNU long link name", &s));
            if (type == 'L') {
                free(t->pending_name);
                t->pending_name = s;
            } else {
                free(s);
            }
            continue;
        }
        if (type == 'x' || type == 'g') {
            char *s;
            LRA_TRY(read_meta(t, hsize, "pax extended header", &s));
            lra_status st = type == 'x' ? parse_pax(t, s, hsize) : LRA_OK;
            free(s);
            LRA_TRY(st);
            continue;
        }
        // The member's own header: its name is the pending long name, else ustar prefix + name.
        free(t->name);
        if (t->pending_name) {
            t->name = t->pending_name;
            t->pending_name = NULL;
        } else if (!memcmp(h + 257, "ustar\0", 6) && h[345]) {
            char *prefix = field_str(h + 345, 155), *base = field_str(h, 100);
            size_t n = strlen(prefix) + 1 + strlen(base) + 1;
            t->name = lra_xmalloc(n);
            snprintf(t->name, n, "%s/%s", prefix, base);
            free(prefix);
            free(base);
        } else {
            t->name = field_str(h, 100);
        }
        t->pending_size = -1;
        int regular = type == '0' || type == '\0' || type == '7';
        int no_data = type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6';
        int64_t data = no_data ? 0 : hsize;
        if (!regular) {   // directories, links, devices, unknown types: skip their data
            LRA_TRY(skip_bytes(t, data + (TAR_BLOCK - data % TAR_BLOCK) % TAR_BLOCK));
            continue;
        }
        t->size = hsize;
        t->remaining = hsize;
        t->padding = (TAR_BLOCK - hsize % TAR_BLOCK) % TAR_BLOCK;
        *name = t->name;
        *size = hsize;
        return LRA_OK;
    }
}

lra_status lra_tar_read(lra_tar *t, void *buf, int64_t size) {
    if (size < 0 || size > t->remaining)
        return lra_error(LRA_ERR_ARG, "%s: member '%s': asked for %lld bytes, only %lld left", t->path,
                         t->name ? t->name : "(none)", (long long)size, (long long)t->remaining);
    size_t got;
    LRA_TRY(raw_read(t, buf, (size_t)size, &got, t->name));
    t->remaining -= (int64_t)got;
    if (got < (size_t)size)
        return lra_error(LRA_ERR_FORMAT, "%s: member '%s' cut short: %lld of its %lld bytes present (%s)", t->path,
                         t->name, (long long)(t->size - t->remaining), (long long)t->size, short_reason(t));
    return LRA_OK;
}
