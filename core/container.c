// The tensor container format (see container.h for the layout).
#include "core/container.h"

#include "core/checked.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/fileio.h"

#define HEADER_BYTES 64
#define CHUNK (256u * 1024u)
#define ZLIB_STEP ((size_t)1 << 30)  // zlib counts in uInt: feed at most 1 GiB per call

static const unsigned char MAGIC[8] = {0x89, 'L', 'R', 'A', '\r', '\n', 0x1a, '\n'};

size_t lra_container_dtype_size(lra_container_dtype dt) {
    switch (dt) {
    case LRA_CONTAINER_F32: return 4;
    case LRA_CONTAINER_I32: return 4;
    case LRA_CONTAINER_U8: return 1;
    case LRA_CONTAINER_U64: return 8;
    case LRA_CONTAINER_F64: return 8;
    case LRA_CONTAINER_I64: return 8;
    }
    return 0;
}

const char *lra_container_dtype_name(lra_container_dtype dt) {
    switch (dt) {
    case LRA_CONTAINER_F32: return "f32";
    case LRA_CONTAINER_I32: return "i32";
    case LRA_CONTAINER_U8: return "u8";
    case LRA_CONTAINER_U64: return "u64";
    case LRA_CONTAINER_F64: return "f64";
    case LRA_CONTAINER_I64: return "i64";
    }
    return "?";
}

// ---- little-endian helpers ---------------------------------------------------------------------

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint32_t crc32_of(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n > 0) {
        size_t k = n < ZLIB_STEP ? n : ZLIB_STEP;
        crc = (uint32_t)crc32(crc, p, (uInt)k);
        p += k;
        n -= k;
    }
    return crc;
}

// A growable byte buffer for the index.
typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes_buf;

static unsigned char *buf_grow(bytes_buf *b, size_t k) {
    if (b->n + k > b->cap) {
        b->cap = (b->n + k) * 2 + 256;
        b->p = lra_xrealloc(b->p, b->cap);
    }
    unsigned char *r = b->p + b->n;
    b->n += k;
    return r;
}
static void buf_u32(bytes_buf *b, uint32_t v) { put_u32(buf_grow(b, 4), v); }
static void buf_u64(bytes_buf *b, uint64_t v) { put_u64(buf_grow(b, 8), v); }
static void buf_str(bytes_buf *b, const char *s) {
    size_t n = strlen(s);
    buf_u32(b, (uint32_t)n);
    memcpy(buf_grow(b, n), s, n);
}

// ---- writer ------------------------------------------------------------------------------------

struct lra_container_writer {
    lra_atomic_writer *aw;
    char *path;
    int level;
    bytes_buf meta, dir;
    uint32_t n_meta, n_tensors;
    char **names;  // for the uniqueness checks (keys of metadata, then names of tensors)
    int n_names, cap_names;
    unsigned char *zbuf;  // CHUNK bytes of compressed output
    uint64_t pos;         // current payload end
};

static int name_seen(lra_container_writer *w, const char *kind, const char *name) {
    size_t kl = strlen(kind);
    for (int i = 0; i < w->n_names; i++)
        if (!strncmp(w->names[i], kind, kl) && !strcmp(w->names[i] + kl, name)) return 1;
    if (w->n_names == w->cap_names) {
        w->cap_names = w->cap_names ? 2 * w->cap_names : 16;
        w->names = lra_xrealloc(w->names, (size_t)w->cap_names * sizeof *w->names);
    }
    char *s = lra_xmalloc(kl + strlen(name) + 1);
    memcpy(s, kind, kl);
    strcpy(s + kl, name);
    w->names[w->n_names++] = s;
    return 0;
}

static void writer_free(lra_container_writer *w) {
    for (int i = 0; i < w->n_names; i++) free(w->names[i]);
    free(w->names);
    free(w->meta.p);
    free(w->dir.p);
    free(w->zbuf);
    free(w->path);
    free(w);
}

