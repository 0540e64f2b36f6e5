// The step profiler (see profile.h).
#include "core/profile.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

int lra_profile_on_ = 0;

#define MAX_OPS 256

typedef struct {
    const char *name;
    lra_phase phase;  // forward, backward or eval
    long long calls;
    double seconds, flops;
    double bytes;  // step-arena bytes handed out during its calls
} op_row;

static struct {
    lra_phase phase;
    double phase_start, last_mark;
    double seconds[LRA_PHASE_COUNT];
    op_row ops[MAX_OPS];
    int n_ops;
    double pending_flops;  // counted since the last op ended
    size_t last_used;      // the arena's use when the last op ended
} P = {.phase = LRA_PHASE_NONE};

static double now(void) { return omp_get_wtime(); }

void lra_profile_enable(int on) {
    lra_profile_on_ = on;
    lra_profile_reset();
}

void lra_profile_reset(void) {
    memset(P.seconds, 0, sizeof P.seconds);
    P.n_ops = 0;
    P.pending_flops = 0;
    P.last_used = 0;
    P.phase = LRA_PHASE_NONE;
    P.phase_start = P.last_mark = now();
}

const char *lra_phase_name(lra_phase p) {
    static const char *names[LRA_PHASE_COUNT] = {"data", "forward", "backward", "optimizer", "evaluation", "other"};
    return p >= 0 && p < LRA_PHASE_COUNT ? names[p] : "none";
}

void lra_profile_phase(lra_phase p) {
    if (!lra_profile_on_) return;
    const double t = now();
    if (P.phase != LRA_PHASE_NONE) P.seconds[P.phase] += t - P.phase_start;
    P.phase = p;
    P.phase_start = P.last_mark = t;
    P.pending_flops = 0;
}

static op_row *row(const char *name, lra_phase phase) {
    for (int i = 0; i < P.n_ops; i++)
        if (P.ops[i].phase == phase && (P.ops[i].name == name || !strcmp(P.ops[i].name, name))) return &P.ops[i];
    if (P.n_ops == MAX_OPS) return NULL;
    op_row *r = &P.ops[P.n_ops++];
    memset(r, 0, sizeof *r);
    r->name = name;
    r->phase = phase;
    return r;
}

void lra_profile_op_end_(const char *op, size_t arena_used) {
    const double t = now();
    // The arena is reset between steps: a use below the last one means the count starts again from 0.
    const size_t since = arena_used >= P.last_used ? arena_used - P.last_used : arena_used;
    // Ops outside the forward and evaluation phases (e.g. inside the optimizer) count as forward work.
    const lra_phase ph = P.phase == LRA_PHASE_EVAL ? LRA_PHASE_EVAL : LRA_PHASE_FORWARD;
    op_row *r = row(op, ph);
    if (r) {
        r->calls++;
        r->seconds += t - P.last_mark;
        r->flops += P.pending_flops;
        r->bytes += (double)since;
    }
    P.pending_flops = 0;
    P.last_mark = t;
    P.last_used = arena_used;
}

void lra_profile_backward_(const char *op, double seconds, size_t arena_bytes) {
    op_row *r = row(op, LRA_PHASE_BACKWARD);
    if (r) {
        r->calls++;
        r->seconds += seconds;
        r->flops += P.pending_flops;
        r->bytes += (double)arena_bytes;
    }
    P.pending_flops = 0;
    P.last_mark = now();
}

void lra_profile_flops_(double flops) {
    // Products may run on several threads at once (kernels call them inside their own loops).
#pragma omp atomic
    P.pending_flops += flops;
}

lra_profile_totals lra_profile_get_totals(void) {
    lra_profile_totals t;
    t.total = 0;
    for (int p = 0; p < LRA_PHASE_COUNT; p++) {
        t.seconds[p] = P.seconds[p];
        t.total += P.seconds[p];
    }
    return t;
}

double lra_profile_ops_seconds(lra_phase p) {
    double s = 0;
    for (int i = 0; i < P.n_ops; i++)
        if (P.ops[i].phase == p) s += P.ops[i].seconds;
    return s;
}

double lra_profile_ops_bytes(lra_phase p) {
    double b = 0;
    for (int i = 0; i < P.n_ops; i++)
        if (P.ops[i].phase == p) b += P.ops[i].bytes;
    return b;
}

