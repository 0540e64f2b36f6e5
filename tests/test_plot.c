// Tests of the plots (tools/plot/, `lra plot`) and of the metrics.jsonl reader (tasks/metrics_read.c):
// the pictures are rendered and checked where the data says the marks must be -- in the SVG's
// coordinates, in the rasterised RGB pixels and in the PNG file decoded by data/png.c.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/fileio.h"
#include "core/status.h"
#include "data/image.h"
#include "data/png.h"
#include "data/png_write.h"
#include "tasks/metrics_read.h"
#include "tasks/task.h"
#include "tests/harness.h"
#include "tools/plot/plot.h"

static char g_root[256];

static const char *root(void) {
    if (!g_root[0]) lra_test_mkdtemp(g_root, sizeof g_root, "plot");
    return g_root;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    LRA_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

// A run directory root()/name with the given metrics text and (unless NULL) config.yaml.
static const char *make_run(const char *name, const char *metrics, const char *config) {
    static char dir[8][400];
    static int next;
    char *d = dir[next++ % 8];
    snprintf(d, 400, "%s/%s", root(), name);
    LRA_ASSERT(lra_path_mkdirs(d) == LRA_OK);
    char path[500];
    snprintf(path, sizeof path, "%s/metrics.jsonl", d);
    write_text(path, metrics);
    if (config) {
        snprintf(path, sizeof path, "%s/config.yaml", d);
        write_text(path, config);
    }
    return d;
}

// Training lines every 10 steps to 1000 (ms_per_step 100: 1 s per line), dev lines every 100 steps.
//   loss(step) = a + b * step / 1000, accuracy = step / 2000; dev: loss 1.5, accuracy 0.25 + step / 4000.
static char *synthetic_metrics(double a, double b) {
    size_t cap = 1 << 16, len = 0;
    char *t = malloc(cap);
    for (int s = 10; s <= 1000; s += 10) {
        len += (size_t)snprintf(t + len, cap - len,
                                "{\"step\": %d, \"split\": \"train\", \"loss\": %.6f, \"accuracy\": %.6f, \"lr\": "
                                "1.0e-03, \"ms_per_step\": 100.00, \"peak_rss_mb\": 12.0}\n",
                                s, a + b * s / 1000.0, s / 2000.0);
        if (s % 100 == 0)
            len += (size_t)snprintf(t + len, cap - len,
                                    "{\"step\": %d, \"split\": \"val\", \"loss\": 1.500000, \"accuracy\": %.6f, "
                                    "\"examples\": 200}\n",
                                    s, 0.25 + s / 4000.0);
    }
    snprintf(t + len, cap - len, "{\"step\": 1000, \"split\": \"test\", \"loss\": 1.0, \"accuracy\": 0.5, "
                                 "\"weights\": \"best\"}\n");
    return t;
}

// ---- metrics.jsonl ------------------------------------------------------------------------------

static void test_metrics_parse_and_wall_time(void) {
    const char *text = "{\"step\": 10, \"split\": \"train\", \"loss\": 2.0, \"accuracy\": 0.1, \"ms_per_step\": 100}\n"
                       "\n"
                       "{\"step\": 20, \"split\": \"train\", \"loss\": null, \"accuracy\": 0.2, \"ms_per_step\": 300}\r\n"
                       "{\"step\": 15, \"split\": \"val\", \"loss\": 1.5, \"accuracy\": 0.5, \"note\": \"a\\\"b\\u00e9\"}\n"
                       "{\"step\": 30, \"split\": \"val\", \"loss\": 1.25e0, \"accuracy\": -0, \"ok\": true}\n"
                       "{\"step\": 20, \"split\": \"test\", \"loss\": 1, \"accuracy\": 1}";
    lra_metric_series s;
    CHECK_OK(lra_metrics_parse(text, strlen(text), "m.jsonl", &s));
    REQUIRE(s.n_train == 2 && s.n_dev == 2);
    CHECK_EQ_INT(s.train[1].step, 20);
    CHECK(isnan(s.train[1].loss));
    CHECK_NEAR(s.train[0].wall_s, 1.0, 1e-12);  // 10 steps at 100 ms
    CHECK_NEAR(s.train[1].wall_s, 4.0, 1e-12);  // + 10 steps at 300 ms
    CHECK_NEAR(s.dev[0].wall_s, 2.5, 1e-12);    // halfway between the lines of steps 10 and 20
    CHECK_NEAR(s.dev[1].wall_s, 7.0, 1e-12);    // past the end, at the last rate (0.3 s/step)
    CHECK_NEAR(s.dev[1].loss, 1.25, 1e-12);
    lra_metric_series_free(&s);

    // Without ms_per_step there is no wall time.
    const char *no_ms = "{\"step\": 1, \"split\": \"train\", \"loss\": 1, \"accuracy\": 0}\n";
    CHECK_OK(lra_metrics_parse(no_ms, strlen(no_ms), "m", &s));
    CHECK(s.n_train == 1 && isnan(s.train[0].wall_s));
    lra_metric_series_free(&s);
}

// Each bad line gives an error naming name:line and saying what was wrong.
static void test_bad_metrics_line_names_file_and_line(void) {
    const char *good = "{\"step\": 10, \"split\": \"train\", \"loss\": 2.0, \"accuracy\": 0.1, \"ms_per_step\": 1}\n";
    static const struct {
        const char *line, *says;
    } bad[] = {
        {"{\"step\": 20, \"split\": \"train\" \"loss\": 1}", "expected ',' or '}'"},
        {"{\"step\": 2.5, \"split\": \"train\", \"loss\": 1, \"accuracy\": 0}", "non-negative integer"},
        {"{\"split\": \"val\", \"loss\": 1, \"accuracy\": 0}", "no \"step\""},
        {"{\"step\": 5, \"split\": \"train\", \"loss\": 1, \"accuracy\": 0}", "comes after step 10"},
        {"{\"step\": 20, \"split\": \"val\", \"loss\": \"x\", \"accuracy\": 0}", "\"loss\" must be a number"},
        {"{\"step\": 20, \"split\": \"val\", \"accuracy\": 0}", "needs \"loss\" and \"accuracy\""},
        {"{\"step\": 20, \"split\": \"val\", \"loss\": [1], \"accuracy\": 0}", "nested"},
        {"{\"step\": 20, \"split\": \"val\", \"loss\": nan, \"accuracy\": 0}", "expected a value"},
        {"{\"step\": 20, \"split\": \"val\", \"loss\": 1, \"accuracy\": 0} x", "unexpected text"},
        {"{\"step\": 20, \"split\": \"val", "unterminated string"},
        {"step 20", "expected '{'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "%s\n%s\n%s", good, bad[i].line, good);
        lra_metric_series s;
        lra_status st = lra_metrics_parse(text, strlen(text), "runs/x/metrics.jsonl", &s);
        CHECK_MSG(st == LRA_ERR_FORMAT, "case %zu accepted", i);
        const char *msg = lra_error_message();
        CHECK_MSG(strstr(msg, "runs/x/metrics.jsonl:3: column ") && strstr(msg, bad[i].says),
                  "case %zu: message \"%s\" (expected file:line 3 and \"%s\")", i, msg, bad[i].says);
        CHECK(s.n_train == 0 && s.train == NULL);
    }
    // A NUL byte on line 2.
    const char nul[] = "{\"step\": 1, \"split\": \"train\", \"loss\": 1, \"accuracy\": 0}\n{\"st\0ep\": 2}\n";
    lra_metric_series s;
    CHECK(lra_metrics_parse(nul, sizeof nul - 1, "n.jsonl", &s) == LRA_ERR_FORMAT);
    CHECK(strstr(lra_error_message(), "n.jsonl:2: column 5: NUL byte"));
}

// ---- ticks ---------------------------------------------------------------------------------------

static void test_nice_ticks(void) {
    double lo, hi, step;
    lra_nice_range(0.03, 0.97, 5, &lo, &hi, &step);
    CHECK_NEAR(lo, 0, 1e-12);
    CHECK_NEAR(hi, 1, 1e-12);
    CHECK_NEAR(step, 0.2, 1e-12);
    lra_nice_range(10, 1000, 4, &lo, &hi, &step);
    CHECK(lo == 0 && hi == 1000 && step == 500);
    lra_nice_range(0.3, 0.9, 3, &lo, &hi, &step);  // 0.3 sits on a multiple of 0.1: no extra tick below
    CHECK_NEAR(lo, 0.2, 1e-12);
    CHECK_NEAR(hi, 1.0, 1e-12);
    lra_nice_range(5, 5, 4, &lo, &hi, &step);  // one value: a range around it
    CHECK(lo < 5 && hi > 5);
    lra_nice_range(NAN, 1, 4, &lo, &hi, &step);
    CHECK(lo == 0 && hi == 1);
    char b[32];
    lra_tick_label(0.6000000000000001, 0.2, b, sizeof b);
    CHECK(!strcmp(b, "0.6"));
    lra_tick_label(-1e-17, 0.05, b, sizeof b);
    CHECK(!strcmp(b, "0.00"));
    lra_tick_label(2000, 500, b, sizeof b);
    CHECK(!strcmp(b, "2000"));
}

// ---- rendering helpers ---------------------------------------------------------------------------

// Data -> pixel, computed here from the axes' rectangle and limits (not with the library's functions).
static double map_x(const lra_axes *a, double v) { return a->x + (v - a->xmin) / (a->xmax - a->xmin) * a->w; }
static double map_y(const lra_axes *a, double v) { return a->y + a->h - (v - a->ymin) / (a->ymax - a->ymin) * a->h; }

static int is_color(const uint8_t *img, int w, int x, int y, lra_rgb c) {
    const uint8_t *p = img + ((size_t)y * (size_t)w + (size_t)x) * 3;
    return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

// Rows of column x inside [y0, y1) whose pixel has exactly colour c: first and last (-1 if none), count.
static int column_span(const uint8_t *img, int w, int x, int y0, int y1, lra_rgb c, int *first, int *last) {
    int n = 0;
    *first = *last = -1;
    for (int y = y0; y < y1; y++)
        if (is_color(img, w, x, y, c)) {
            if (*first < 0) *first = y;
            *last = y;
            n++;
        }
    return n;
}

// The points of the k-th <polyline> (k = 0, 1, ...) with stroke colour c in an SVG text; returns the
// count (0 when there is no such polyline).
static int svg_polyline(const char *svg, lra_rgb c, int k, double *xy, int cap) {
    char stroke[32];
    snprintf(stroke, sizeof stroke, "stroke=\"#%02x%02x%02x\"", c.r, c.g, c.b);
    for (const char *p = svg; (p = strstr(p, "<polyline points=\"")); p++) {
        const char *end = strstr(p, "/>");
        const char *s = strstr(p, stroke);
        if (!end || !s || s > end || k-- > 0) continue;
        const char *q = p + strlen("<polyline points=\"");
        int n = 0;
        while (*q != '"' && n < cap) {
            char *e;
            xy[2 * n] = strtod(q, &e);
            xy[2 * n + 1] = strtod(e + 1, &e);  // skip the comma
            n++;
            q = e;
            while (*q == ' ') q++;
        }
        return n;
    }
    return 0;
}

// ---- learning curves -----------------------------------------------------------------------------

// Three runs: "lin" (loss 2 - step/1000, alone) and two seeds of one config (loss 0.4 and 0.8 plus
// 0.1 * step/1000): drawn as the mean 0.6 + ... and a band from the lower to the upper seed.
static void load_three_runs(lra_run_set *rs) {
    char *m_lin = synthetic_metrics(2.0, -1.0), *m_lo = synthetic_metrics(0.4, 0.1), *m_hi = synthetic_metrics(0.8, 0.1);
    const char *dirs[3] = {
        make_run("lin", m_lin, "# from test\nseed: 7\ntask: listops\nmodel:\n  attention:\n    type: linear\n"),
        make_run("sd-s1", m_lo, "# from a.yaml\nseed: 1\ntask: listops\nmodel:\n  attention:\n    type: softmax\n"),
        make_run("sd-s2", m_hi, "# from b.yaml\nseed: 2\ntask: listops\nmodel:\n  attention:\n    type: softmax\n"),
    };
    free(m_lin);
    free(m_lo);
    free(m_hi);
    LRA_ASSERT(lra_run_set_load(dirs, 3, rs) == LRA_OK);
}

static void test_runs_group_by_config_minus_seed(void) {
    lra_run_set rs;
    load_three_runs(&rs);
    REQUIRE(rs.n_groups == 2);
    CHECK(rs.groups[0].n_runs == 1 && !strcmp(rs.groups[0].label, "lin"));
    CHECK(rs.groups[1].n_runs == 2 && !strcmp(rs.groups[1].label, "sd (2 seeds)"));
    lra_run_set_free(&rs);
    // A different config, or none, makes a group of its own.
    char *m = synthetic_metrics(1, 0);
    const char *dirs[3] = {make_run("c1", m, "seed: 1\ntask: text\n"), make_run("c2", m, "seed: 1\ntask: image\n"),
                           make_run("c3", m, NULL)};
    free(m);
    CHECK_OK(lra_run_set_load(dirs, 3, &rs));
    CHECK_EQ_INT(rs.n_groups, 3);
    lra_run_set_free(&rs);
    // A bad metrics line stops the load with file:line.
    const char *bad[1] = {make_run("bad", "{\"step\": 1, \"split\": \"train\", \"loss\": 1, \"accuracy\": 0}\n{oops}\n",
                                   NULL)};
    CHECK(lra_run_set_load(bad, 1, &rs) == LRA_ERR_FORMAT);
    CHECK(strstr(lra_error_message(), "bad/metrics.jsonl:2: column 2"));
    const char *none[1] = {root()};
    CHECK(lra_run_set_load(none, 1, &rs) == LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "no metrics.jsonl"));
}

static void test_curves_are_where_the_data_says(void) {
    lra_run_set rs;
    load_three_runs(&rs);
    lra_curve_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_curve_panels_parse("loss,accuracy", &o));
    REQUIRE(o.n_panels == 3 && o.panels[0] == LRA_PANEL_TRAIN_LOSS && o.panels[2] == LRA_PANEL_DEV_ACCURACY);
    lra_scene sc;
    lra_curve_layout lay;
    lra_plot_curves_scene(&rs, &o, &sc, &lay);
    REQUIRE(lay.n_panels == 3);
    const lra_axes *a = &lay.axes[0];  // training loss
    // Nice limits around the data: steps 10..1000, losses 0.4..1.99.
    CHECK(a->xmin == 0 && a->xmax == 1000);
    CHECK_NEAR(a->ymin, 0, 1e-12);
    CHECK_NEAR(a->ymax, 2, 1e-12);
    // Panels side by side, inside the canvas.
    CHECK(lay.axes[1].x > a->x + a->w && lay.axes[2].x + lay.axes[2].w < sc.width);

    const lra_rgb c_lin = lra_plot_color(0), c_sd = lra_plot_color(1);
    char stem[400];
    snprintf(stem, sizeof stem, "%s/curves", root());
    CHECK_OK(lra_scene_write(&sc, stem, LRA_PLOT_SVG | LRA_PLOT_PNG));

    // SVG: the first "lin" polyline is panel 0's curve, with a vertex at every training point.
    char path[500];
    snprintf(path, sizeof path, "%s.svg", stem);
    char *svg = NULL;
    size_t svg_len;
    CHECK_OK(lra_file_read_all(path, &svg, &svg_len));
    REQUIRE(svg);
    double *xy = malloc(2 * 400 * sizeof *xy);
    int n = svg_polyline(svg, c_lin, 0, xy, 400);
    CHECK_EQ_INT(n, 100);
    for (int i = 0; i < n && i < 100; i++) {
        const double step = 10.0 * (i + 1), loss = 2.0 - step / 1000;
        CHECK_NEAR(xy[2 * i], map_x(a, step), 0.006);
        CHECK_NEAR(xy[2 * i + 1], map_y(a, loss), 0.006);
    }
    // The seeds' mean curve and their band: a polygon of the upper edge out and the lower edge back.
    n = svg_polyline(svg, c_sd, 0, xy, 400);
    CHECK_EQ_INT(n, 100);
    if (n == 100) CHECK_NEAR(xy[2 * 49 + 1], map_y(a, 0.6 + 0.1 * 0.5), 0.006);
    char fill[64];
    snprintf(fill, sizeof fill, "fill=\"#%02x%02x%02x\" fill-opacity=\"0.250\"", c_sd.r, c_sd.g, c_sd.b);
    const char *poly = strstr(svg, "<polygon points=\"");
    while (poly) {  // the first polygon with the band's fill
        const char *f = strstr(poly, fill), *end = strstr(poly, "/>");
        if (f && end && f < end) break;
        poly = strstr(poly + 1, "<polygon points=\"");
    }
    REQUIRE(poly);
    {
        const char *q = poly + strlen("<polygon points=\"");
        int k = 0;
        while (*q != '"' && k < 400) {
            char *e;
            xy[2 * k] = strtod(q, &e);
            xy[2 * k + 1] = strtod(e + 1, &e);
            k++;
            q = e;
            while (*q == ' ') q++;
        }
        CHECK_EQ_INT(k, 200);
        // Point 9 (step 100): upper edge at the upper seed, and its mirror on the lower edge.
        CHECK_NEAR(xy[2 * 9], map_x(a, 100), 0.006);
        CHECK_NEAR(xy[2 * 9 + 1], map_y(a, 0.8 + 0.01), 0.006);
        CHECK_NEAR(xy[2 * (199 - 9) + 1], map_y(a, 0.4 + 0.01), 0.006);
    }
    free(svg);

    // Raster: in each training point's column the curve's exact colour appears at the mapped row and
    // nowhere more than 2.5 px from it; the band's translucent colour fills the space between the seeds.
    uint8_t *img = lra_scene_raster(&sc);
    const int top = (int)ceil(a->y), bottom = (int)floor(a->y + a->h);
    for (int i = 0; i < 100; i++) {
        const double step = 10.0 * (i + 1);
        const int x = (int)floor(map_x(a, step));
        const double y = map_y(a, 2.0 - step / 1000);
        int first, last;
        const int cnt = column_span(img, sc.width, x, top, bottom, c_lin, &first, &last);
        CHECK_MSG(cnt > 0 && fabs(first + 0.5 - y) <= 2.5 && fabs(last + 0.5 - y) <= 2.5,
                  "step %g: colour rows %d..%d (%d), expected around %.2f", step, first, last, cnt, y);
    }
    {
        const int x = (int)floor(map_x(a, 110));
        const int y = (int)floor(map_y(a, 0.7 + 0.011));
        const lra_rgb band = LRA_RGB((uint8_t)floor(255 + (c_sd.r - 255) * 0.25 + 0.5),
                                     (uint8_t)floor(255 + (c_sd.g - 255) * 0.25 + 0.5),
                                     (uint8_t)floor(255 + (c_sd.b - 255) * 0.25 + 0.5));
        CHECK(is_color(img, sc.width, x, y, band));
        CHECK(is_color(img, sc.width, x, (int)floor(map_y(a, 0.3)), LRA_WHITE));  // below the lower seed
        int first, last;
        column_span(img, sc.width, x, top, bottom, c_sd, &first, &last);
        CHECK_MSG(first >= 0 && fabs(first + 0.5 - map_y(a, 0.611)) <= 2.5, "mean curve at %d, expected %.2f", first,
                  map_y(a, 0.611));
    }

    // The PNG decodes with the canvas' size, and its gray pixels agree with the raster.
    snprintf(path, sizeof path, "%s.png", stem);
    uint8_t *gray = NULL;
    int w = 0, h = 0;
    CHECK_OK(lra_png_read_gray8(path, &gray, &w, &h));
    CHECK(w == sc.width && h == sc.height);
    if (gray && w == sc.width && h == sc.height) {
        const uint8_t g_lin = lra_image_rgb_to_gray(c_lin.r, c_lin.g, c_lin.b);
        for (int i = 0; i < 100; i += 9) {
            const double step = 10.0 * (i + 1);
            const int x = (int)floor(map_x(a, step)), y = (int)floor(map_y(a, 2.0 - step / 1000));
            CHECK_EQ_INT(gray[(size_t)y * (size_t)w + (size_t)x], g_lin);
            CHECK(gray[(size_t)(y - 12) * (size_t)w + (size_t)x] != g_lin);  // not far away
        }
        size_t diff = 0;
        for (size_t p = 0; p < (size_t)w * (size_t)h; p++)
            diff += gray[p] != lra_image_rgb_to_gray(img[3 * p], img[3 * p + 1], img[3 * p + 2]);
        CHECK_EQ_INT(diff, 0);
    }
    free(gray);
    free(img);
    lra_scene_free(&sc);

    // Against wall time: 0.1 s per step, so the x of step s is s / 10 seconds.
    o.x_time = 1;
    lra_plot_curves_scene(&rs, &o, &sc, &lay);
    CHECK(lay.time_unit_s == 1);
    a = &lay.axes[0];
    CHECK(a->xmin == 0 && a->xmax == 100);
    size_t len;
    svg = lra_scene_svg(&sc, &len);
    n = svg_polyline(svg, c_lin, 0, xy, 400);
    CHECK_EQ_INT(n, 100);
    if (n == 100) {
        CHECK_NEAR(xy[2 * 49], map_x(a, 50.0), 0.006);
        CHECK_NEAR(xy[2 * 99], map_x(a, 100.0), 0.006);
    }
    CHECK(strstr(svg, ">wall time (s)</text>"));
    free(svg);
    lra_scene_free(&sc);
    free(xy);
    lra_run_set_free(&rs);
}

static void test_output_is_deterministic(void) {
    lra_run_set rs;
    load_three_runs(&rs);
    lra_curve_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_curve_panels_parse("dev_loss,train_accuracy", &o));
    uint8_t *png[2];
    size_t png_len[2];
    char *svg[2];
    size_t svg_len[2];
    for (int r = 0; r < 2; r++) {
        lra_scene sc;
        lra_plot_curves_scene(&rs, &o, &sc, NULL);
        uint8_t *img = lra_scene_raster(&sc);
        CHECK_OK(lra_png_encode_rgb8(img, sc.width, sc.height, &png[r], &png_len[r]));
        svg[r] = lra_scene_svg(&sc, &svg_len[r]);
        free(img);
        lra_scene_free(&sc);
    }
    CHECK(png_len[0] == png_len[1] && !memcmp(png[0], png[1], png_len[0]));
    CHECK(svg_len[0] == svg_len[1] && !memcmp(svg[0], svg[1], svg_len[0]));
    for (int r = 0; r < 2; r++) {
        free(png[r]);
        free(svg[r]);
    }
    lra_run_set_free(&rs);
    CHECK(lra_curve_panels_parse("loss,bogus", &o) == LRA_ERR_ARG);
    CHECK(strstr(lra_error_message(), "'bogus'"));
}