lra_status lra_container_begin(lra_container_writer **out, const char *path, int level) {
    LRA_ASSERT(out && path);
    LRA_ASSERT_MSG(level >= -1 && level <= 9, "zlib level %d", level);
    *out = NULL;
    if (!host_is_little_endian())
        return lra_error(LRA_ERR_UNSUPPORTED, "%s: the container format is little-endian; this host is not", path);
    lra_atomic_writer *aw;
    LRA_TRY(lra_atomic_begin(&aw, path));
    lra_container_writer *w = lra_xcalloc(1, sizeof *w);
    w->aw = aw;
    w->path = lra_xstrdup(path);
    w->level = level < 0 ? 1 : level;
    w->zbuf = lra_xmalloc(CHUNK);
    unsigned char zero[HEADER_BYTES] = {0};  // patched by commit
    lra_status s = lra_atomic_write(aw, zero, sizeof zero);
    if (s != LRA_OK) {
        lra_atomic_abort(aw);
        writer_free(w);
        return s;
    }
    w->pos = HEADER_BYTES;
    *out = w;
    return LRA_OK;
}

lra_status lra_container_put_meta(lra_container_writer *w, const char *key, const char *value) {
    LRA_ASSERT(w && key && value);
    if (name_seen(w, "m:", key))
        return lra_error(LRA_ERR_ARG, "%s: metadata key '%s' written twice", w->path, key);
    buf_str(&w->meta, key);
    buf_str(&w->meta, value);
    w->n_meta++;
    return LRA_OK;
}

// Streams `raw` through deflate into the atomic writer; *stored receives the compressed size.
static lra_status write_deflated(lra_container_writer *w, const char *name, const unsigned char *raw, size_t n,
                                 uint64_t *stored, uint32_t *stored_crc) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit(&z, w->level) != Z_OK)
        return lra_error(LRA_ERR_NOMEM, "%s: tensor '%s': cannot initialise zlib", w->path, name);
    uint64_t total = 0;
    size_t left = n;
    lra_status s = LRA_OK;
    int zr = Z_OK;
    do {
        if (z.avail_in == 0 && left > 0) {
            size_t k = left < ZLIB_STEP ? left : ZLIB_STEP;
            z.next_in = (unsigned char *)raw + (n - left);
            z.avail_in = (uInt)k;
            left -= k;
        }
        z.next_out = w->zbuf;
        z.avail_out = CHUNK;
        zr = deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR) {
            s = lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': zlib deflate failed", w->path, name);
            break;
        }
        size_t have = CHUNK - z.avail_out;
        *stored_crc = crc32_of(*stored_crc, w->zbuf, have);
        s = lra_atomic_write(w->aw, w->zbuf, have);
        total += have;
    } while (s == LRA_OK && zr != Z_STREAM_END);
    deflateEnd(&z);
    *stored = total;
    return s;
}

