// Pathfinder generator, a port of the original snake generator (data.md section 12).
//
// Everything the original computes on full images is computed here on small patches, with lookup tables:
//  - a paddle depends on its orientation only through the integer end point of the line on the fine
//    canvas, so the antialiased line patch and its margin mask are tabulated per end point;
//  - the seed kernels (one per integer orientation) and the first target seed's free positions (which do
//    not depend on the image) are tabulated once;
//  - maxima with a patch only touch the patch's pixels, since images and masks are never negative.
// The arithmetic that decides pixels or random draws follows the original operation by operation
// (double precision, C library sin/cos/atan2, numpy's summation order), which is what the COMPAT mode
// needs to reproduce the original's output bit for bit.
#include "data/pathfinder_gen.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "data/nprandom.h"
#include "data/png_write.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define PF_MAX_CAND 512       // extension candidates per step (2*pi*r for r <= 80)
#define PF_PURPOSE 0x5046474Eu  // "PFGN": Philox purpose id of the generator

// ---------------------------------------------------------------------------------------------------
// Parameters

const char *lra_pathfinder_difficulty_name(int contour_length) {
    switch (contour_length) {
    case 6: return "curv_baseline";
    case 9: return "curv_contour_length_9";
    case 14: return "curv_contour_length_14";
    default: return NULL;
    }
}

lra_status lra_pathfinder_params_preset(lra_pathfinder_params *p, int size, int contour_length) {
    if (contour_length != 6 && contour_length != 9 && contour_length != 14)
        return lra_error(LRA_ERR_ARG, "pathfinder: contour length %d (expected 6, 9 or 14)", contour_length);
    memset(p, 0, sizeof *p);
    p->size = size;
    p->aa = 2;
    p->contour_length = contour_length;
    p->distractor_length = contour_length / 3;
    p->max_snake_retrial = 4;
    p->max_paddle_retrial = 2;
    p->opencv_border = 1;
    p->n_margins = 1;
    int nd_base;
    switch (size) {
    case 32:
        p->padding = 1, p->paddle_length = 2, p->thickness = 0.5, p->margins[0] = 1, p->seed_distance = 7;
        p->marker_radius = 1.5, p->continuity = 1.0, nd_base = 20, p->snake_contrast = 2.0;
        p->paddle_contrast = 0.75;
        snprintf(p->continuity_text, sizeof p->continuity_text, "1.0");
        snprintf(p->thickness_text, sizeof p->thickness_text, "0.5");
        break;
    case 64:
        p->padding = 1, p->paddle_length = 5, p->thickness = 1.0, p->margins[0] = 1, p->seed_distance = 12;
        p->marker_radius = 2.5, p->continuity = 1.8, nd_base = 22, p->snake_contrast = 0.8;
        p->paddle_contrast = 1.0;
        snprintf(p->continuity_text, sizeof p->continuity_text, "1.8");
        snprintf(p->thickness_text, sizeof p->thickness_text, "1");
        break;
    case 128:
        p->padding = 1, p->paddle_length = 5, p->thickness = 1.5, p->seed_distance = 20;
        p->margins[0] = 2, p->margins[1] = 3, p->n_margins = 2;
        p->marker_radius = 3.0, p->continuity = 1.8, nd_base = 35, p->snake_contrast = 0.9;
        p->paddle_contrast = 1.0;
        snprintf(p->continuity_text, sizeof p->continuity_text, "1.8");
        snprintf(p->thickness_text, sizeof p->thickness_text, "1.5");
        break;
    case 256:
        p->padding = 22, p->paddle_length = 5, p->thickness = 2.0, p->margins[0] = 3, p->seed_distance = 27;
        p->marker_radius = 5.0, p->continuity = 1.8, nd_base = 30, p->snake_contrast = 1.0;
        p->paddle_contrast = 1.0;
        snprintf(p->continuity_text, sizeof p->continuity_text, "1.8");
        snprintf(p->thickness_text, sizeof p->thickness_text, "2");
        break;
    default:
        return lra_error(LRA_ERR_ARG, "pathfinder: image size %d (expected 32, 64, 128 or 256)", size);
    }
    p->n_distractors = nd_base / p->distractor_length;   // Python 2 integer division
    return LRA_OK;
}

int lra_pathfinder_metadata_line(const lra_pathfinder_params *p, int batch, int i, int label, int margin,
                                 char *buf, int cap) {
    return snprintf(buf, (size_t)cap, "imgs/%d sample_%d.png %d %d %s %d %d %d %s %d 1\n", batch, i, i, label,
                    p->continuity_text, p->contour_length, p->distractor_length, p->paddle_length,
                    p->thickness_text, margin);
}

// ---------------------------------------------------------------------------------------------------
// Pillow's LANCZOS resampling of 8-bit images (fixed point, 22 fractional bits), data.md 12.4.6.

typedef struct {
    int in, out, ksize;
    int *xmin, *cnt;   // [out]
    int32_t *q;        // [out, ksize]
} pf_lanczos;

static double pf_sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double pf_lanczos_kernel(double x) {
    if (-3.0 <= x && x < 3.0) return pf_sinc(x) * pf_sinc(x / 3);
    return 0.0;
}

