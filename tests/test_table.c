// `lra table` on run directories built here (eval.json, config.yaml, data.json written by hand, so no
// training is needed): what may share a cell, duplicate seeds, labelled data sets, unverified runs, the
// three output formats, the published tables of --reference; and the data fingerprint itself.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "data/dataset.h"
#include "tasks/data_fingerprint.h"
#include "tasks/reference_results.h"
#include "tasks/results_table.h"
#include "tests/harness.h"

static char g_root[256];

static const char *build_dir(void) {
    const char *b = getenv("LRA_BUILD");
    return b && *b ? b : "build";
}

static void write_text(const char *dir, const char *name, const char *text) {
    char *p = lra_path_join(dir, name);
    LRA_ASSERT(lra_atomic_write_file(p, text, strlen(text)) == LRA_OK);
    free(p);
}

// A finished run: task, kernel, seed, accuracy (fraction), train.steps and batch, the data's fingerprint
// ("" = no data.json) and data-set label.
static void make_run(const char *name, const char *task, const char *kernel, int seed, double acc, int steps,
                     int batch, const char *fp, const char *dataset) {
    char dir[512], text[2048];
    snprintf(dir, sizeof dir, "%s/runs/%s", g_root, name);
    LRA_ASSERT(lra_path_mkdirs(dir) == LRA_OK);
    snprintf(text, sizeof text,
             "{\"task\": \"%s\", \"attention\": \"%s\", \"seed\": %d, \"steps\": %d, \"test_accuracy\": %.6f, "
             "\"test_examples\": 100}\n", task, kernel, seed, steps, acc);
    write_text(dir, "eval.json", text);
    snprintf(text, sizeof text,
             "# Resolved configuration from x.yaml\nseed: %d  # run seed\ntask: %s  # LRA task\ndata:\n"
             "  path: \"/data/%s-%s\"  # where\n  cache_dir: \"\"  # cache\nmodel:\n  dim: 64  # width\n"
             "  attention:\n    type: %s  # kernel\ntrain:\n  steps: %d  # steps\n  batch_size: %d  # batch\n"
             "  log_every: %d  # logging\n",
             seed, task, name, kernel, kernel, steps, batch, seed + 1);
    write_text(dir, "config.yaml", text);
    if (fp[0]) {
        snprintf(text, sizeof text,
                 "{\"task\": \"%s\", \"fingerprint\": \"%s\", \"train_examples\": 10, \"val_examples\": 5, "
                 "\"test_examples\": 5, \"dataset\": \"%s\", \"own_dataset\": %s}\n",
                 task, fp, dataset, dataset[0] ? "false" : "true");
        write_text(dir, "data.json", text);
    }
}

#define FP_A "00000000000000aa"
#define FP_B "00000000000000bb"
#define FP_C "00000000000000cc"

// The bug report's runs: seeds 1 and 42 only (42 twice), 2 to 200 steps, two test sets, Fashion-MNIST
// in the image task; plus runs that may be averaged and one from before fingerprints.
static void make_fixtures(void) {
    snprintf(g_root, sizeof g_root, "/tmp/lra-test-table-%d", (int)getpid());
    lra_test_rmtree(g_root);
    make_run("sm-s1", "listops", "softmax", 1, 0.30, 200, 32, FP_A, "");
    make_run("sm-s2", "listops", "softmax", 2, 0.34, 200, 32, FP_A, "");
    make_run("sm-s42", "listops", "softmax", 42, 0.38, 200, 32, FP_A, "");
    make_run("sm-s42-again", "listops", "softmax", 42, 0.99, 200, 32, FP_A, "");  // duplicate seed
    make_run("sm-short", "listops", "softmax", 1, 0.05, 2, 32, FP_A, "");        // another budget
    make_run("sm-other-data", "listops", "softmax", 1, 0.11, 200, 32, FP_B, "");  // another test set
    make_run("sm-fashion", "image", "softmax", 1, 0.80, 200, 32, FP_C, "IDX images (MNIST-like), not CIFAR-10");
    make_run("sk-s1", "listops", "skeinformer", 1, 0.40, 200, 32, FP_A, "");
    make_run("sk-s2", "listops", "skeinformer", 2, 0.44, 200, 32, FP_A, "");
    make_run("sk-old", "text", "skeinformer", 1, 0.60, 200, 32, "", "");  // no data.json
    char dir[512];
    snprintf(dir, sizeof dir, "%s/runs/unfinished", g_root);
    LRA_ASSERT(lra_path_mkdirs(dir) == LRA_OK);
    write_text(dir, "config.yaml", "seed: 1\n");
    // A sweep's folder: its cells are one level further down.
    make_run("sweep/sk-s3", "listops", "skeinformer", 3, 0.42, 200, 32, FP_A, "");
}

