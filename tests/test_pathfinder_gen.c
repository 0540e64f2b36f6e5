// Tests of the Pathfinder generator (data/pathfinder_gen), its numpy RandomState emulation
// (data/nprandom) and the PNG writer (data/png_write).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "data/nprandom.h"
#include "data/pathfinder_gen.h"
#include "data/png.h"
#include "data/png_write.h"
#include "tests/harness.h"

static const int CLS[3] = {6, 9, 14};

// ---- numpy emulation: values computed once with numpy 1.24 (RandomState) ----

static void test_nprandom_reference(void) {
    lra_nprandom r;
    lra_nprandom_seed(&r, 6);
    static const int64_t a[5] = {0, 1, 1, 0, 0}, b[5] = {155, 156, 138, 101, -179}, c[5] = {33, 4, 33, 8, 2};
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 2), a[i]);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(lra_nprandom_randint(&r, -180, 180), b[i]);
    CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 1), 0);   // no draw for a single value
    CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 1), 0);
    CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 1000), 75);
    CHECK(lra_nprandom_rand(&r) == 0.6084736169785814);
    CHECK(lra_nprandom_rand(&r) == 0.5303964639857995);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 37), c[i]);

    lra_nprandom_seed(&r, 4294967295u);
    CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 2147483647), 419326371);
    CHECK(lra_nprandom_rand(&r) == 0.11160667175339789);

    lra_nprandom_seed(&r, 0);   // randint(0, 2**32) returns the raw MT19937 outputs
    static const int64_t raw[3] = {2357136044, 2546248239, 3071714933};
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 4294967296LL), raw[i]);

    lra_nprandom_seed(&r, 12345);
    static const int64_t d[4] = {0, 1, 1, 1}, e[4] = {177, -146, -151, 77}, f[3] = {683126, 52593, 433467};
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 2), d[i]);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(lra_nprandom_randint(&r, -180, 180), e[i]);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 1000003), f[i]);
    CHECK_EQ_INT(lra_nprandom_randint(&r, 0, 1099511627776LL), 613101885545LL);   // 64-bit draws
    CHECK(lra_nprandom_rand(&r) == 0.37392117570020156);
    int32_t x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const int32_t shuffled[10] = {5, 8, 4, 9, 7, 3, 1, 2, 0, 6};
    lra_nprandom_shuffle_i32(&r, x, 10);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(x[i], shuffled[i]);
}

// ---- temp directories ----

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

// ---- PNG writer ----

static void test_png_write_roundtrip(void) {
    char dir[256];
    lra_test_mkdtemp(dir, sizeof dir, "pfgen_png");
    int sizes[3][2] = {{32, 32}, {7, 3}, {128, 5}};
    for (int s = 0; s < 3; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        uint8_t *px = malloc((size_t)w * (size_t)h);
        for (int i = 0; i < w * h; i++) px[i] = (uint8_t)(i * 37 + s * 11 + (i / w) * 5);
        char path[300];
        snprintf(path, sizeof path, "%s/img%d.png", dir, s);
        CHECK_OK(lra_png_write_gray8(path, px, w, h));
        uint8_t *back = NULL;
        int bw = 0, bh = 0;
        CHECK_OK(lra_png_read_gray8(path, &back, &bw, &bh));
        CHECK_EQ_INT(bw, w);
        CHECK_EQ_INT(bh, h);
        if (back && bw == w && bh == h) CHECK(memcmp(back, px, (size_t)w * (size_t)h) == 0);
        free(back);
        char tmp[320];
        snprintf(tmp, sizeof tmp, "%s.tmpXXX", path);
        CHECK(access(tmp, F_OK) != 0);   // the temporary file was renamed away
        free(px);
    }
    uint8_t one = 0;
    CHECK(lra_png_write_gray8("/nonexistent_dir_lra/x.png", &one, 1, 1) == LRA_ERR_IO);
    CHECK(strstr(lra_error_message(), "/nonexistent_dir_lra/x.png") != NULL);
    CHECK(lra_png_write_gray8("/tmp/x.png", &one, 0, 1) == LRA_ERR_ARG);
    lra_test_rmtree(dir);
}