lra_status lra_container_put_tensor(lra_container_writer *w, const char *name, lra_container_dtype dtype,
                                    int ndim, const int64_t *shape, const void *data) {
    LRA_ASSERT(w && name);
    size_t esize = lra_container_dtype_size(dtype);
    LRA_ASSERT_MSG(esize > 0, "tensor '%s': unknown dtype %d", name, (int)dtype);
    LRA_ASSERT_MSG(ndim >= 0 && ndim <= LRA_CONTAINER_MAX_DIMS, "tensor '%s': ndim %d", name, ndim);
    size_t nl = strlen(name);
    if (nl == 0 || nl > LRA_CONTAINER_MAX_NAME)
        return lra_error(LRA_ERR_ARG, "%s: tensor name '%s' must have 1 to %d bytes", w->path, name,
                         LRA_CONTAINER_MAX_NAME);
    if (name_seen(w, "t:", name)) return lra_error(LRA_ERR_ARG, "%s: tensor '%s' written twice", w->path, name);
    uint64_t dims[LRA_CONTAINER_MAX_DIMS] = {1, 1, 1, 1};
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        LRA_ASSERT_MSG(shape[i] >= 0, "tensor '%s': dim %d is %lld", name, i, (long long)shape[i]);
        dims[i] = (uint64_t)shape[i];
        LRA_ASSERT_MSG(dims[i] == 0 || count <= UINT64_MAX / dims[i], "tensor '%s': size overflows", name);
        count *= dims[i];
    }
    LRA_ASSERT_MSG(count <= SIZE_MAX / esize, "tensor '%s': size overflows", name);
    size_t raw_bytes = (size_t)(count * esize);
    LRA_ASSERT(data != NULL || raw_bytes == 0);
    uint32_t crc = crc32_of((uint32_t)crc32(0, NULL, 0), data, raw_bytes);
    uint64_t stored = 0;
    uint32_t comp = w->level > 0 ? 1u : 0u, stored_crc = (uint32_t)crc32(0, NULL, 0);
    lra_status s;
    if (comp) {
        s = write_deflated(w, name, data, raw_bytes, &stored, &stored_crc);
    } else {
        s = lra_atomic_write(w->aw, data, raw_bytes);
        stored = raw_bytes;
        stored_crc = crc;
    }
    if (s != LRA_OK) return lra_error_context(s, "writing tensor '%s': ", name);
    buf_str(&w->dir, name);
    buf_u32(&w->dir, (uint32_t)dtype);
    buf_u32(&w->dir, (uint32_t)ndim);
    for (int i = 0; i < LRA_CONTAINER_MAX_DIMS; i++) buf_u64(&w->dir, dims[i]);
    buf_u64(&w->dir, w->pos);
    buf_u64(&w->dir, stored);
    buf_u64(&w->dir, raw_bytes);
    buf_u32(&w->dir, crc);
    buf_u32(&w->dir, comp);
    buf_u32(&w->dir, stored_crc);
    buf_u32(&w->dir, 0);
    w->pos += stored;
    w->n_tensors++;
    return LRA_OK;
}

lra_status lra_container_commit(lra_container_writer *w) {
    LRA_ASSERT(w);
    lra_atomic_writer *aw = w->aw;
    uint64_t index_offset = w->pos;
    uint64_t index_bytes = (uint64_t)w->meta.n + w->dir.n;
    uint32_t icrc = (uint32_t)crc32(0, NULL, 0);
    icrc = crc32_of(icrc, w->meta.p, w->meta.n);
    icrc = crc32_of(icrc, w->dir.p, w->dir.n);
    unsigned char h[HEADER_BYTES] = {0};
    memcpy(h, MAGIC, 8);
    put_u32(h + 8, LRA_CONTAINER_VERSION);
    put_u32(h + 12, 0);
    put_u64(h + 16, index_offset + index_bytes);
    put_u64(h + 24, index_offset);
    put_u64(h + 32, index_bytes);
    put_u32(h + 40, w->n_meta);
    put_u32(h + 44, w->n_tensors);
    put_u32(h + 48, icrc);
    put_u32(h + 60, (uint32_t)crc32(0, h, 60));
    lra_status s = lra_atomic_write(aw, w->meta.p, w->meta.n);
    if (s == LRA_OK) s = lra_atomic_write(aw, w->dir.p, w->dir.n);
    if (s == LRA_OK) s = lra_atomic_seek(aw, 0);
    if (s == LRA_OK) s = lra_atomic_write(aw, h, sizeof h);
    writer_free(w);
    if (s != LRA_OK) {
        lra_atomic_abort(aw);
        return s;
    }
    return lra_atomic_commit(aw);
}

void lra_container_abort(lra_container_writer *w) {
    if (!w) return;
    lra_atomic_abort(w->aw);
    writer_free(w);
}

// ---- reader ------------------------------------------------------------------------------------

typedef struct {
    char *key, *value;
} meta_kv;

struct lra_container_reader {
    char *path;
    FILE *fp;
    uint64_t file_bytes, index_offset;
    int n_meta, n_tensors;
    meta_kv *meta;
    lra_container_entry *entries;
    unsigned char *index;  // names point into a copy kept here
    unsigned char *zbuf;
};

void lra_container_close(lra_container_reader *r) {
    if (!r) return;
    if (r->fp) fclose(r->fp);
    for (int i = 0; r->meta && i < r->n_meta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].value);
    }
    for (int i = 0; r->entries && i < r->n_tensors; i++) free((char *)r->entries[i].name);
    free(r->meta);
    free(r->entries);
    free(r->index);
    free(r->zbuf);
    free(r->path);
    free(r);
}