static void pf_lanczos_init(pf_lanczos *lz, int in, int out) {
    double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale;
    double support = 3.0 * fs;
    int ksize = (int)ceil(support) * 2 + 1;
    lz->in = in, lz->out = out, lz->ksize = ksize;
    lz->xmin = lra_xmalloc(sizeof(int) * (size_t)out);
    lz->cnt = lra_xmalloc(sizeof(int) * (size_t)out);
    lz->q = lra_xcalloc((size_t)out * (size_t)ksize, sizeof(int32_t));
    double *k = lra_xmalloc(sizeof(double) * (size_t)ksize);
    for (int o = 0; o < out; o++) {
        double center = (o + 0.5) * scale, ww = 0.0, ss = 1.0 / fs;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        xmax -= xmin;
        LRA_ASSERT(xmax <= ksize);
        for (int x = 0; x < xmax; x++) {
            double w = pf_lanczos_kernel((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++) {
            if (ww != 0.0) k[x] /= ww;
            double v = k[x] * (double)(1 << 22);
            lz->q[(size_t)o * (size_t)ksize + (size_t)x] = k[x] < 0 ? (int32_t)(-0.5 + v) : (int32_t)(0.5 + v);
        }
        lz->xmin[o] = xmin;
        lz->cnt[o] = xmax;
    }
    free(k);
}

static void pf_lanczos_free(pf_lanczos *lz) {
    free(lz->xmin);
    free(lz->cnt);
    free(lz->q);
}

static uint8_t pf_clip8(int32_t ss) {
    if (ss >= (1 << 30)) return 255;   // 256 << 22
    if (ss <= 0) return 0;
    return (uint8_t)(ss >> 22);
}

// One output sample: in[x * stride] for x in the tap window of output o.
static uint8_t pf_lanczos_sample(const pf_lanczos *lz, int o, const uint8_t *in, int stride) {
    const int32_t *q = lz->q + (size_t)o * (size_t)lz->ksize;
    const uint8_t *p = in + (size_t)lz->xmin[o] * (size_t)stride;
    int32_t ss = 1 << 21;
    for (int x = 0; x < lz->cnt[o]; x++) ss += (int32_t)p[(size_t)x * (size_t)stride] * q[x];
    return pf_clip8(ss);
}

// Square resize src: [n, n] -> dst: [m, m]: horizontal pass into tmp: [n, m], then vertical.
// Rows of src outside [row0, row1] are zero (so their horizontal results are zero) and output rows
// whose window misses [row0, row1] are zero.
static void pf_resize_sq(const pf_lanczos *lz, const uint8_t *src, uint8_t *tmp, uint8_t *dst, int row0,
                         int row1) {
    int n = lz->in, m = lz->out;
    if (row0 < 0) row0 = 0;
    if (row1 > n - 1) row1 = n - 1;
    for (int y = row0; y <= row1; y++)
        for (int o = 0; o < m; o++) tmp[(size_t)y * (size_t)m + (size_t)o] = pf_lanczos_sample(lz, o, src + (size_t)y * (size_t)n, 1);
    for (int o = 0; o < m; o++) {
        int a = lz->xmin[o], b = lz->xmin[o] + lz->cnt[o] - 1;
        if (b < row0 || a > row1) {
            memset(dst + (size_t)o * (size_t)m, 0, (size_t)m);
            continue;
        }
        // rows of the window outside [row0,row1] are zero in tmp only if written; clear them lazily
        for (int y = a; y <= b; y++)
            if (y < row0 || y > row1) memset(tmp + (size_t)y * (size_t)m, 0, (size_t)m);
        for (int x = 0; x < m; x++) dst[(size_t)o * (size_t)m + (size_t)x] = pf_lanczos_sample(lz, o, tmp + x, m);
    }
}

// ---------------------------------------------------------------------------------------------------
// Pillow line drawing on a float 'F' canvas holding 0 or 255 (data.md 12.4.4); here a uint8 canvas.

static void pf_point(uint8_t *cv, int n, int x, int y) {
    if (x >= 0 && x < n && y >= 0 && y < n) cv[(size_t)y * (size_t)n + (size_t)x] = 255;
}

static void pf_line1(uint8_t *cv, int n, int x0, int y0, int x1, int y1) {
    int dx = x1 - x0, dy = y1 - y0, xs = 1, ys = 1, e;
    if (dx < 0) dx = -dx, xs = -1;
    if (dy < 0) dy = -dy, ys = -1;
    if (dx == 0) {
        for (int i = 0; i < dy; i++, y0 += ys) pf_point(cv, n, x0, y0);
    } else if (dy == 0) {
        for (int i = 0; i < dx; i++, x0 += xs) pf_point(cv, n, x0, y0);
    } else if (dx > dy) {
        int m = dx;
        dy += dy;
        e = dy - dx;
        dx += dx;
        for (int i = 0; i < m; i++) {
            pf_point(cv, n, x0, y0);
            if (e >= 0) y0 += ys, e -= dx;
            e += dy;
            x0 += xs;
        }
    } else {
        int m = dy;
        dx += dx;
        e = dx - dy;
        dy += dy;
        for (int i = 0; i < m; i++) {
            pf_point(cv, n, x0, y0);
            if (e >= 0) x0 += xs, e -= dy;
            e += dx;
            y0 += ys;
        }
    }
}

// Pillow's rounding helpers (away from / toward zero at .5).
static int pf_round_up(double f) { return (int)(f >= 0.0 ? floor(f + 0.5F) : -floor(fabs(f) + 0.5F)); }
static int pf_round_down(double f) { return (int)(f >= 0.0 ? ceil(f - 0.5F) : -ceil(fabs(f) - 0.5F)); }
static int pf_round_up_f(float f) { return (int)(f >= 0.0f ? floor((float)(f + 0.5F)) : -floor((float)(fabsf(f) + 0.5F))); }
static int pf_round_down_f(float f) { return (int)(f >= 0.0f ? ceil((float)(f - 0.5F)) : -ceil((float)(fabsf(f) - 0.5F))); }

typedef struct {
    int x0, y0, xmin, ymin, xmax, ymax;
    float dx;
} pf_edge;

static void pf_add_edge(pf_edge *e, int x0, int y0, int x1, int y1) {
    e->xmin = x0 <= x1 ? x0 : x1;
    e->xmax = x0 <= x1 ? x1 : x0;
    e->ymin = y0 <= y1 ? y0 : y1;
    e->ymax = y0 <= y1 ? y1 : y0;
    e->dx = y0 == y1 ? 0.0f : ((float)(x1 - x0)) / (float)(y1 - y0);
    e->x0 = x0;
    e->y0 = y0;
}

static void pf_hline(uint8_t *cv, int n, int x0, int y0, int x1) {
    if (y0 < 0 || y0 >= n) return;
    if (x0 > x1) {
        int t = x0;
        x0 = x1, x1 = t;
    }
    if (x0 < 0) x0 = 0;
    else if (x0 >= n) return;
    if (x1 < 0) return;
    if (x1 >= n) x1 = n - 1;
    for (int x = x0; x <= x1; x++) cv[(size_t)y0 * (size_t)n + (size_t)x] = 255;
}

static int pf_float_cmp(const void *a, const void *b) {
    float d = *(const float *)a - *(const float *)b;
    return d < 0 ? -1 : d > 0 ? 1 : 0;
}

// Pillow's scan-line polygon fill (the 2018-2019 version), 4 edges.
static void pf_polygon4(uint8_t *cv, int n, pf_edge *e) {
    pf_edge *table[4];
    int count = 0, ymin = n - 1, ymax = 0;
    for (int i = 0; i < 4; i++) {
        if (e[i].ymin == e[i].ymax) {   // horizontal edges are drawn directly
            pf_hline(cv, n, e[i].xmin, e[i].ymin, e[i].xmax);
            continue;
        }
        if (ymin > e[i].ymin) ymin = e[i].ymin;
        if (ymax < e[i].ymax) ymax = e[i].ymax;
        table[count++] = e + i;
    }
    if (ymin < 0) ymin = 0;
    if (ymax >= n) ymax = n - 1;
    float xx[8];
    for (; ymin <= ymax; ymin++) {
        int j = 0;
        for (int i = 0; i < count; i++) {
            pf_edge *c = table[i];
            if (ymin >= c->ymin && ymin <= c->ymax) xx[j++] = (float)(ymin - c->y0) * c->dx + (float)c->x0;
            if (ymin == c->ymax && ymin < ymax && j > 0) {   // keeps polygons consistent (Pillow)
                xx[j] = xx[j - 1];
                j++;
            }
        }
        qsort(xx, (size_t)j, sizeof(float), pf_float_cmp);
        for (int i = 1; i < j; i += 2) pf_hline(cv, n, pf_round_up_f(xx[i - 1]), ymin, pf_round_down_f(xx[i]));
    }
}

static void pf_wide_line(uint8_t *cv, int n, int x0, int y0, int x1, int y1, int width) {
    int dx = x1 - x0, dy = y1 - y0;
    if (dx == 0 && dy == 0) {
        pf_point(cv, n, x0, y0);
        return;
    }
    double big = sqrt((double)(dx * dx + dy * dy)), small = (width - 1) / 2.0;
    double rmax = pf_round_up(small) / big, rmin = pf_round_down(small) / big;
    int dxmin = pf_round_down(rmin * dy), dxmax = pf_round_down(rmax * dy);
    int dymin = pf_round_down(rmin * dx), dymax = pf_round_down(rmax * dx);
    int v[4][2] = {{x0 - dxmin, y0 + dymax}, {x1 - dxmin, y1 + dymax}, {x1 + dxmax, y1 - dymin}, {x0 + dxmax, y0 - dymin}};
    pf_edge e[4];
    for (int i = 0; i < 4; i++) pf_add_edge(e + i, v[i][0], v[i][1], v[(i + 1) % 4][0], v[(i + 1) % 4][1]);
    pf_polygon4(cv, n, e);
}

// ---------------------------------------------------------------------------------------------------
// Tables

typedef struct {
    int16_t di, dj;   // position in the patch
    uint8_t v;        // value 1..255
} pf_nz;

typedef struct {
    int margin;
    int S, P;               // patch half size S = L + ceil(T) + M and size P = 2S + 1
    int reach, side;        // fine-canvas end point offsets lie in [-reach, reach]; side = 2*reach + 1
    uint8_t *line, *mask;   // [side*side, P, P]: Lanczos line patch and margin mask patch (0..255)
    int *nz_start[2];       // [side*side + 1]: non-zero pixels of each line (0) / mask (1) patch in nz[]
    pf_nz *nz[2];
    int n_cand;             // extension candidates around the new pivot (data.md 12.6)
    double cand_dy[PF_MAX_CAND], cand_dx[PF_MAX_CAND];
    double *atan_tab;       // [(2r+1)^2]: atan2(dy, dx) of candidate offsets from the new pivot, r = L + M
    int n_disk;             // disk(M) taps, for the occupancy dilation
    int disk[64][2];
    int kr;                 // seed kernel radius L + M
    int ktap_start[361];    // seed kernel of integer orientation k at [k+180]: taps (dy, dx) from the anchor
    int8_t *ktaps;          // [total, 2]
    uint8_t kquad[360];     // 1 when the taps cover the four closed quadrants
    int s1_start[361];      // first target seed: free positions per orientation (row-major indices)
    int32_t *s1_list;
    uint8_t s1_neg[360];    // 1 when the dilation has a -DBL_MAX pixel (the seed fails at once)
} pf_mtab;

typedef struct pf_work pf_work;

struct lra_pathfinder_gen {
    lra_pathfinder_gen_options o;
    int H, W, cells;
    pf_mtab mt[4];
    pf_lanczos lz_marker;   // (H*aa) -> H
    double lut_target[256], lut_distractor[256], lut_mask[256];   // float32(u8 / 255.0 * contrast)
    uint8_t *frame;         // [H, W]: 1 on the padding frame
    pf_work *work;          // for lra_pathfinder_gen_image
    lra_nprandom np;        // COMPAT stream
    int64_t next_index;
};

// translate(p, theta, d): (ceil(p.y + d sin theta), ceil(p.x + d cos theta)).
static void pf_translate(int y, int x, double theta, double d, int *oy, int *ox) {
    *oy = (int)ceil(y + d * sin(theta));
    *ox = (int)ceil(x + d * cos(theta));
}

static double pf_flip(double theta) { return theta < 0 ? theta + M_PI : theta - M_PI; }

// Index of the paddle patch drawn along theta.
static int pf_patch_of(const lra_pathfinder_gen *g, const pf_mtab *m, double theta) {
    int c = m->S * g->o.params.aa, ey, ex;
    pf_translate(c, c, theta, (double)(g->o.params.paddle_length * g->o.params.aa), &ey, &ex);
    int oy = ey - c + m->reach, ox = ex - c + m->reach;
    LRA_ASSERT(oy >= 0 && oy < m->side && ox >= 0 && ox < m->side);
    return oy * m->side + ox;
}

// Builds the line and mask patches of every fine-canvas end point (data.md 12.4.7).
static void pf_build_patches(const lra_pathfinder_gen *g, pf_mtab *m) {
    const lra_pathfinder_params *p = &g->o.params;
    int aa = p->aa, B = 2 * m->S * aa + 1, c = m->S * aa, width = (int)rint(p->thickness * aa);
    int md = m->margin * aa;
    pf_lanczos lz;
    pf_lanczos_init(&lz, B, m->P);
    uint8_t *canvas = lra_xmalloc((size_t)B * (size_t)B), *dil = lra_xmalloc((size_t)B * (size_t)B);
    uint8_t *tmp = lra_xmalloc((size_t)B * (size_t)m->P);
    size_t pp = (size_t)m->P * (size_t)m->P;
    m->line = lra_xcalloc((size_t)m->side * (size_t)m->side, pp);
    m->mask = lra_xcalloc((size_t)m->side * (size_t)m->side, pp);
    for (int oy = -m->reach; oy <= m->reach; oy++)
        for (int ox = -m->reach; ox <= m->reach; ox++) {
            size_t idx = (size_t)(oy + m->reach) * (size_t)m->side + (size_t)(ox + m->reach);
            memset(canvas, 0, (size_t)B * (size_t)B);
            if (width <= 1) {
                pf_line1(canvas, B, c, c, c + ox, c + oy);
                pf_point(canvas, B, c + ox, c + oy);
            } else {
                pf_wide_line(canvas, B, c, c, c + ox, c + oy, width);
            }
            // bytescale of a 0/255 canvas is the identity
            pf_resize_sq(&lz, canvas, tmp, m->line + idx * pp, 0, B - 1);
            // grey dilation with disk(M*aa) (centred, symmetric): a pixel is 255 when a line pixel lies
            // within the disk around it
            memset(dil, 0, (size_t)B * (size_t)B);
            for (int y = 0; y < B; y++)
                for (int x = 0; x < B; x++) {
                    if (!canvas[(size_t)y * (size_t)B + (size_t)x]) continue;
                    for (int dy = -md; dy <= md; dy++)
                        for (int dx = -md; dx <= md; dx++) {
                            int yy = y + dy, xx = x + dx;
                            if (dy * dy + dx * dx <= md * md && yy >= 0 && yy < B && xx >= 0 && xx < B)
                                dil[(size_t)yy * (size_t)B + (size_t)xx] = 255;
                        }
                }
            pf_resize_sq(&lz, dil, tmp, m->mask + idx * pp, 0, B - 1);
        }
    pf_lanczos_free(&lz);
    free(canvas);
    free(dil);
    free(tmp);
}

// Free pixels of the dilation of occupancy occ: [H, W] with taps: [nt, 2] (offsets from the anchor, not
// mirrored), in row-major order into out.  Returns -1 when, with the OpenCV border, some pixel has no tap
// inside the image (its value would be -DBL_MAX and the original gives up).
static int pf_seed_free(int H, int W, const uint8_t *occ, const int8_t *taps, int nt, int opencv, int32_t *out) {
    if (nt == 0) return opencv ? -1 : 0;
    int n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int inside = 0, hit = 0;
            for (int t = 0; t < nt; t++) {
                int yy = y + taps[2 * t], xx = x + taps[2 * t + 1];
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                inside = 1;
                if (occ[yy * W + xx]) {
                    hit = 1;
                    break;
                }
            }
            if (!inside && opencv) return -1;
            if (!hit) out[n++] = y * W + x;
        }
    return n;
}

static void pf_build_margin(lra_pathfinder_gen *g, pf_mtab *m, int margin) {
    const lra_pathfinder_params *p = &g->o.params;
    int L = p->paddle_length, aa = p->aa, H = g->H, W = g->W;
    m->margin = margin;
    m->S = L + (int)ceil(p->thickness) + margin;
    m->P = 2 * m->S + 1;
    m->reach = L * aa;
    m->side = 2 * m->reach + 1;
    pf_build_patches(g, m);
    size_t pp = (size_t)m->P * (size_t)m->P, np_ = (size_t)m->side * (size_t)m->side;
    for (int which = 0; which < 2; which++) {
        const uint8_t *src = which ? m->mask : m->line;
        size_t cnt = 0;
        for (size_t i = 0; i < np_ * pp; i++) cnt += src[i] != 0;
        m->nz[which] = lra_xmalloc(sizeof(pf_nz) * (cnt ? cnt : 1));
        m->nz_start[which] = lra_xmalloc(sizeof(int) * (np_ + 1));
        int k = 0;
        for (size_t t = 0; t < np_; t++) {
            m->nz_start[which][t] = k;
            for (int i = 0; i < m->P; i++)
                for (int j = 0; j < m->P; j++) {
                    uint8_t v = src[t * pp + (size_t)(i * m->P + j)];
                    if (v) m->nz[which][k++] = (pf_nz){(int16_t)i, (int16_t)j, v};
                }
        }
        m->nz_start[which][np_] = k;
    }

    // extension candidates: np.arange(0, 360, step) * pi / 180 on a circle of radius r = L + M
    int r = L + margin;
    double step = 360. / ((double)(2 * r) * M_PI);
    int n = (int)ceil(360.0 / step);
    LRA_ASSERT(n <= PF_MAX_CAND);
    m->n_cand = n;
    for (int i = 0; i < n; i++) {
        double a = ((double)i * step) * M_PI / 180;
        m->cand_dy[i] = (double)r * sin(a);
        m->cand_dx[i] = (double)r * cos(a);
    }
    m->atan_tab = lra_xmalloc(sizeof(double) * (size_t)(2 * r + 1) * (size_t)(2 * r + 1));
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) m->atan_tab[(dy + r) * (2 * r + 1) + dx + r] = atan2((double)dy, (double)dx);
    m->n_disk = 0;
    for (int dy = -margin; dy <= margin; dy++)
        for (int dx = -margin; dx <= margin; dx++)
            if (dx * dx + dy * dy <= margin * margin) {
                LRA_ASSERT(m->n_disk < 64);
                m->disk[m->n_disk][0] = dy, m->disk[m->n_disk][1] = dx, m->n_disk++;
            }

    // seed kernels: paddle((n,n), (L+M+1, L+M+1), theta, 1.0), taps where the mask is exactly 1.0
    int kr = L + margin, kn = 2 * kr + 1, start = kr + 1, S = m->S;
    m->kr = kr;
    m->ktaps = lra_xmalloc((size_t)360 * (size_t)kn * (size_t)kn * 2);
    int total = 0;
    for (int k = -180; k < 180; k++) {
        m->ktap_start[k + 180] = total;
        double theta = (double)k * M_PI / 180;
        const uint8_t *mp = m->mask + (size_t)pf_patch_of(g, m, theta) * (size_t)m->P * (size_t)m->P;
        int q[4] = {0, 0, 0, 0};
        for (int i = 0; i < kn; i++)
            for (int j = 0; j < kn; j++) {
                int pi_ = i - start + S, pj = j - start + S;   // patch pixel placed at (i, j)
                if (pi_ < 0 || pi_ >= m->P || pj < 0 || pj >= m->P) continue;
                if (mp[pi_ * m->P + pj] != 255) continue;
                int dy = i - kr, dx = j - kr;
                m->ktaps[2 * total] = (int8_t)dy, m->ktaps[2 * total + 1] = (int8_t)dx, total++;
                q[0] |= dy <= 0 && dx <= 0, q[1] |= dy <= 0 && dx >= 0, q[2] |= dy >= 0 && dx <= 0;
                q[3] |= dy >= 0 && dx >= 0;
            }
        m->kquad[k + 180] = (uint8_t)(q[0] && q[1] && q[2] && q[3]);
    }
    m->ktap_start[360] = total;

    // first target seed: the occupancy is the padding frame plus a frame of width 2D, whatever the image
    uint8_t *occ = lra_xmalloc((size_t)H * (size_t)W);
    int fw = 2 * p->seed_distance;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            occ[y * W + x] = g->frame[y * W + x] || y < fw || y >= H - fw || x < fw || x >= W - fw;
    int32_t *buf = lra_xmalloc(sizeof(int32_t) * (size_t)H * (size_t)W);
    size_t cap = 1024, used = 0;
    m->s1_list = lra_xmalloc(sizeof(int32_t) * cap);
    for (int k = 0; k < 360; k++) {
        m->s1_start[k] = (int)used;
        int nt = m->ktap_start[k + 1] - m->ktap_start[k];
        int nf = pf_seed_free(H, W, occ, m->ktaps + 2 * m->ktap_start[k], nt, p->opencv_border, buf);
        m->s1_neg[k] = (uint8_t)(nf < 0);
        if (nf <= 0) continue;
        if (used + (size_t)nf > cap) {
            while (used + (size_t)nf > cap) cap *= 2;
            m->s1_list = lra_xrealloc(m->s1_list, sizeof(int32_t) * cap);
        }
        memcpy(m->s1_list + used, buf, sizeof(int32_t) * (size_t)nf);
        used += (size_t)nf;
    }
    m->s1_start[360] = (int)used;
    free(buf);
    free(occ);
}