// ---- parameters and seed-orientation table (data.md 12.1, 12.11) ----

static void test_presets_and_border_effect(void) {
    lra_pathfinder_params p;
    CHECK_OK(lra_pathfinder_params_preset(&p, 32, 14));
    CHECK_EQ_INT(p.distractor_length, 4);
    CHECK_EQ_INT(p.n_distractors, 5);
    CHECK_OK(lra_pathfinder_params_preset(&p, 32, 6));
    CHECK_EQ_INT(p.n_distractors, 10);
    CHECK_OK(lra_pathfinder_params_preset(&p, 128, 9));
    CHECK_EQ_INT(p.n_distractors, 11);
    CHECK_EQ_INT(p.n_margins, 2);
    CHECK(lra_pathfinder_params_preset(&p, 48, 14) == LRA_ERR_ARG);
    CHECK(lra_pathfinder_params_preset(&p, 32, 7) == LRA_ERR_ARG);
    char line[128];
    CHECK_OK(lra_pathfinder_params_preset(&p, 32, 6));
    lra_pathfinder_metadata_line(&p, 0, 172, 1, 1, line, sizeof line);
    CHECK(strcmp(line, "imgs/0 sample_172.png 172 1 1.0 6 2 2 0.5 1 1\n") == 0);
    CHECK_OK(lra_pathfinder_params_preset(&p, 128, 14));
    lra_pathfinder_metadata_line(&p, 3, 5, 0, 3, line, sizeof line);
    CHECK(strcmp(line, "imgs/3 sample_5.png 5 0 1.8 14 4 5 1.5 3 1\n") == 0);

    // usable seed orientations with the OpenCV border, per data.md 12.11 (checked there against OpenCV)
    static const int sizes[3] = {32, 64, 128};
    static const int want[3][2] = {{30, 0}, {95, 0}, {354, 360}};
    for (int s = 0; s < 3; s++) {
        lra_pathfinder_gen_options o;
        memset(&o, 0, sizeof o);
        CHECK_OK(lra_pathfinder_params_preset(&o.params, sizes[s], 14));
        lra_pathfinder_gen *g = NULL;
        CHECK_OK(lra_pathfinder_gen_new(&o, &g));
        REQUIRE(g != NULL);
        for (int m = 0; m < o.params.n_margins; m++) CHECK_EQ_INT(lra_pathfinder_gen_usable_orientations(g, m), want[s][m]);
        lra_pathfinder_gen_free(g);
    }
    // zero padding: every orientation can seed
    lra_pathfinder_gen_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_pathfinder_params_preset(&o.params, 32, 6));
    o.params.opencv_border = 0;
    lra_pathfinder_gen *g = NULL;
    CHECK_OK(lra_pathfinder_gen_new(&o, &g));
    if (g) CHECK_EQ_INT(lra_pathfinder_gen_usable_orientations(g, 0), 360);
    lra_pathfinder_gen_free(g);
    o.rng = LRA_PF_RNG_COMPAT;
    o.seed = 1ull << 33;
    CHECK(lra_pathfinder_gen_new(&o, &g) == LRA_ERR_ARG);
}

// ---- COMPAT mode reproduces the original program's output (shared/data/pathfinder32) ----

