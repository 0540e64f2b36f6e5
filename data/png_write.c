// PNG writer for 8-bit grayscale images (the Pathfinder generator's output) and 8-bit RGB images (plots).
#include "data/png_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// Appends one chunk (length, type, data, CRC over type+data) at *pos.
static void put_chunk(uint8_t *buf, size_t *pos, const char type[4], const uint8_t *data, uint32_t len) {
    uint8_t *p = buf + *pos;
    put_be32(p, len);
    memcpy(p + 4, type, 4);
    if (len) memcpy(p + 8, data, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 4, (uInt)(len + 4));
    put_be32(p + 8 + len, (uint32_t)crc);
    *pos += 12 + (size_t)len;
}

// Encodes h rows of w pixels of `channels` bytes each (1: gray, colour type 0; 3: RGB, colour type 2).
static lra_status encode(const uint8_t *px, int w, int h, int channels, uint8_t **out, size_t *out_len) {
    if (w <= 0 || h <= 0 || w > (1 << 24) || h > (1 << 24))
        return lra_error(LRA_ERR_ARG, "png: bad image size %dx%d (expected 1..2^24 each)", w, h);
    const size_t row = (size_t)w * (size_t)channels;
    size_t raw_len = (size_t)h * (row + 1);
    uint8_t *raw = lra_xmalloc(raw_len);
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (row + 1)] = 0;   // filter type None
        memcpy(raw + (size_t)y * (row + 1) + 1, px + (size_t)y * row, row);
    }
    uLongf zlen = compressBound((uLong)raw_len);
    uint8_t *z = lra_xmalloc(zlen);
    int zr = compress2(z, &zlen, raw, (uLong)raw_len, 6);
    free(raw);
    if (zr != Z_OK) {
        free(z);
        return lra_error(LRA_ERR_NOMEM, "png: zlib compress2 failed (%d)", zr);
    }
    size_t total = 8 + (12 + 13) + (12 + (size_t)zlen) + 12;
    uint8_t *buf = lra_xmalloc(total);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    memcpy(buf, sig, 8);
    size_t pos = 8;
    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)w);
    put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;    // bit depth
    ihdr[9] = channels == 3 ? 2 : 0;   // colour type: RGB or grayscale
    ihdr[10] = 0;   // compression
    ihdr[11] = 0;   // filter method
    ihdr[12] = 0;   // no interlace
    put_chunk(buf, &pos, "IHDR", ihdr, 13);
    put_chunk(buf, &pos, "IDAT", z, (uint32_t)zlen);
    put_chunk(buf, &pos, "IEND", NULL, 0);
    free(z);
    *out = buf;
    *out_len = pos;
    return LRA_OK;
}

lra_status lra_png_encode_gray8(const uint8_t *px, int w, int h, uint8_t **out, size_t *out_len) {
    return encode(px, w, h, 1, out, out_len);
}

lra_status lra_png_encode_rgb8(const uint8_t *px, int w, int h, uint8_t **out, size_t *out_len) {
    return encode(px, w, h, 3, out, out_len);
}

// Writes an encoded PNG to `path` atomically (a temporary file next to it, then rename); frees buf.
static lra_status write_encoded(const char *path, uint8_t *buf, size_t len) {
    size_t plen = strlen(path);
    char *tmp = lra_xmalloc(plen + 8);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXX", 8);   // unique per target path, so parallel writers never share it
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        lra_status s = lra_error(LRA_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        free(buf);
        return s;
    }
    size_t wr = fwrite(buf, 1, len, f);
    int cl = fclose(f);
    free(buf);
    if (wr != len || cl != 0) {
        lra_status s = lra_error(LRA_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        remove(tmp);
        free(tmp);
        return s;
    }
    if (rename(tmp, path) != 0) {
        lra_status s = lra_error(LRA_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    return LRA_OK;
}

lra_status lra_png_write_gray8(const char *path, const uint8_t *px, int w, int h) {
    uint8_t *buf;
    size_t len;
    LRA_TRY(lra_png_encode_gray8(px, w, h, &buf, &len));
    return write_encoded(path, buf, len);
}

lra_status lra_png_write_rgb8(const char *path, const uint8_t *px, int w, int h) {
    uint8_t *buf;
    size_t len;
    LRA_TRY(lra_png_encode_rgb8(px, w, h, &buf, &len));
    return write_encoded(path, buf, len);
}