// ---------------------------------------------------------------------------------------------------
// Per-image state

struct pf_work {
    double *image, *mask;           // [H, W]
    double *fin;                    // [H, W]: final image before byte scaling
    int bb[4];                      // rows bb[0]..bb[1], columns bb[2]..bb[3]: written since the last reset
    int logging, n_log, cap_log;    // undo log of a distractor attempt: (cell, old value, 0 image / 1 mask)
    int32_t *log_idx;
    double *log_val;
    uint8_t *log_which;
    uint8_t *occ, *blocked;         // [H, W]
    int32_t *freebuf, *occlist;     // [H, W]
    uint8_t *canvas, *tmp;          // marker canvas [H*aa, H*aa] and Lanczos intermediate [H*aa, H]
    uint8_t *mk0, *mk1;             // [H, W] markers
};

static pf_work *pf_work_new(const lra_pathfinder_gen *g) {
    pf_work *w = lra_xcalloc(1, sizeof *w);
    size_t c = (size_t)g->cells, big = (size_t)(g->H * g->o.params.aa) * (size_t)(g->W * g->o.params.aa);
    w->image = lra_xmalloc(sizeof(double) * c);
    w->mask = lra_xmalloc(sizeof(double) * c);
    w->fin = lra_xmalloc(sizeof(double) * c);
    w->occ = lra_xmalloc(c);
    w->blocked = lra_xmalloc(c);
    w->freebuf = lra_xmalloc(sizeof(int32_t) * c);
    w->occlist = lra_xmalloc(sizeof(int32_t) * c);
    int pmax = 0;
    for (int i = 0; i < g->o.params.n_margins; i++) pmax = g->mt[i].P > pmax ? g->mt[i].P : pmax;
    w->cap_log = 2 * (g->o.params.distractor_length + 1) * pmax * pmax;
    w->log_idx = lra_xmalloc(sizeof(int32_t) * (size_t)w->cap_log);
    w->log_val = lra_xmalloc(sizeof(double) * (size_t)w->cap_log);
    w->log_which = lra_xmalloc((size_t)w->cap_log);
    w->bb[0] = 0, w->bb[1] = g->H - 1, w->bb[2] = 0, w->bb[3] = g->W - 1;   // everything needs a reset
    w->canvas = lra_xcalloc(big, 1);
    w->tmp = lra_xcalloc((size_t)(g->H * g->o.params.aa) * (size_t)g->W, 1);
    w->mk0 = lra_xmalloc(c);
    w->mk1 = lra_xmalloc(c);
    return w;
}