static void test_compat_reproduces_samples(void) {
    const char *shared = lra_test_shared_data();
    if (!shared) SKIP("shared data absent");
    char root[512];
    snprintf(root, sizeof root, "%s/pathfinder32", shared);
    if (access(root, F_OK) != 0) SKIP("%s absent", root);
    char dir[256];
    lra_test_mkdtemp(dir, sizeof dir, "pfgen");
    for (int d = 0; d < 3; d++) {
        lra_pathfinder_gen_options o;
        memset(&o, 0, sizeof o);
        CHECK_OK(lra_pathfinder_params_preset(&o.params, 32, CLS[d]));
        o.rng = LRA_PF_RNG_COMPAT;
        o.seed = (uint64_t)CLS[d];
        o.batch = 0;
        o.n_images = 300;
        CHECK_OK(lra_pathfinder_generate(&o, dir));
        const char *dn = lra_pathfinder_difficulty_name(CLS[d]);
        char a[700], b[700];
        // metadata: byte for byte
        snprintf(a, sizeof a, "%s/%s/metadata/0.npy", dir, dn);
        snprintf(b, sizeof b, "%s/%s/metadata/0.npy", root, dn);
        size_t la = 0, lb = 0;
        char *ma = read_all(a, &la), *mb = read_all(b, &lb);
        CHECK(ma != NULL && mb != NULL);
        if (ma && mb) CHECK_MSG(la == lb && memcmp(ma, mb, la) == 0, "%s: metadata differs from %s", a, b);
        free(ma);
        free(mb);
        // images: pixel for pixel
        int bad = 0, first_bad = -1;
        for (int i = 0; i < 300; i++) {
            snprintf(a, sizeof a, "%s/%s/imgs/0/sample_%d.png", dir, dn, i);
            snprintf(b, sizeof b, "%s/%s/imgs/0/sample_%d.png", root, dn, i);
            uint8_t *pa = NULL, *pb = NULL;
            int wa = 0, ha = 0, wb = 0, hb = 0;
            lra_status sa = lra_png_read_gray8(a, &pa, &wa, &ha), sb = lra_png_read_gray8(b, &pb, &wb, &hb);
            if (sa != LRA_OK || sb != LRA_OK || wa != 32 || ha != 32 || wb != 32 || hb != 32 || memcmp(pa, pb, 1024) != 0) {
                bad++;
                if (first_bad < 0) first_bad = i;
            }
            free(pa);
            free(pb);
        }
        CHECK_MSG(bad == 0, "%s: %d of 300 images differ, first sample_%d", dn, bad, first_bad);
        // the original refuses to overwrite a batch
        CHECK(lra_pathfinder_generate(&o, dir) == LRA_ERR_STATE);
        CHECK(strstr(lra_error_message(), "already exists") != NULL);
    }
    lra_test_rmtree(dir);
}

// The in-memory COMPAT path and the image-by-image API agree with each other.
static void test_compat_stream_api(void) {
    lra_pathfinder_gen_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_pathfinder_params_preset(&o.params, 32, 9));
    o.rng = LRA_PF_RNG_COMPAT;
    o.seed = 9;
    o.n_images = 20;
    uint8_t *all = malloc(20 * 1024), one[1024];
    lra_pathfinder_image_info info[20], inf1;
    CHECK_OK(lra_pathfinder_generate_mem(&o, all, info));
    lra_pathfinder_gen *g = NULL;
    CHECK_OK(lra_pathfinder_gen_new(&o, &g));
    REQUIRE(g != NULL);
    for (int i = 0; i < 20; i++) {
        CHECK_OK(lra_pathfinder_gen_image(g, i, one, &inf1));
        CHECK(memcmp(one, all + i * 1024, 1024) == 0);
        CHECK_EQ_INT(inf1.label, info[i].label);
        CHECK_EQ_INT(inf1.attempts, info[i].attempts);
    }
    CHECK(lra_pathfinder_gen_image(g, 5, one, &inf1) == LRA_ERR_STATE);   // out of order
    lra_pathfinder_gen_free(g);
    free(all);
}

// ---- default (Philox) mode: statistics against the samples and data.md 12.12 ----

typedef struct {
    double label1, zero, mean, distractors, attempts;
} pf_stats;

static void stats_of(const uint8_t *px, const lra_pathfinder_image_info *info, int n, int cells, pf_stats *s) {
    long zeros = 0, ones = 0;
    double sum = 0, dis = 0, att = 0;
    for (long i = 0; i < (long)n * cells; i++) zeros += px[i] == 0, sum += px[i];
    for (int i = 0; i < n; i++) {
        if (info) ones += info[i].label, dis += info[i].distractors, att += info[i].attempts;
    }
    s->label1 = (double)ones / n;
    s->zero = (double)zeros / ((double)n * cells);
    s->mean = sum / ((double)n * cells);
    s->distractors = dis / n;
    s->attempts = att / n;
}