// Absurd values (huge, tiny spans, nulls, one point) still give a finite frame and no crash.
static void test_extreme_values(void) {
    const char *m = "{\"step\": 1, \"split\": \"train\", \"loss\": 1e308, \"accuracy\": null, \"ms_per_step\": 1e300}\n"
                    "{\"step\": 2, \"split\": \"train\", \"loss\": -1e308, \"accuracy\": 5e-324, \"ms_per_step\": 0}\n"
                    "{\"step\": 4000000000000000000, \"split\": \"val\", \"loss\": 1, \"accuracy\": 1e-310}\n";
    const char *dirs[2] = {make_run("extreme", m, NULL), make_run("one-point",
                           "{\"step\": 0, \"split\": \"val\", \"loss\": 0.5, \"accuracy\": 0.5}\n", NULL)};
    lra_run_set rs;
    REQUIRE(lra_run_set_load(dirs, 2, &rs) == LRA_OK);
    lra_curve_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_curve_panels_parse("train_loss,dev_loss,dev_accuracy,train_accuracy", &o));
    for (int t = 0; t < 2; t++) {
        o.x_time = t;
        lra_scene sc;
        lra_curve_layout lay;
        lra_plot_curves_scene(&rs, &o, &sc, &lay);
        for (int k = 0; k < lay.n_panels; k++) {
            const lra_axes *a = &lay.axes[k];
            CHECK(isfinite(a->xmin) && isfinite(a->xmax) && a->xmax > a->xmin);
            CHECK(isfinite(a->ymin) && isfinite(a->ymax) && a->ymax > a->ymin);
        }
        uint8_t *img = lra_scene_raster(&sc);
        size_t len;
        char *svg = lra_scene_svg(&sc, &len);
        CHECK(img && svg && strstr(svg, "</svg>"));
        free(img);
        free(svg);
        lra_scene_free(&sc);
    }
    lra_run_set_free(&rs);
}