static void pf_work_free(pf_work *w) {
    if (!w) return;
    free(w->image), free(w->mask), free(w->fin), free(w->occ), free(w->blocked), free(w->freebuf), free(w->occlist);
    free(w->log_idx), free(w->log_val), free(w->log_which);
    free(w->canvas), free(w->tmp), free(w->mk0), free(w->mk1);
    free(w);
}

// The random source: numpy's RandomState (COMPAT) or a Philox stream.
typedef struct {
    int compat;
    lra_nprandom *np;
    lra_rng ph;
} pf_rng;

static int64_t pf_randint(pf_rng *r, int64_t lo, int64_t hi) {
    if (hi - lo == 1) return lo;   // numpy draws nothing here; keep the same rule in both modes
    return r->compat ? lra_nprandom_randint(r->np, lo, hi) : lra_rng_int(&r->ph, lo, hi);
}

static double pf_rand(pf_rng *r) { return r->compat ? lra_nprandom_rand(r->np) : lra_rng_uniform_double(&r->ph); }

typedef struct {
    int y, x, patch;   // patch centred on (y, x)
} pf_paddle;

typedef struct {
    int py, px;        // pivot
    double theta;      // orientation
    pf_paddle prev;    // newest paddle (its mask joins the occupancy when the next one is accepted)
    int hy, hx;        // head of the newest extension
} pf_snake;

