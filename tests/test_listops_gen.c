// Tests of the CPython `random` emulation and the ListOps generator.
#include <dirent.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "data/listops_gen.h"
#include "data/pyrandom.h"
#include "tests/harness.h"

// ---------------------------------------------------------------------------------------------------
// Helpers

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = lra_xmalloc(cap + 1);
    size_t got;
    while ((got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            b = lra_xrealloc(b, cap + 1);
        }
    }
    fclose(f);
    b[n] = '\0';
    *len = n;
    return b;
}

static char *make_tmpdir(void) {
    char tmpl[] = "/tmp/lra_test_listops_XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? lra_xstrdup(d) : NULL;
}

static void remove_dir(char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

// Statistics of one TSV file in the release format; checks the format as it goes.
typedef struct {
    int64_t rows;
    int64_t labels[10];
    double tokens;          // sum of non-parenthesis tokens
    int64_t min_tok, max_tok;
    int64_t format_errors;  // bad header, line without CRLF, bad Target, ...
    int64_t eval_mismatch;  // Target != evaluator's value
} tsv_stats;

static void scan_tsv(const char *text, size_t len, tsv_stats *s) {
    memset(s, 0, sizeof *s);
    s->min_tok = INT64_MAX;
    const char *hdr = "Source\tTarget\r\n";
    if (len < strlen(hdr) || memcmp(text, hdr, strlen(hdr)) != 0) {
        s->format_errors++;
        return;
    }
    size_t i = strlen(hdr);
    if (i == len) return;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl) {  // the file must end with CRLF
            s->format_errors++;
            return;
        }
        size_t e = (size_t)(nl - text);
        if (e == i || text[e - 1] != '\r') {
            s->format_errors++;
            i = e + 1;
            continue;
        }
        const char *line = text + i;
        size_t ll = e - 1 - i;
        const char *tab = memchr(line, '\t', ll);
        if (!tab || (size_t)(line + ll - tab) != 2 || tab[1] < '0' || tab[1] > '9') {
            s->format_errors++;
            i = e + 1;
            continue;
        }
        size_t sl = (size_t)(tab - line);
        int target = tab[1] - '0', v = -1;
        if (lra_listops_eval(line, sl, &v) != LRA_OK || v != target) s->eval_mismatch++;
        int64_t toks = 0;
        for (size_t k = 0; k < sl; k++)
            if (line[k] != ' ' && line[k] != '(' && line[k] != ')' && (k == 0 || line[k - 1] == ' ')) toks++;
        s->rows++;
        s->labels[target]++;
        s->tokens += (double)toks;
        if (toks < s->min_tok) s->min_tok = toks;
        if (toks > s->max_tok) s->max_tok = toks;
        i = e + 1;
    }
}

static int scan_file(const char *dir, const char *name, tsv_stats *s) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t len;
    char *t = read_file(p, &len);
    if (!t) return 0;
    scan_tsv(t, len, s);
    free(t);
    return 1;
}

static void add_stats(tsv_stats *a, const tsv_stats *b) {
    a->rows += b->rows;
    for (int k = 0; k < 10; k++) a->labels[k] += b->labels[k];
    a->tokens += b->tokens;
    if (b->min_tok < a->min_tok) a->min_tok = b->min_tok;
    if (b->max_tok > a->max_tok) a->max_tok = b->max_tok;
    a->format_errors += b->format_errors;
    a->eval_mismatch += b->eval_mismatch;
}

static const char *const SPLITS[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};

// ---------------------------------------------------------------------------------------------------
// pyrandom against CPython 3.11 (values printed by /usr/bin/python3, e.g.
//   random.seed(0); [random.getrandbits(32) for _ in range(6)]
//   random.seed(42); [float.hex(random.random()) for _ in range(4)]
//   numpy.random.RandomState(5).random_sample(3))