static void test_philox_statistics(void) {
    // data.md 12.12 (2,000 images per difficulty of the original generator)
    static const double doc_zero[3] = {0.771, 0.734, 0.659}, doc_mean[3] = {13.0, 15.4, 20.2};
    static const double doc_dis[3] = {3.39, 1.77, 1.21};
    const char *shared = lra_test_shared_data();
    const int n = 800;
    uint8_t *px = malloc((size_t)n * 1024);
    lra_pathfinder_image_info *info = malloc(sizeof *info * (size_t)n);
    for (int d = 0; d < 3; d++) {
        lra_pathfinder_gen_options o;
        memset(&o, 0, sizeof o);
        CHECK_OK(lra_pathfinder_params_preset(&o.params, 32, CLS[d]));
        o.rng = LRA_PF_RNG_PHILOX;
        o.seed = 1234 + (uint64_t)d;
        o.n_images = n;
        CHECK_OK(lra_pathfinder_generate_mem(&o, px, info));
        pf_stats s;
        stats_of(px, info, n, 1024, &s);
        printf("  CL %2d philox: label1 %.3f zero %.3f mean %.2f distractors %.2f attempts %.1f\n", CLS[d], s.label1,
               s.zero, s.mean, s.distractors, s.attempts);
        CHECK_NEAR(s.label1, 0.5, 0.06);   // > 3 sigma at n = 800
        CHECK_NEAR(s.zero, doc_zero[d], 0.03);
        CHECK_NEAR(s.mean / doc_mean[d], 1.0, 0.05);
        CHECK_NEAR(s.distractors, doc_dis[d], 0.3);
        int max_ok = 1;
        for (int i = 0; i < n; i++) {
            uint8_t mx = 0;
            for (int j = 0; j < 1024; j++) mx = px[(size_t)i * 1024 + (size_t)j] > mx ? px[(size_t)i * 1024 + (size_t)j] : mx;
            max_ok &= mx == 255 && info[i].margin == 1;
        }
        CHECK(max_ok);
        if (!shared) continue;
        // against the 300 samples of the original
        char path[600];
        uint8_t *ref = malloc(300 * 1024);
        int got = 0;
        for (int i = 0; i < 300; i++) {
            snprintf(path, sizeof path, "%s/pathfinder32/%s/imgs/0/sample_%d.png", shared, lra_pathfinder_difficulty_name(CLS[d]), i);
            uint8_t *p = NULL;
            int w = 0, h = 0;
            if (lra_png_read_gray8(path, &p, &w, &h) == LRA_OK && w == 32 && h == 32) memcpy(ref + (size_t)got++ * 1024, p, 1024);
            free(p);
        }
        if (got == 300) {
            pf_stats r;
            stats_of(ref, NULL, 300, 1024, &r);
            printf("  CL %2d samples: zero %.3f mean %.2f\n", CLS[d], r.zero, r.mean);
            CHECK_NEAR(s.zero, r.zero, 0.03);
            CHECK_NEAR(s.mean / r.mean, 1.0, 0.05);
        }
        free(ref);
    }
    free(px);
    free(info);
}

// ---- default mode: independent of the thread count, keyed by (seed, index) ----