// Grows the written-region box by the patch of pd (clipped).
static void pf_touch(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_paddle pd) {
    int y0 = pd.y - m->S < 0 ? 0 : pd.y - m->S, y1 = pd.y + m->S > g->H - 1 ? g->H - 1 : pd.y + m->S;
    int x0 = pd.x - m->S < 0 ? 0 : pd.x - m->S, x1 = pd.x + m->S > g->W - 1 ? g->W - 1 : pd.x + m->S;
    if (y0 > y1 || x0 > x1) return;
    if (w->bb[0] > w->bb[1]) {
        w->bb[0] = y0, w->bb[1] = y1, w->bb[2] = x0, w->bb[3] = x1;
        return;
    }
    if (y0 < w->bb[0]) w->bb[0] = y0;
    if (y1 > w->bb[1]) w->bb[1] = y1;
    if (x0 < w->bb[2]) w->bb[2] = x0;
    if (x1 > w->bb[3]) w->bb[3] = x1;
}

static void pf_log(pf_work *w, int which, int idx, double old) {
    LRA_ASSERT(w->n_log < w->cap_log);
    w->log_idx[w->n_log] = idx, w->log_val[w->n_log] = old, w->log_which[w->n_log] = (uint8_t)which;
    w->n_log++;
}

// image = max(image, lut[line patch]) (which = 0); mask = max(mask, lut[mask patch]) (which = 1).
// Zero patch pixels change nothing (images and masks are >= 0), so only the non-zero ones are visited.
static void pf_draw(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_paddle pd, int which, const double *lut) {
    double *dst = which ? w->mask : w->image;
    pf_touch(g, m, w, pd);
    const pf_nz *e = m->nz[which] + m->nz_start[which][pd.patch], *end = m->nz[which] + m->nz_start[which][pd.patch + 1];
    for (; e < end; e++) {
        int y = pd.y - m->S + e->di, x = pd.x - m->S + e->dj;
        if (y < 0 || y >= g->H || x < 0 || x >= g->W) continue;
        double v = lut[e->v], *d = dst + y * g->W + x;
        if (v > *d) {
            if (w->logging) pf_log(w, which, y * g->W + x, *d);
            *d = v;
        }
    }
}

static void pf_draw_line(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_paddle pd, const double *lut) {
    pf_draw(g, m, w, pd, 0, lut);
}

static void pf_draw_mask(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_paddle pd) {
    pf_draw(g, m, w, pd, 1, g->lut_mask);
}

// max over the image of (mask + paddle mask) < 1.8; elsewhere mask <= 1 < 1.8.
static int pf_mask_fits(const lra_pathfinder_gen *g, const pf_mtab *m, const double *mask, pf_paddle pd) {
    const pf_nz *e = m->nz[1] + m->nz_start[1][pd.patch], *end = m->nz[1] + m->nz_start[1][pd.patch + 1];
    for (; e < end; e++) {
        int y = pd.y - m->S + e->di, x = pd.x - m->S + e->dj;
        if (y < 0 || y >= g->H || x < 0 || x >= g->W) continue;
        if (!(mask[y * g->W + x] + g->lut_mask[e->v] < 1.8)) return 0;
    }
    return 1;
}

// numpy's sum of a double array (add.reduce from 0 with pairwise summation; n <= 128 here).
static double pf_np_sum(const double *a, int n) {
    double res;
    if (n < 8) {
        res = 0.;
        for (int i = 0; i < n; i++) res += a[i];
    } else if (n <= 128) {
        double r[8];
        int i;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
    } else {
        int n2 = n / 2;
        n2 -= n2 % 8;
        return pf_np_sum(a, n2) + pf_np_sum(a + n2, n - n2);
    }
    return res;
}

// Extends a snake by one paddle (data.md 12.6).  Returns 1 on success.
static int pf_extend(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_rng *r, pf_snake *s,
                     const double *lut) {
    const lra_pathfinder_params *p = &g->o.params;
    int H = g->H, W = g->W, qy, qx;
    pf_translate(s->py, s->px, s->theta, (double)(p->paddle_length + 2 * m->margin), &qy, &qx);
    int cy[PF_MAX_CAND], cx[PF_MAX_CAND], n = 0;
    for (int i = 0; i < m->n_cand; i++) {
        double y = qy + m->cand_dy[i], x = qx + m->cand_dx[i];
        if (y >= H || y < 0 || x >= W || x < 0) continue;
        int iy = (int)y, ix = (int)x, k = n;
        // insertion into the sorted, duplicate-free list (np.unique over rows)
        int dup = 0;
        while (k > 0 && (cy[k - 1] > iy || (cy[k - 1] == iy && cx[k - 1] >= ix))) {
            if (cy[k - 1] == iy && cx[k - 1] == ix) {
                dup = 1;
                break;
            }
            k--;
        }
        if (dup) continue;
        memmove(cy + k + 1, cy + k, sizeof(int) * (size_t)(n - k));
        memmove(cx + k + 1, cx + k, sizeof(int) * (size_t)(n - k));
        cy[k] = iy, cx[k] = ix, n++;
    }
    if (n == 0) return 0;
    double orient[PF_MAX_CAND], pmf[PF_MAX_CAND], cmf[PF_MAX_CAND];
    for (int i = 0; i < n; i++) {
        int ody = cy[i] - qy, odx = cx[i] - qx, r = p->paddle_length + m->margin;
        double o = ody >= -r && ody <= r && odx >= -r && odx <= r ? m->atan_tab[(ody + r) * (2 * r + 1) + odx + r]
                                                                : atan2((double)ody, (double)odx);
        orient[i] = o;
        double dm = -DBL_MAX;   // dilation of the occupancy with disk(M) (anchor is a tap)
        for (int t = 0; t < m->n_disk; t++) {
            int yy = cy[i] + m->disk[t][0], xx = cx[i] + m->disk[t][1];
            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
            double v = w->mask[yy * W + xx];
            if (v > dm) dm = v;
        }
        double inv = 1 - dm;
        if (inv == 0) {   // (1 - Dm) * w is 0 whatever the turning weight
            pmf[i] = 0;
            continue;
        }
        double d = fabs(o - s->theta), d2 = 2 * M_PI - fabs(o - s->theta);
        double delta = d2 < d ? d2 : d;
        delta = delta * p->continuity;
        if (0.5 * M_PI < delta) delta = 0.5 * M_PI;
        double cw = cos(delta);
        if (cw < 0) cw = 0;
        cw = cw * cw;
        pmf[i] = inv * cw;
    }
    double total = pf_np_sum(pmf, n);
    if (total < 1e-4) return 0;
    double acc = 0;
    for (int i = 0; i < n; i++) {
        acc = i == 0 ? pmf[0] / total : acc + pmf[i] / total;
        cmf[i] = acc;
    }
    for (int trial = 0; trial <= p->max_paddle_retrial; trial++) {
        double u = pf_rand(r);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (cmf[i] - u > 0) {
                k = i;
                break;
            }
        pf_paddle pd = {cy[k], cx[k], pf_patch_of(g, m, pf_flip(orient[k]))};
        if (pf_mask_fits(g, m, w->mask, pd)) {
            pf_draw_line(g, m, w, pd, lut);
            pf_draw_mask(g, m, w, s->prev);
            s->prev = pd;
            s->py = qy, s->px = qx;
            s->theta = orient[k];
            s->hy = cy[k], s->hx = cx[k];
            return 1;
        }
    }
    return 0;
}

