// Tests of the text-task readers: ListOps TSV (data/read_listops.h), IMDb directory and tar.gz
// (data/read_imdb.h) and AAN retrieval TSV (data/read_aan.h), on the fixtures in tests/fixtures/
// (made by tests/fixtures/make_text_fixtures.sh), on bad inputs written to a temporary directory, and
// on the real ListOps sample in ../shared/data when present.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/read_aan.h"
#include "data/read_imdb.h"
#include "data/read_listops.h"
#include "tests/harness.h"

// ---- helpers -----------------------------------------------------------------------------------

static char g_tmp[256];

static const char *tmpdir(void) {
    if (!g_tmp[0]) {
        lra_test_mkdtemp(g_tmp, sizeof g_tmp, "test_text");
    }
    return g_tmp;
}

static void cleanup(void) {
    if (g_tmp[0]) lra_test_rmtree(g_tmp);
}

// Writes n bytes to tmpdir()/name and returns the path (static buffer, one at a time).
static const char *write_tmp(const char *name, const void *data, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir(), name);
    FILE *f = fopen(path, "wb");
    LRA_ASSERT(f != NULL);
    LRA_ASSERT(fwrite(data, 1, n, f) == n);
    fclose(f);
    return path;
}
static const char *write_tmp_str(const char *name, const char *s) { return write_tmp(name, s, strlen(s)); }

static char *fixture(const char *rel) {
    char *p = malloc(strlen(lra_test_fixtures()) + strlen(rel) + 2);
    sprintf(p, "%s/%s", lra_test_fixtures(), rel);
    return p;
}

// The error message must name the file and the line ("path:line:") and contain `what`.
static int msg_has(const char *path, int line, const char *what) {
    char want[600];
    if (line > 0)
        snprintf(want, sizeof want, "%s:%d:", path, line);
    else
        snprintf(want, sizeof want, "%s", path);
    const char *m = lra_error_message();
    int ok = strstr(m, want) != NULL && (!what || strstr(m, what) != NULL);
    if (!ok) printf("    message was: %s\n", m);
    return ok;
}

static int seq_equals(const lra_dataset *ds, int64_t i, int s, const uint16_t *want, int64_t n) {
    if (lra_dataset_len(ds, i, s) != n) return 0;
    return n == 0 || memcmp(lra_dataset_seq(ds, i, s), want, (size_t)n * sizeof *want) == 0;
}

// ids of a byte string (byte + 1)
static int bytes_equal(const lra_dataset *ds, int64_t i, int s, const char *text) {
    int64_t n = (int64_t)strlen(text);
    if (lra_dataset_len(ds, i, s) != n) return 0;
    const uint16_t *q = lra_dataset_seq(ds, i, s);
    for (int64_t k = 0; k < n; k++)
        if (q[k] != (uint16_t)((unsigned char)text[k] + 1)) return 0;
    return 1;
}

// ---- ListOps -----------------------------------------------------------------------------------

static void test_listops_fixture(void) {
    char *p = fixture("listops/basic_train.tsv");
    lra_dataset ds;
    CHECK_OK(lra_listops_read(p, NULL, &ds));
    REQUIRE(ds.count == 3);
    CHECK_EQ_INT(ds.n_seq, 1);
    CHECK_EQ_INT(ds.vocab_size, 17);
    CHECK_EQ_INT(ds.num_classes, 10);
    // ( ( ( ( ( [MAX 9 ) 5 ) 5 ) 1 ) ] ) -> [MAX 9 5 5 1 ]
    const uint16_t r0[] = {12, 10, 6, 6, 2, 15};
    // ( ( ( [MIN 3 ) 7 ) ] ) -> [MIN 3 7 ]
    const uint16_t r1[] = {11, 4, 8, 15};
    // [SM 4 [MED 1 2 8 ] 5 ]
    const uint16_t r2[] = {14, 5, 13, 2, 3, 9, 15, 6, 15};
    CHECK(seq_equals(&ds, 0, 0, r0, 6));
    CHECK(seq_equals(&ds, 1, 0, r1, 4));
    CHECK(seq_equals(&ds, 2, 0, r2, 9));
    CHECK_EQ_INT(ds.labels[0], 9);
    CHECK_EQ_INT(ds.labels[1], 3);
    CHECK_EQ_INT(ds.labels[2], 1);
    CHECK_EQ_INT(ds.max_seq_len, 9);
    CHECK_OK(lra_dataset_validate(&ds, p));
    lra_dataset_free(&ds);
    free(p);
    p = fixture("listops/basic_val.tsv");
    CHECK_OK(lra_listops_read(p, NULL, &ds));
    CHECK_EQ_INT(ds.count, 2);
    lra_dataset_free(&ds);
    free(p);
}

