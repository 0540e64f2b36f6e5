// Binary dataset cache (see cache.h).
#include "data/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/checked.h"
#include "core/fileio.h"

enum { HDR_FIXED = 136, SEC_AT = 64, CHUNK = 1 << 18, MAX_KEY = 1 << 20 };
enum { SEC_LENGTHS = 0, SEC_TOKENS = 1, SEC_LABELS = 2 };
#define FLAG_U8 1u  // tokens stored one per byte
#define FLAG_U4 2u  // tokens stored two per byte (low nibble first): every id < 16, e.g. ListOps

typedef struct {
    uint64_t raw, comp;
    uint32_t crc;
} section;

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

// zlib's crc32 takes a uInt length; this one takes any size.
static uint32_t crc_update(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

// ---- writing -----------------------------------------------------------------------------------

typedef struct {
    lra_atomic_writer *w;
    z_stream z;
    section sec;
    uint8_t out[CHUNK];
} sec_writer;

static lra_status sec_begin(sec_writer *s, lra_atomic_writer *w, const char *path) {
    memset(&s->z, 0, sizeof s->z);
    s->w = w;
    s->sec = (section){0, 0, (uint32_t)crc32(0L, Z_NULL, 0)};
    // Level 1: the payload is mostly small ids; speed matters more than the last few percent.
    if (deflateInit(&s->z, Z_BEST_SPEED) != Z_OK) return lra_error(LRA_ERR_NOMEM, "%s: deflateInit failed", path);
    return LRA_OK;
}

// Compresses n bytes (or, with finish, flushes the stream end).
static lra_status sec_feed(sec_writer *s, const void *data, size_t n, int finish, const char *path) {
    s->sec.crc = crc_update(s->sec.crc, data, n);
    s->sec.raw += n;
    s->z.next_in = (Bytef *)(uintptr_t)data;
    s->z.avail_in = (uInt)n;
    for (;;) {
        s->z.next_out = s->out;
        s->z.avail_out = CHUNK;
        int rc = deflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_ERROR) return lra_error(LRA_ERR_FORMAT, "%s: deflate failed", path);
        size_t have = CHUNK - s->z.avail_out;
        if (have) {
            LRA_TRY(lra_atomic_write(s->w, s->out, have));
            s->sec.comp += have;
        }
        if (finish ? rc == Z_STREAM_END : (s->z.avail_in == 0 && s->z.avail_out != 0)) break;
    }
    if (finish) deflateEnd(&s->z);
    return LRA_OK;
}