static int pf_inside(const lra_pathfinder_gen *g, int y, int x) { return y >= 0 && y < g->H && x >= 0 && x < g->W; }

// Seeds a distractor snake (data.md 12.5): frame 1, stop fraction 0.01.  On success the seed paddle is
// returned in s->prev (not drawn yet) and the image and mask are unchanged.
static int pf_seed(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_rng *r, pf_snake *s) {
    const lra_pathfinder_params *p = &g->o.params;
    int H = g->H, W = g->W, L = p->paddle_length;
    int raw = 0;
    for (int i = 0; i < g->cells; i++) raw += w->mask[i] <= 0.3;
    int occ_ready = 0, n_occ = 0;
    int quad_shortcut = p->opencv_border && H > 2 * m->kr + 1 && W > 2 * m->kr + 1;
    for (int trial = 0; trial <= p->max_paddle_retrial;) {
        int k = (int)pf_randint(r, -180, 180);
        double theta = (double)k * M_PI / 180, rev = theta + M_PI < M_PI ? theta + M_PI : theta - M_PI;
        if ((double)raw / (double)(H * W) < 0.01) return 0;
        // without a tap in each quadrant, a corner pixel has no tap inside the image (-DBL_MAX): fail now
        if (quad_shortcut && !m->kquad[k + 180]) return 0;
        if (!occ_ready) {
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    if ((w->occ[y * W + x] = y == 0 || y == H - 1 || x == 0 || x == W - 1 || w->mask[y * W + x] > 0.3))
                        w->occlist[n_occ++] = y * W + x;
            occ_ready = 1;
        }
        int nt = m->ktap_start[k + 181] - m->ktap_start[k + 180], nf;
        const int8_t *taps = m->ktaps + 2 * m->ktap_start[k + 180];
        if (quad_shortcut || !p->opencv_border) {
            // no -DBL_MAX pixel possible: scatter from the occupied pixels (far fewer than the free ones)
            memset(w->blocked, 0, (size_t)g->cells);
            for (int q = 0; q < n_occ; q++) {
                int oy = w->occlist[q] / W, ox = w->occlist[q] % W;
                for (int t = 0; t < nt; t++) {
                    int yy = oy - taps[2 * t], xx = ox - taps[2 * t + 1];
                    if (yy >= 0 && yy < H && xx >= 0 && xx < W) w->blocked[yy * W + xx] = 1;
                }
            }
            nf = 0;
            for (int i = 0; i < g->cells; i++)
                if (!w->blocked[i]) w->freebuf[nf++] = i;
        } else {
            nf = pf_seed_free(H, W, w->occ, taps, nt, p->opencv_border, w->freebuf);
        }
        if (nf <= 0) return 0;
        int idx = w->freebuf[pf_randint(r, 0, nf)], ty = idx / W, tx = idx % W, hy, hx, vy, vx;
        pf_translate(ty, tx, theta, (double)L, &hy, &hx);
        pf_translate(hy, hx, rev, (double)(L + m->margin), &vy, &vx);
        if (!pf_inside(g, hy, hx) || !pf_inside(g, vy, vx)) {
            trial++;
            continue;
        }
        s->prev = (pf_paddle){ty, tx, pf_patch_of(g, m, theta)};
        s->py = vy, s->px = vx, s->theta = theta;
        return 1;
    }
    return 0;
}

// One attempt at the two target snakes (data.md 12.7).
static int pf_two_snakes(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_rng *r, int tips[4][2]) {
    const lra_pathfinder_params *p = &g->o.params;
    int W = g->W, L = p->paddle_length, D = p->seed_distance;
    const double *cT = g->lut_target;
    // reset the region written by the previous attempt (or image)
    for (int y = w->bb[0]; y <= w->bb[1]; y++)
        for (int x = w->bb[2]; x <= w->bb[3]; x++) w->image[y * W + x] = 0, w->mask[y * W + x] = g->frame[y * W + x];
    w->bb[0] = 0, w->bb[1] = -1;
    pf_snake sn[2];
    // seed 1: free positions tabulated per orientation
    int ty = 0, tx = 0, trial = 0;
    double theta = 0;
    for (; trial <= p->max_paddle_retrial;) {
        int k = (int)pf_randint(r, -180, 180);
        theta = (double)k * M_PI / 180;
        double rev = theta + M_PI < M_PI ? theta + M_PI : theta - M_PI;
        int nf = m->s1_start[k + 181] - m->s1_start[k + 180];
        if (m->s1_neg[k + 180] || nf == 0) return 0;
        int idx = m->s1_list[m->s1_start[k + 180] + pf_randint(r, 0, nf)], hy, hx, vy, vx;
        ty = idx / W, tx = idx % W;
        pf_translate(ty, tx, theta, (double)L, &hy, &hx);
        pf_translate(hy, hx, rev, (double)(L + m->margin), &vy, &vx);
        if (!pf_inside(g, hy, hx) || !pf_inside(g, vy, vx)) {
            trial++;
            continue;
        }
        sn[0].py = vy, sn[0].px = vx;
        break;
    }
    if (trial > p->max_paddle_retrial) return 0;
    sn[0].theta = theta;
    sn[0].prev = (pf_paddle){ty, tx, pf_patch_of(g, m, theta)};
    sn[0].hy = sn[0].hx = 0;
    pf_draw_line(g, m, w, sn[0].prev, cT);
    // seed 2 at distance D from the first tail, no occupancy test
    int t2y = 0, t2x = 0;
    double theta2 = 0;
    for (trial = 0; trial <= p->max_paddle_retrial;) {
        theta2 = (double)pf_randint(r, -180, 180) * M_PI / 180;
        double rev = theta2 + M_PI < M_PI ? theta2 + M_PI : theta2 - M_PI;
        double phi = (double)pf_randint(r, 0, 360) * M_PI / 180;
        t2y = (int)rint(ty + D * sin(phi));
        t2x = (int)rint(tx + D * cos(phi));
        int hy, hx, vy, vx;
        pf_translate(t2y, t2x, theta2, (double)L, &hy, &hx);
        pf_translate(hy, hx, rev, (double)(L + m->margin), &vy, &vx);
        if (!pf_inside(g, hy, hx) || !pf_inside(g, vy, vx)) {
            trial++;
            continue;
        }
        sn[1].py = vy, sn[1].px = vx;
        break;
    }
    if (trial > p->max_paddle_retrial) return 0;
    sn[1].theta = theta2;
    sn[1].prev = (pf_paddle){t2y, t2x, pf_patch_of(g, m, theta2)};
    sn[1].hy = sn[1].hx = 0;
    pf_draw_line(g, m, w, sn[1].prev, cT);
    for (int seg = 0; seg < p->contour_length - 1; seg++)
        for (int s = 0; s < 2; s++)
            if (!pf_extend(g, m, w, r, &sn[s], cT)) return 0;
    pf_draw_mask(g, m, w, sn[1].prev);   // snake 1's last paddle mask is never added (original quirk)
    tips[0][0] = ty, tips[0][1] = tx, tips[1][0] = t2y, tips[1][1] = t2x;
    tips[2][0] = sn[0].hy, tips[2][1] = sn[0].hx, tips[3][0] = sn[1].hy, tips[3][1] = sn[1].hx;
    return 1;
}