static void test_listops_token_ids(void) {
    const char *sym[] = {"0", "5", "9", "[MIN", "[MAX", "[MED", "[SM", "]", "(", ")", "X", "[SUM", "10", "MAX"};
    const int want[] = {1, 6, 10, 11, 12, 13, 14, 15, -1, -1, 16, 16, 16, 16};
    for (int i = 0; i < (int)(sizeof want / sizeof *want); i++)
        CHECK_MSG(lra_listops_token_id(sym[i], strlen(sym[i])) == want[i], "symbol %s", sym[i]);
}

static void test_listops_lf_and_options(void) {
    // LF-only endings, double spaces and a trailing blank line are accepted.
    const char *p = write_tmp_str("lf.tsv", "Source\tTarget\n( ( [MAX 1  2 ) ] )\t2\n\n");
    lra_dataset ds;
    CHECK_OK(lra_listops_read(p, NULL, &ds));
    REQUIRE(ds.count == 1);
    const uint16_t r[] = {12, 2, 3, 15};
    CHECK(seq_equals(&ds, 0, 0, r, 4));
    lra_dataset_free(&ds);
    // Header only: no rows, not an error.
    p = write_tmp_str("hdr.tsv", "Source\tTarget\r\n");
    CHECK_OK(lra_listops_read(p, NULL, &ds));
    CHECK_EQ_INT(ds.count, 0);
    lra_dataset_free(&ds);
    // allow_unknown maps an unknown symbol to 16; max_len keeps the first tokens.
    p = write_tmp_str("unk.tsv", "Source\tTarget\r\n( [MAX 1 [SUM 2 ) ]\t2\r\n");
    lra_listops_options o = {0};
    o.allow_unknown = 1;
    CHECK_OK(lra_listops_read(p, &o, &ds));
    const uint16_t ru[] = {12, 2, 16, 3, 15};
    CHECK(ds.count == 1 && seq_equals(&ds, 0, 0, ru, 5));
    lra_dataset_free(&ds);
    o.max_len = 2;
    CHECK_OK(lra_listops_read(p, &o, &ds));
    CHECK(ds.count == 1 && seq_equals(&ds, 0, 0, ru, 2));
    lra_dataset_free(&ds);
}

typedef struct {
    const char *name, *content;
    int line;
    const char *what;
} bad_case;

static void test_listops_bad_inputs(void) {
    const bad_case cases[] = {
        {"empty.tsv", "", 1, "empty file"},
        {"header.tsv", "Source,Target\r\n( [MAX 1 ] )\t1\r\n", 1, "header"},
        {"cols3.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t1\r\n( [MAX 1 ] )\t1\t7\r\n", 3, "2 tab-separated columns"},
        {"cols1.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t1\r\n( [MAX 1 ] )\r\n", 3, "columns"},
        {"label2.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t12\r\n", 2, "bad label"},
        {"labelx.tsv", "Source\tTarget\r\n( [MAX 1 ] )\tx\r\n", 2, "bad label"},
        {"label0.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t\r\n", 2, "bad label"},
        {"unknown.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t1\r\n( [SUM 1 ] )\t1\r\n", 3, "[SUM"},
        {"emptysrc.tsv", "Source\tTarget\r\n( ( ) )\t1\r\n", 2, "empty Source"},
        // Truncated files: cut inside a row, and cut right after the label (no line end).
        {"cut1.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t1\r\n( ( [MIN 4 5", 3, "truncated"},
        {"cut2.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t1\r\n( [MIN 4 5 ] )\t4", 3, "truncated"},
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof *cases); i++) {
        const char *p = write_tmp_str(cases[i].name, cases[i].content);
        lra_dataset ds;
        lra_status st = lra_listops_read(p, NULL, &ds);
        CHECK_MSG(st == LRA_ERR_FORMAT, "%s: status %d", cases[i].name, (int)st);
        CHECK_MSG(msg_has(p, cases[i].line, cases[i].what), "%s", cases[i].name);
        CHECK(ds.tokens == NULL && ds.count == 0);  // freed on error
    }
    // A missing file is an I/O error naming it.
    lra_dataset ds;
    CHECK_EQ_INT(lra_listops_read("/nonexistent/basic_train.tsv", NULL, &ds), LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "/nonexistent/basic_train.tsv") != NULL);
}