static lra_status write_sections(lra_atomic_writer *w, const char *path, const lra_dataset *ds, int bits,
                                 section secs[3]) {
    sec_writer *s = lra_xmalloc(sizeof *s);
    uint8_t *buf = lra_xmalloc(CHUNK);
    lra_status st = LRA_OK;
    int64_t nseq = ds->count * ds->n_seq, ntok = lra_dataset_num_tokens(ds);
    // Lengths as u32.
    st = sec_begin(s, w, path);
    for (int64_t k = 0; k < nseq && st == LRA_OK; k += CHUNK / 4) {
        int64_t m = nseq - k < CHUNK / 4 ? nseq - k : CHUNK / 4;
        for (int64_t j = 0; j < m; j++) put_u32(buf + 4 * j, (uint32_t)(ds->offsets[k + j + 1] - ds->offsets[k + j]));
        st = sec_feed(s, buf, (size_t)m * 4, 0, path);
    }
    if (st == LRA_OK) st = sec_feed(s, NULL, 0, 1, path);
    secs[SEC_LENGTHS] = s->sec;
    // Tokens as 4, 8 or 16 bits (host order; cache files are only made on little-endian hosts).
    // Narrow tokens matter for the load time: inflating is the slowest step.
    if (st == LRA_OK) st = sec_begin(s, w, path);
    if (bits == 4) {
        for (int64_t k = 0; k < ntok && st == LRA_OK; k += 2 * (int64_t)CHUNK) {
            int64_t m = ntok - k < 2 * (int64_t)CHUNK ? ntok - k : 2 * (int64_t)CHUNK;
            const uint16_t *src = ds->tokens + k;
            for (int64_t j = 0; j < m / 2; j++) buf[j] = (uint8_t)(src[2 * j] | src[2 * j + 1] << 4);
            if (m & 1) buf[m / 2] = (uint8_t)src[m - 1];
            st = sec_feed(s, buf, (size_t)((m + 1) / 2), 0, path);
        }
    } else if (bits == 8) {
        for (int64_t k = 0; k < ntok && st == LRA_OK; k += CHUNK) {
            int64_t m = ntok - k < CHUNK ? ntok - k : CHUNK;
            for (int64_t j = 0; j < m; j++) buf[j] = (uint8_t)ds->tokens[k + j];
            st = sec_feed(s, buf, (size_t)m, 0, path);
        }
    } else if (st == LRA_OK && ntok > 0) {
        st = sec_feed(s, ds->tokens, (size_t)ntok * 2, 0, path);
    }
    if (st == LRA_OK) st = sec_feed(s, NULL, 0, 1, path);
    secs[SEC_TOKENS] = s->sec;
    // Labels as i32.
    if (st == LRA_OK) st = sec_begin(s, w, path);
    if (st == LRA_OK && ds->count > 0) st = sec_feed(s, ds->labels, (size_t)ds->count * 4, 0, path);
    if (st == LRA_OK) st = sec_feed(s, NULL, 0, 1, path);
    secs[SEC_LABELS] = s->sec;
    if (st != LRA_OK) deflateEnd(&s->z);
    free(buf);
    free(s);
    return st;
}

static size_t build_header(uint8_t *h, const char *key, const lra_dataset *ds, int bits, const section secs[3]) {
    size_t klen = strlen(key);
    memset(h, 0, HDR_FIXED);
    memcpy(h, LRA_CACHE_MAGIC, 8);
    put_u32(h + 8, LRA_CACHE_VERSION);
    put_u32(h + 12, (uint32_t)(HDR_FIXED + klen + 4));
    put_u32(h + 16, (uint32_t)klen);
    put_u32(h + 20, bits == 4 ? FLAG_U4 : bits == 8 ? FLAG_U8 : 0);
    put_u64(h + 24, (uint64_t)ds->count);
    put_u32(h + 32, (uint32_t)ds->n_seq);
    put_u32(h + 36, (uint32_t)ds->vocab_size);
    put_u32(h + 40, (uint32_t)ds->num_classes);
    put_u64(h + 48, (uint64_t)ds->max_seq_len);
    put_u64(h + 56, (uint64_t)lra_dataset_num_tokens(ds));
    for (int i = 0; i < 3; i++) {
        put_u64(h + SEC_AT + 24 * i, secs[i].raw);
        put_u64(h + SEC_AT + 24 * i + 8, secs[i].comp);
        put_u32(h + SEC_AT + 24 * i + 16, secs[i].crc);
    }
    memcpy(h + HDR_FIXED, key, klen);
    put_u32(h + HDR_FIXED + klen, crc_update((uint32_t)crc32(0L, Z_NULL, 0), h, HDR_FIXED + klen));
    return HDR_FIXED + klen + 4;
}