// Distractor snakes (data.md 12.8); returns how many were placed.
static int pf_distractors(const lra_pathfinder_gen *g, const pf_mtab *m, pf_work *w, pf_rng *r) {
    const lra_pathfinder_params *p = &g->o.params;
    int placed = 0;
    for (int slot = 0; slot < p->n_distractors; slot++)
        for (int attempt = 0; attempt <= p->max_snake_retrial; attempt++) {
            pf_snake s;
            if (!pf_seed(g, m, w, r, &s)) continue;
            w->logging = 1, w->n_log = 0;
            pf_draw_line(g, m, w, s.prev, g->lut_distractor);
            int ok = 1;
            for (int seg = 0; ok && seg < p->distractor_length - 1; seg++) ok = pf_extend(g, m, w, r, &s, g->lut_distractor);
            w->logging = 0;
            if (!ok) {   // undo the attempt, newest write first
                for (int i = w->n_log - 1; i >= 0; i--) (w->log_which[i] ? w->mask : w->image)[w->log_idx[i]] = w->log_val[i];
                continue;
            }
            pf_draw_mask(g, m, w, s.prev);
            placed++;
            break;
        }
    return placed;
}

// Marker disk at tip (y, x), Lanczos-downsampled from the fine canvas (data.md 12.9) into out: [H, W].
static void pf_marker(const lra_pathfinder_gen *g, pf_work *w, int y, int x, uint8_t *out) {
    const lra_pathfinder_params *p = &g->o.params;
    int aa = p->aa, n = g->H * aa;
    double r2 = (p->marker_radius * aa) * (p->marker_radius * aa);
    int rr = (int)ceil(p->marker_radius * aa) + 1, cy = y * aa, cx = x * aa;
    int y0 = cy - rr < 0 ? 0 : cy - rr, y1 = cy + rr > n - 1 ? n - 1 : cy + rr;
    for (int i = y0; i <= y1; i++) {
        uint8_t *row = w->canvas + (size_t)i * (size_t)n;
        memset(row, 0, (size_t)n);
        for (int j = cx - rr; j <= cx + rr; j++)
            if (j >= 0 && j < n && (double)((i - cy) * (i - cy) + (j - cx) * (j - cx)) <= r2) row[j] = 255;
    }
    pf_resize_sq(&g->lz_marker, w->canvas, w->tmp, out, y0, y1);
}

static void pf_make_image(const lra_pathfinder_gen *g, pf_work *w, pf_rng *r, uint8_t *px,
                          lra_pathfinder_image_info *info) {
    const lra_pathfinder_params *p = &g->o.params;
    int label = (int)pf_randint(r, 0, 2);
    int mi = (int)pf_randint(r, 0, p->n_margins);
    const pf_mtab *m = &g->mt[mi];
    int tips[4][2], attempts = 0;
    do attempts++;
    while (!pf_two_snakes(g, m, w, r, tips));
    int placed = p->n_distractors > 0 ? pf_distractors(g, m, w, r) : 0;
    int o = (int)pf_randint(r, 0, 2), t = label == 1 ? o : 1 - o;
    pf_marker(g, w, tips[o][0], tips[o][1], w->mk0);
    pf_marker(g, w, tips[2 + t][0], tips[2 + t][1], w->mk1);
    double lo = DBL_MAX, hi = -DBL_MAX;
    double *fin = w->fin;
    for (int i = 0; i < g->cells; i++) {
        uint8_t mk = w->mk0[i] > w->mk1[i] ? w->mk0[i] : w->mk1[i];
        double v = (double)mk / 255, a = w->image[i];
        v = v > a ? v : a;
        fin[i] = v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    double s = hi - lo;
    if (s == 0) s = 1;
    double scale = 255.0 / s;
    for (int i = 0; i < g->cells; i++) {
        double v = (fin[i] - lo) * scale + 0;
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        px[i] = (uint8_t)(v + 0.5);
    }
    if (info) info->label = label, info->margin = p->margins[mi], info->attempts = attempts, info->distractors = placed;
}

// ---------------------------------------------------------------------------------------------------
// Public API

static lra_status pf_check_options(const lra_pathfinder_gen_options *o) {
    const lra_pathfinder_params *p = &o->params;
    if (p->size < 8 || p->size > 1024)
        return lra_error(LRA_ERR_ARG, "pathfinder: size %d out of range (expected 8..1024)", p->size);
    if (p->aa < 1 || p->aa > 8) return lra_error(LRA_ERR_ARG, "pathfinder: antialias factor %d (expected 1..8)", p->aa);
    if (rint(p->thickness * p->aa) != p->thickness * p->aa || p->thickness <= 0)
        return lra_error(LRA_ERR_ARG, "pathfinder: thickness %g times antialias %d is not an integer", p->thickness, p->aa);
    if (p->n_margins < 1 || p->n_margins > 4)
        return lra_error(LRA_ERR_ARG, "pathfinder: %d margins (expected 1..4)", p->n_margins);
    for (int i = 0; i < p->n_margins; i++)
        if (p->margins[i] < 1 || p->paddle_length + p->margins[i] > 60)
            return lra_error(LRA_ERR_ARG, "pathfinder: margin %d / paddle length %d out of range", p->margins[i], p->paddle_length);
    if (p->paddle_length < 1 || p->contour_length < 1 || p->distractor_length < 1 || p->n_distractors < 0)
        return lra_error(LRA_ERR_ARG, "pathfinder: lengths must be positive (L %d, CL %d, DL %d, ND %d)",
                         p->paddle_length, p->contour_length, p->distractor_length, p->n_distractors);
    if (2 * p->seed_distance >= p->size / 2)
        return lra_error(LRA_ERR_ARG, "pathfinder: seed distance %d leaves no room in a %d image", p->seed_distance, p->size);
    if (o->rng == LRA_PF_RNG_COMPAT && o->seed > 0xFFFFFFFFull)
        return lra_error(LRA_ERR_ARG, "pathfinder: compat seed %llu must be below 2^32 (numpy seed)",
                         (unsigned long long)o->seed);
    if (o->rng != LRA_PF_RNG_COMPAT && o->rng != LRA_PF_RNG_PHILOX)
        return lra_error(LRA_ERR_ARG, "pathfinder: unknown rng mode %d", (int)o->rng);
    if (o->n_images < 0 || o->batch < 0)
        return lra_error(LRA_ERR_ARG, "pathfinder: n_images %d / batch %d must be >= 0", o->n_images, o->batch);
    return LRA_OK;
}

lra_status lra_pathfinder_gen_new(const lra_pathfinder_gen_options *o, lra_pathfinder_gen **out) {
    *out = NULL;
    LRA_TRY(pf_check_options(o));
    lra_pathfinder_gen *g = lra_xcalloc(1, sizeof *g);
    g->o = *o;
    const lra_pathfinder_params *p = &g->o.params;
    g->H = g->W = p->size;
    g->cells = g->H * g->W;
    g->frame = lra_xmalloc((size_t)g->cells);
    for (int y = 0; y < g->H; y++)
        for (int x = 0; x < g->W; x++)
            g->frame[y * g->W + x] =
                y < p->padding || y >= g->H - p->padding || x < p->padding || x >= g->W - p->padding;
    for (int i = 0; i < p->n_margins; i++) pf_build_margin(g, &g->mt[i], p->margins[i]);
    pf_lanczos_init(&g->lz_marker, g->H * p->aa, g->H);
    for (int v = 0; v < 256; v++) {
        // the original: imresize(...).astype(float) / 255, then *= contrast if contrast != 1, stored in float32
        g->lut_target[v] = (double)(float)((double)v / 255.0 * (p->paddle_contrast * p->snake_contrast));
        g->lut_distractor[v] = (double)(float)((double)v / 255.0 * p->snake_contrast);
        g->lut_mask[v] = (double)(float)((double)v / 255.0);
    }
    g->work = pf_work_new(g);
    lra_nprandom_seed(&g->np, (uint32_t)o->seed);
    g->next_index = 0;
    *out = g;
    return LRA_OK;
}

void lra_pathfinder_gen_free(lra_pathfinder_gen *g) {
    if (!g) return;
    for (int i = 0; i < g->o.params.n_margins; i++) {
        free(g->mt[i].line), free(g->mt[i].mask), free(g->mt[i].ktaps), free(g->mt[i].s1_list), free(g->mt[i].atan_tab);
        for (int k = 0; k < 2; k++) free(g->mt[i].nz[k]), free(g->mt[i].nz_start[k]);
    }
    pf_lanczos_free(&g->lz_marker);
    free(g->frame);
    pf_work_free(g->work);
    free(g);
}

int lra_pathfinder_gen_usable_orientations(const lra_pathfinder_gen *g, int margin_index) {
    LRA_ASSERT(margin_index >= 0 && margin_index < g->o.params.n_margins);
    int n = 0;
    for (int k = 0; k < 360; k++) n += !g->mt[margin_index].s1_neg[k];
    return n;
}

static pf_rng pf_rng_for(lra_pathfinder_gen *g, int64_t index) {
    pf_rng r = {0};
    if (g->o.rng == LRA_PF_RNG_COMPAT) {
        r.compat = 1;
        r.np = &g->np;
    } else {
        const lra_pathfinder_params *p = &g->o.params;
        uint64_t stream = lra_rng_stream(PF_PURPOSE, (uint64_t)g->o.batch, (uint64_t)index,
                                         (uint64_t)p->size * 1000u + (uint64_t)p->contour_length);
        r.ph = lra_rng_make(g->o.seed, stream);
    }
    return r;
}

lra_status lra_pathfinder_gen_image(lra_pathfinder_gen *g, int64_t index, uint8_t *px, lra_pathfinder_image_info *info) {
    if (g->o.rng == LRA_PF_RNG_COMPAT) {
        if (index != g->next_index)
            return lra_error(LRA_ERR_STATE, "pathfinder: compat mode generates images in order; asked for %lld, next is %lld",
                             (long long)index, (long long)g->next_index);
        g->next_index++;
    }
    pf_rng r = pf_rng_for(g, index);
    pf_make_image(g, g->work, &r, px, info);
    return LRA_OK;
}

lra_status lra_pathfinder_generate_mem(const lra_pathfinder_gen_options *o, uint8_t *px, lra_pathfinder_image_info *info) {
    lra_pathfinder_gen *g;
    LRA_TRY(lra_pathfinder_gen_new(o, &g));
    size_t cells = (size_t)g->cells;
    if (o->rng == LRA_PF_RNG_COMPAT) {
        for (int i = 0; i < o->n_images; i++) {
            pf_rng r = pf_rng_for(g, i);
            pf_make_image(g, g->work, &r, px + (size_t)i * cells, info ? info + i : NULL);
        }
    } else {
        int nt = o->threads > 0 ? o->threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
        {
            pf_work *w = pf_work_new(g);
#pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < o->n_images; i++) {
                pf_rng r = pf_rng_for(g, i);
                pf_make_image(g, w, &r, px + (size_t)i * cells, info ? info + i : NULL);
            }
            pf_work_free(w);
        }
    }
    lra_pathfinder_gen_free(g);
    return LRA_OK;
}

