// Terminal progress bar for training and evaluation loops.
//
// On a terminal (isatty) one line is redrawn in place, at most every min_interval seconds (0.1 s by
// default) and always at the last step:
//   train [#########...............] 1200/5000  24% | loss 0.6931 | acc 51.20% | lr 1.00e-03 | 12.3 steps/s | eta 05:08
// Elsewhere (a log file, a pipe) a plain line is written every `every` steps, at the last step and, with
// plain_interval, on the first update that much time after the previous line:
//   train step 1200/5000 (24%) | loss 0.6931 | acc 51.20% | lr 1.00e-03 | 12.30 steps/s | elapsed 01:37 | eta 05:08
// With `timestamps`, plain lines and notes begin with the UTC time: "2026-12-03T07:40:05Z train step ...".
// Every line is formatted first and written with one call, then flushed: a log that stdout and stderr
// share (`> run.log 2>&1`) gets whole lines, as soon as they are made.
// Fields given as NAN are left out.  Rates count from the first step of this run (`start`, for a resumed
// run), over the wall time since lra_progress_begin.
#ifndef LRA_CORE_PROGRESS_H
#define LRA_CORE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct lra_progress lra_progress;

typedef enum { LRA_PROGRESS_AUTO = 0, LRA_PROGRESS_TTY, LRA_PROGRESS_PLAIN } lra_progress_mode;

typedef struct {
    FILE *out;                 // NULL: stderr
    lra_progress_mode mode;    // AUTO: TTY when `out` is a terminal
    int64_t every;             // plain mode: steps between lines; 0: total/20 (at least 1), or 100 if total unknown
    int64_t start;             // step count already done when the run began (resume); default 0
    double min_interval;       // TTY mode: seconds between redraws; 0: 0.1
    int width;                 // TTY mode: bar width in characters; 0: 24
    double plain_interval;     // plain mode: > 0: also a line when this many seconds passed since the last
    int timestamps;            // plain mode: 1: lines and notes start with the UTC wall-clock time
    double (*clock)(void *ctx);  // seconds from any origin; NULL: the monotonic clock (tests pass a fake)
    void *clock_ctx;
} lra_progress_opts;

// total <= 0: unknown (no bar, percentage or eta).  Writes to stderr, TTY mode when it is a terminal.
lra_progress *lra_progress_begin(int64_t total, const char *label);
lra_progress *lra_progress_begin_opts(int64_t total, const char *label, const lra_progress_opts *opts);
// step: steps completed so far (start < step <= total).  loss, accuracy (a fraction, shown as %) and
// lr: NAN to leave a field out.
void lra_progress_update(lra_progress *p, int64_t step, double loss, double accuracy, double lr);
// Prints a message line (e.g. an evaluation result) without garbling the bar, which is redrawn below it.
void lra_progress_note(lra_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Draws the last state, ends the line and prints "LABEL done: step N of TOTAL (K this session) in T
// (R steps/s)" ("of TOTAL" when the total is known, "(K this session)" when resumed at start > 0); frees p.
void lra_progress_end(lra_progress *p);

// Formats seconds as mm:ss, or h:mm:ss from one hour (negative or non-finite: "--:--").
void lra_progress_format_time(double seconds, char *buf, size_t size);

#endif