// Cursor over the index with bounds checks.
typedef struct {
    const unsigned char *p;
    size_t n, at;
} cursor;

static int cur_u32(cursor *c, uint32_t *v) {
    if (c->n - c->at < 4) return 0;
    *v = get_u32(c->p + c->at);
    c->at += 4;
    return 1;
}
static int cur_u64(cursor *c, uint64_t *v) {
    if (c->n - c->at < 8) return 0;
    *v = get_u64(c->p + c->at);
    c->at += 8;
    return 1;
}
static int cur_str(cursor *c, char **s) {
    uint32_t len;
    if (!cur_u32(c, &len) || c->n - c->at < len) return 0;
    *s = lra_xmalloc((size_t)len + 1);
    memcpy(*s, c->p + c->at, len);
    (*s)[len] = '\0';
    c->at += len;
    return 1;
}

static lra_status corrupt(const char *path, const char *what) {
    return lra_error(LRA_ERR_FORMAT,
                     "%s: corrupt container: %s (the file is damaged or not a checkpoint; use another "
                     "checkpoint or re-create it)",
                     path, what);
}

static lra_status parse_index(lra_container_reader *r, const unsigned char *idx, size_t n) {
    cursor c = {idx, n, 0};
    r->meta = lra_xcalloc((size_t)r->n_meta + 1, sizeof *r->meta);
    for (int i = 0; i < r->n_meta; i++) {
        if (!cur_str(&c, &r->meta[i].key)) return corrupt(r->path, "metadata entry runs past the index");
        if (!cur_str(&c, &r->meta[i].value)) {
            free(r->meta[i].key);
            r->meta[i].key = NULL;
            return corrupt(r->path, "metadata entry runs past the index");
        }
    }
    r->entries = lra_xcalloc((size_t)r->n_tensors + 1, sizeof *r->entries);
    for (int i = 0; i < r->n_tensors; i++) {
        lra_container_entry *e = &r->entries[i];
        char *name;
        if (!cur_str(&c, &name)) return corrupt(r->path, "tensor entry runs past the index");
        e->name = name;
        uint32_t dt, nd, reserved;
        uint64_t dims[LRA_CONTAINER_MAX_DIMS];
        int ok = cur_u32(&c, &dt) && cur_u32(&c, &nd);
        for (int d = 0; d < LRA_CONTAINER_MAX_DIMS && ok; d++) ok = cur_u64(&c, &dims[d]);
        ok = ok && cur_u64(&c, &e->offset) && cur_u64(&c, &e->stored_bytes) && cur_u64(&c, &e->raw_bytes) &&
             cur_u32(&c, &e->crc32) && cur_u32(&c, &e->compression) && cur_u32(&c, &e->stored_crc32) &&
             cur_u32(&c, &reserved);
        if (!ok) return lra_error(LRA_ERR_FORMAT, "%s: corrupt container: entry of tensor '%s' is cut short", r->path, name);
        e->dtype = (lra_container_dtype)dt;
        size_t es = lra_container_dtype_size(e->dtype);
        if (es == 0) return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': unknown dtype code %u", r->path, name, dt);
        if (nd > LRA_CONTAINER_MAX_DIMS)
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': %u dimensions (at most %d)", r->path, name, nd,
                             LRA_CONTAINER_MAX_DIMS);
        e->ndim = (int)nd;
        uint64_t count = 1;
        for (int d = 0; d < LRA_CONTAINER_MAX_DIMS; d++) {
            if (d >= e->ndim && dims[d] != 1)  // the writer pads with 1; anything else would hide in the size
                return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': unused dimension %d is %llu, expected 1", r->path,
                                 name, d, (unsigned long long)dims[d]);
            if (dims[d] > (uint64_t)INT64_MAX || (dims[d] != 0 && count > UINT64_MAX / dims[d] / es))
                return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': dimension %d is too large", r->path, name, d);
            e->shape[d] = (int64_t)dims[d];
            count *= dims[d];
        }
        if (count * es != e->raw_bytes)
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': size %llu does not match its shape and dtype",
                             r->path, name, (unsigned long long)e->raw_bytes);
        if (e->compression > 1)
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': unknown compression %u", r->path, name, e->compression);
        if (e->compression == 0 && (e->stored_bytes != e->raw_bytes || e->stored_crc32 != e->crc32))
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': stored size or CRC differs from the raw one", r->path, name);
        if (e->offset < HEADER_BYTES || e->offset > r->index_offset || e->stored_bytes > r->index_offset - e->offset)
            return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s': payload [%llu, +%llu) lies outside the data area",
                             r->path, name, (unsigned long long)e->offset, (unsigned long long)e->stored_bytes);
        // The raw size is what readers allocate: it must be producible from the stored bytes.
        char what[LRA_CONTAINER_MAX_NAME + 32];
        snprintf(what, sizeof what, "tensor '%.1024s'", name);
        lra_status sz = lra_size_check(e->raw_bytes, e->stored_bytes, e->compression ? LRA_ZLIB_MAX_RATIO : 1,
                                       r->path, what);
        if (sz != LRA_OK) return sz;
        for (int j = 0; j < i; j++)
            if (!strcmp(r->entries[j].name, name))
                return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s' appears twice", r->path, name);
    }
    if (c.at != n) return corrupt(r->path, "trailing bytes after the index");
    return LRA_OK;
}