static char *run_table(const char *args, int *rc) {
    char cmd[1500], out[400];
    snprintf(out, sizeof out, "%s/out.txt", g_root);
    // stderr joins stdout unless args redirect it
    snprintf(cmd, sizeof cmd, "%s/lra table %s > '%s'%s", build_dir(), args, out, strstr(args, "2>") ? "" : " 2>&1");
    const int st = system(cmd);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    char *text = NULL;
    size_t n;
    if (lra_file_read_all(out, &text, &n)) return lra_xstrdup("");
    return text;
}

// The markdown line of a row whose label starts with `label` (new string), or NULL.
static char *line_of(const char *text, const char *label) {
    char pat[600];
    snprintf(pat, sizeof pat, "| %s", label);
    const char *p = strstr(text, pat);
    if (!p) return NULL;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *r = lra_xmalloc(n + 1);
    memcpy(r, p, n);
    r[n] = '\0';
    return r;
}

static void test_grouping(void) {
    make_fixtures();
    const char *paths[1];
    char runs[400];
    snprintf(runs, sizeof runs, "%s/runs", g_root);
    paths[0] = runs;
    lra_results_table t;
    REQUIRE(lra_results_table_build(paths, 1, &t) == LRA_OK);
    // Columns: the tasks with a title.  ListOps is column 0, Text 1, Image 3.
    REQUIRE(t.n_cols == 5);
    int plain = -1, short_row = -1, other_data = -1, fashion = -1, sk = -1, sk_old = -1;
    for (int r = 0; r < t.n_rows; r++) {
        const lra_table_row *row = &t.rows[r];
        const int softmax = !strcmp(row->kernel, "softmax");
        // Three data sets or budgets of softmax on ListOps: each row names its own.
        if (softmax && !strcmp(row->label, "train.steps=200; data " FP_A)) plain = r;
        if (softmax && !strcmp(row->label, "train.steps=2; data " FP_A)) short_row = r;
        if (softmax && !strcmp(row->label, "train.steps=200; data " FP_B)) other_data = r;
        if (softmax && strstr(row->label, "IDX images")) fashion = r;
        if (!strcmp(row->kernel, "skeinformer") && !row->label[0]) sk = r;
        if (!strcmp(row->kernel, "skeinformer") && strstr(row->label, "unverified data")) sk_old = r;
    }
    REQUIRE(plain >= 0 && short_row >= 0 && other_data >= 0 && fashion >= 0 && sk >= 0 && sk_old >= 0);
    // Seeds 1, 2, 42 once each (the second 42 is left out and flagged): mean 34, std 4.
    const lra_table_cell *c = lra_results_cell(&t, plain, 0);
    CHECK_EQ_INT(c->n, 3);
    CHECK_NEAR(c->mean, 34.0, 1e-9);
    CHECK_NEAR(c->std, 4.0, 1e-9);
    CHECK_EQ_INT(c->duplicate_seeds, 1);
    // Other budgets and other data never join it.
    CHECK_EQ_INT(lra_results_cell(&t, short_row, 0)->n, 1);
    CHECK_NEAR(lra_results_cell(&t, short_row, 0)->mean, 5.0, 1e-9);
    CHECK_EQ_INT(lra_results_cell(&t, other_data, 0)->n, 1);
    CHECK_NEAR(lra_results_cell(&t, other_data, 0)->mean, 11.0, 1e-9);
    // Fashion-MNIST is in the Image column, on its own labelled row, not the plain softmax row.
    CHECK_EQ_INT(lra_results_cell(&t, fashion, 3)->n, 1);
    CHECK_EQ_INT(lra_results_cell(&t, plain, 3)->n, 0);
    CHECK(isnan(lra_results_cell(&t, fashion, 3)->std));
    // skeinformer: ListOps plain; Text only from the unverified run, on its own row.
    CHECK_EQ_INT(lra_results_cell(&t, sk, 0)->n, 3);  // one of them from runs/sweep/
    CHECK_NEAR(lra_results_cell(&t, sk, 0)->mean, 42.0, 1e-9);
    CHECK_EQ_INT(lra_results_cell(&t, sk, 1)->n, 0);
    CHECK_EQ_INT(lra_results_cell(&t, sk_old, 1)->n, 1);
    // The cells as a bar chart takes them: task-major, NAN where empty.
    double *mean = malloc(sizeof(double) * (size_t)(t.n_rows * t.n_cols)), *sd = malloc(sizeof(double) * (size_t)(t.n_rows * t.n_cols));
    lra_results_series(&t, mean, sd);
    CHECK_NEAR(mean[0 * t.n_rows + plain], 34.0, 1e-9);
    CHECK_NEAR(sd[0 * t.n_rows + plain], 4.0, 1e-9);
    CHECK(isnan(mean[3 * t.n_rows + plain]) && !isnan(mean[3 * t.n_rows + fashion]) && isnan(sd[3 * t.n_rows + fashion]));
    free(mean);
    free(sd);
    char name[700];
    lra_results_row_name(&t, fashion, name, sizeof name);
    CHECK(!strcmp(name, "softmax [data: IDX images (MNIST-like), not CIFAR-10]"));
    // The notes say what happened.
    int dup_note = 0, split_note = 0, unfinished_note = 0, unverified_note = 0;
    for (int i = 0; i < t.n_notes; i++) {
        dup_note |= strstr(t.notes[i], "seed 42") && strstr(t.notes[i], "counted once") != NULL;
        split_note |= strstr(t.notes[i], "softmax on ListOps") && strstr(t.notes[i], "train.steps") != NULL;
        unfinished_note |= strstr(t.notes[i], "unfinished") && strstr(t.notes[i], "no eval.json") != NULL;
        unverified_note |= strstr(t.notes[i], "unverified data") != NULL;
    }
    CHECK(dup_note && split_note && unfinished_note && unverified_note);
    lra_results_table_free(&t);
}

