// Tests of the checked file I/O wrappers, the line reader, atomic writes and path helpers.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "tests/harness.h"

// A fresh temporary directory per case; removed by tmp_done.
static char g_dir[256];
static const char *tmp_dir(void) {
    lra_test_mkdtemp(g_dir, sizeof g_dir, "test_fileio");
    return g_dir;
}
static void tmp_done(void) { lra_test_rmtree(g_dir); }

static char *path_in(const char *name) { return lra_path_join(g_dir, name); }

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_open_missing_names_file_and_hint(void) {
    tmp_dir();
    char *p = path_in("nope/missing.tsv");
    FILE *fp = (FILE *)1;
    lra_status s = lra_file_open(&fp, p, "rb");
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK(fp == NULL);
    const char *m = lra_error_message();
    CHECK_MSG(strstr(m, p) && strstr(m, "cannot open for reading") && strstr(m, "No such file") &&
                  strstr(m, "check the path"),
              "message: %s", m);
    // A directory opened as a file is refused up front.
    s = lra_file_open(&fp, g_dir, "rb");
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK_MSG(strstr(lra_error_message(), "directory"), "message: %s", lra_error_message());
    free(p);
    tmp_done();
}

static void test_read_all_and_short_read(void) {
    tmp_dir();
    char *p = path_in("data.bin");
    const char payload[] = "hello\0world";  // contains a NUL
    CHECK_OK(lra_atomic_write_file(p, payload, sizeof payload - 1));
    char *data;
    size_t n;
    CHECK_OK(lra_file_read_all(p, &data, &n));
    CHECK_EQ_INT(n, sizeof payload - 1);
    CHECK(memcmp(data, payload, n) == 0);
    CHECK(data[n] == '\0');
    free(data);

    FILE *fp;
    CHECK_OK(lra_file_open(&fp, p, "rb"));
    char buf[64];
    CHECK_OK(lra_file_read(fp, p, buf, 4));
    CHECK(memcmp(buf, "hell", 4) == 0);
    CHECK_OK(lra_file_seek(fp, p, -3, SEEK_END));
    int64_t pos;
    CHECK_OK(lra_file_tell(fp, p, &pos));
    CHECK_EQ_INT(pos, (int64_t)n - 3);
    lra_status s = lra_file_read(fp, p, buf, 10);  // only 3 bytes left
    CHECK_EQ_INT(s, LRA_ERR_FORMAT);
    CHECK_MSG(strstr(lra_error_message(), "truncated") && strstr(lra_error_message(), p), "message: %s",
              lra_error_message());
    CHECK_OK(lra_file_close(fp, p));

    // An empty file reads as an empty, NUL-terminated buffer.
    char *e = path_in("empty");
    CHECK_OK(lra_atomic_write_file(e, "", 0));
    CHECK_OK(lra_file_read_all(e, &data, &n));
    CHECK_EQ_INT(n, 0);
    CHECK(data[0] == '\0');
    free(data);
    free(e);
    free(p);
    tmp_done();
}

static void test_close_reports_delayed_write_error(void) {
    if (access("/dev/full", W_OK) != 0) SKIP("no /dev/full");
    FILE *fp;
    CHECK_OK(lra_file_open(&fp, "/dev/full", "wb"));
    char buf[100] = {0};
    CHECK_OK(lra_file_write(fp, "/dev/full", buf, sizeof buf));  // buffered: fails only at close
    lra_status s = lra_file_close(fp, "/dev/full");
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK_MSG(strstr(lra_error_message(), "/dev/full") && strstr(lra_error_message(), "free disk space"),
              "message: %s", lra_error_message());
}