lra_status lra_container_open(lra_container_reader **out, const char *path) {
    LRA_ASSERT(out && path);
    *out = NULL;
    FILE *fp;
    LRA_TRY(lra_file_open(&fp, path, "rb"));
    lra_container_reader *r = lra_xcalloc(1, sizeof *r);
    r->fp = fp;
    r->path = lra_xstrdup(path);
    lra_status s;
    unsigned char h[HEADER_BYTES];
    int64_t size = 0;
#define FAIL(expr)              \
    do {                        \
        s = (expr);             \
        if (s != LRA_OK) goto fail; \
    } while (0)
    FAIL(lra_file_seek(fp, path, 0, SEEK_END));
    FAIL(lra_file_tell(fp, path, &size));
    FAIL(lra_file_seek(fp, path, 0, SEEK_SET));
    if (size < HEADER_BYTES) {
        FAIL(lra_error(LRA_ERR_FORMAT, "%s: not a container: only %lld bytes (truncated or empty file)", path,
                       (long long)size));
    }
    FAIL(lra_file_read(fp, path, h, sizeof h));
    if (memcmp(h, MAGIC, 8) != 0)
        FAIL(lra_error(LRA_ERR_FORMAT, "%s: not an lra container (bad magic bytes; is this a checkpoint file?)", path));
    uint32_t version = get_u32(h + 8);
    bool header_ok = get_u32(h + 60) == (uint32_t)crc32(0, h, 60);
    // Another version may lay out its header differently, so its CRC need not match ours.
    if (version != LRA_CONTAINER_VERSION)
        FAIL(lra_error(LRA_ERR_UNSUPPORTED, "%s: container format version %u, but this build reads version %d (%s)",
                       path, version, LRA_CONTAINER_VERSION,
                       !header_ok ? "or a damaged header"
                       : version > LRA_CONTAINER_VERSION ? "written by a newer lra; upgrade" : "too old"));
    if (!header_ok) FAIL(corrupt(path, "header CRC mismatch"));
    r->file_bytes = get_u64(h + 16);
    r->index_offset = get_u64(h + 24);
    uint64_t index_bytes = get_u64(h + 32);
    uint32_t n_meta = get_u32(h + 40), n_tensors = get_u32(h + 44);
    if ((uint64_t)size < r->file_bytes)
        FAIL(lra_error(LRA_ERR_FORMAT,
                       "%s: truncated container: the header says %llu bytes but the file has %lld (an "
                       "interrupted copy? use another checkpoint)",
                       path, (unsigned long long)r->file_bytes, (long long)size));
    if ((uint64_t)size > r->file_bytes)
        FAIL(lra_error(LRA_ERR_FORMAT, "%s: container has %lld bytes but its header says %llu", path,
                       (long long)size, (unsigned long long)r->file_bytes));
    if (r->index_offset < HEADER_BYTES || r->index_offset > r->file_bytes ||
        index_bytes != r->file_bytes - r->index_offset)
        FAIL(corrupt(path, "index position is inconsistent with the file size"));
    // Each index entry takes at least 8 (metadata) or 72 (tensor) bytes: bounds the allocations.
    if ((uint64_t)n_meta * 8 + (uint64_t)n_tensors * 72 > index_bytes)
        FAIL(corrupt(path, "entry counts do not fit in the index"));
    r->n_meta = 0;
    r->n_tensors = 0;
    r->index = lra_xmalloc(index_bytes ? (size_t)index_bytes : 1);
    FAIL(lra_file_seek(fp, path, (int64_t)r->index_offset, SEEK_SET));
    FAIL(lra_file_read(fp, path, r->index, (size_t)index_bytes));
    if (crc32_of((uint32_t)crc32(0, NULL, 0), r->index, (size_t)index_bytes) != get_u32(h + 48))
        FAIL(corrupt(path, "index CRC mismatch (metadata or tensor directory damaged)"));
    r->n_meta = (int)n_meta;
    r->n_tensors = (int)n_tensors;
    FAIL(parse_index(r, r->index, (size_t)index_bytes));
#undef FAIL
    r->zbuf = lra_xmalloc(CHUNK);
    *out = r;
    return LRA_OK;
fail:
    lra_container_close(r);
    return s;
}