static void test_markdown_csv_latex(void) {
    int rc;
    char args[600];
    snprintf(args, sizeof args, "'%s/runs'", g_root);
    char *md = run_table(args, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(md, "| Attention | ListOps | Text | Retrieval | Image | Pathfinder | Average |"));
    char *plain = line_of(md, "softmax [train.steps=200; data " FP_A "]");
    CHECK_MSG(plain && strstr(plain, "| 34.00 ± 4.00 (n=3) dup-seed |"), "row: %s\n%s", plain ? plain : "-", md);
    free(plain);
    char *fashion = line_of(md, "softmax [data: IDX images (MNIST-like), not CIFAR-10]");
    CHECK_MSG(fashion && strstr(fashion, "| 80.00 (n=1) | - |"), "%s", md);
    free(fashion);
    CHECK(strstr(md, "| skeinformer | 42.00 ± 2.00 (n=3) | - |"));
    CHECK(strstr(md, "[unverified data] | - | 60.00 (n=1) |"));
    CHECK(strstr(md, "Notes:\n"));
    free(md);
    // CSV: one line per row, numbers in their own columns; notes to stderr.
    snprintf(args, sizeof args, "'%s/runs' --format csv 2> /dev/null", g_root);
    char *csv = run_table(args, &rc);
    CHECK_EQ_INT(rc, 0);
    const char *head = "attention,variant,kind,listops_mean,listops_std,listops_n,text_mean";
    CHECK_MSG(strncmp(csv, head, strlen(head)) == 0, "%s", csv);
    CHECK_MSG(strstr(csv, "\nskeinformer,,ours,42.00,2.00,3,,,0,"), "%s", csv);
    CHECK(strstr(csv, "34.00,4.00,3,") && strstr(csv, ",duplicate-seed\n"));
    CHECK(!strstr(csv, "Notes"));
    free(csv);
    snprintf(args, sizeof args, "'%s/runs' --format latex", g_root);
    char *tex = run_table(args, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(tex, "\\begin{tabular}{lrrrrrr}") && strstr(tex, "\\end{tabular}"));
    CHECK(strstr(tex, "skeinformer & 42.00 $\\pm$ 2.00 (n=3) & -"));
    CHECK(strstr(tex, "\\item ") && !strstr(tex, "±"));
    free(tex);
    snprintf(args, sizeof args, "'%s/runs' --format html", g_root);
    char *bad = run_table(args, &rc);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(bad, "expected markdown, csv or latex"));
    free(bad);
}