static void test_pyrandom_words(void) {
    lra_pyrandom r;
    static const uint32_t seed0[6] = {0xd82c07cdu, 0x629f6fbeu, 0xc2094cacu, 0xe3e70682u, 0x6baa9455u, 0x0a5d2f34u};
    lra_pyrandom_seed(&r, 0);
    for (int i = 0; i < 6; i++) CHECK_EQ_INT(lra_pyrandom_u32(&r), seed0[i]);
    // a two-word key, and the largest 64-bit seed
    static const uint32_t seed_big[4] = {0x06691c81u, 0x8f40f694u, 0x253424ecu, 0xd34a24a2u};
    lra_pyrandom_seed(&r, 12345678901234ull);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(lra_pyrandom_getrandbits(&r, 32), seed_big[i]);
    static const uint32_t seed_max[4] = {0x05965e7eu, 0x3faff328u, 0x568d6a40u, 0x9e667b13u};
    lra_pyrandom_seed(&r, UINT64_MAX);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(lra_pyrandom_u32(&r), seed_max[i]);
    // getrandbits of several widths: random.seed(3); getrandbits(40), (64), (1), (33)
    lra_pyrandom_seed(&r, 3);
    CHECK(lra_pyrandom_getrandbits(&r, 40) == 0x973ceb3ffdull);
    CHECK(lra_pyrandom_getrandbits(&r, 64) == 0x216363698b529b4aull);
    CHECK(lra_pyrandom_getrandbits(&r, 1) == 0);
    CHECK(lra_pyrandom_getrandbits(&r, 33) == 0x1ea7b5bf5ull);
}

static void test_pyrandom_draws(void) {
    lra_pyrandom r;
    static const double seed42[4] = {0x1.4762f307200c5p-1, 0x1.99c6b5eeb2060p-6, 0x1.19a1491f589dcp-2,
                                     0x1.c922b623b8c1cp-3};
    lra_pyrandom_seed(&r, 42);
    for (int i = 0; i < 4; i++) CHECK(lra_pyrandom_random(&r) == seed42[i]);
    // past the first refill: random.seed(1); the 700th random()
    lra_pyrandom_seed(&r, 1);
    double x = 0;
    for (int i = 0; i < 700; i++) x = lra_pyrandom_random(&r);
    CHECK(x == 0x1.f1da143ed43a8p-3);
    // the generator's draws: random.seed(7); 12 x (randint(2,10), choice(range(10)), choice(range(4))),
    // then random()
    static const int mixed[36] = {7, 2, 3, 2, 1, 0, 7, 9, 0, 10, 3, 0, 3, 6, 3, 3, 3, 0,
                                  10, 6, 0, 3, 3, 0, 8, 0, 1, 2, 8, 1, 6, 6, 1, 10, 1, 2};
    lra_pyrandom_seed(&r, 7);
    for (int i = 0; i < 12; i++) {
        CHECK_EQ_INT(lra_pyrandom_randint(&r, 2, 10), mixed[3 * i]);
        CHECK_EQ_INT(lra_pyrandom_choice(&r, 10), mixed[3 * i + 1]);
        CHECK_EQ_INT(lra_pyrandom_choice(&r, 4), mixed[3 * i + 2]);
    }
    CHECK(lra_pyrandom_random(&r) == 0x1.1eda0ab43b6a0p-1);
    // random.seed(5); 4 x randrange(-5, 1000000007), 2 x randint(0, 2**40)
    static const int64_t rr[4] = {668835596, 274281993, 796487713, 384974570};
    lra_pyrandom_seed(&r, 5);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(lra_pyrandom_randrange(&r, -5, 1000000007), rr[i]);
    CHECK_EQ_INT(lra_pyrandom_randint(&r, 0, 1ll << 40), 549512532852ll);
    CHECK_EQ_INT(lra_pyrandom_randint(&r, 0, 1ll << 40), 114456474197ll);
    // numpy's legacy seeding: RandomState(5).random_sample(3), RandomState(123) raw words
    static const double np5[3] = {0x1.c6a45b0e2048cp-3, 0x1.bdd09ff53479ap-1, 0x1.a75c5f5d1ddc4p-3};
    lra_pyrandom_init_genrand(&r, 5);
    for (int i = 0; i < 3; i++) CHECK(lra_pyrandom_random(&r) == np5[i]);
    static const uint32_t np123[3] = {0xb24bcdfeu, 0xb6843d6du, 0x49406d7eu};
    lra_pyrandom_init_genrand(&r, 123);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(lra_pyrandom_u32(&r), np123[i]);
}

