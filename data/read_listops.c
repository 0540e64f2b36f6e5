// ListOps TSV reader (see read_listops.h and data.md §4).
#include "data/read_listops.h"

#include <stdlib.h>
#include <string.h>

#include "data/tsv.h"

int lra_listops_token_id(const char *s, size_t n) {
    if (n == 1) {
        if (s[0] >= '0' && s[0] <= '9') return LRA_LISTOPS_DIGIT0 + (s[0] - '0');
        if (s[0] == ']') return LRA_LISTOPS_CLOSE;
        if (s[0] == '(' || s[0] == ')') return -1;
        return LRA_LISTOPS_UNK;
    }
    if (n == 4 && s[0] == '[') {
        if (!memcmp(s, "[MIN", 4)) return LRA_LISTOPS_MIN;
        if (!memcmp(s, "[MAX", 4)) return LRA_LISTOPS_MAX;
        if (!memcmp(s, "[MED", 4)) return LRA_LISTOPS_MED;
    }
    if (n == 3 && !memcmp(s, "[SM", 3)) return LRA_LISTOPS_SM;
    return LRA_LISTOPS_UNK;
}

// Tokenises one Source field into ids (grows *ids as needed); *count receives the token count.
static lra_status tokenize(const char *path, int64_t line, const char *src, size_t n, const lra_listops_options *opt,
                           uint16_t **ids, size_t *cap, int64_t *count) {
    int64_t k = 0;
    size_t i = 0;
    while (i < n) {
        if (src[i] == ' ') {  // the official pipeline splits on any run of whitespace
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && src[j] != ' ') j++;
        int id = lra_listops_token_id(src + i, j - i);
        if (id == LRA_LISTOPS_UNK && !opt->allow_unknown) {
            int shown = (int)(j - i > 40 ? 40 : j - i);
            return lra_error(LRA_ERR_FORMAT,
                             "%s:%lld: unknown ListOps symbol '%.*s'%s at column %zu (expected ( ) [MIN [MAX [MED [SM ] "
                             "or a digit)",
                             path, (long long)line, shown, src + i, (size_t)shown < j - i ? "..." : "", i + 1);
        }
        if (id >= 0 && (opt->max_len <= 0 || k < opt->max_len)) {
            if ((size_t)k == *cap) {
                *cap *= 2;
                *ids = lra_xrealloc(*ids, *cap * sizeof **ids);
            }
            (*ids)[k++] = (uint16_t)id;
        }
        i = j;
    }
    *count = k;
    return LRA_OK;
}

static lra_status read_rows(lra_tsv *r, const lra_listops_options *opt, lra_dataset *out) {
    const char *path = r->path;
    char *s;
    size_t n;
    int eof;
    LRA_TRY(lra_tsv_next(r, &s, &n, &eof));
    if (eof) return lra_error(LRA_ERR_FORMAT, "%s:1: empty file (expected the header \"Source<TAB>Target\")", path);
    if (n != 13 || memcmp(s, "Source\tTarget", 13) != 0)
        return lra_error(LRA_ERR_FORMAT, "%s:1: bad header (expected \"Source<TAB>Target\", got \"%.60s\")", path, s);
    size_t cap = 4096;
    uint16_t *ids = lra_xmalloc(cap * sizeof *ids);
    lra_status st = LRA_OK;
    for (;;) {
        st = lra_tsv_next(r, &s, &n, &eof);
        if (st != LRA_OK || eof) break;
        long long ln = (long long)r->line;
        if (n == 0) continue;  // a blank line holds no row
        if (r->unterminated) {
            // The release writer ends every row with CRLF, so a missing line end means a cut file.
            st = lra_error(LRA_ERR_FORMAT, "%s:%lld: last line has no line end (truncated file?)", path, ln);
            break;
        }
        char *tab = memchr(s, '\t', n);
        int ntabs = 0;
        for (size_t i = 0; i < n; i++) ntabs += s[i] == '\t';
        if (ntabs != 1) {
            st = lra_error(LRA_ERR_FORMAT, "%s:%lld: expected 2 tab-separated columns (Source, Target), found %d", path,
                           ln, ntabs + 1);
            break;
        }
        const char *target = tab + 1;
        size_t tlen = n - (size_t)(target - s);
        if (tlen != 1 || target[0] < '0' || target[0] > '9') {
            st = lra_error(LRA_ERR_FORMAT, "%s:%lld: bad label \"%.20s\" (expected one digit 0-9)", path, ln, target);
            break;
        }
        int64_t count = 0;
        st = tokenize(path, r->line, s, (size_t)(tab - s), opt, &ids, &cap, &count);
        if (st != LRA_OK) break;
        if (count == 0) {
            st = lra_error(LRA_ERR_FORMAT, "%s:%lld: empty Source expression", path, ln);
            break;
        }
        lra_dataset_push1(out, ids, count, target[0] - '0');
    }
    free(ids);
    return st;
}

lra_status lra_listops_read(const char *path, const lra_listops_options *opt, lra_dataset *out) {
    lra_listops_options def = {0};
    if (!opt) opt = &def;
    lra_dataset_init(out, 1, LRA_LISTOPS_VOCAB, LRA_LISTOPS_CLASSES);
    lra_tsv r;
    lra_status st = lra_tsv_open(&r, path, opt->max_line ? opt->max_line : ((size_t)1 << 20));
    if (st == LRA_OK) {
        st = read_rows(&r, opt, out);
        lra_tsv_close(&r);
    }
    if (st != LRA_OK) lra_dataset_free(out);
    return st;
}