// ---- bar chart -----------------------------------------------------------------------------------

// stem.png has the scene's size, and each bar's colour (series i % n_series) at half its height inside
// the bar -- or, for a missing value (NAN), not at a low point of its slot.
static void check_png_bars(const char *stem, const lra_scene *sc, const lra_bar_layout *lay, const double *mean,
                           int n_bars, int n_series) {
    char path[500];
    snprintf(path, sizeof path, "%s.png", stem);
    uint8_t *gray = NULL;
    int w = 0, h = 0;
    CHECK_OK(lra_png_read_gray8(path, &gray, &w, &h));
    CHECK(w == sc->width && h == sc->height);
    if (gray && w == sc->width && h == sc->height)
        for (int i = 0; i < n_bars; i++) {
            const lra_rgb c = lra_plot_color(i % n_series);
            const int x = (int)floor(lay->bar_x[i] - lay->bar_w / 3);
            const int y = (int)floor(map_y(&lay->axes, isnan(mean[i]) ? lay->axes.ymax / 100 : mean[i] / 2));
            const int want = lra_image_rgb_to_gray(c.r, c.g, c.b);
            if (isnan(mean[i]))
                CHECK_MSG(gray[(size_t)y * (size_t)w + (size_t)x] != want, "missing bar %d drawn", i);
            else
                CHECK_EQ_INT(gray[(size_t)y * (size_t)w + (size_t)x], want);
        }
    free(gray);
}

