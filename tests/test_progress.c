// Tests of the progress bar's output with a fake clock, written to a memory stream.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "tests/harness.h"

static double fake_clock(void *ctx) { return *(double *)ctx; }

static int count_of(const char *s, const char *what) {
    int n = 0;
    for (const char *q = strstr(s, what); q; q = strstr(q + 1, what)) n++;
    return n;
}

static void test_format_time(void) {
    char b[32];
    lra_progress_format_time(0, b, sizeof b);
    CHECK(!strcmp(b, "00:00"));
    lra_progress_format_time(75.4, b, sizeof b);
    CHECK(!strcmp(b, "01:15"));
    lra_progress_format_time(3599.6, b, sizeof b);
    CHECK(!strcmp(b, "1:00:00"));
    lra_progress_format_time(3 * 3600 + 62, b, sizeof b);
    CHECK(!strcmp(b, "3:01:02"));
    lra_progress_format_time(NAN, b, sizeof b);
    CHECK(!strcmp(b, "--:--"));
    lra_progress_format_time(-1, b, sizeof b);
    CHECK(!strcmp(b, "--:--"));
}

static void test_plain_lines(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    double now = 100.0;
    lra_progress_opts o = {.out = f, .mode = LRA_PROGRESS_PLAIN, .every = 2, .clock = fake_clock, .clock_ctx = &now};
    lra_progress *p = lra_progress_begin_opts(5, "train", &o);
    for (int s = 1; s <= 5; s++) {
        now += 0.5;  // 2 steps/s
        lra_progress_update(p, s, 1.0 / s, s == 1 ? NAN : 0.1 * s, 1e-3);
    }
    lra_progress_note(p, "eval: acc %.1f%%", 61.5);
    now += 1.0;
    lra_progress_end(p);
    fclose(f);
    const char *want =
        "train step 2/5 (40%) | loss 0.5000 | acc 20.00% | lr 1.00e-03 | 2.00 steps/s | elapsed 00:01 | eta 00:02\n"
        "train step 4/5 (80%) | loss 0.2500 | acc 40.00% | lr 1.00e-03 | 2.00 steps/s | elapsed 00:02 | eta 00:01\n"
        "train step 5/5 (100%) | loss 0.2000 | acc 50.00% | lr 1.00e-03 | 2.00 steps/s | elapsed 00:03 | eta 00:00\n"
        "eval: acc 61.5%\n"
        "train done: step 5 of 5 in 00:04 (1.43 steps/s)\n";
    CHECK_MSG(!strcmp(buf, want), "got:\n%s", buf);
    CHECK(strchr(buf, '\r') == NULL && strchr(buf, '\033') == NULL);
    free(buf);
}

// In a log file a line comes at least every plain_interval seconds even when `every` steps take longer,
// and with timestamps each line (progress, note, done) starts with the UTC time "YYYY-MM-DDTHH:MM:SSZ ".
static void test_plain_interval_and_timestamps(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    double now = 0.0;
    lra_progress_opts o = {.out = f, .mode = LRA_PROGRESS_PLAIN, .every = 1000, .plain_interval = 30,
                           .timestamps = 1, .clock = fake_clock, .clock_ctx = &now};
    lra_progress *p = lra_progress_begin_opts(5000, "train", &o);
    for (int s = 10; s <= 80; s += 10) {  // 10 steps every 37.5 s: 80 steps in 5 minutes
        now += 37.5;
        lra_progress_update(p, s, 0.5, 0.5, 1e-3);
    }
    lra_progress_note(p, "step 80: dev loss %.4f", 0.25);
    lra_progress_end(p);
    fclose(f);
    int lines = 0, stamped = 0;
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        lines++;
        int y, mo, d, h, mi, se;
        char z;
        stamped += sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d%c ", &y, &mo, &d, &h, &mi, &se, &z) == 7 && z == 'Z' &&
                   line[20] == ' ';
    }
    CHECK_MSG(lines == 10, "got %d lines:\n%s", lines, buf);  // 8 progress lines, the note, done
    CHECK_MSG(stamped == lines, "%d of %d lines stamped:\n%s", stamped, lines, buf);
    CHECK(strstr(buf, "Z train step 10/5000 (0%)") && strstr(buf, "Z train step 80/5000 (1%)"));
    CHECK(strstr(buf, "Z step 80: dev loss 0.2500\n"));
    free(buf);
}