lra_status lra_cache_save(const char *path, const char *key, const lra_dataset *ds) {
    if (!host_is_little_endian())
        return lra_error(LRA_ERR_UNSUPPORTED, "%s: the dataset cache needs a little-endian host", path);
    size_t klen = strlen(key);
    if (klen > MAX_KEY) return lra_error(LRA_ERR_ARG, "%s: cache key of %zu bytes is too long", path, klen);
    int64_t ntok = lra_dataset_num_tokens(ds);
    uint16_t maxid = 0;
    for (int64_t t = 0; t < ntok; t++) maxid = ds->tokens[t] > maxid ? ds->tokens[t] : maxid;
    int bits = maxid < 16 ? 4 : maxid < 256 ? 8 : 16;
    uint8_t *h = lra_xmalloc(HDR_FIXED + klen + 4);
    section secs[3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    // The header is written twice: a placeholder first, the real one once the section sizes are known.
    size_t hbytes = build_header(h, key, ds, bits, secs);
    lra_atomic_writer *w = NULL;
    lra_status st = lra_atomic_begin(&w, path);
    if (st == LRA_OK) st = lra_atomic_write(w, h, hbytes);
    if (st == LRA_OK) st = write_sections(w, path, ds, bits, secs);
    if (st == LRA_OK) st = lra_atomic_seek(w, 0);
    if (st == LRA_OK) {
        build_header(h, key, ds, bits, secs);
        st = lra_atomic_write(w, h, hbytes);
    }
    if (st == LRA_OK) {
        st = lra_atomic_commit(w);
    } else if (w) {
        lra_atomic_abort(w);
    }
    free(h);
    return st;
}

// ---- reading -----------------------------------------------------------------------------------

typedef struct {
    FILE *f;
    const char *path;
    const char *what;  // section name for messages
    z_stream z;
    uint64_t comp_left;
    uint32_t crc;
    int ended;
    uint8_t in[CHUNK];
} sec_reader;

static lra_status sec_open(sec_reader *r, FILE *f, const char *path, const char *what, uint64_t comp) {
    memset(&r->z, 0, sizeof r->z);
    r->f = f;
    r->path = path;
    r->what = what;
    r->comp_left = comp;
    r->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    r->ended = 0;
    if (inflateInit(&r->z) != Z_OK) return lra_error(LRA_ERR_NOMEM, "%s: inflateInit failed", path);
    return LRA_OK;
}

// Reads the next piece of compressed input.
static lra_status refill(sec_reader *r) {
    if (r->comp_left == 0)
        return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: %s section is cut short", r->path, r->what);
    size_t want = r->comp_left < CHUNK ? (size_t)r->comp_left : CHUNK;
    size_t got = fread(r->in, 1, want, r->f);
    if (got != want)
        return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: file is truncated in the %s section", r->path, r->what);
    r->comp_left -= got;
    r->z.next_in = r->in;
    r->z.avail_in = (uInt)got;
    return LRA_OK;
}

// Inflates exactly n bytes into dst.
static lra_status sec_read(sec_reader *r, void *dst, size_t n) {
    LRA_ASSERT(n <= (size_t)UINT32_MAX);
    r->z.next_out = dst;
    r->z.avail_out = (uInt)n;
    while (r->z.avail_out > 0) {
        if (r->ended)
            return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: %s section holds fewer bytes than its header says",
                             r->path, r->what);
        if (r->z.avail_in == 0) LRA_TRY(refill(r));
        int rc = inflate(&r->z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            r->ended = 1;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: %s section does not decompress (%s)", r->path,
                             r->what, r->z.msg ? r->z.msg : "zlib error");
        }
    }
    r->crc = crc_update(r->crc, dst, n);
    return LRA_OK;
}

// Checks that the stream ends here, with no input left over, and that the CRC matches.
static lra_status sec_close(sec_reader *r, uint32_t crc) {
    uint8_t extra;
    while (!r->ended) {
        if (r->z.avail_in == 0) LRA_TRY(refill(r));
        r->z.next_out = &extra;
        r->z.avail_out = 1;
        int rc = inflate(&r->z, Z_NO_FLUSH);
        if (r->z.avail_out == 0)
            return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: %s section holds more bytes than its header says",
                             r->path, r->what);
        if (rc == Z_STREAM_END)
            r->ended = 1;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: %s section does not decompress (%s)", r->path,
                             r->what, r->z.msg ? r->z.msg : "zlib error");
    }
    if (r->z.avail_in != 0 || r->comp_left != 0)
        return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: trailing bytes after the %s section", r->path, r->what);
    if (r->crc != crc)
        return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: CRC-32 mismatch in the %s section", r->path, r->what);
    return LRA_OK;
}