static void test_listops_oversize(void) {
    // A 1.5 MB line exceeds the default 1 MiB limit; a smaller explicit limit also applies.
    size_t n = 1500000;
    char *s = malloc(n + 64);
    strcpy(s, "Source\tTarget\r\n( [MAX 1 ] )\t1\r\n");
    size_t k = strlen(s);
    for (; k < n; k++) s[k] = k % 2 ? ' ' : '7';
    strcpy(s + k, " ]\t1\r\n");
    const char *p = write_tmp("big.tsv", s, strlen(s));
    lra_dataset ds;
    CHECK_EQ_INT(lra_listops_read(p, NULL, &ds), LRA_ERR_FORMAT);
    CHECK(msg_has(p, 3, "longer than the limit"));
    p = write_tmp_str("small.tsv", "Source\tTarget\r\n( [MAX 1 ] )\t1\r\n( [MAX 1 2 3 4 5 6 7 8 ] )\t8\r\n");
    lra_listops_options o = {0};
    o.max_line = 20;
    CHECK_EQ_INT(lra_listops_read(p, &o, &ds), LRA_ERR_FORMAT);
    CHECK(msg_has(p, 3, "longer than the limit"));
    free(s);
}

// The real sample made by the original generator (shared/data/listops, see its README).
static void test_listops_real_sample(void) {
    const char *root = lra_test_shared_data();
    if (!root) SKIP("no ../shared/data");
    static const char *files[3] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    static const int64_t rows[3] = {2000, 200, 200};
    static const int hist[3][10] = {{317, 197, 150, 146, 188, 186, 153, 153, 160, 350},
                                    {45, 17, 17, 12, 16, 20, 15, 15, 12, 31},
                                    {37, 15, 19, 19, 20, 13, 17, 10, 14, 36}};
    static const int64_t minlen[3] = {501, 503, 501}, maxlen[3] = {1995, 1955, 1928};
    static const int64_t total[3] = {2124777, 210095, 208193};
    for (int f = 0; f < 3; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/listops/%s", root, files[f]);
        if (access(path, R_OK) != 0) SKIP("no %s", path);
        lra_dataset ds;
        CHECK_OK(lra_listops_read(path, NULL, &ds));
        REQUIRE(ds.count == rows[f]);
        int h[10] = {0};
        int64_t mn = INT64_MAX, mx = 0, ops_vs_close = 0;
        for (int64_t i = 0; i < ds.count; i++) {
            h[ds.labels[i]]++;
            int64_t len = lra_dataset_len(&ds, i, 0);
            mn = len < mn ? len : mn;
            mx = len > mx ? len : mx;
            const uint16_t *q = lra_dataset_seq(&ds, i, 0);
            int64_t ops = 0, close = 0;
            for (int64_t k = 0; k < len; k++) {
                ops += q[k] >= LRA_LISTOPS_MIN && q[k] <= LRA_LISTOPS_SM;
                close += q[k] == LRA_LISTOPS_CLOSE;
            }
            ops_vs_close += ops != close;  // every operator has its closing bracket
        }
        for (int c = 0; c < 10; c++) CHECK_MSG(h[c] == hist[f][c], "%s label %d: %d != %d", files[f], c, h[c], hist[f][c]);
        CHECK_EQ_INT(mn, minlen[f]);
        CHECK_EQ_INT(mx, maxlen[f]);
        CHECK_EQ_INT(ds.max_seq_len, maxlen[f]);
        CHECK_EQ_INT(lra_dataset_num_tokens(&ds), total[f]);
        CHECK_EQ_INT(ops_vs_close, 0);
        CHECK_OK(lra_dataset_validate(&ds, path));
        lra_dataset_free(&ds);
    }
}