// The set-order emulation on 120,000 ints (hash(x) == x for x < 2**61 - 1), past the 50,000-entry change
// of the growth rule.  Digest printed by PYTHONHASHSEED=0 python3 (3.11):
//   random.seed(1); xs = [random.getrandbits(60) for _ in range(120000)]; s = set(); [s.add(x) for x in xs]
//   acc = 0; for v in s: acc = (acc * 1000003 + v) % 2**64
static void test_python_set_order(void) {
    enum { N = 120000 };
    lra_pyrandom r;
    lra_pyrandom_seed(&r, 1);
    uint64_t *h = lra_xmalloc(N * sizeof *h);
    int64_t *order = lra_xmalloc(N * sizeof *order);
    for (int i = 0; i < N; i++) h[i] = lra_pyrandom_getrandbits(&r, 60);
    lra_listops_python_set_order(h, N, order);
    uint64_t acc = 0;
    for (int i = 0; i < N; i++) acc = acc * 1000003u + h[order[i]];
    CHECK(acc == 13989113616413732327ull);
    // the first few inserted small ints land in their own slots: iteration is sorted
    const uint64_t small[5] = {4, 1, 3, 0, 2};
    int64_t o5[5];
    lra_listops_python_set_order(small, 5, o5);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(small[o5[i]], i);
    free(h);
    free(order);
}

// ---------------------------------------------------------------------------------------------------
// Serialization and evaluation

static void test_source_and_eval(void) {
    char *buf = NULL;
    size_t cap = 0;
    // [MAX 9 5 5 1] (data.md §11.5)
    const uint8_t t1[] = {LRA_LISTOPS_MAX, 9, 5, 5, 1, LRA_LISTOPS_END};
    size_t l = lra_listops_source(t1, 6, &buf, &cap);
    CHECK(strcmp(buf, "( ( ( ( ( [MAX 9 ) 5 ) 5 ) 1 ) ] )") == 0);
    CHECK_EQ_INT(l, strlen("( ( ( ( ( [MAX 9 ) 5 ) 5 ) 1 ) ] )"));
    // [SM 3 [MIN 4 2] 8] : nested argument in the middle
    const uint8_t t2[] = {LRA_LISTOPS_SM, 3, LRA_LISTOPS_MIN, 4, 2, LRA_LISTOPS_END, 8, LRA_LISTOPS_END};
    lra_listops_source(t2, 8, &buf, &cap);
    CHECK(strcmp(buf, "( ( ( ( [SM 3 ) ( ( ( [MIN 4 ) 2 ) ] ) ) 8 ) ] )") == 0);
    int v = -1;
    CHECK_OK(lra_listops_eval(buf, strlen(buf), &v));
    CHECK_EQ_INT(v, 3);  // (3 + 2 + 8) mod 10
    free(buf);

    struct {
        const char *src;
        int value;
    } ok[] = {
        {"( ( ( ( ( [MED 2 ) 3 ) 5 ) 6 ) ] )", 4},   // (3+5)/2
        {"( ( ( [MED 2 ) 3 ) ] )", 2},               // (2+3)/2 truncated
        {"( ( ( ( [MED 9 ) 0 ) 4 ) ] )", 4},         // odd count: the middle
        {"( ( ( ( [MED 7 ) 8 ) 8 ) ] )", 8},
        {"( ( ( ( [SM 9 ) 9 ) 9 ) ] )", 7},
        {"( ( ( [MIN 7 ) 3 ) ] )", 3},
        {"( ( ( [MAX 7 ) 3 ) ] )", 7},
        {"( ( ( [MAX ( ( ( [MIN 6 ) 8 ) ] ) ) 5 ) ] )", 6},
        {"7", 7},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        v = -1;
        CHECK_OK(lra_listops_eval(ok[k].src, strlen(ok[k].src), &v));
        CHECK_MSG(v == ok[k].value, "%s: got %d, expected %d", ok[k].src, v, ok[k].value);
    }
    const char *bad[] = {
        "( ( ( [MAX 7 ) 3 ) )",        // operator not closed
        "( ( ( [MAX 7 ) 3 ) ] ) )",    // unbalanced ')'
        "( ( ( [MAX 7 ) 3 ) ] ",       // '(' not closed
        "( ( [MAX ] )",                // no arguments
        "( ( ( [AVG 7 ) 3 ) ] )",      // unknown operator
        "( ( ( [MAX 7 ) 12 ) ] )",     // not a digit
        "3 4",                         // two expressions
        "]",                           // closer without operator
        "",                            // empty
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        lra_error_clear();
        CHECK_MSG(lra_listops_eval(bad[k], strlen(bad[k]), &v) == LRA_ERR_FORMAT, "accepted: '%s'", bad[k]);
        CHECK(strlen(lra_error_message()) > 0);
    }
}