static void test_bar_heights_match_values(void) {
    const char *groups[3] = {"ListOps", "Text", "Image"}, *series[2] = {"softmax", "linear"};
    const double mean[6] = {0.36, 0.30, 0.62, NAN, 0.41, 0.45};
    const double err[6] = {0.02, 0, 0, 0, NAN, 0.05};
    lra_scene sc;
    lra_bar_layout lay;
    CHECK_OK(lra_plot_bar_chart_scene("LRA test accuracy", "accuracy", 3, groups, 2, series, mean, err, &sc, &lay));
    const lra_axes *a = &lay.axes;
    CHECK_NEAR(a->ymin, 0, 1e-12);
    CHECK_NEAR(a->ymax, 0.8, 1e-12);
    uint8_t *img = lra_scene_raster(&sc);
    const int top = (int)ceil(a->y), bottom = (int)floor(a->y + a->h);
    const double base = map_y(a, 0);
    for (int i = 0; i < 6; i++) {
        const lra_rgb c = lra_plot_color(i % 2);
        const int x = (int)floor(lay.bar_x[i] - lay.bar_w / 3);  // off the error bar and its caps
        int first, last;
        const int cnt = column_span(img, sc.width, x, top, bottom + 1, c, &first, &last);
        if (isnan(mean[i])) {
            CHECK_MSG(cnt == 0, "bar %d is missing but %d pixels have its colour", i, cnt);
            continue;
        }
        // The bar fills its column from the value's row down to the baseline.
        CHECK_MSG(cnt > 0 && fabs(first - map_y(a, mean[i])) <= 1.0 && fabs(last + 1 - base) <= 1.0,
                  "bar %d: rows %d..%d, expected %.2f..%.2f", i, first, last, map_y(a, mean[i]), base);
        CHECK_EQ_INT(cnt, last - first + 1);
    }
    // Bars of a cluster sit side by side; clusters left to right.
    CHECK(lay.bar_x[1] - lay.bar_x[0] == lay.bar_w && lay.bar_x[2] > lay.bar_x[1] + lay.bar_w);
    // Error bar of bar 0 (0.36 +- 0.02): black above the bar up to 0.38, white beyond
    // (0.39: the grid line of 0.4 is one row above).
    {
        const int x = (int)floor(lay.bar_x[0]);
        CHECK(is_color(img, sc.width, x, (int)floor(map_y(a, 0.37)), LRA_BLACK));
        CHECK(is_color(img, sc.width, x, (int)floor(map_y(a, 0.39)), LRA_WHITE));
        // Bar 1 has err 0: no error bar above it.
        CHECK(is_color(img, sc.width, (int)floor(lay.bar_x[1]), (int)floor(map_y(a, 0.31)) - 1, LRA_WHITE));
    }

    // The files: stem.svg and stem.png, the PNG with the canvas' size and the bars' gray.
    char stem[400], path[500];
    snprintf(stem, sizeof stem, "%s/bars", root());
    CHECK_OK(lra_plot_bar_chart(stem, "LRA test accuracy", "accuracy", 3, groups, 2, series, mean, err));
    check_png_bars(stem, &sc, &lay, mean, 6, 2);
    free(lay.bar_x);
    snprintf(path, sizeof path, "%s.svg", stem);
    char *svg = NULL;
    size_t len;
    CHECK_OK(lra_file_read_all(path, &svg, &len));
    CHECK(svg && strstr(svg, ">ListOps</text>") && strstr(svg, ">linear</text>"));
    free(svg);
    free(img);
    lra_scene_free(&sc);

    // Bad arguments are errors, not crashes.
    CHECK(lra_plot_bar_chart_scene(NULL, NULL, 0, groups, 2, series, mean, err, &sc, NULL) == LRA_ERR_ARG);
    const char *holes[2] = {"a", NULL};
    CHECK(lra_plot_bar_chart_scene(NULL, NULL, 3, groups, 2, holes, mean, NULL, &sc, NULL) == LRA_ERR_ARG);
    CHECK(strstr(lra_error_message(), "series label 1"));
}

