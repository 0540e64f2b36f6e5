// The SVG back end (see scene.h): one element per primitive, coordinates in pixels with two decimals,
// so a viewer shows the same picture as the PNG (text in the viewer's monospace font, sized so that a
// character is as wide as a cell of the bitmap font).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/plot/font.h"
#include "tools/plot/scene.h"

typedef struct {
    char *s;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        LRA_ASSERT(n >= 0);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = 2 * (b->cap + (size_t)n);
        b->s = lra_xrealloc(b->s, b->cap);
    }
}

static void put_escaped(sbuf *b, const char *t) {
    for (; *t; t++) {
        const unsigned char c = (unsigned char)*t;
        if (c == '&') put(b, "&amp;");
        else if (c == '<') put(b, "&lt;");
        else if (c == '>') put(b, "&gt;");
        else if (c == '"') put(b, "&quot;");
        else if (c < 0x20 || c >= 0x7f) put(b, "?");  // as the bitmap font: ASCII only (and valid XML)
        else put(b, "%c", c);
    }
}

static void put_points(sbuf *b, const lra_prim *p) {
    for (int i = 0; i < p->n; i++) put(b, "%s%.2f,%.2f", i ? " " : "", p->xy[2 * i], p->xy[2 * i + 1]);
}

char *lra_scene_svg(const lra_scene *s, size_t *len) {
    sbuf b = {lra_xmalloc(4096), 0, 4096};
    b.s[0] = 0;
    put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    put(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
        s->width, s->height, s->width, s->height);
    put(&b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#%02x%02x%02x\"/>\n", s->width, s->height,
        s->background.r, s->background.g, s->background.b);
    static const char *const anchors[] = {"start", "middle", "end"};
    for (int i = 0; i < s->n; i++) {
        const lra_prim *p = &s->prims[i];
        const lra_rgb c = p->color;
        if (p->kind == LRA_PRIM_POLYLINE) {
            put(&b, "<polyline points=\"");
            put_points(&b, p);
            put(&b, "\" fill=\"none\" stroke=\"#%02x%02x%02x\" stroke-width=\"%.2f\" stroke-linejoin=\"round\" "
                    "stroke-linecap=\"round\"/>\n", c.r, c.g, c.b, p->width);
        } else if (p->kind == LRA_PRIM_POLYGON) {
            put(&b, "<polygon points=\"");
            put_points(&b, p);
            put(&b, "\" fill=\"#%02x%02x%02x\" fill-opacity=\"%.3f\" fill-rule=\"evenodd\"/>\n", c.r, c.g, c.b,
                p->alpha);
        } else {
            put(&b, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"monospace\" font-size=\"%d\" text-anchor=\"%s\" "
                    "dominant-baseline=\"central\" fill=\"#%02x%02x%02x\"", p->x, p->y, 10 * p->scale,
                anchors[p->anchor], c.r, c.g, c.b);
            if (p->vertical) put(&b, " transform=\"rotate(-90 %.2f %.2f)\"", p->x, p->y);
            put(&b, ">");
            put_escaped(&b, p->text);
            put(&b, "</text>\n");
        }
    }
    put(&b, "</svg>\n");
    *len = b.len;
    return b.s;
}