double lra_profile_op_bytes(const char *op, lra_phase p) {
    for (int i = 0; i < P.n_ops; i++)
        if (P.ops[i].phase == p && !strcmp(P.ops[i].name, op)) return P.ops[i].bytes;
    return 0;
}

int lra_profile_op_stats(const char *op, lra_phase p, long long *calls, double *seconds, double *flops) {
    for (int i = 0; i < P.n_ops; i++)
        if (P.ops[i].phase == p && !strcmp(P.ops[i].name, op)) {
            *calls = P.ops[i].calls;
            *seconds = P.ops[i].seconds;
            *flops = P.ops[i].flops;
            return 1;
        }
    return 0;
}

static int by_time(const void *a, const void *b) {
    const op_row *x = a, *y = b;
    return x->seconds < y->seconds ? 1 : x->seconds > y->seconds ? -1 : 0;
}

void lra_profile_report(FILE *out, long long steps, int json) {
    if (steps < 1) steps = 1;
    lra_profile_totals t = lra_profile_get_totals();
    op_row *rows = malloc(sizeof(op_row) * (size_t)(P.n_ops ? P.n_ops : 1));
    memcpy(rows, P.ops, sizeof(op_row) * (size_t)P.n_ops);
    qsort(rows, (size_t)P.n_ops, sizeof *rows, by_time);
    const double total = t.total > 0 ? t.total : 1e-30;
    if (json) {
        fprintf(out, "{\"steps\": %lld, \"seconds\": %.6f, \"phases\": [", steps, t.total);
        for (int p = 0; p < LRA_PHASE_COUNT; p++) {
            lra_json j;
            lra_json_begin(&j);
            lra_json_str(&j, "phase", lra_phase_name((lra_phase)p));
            lra_json_num(&j, "seconds", "%.6f", t.seconds[p]);
            lra_json_num(&j, "ms_per_step", "%.3f", 1e3 * t.seconds[p] / (double)steps);
            lra_json_num(&j, "share", "%.4f", t.seconds[p] / total);
            fprintf(out, "%s%s", p ? ", " : "", lra_json_end(&j));
        }
        fprintf(out, "], \"ops\": [");
        for (int i = 0; i < P.n_ops; i++) {
            lra_json j;
            lra_json_begin(&j);
            lra_json_str(&j, "op", rows[i].name);
            lra_json_str(&j, "phase", lra_phase_name(rows[i].phase));
            lra_json_int(&j, "calls", rows[i].calls);
            lra_json_num(&j, "seconds", "%.6f", rows[i].seconds);
            lra_json_num(&j, "share", "%.4f", rows[i].seconds / total);
            if (rows[i].flops > 0) lra_json_num(&j, "gflops", "%.2f", rows[i].flops / rows[i].seconds * 1e-9);
            lra_json_num(&j, "arena_mib_per_step", "%.3f", rows[i].bytes / (double)steps / 1048576.0);
            fprintf(out, "%s%s", i ? ", " : "", lra_json_end(&j));
        }
        fprintf(out, "]}\n");
        free(rows);
        return;
    }
    fprintf(out, "profile of %lld steps: %.1f ms per step\n", steps, 1e3 * t.total / (double)steps);
    fprintf(out, "  %-28s %10s %8s\n", "phase", "ms/step", "share");
    for (int p = 0; p < LRA_PHASE_COUNT; p++)
        if (t.seconds[p] > 0)
            fprintf(out, "  %-28s %10.2f %7.1f%%\n", lra_phase_name((lra_phase)p), 1e3 * t.seconds[p] / (double)steps,
                    100 * t.seconds[p] / total);
    fprintf(out, "  %-28s %-10s %10s %8s %10s %8s %10s\n", "op", "phase", "ms/step", "calls", "GFLOP/s", "share",
            "MiB/step");
    for (int i = 0; i < P.n_ops; i++) {
        char gf[32] = "-";
        if (rows[i].flops > 0 && rows[i].seconds > 0)
            snprintf(gf, sizeof gf, "%.1f", rows[i].flops / rows[i].seconds * 1e-9);
        fprintf(out, "  %-28s %-10s %10.2f %8lld %10s %7.1f%% %10.1f\n", rows[i].name, lra_phase_name(rows[i].phase),
                1e3 * rows[i].seconds / (double)steps, rows[i].calls / steps, gf, 100 * rows[i].seconds / total,
                rows[i].bytes / (double)steps / 1048576.0);
    }
    free(rows);
}