static void test_lines_with_numbers(void) {
    tmp_dir();
    char *p = path_in("lines.txt");
    const char text[] = "first\r\nsecond\n\nlast without newline";
    CHECK_OK(lra_atomic_write_file(p, text, strlen(text)));
    lra_lines lr;
    CHECK_OK(lra_lines_open(&lr, p));
    const char *want[] = {"first", "second", "", "last without newline"};
    bool got;
    int n = 0;
    while (lra_lines_next(&lr, &got) == LRA_OK && got) {
        REQUIRE(n < 4);
        CHECK_MSG(strcmp(lr.line, want[n]) == 0, "line %d: '%s'", n + 1, lr.line);
        CHECK_EQ_INT(lr.len, strlen(want[n]));
        CHECK_EQ_INT(lr.lineno, n + 1);
        n++;
    }
    CHECK_EQ_INT(n, 4);
    CHECK_OK(lra_lines_next(&lr, &got));  // stays at the end
    CHECK(!got);
    lra_lines_close(&lr);
    free(p);
    tmp_done();
}

static void test_atomic_abort_keeps_old_file(void) {
    tmp_dir();
    char *p = path_in("ckpt.bin");
    CHECK_OK(lra_atomic_write_file(p, "old", 3));
    lra_atomic_writer *w;
    CHECK_OK(lra_atomic_begin(&w, p));
    // The temporary file lives next to the target (same file system: rename is atomic).
    char *tdir = lra_path_dirname(lra_atomic_temp_path(w));
    CHECK(strcmp(tdir, g_dir) == 0);
    CHECK(lra_path_basename(lra_atomic_temp_path(w))[0] == '.');
    free(tdir);
    CHECK_OK(lra_atomic_write(w, "new contents", 12));
    CHECK_EQ_INT(count_entries(g_dir), 2);  // target + temp
    lra_atomic_abort(w);
    char *data;
    size_t n;
    CHECK_OK(lra_file_read_all(p, &data, &n));
    CHECK(n == 3 && memcmp(data, "old", 3) == 0);
    free(data);
    CHECK_EQ_INT(count_entries(g_dir), 1);  // no leftover temp file

    // Committed: the new contents replace the old, via printf and a header patched by seek.
    CHECK_OK(lra_atomic_begin(&w, p));
    CHECK_OK(lra_atomic_write(w, "????", 4));
    CHECK_OK(lra_atomic_printf(w, "-%d-%s", 42, "tail"));
    CHECK_EQ_INT(lra_atomic_tell(w), 12);
    CHECK_OK(lra_atomic_seek(w, 0));
    CHECK_OK(lra_atomic_write(w, "HEAD", 4));
    CHECK_OK(lra_atomic_commit(w));
    CHECK_OK(lra_file_read_all(p, &data, &n));
    CHECK_MSG(n == 12 && memcmp(data, "HEAD-42-tail", 12) == 0, "got '%s'", data);
    free(data);
    CHECK_EQ_INT(count_entries(g_dir), 1);

    // A long printf goes through the heap path.
    CHECK_OK(lra_atomic_begin(&w, p));
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_OK(lra_atomic_printf(w, "%s!", big));
    CHECK_OK(lra_atomic_commit(w));
    lra_file_info info;
    CHECK_OK(lra_file_stat(p, &info));
    CHECK_EQ_INT(info.size, 3000);
    free(p);
    tmp_done();
}

static void test_atomic_errors(void) {
    tmp_dir();
    char *p = path_in("no/such/dir/x.bin");
    lra_atomic_writer *w = (lra_atomic_writer *)1;
    lra_status s = lra_atomic_begin(&w, p);
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK(w == NULL);
    CHECK_MSG(strstr(lra_error_message(), p) && strstr(lra_error_message(), "temporary file"), "message: %s",
              lra_error_message());
    free(p);
    // Renaming over a directory fails at commit; the temp file is removed and the error is named.
    char *d = path_in("adir");
    CHECK_OK(lra_path_mkdirs(d));
    char *inner = lra_path_join(d, "keep");
    CHECK_OK(lra_atomic_write_file(inner, "k", 1));
    CHECK_OK(lra_atomic_begin(&w, d));
    CHECK_OK(lra_atomic_write(w, "x", 1));
    s = lra_atomic_commit(w);
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK_MSG(strstr(lra_error_message(), "rename"), "message: %s", lra_error_message());
    CHECK_EQ_INT(count_entries(g_dir), 1);
    CHECK(lra_file_exists(inner));
    free(inner);
    free(d);
    tmp_done();
}