// mkdir -p
static lra_status pf_mkdirs(const char *path) {
    char *buf = lra_xstrdup(path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            lra_status st = lra_error(LRA_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            free(buf);
            return st;
        }
        *s = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
        lra_status st = lra_error(LRA_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        free(buf);
        return st;
    }
    free(buf);
    return LRA_OK;
}

lra_status lra_pathfinder_generate(const lra_pathfinder_gen_options *o, const char *out_dir) {
    LRA_TRY(pf_check_options(o));
    const lra_pathfinder_params *p = &o->params;
    const char *diff = lra_pathfinder_difficulty_name(p->contour_length);
    char dname[64];
    if (!diff) {
        snprintf(dname, sizeof dname, "curv_contour_length_%d", p->contour_length);
        diff = dname;
    }
    size_t cap = strlen(out_dir) + strlen(diff) + 96;
    char *imgdir = lra_xmalloc(cap), *metadir = lra_xmalloc(cap), *metapath = lra_xmalloc(cap);
    snprintf(imgdir, cap, "%s/%s/imgs/%d", out_dir, diff, o->batch);
    snprintf(metadir, cap, "%s/%s/metadata", out_dir, diff);
    snprintf(metapath, cap, "%s/%d.npy", metadir, o->batch);
    lra_status st = LRA_OK;
    struct stat sb;
    if (stat(metapath, &sb) == 0) {
        st = lra_error(LRA_ERR_STATE, "%s: metadata file already exists (the batch was generated; remove it to regenerate)", metapath);
        goto done;
    }
    if ((st = pf_mkdirs(imgdir)) != LRA_OK || (st = pf_mkdirs(metadir)) != LRA_OK) goto done;
    lra_pathfinder_gen *g;
    if ((st = lra_pathfinder_gen_new(o, &g)) != LRA_OK) goto done;
    int n = o->n_images;
    int *labels = lra_xcalloc((size_t)(n > 0 ? n : 1), sizeof(int)), *margins = lra_xcalloc((size_t)(n > 0 ? n : 1), sizeof(int));
    int nt = o->rng == LRA_PF_RNG_COMPAT ? 1 : (o->threads > 0 ? o->threads : omp_get_max_threads());
    lra_status first = LRA_OK;
    char *first_msg = NULL;
#pragma omp parallel num_threads(nt)
    {
        pf_work *w = pf_work_new(g);
        uint8_t *px = lra_xmalloc((size_t)g->cells);
        char *path = lra_xmalloc(cap + 32);
        // COMPAT runs on one thread, so the iterations (and the shared numpy stream) go in order
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < n; i++) {
            lra_pathfinder_image_info info;
            pf_rng r = pf_rng_for(g, i);
            pf_make_image(g, w, &r, px, &info);
            labels[i] = info.label, margins[i] = info.margin;
            snprintf(path, cap + 32, "%s/sample_%d.png", imgdir, i);
            lra_status s = lra_png_write_gray8(path, px, g->W, g->H);
            if (s != LRA_OK) {
#pragma omp critical(lra_pf_err)
                if (first == LRA_OK) first = s, first_msg = lra_xstrdup(lra_error_message());
            }
        }
        free(path);
        free(px);
        pf_work_free(w);
    }
    lra_pathfinder_gen_free(g);
    if (first != LRA_OK) {
        st = lra_error(first, "%s", first_msg);
        free(first_msg);
    } else {
        // metadata (text form), written to a temporary file and renamed
        char *tmp = lra_xmalloc(cap + 8);
        snprintf(tmp, cap + 8, "%s.tmp", metapath);
        FILE *f = fopen(tmp, "wb");
        if (!f) {
            st = lra_error(LRA_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        } else {
            char line[256];
            int bad = 0;
            for (int i = 0; i < n; i++) {
                int len = lra_pathfinder_metadata_line(p, o->batch, i, labels[i], margins[i], line, (int)sizeof line);
                if (fwrite(line, 1, (size_t)len, f) != (size_t)len) bad = 1;
            }
            if (fclose(f) != 0) bad = 1;
            if (bad) st = lra_error(LRA_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
            else if (rename(tmp, metapath) != 0)
                st = lra_error(LRA_ERR_IO, "%s: cannot rename to %s: %s", tmp, metapath, strerror(errno));
            if (st != LRA_OK) remove(tmp);
        }
        free(tmp);
    }
    free(labels);
    free(margins);
done:
    free(imgdir);
    free(metadir);
    free(metapath);
    return st;
}