static void test_plain_resume_unknown_total_and_missing_fields(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    double now = 0.0;
    // Resumed at step 100, total unknown, default every (100 steps), only the loss shown.
    lra_progress_opts o = {.out = f, .mode = LRA_PROGRESS_PLAIN, .start = 100, .clock = fake_clock, .clock_ctx = &now};
    lra_progress *p = lra_progress_begin_opts(0, "eval", &o);
    for (int s = 101; s <= 350; s++) {
        now += 1.0 / 128;  // exact in binary: 128 steps/s
        lra_progress_update(p, s, 0.25, NAN, NAN);
    }
    lra_progress_end(p);
    fclose(f);
    const char *want = "eval step 200 | loss 0.2500 | 128 steps/s | elapsed 00:01\n"
                       "eval step 300 | loss 0.2500 | 128 steps/s | elapsed 00:02\n"
                       "eval step 350 | loss 0.2500 | 128 steps/s | elapsed 00:02\n"
                       "eval done: step 350 (250 this session) in 00:02 (128 steps/s)\n";
    CHECK_MSG(!strcmp(buf, want), "got:\n%s", buf);
    free(buf);
    // Default every with a known total: total/20 steps, no fields at all.
    f = open_memstream(&buf, &len);
    REQUIRE(f);
    now = 0.0;
    lra_progress_opts q = {.out = f, .mode = LRA_PROGRESS_PLAIN, .clock = fake_clock, .clock_ctx = &now};
    p = lra_progress_begin_opts(200, "x", &q);
    for (int s = 1; s <= 200; s++) lra_progress_update(p, s, NAN, NAN, NAN);
    lra_progress_end(p);
    fclose(f);
    CHECK_EQ_INT(count_of(buf, "x step "), 20);
    CHECK(strstr(buf, "x step 10/200 (5%) | 0.00 steps/s | elapsed 00:00 | eta --:--\n") != NULL);
    CHECK(strstr(buf, "loss") == NULL);
    free(buf);
}

// A resumed run's closing line names the step reached of the total and the steps this session ran
// (not only the latter, which read as if the run had done 300 steps in all).
static void test_done_line_after_resume(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    double now = 0.0;
    lra_progress_opts o = {.out = f, .mode = LRA_PROGRESS_PLAIN, .start = 200, .clock = fake_clock, .clock_ctx = &now};
    lra_progress *p = lra_progress_begin_opts(500, "train", &o);
    for (int s = 201; s <= 500; s++) {
        now += 1.0 / 100;
        lra_progress_update(p, s, NAN, NAN, NAN);
    }
    lra_progress_end(p);
    fclose(f);
    CHECK_MSG(strstr(buf, "train done: step 500 of 500 (300 this session) in 00:03 (100 steps/s)\n") != NULL, "got:\n%s",
              buf);
    free(buf);
}

static void test_tty_redraw_throttled(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f);
    double now = 0.0;
    lra_progress_opts o = {.out = f, .mode = LRA_PROGRESS_TTY, .width = 10, .min_interval = 0.125,
                           .clock = fake_clock, .clock_ctx = &now};
    lra_progress *p = lra_progress_begin_opts(1000, "train", &o);
    // 1000 steps of 1/1024 s, redrawn every 0.125 s = 128 steps: at steps 1, 129, ..., 897 and 1000.
    for (int s = 1; s <= 1000; s++) {
        now += 1.0 / 1024;
        lra_progress_update(p, s, 0.5, 0.75, 2e-4);
    }
    lra_progress_end(p);
    fclose(f);
    int draws = count_of(buf, "\r");
    CHECK_EQ_INT(draws, 9);
    CHECK(count_of(buf, "\033[K") == draws);
    CHECK(strstr(buf, "\rtrain [#.........] 129/1000  12% | loss 0.5000 | acc 75.00% | lr 2.00e-04 | 1024 steps/s "
                      "| eta 00:01\033[K\r") != NULL);
    CHECK(strstr(buf, "\rtrain [##########] 1000/1000 100% | loss 0.5000 | acc 75.00% | lr 2.00e-04 | 1024 steps/s "
                      "| eta 00:00\033[K\ntrain done: step 1000 of 1000 in 00:01 (1024 steps/s)\n") != NULL);
    // The only newlines are the final ones: the bar stays on one line.
    CHECK_EQ_INT(count_of(buf, "\n"), 2);
    free(buf);
    // A note clears the bar, prints its line and redraws the bar below it.
    f = open_memstream(&buf, &len);
    REQUIRE(f);
    now = 0.0;
    p = lra_progress_begin_opts(4, "t", &(lra_progress_opts){.out = f, .mode = LRA_PROGRESS_TTY, .width = 4,
                                                              .clock = fake_clock, .clock_ctx = &now});
    now = 1.0;
    lra_progress_update(p, 1, NAN, NAN, NAN);
    lra_progress_note(p, "hello");
    lra_progress_end(p);
    fclose(f);
    const char *bar = "\rt [#...] 1/4  25% | 1.00 steps/s | eta 00:03\033[K";
    char want[256];
    snprintf(want, sizeof want, "%s\r\033[Khello\n%s\nt done: step 1 of 4 in 00:01 (1.00 steps/s)\n", bar, bar);
    CHECK_MSG(!strcmp(buf, want), "got: %s", buf);
    free(buf);
}

static const lra_test_case TESTS[] = {
    {"done_line_after_resume", test_done_line_after_resume},
    {"format_time", test_format_time},
    {"plain_lines", test_plain_lines},
    {"plain_interval_and_timestamps", test_plain_interval_and_timestamps},
    {"plain_resume_unknown_total_and_missing_fields", test_plain_resume_unknown_total_and_missing_fields},
    {"tty_redraw_throttled", test_tty_redraw_throttled},
};
LRA_TEST_MAIN(TESTS)