// ---------------------------------------------------------------------------------------------------
// Compat mode: the original generator's rows, byte for byte

static void test_compat_matches_shared(void) {
    const char *shared = lra_test_shared_data();
    if (!shared) SKIP("../shared/data is absent");
    char ref_dir[1024];
    snprintf(ref_dir, sizeof ref_dir, "%s/listops", shared);
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.compat_python = 1;
    o.seed = 0;
    o.n_train = 2000;
    o.n_val = 200;
    o.n_test = 200;
    char *dir = make_tmpdir();
    REQUIRE(dir != NULL);
    CHECK_OK(lra_listops_generate(&o, dir));
    for (int k = 0; k < 3; k++) {
        char p[2048];
        size_t la, lb;
        snprintf(p, sizeof p, "%s/%s", dir, SPLITS[k]);
        char *a = read_file(p, &la);
        snprintf(p, sizeof p, "%s/%s", ref_dir, SPLITS[k]);
        char *b = read_file(p, &lb);
        CHECK_MSG(a && b, "cannot read %s", SPLITS[k]);
        if (a && b) {
            size_t d = 0;
            while (d < la && d < lb && a[d] == b[d]) d++;
            CHECK_MSG(la == lb && d == la, "%s differs from the shared file at byte %zu (sizes %zu, %zu)",
                      SPLITS[k], d, la, lb);
        }
        free(a);
        free(b);
    }
    // The generated files must also pass the format/evaluation scan.
    tsv_stats all, s;
    memset(&all, 0, sizeof all);
    all.min_tok = INT64_MAX;
    for (int k = 0; k < 3; k++) {
        REQUIRE(scan_file(dir, SPLITS[k], &s));
        add_stats(&all, &s);
    }
    CHECK_EQ_INT(all.rows, 2400);
    CHECK_EQ_INT(all.format_errors, 0);
    CHECK_EQ_INT(all.eval_mismatch, 0);
    remove_dir(dir);
}