static void test_reference(void) {
    int rc;
    char args[600];
    snprintf(args, sizeof args, "'%s/runs' --reference skeinformer", g_root);
    char *md = run_table(args, &rc);
    CHECK_EQ_INT(rc, 0);
    // Skeinformer's own column order (Text, ListOps, ...) is put in ours; the difference is ours - published.
    CHECK_MSG(strstr(md, "|   published, skeinformer: Skeinformer | 38.73 | 62.47 | 80.42 | 37.27 | 71.51 | 58.08 |"),
              "%s", md);
    CHECK(strstr(md, "|   difference (ours - skeinformer: Skeinformer) | +3.27 | - | - | - | - | - |"));
    CHECK(strstr(md, "published, skeinformer: Standard | 38.15 |"));
    CHECK(strstr(md, "Protocol: ") && strstr(md, "last model tested"));
    free(md);
    // S3's published spreads; the table alone without runs.
    char *s3 = run_table("--reference s3attention", &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(s3, "| s3attention: S3Attention (best) (s3) | 39.15 ± 0.48 | 71.58 ± 0.95 | 83.73 ± 0.61 | 57.73 ± 1.83 | "
                     "78.20 ± 1.32 | 66.08 ± 2.56 |"));
    free(s3);
    char *yoso = run_table("--reference yoso", &rc);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(yoso, "not available") && strstr(yoso, "nystromformer"));
    free(yoso);
    char *bogus = run_table("--reference bogus", &rc);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(bogus, "expected one of lra, nystromformer, skeinformer, s3attention"));
    free(bogus);
    // A malformed reference file is reported with its line.
    char path[400];
    snprintf(path, sizeof path, "%s/bad.tsv", g_root);
    LRA_ASSERT(lra_atomic_write_file(path, "source\tx\tX\tp\ncolumns\tx\tlistops\nrow\tx\tM\tsoftmax\tabc\n", 52) == LRA_OK);
    lra_reference ref;
    CHECK(lra_reference_load(path, &ref) == LRA_ERR_FORMAT);
    CHECK(strstr(lra_error_message(), "bad.tsv:3:") && strstr(lra_error_message(), "\"abc\""));
}

// Every published row of data/reference/results.tsv appears, with the same numbers in the same order, in
// the project's transcription of the papers (../shared/reference/results.md).
static void test_reference_file_matches_results_md(void) {
    const char *md_path = "../shared/reference/results.md";
    if (!lra_path_is_file(md_path)) SKIP("%s not present", md_path);
    char *md = NULL;
    size_t n;
    REQUIRE(lra_file_read_all(md_path, &md, &n) == LRA_OK);
    // Without spaces, so "38.30 (0.40)" matches the file's "38.30(0.40)".
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (md[i] != ' ') md[k++] = md[i];
    md[k] = '\0';
    lra_reference ref;
    REQUIRE(lra_reference_load("data/reference/results.tsv", &ref) == LRA_OK);
    CHECK_EQ_INT(ref.n_sources, 4);
    CHECK(ref.n_rows >= 50);
    for (int r = 0; r < ref.n_rows; r++) {
        const lra_ref_row *row = &ref.rows[r];
        char line[1024] = "|";
        for (const char *c = row->model; *c; c++)
            if (*c != ' ') strncat(line, (char[]){*c, 0}, sizeof line - strlen(line) - 1);
        strcat(line, "|");
        for (int c = 0; c < ref.sources[row->source].n_cols; c++) {
            strncat(line, row->text[c], sizeof line - strlen(line) - 1);
            strcat(line, "|");
        }
        CHECK_MSG(strstr(md, line) != NULL, "row %s of %s not found in results.md as %s", row->model,
                  ref.sources[row->source].name, line);
    }
    lra_reference_free(&ref);
    free(md);
}

