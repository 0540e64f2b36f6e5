// AAN retrieval TSV reader (see read_aan.h and data.md §6).
#include "data/read_aan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/tsv.h"

// Parses the label like the official reader (float, then integer conversion) and checks the range.
static lra_status parse_label(const char *path, int64_t line, const char *f, size_t n, int32_t *label) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return lra_error(LRA_ERR_FORMAT, "%s:%lld: bad label \"%.20s\" (expected a number, 0 or 1)", path,
                         (long long)line, f);
    memcpy(tmp, f, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    while (*end == ' ') end++;
    if (end == tmp || *end != '\0' || errno != 0 || !isfinite(v))
        return lra_error(LRA_ERR_FORMAT, "%s:%lld: bad label \"%s\" (expected a number, 0 or 1)", path,
                         (long long)line, tmp);
    double t = trunc(v);
    if (t < 0 || t >= LRA_AAN_CLASSES)
        return lra_error(LRA_ERR_FORMAT, "%s:%lld: label %s is out of range (expected 0 or 1)", path, (long long)line,
                         tmp);
    *label = (int32_t)t;
    return LRA_OK;
}

static lra_status read_rows(lra_tsv *r, int64_t keep, lra_dataset *out) {
    uint16_t *ids[2] = {lra_xmalloc((size_t)keep * sizeof(uint16_t)), lra_xmalloc((size_t)keep * sizeof(uint16_t))};
    lra_status st = LRA_OK;
    for (;;) {
        char *s;
        size_t n;
        int eof;
        st = lra_tsv_next(r, &s, &n, &eof);
        if (st != LRA_OK || eof) break;
        if (n == 0) continue;  // a blank line holds no record
        const char *field[5];
        size_t flen[5];
        int nf = 0;
        size_t begin = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i == n || s[i] == '\t') {
                if (nf < 5) {
                    field[nf] = s + begin;
                    flen[nf] = i - begin;
                }
                nf++;
                begin = i + 1;
            }
        }
        if (nf != 5) {
            st = lra_error(LRA_ERR_FORMAT,
                           "%s:%lld: expected 5 tab-separated fields (label, id1, id2, text1, text2), found %d%s",
                           r->path, (long long)r->line, nf, r->unterminated ? " (truncated file?)" : "");
            break;
        }
        int32_t label = 0;
        st = parse_label(r->path, r->line, field[0], flen[0], &label);
        if (st != LRA_OK) break;
        int64_t lens[2];
        for (int d = 0; d < 2; d++) {
            const unsigned char *txt = (const unsigned char *)field[3 + d];
            int64_t m = (int64_t)flen[3 + d] < keep ? (int64_t)flen[3 + d] : keep;
            for (int64_t k = 0; k < m; k++) ids[d][k] = (uint16_t)(txt[k] + 1);
            lens[d] = m;
        }
        lra_dataset_push(out, (const uint16_t *const *)ids, lens, label);
    }
    free(ids[0]);
    free(ids[1]);
    return st;
}

lra_status lra_aan_read(const char *path, const lra_aan_options *opt, lra_dataset *out) {
    lra_aan_options def = {0};
    if (!opt) opt = &def;
    int64_t keep = opt->max_bytes > 0 ? opt->max_bytes : LRA_AAN_MAX_BYTES;
    if (opt->max_len > 0 && opt->max_len < keep) keep = opt->max_len;
    lra_dataset_init(out, 2, LRA_AAN_VOCAB, LRA_AAN_CLASSES);
    lra_tsv r;
    lra_status st = lra_tsv_open(&r, path, opt->max_line);
    if (st == LRA_OK) {
        st = read_rows(&r, keep, out);
        lra_tsv_close(&r);
    }
    if (st != LRA_OK) lra_dataset_free(out);
    return st;
}