// The trees of compat mode are those of Python's generator: their multiset does not depend on the set
// order emulation, so check it separately (a failure here points at the sampling, not the order).
// Rows are compared through sorted 64-bit FNV-1a hashes of "Source\tTarget".
static uint64_t fnv1a(const char *s, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001B3ull;
    return h;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_compat_rows_as_set(void) {
    const char *shared = lra_test_shared_data();
    if (!shared) SKIP("../shared/data is absent");
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.compat_python = 1;
    o.n_train = 2000;
    o.n_val = 200;
    o.n_test = 200;
    lra_listops_rows rows;
    REQUIRE(lra_listops_generate_rows(&o, &rows) == LRA_OK);
    REQUIRE(rows.count == 2400);
    uint64_t mine[2400], ref[2400];
    char *buf = NULL;
    size_t cap = 0;
    for (int64_t i = 0; i < 2400; i++) {
        size_t l = lra_listops_source(rows.codes + rows.offsets[i], rows.offsets[i + 1] - rows.offsets[i], &buf, &cap);
        char tail[2] = {'\t', (char)('0' + rows.targets[i])};
        mine[i] = fnv1a(tail, 2, fnv1a(buf, l, 0xCBF29CE484222325ull));
    }
    free(buf);
    lra_listops_rows_free(&rows);
    int64_t n_ref = 0;
    for (int k = 0; k < 3; k++) {
        char p[2048];
        size_t len;
        snprintf(p, sizeof p, "%s/listops/%s", shared, SPLITS[k]);
        char *t = read_file(p, &len);
        REQUIRE(t != NULL);
        char *line = strstr(t, "\r\n") + 2, *end = t + len;
        while (line < end) {
            char *e = memchr(line, '\r', (size_t)(end - line));
            if (!e || n_ref >= 2400) {
                free(t);
                CHECK_MSG(0, "%s: unexpected content after %lld rows", p, (long long)n_ref);
                return;
            }
            ref[n_ref++] = fnv1a(line, (size_t)(e - line), 0xCBF29CE484222325ull);
            line = e + 2;
        }
        free(t);
    }
    CHECK_EQ_INT(n_ref, 2400);
    qsort(mine, 2400, sizeof *mine, cmp_u64);
    qsort(ref, (size_t)n_ref, sizeof *ref, cmp_u64);
    int64_t diff = 0;
    for (int64_t i = 0; i < n_ref; i++) diff += mine[i] != ref[i];
    CHECK_MSG(diff == 0, "%lld of 2400 sorted row hashes differ from the shared rows", (long long)diff);
}

// ---------------------------------------------------------------------------------------------------
// Default (Philox) mode

// Label % per class over 30,000 rows of the original algorithm (data.md §11.9).
static const double REF_LABEL_PCT[10] = {16.9, 9.2, 7.4, 8.1, 8.9, 8.7, 7.9, 7.4, 8.6, 17.0};

static void test_philox_rows_valid(void) {
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 11;
    o.n_train = 300;
    o.n_val = 40;
    o.n_test = 60;
    lra_listops_rows rows;
    REQUIRE(lra_listops_generate_rows(&o, &rows) == LRA_OK);
    CHECK_EQ_INT(rows.count, 400);
    CHECK_EQ_INT(rows.n_train, 300);
    CHECK(rows.attempts >= rows.count);
    char *buf = NULL;
    size_t cap = 0;
    int64_t bad_len = 0, bad_eval = 0, not_depth9 = 0;
    for (int64_t i = 0; i < rows.count; i++) {
        const uint8_t *c = rows.codes + rows.offsets[i];
        int64_t n = rows.offsets[i + 1] - rows.offsets[i];
        if (n <= 500 || n >= 2000) bad_len++;
        int64_t depth = 0, deepest = 0;
        for (int64_t k = 0; k < n; k++) {
            if (c[k] >= LRA_LISTOPS_MIN && c[k] <= LRA_LISTOPS_SM && ++depth > deepest) deepest = depth;
            if (c[k] == LRA_LISTOPS_END) depth--;
        }
        not_depth9 += deepest != 9;
        size_t l = lra_listops_source(c, n, &buf, &cap);
        int v = -1;
        if (lra_listops_eval(buf, l, &v) != LRA_OK || v != rows.targets[i]) bad_eval++;
    }
    free(buf);
    CHECK_EQ_INT(bad_len, 0);
    CHECK_EQ_INT(bad_eval, 0);
    // every kept tree nests operators exactly 9 deep (data.md §11.3), barring rare exceptions
    CHECK_MSG(not_depth9 <= 4, "%lld of 400 rows do not nest 9 deep", (long long)not_depth9);
    lra_listops_rows_free(&rows);
}

static void test_philox_statistics(void) {
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 2024;
    o.n_train = 5000;
    o.n_val = 500;
    o.n_test = 500;
    lra_listops_rows rows;
    REQUIRE(lra_listops_generate_rows(&o, &rows) == LRA_OK);
    double pct[10] = {0}, mean_len = (double)rows.offsets[rows.count] / (double)rows.count;
    int64_t root_op[4] = {0};
    for (int64_t i = 0; i < rows.count; i++) {
        pct[rows.targets[i]] += 100.0 / (double)rows.count;
        root_op[rows.codes[rows.offsets[i]] - LRA_LISTOPS_MIN]++;
    }
    // acceptance rate 8.2 % (12.2 attempts per kept tree)
    double per_kept = (double)rows.attempts / (double)rows.count;
    CHECK_MSG(per_kept > 11.0 && per_kept < 13.5, "attempts per kept tree %.2f, expected about 12.2", per_kept);
    for (int k = 0; k < 4; k++) CHECK_NEAR(100.0 * (double)root_op[k] / (double)rows.count, 25.0, 2.0);
    for (int k = 0; k < 10; k++) CHECK_NEAR(pct[k], REF_LABEL_PCT[k], 2.0);
    CHECK_NEAR(mean_len, 1034.0, 0.05 * 1034.0);

    const char *shared = lra_test_shared_data();
    if (!shared) {
        lra_listops_rows_free(&rows);
        SKIP("../shared/data is absent (the data.md §11.9 figures were checked)");
    }
    char ref_dir[1024];
    snprintf(ref_dir, sizeof ref_dir, "%s/listops", shared);
    tsv_stats all, s;
    memset(&all, 0, sizeof all);
    all.min_tok = INT64_MAX;
    for (int k = 0; k < 3; k++) {
        REQUIRE(scan_file(ref_dir, SPLITS[k], &s));
        add_stats(&all, &s);
    }
    REQUIRE(all.rows == 2400);
    CHECK_EQ_INT(all.format_errors, 0);
    CHECK_EQ_INT(all.eval_mismatch, 0);  // the evaluator agrees with the original on every shared row
    for (int k = 0; k < 10; k++)
        CHECK_MSG(fabs(pct[k] - 100.0 * (double)all.labels[k] / (double)all.rows) <= 2.0,
                  "label %d: %.2f %% generated vs %.2f %% in the shared rows", k, pct[k],
                  100.0 * (double)all.labels[k] / (double)all.rows);
    double ref_mean = all.tokens / (double)all.rows;
    CHECK_MSG(fabs(mean_len - ref_mean) <= 0.05 * ref_mean, "mean length %.1f generated vs %.1f shared",
              mean_len, ref_mean);
    lra_listops_rows_free(&rows);
}

static void test_output_format(void) {
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 5;
    o.n_train = 30;
    o.n_val = 7;
    o.n_test = 0;  // an empty split still gets its header
    char *dir = make_tmpdir();
    REQUIRE(dir != NULL);
    CHECK_OK(lra_listops_generate(&o, dir));
    static const int64_t expect[3] = {30, 7, 0};
    for (int k = 0; k < 3; k++) {
        tsv_stats s;
        REQUIRE(scan_file(dir, SPLITS[k], &s));
        CHECK_EQ_INT(s.rows, expect[k]);
        CHECK_EQ_INT(s.format_errors, 0);
        CHECK_EQ_INT(s.eval_mismatch, 0);
        if (s.rows) CHECK(s.min_tok > 500 && s.max_tok < 2000);
    }
    // byte-level: header, CRLF at every line end, no bare LF, no trailing blank line
    char p[2048];
    size_t len;
    snprintf(p, sizeof p, "%s/%s", dir, SPLITS[1]);
    char *t = read_file(p, &len);
    REQUIRE(t != NULL);
    CHECK(strncmp(t, "Source\tTarget\r\n", 15) == 0);
    int64_t lf = 0, crlf = 0;
    for (size_t i = 0; i < len; i++)
        if (t[i] == '\n') {
            lf++;
            crlf += i > 0 && t[i - 1] == '\r';
        }
    CHECK_EQ_INT(lf, 8);
    CHECK_EQ_INT(crlf, 8);
    CHECK(len >= 4 && t[len - 1] == '\n' && t[len - 3] != '\n');
    free(t);
    snprintf(p, sizeof p, "%s/%s", dir, SPLITS[2]);
    t = read_file(p, &len);
    REQUIRE(t != NULL);
    CHECK(len == 15 && strcmp(t, "Source\tTarget\r\n") == 0);
    free(t);
    remove_dir(dir);

    // an output directory that cannot be created is an I/O error naming it
    lra_error_clear();
    CHECK_EQ_INT(lra_listops_generate(&o, "/nonexistent_dir_lra/x"), LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "/nonexistent_dir_lra/x") != NULL);
}