// ---- IMDb --------------------------------------------------------------------------------------

static void check_imdb_train(const lra_dataset *ds) {
    REQUIRE(ds->count == 5);
    CHECK_EQ_INT(ds->vocab_size, 257);
    CHECK_EQ_INT(ds->num_classes, 2);
    // neg by id (1, 3, 10), then pos by id (0, 2); whitespace stripped; bytes kept undecoded.
    CHECK(bytes_equal(ds, 0, 0, "Meh \342\200\223 not good"));
    CHECK(bytes_equal(ds, 1, 0, "Bad movie.<br /><br />Terrible!"));
    CHECK(bytes_equal(ds, 2, 0, "Awful"));
    CHECK(bytes_equal(ds, 3, 0, "Great!"));
    CHECK(bytes_equal(ds, 4, 0, "Loved it"));
    const int want[5] = {0, 0, 0, 1, 1};
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(ds->labels[i], want[i]);
    CHECK_EQ_INT(lra_dataset_seq(ds, 0, 0)[4], 0xE2 + 1);  // first byte of the en dash
}

static void test_imdb_directory(void) {
    char *root = fixture("imdb/aclImdb"), *parent = fixture("imdb");
    lra_dataset ds;
    CHECK_OK(lra_imdb_read(root, LRA_SPLIT_TRAIN, NULL, &ds));
    check_imdb_train(&ds);
    lra_dataset_free(&ds);
    // The parent directory works too; val and test are both aclImdb/test.
    CHECK_OK(lra_imdb_read(parent, LRA_SPLIT_TRAIN, NULL, &ds));
    CHECK_EQ_INT(ds.count, 5);
    lra_dataset_free(&ds);
    for (int s = LRA_SPLIT_VAL; s <= LRA_SPLIT_TEST; s++) {
        CHECK_OK(lra_imdb_read(parent, (lra_split)s, NULL, &ds));
        REQUIRE(ds.count == 3);
        CHECK(bytes_equal(&ds, 0, 0, "No."));
        CHECK(bytes_equal(&ds, 1, 0, "Yes!"));
        CHECK(bytes_equal(&ds, 2, 0, "Fine film"));  // \v and \f are whitespace too
        CHECK(ds.labels[0] == 0 && ds.labels[1] == 1 && ds.labels[2] == 1);
        lra_dataset_free(&ds);
    }
    lra_imdb_options o = {0};
    o.max_len = 4;
    CHECK_OK(lra_imdb_read(root, LRA_SPLIT_TRAIN, &o, &ds));
    CHECK(ds.count == 5 && bytes_equal(&ds, 1, 0, "Bad "));
    CHECK_EQ_INT(ds.max_seq_len, 4);
    lra_dataset_free(&ds);
    free(root);
    free(parent);
}

static int datasets_equal(const lra_dataset *a, const lra_dataset *b) {
    if (a->count != b->count || a->n_seq != b->n_seq || a->vocab_size != b->vocab_size ||
        a->num_classes != b->num_classes || a->max_seq_len != b->max_seq_len)
        return 0;
    int64_t n = a->count * a->n_seq;
    if (memcmp(a->offsets, b->offsets, (size_t)(n + 1) * sizeof *a->offsets)) return 0;
    if (a->count && memcmp(a->labels, b->labels, (size_t)a->count * sizeof *a->labels)) return 0;
    return a->offsets[n] == 0 || !memcmp(a->tokens, b->tokens, (size_t)a->offsets[n] * sizeof *a->tokens);
}

static void test_imdb_archive(void) {
    char *dir = fixture("imdb/aclImdb"), *tgz = fixture("imdb/aclImdb_v1.tar.gz");
    CHECK(lra_imdb_is_archive(tgz));
    CHECK(!lra_imdb_is_archive(dir));
    for (int s = 0; s < 3; s++) {
        lra_dataset a, b;
        CHECK_OK(lra_imdb_read(dir, (lra_split)s, NULL, &a));
        CHECK_OK(lra_imdb_read(tgz, (lra_split)s, NULL, &b));
        CHECK_MSG(datasets_equal(&a, &b), "split %d: archive and directory differ", s);
        if (s == 0) check_imdb_train(&b);
        lra_dataset_free(&a);
        lra_dataset_free(&b);
    }
    free(dir);
    free(tgz);
}

