// PNG decoding to 8-bit gray: chunk walk with CRC checks, streaming inflate of the IDAT data into the
// exact filtered-image size, per-pass unfiltering, then sample conversion (see png.h for the rules).
#include "data/png.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/checked.h"
#include "data/image.h"

static const uint8_t k_signature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

// Adam7 passes: x start, y start, x step, y step.
static const int k_adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                  {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};

typedef struct {
    const char *name;
    uint32_t width, height;
    int depth, ctype, interlace;
    int channels;        // samples per pixel
    int bits_pp;         // bits per pixel
    int n_palette;
    uint8_t palette_gray[256];
} png_info;

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

// Printable form of a chunk type for messages (non-letters become '?').
static void chunk_name(const uint8_t *t, char out[5]) {
    for (int i = 0; i < 4; i++) {
        int c = t[i];
        out[i] = ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) ? (char)c : '?';
    }
    out[4] = '\0';
}

static int is_type(const uint8_t *t, const char *name) { return memcmp(t, name, 4) == 0; }

// Bytes of one filtered row (without its filter byte) for w pixels.
static size_t row_bytes(const png_info *h, uint32_t w) { return ((size_t)w * (size_t)h->bits_pp + 7) / 8; }

// Pixel count of pass p along one axis of length n.
static uint32_t pass_len(uint32_t n, int start, int step) {
    return n > (uint32_t)start ? (n - (uint32_t)start + (uint32_t)step - 1) / (uint32_t)step : 0;
}

// Size of the whole filtered image (filter bytes included), over all passes when interlaced.
static size_t filtered_size(const png_info *h) {
    if (!h->interlace) return (size_t)h->height * (1 + row_bytes(h, h->width));
    size_t total = 0;
    for (int p = 0; p < 7; p++) {
        uint32_t pw = pass_len(h->width, k_adam7[p][0], k_adam7[p][2]);
        uint32_t ph = pass_len(h->height, k_adam7[p][1], k_adam7[p][3]);
        if (pw && ph) total += (size_t)ph * (1 + row_bytes(h, pw));
    }
    return total;
}

static lra_status parse_ihdr(png_info *h, const uint8_t *d, uint32_t len) {
    if (len != 13) return lra_error(LRA_ERR_FORMAT, "%s: IHDR has %u bytes, expected 13", h->name, len);
    h->width = be32(d);
    h->height = be32(d + 4);
    h->depth = d[8];
    h->ctype = d[9];
    h->interlace = d[12];
    if (h->width == 0 || h->height == 0 || h->width > 0x7fffffffu || h->height > 0x7fffffffu)
        return lra_error(LRA_ERR_FORMAT, "%s: bad image size %ux%u in IHDR", h->name, h->width, h->height);
    if ((int64_t)h->width * (int64_t)h->height > LRA_PNG_MAX_PIXELS)
        return lra_error(LRA_ERR_UNSUPPORTED, "%s: image %ux%u is larger than the %lld-pixel limit", h->name,
                         h->width, h->height, (long long)LRA_PNG_MAX_PIXELS);
    int ok;
    switch (h->ctype) {
    case 0: ok = h->depth == 1 || h->depth == 2 || h->depth == 4 || h->depth == 8 || h->depth == 16;
        h->channels = 1; break;
    case 2: ok = h->depth == 8 || h->depth == 16; h->channels = 3; break;
    case 3: ok = h->depth == 1 || h->depth == 2 || h->depth == 4 || h->depth == 8; h->channels = 1; break;
    case 4: ok = h->depth == 8 || h->depth == 16; h->channels = 2; break;
    case 6: ok = h->depth == 8 || h->depth == 16; h->channels = 4; break;
    default:
        return lra_error(LRA_ERR_FORMAT, "%s: bad colour type %d in IHDR (expected 0, 2, 3, 4 or 6)", h->name,
                         h->ctype);
    }
    if (!ok)
        return lra_error(LRA_ERR_FORMAT, "%s: bit depth %d is not allowed with colour type %d", h->name, h->depth,
                         h->ctype);
    if (d[10] != 0) return lra_error(LRA_ERR_FORMAT, "%s: unknown compression method %d in IHDR", h->name, d[10]);
    if (d[11] != 0) return lra_error(LRA_ERR_FORMAT, "%s: unknown filter method %d in IHDR", h->name, d[11]);
    if (h->interlace > 1)
        return lra_error(LRA_ERR_FORMAT, "%s: unknown interlace method %d in IHDR", h->name, h->interlace);
    h->bits_pp = h->depth * h->channels;
    return LRA_OK;
}