static lra_status read_payload(FILE *f, const char *path, const uint8_t *h, lra_dataset *ds, int bits) {
    section secs[3];
    for (int i = 0; i < 3; i++) {
        secs[i].raw = get_u64(h + SEC_AT + 24 * i);
        secs[i].comp = get_u64(h + SEC_AT + 24 * i + 8);
        secs[i].crc = get_u32(h + SEC_AT + 24 * i + 16);
    }
    uint64_t count = (uint64_t)ds->count, ntok_u = get_u64(h + 56), max_seq_u = get_u64(h + 48);
    uint64_t nseq_u, len_raw, tok_raw, lab_raw;
    // Checked: counts near 2^62 must not wrap into plausible section sizes.
    if (ntok_u > (uint64_t)INT64_MAX || max_seq_u > (uint64_t)INT64_MAX || !lra_mul_u64(count, (uint64_t)ds->n_seq, &nseq_u) ||
        !lra_mul_u64(nseq_u, 4, &len_raw) || !lra_mul_u64(count, 4, &lab_raw) ||
        !lra_mul_u64(ntok_u, bits == 4 ? 1 : (uint64_t)bits / 8, &tok_raw))
        return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: counts in the header overflow (%llu examples, %llu tokens)",
                         path, (unsigned long long)count, (unsigned long long)ntok_u);
    if (bits == 4) tok_raw = tok_raw / 2 + (tok_raw & 1);
    if (secs[SEC_LENGTHS].raw != len_raw || secs[SEC_TOKENS].raw != tok_raw || secs[SEC_LABELS].raw != lab_raw)
        return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: section sizes disagree with the header", path);
    // Each section's raw size must be reachable by inflating its compressed bytes; the arrays allocated
    // below are at most 4 times a raw size (offsets: 8 bytes per 4-byte length; 4-bit tokens: 4 bytes
    // per stored byte), so they stay proportional to the file.
    static const char *const sec_name[3] = {"lengths section", "tokens section", "labels section"};
    for (int i = 0; i < 3; i++)
        LRA_TRY(lra_size_check(secs[i].raw, secs[i].comp, LRA_ZLIB_MAX_RATIO, path, sec_name[i]));
    int64_t nseq = (int64_t)nseq_u, ntok = (int64_t)ntok_u, max_seq = (int64_t)max_seq_u;

    ds->count_cap = ds->count;
    ds->offsets = lra_xmalloc((size_t)(nseq + 1) * sizeof *ds->offsets);
    ds->labels = lra_xmalloc((size_t)(ds->count > 0 ? ds->count : 1) * sizeof *ds->labels);
    ds->tokens_cap = ntok;
    ds->tokens = lra_xmalloc((size_t)(ntok > 0 ? ntok : 1) * sizeof *ds->tokens);
    ds->offsets[0] = 0;
    ds->max_seq_len = 0;

    sec_reader *r = lra_xmalloc(sizeof *r);
    uint8_t *buf = lra_xmalloc(CHUNK);
    lra_status st = sec_open(r, f, path, "lengths", secs[SEC_LENGTHS].comp);
    int64_t maxlen = 0;
    for (int64_t k = 0; k < nseq && st == LRA_OK; k += CHUNK / 4) {
        int64_t m = nseq - k < CHUNK / 4 ? nseq - k : CHUNK / 4;
        st = sec_read(r, buf, (size_t)m * 4);
        for (int64_t j = 0; j < m && st == LRA_OK; j++) {
            int64_t len = get_u32(buf + 4 * j);
            if (len > maxlen) maxlen = len;
            ds->offsets[k + j + 1] = ds->offsets[k + j] + len;
        }
    }
    if (st == LRA_OK) st = sec_close(r, secs[SEC_LENGTHS].crc);
    inflateEnd(&r->z);
    if (st == LRA_OK && (ds->offsets[nseq] != ntok || maxlen != max_seq))
        st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: sequence lengths disagree with the header", path);

    if (st == LRA_OK) st = sec_open(r, f, path, "tokens", secs[SEC_TOKENS].comp);
    unsigned maxid = 0;
    if (st == LRA_OK) {
        if (bits == 4) {
            for (int64_t k = 0; k < ntok && st == LRA_OK; k += 2 * (int64_t)CHUNK) {
                int64_t m = ntok - k < 2 * (int64_t)CHUNK ? ntok - k : 2 * (int64_t)CHUNK;
                st = sec_read(r, buf, (size_t)((m + 1) / 2));
                uint16_t *dst = ds->tokens + k;
                uint8_t mx = 0;
                for (int64_t j = 0; j < m / 2; j++) {
                    uint8_t lo = buf[j] & 15, hi = buf[j] >> 4;
                    dst[2 * j] = lo;
                    dst[2 * j + 1] = hi;
                    mx = lo > mx ? lo : mx;
                    mx = hi > mx ? hi : mx;
                }
                if (m & 1) {
                    dst[m - 1] = buf[m / 2] & 15;
                    mx = (uint8_t)dst[m - 1] > mx ? (uint8_t)dst[m - 1] : mx;
                    if (st == LRA_OK && buf[m / 2] >> 4)
                        st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: bad padding nibble", path);
                }
                if (mx > maxid) maxid = mx;
            }
        } else if (bits == 8) {
            for (int64_t k = 0; k < ntok && st == LRA_OK; k += CHUNK) {
                int64_t m = ntok - k < CHUNK ? ntok - k : CHUNK;
                st = sec_read(r, buf, (size_t)m);
                uint8_t mx = 0;
                uint16_t *dst = ds->tokens + k;
                for (int64_t j = 0; j < m; j++) {
                    dst[j] = buf[j];
                    mx = buf[j] > mx ? buf[j] : mx;
                }
                if (mx > maxid) maxid = mx;
            }
        } else {
            for (int64_t k = 0; k < ntok && st == LRA_OK; k += CHUNK) {
                int64_t m = ntok - k < CHUNK ? ntok - k : CHUNK;
                st = sec_read(r, ds->tokens + k, (size_t)m * 2);
                uint16_t mx = 0;
                for (int64_t j = 0; j < m; j++) mx = ds->tokens[k + j] > mx ? ds->tokens[k + j] : mx;
                if (mx > maxid) maxid = mx;
            }
        }
        if (st == LRA_OK) st = sec_close(r, secs[SEC_TOKENS].crc);
        inflateEnd(&r->z);
    }
    if (st == LRA_OK && ntok > 0 && maxid >= (unsigned)ds->vocab_size)
        st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: token id %u outside the vocabulary of %d", path, maxid,
                       ds->vocab_size);

    if (st == LRA_OK) st = sec_open(r, f, path, "labels", secs[SEC_LABELS].comp);
    if (st == LRA_OK) {
        if (ds->count > 0) st = sec_read(r, ds->labels, (size_t)ds->count * 4);
        if (st == LRA_OK) st = sec_close(r, secs[SEC_LABELS].crc);
        inflateEnd(&r->z);
    }
    for (int64_t i = 0; i < ds->count && st == LRA_OK; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= ds->num_classes)
            st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: label %d outside 0..%d", path, ds->labels[i],
                           ds->num_classes - 1);
    ds->max_seq_len = maxlen;
    free(buf);
    free(r);
    return st;
}

