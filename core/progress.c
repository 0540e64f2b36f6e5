// Progress bar: a redrawn line on terminals, plain periodic lines elsewhere.
#include "core/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

struct lra_progress {
    FILE *out;
    int tty;
    int64_t total, every, start;
    double min_interval;
    int width;
    double (*clock)(void *ctx);
    void *clock_ctx;
    char label[64];
    double t0, last_draw;
    int64_t step, last_printed;  // last_printed: step of the last plain line / TTY draw (-1: none)
    double loss, accuracy, lr;
    int drawn;                   // TTY: a bar is on the current line
    double plain_interval, last_plain;  // plain mode: seconds between lines at the latest; time of the last
    int timestamps;
};

// Writes one whole line (text without its newline) in plain mode: the timestamp, the text, the newline,
// in one call, then flushes.
static void put_line(lra_progress *p, const char *text) {
    char line[1024], when[32] = "";
    if (p->timestamps) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    }
    snprintf(line, sizeof line, "%s%s\n", when, text);
    fputs(line, p->out);
    fflush(p->out);
}

static double monotonic_seconds(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void lra_progress_format_time(double seconds, char *buf, size_t size) {
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e8) {
        snprintf(buf, size, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else snprintf(buf, size, "%02ld:%02ld", s / 60, s % 60);
}

lra_progress *lra_progress_begin_opts(int64_t total, const char *label, const lra_progress_opts *opts) {
    lra_progress_opts o = {0};
    if (opts) o = *opts;
    lra_progress *p = lra_xcalloc(1, sizeof *p);
    p->out = o.out ? o.out : stderr;
    p->tty = o.mode == LRA_PROGRESS_TTY || (o.mode == LRA_PROGRESS_AUTO && isatty(fileno(p->out)));
    p->total = total > 0 ? total : 0;
    p->every = o.every > 0 ? o.every : (p->total > 0 ? (p->total / 20 > 0 ? p->total / 20 : 1) : 100);
    p->start = o.start > 0 ? o.start : 0;
    p->min_interval = o.min_interval > 0 ? o.min_interval : 0.1;
    p->width = o.width > 0 ? o.width : 24;
    p->clock = o.clock ? o.clock : monotonic_seconds;
    p->clock_ctx = o.clock_ctx;
    p->plain_interval = o.plain_interval;
    p->timestamps = o.timestamps;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->t0 = p->clock(p->clock_ctx);
    p->last_draw = -INFINITY;
    p->last_plain = p->t0;
    p->step = p->start;
    p->last_printed = -1;
    p->loss = p->accuracy = p->lr = NAN;
    return p;
}

lra_progress *lra_progress_begin(int64_t total, const char *label) {
    return lra_progress_begin_opts(total, label, NULL);
}

// Steps per second since begin (0 before any time has passed).
static double rate(const lra_progress *p, double now) {
    double dt = now - p->t0;
    return dt > 0 ? (double)(p->step - p->start) / dt : 0.0;
}

static void format_rate(double r, char *buf, size_t size) {
    if (r >= 100) snprintf(buf, size, "%.0f", r);
    else if (r >= 10) snprintf(buf, size, "%.1f", r);
    else snprintf(buf, size, "%.2f", r);
}

// " | loss 0.6931 | acc 51.20% | lr 1.00e-03" for the fields that are set.
static void format_fields(const lra_progress *p, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    if (!isnan(p->loss) && n < size) n += (size_t)snprintf(buf + n, size - n, " | loss %.4f", p->loss);
    if (!isnan(p->accuracy) && n < size) n += (size_t)snprintf(buf + n, size - n, " | acc %.2f%%", 100.0 * p->accuracy);
    if (!isnan(p->lr) && n < size) snprintf(buf + n, size - n, " | lr %.2e", p->lr);
}

static void draw_tty(lra_progress *p, double now) {
    char fields[160], rbuf[32], eta[32];
    // \r back to column 0, then the line, then erase what a longer previous line left behind.
    fputc('\r', p->out);
    format_fields(p, fields, sizeof fields);
    double r = rate(p, now);
    format_rate(r, rbuf, sizeof rbuf);
    if (p->total > 0) {
        char bar[256];
        int w = p->width < (int)sizeof bar - 1 ? p->width : (int)sizeof bar - 1;
        double frac = (double)p->step / (double)p->total;
        if (frac > 1) frac = 1;
        int filled = (int)(frac * w);
        for (int i = 0; i < w; i++) bar[i] = i < filled ? '#' : '.';
        bar[w] = '\0';
        lra_progress_format_time(r > 0 ? (double)(p->total - p->step) / r : NAN, eta, sizeof eta);
        fprintf(p->out, "%s [%s] %lld/%lld %3d%%%s | %s steps/s | eta %s", p->label, bar,
                 (long long)p->step, (long long)p->total, (int)(100.0 * frac), fields, rbuf, eta);
    } else {
        char el[32];
        lra_progress_format_time(now - p->t0, el, sizeof el);
        fprintf(p->out, "%s %lld%s | %s steps/s | elapsed %s", p->label, (long long)p->step, fields, rbuf, el);
    }
    fputs("\033[K", p->out);
    fflush(p->out);
    p->drawn = 1;
    p->last_draw = now;
    p->last_printed = p->step;
}

static void print_plain(lra_progress *p, double now) {
    char fields[160], rbuf[32], el[32], eta[32], text[512];
    format_fields(p, fields, sizeof fields);
    double r = rate(p, now);
    format_rate(r, rbuf, sizeof rbuf);
    lra_progress_format_time(now - p->t0, el, sizeof el);
    if (p->total > 0) {
        lra_progress_format_time(r > 0 ? (double)(p->total - p->step) / r : NAN, eta, sizeof eta);
        snprintf(text, sizeof text, "%s step %lld/%lld (%d%%)%s | %s steps/s | elapsed %s | eta %s", p->label,
                 (long long)p->step, (long long)p->total, (int)(100.0 * (double)p->step / (double)p->total), fields,
                 rbuf, el, eta);
    } else {
        snprintf(text, sizeof text, "%s step %lld%s | %s steps/s | elapsed %s", p->label, (long long)p->step, fields,
                 rbuf, el);
    }
    put_line(p, text);
    p->last_printed = p->step;
    p->last_plain = now;
}

void lra_progress_update(lra_progress *p, int64_t step, double loss, double accuracy, double lr) {
    p->step = step;
    p->loss = loss;
    p->accuracy = accuracy;
    p->lr = lr;
    int last = p->total > 0 && step >= p->total;
    if (p->tty) {
        double now = p->clock(p->clock_ctx);
        if (last || now - p->last_draw >= p->min_interval) draw_tty(p, now);
    } else {
        const double now = p->clock(p->clock_ctx);
        const int due = p->plain_interval > 0 && now - p->last_plain >= p->plain_interval;
        if (last || due || step - (p->last_printed < 0 ? p->start : p->last_printed) >= p->every) print_plain(p, now);
    }
}

void lra_progress_note(lra_progress *p, const char *fmt, ...) {
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (p->tty) {
        if (p->drawn) fputs("\r\033[K", p->out);
        fprintf(p->out, "%s\n", text);
        if (p->drawn) draw_tty(p, p->clock(p->clock_ctx));
        else fflush(p->out);
    } else {
        put_line(p, text);
    }
}

void lra_progress_end(lra_progress *p) {
    if (!p) return;
    double now = p->clock(p->clock_ctx);
    if (p->tty) {
        if (p->last_printed != p->step || !p->drawn) draw_tty(p, now);
        fputc('\n', p->out);
    } else if (p->last_printed != p->step && p->step > p->start) {
        print_plain(p, now);
    }
    char el[32], rbuf[32], text[256];
    lra_progress_format_time(now - p->t0, el, sizeof el);
    format_rate(rate(p, now), rbuf, sizeof rbuf);
    // The step reached (of the total), and how many of those this session ran when it resumed a run.
    int len = snprintf(text, sizeof text, "%s done: step %lld", p->label, (long long)p->step);
    if (p->total > 0 && len < (int)sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, " of %lld", (long long)p->total);
    if (p->start > 0 && len < (int)sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, " (%lld this session)", (long long)(p->step - p->start));
    if (len < (int)sizeof text) snprintf(text + len, sizeof text - (size_t)len, " in %s (%s steps/s)", el, rbuf);
    if (p->tty) {
        fprintf(p->out, "%s\n", text);
        fflush(p->out);
    } else {
        put_line(p, text);
    }
    free(p);
}