static void test_imdb_bad_inputs(void) {
    lra_dataset ds;
    // Not an aclImdb directory.
    CHECK_EQ_INT(lra_imdb_read(tmpdir(), LRA_SPLIT_TRAIN, NULL, &ds), LRA_ERR_IO);
    CHECK(msg_has(tmpdir(), 0, "aclImdb"));
    // A stray file name in a label folder.
    char d[600];
    snprintf(d, sizeof d, "%s/imdb1", tmpdir());
    mkdir(d, 0777);
    snprintf(d, sizeof d, "%s/imdb1/train", tmpdir());
    mkdir(d, 0777);
    snprintf(d, sizeof d, "%s/imdb1/train/neg", tmpdir());
    mkdir(d, 0777);
    snprintf(d, sizeof d, "%s/imdb1/train/pos", tmpdir());
    mkdir(d, 0777);
    write_tmp_str("imdb1/train/neg/1_2.txt", "ok");
    write_tmp_str("imdb1/train/pos/notes.txt", "stray");
    snprintf(d, sizeof d, "%s/imdb1", tmpdir());
    CHECK_EQ_INT(lra_imdb_read(d, LRA_SPLIT_TRAIN, NULL, &ds), LRA_ERR_FORMAT);
    CHECK(msg_has("train/pos/notes.txt", 0, "<id>_<rating>.txt"));
    // A review over the size limit.
    snprintf(d, sizeof d, "%s/imdb1/train/pos/notes.txt", tmpdir());
    remove(d);
    write_tmp_str("imdb1/train/pos/4_8.txt", "0123456789");
    snprintf(d, sizeof d, "%s/imdb1", tmpdir());
    lra_imdb_options o = {0};
    o.max_review = 5;
    CHECK_EQ_INT(lra_imdb_read(d, LRA_SPLIT_TRAIN, &o, &ds), LRA_ERR_FORMAT);
    CHECK(msg_has("train/pos/4_8.txt", 0, "exceeds"));
    CHECK_OK(lra_imdb_read(d, LRA_SPLIT_TRAIN, NULL, &ds));
    CHECK_EQ_INT(ds.count, 2);
    lra_dataset_free(&ds);
    // A truncated archive: the error names the archive.
    char *tgz = fixture("imdb/aclImdb_v1.tar.gz");
    FILE *f = fopen(tgz, "rb");
    REQUIRE(f != NULL);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    free(tgz);
    const char *cut = write_tmp("cut.tar.gz", buf, n / 2);
    lra_status st = lra_imdb_read(cut, LRA_SPLIT_TRAIN, NULL, &ds);
    CHECK(st == LRA_ERR_FORMAT || st == LRA_ERR_IO);
    CHECK(msg_has(cut, 0, NULL));
    CHECK(ds.count == 0 && ds.tokens == NULL);
}

// ---- AAN ---------------------------------------------------------------------------------------

static void test_aan_fixture(void) {
    char *p = fixture("aan/new_aan_pairs.train.tsv");
    lra_dataset ds;
    CHECK_OK(lra_aan_read(p, NULL, &ds));
    REQUIRE(ds.count == 3);
    CHECK_EQ_INT(ds.n_seq, 2);
    CHECK_EQ_INT(ds.vocab_size, 257);
    CHECK_EQ_INT(ds.num_classes, 2);
    CHECK(bytes_equal(&ds, 0, 0, "First paper text."));
    CHECK(bytes_equal(&ds, 0, 1, "Second \"quoted\" text."));  // quotes are plain bytes
    CHECK(bytes_equal(&ds, 1, 0, "Caf\303\251 au lait"));
    CHECK(bytes_equal(&ds, 1, 1, "x"));  // the CRLF line's '\r' is stripped
    CHECK(bytes_equal(&ds, 2, 0, "abc"));
    CHECK(bytes_equal(&ds, 2, 1, "defg"));
    CHECK(ds.labels[0] == 1 && ds.labels[1] == 0 && ds.labels[2] == 1);  // "1.0" -> 1
    CHECK_EQ_INT(ds.max_seq_len, 21);
    CHECK_OK(lra_dataset_validate(&ds, p));
    lra_dataset_free(&ds);
    free(p);
}