// Shortens a key for a message; the two keys usually differ in a size or a time stamp.
static void show_diff(char *out, size_t cap, const char *a, const char *b) {
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    snprintf(out, cap, "cached \"...%.80s\" vs wanted \"...%.80s\"", a + from, b + from);
}

static lra_status load_file(FILE *f, const char *path, const char *key, lra_dataset *out) {
    uint8_t fixed[HDR_FIXED];
    size_t got = fread(fixed, 1, HDR_FIXED, f);
    if (got >= 8 && memcmp(fixed, LRA_CACHE_MAGIC, 8) != 0)
        return lra_error(LRA_ERR_FORMAT, "%s: not a dataset cache file (bad magic)", path);
    if (got < HDR_FIXED) return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: truncated header", path);
    uint32_t version = get_u32(fixed + 8);
    if (version != LRA_CACHE_VERSION)
        return lra_error(LRA_ERR_STATE, "%s: stale cache: format version %u, this build writes %u", path, version,
                         LRA_CACHE_VERSION);
    uint32_t hbytes = get_u32(fixed + 12), klen = get_u32(fixed + 16), flags = get_u32(fixed + 20);
    if (klen > MAX_KEY || hbytes != HDR_FIXED + klen + 4 || (flags & ~(FLAG_U8 | FLAG_U4)) != 0 ||
        flags == (FLAG_U8 | FLAG_U4))
        return lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: bad header fields", path);
    uint8_t *h = lra_xmalloc(hbytes);
    memcpy(h, fixed, HDR_FIXED);
    lra_status st = LRA_OK;
    if (fread(h + HDR_FIXED, 1, hbytes - HDR_FIXED, f) != hbytes - HDR_FIXED)
        st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: truncated header", path);
    else if (get_u32(h + HDR_FIXED + klen) != crc_update((uint32_t)crc32(0L, Z_NULL, 0), h, HDR_FIXED + klen))
        st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: header CRC-32 mismatch", path);
    if (st == LRA_OK) {
        const char *cached = (const char *)h + HDR_FIXED;
        if (strlen(key) != klen || memcmp(cached, key, klen) != 0) {
            char diff[256];
            char *ck = lra_xmalloc(klen + 1);
            memcpy(ck, cached, klen);
            ck[klen] = '\0';
            show_diff(diff, sizeof diff, ck, key);
            free(ck);
            st = lra_error(LRA_ERR_STATE, "%s: stale cache (source or options changed: %s)", path, diff);
        }
    }
    if (st == LRA_OK) {
        int64_t count = (int64_t)get_u64(h + 24);
        int32_t n_seq = (int32_t)get_u32(h + 32), vocab = (int32_t)get_u32(h + 36), classes = (int32_t)get_u32(h + 40);
        if (count < 0 || (n_seq != 1 && n_seq != 2) || vocab <= 0 || vocab > 65536 || classes <= 0)
            st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: bad dataset shape in the header", path);
        // The sizes in the header must account for the whole file (catches truncation before allocating).
        uint64_t total = hbytes;
        for (int i = 0; i < 3; i++)
            if (!lra_add_u64(total, get_u64(h + SEC_AT + 24 * i + 8), &total)) total = UINT64_MAX;
        struct stat sb;
        if (st == LRA_OK && (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size != total))
            st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: file has %lld bytes, its header describes %llu (truncated?)",
                           path, (long long)sb.st_size, (unsigned long long)total);
        if (st == LRA_OK) {
            memset(out, 0, sizeof *out);
            out->count = count;
            out->n_seq = n_seq;
            out->vocab_size = vocab;
            out->num_classes = classes;
            st = read_payload(f, path, h, out, (flags & FLAG_U4) ? 4 : (flags & FLAG_U8) ? 8 : 16);
            if (st == LRA_OK && fgetc(f) != EOF)
                st = lra_error(LRA_ERR_FORMAT, "%s: corrupt cache: trailing bytes after the payload", path);
        }
    }
    free(h);
    return st;
}

lra_status lra_cache_load(const char *path, const char *key, lra_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!host_is_little_endian())
        return lra_error(LRA_ERR_IO, "%s: the dataset cache needs a little-endian host", path);
    FILE *f = fopen(path, "rb");
    if (!f) return lra_error(LRA_ERR_IO, "%s: cannot open cache: %s", path, strerror(errno));
    lra_status st = load_file(f, path, key, out);
    fclose(f);
    if (st != LRA_OK) {
        lra_dataset_free(out);
        // lra_dataset_free leaves the struct zeroed, as promised.
    }
    return st;
}