static void test_philox_thread_independence(void) {
    const int n = 48;
    lra_pathfinder_gen_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_pathfinder_params_preset(&o.params, 32, 14));
    o.seed = 77;
    o.n_images = n;
    uint8_t *a = malloc((size_t)n * 1024), *b = malloc((size_t)n * 1024), one[1024];
    lra_pathfinder_image_info ia[48], ib[48], i1;
    o.threads = 1;
    CHECK_OK(lra_pathfinder_generate_mem(&o, a, ia));
    o.threads = 2;
    CHECK_OK(lra_pathfinder_generate_mem(&o, b, ib));
    CHECK(memcmp(a, b, (size_t)n * 1024) == 0);
    for (int i = 0; i < n; i++) CHECK(ia[i].label == ib[i].label && ia[i].attempts == ib[i].attempts);
    // any image can be made alone, in any order
    lra_pathfinder_gen *g = NULL;
    CHECK_OK(lra_pathfinder_gen_new(&o, &g));
    REQUIRE(g != NULL);
    for (int i = n - 1; i >= 0; i -= 7) {
        CHECK_OK(lra_pathfinder_gen_image(g, i, one, &i1));
        CHECK(memcmp(one, a + (size_t)i * 1024, 1024) == 0);
    }
    lra_pathfinder_gen_free(g);
    // a different seed gives different images
    o.seed = 78;
    CHECK_OK(lra_pathfinder_generate_mem(&o, b, ib));
    int same = 0;
    for (int i = 0; i < n; i++) same += memcmp(a + (size_t)i * 1024, b + (size_t)i * 1024, 1024) == 0;
    CHECK(same == 0);
    free(a);
    free(b);
}

// ---- Path-X (128x128) and the zero-padded variant ----

static void test_pathx_and_zero_padding(void) {
    const int n = 6;
    lra_pathfinder_gen_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_pathfinder_params_preset(&o.params, 128, 14));
    o.seed = 5;
    o.n_images = n;
    uint8_t *px = malloc((size_t)n * 128 * 128);
    lra_pathfinder_image_info info[6];
    CHECK_OK(lra_pathfinder_generate_mem(&o, px, info));
    pf_stats s;
    stats_of(px, info, n, 128 * 128, &s);
    printf("  pathx philox: zero %.3f mean %.2f distractors %.2f attempts %.1f\n", s.zero, s.mean, s.distractors, s.attempts);
    CHECK(s.zero > 0.5 && s.zero < 0.98);
    for (int i = 0; i < n; i++) {
        CHECK(info[i].margin == 2 || info[i].margin == 3);
        uint8_t mx = 0;
        for (int j = 0; j < 128 * 128; j++) mx = px[(size_t)i * 16384 + (size_t)j] > mx ? px[(size_t)i * 16384 + (size_t)j] : mx;
        CHECK_EQ_INT(mx, 255);
    }
    // compat mode runs at 128 too (not checkable against the original here: Pillow's wide lines)
    o.rng = LRA_PF_RNG_COMPAT;
    o.n_images = 2;
    CHECK_OK(lra_pathfinder_generate_mem(&o, px, info));

    // zero padding (OpenCV switch off) gives busier pf32 images (data.md 12.12: 10 distractors at CL 6)
    const int m = 200;
    uint8_t *q = malloc((size_t)m * 1024);
    lra_pathfinder_image_info *qi = malloc(sizeof *qi * (size_t)m);
    memset(&o, 0, sizeof o);
    CHECK_OK(lra_pathfinder_params_preset(&o.params, 32, 6));
    o.params.opencv_border = 0;
    o.seed = 3;
    o.n_images = m;
    CHECK_OK(lra_pathfinder_generate_mem(&o, q, qi));
    stats_of(q, qi, m, 1024, &s);
    printf("  CL  6 zero-padded: zero %.3f distractors %.2f attempts %.1f\n", s.zero, s.distractors, s.attempts);
    CHECK_NEAR(s.zero, 0.65, 0.04);
    CHECK(s.distractors > 9.0);
    CHECK(s.attempts < 10);
    free(q);
    free(qi);
    free(px);
}

static const lra_test_case TESTS[] = {
    {"nprandom_reference", test_nprandom_reference},
    {"png_write_roundtrip", test_png_write_roundtrip},
    {"presets_and_border_effect", test_presets_and_border_effect},
    {"compat_reproduces_samples", test_compat_reproduces_samples},
    {"compat_stream_api", test_compat_stream_api},
    {"philox_statistics", test_philox_statistics},
    {"philox_thread_independence", test_philox_thread_independence},
    {"pathx_and_zero_padding", test_pathx_and_zero_padding},
};
LRA_TEST_MAIN(TESTS)