const char *lra_container_path(const lra_container_reader *r) { return r->path; }

const char *lra_container_meta(const lra_container_reader *r, const char *key) {
    for (int i = 0; i < r->n_meta; i++)
        if (!strcmp(r->meta[i].key, key)) return r->meta[i].value;
    return NULL;
}

int lra_container_meta_count(const lra_container_reader *r) { return r->n_meta; }

void lra_container_meta_at(const lra_container_reader *r, int i, const char **key, const char **value) {
    LRA_ASSERT(i >= 0 && i < r->n_meta);
    *key = r->meta[i].key;
    *value = r->meta[i].value;
}

int lra_container_count(const lra_container_reader *r) { return r->n_tensors; }

const lra_container_entry *lra_container_entry_at(const lra_container_reader *r, int i) {
    LRA_ASSERT(i >= 0 && i < r->n_tensors);
    return &r->entries[i];
}

const lra_container_entry *lra_container_find(const lra_container_reader *r, const char *name) {
    for (int i = 0; i < r->n_tensors; i++)
        if (!strcmp(r->entries[i].name, name)) return &r->entries[i];
    return NULL;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

// Reads the payload of e into dst (e->raw_bytes) and checks the CRC.
static lra_status read_entry(lra_container_reader *r, const lra_container_entry *e, void *dst) {
    const char *path = r->path;
    LRA_TRY(lra_file_seek(r->fp, path, (int64_t)e->offset, SEEK_SET));
    if (e->compression == 0) {
        LRA_TRY(lra_file_read(r->fp, path, dst, (size_t)e->raw_bytes));
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit(&z) != Z_OK)
            return lra_error(LRA_ERR_NOMEM, "%s: tensor '%s': cannot initialise zlib", path, e->name);
        uint64_t in_left = e->stored_bytes;
        size_t out_left = (size_t)e->raw_bytes;
        unsigned char *outp = dst, spare;
        int in_spare = 0;  // output went to `spare`: the stream holds more than the shape allows
        uint32_t scrc = (uint32_t)crc32(0, NULL, 0);
        lra_status s = LRA_OK;
        int zr = Z_OK;
        for (;;) {
            if (z.avail_in == 0 && in_left > 0) {
                size_t k = in_left < CHUNK ? (size_t)in_left : CHUNK;
                s = lra_file_read(r->fp, path, r->zbuf, k);
                if (s != LRA_OK) break;
                scrc = crc32_of(scrc, r->zbuf, k);
                z.next_in = r->zbuf;
                z.avail_in = (uInt)k;
                in_left -= k;
            }
            if (z.avail_out == 0) {
                if (out_left > 0) {
                    size_t k = out_left < ZLIB_STEP ? out_left : ZLIB_STEP;
                    z.next_out = outp;
                    z.avail_out = (uInt)k;
                    outp += k;
                    out_left -= k;
                } else {
                    z.next_out = &spare;
                    z.avail_out = 1;
                    in_spare = 1;
                }
            }
            zr = inflate(&z, Z_NO_FLUSH);
            if (zr == Z_STREAM_END) break;
            if (zr != Z_OK || (in_spare && z.avail_out == 0)) break;  // damaged, cut short or too long
        }
        uint64_t produced = z.total_out;
        int leftover = z.avail_in != 0 || in_left != 0;
        const char *zmsg = zr == Z_DATA_ERROR && z.msg ? z.msg : "stream incomplete or too long";
        inflateEnd(&z);
        if (s != LRA_OK) return s;
        if (zr == Z_STREAM_END && !leftover && scrc != e->stored_crc32)
            return lra_error(LRA_ERR_FORMAT,
                             "%s: tensor '%s': CRC32 mismatch of the compressed bytes (stored %08x, computed %08x): "
                             "the payload is damaged",
                             path, e->name, e->stored_crc32, scrc);
        if (zr != Z_STREAM_END || produced != e->raw_bytes || leftover)
            return lra_error(LRA_ERR_FORMAT,
                             "%s: tensor '%s': compressed payload is damaged (zlib: %s; inflated %llu of %llu "
                             "bytes)",
                             path, e->name, zmsg,
                             (unsigned long long)produced, (unsigned long long)e->raw_bytes);
    }
    uint32_t crc = crc32_of((uint32_t)crc32(0, NULL, 0), dst, (size_t)e->raw_bytes);
    if (crc != e->crc32)
        return lra_error(LRA_ERR_FORMAT,
                         "%s: tensor '%s': CRC32 mismatch (stored %08x, computed %08x): the payload is damaged",
                         path, e->name, e->crc32, crc);
    return LRA_OK;
}