// The bar chart of a results table: a cluster per task column, a bar per row named as `lra table` prints
// it, the cells' means (percent) as bar heights; a row without a run in a column draws no bar there.
static void test_results_table_chart(void) {
    const lra_task_def *cols[2] = {lra_task_find("listops"), lra_task_find("pathfinder")};
    REQUIRE(cols[0] && cols[1]);
    lra_table_row rows[2] = {{"softmax", ""}, {"skeinformer", "train.steps=200"}};
    lra_table_cell cells[4] = {{3, 36.5, 0.4, 0}, {1, 71.0, NAN, 0}, {2, 35.0, 1.0, 0}, {0, NAN, NAN, 0}};
    lra_results_table t = {.n_rows = 2, .n_cols = 2, .rows = rows, .cols = cols, .cells = cells};
    char stem[400], path[500];
    snprintf(stem, sizeof stem, "%s/results", root());
    CHECK_OK(lra_plot_results_table(&t, stem, "sweep"));
    // The same chart as a scene, to know where the bars are.
    double mean[4], std[4];
    lra_results_series(&t, mean, std);
    CHECK(mean[0] == 36.5 && mean[1] == 35.0 && mean[2] == 71.0 && isnan(mean[3]));
    const char *groups[2] = {cols[0]->title, cols[1]->title}, *series[2] = {"softmax", "skeinformer [train.steps=200]"};
    lra_scene sc;
    lra_bar_layout lay;
    CHECK_OK(lra_plot_bar_chart_scene("sweep", "test accuracy (%)", 2, groups, 2, series, mean, std, &sc, &lay));
    check_png_bars(stem, &sc, &lay, mean, 4, 2);
    free(lay.bar_x);
    lra_scene_free(&sc);
    snprintf(path, sizeof path, "%s.svg", stem);
    char *svg = NULL;
    size_t len;
    CHECK_OK(lra_file_read_all(path, &svg, &len));
    CHECK(svg && strstr(svg, ">skeinformer [train.steps=200]</text>") && strstr(svg, ">Pathfinder</text>"));
    free(svg);
}