static int rows_equal(const lra_listops_rows *a, const lra_listops_rows *b) {
    if (a->count != b->count || a->attempts != b->attempts) return 0;
    if (memcmp(a->offsets, b->offsets, (size_t)(a->count + 1) * sizeof *a->offsets)) return 0;
    if (memcmp(a->targets, b->targets, (size_t)a->count)) return 0;
    return memcmp(a->codes, b->codes, (size_t)a->offsets[a->count]) == 0;
}

static void test_determinism(void) {
    for (int compat = 0; compat <= 1; compat++) {
        lra_listops_gen_options o;
        lra_listops_gen_defaults(&o);
        o.compat_python = compat;
        o.seed = 77;
        o.n_train = 40;
        o.n_val = 5;
        o.n_test = 5;
        lra_listops_rows a, b, c;
        REQUIRE(lra_listops_generate_rows(&o, &a) == LRA_OK);
        REQUIRE(lra_listops_generate_rows(&o, &b) == LRA_OK);
        o.seed = 78;
        REQUIRE(lra_listops_generate_rows(&o, &c) == LRA_OK);
        CHECK_MSG(rows_equal(&a, &b), "compat=%d: same seed, different rows", compat);
        CHECK_MSG(!rows_equal(&a, &c), "compat=%d: seeds 77 and 78 gave the same rows", compat);
        lra_listops_rows_free(&a);
        lra_listops_rows_free(&b);
        lra_listops_rows_free(&c);
    }
    // the two modes draw differently
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.n_train = 10;
    o.n_val = o.n_test = 0;
    lra_listops_rows a, b;
    REQUIRE(lra_listops_generate_rows(&o, &a) == LRA_OK);
    o.compat_python = 1;
    REQUIRE(lra_listops_generate_rows(&o, &b) == LRA_OK);
    CHECK(!rows_equal(&a, &b));
    lra_listops_rows_free(&a);
    lra_listops_rows_free(&b);
}