static void test_mkdirs_and_stat(void) {
    tmp_dir();
    char *p = path_in("a/b/c/");
    CHECK_OK(lra_path_mkdirs(p));
    CHECK_OK(lra_path_mkdirs(p));  // existing is fine
    lra_file_info info;
    CHECK_OK(lra_file_stat(p, &info));
    CHECK(info.is_dir);
    char *f = path_in("a/file");
    CHECK_OK(lra_atomic_write_file(f, "12345", 5));
    char *under = path_in("a/file/sub");
    lra_status s = lra_path_mkdirs(under);
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK_MSG(strstr(lra_error_message(), "not a directory"), "message: %s", lra_error_message());

    // size and mtime (set explicitly: file system timestamps may be coarse).
    struct timespec ts[2] = {{1000, 123456789}, {1700000000, 987654321}};
    REQUIRE(utimensat(AT_FDCWD, f, ts, 0) == 0);
    CHECK_OK(lra_file_stat(f, &info));
    CHECK_EQ_INT(info.size, 5);
    CHECK(!info.is_dir);
    CHECK_EQ_INT(info.mtime_ns, 1700000000LL * 1000000000LL + 987654321LL);
    CHECK(lra_file_exists(f));
    CHECK_OK(lra_file_remove(f));
    CHECK(!lra_file_exists(f));
    CHECK_OK(lra_file_remove(f));  // already gone: fine
    s = lra_file_stat(f, &info);
    CHECK_EQ_INT(s, LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "cannot stat") != NULL);
    free(under);
    free(f);
    free(p);
    tmp_done();
}

static void test_paths(void) {
    struct {
        const char *a, *b, *want;
    } joins[] = {{"runs", "x.yaml", "runs/x.yaml"}, {"runs/", "x", "runs/x"}, {"runs//", "x", "runs/x"},
                 {"runs", "/abs", "/abs"},          {"", "x", "x"},          {"a", "", "a"},
                 {"/", "x", "/x"}};
    for (size_t i = 0; i < sizeof joins / sizeof joins[0]; i++) {
        char *r = lra_path_join(joins[i].a, joins[i].b);
        CHECK_MSG(strcmp(r, joins[i].want) == 0, "join(%s, %s) = %s", joins[i].a, joins[i].b, r);
        free(r);
    }
    struct {
        const char *p, *dir, *base;
    } parts[] = {{"x/y/z.bin", "x/y", "z.bin"}, {"z.bin", ".", "z.bin"}, {"/z", "/", "z"}, {"a//b", "a", "b"}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char *d = lra_path_dirname(parts[i].p);
        CHECK_MSG(strcmp(d, parts[i].dir) == 0, "dirname(%s) = %s", parts[i].p, d);
        CHECK(strcmp(lra_path_basename(parts[i].p), parts[i].base) == 0);
        free(d);
    }
}

static const lra_test_case TESTS[] = {
    {"open_missing_names_file_and_hint", test_open_missing_names_file_and_hint},
    {"read_all_and_short_read", test_read_all_and_short_read},
    {"close_reports_delayed_write_error", test_close_reports_delayed_write_error},
    {"lines_with_numbers", test_lines_with_numbers},
    {"atomic_abort_keeps_old_file", test_atomic_abort_keeps_old_file},
    {"atomic_errors", test_atomic_errors},
    {"mkdirs_and_stat", test_mkdirs_and_stat},
    {"paths", test_paths},
};
LRA_TEST_MAIN(TESTS)