lra_status lra_container_read(lra_container_reader *r, const char *name, lra_container_dtype dtype, int ndim,
                              const int64_t *shape, void *dst, size_t dst_bytes) {
    LRA_ASSERT(r && name);
    const lra_container_entry *e = lra_container_find(r, name);
    if (!e) return lra_error(LRA_ERR_FORMAT, "%s: no tensor named '%s' (it has %d tensors)", r->path, name, r->n_tensors);
    if (e->dtype != dtype)
        return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s' has dtype %s but %s was expected", r->path, name,
                         lra_container_dtype_name(e->dtype), lra_container_dtype_name(dtype));
    int shape_ok = ndim < 0 || ndim == e->ndim;
    if (shape_ok && shape)
        for (int i = 0; i < e->ndim; i++) shape_ok = shape_ok && shape[i] == e->shape[i];
    if (!shape_ok) {
        char have[128], want[128];
        shape_str(have, sizeof have, e->ndim, e->shape);
        if (shape)
            shape_str(want, sizeof want, ndim, shape);
        else
            snprintf(want, sizeof want, "%d dimensions", ndim);
        return lra_error(LRA_ERR_FORMAT, "%s: tensor '%s' has shape %s but %s was expected (a checkpoint of another model?)",
                         r->path, name, have, want);
    }
    if (dst_bytes != e->raw_bytes)
        return lra_error(LRA_ERR_ARG, "%s: tensor '%s' has %llu bytes but the buffer has %zu", r->path, name,
                         (unsigned long long)e->raw_bytes, dst_bytes);
    return read_entry(r, e, dst);
}

lra_status lra_container_verify(lra_container_reader *r) {
    for (int i = 0; i < r->n_tensors; i++) {
        const lra_container_entry *e = &r->entries[i];
        void *tmp = malloc(e->raw_bytes ? (size_t)e->raw_bytes : 1);
        if (!tmp)
            return lra_error(LRA_ERR_NOMEM, "%s: tensor '%s': cannot allocate %llu bytes to verify it", r->path,
                             e->name, (unsigned long long)e->raw_bytes);
        lra_status s = read_entry(r, e, tmp);
        free(tmp);
        LRA_TRY(s);
    }
    return LRA_OK;
}