static lra_status parse_plte(png_info *h, const uint8_t *d, uint32_t len) {
    if (h->ctype == 0 || h->ctype == 4)
        return lra_error(LRA_ERR_FORMAT, "%s: PLTE chunk in a grayscale image", h->name);
    if (len == 0 || len % 3 != 0 || len / 3 > 256)
        return lra_error(LRA_ERR_FORMAT, "%s: PLTE has %u bytes (expected 3..768, a multiple of 3)", h->name, len);
    int n = (int)(len / 3);
    if (h->ctype == 3 && n > (1 << h->depth))
        return lra_error(LRA_ERR_FORMAT, "%s: PLTE has %d entries, more than bit depth %d allows", h->name, n,
                         h->depth);
    h->n_palette = n;
    for (int i = 0; i < n; i++) h->palette_gray[i] = lra_image_rgb_to_gray(d[3 * i], d[3 * i + 1], d[3 * i + 2]);
    return LRA_OK;
}

static inline int paeth(int a, int b, int c) {
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

// Undoes the row filters in place.  data: [rows][1 + rb] (filter byte, then rb bytes).
static lra_status unfilter(const png_info *h, uint8_t *data, uint32_t rows, size_t rb, int pass) {
    size_t bpp = h->bits_pp >= 8 ? (size_t)h->bits_pp / 8 : 1;
    const uint8_t *prev = NULL;
    for (uint32_t r = 0; r < rows; r++) {
        uint8_t *row = data + (size_t)r * (1 + rb);
        int f = row[0];
        uint8_t *x = row + 1;
        switch (f) {
        case 0: break;
        case 1:
            for (size_t i = bpp; i < rb; i++) x[i] = (uint8_t)(x[i] + x[i - bpp]);
            break;
        case 2:
            if (prev)
                for (size_t i = 0; i < rb; i++) x[i] = (uint8_t)(x[i] + prev[i]);
            break;
        case 3:
            for (size_t i = 0; i < rb; i++) {
                int a = i >= bpp ? x[i - bpp] : 0, b = prev ? prev[i] : 0;
                x[i] = (uint8_t)(x[i] + ((a + b) >> 1));
            }
            break;
        case 4:
            for (size_t i = 0; i < rb; i++) {
                int a = i >= bpp ? x[i - bpp] : 0, b = prev ? prev[i] : 0;
                int c = (prev && i >= bpp) ? prev[i - bpp] : 0;
                x[i] = (uint8_t)(x[i] + paeth(a, b, c));
            }
            break;
        default:
            if (h->interlace)
                return lra_error(LRA_ERR_FORMAT, "%s: bad filter type %d in row %u of interlace pass %d", h->name,
                                 f, r, pass + 1);
            return lra_error(LRA_ERR_FORMAT, "%s: bad filter type %d in row %u (expected 0..4)", h->name, f, r);
        }
        prev = x;
    }
    return LRA_OK;
}

// Sample i (0-based, counting samples not pixels) of an unfiltered row, as the raw integer value.
static inline unsigned sample_raw(const uint8_t *x, int depth, size_t i) {
    switch (depth) {
    case 8: return x[i];
    case 16: return ((unsigned)x[2 * i] << 8) | x[2 * i + 1];
    default: {
        size_t bit = i * (size_t)depth;
        int shift = 8 - depth - (int)(bit & 7);
        return (x[bit >> 3] >> shift) & ((1u << depth) - 1);
    }
    }
}

// Sample value reduced/scaled to 8 bits.
static inline uint8_t sample8(const uint8_t *x, int depth, size_t i) {
    unsigned v = sample_raw(x, depth, i);
    switch (depth) {
    case 8: return (uint8_t)v;
    case 16: return (uint8_t)((v * 255u + 32767u) / 65535u);
    default: return (uint8_t)(v * 255u / ((1u << depth) - 1));
    }
}

// Converts one unfiltered row of w pixels to gray, writing out[c * step] for c < w.
static lra_status row_to_gray(const png_info *h, const uint8_t *x, uint32_t w, uint8_t *out, size_t step,
                              uint32_t row) {
    int d = h->depth;
    switch (h->ctype) {
    case 0:
        if (d == 8 && step == 1) {
            memcpy(out, x, w);
        } else {
            for (uint32_t c = 0; c < w; c++) out[c * step] = sample8(x, d, c);
        }
        break;
    case 2:
        for (uint32_t c = 0; c < w; c++)
            out[c * step] = lra_image_rgb_to_gray(sample8(x, d, 3 * (size_t)c), sample8(x, d, 3 * (size_t)c + 1),
                                                  sample8(x, d, 3 * (size_t)c + 2));
        break;
    case 3:
        for (uint32_t c = 0; c < w; c++) {
            unsigned idx = sample_raw(x, d, c);
            if ((int)idx >= h->n_palette)
                return lra_error(LRA_ERR_FORMAT, "%s: palette index %u out of range in row %u (PLTE has %d entries)",
                                 h->name, idx, row, h->n_palette);
            out[c * step] = h->palette_gray[idx];
        }
        break;
    case 4:
        for (uint32_t c = 0; c < w; c++) out[c * step] = sample8(x, d, 2 * (size_t)c);
        break;
    case 6:
        for (uint32_t c = 0; c < w; c++)
            out[c * step] = lra_image_rgb_to_gray(sample8(x, d, 4 * (size_t)c), sample8(x, d, 4 * (size_t)c + 1),
                                                  sample8(x, d, 4 * (size_t)c + 2));
        break;
    }
    return LRA_OK;
}

// Unfilters the whole filtered image `raw` and writes gray pixels [height][width] to `pix`.
static lra_status reconstruct(const png_info *h, uint8_t *raw, uint8_t *pix) {
    if (!h->interlace) {
        size_t rb = row_bytes(h, h->width);
        LRA_TRY(unfilter(h, raw, h->height, rb, 0));
        for (uint32_t r = 0; r < h->height; r++)
            LRA_TRY(row_to_gray(h, raw + (size_t)r * (1 + rb) + 1, h->width, pix + (size_t)r * h->width, 1, r));
        return LRA_OK;
    }
    uint8_t *p = raw;
    for (int pass = 0; pass < 7; pass++) {
        int xs = k_adam7[pass][0], ys = k_adam7[pass][1], dx = k_adam7[pass][2], dy = k_adam7[pass][3];
        uint32_t pw = pass_len(h->width, xs, dx), ph = pass_len(h->height, ys, dy);
        if (!pw || !ph) continue;
        size_t rb = row_bytes(h, pw);
        LRA_TRY(unfilter(h, p, ph, rb, pass));
        for (uint32_t r = 0; r < ph; r++) {
            size_t y = (size_t)ys + (size_t)r * dy;
            LRA_TRY(row_to_gray(h, p + (size_t)r * (1 + rb) + 1, pw, pix + y * h->width + xs, (size_t)dx,
                                (uint32_t)y));
        }
        p += (size_t)ph * (1 + rb);
    }
    return LRA_OK;
}

typedef struct {
    z_stream zs;
    int started, ended;
    uint8_t *raw;
    size_t raw_size;
} idat_state;

// Feeds one IDAT chunk's bytes to the inflater.  Output beyond the expected size is an error.
static lra_status feed_idat(const png_info *h, idat_state *st, const uint8_t *d, uint32_t len) {
    if (len == 0) return LRA_OK;
    if (st->ended) return lra_error(LRA_ERR_FORMAT, "%s: IDAT data after the end of the zlib stream", h->name);
    st->zs.next_in = (Bytef *)d;
    st->zs.avail_in = len;
    uint8_t spill[64];
    while (st->zs.avail_in > 0) {
        size_t done = st->raw_size - st->zs.avail_out;
        int full = st->zs.avail_out == 0;
        if (full) {   // all expected bytes are in: anything more is an error
            st->zs.next_out = spill;
            st->zs.avail_out = sizeof spill;
        }
        int zr = inflate(&st->zs, Z_NO_FLUSH);
        if (full) {
            int extra = st->zs.avail_out != sizeof spill;
            st->zs.next_out = st->raw + st->raw_size;
            st->zs.avail_out = 0;
            if (extra)
                return lra_error(LRA_ERR_FORMAT, "%s: more image data than %ux%u (depth %d, colour type %d) needs",
                                 h->name, h->width, h->height, h->depth, h->ctype);
        }
        if (zr == Z_STREAM_END) {
            st->ended = 1;
            if (st->zs.avail_in > 0)
                return lra_error(LRA_ERR_FORMAT, "%s: IDAT data after the end of the zlib stream", h->name);
            break;
        }
        if (zr == Z_NEED_DICT)
            return lra_error(LRA_ERR_FORMAT, "%s: IDAT zlib stream asks for a preset dictionary", h->name);
        if (zr == Z_DATA_ERROR)
            return lra_error(LRA_ERR_FORMAT, "%s: corrupt compressed data in IDAT after %zu image bytes: %s",
                             h->name, done, st->zs.msg ? st->zs.msg : "inflate error");
        if (zr == Z_MEM_ERROR) return lra_error(LRA_ERR_NOMEM, "%s: out of memory inflating IDAT", h->name);
        if (zr == Z_BUF_ERROR) break;   // no progress possible: needs more input (cannot happen with avail_in)
        LRA_ASSERT(zr == Z_OK);
    }
    return LRA_OK;
}

lra_status lra_png_decode_gray8(const uint8_t *buf, size_t len, const char *name, uint8_t **pixels, int *width,
                                int *height) {
    *pixels = NULL;
    if (!name) name = "<png>";
    if (len == 0) return lra_error(LRA_ERR_FORMAT, "%s: empty file (0 bytes), not a PNG image", name);
    if (len < 8 || memcmp(buf, k_signature, 8) != 0) {
        if (len < 8 && memcmp(buf, k_signature, len) == 0)
            return lra_error(LRA_ERR_FORMAT, "%s: truncated PNG (%zu bytes, inside the signature)", name, len);
        return lra_error(LRA_ERR_FORMAT, "%s: not a PNG file (bad signature)", name);
    }
    png_info h;
    memset(&h, 0, sizeof h);
    h.name = name;
    idat_state st;
    memset(&st, 0, sizeof st);
    lra_status s = LRA_OK;
    int have_ihdr = 0, have_plte = 0, have_iend = 0, idat_phase = 0;   // 0 none yet, 1 in run, 2 after run
    size_t pos = 8;
    while (!have_iend) {
        if (len - pos < 12) {
            s = lra_error(LRA_ERR_FORMAT, "%s: truncated PNG: file ends at byte %zu %s", name, len,
                          len == pos ? "before the IEND chunk" : "inside a chunk header");
            goto done;
        }
        uint32_t clen = be32(buf + pos);
        const uint8_t *type = buf + pos + 4;
        char tname[5];
        chunk_name(type, tname);
        if (clen > 0x7fffffffu) {
            s = lra_error(LRA_ERR_FORMAT, "%s: chunk '%s' at byte %zu has bad length %u", name, tname, pos, clen);
            goto done;
        }
        if ((size_t)clen > len - pos - 12) {
            s = lra_error(LRA_ERR_FORMAT, "%s: truncated PNG: chunk '%s' at byte %zu declares %u data bytes, file "
                          "has only %zu left", name, tname, pos, clen, len - pos - 8);
            goto done;
        }
        const uint8_t *data = type + 4;
        uint32_t stored = be32(data + clen);
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, clen + 4);
        if (crc != stored) {
            s = lra_error(LRA_ERR_FORMAT, "%s: CRC mismatch in chunk '%s' at byte %zu (stored %08x, computed %08x)",
                          name, tname, pos, stored, crc);
            goto done;
        }
        for (int i = 0; i < 4; i++) {
            if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z'))) {
                s = lra_error(LRA_ERR_FORMAT, "%s: bad chunk type bytes at byte %zu", name, pos);
                goto done;
            }
        }
        if (!have_ihdr && !is_type(type, "IHDR")) {
            s = lra_error(LRA_ERR_FORMAT, "%s: first chunk is '%s', expected IHDR", name, tname);
            goto done;
        }
        if (idat_phase == 1 && !is_type(type, "IDAT")) idat_phase = 2;
        if (is_type(type, "IHDR")) {
            if (have_ihdr) {
                s = lra_error(LRA_ERR_FORMAT, "%s: second IHDR chunk at byte %zu", name, pos);
                goto done;
            }
            if ((s = parse_ihdr(&h, data, clen)) != LRA_OK) goto done;
            have_ihdr = 1;
        } else if (is_type(type, "PLTE")) {
            if (have_plte || idat_phase) {
                s = lra_error(LRA_ERR_FORMAT, "%s: misplaced PLTE chunk at byte %zu", name, pos);
                goto done;
            }
            if ((s = parse_plte(&h, data, clen)) != LRA_OK) goto done;
            have_plte = 1;
        } else if (is_type(type, "IDAT")) {
            if (idat_phase == 2) {
                s = lra_error(LRA_ERR_FORMAT, "%s: IDAT chunks are not consecutive (another at byte %zu)", name, pos);
                goto done;
            }
            if (h.ctype == 3 && !have_plte) {
                s = lra_error(LRA_ERR_FORMAT, "%s: palette image without a PLTE chunk before IDAT", name);
                goto done;
            }
            if (!st.started) {
                st.raw_size = filtered_size(&h);
                // The IDAT data cannot hold more than the rest of the file, so it cannot inflate to more
                // than LRA_ZLIB_MAX_RATIO times that: refuse before allocating for a header that lies.
                if ((s = lra_size_check(st.raw_size, len - pos, LRA_ZLIB_MAX_RATIO, name, "IHDR (filtered image)"))
                    != LRA_OK)
                    goto done;
                st.raw = malloc(st.raw_size);
                if (!st.raw) {
                    s = lra_error(LRA_ERR_NOMEM, "%s: out of memory for %zu image bytes", name, st.raw_size);
                    goto done;
                }
                if (inflateInit(&st.zs) != Z_OK) {
                    s = lra_error(LRA_ERR_NOMEM, "%s: cannot initialise zlib", name);
                    goto done;
                }
                st.started = 1;
                st.zs.next_out = st.raw;
                st.zs.avail_out = (uInt)st.raw_size;
                LRA_ASSERT((size_t)st.zs.avail_out == st.raw_size);
            }
            idat_phase = 1;
            if ((s = feed_idat(&h, &st, data, clen)) != LRA_OK) goto done;
        } else if (is_type(type, "IEND")) {
            if (clen != 0) {
                s = lra_error(LRA_ERR_FORMAT, "%s: IEND chunk has %u data bytes, expected 0", name, clen);
                goto done;
            }
            have_iend = 1;
        } else if (!(type[0] & 0x20)) {   // bit 5 of the first letter clear: critical
            s = lra_error(LRA_ERR_UNSUPPORTED, "%s: unknown critical chunk '%s' at byte %zu", name, tname, pos);
            goto done;
        }
        pos += 12 + (size_t)clen;
    }
    if (!st.started) {
        s = lra_error(LRA_ERR_FORMAT, "%s: no IDAT chunk (no image data)", name);
        goto done;
    }
    size_t got = st.raw_size - st.zs.avail_out;
    if (!st.ended || got < st.raw_size) {
        if (got < st.raw_size)
            s = lra_error(LRA_ERR_FORMAT, "%s: image data too short: %zu of %zu bytes (zlib stream cut short)", name,
                          got, st.raw_size);
        else
            s = lra_error(LRA_ERR_FORMAT, "%s: IDAT zlib stream does not end (missing end or Adler-32)", name);
        goto done;
    }
    uint8_t *pix = malloc((size_t)h.width * h.height);
    if (!pix) {
        s = lra_error(LRA_ERR_NOMEM, "%s: out of memory for %ux%u pixels", name, h.width, h.height);
        goto done;
    }
    if ((s = reconstruct(&h, st.raw, pix)) != LRA_OK) {
        free(pix);
        goto done;
    }
    *pixels = pix;
    *width = (int)h.width;
    *height = (int)h.height;
done:
    if (st.started) inflateEnd(&st.zs);
    free(st.raw);
    return s;
}

lra_status lra_png_read_gray8(const char *path, uint8_t **pixels, int *width, int *height) {
    *pixels = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return lra_error(LRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        int e = errno;
        fclose(f);
        return lra_error(LRA_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (sb.st_size == 0) {
        fclose(f);
        return lra_error(LRA_ERR_FORMAT, "%s: empty file (0 bytes), not a PNG image", path);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n);
    if (!buf) {
        fclose(f);
        return lra_error(LRA_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    lra_status s;
    if (got != n)
        s = lra_error(LRA_ERR_IO, "%s: read %zu of %zu bytes%s", path, got, n, err ? " (read error)" : "");
    else
        s = lra_png_decode_gray8(buf, n, path, pixels, width, height);
    free(buf);
    return s;
}