// Philox mode samples chunks of attempts in parallel: the rows must not depend on the thread count.
static void test_thread_count_independence(void) {
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    o.seed = 3;
    o.n_train = 300;
    o.n_val = 20;
    o.n_test = 20;
    int saved = omp_get_max_threads();
    lra_listops_rows a, b;
    omp_set_num_threads(1);
    lra_status sa = lra_listops_generate_rows(&o, &a);
    omp_set_num_threads(3);
    lra_status sb = lra_listops_generate_rows(&o, &b);
    omp_set_num_threads(saved);
    REQUIRE(sa == LRA_OK && sb == LRA_OK);
    CHECK(rows_equal(&a, &b));
    lra_listops_rows_free(&a);
    lra_listops_rows_free(&b);
}

static void test_options(void) {
    lra_listops_gen_options d, o;
    lra_listops_gen_defaults(&d);
    CHECK_EQ_INT(d.n_train, 96000);
    CHECK_EQ_INT(d.n_val, 2000);
    CHECK_EQ_INT(d.n_test, 2000);
    CHECK_EQ_INT(d.max_depth, 10);
    CHECK_EQ_INT(d.max_args, 10);
    CHECK_EQ_INT(d.min_length, 500);
    CHECK_EQ_INT(d.max_length, 2000);
    CHECK_EQ_INT(d.compat_python, 0);
    lra_listops_rows rows;
    o = d;
    o.max_args = 1;
    CHECK_EQ_INT(lra_listops_generate_rows(&o, &rows), LRA_ERR_ARG);
    CHECK(strstr(lra_error_message(), "max_args") != NULL);
    o = d;
    o.n_train = o.n_val = o.n_test = 0;
    CHECK_EQ_INT(lra_listops_generate_rows(&o, &rows), LRA_ERR_ARG);
    o = d;
    o.min_length = 2000;
    CHECK_EQ_INT(lra_listops_generate_rows(&o, &rows), LRA_ERR_ARG);
    o = d;
    o.max_depth = 3;  // at most 2 + 10 * (2 + 10) = 122 tokens: never longer than 500
    CHECK_EQ_INT(lra_listops_generate_rows(&o, &rows), LRA_ERR_ARG);
    CHECK(strstr(lra_error_message(), "122") != NULL);

    // small trees are fine: depth 3, lengths 10..40
    o = d;
    o.max_depth = 3;
    o.min_length = 10;
    o.max_length = 40;
    o.n_train = 50;
    o.n_val = o.n_test = 0;
    REQUIRE(lra_listops_generate_rows(&o, &rows) == LRA_OK);
    char *buf = NULL;
    size_t cap = 0;
    for (int64_t i = 0; i < rows.count; i++) {
        int64_t n = rows.offsets[i + 1] - rows.offsets[i];
        CHECK(n > 10 && n < 40);
        size_t l = lra_listops_source(rows.codes + rows.offsets[i], n, &buf, &cap);
        int v = -1;
        CHECK(lra_listops_eval(buf, l, &v) == LRA_OK && v == rows.targets[i]);
    }
    free(buf);
    lra_listops_rows_free(&rows);
}

static const lra_test_case TESTS[] = {
    {"pyrandom_words", test_pyrandom_words},
    {"pyrandom_draws", test_pyrandom_draws},
    {"python_set_order", test_python_set_order},
    {"source_and_eval", test_source_and_eval},
    {"compat_matches_shared", test_compat_matches_shared},
    {"compat_rows_as_set", test_compat_rows_as_set},
    {"philox_rows_valid", test_philox_rows_valid},
    {"philox_statistics", test_philox_statistics},
    {"output_format", test_output_format},
    {"determinism", test_determinism},
    {"thread_count_independence", test_thread_count_independence},
    {"options", test_options},
};
LRA_TEST_MAIN(TESTS)