static void test_aan_cut(void) {
    // Texts are cut to their first 10,000 bytes (official); max_len cuts further.
    size_t n = 12000;
    char *s = malloc(2 * n + 64);
    strcpy(s, "0\ta\tb\t");
    size_t k = strlen(s);
    for (size_t i = 0; i < n; i++) s[k++] = (char)('a' + i % 26);
    s[k++] = '\t';
    for (size_t i = 0; i < 10; i++) s[k++] = (char)0xFF;
    s[k++] = '\n';
    const char *p = write_tmp("long.tsv", s, k);
    lra_dataset ds;
    CHECK_OK(lra_aan_read(p, NULL, &ds));
    REQUIRE(ds.count == 1);
    CHECK_EQ_INT(lra_dataset_len(&ds, 0, 0), 10000);
    CHECK_EQ_INT(lra_dataset_len(&ds, 0, 1), 10);
    CHECK_EQ_INT(lra_dataset_seq(&ds, 0, 0)[9999], 'a' + 9999 % 26 + 1);
    CHECK_EQ_INT(lra_dataset_seq(&ds, 0, 1)[0], 256);  // byte 0xFF -> id 256
    lra_dataset_free(&ds);
    lra_aan_options o = {0};
    o.max_len = 4000;
    CHECK_OK(lra_aan_read(p, &o, &ds));
    CHECK_EQ_INT(lra_dataset_len(&ds, 0, 0), 4000);
    CHECK_EQ_INT(ds.max_seq_len, 4000);
    lra_dataset_free(&ds);
    free(s);
}

static void test_aan_bad_inputs(void) {
    const bad_case cases[] = {
        {"f4.tsv", "1\ta\tb\tx\ty\n0\ta\tb\tonly three\n", 2, "found 4"},
        {"f6.tsv", "1\ta\tb\tx\ty\tz\n", 1, "found 6"},
        {"lab.tsv", "1\ta\tb\tx\ty\nyes\ta\tb\tx\ty\n", 2, "bad label"},
        {"lab2.tsv", "2\ta\tb\tx\ty\n", 1, "out of range"},
        {"labneg.tsv", "-1\ta\tb\tx\ty\n", 1, "out of range"},
        {"labempty.tsv", "\ta\tb\tx\ty\n", 1, "bad label"},
        {"cut.tsv", "1\ta\tb\tx\ty\n0\ta\tb\tsome te", 2, "truncated"},
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof *cases); i++) {
        const char *p = write_tmp_str(cases[i].name, cases[i].content);
        lra_dataset ds;
        lra_status st = lra_aan_read(p, NULL, &ds);
        CHECK_MSG(st == LRA_ERR_FORMAT, "%s: status %d", cases[i].name, (int)st);
        CHECK_MSG(msg_has(p, cases[i].line, cases[i].what), "%s", cases[i].name);
        CHECK(ds.tokens == NULL && ds.count == 0);
    }
    const char *p = write_tmp_str("over.tsv", "1\ta\tb\tx\ty\n0\ta\tb\tthis line is long\ty\n");
    lra_aan_options o = {0};
    o.max_line = 16;
    lra_dataset ds;
    CHECK_EQ_INT(lra_aan_read(p, &o, &ds), LRA_ERR_FORMAT);
    CHECK(msg_has(p, 2, "longer than the limit"));
}

static void test_cleanup(void) {
    cleanup();
    CHECK(access(g_tmp, F_OK) != 0);
}

static const lra_test_case TESTS[] = {
    {"listops_fixture", test_listops_fixture},
    {"listops_token_ids", test_listops_token_ids},
    {"listops_lf_and_options", test_listops_lf_and_options},
    {"listops_bad_inputs", test_listops_bad_inputs},
    {"listops_oversize", test_listops_oversize},
    {"listops_real_sample", test_listops_real_sample},
    {"imdb_directory", test_imdb_directory},
    {"imdb_archive", test_imdb_archive},
    {"imdb_bad_inputs", test_imdb_bad_inputs},
    {"aan_fixture", test_aan_fixture},
    {"aan_cut", test_aan_cut},
    {"aan_bad_inputs", test_aan_bad_inputs},
    {"cleanup", test_cleanup},
};
LRA_TEST_MAIN(TESTS)