static void small_dataset(lra_dataset *d, int seed) {
    lra_dataset_init(d, 1, 20, 10);
    for (int i = 0; i < 6; i++) {
        uint16_t toks[5];
        for (int j = 0; j < 5; j++) toks[j] = (uint16_t)((i * 7 + j * 3 + seed) % 20);
        lra_dataset_push1(d, toks, 3 + i % 3, i % 10);
    }
}

static void test_fingerprint(void) {
    lra_dataset a[3], b[3];
    for (int k = 0; k < 3; k++) {
        small_dataset(&a[k], k);
        small_dataset(&b[k], k);
    }
    const lra_dataset *pa[3] = {&a[0], &a[1], &a[2]}, *pb[3] = {&b[0], &b[1], &b[2]};
    lra_data_fingerprint fa, fb;
    memset(&fa, 0, sizeof fa);
    memset(&fb, 0, sizeof fb);
    lra_data_fingerprint_compute(pa, &fa);
    lra_data_fingerprint_compute(pb, &fb);
    CHECK(strlen(fa.hash) == 16 && !strcmp(fa.hash, fb.hash));
    CHECK_EQ_INT(fa.examples[2], 6);
    b[2].tokens[3] ^= 1;  // one token of the test split
    lra_data_fingerprint_compute(pb, &fb);
    CHECK(strcmp(fa.hash, fb.hash));
    b[2].tokens[3] ^= 1;
    b[1].labels[0] = 9;   // one label
    lra_data_fingerprint_compute(pb, &fb);
    CHECK(strcmp(fa.hash, fb.hash));
    b[1].labels[0] = a[1].labels[0];
    b[0].count = 5;       // data.max_train cuts the split
    lra_data_fingerprint_compute(pb, &fb);
    CHECK(strcmp(fa.hash, fb.hash) && fb.examples[0] == 5);
    b[0].count = 6;
    lra_data_fingerprint_compute(pb, &fb);
    CHECK(!strcmp(fa.hash, fb.hash));
    // data.json as written
    char dir[400];
    snprintf(dir, sizeof dir, "%s/fp", g_root);
    REQUIRE(lra_path_mkdirs(dir) == LRA_OK);
    snprintf(fa.dataset, sizeof fa.dataset, "generated: lra data generate listops");
    REQUIRE(lra_data_fingerprint_write(dir, "listops", &fa) == LRA_OK);
    char *p = lra_path_join(dir, LRA_DATA_JSON), *text = NULL;
    size_t n;
    REQUIRE(lra_file_read_all(p, &text, &n) == LRA_OK);
    char want[200];
    snprintf(want, sizeof want, "\"fingerprint\": \"%s\", \"train_examples\": 6", fa.hash);
    CHECK(strstr(text, want) && strstr(text, "\"own_dataset\": false"));
    free(text);
    free(p);
    for (int k = 0; k < 3; k++) {
        lra_dataset_free(&a[k]);
        lra_dataset_free(&b[k]);
    }
    lra_test_rmtree(g_root);
}

static const lra_test_case TESTS[] = {
    {"grouping", test_grouping},
    {"markdown_csv_latex", test_markdown_csv_latex},
    {"reference", test_reference},
    {"reference_file_matches_results_md", test_reference_file_matches_results_md},
    {"fingerprint", test_fingerprint},
};
LRA_TEST_MAIN(TESTS)