// ---- the command ---------------------------------------------------------------------------------

static void test_cli_plot(void) {
    const char *build = getenv("LRA_BUILD") ? getenv("LRA_BUILD") : "build";
    char *m = synthetic_metrics(1.0, -0.5);
    const char *run = make_run("cli-run", m, "seed: 3\n");
    free(m);
    char cmd[1500], path[600];
    snprintf(cmd, sizeof cmd, "%s/lra plot '%s' --out '%s/cli' --metrics accuracy > '%s/cli.out'", build, run, root(),
             root());
    REQUIRE(system(cmd) == 0);
    static const char *const files[] = {"cli-step.svg", "cli-step.png", "cli-time.svg", "cli-time.png"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", root(), files[i]);
        CHECK_MSG(lra_file_exists(path), "%s was not written", path);
    }
    snprintf(path, sizeof path, "%s/cli-step.png", root());
    uint8_t *gray = NULL;
    int w = 0, h = 0;
    CHECK_OK(lra_png_read_gray8(path, &gray, &w, &h));
    CHECK(w > 400 && h > 300);
    free(gray);
    // --x step --format png: only that file.
    snprintf(cmd, sizeof cmd, "%s/lra plot '%s' --out '%s/only' --x step --format png > /dev/null", build, run, root());
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/only-step.png", root());
    CHECK(lra_file_exists(path));
    snprintf(path, sizeof path, "%s/only-step.svg", root());
    CHECK(!lra_file_exists(path));
    snprintf(path, sizeof path, "%s/only-time.png", root());
    CHECK(!lra_file_exists(path));

    // A bad metrics line: exit status 1 and a message naming file:line; nothing written.
    const char *bad = make_run("cli-bad", "{\"step\": 1, \"split\": \"train\", \"loss\": 1, \"accuracy\": 0}\n"
                                          "{\"step\": 2, \"split\": \"train\", \"loss\": 1, \"accuracy\": 0}\n"
                                          "{\"step\": 3, \"split\": \"train\", \"loss\": 1 \"accuracy\": 0}\n",
                               NULL);
    snprintf(cmd, sizeof cmd, "%s/lra plot '%s' --out '%s/badout' 2> '%s/err.txt'", build, bad, root(), root());
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(path, sizeof path, "%s/err.txt", root());
    char *err = NULL;
    size_t n;
    CHECK_OK(lra_file_read_all(path, &err, &n));
    CHECK_MSG(err && strstr(err, "cli-bad/metrics.jsonl:3: column 41: expected ',' or '}'"), "stderr: %s", err ? err : "");
    free(err);
    snprintf(path, sizeof path, "%s/badout-step.svg", root());
    CHECK(!lra_file_exists(path));
    // A folder of runs stands for its run subfolders (in name order); an empty one is an error.
    m = synthetic_metrics(1.0, 0.1);
    make_run("set/x-s2", m, "seed: 2\ntask: text\n");
    make_run("set/x-s1", m, "seed: 1\ntask: text\n");
    make_run("set/empty-not-a-run", "", NULL);
    free(m);
    snprintf(path, sizeof path, "%s/set/empty-not-a-run/metrics.jsonl", root());
    remove(path);
    snprintf(cmd, sizeof cmd, "%s/lra plot '%s/set' --out '%s/set' --x step --format svg > /dev/null", build, root(), root());
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/set-step.svg", root());
    char *svg = NULL;
    CHECK_OK(lra_file_read_all(path, &svg, &n));
    CHECK(svg && strstr(svg, ">x (2 seeds)</text>"));
    free(svg);
    snprintf(cmd, sizeof cmd, "%s/lra plot '%s/set/empty-not-a-run' 2> /dev/null", build, root());
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    // Bad flags: exit status 2.
    snprintf(cmd, sizeof cmd, "%s/lra plot '%s' --x sideways 2> /dev/null", build, run);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s/lra plot '%s' --metrics loss,speed 2> /dev/null", build, run);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s/lra plot 2> /dev/null", build);
    rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

static void test_cleanup(void) {
    if (g_root[0]) lra_test_rmtree(g_root);
}

static const lra_test_case TESTS[] = {
    {"metrics_parse_and_wall_time", test_metrics_parse_and_wall_time},
    {"bad_metrics_line_names_file_and_line", test_bad_metrics_line_names_file_and_line},
    {"nice_ticks", test_nice_ticks},
    {"runs_group_by_config_minus_seed", test_runs_group_by_config_minus_seed},
    {"curves_are_where_the_data_says", test_curves_are_where_the_data_says},
    {"output_is_deterministic", test_output_is_deterministic},
    {"extreme_values", test_extreme_values},
    {"bar_heights_match_values", test_bar_heights_match_values},
    {"results_table_chart", test_results_table_chart},
    {"cli_plot", test_cli_plot},
    {"cleanup", test_cleanup},
};
LRA_TEST_MAIN(TESTS)
