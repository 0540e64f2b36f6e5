// Tests of the Philox generator: known-answer vectors, stream positioning, thread-count independence
// of the stateless fills, and the distributions of the draws (statistical checks are deterministic
// given the seeds used here).
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "tests/harness.h"

// A loose upper bound for a chi-square statistic with df degrees of freedom (far in the tail:
// a correct generator exceeds it with probability well under 1e-4, a biased one by orders of magnitude).
static double chi2_bound(int df) { return df + 6.0 * sqrt(2.0 * df) + 8.0; }

static double chi2(const int64_t *counts, const double *expected, int k) {
    double s = 0.0;
    for (int i = 0; i < k; i++) {
        double d = (double)counts[i] - expected[i];
        s += d * d / expected[i];
    }
    return s;
}

static void test_philox_known_answers(void) {
    // Known-answer vectors of Philox4x32-10 from Random123 (kat_vectors).
    static const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                       {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                       {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
    static const uint32_t key[3][2] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
    static const uint32_t want[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                        {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                        {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        lra_philox4x32_10(ctr[t], key[t], out);
        for (int j = 0; j < 4; j++)
            CHECK_MSG(out[j] == want[t][j], "vector %d word %d: %08x != %08x", t, j, out[j], want[t][j]);
    }
    // The generator's first block is philox(ctr = {0, 0, stream lo, stream hi}, key = seed).
    lra_rng r = lra_rng_make(0xa4093822ull | (0x299f31d0ull << 32), 0x13198a2eull | (0x03707344ull << 32));
    uint32_t c[4] = {0, 0, 0x13198a2eu, 0x03707344u}, k[2] = {0xa4093822u, 0x299f31d0u}, out[4];
    lra_philox4x32_10(c, k, out);
    for (int j = 0; j < 4; j++) CHECK_EQ_INT(lra_rng_u32(&r), out[j]);
}

static void test_seek_positions_exactly(void) {
    enum { N = 103 };
    uint32_t seq[N];
    lra_rng r = lra_rng_make(42, lra_rng_stream(1, 2, 3, 4));
    for (int i = 0; i < N; i++) seq[i] = lra_rng_u32(&r);
    for (int k = 0; k < N; k++) {
        lra_rng s = lra_rng_make(42, lra_rng_stream(1, 2, 3, 4));
        lra_rng_u32(&s);  // some prior state that seek must discard
        lra_rng_seek(&s, (uint64_t)k);
        CHECK_MSG(lra_rng_u32(&s) == seq[k], "seek(%d)", k);
        if (k + 1 < N) CHECK_MSG(lra_rng_u32(&s) == seq[k + 1], "seek(%d) then next", k);
    }
    // Far positions, including past the 32-bit low block counter: carry into ctr[1].
    uint64_t far = (1ull << 34) + 6;  // block 2^32 + 1, word 2
    lra_rng a = lra_rng_make(7, 9);
    lra_rng_seek(&a, far);
    uint32_t c[4] = {1, 1, 9, 0}, k[2] = {7, 0}, out[4];
    lra_philox4x32_10(c, k, out);
    CHECK_EQ_INT(lra_rng_u32(&a), out[2]);
    CHECK_EQ_INT(lra_rng_u32(&a), out[3]);
    // Block counter carry: seek to the last word of block 2^32-1, the next word is block 2^32.
    lra_rng b = lra_rng_make(7, 9);
    lra_rng_seek(&b, (1ull << 34) - 1);
    lra_rng_u32(&b);
    uint32_t c2[4] = {0, 1, 9, 0};
    lra_philox4x32_10(c2, k, out);
    CHECK_EQ_INT(lra_rng_u32(&b), out[0]);
}

static void test_streams_and_seeds_differ(void) {
    uint64_t s1 = lra_rng_stream(1, 2, 0, 0), s2 = lra_rng_stream(2, 1, 0, 0), s3 = lra_rng_stream(1, 2, 0, 1);
    CHECK(s1 != s2 && s1 != s3 && s2 != s3);
    CHECK_EQ_INT(lra_rng_stream(5, 6, 7, 8), lra_rng_stream(5, 6, 7, 8));
    lra_rng a = lra_rng_make(1, s1), b = lra_rng_make(1, s2), c = lra_rng_make(2, s1), d = lra_rng_make(1, s1);
    int same_ab = 0, same_ac = 0, same_ad = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t x = lra_rng_u32(&a), y = lra_rng_u32(&b), z = lra_rng_u32(&c), w = lra_rng_u32(&d);
        same_ab += x == y;
        same_ac += x == z;
        same_ad += x == w;
    }
    CHECK(same_ab == 0 && same_ac == 0);
    CHECK_EQ_INT(same_ad, 64);
    // The generator is a value type: a copy continues identically.
    lra_rng e = a, f = a;
    for (int i = 0; i < 9; i++) CHECK_EQ_INT(lra_rng_u32(&e), lra_rng_u32(&f));
}

static void test_fills_match_sequential_draws(void) {
    enum { N = 37 };
    const uint64_t seed = 123, stream = lra_rng_stream(9, 8, 7, 6);
    for (uint64_t off = 0; off < 6; off++) {
        float u[N], z[N];
        lra_rng_fill_uniform(seed, stream, off, u, N);
        lra_rng_fill_normal(seed, stream, off, z, N, 0.0f, 1.0f);
        lra_rng r = lra_rng_make(seed, stream);
        lra_rng_seek(&r, off);
        for (int i = 0; i < N; i++) CHECK_MSG(u[i] == lra_rng_uniform(&r), "uniform off=%d i=%d", (int)off, i);
        lra_rng q = lra_rng_make(seed, stream);
        lra_rng_seek(&q, 2 * off);  // a normal consumes two words
        for (int i = 0; i < N; i++) CHECK_MSG(z[i] == lra_rng_normal(&q), "normal off=%d i=%d", (int)off, i);
    }
    // mean/std are applied as mean + std * z.
    float a[5], b[5];
    lra_rng_fill_normal(seed, stream, 3, a, 5, 0.0f, 1.0f);
    lra_rng_fill_normal(seed, stream, 3, b, 5, 2.0f, 0.5f);
    for (int i = 0; i < 5; i++) CHECK_NEAR(b[i], 2.0 + 0.5 * a[i], 1e-6);
    // A fill split in two pieces equals the fill in one piece.
    float whole[100], part[100];
    lra_rng_fill_dropout(seed, stream, 5, whole, 100, 0.3f);
    lra_rng_fill_dropout(seed, stream, 5, part, 41, 0.3f);
    lra_rng_fill_dropout(seed, stream, 46, part + 41, 59, 0.3f);
    CHECK(memcmp(whole, part, sizeof whole) == 0);
}

// The dropout mask is the documented function of the Philox blocks: element e is 16-bit lane e % 8 of block
// e / 8 (the vectorised 16-block generator must agree with the scalar bijection), dropped iff the lane is
// below round(65536 p); any offset and length, split or whole.
static void test_keep_mask_layout(void) {
    const uint64_t seed = 0x1234567890ull, stream = 0xFEDCBA9876543210ull;
    const float p = 0.3f;
    const uint32_t thr = 19661;  // round(0.3 * 65536)
    enum { N = 1000 };
    for (uint64_t off = 0; off < 300; off += 37) {
        uint8_t keep[N];
        lra_rng_fill_keep(seed, stream, off, keep, N, p);
        for (int i = 0; i < N; i++) {
            const uint64_t e = off + (uint64_t)i, blk = e / 8;
            const uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
            const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
            uint32_t w[4];
            lra_philox4x32_10(ctr, key, w);
            const uint32_t lane = (w[(e % 8) / 2] >> (16 * (e % 2))) & 0xFFFFu;
            CHECK_MSG(keep[i] == (lane >= thr), "off %d element %d", (int)off, i);
        }
        uint8_t part[N];
        lra_rng_fill_keep(seed, stream, off, part, 333, p);
        lra_rng_fill_keep(seed, stream, off + 333, part + 333, N - 333, p);
        CHECK(memcmp(keep, part, N) == 0);
    }
    float d[64];
    uint8_t k[64];
    lra_rng_fill_dropout(seed, stream, 5, d, 64, p);
    lra_rng_fill_keep(seed, stream, 5, k, 64, p);
    for (int i = 0; i < 64; i++) CHECK(d[i] == (k[i] ? 1.0f / 0.7f : 0.0f));
}

static void test_fills_independent_of_thread_count(void) {
    const size_t n = 300001;  // above the parallel threshold, odd, with an unaligned offset
    float *u1 = malloc(n * sizeof(float)), *u2 = malloc(n * sizeof(float));
    float *z1 = malloc(n * sizeof(float)), *z2 = malloc(n * sizeof(float));
    float *d1 = malloc(n * sizeof(float)), *d2 = malloc(n * sizeof(float));
    uint8_t *b1 = malloc(n), *b2 = malloc(n);
    REQUIRE(u1 && u2 && z1 && z2 && d1 && d2 && b1 && b2);
    int saved = omp_get_max_threads();
    for (int pass = 0; pass < 2; pass++) {
        omp_set_num_threads(pass == 0 ? 1 : 2);
        lra_rng_fill_uniform(5, 77, 3, pass ? u2 : u1, n);
        lra_rng_fill_normal(5, 77, 3, pass ? z2 : z1, n, 0.5f, 2.0f);
        lra_rng_fill_dropout(5, 77, 3, pass ? d2 : d1, n, 0.25f);
        lra_rng_fill_bernoulli(5, 77, 3, pass ? b2 : b1, n, 0.75f);
    }
    omp_set_num_threads(saved);
    CHECK(memcmp(u1, u2, n * sizeof(float)) == 0);
    CHECK(memcmp(z1, z2, n * sizeof(float)) == 0);
    CHECK(memcmp(d1, d2, n * sizeof(float)) == 0);
    CHECK(memcmp(b1, b2, n) == 0);
    // Dropout draws 16-bit lanes, Bernoulli whole words: each has its own rate.
    int64_t zeros = 0, ones = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(d1[i] == 0.0f || d1[i] == 1.0f / 0.75f);
        zeros += d1[i] == 0.0f;
        ones += b1[i];
        CHECK(u1[i] >= 0.0f && u1[i] < 1.0f);
    }
    // Binomial: 5 standard deviations.
    CHECK_NEAR((double)zeros / n, 0.25, 5 * sqrt(0.25 * 0.75 / n));
    CHECK_NEAR((double)ones / n, 0.75, 5 * sqrt(0.25 * 0.75 / n));
    double mu = 0, var = 0;
    for (size_t i = 0; i < n; i++) mu += z1[i];
    mu /= n;
    for (size_t i = 0; i < n; i++) var += (z1[i] - mu) * (z1[i] - mu);
    var /= n - 1;
    CHECK_NEAR(mu, 0.5, 5 * 2.0 / sqrt((double)n));
    CHECK_NEAR(var, 4.0, 5 * 4.0 * sqrt(2.0 / n));
    free(u1), free(u2), free(z1), free(z2), free(d1), free(d2), free(b1), free(b2);
}

static void test_uniform_and_normal_moments(void) {
    const int n = 200000;
    lra_rng r = lra_rng_make(2024, 1);
    double su = 0, sd = 0, sz = 0, sz2 = 0, sz3 = 0, sz4 = 0;
    float umin = 1, umax = 0;
    double dmin = 1, dmax = 0;
    for (int i = 0; i < n; i++) {
        float u = lra_rng_uniform(&r);
        double d = lra_rng_uniform_double(&r);
        double z = lra_rng_normal(&r);
        su += u, sd += d;
        umin = fminf(umin, u), umax = fmaxf(umax, u);
        dmin = fmin(dmin, d), dmax = fmax(dmax, d);
        sz += z, sz2 += z * z, sz3 += z * z * z, sz4 += z * z * z * z;
    }
    CHECK(umin >= 0.0f && umax < 1.0f && dmin >= 0.0 && dmax < 1.0);
    CHECK(umin < 1e-3 && umax > 0.999 && dmin < 1e-3 && dmax > 0.999);
    double se_u = sqrt(1.0 / 12 / n);
    CHECK_NEAR(su / n, 0.5, 5 * se_u);
    CHECK_NEAR(sd / n, 0.5, 5 * se_u);
    CHECK_NEAR(sz / n, 0.0, 5 / sqrt((double)n));
    CHECK_NEAR(sz2 / n, 1.0, 5 * sqrt(2.0 / n));
    CHECK_NEAR(sz3 / n, 0.0, 5 * sqrt(15.0 / n));
    CHECK_NEAR(sz4 / n, 3.0, 5 * sqrt(96.0 / n));
}

static void test_int_ranges_unbiased(void) {
    lra_rng r = lra_rng_make(99, 3);
    // A range that does not divide 2^32, and a negative lower end.
    enum { K = 7, N = 140000 };
    int64_t counts[K] = {0};
    double expected[K];
    for (int i = 0; i < N; i++) {
        int64_t v = lra_rng_int(&r, -3, 4);
        REQUIRE(v >= -3 && v < 4);
        counts[v + 3]++;
    }
    for (int i = 0; i < K; i++) expected[i] = (double)N / K;
    CHECK(chi2(counts, expected, K) < chi2_bound(K - 1));
    // A range close to 2^32 where modulo bias would be large: 3*2^30 values. The lower third
    // (values < 2^30) would get twice the hits with a plain "x % range".
    int64_t low = 0;
    for (int i = 0; i < 60000; i++) {
        int64_t v = lra_rng_int(&r, 0, 3ll << 30);
        REQUIRE(v >= 0 && v < (3ll << 30));
        low += v < (1ll << 30);
    }
    CHECK_NEAR(low / 60000.0, 1.0 / 3, 5 * sqrt(2.0 / 9 / 60000));
    // Wide ranges (more than 32 bits) and the full int64 span.
    int64_t hi_half = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t v = lra_rng_int(&r, 1000, 1000 + (3ll << 40));
        REQUIRE(v >= 1000 && v < 1000 + (3ll << 40));
        hi_half += v >= 1000 + (3ll << 39);
    }
    CHECK_NEAR(hi_half / 20000.0, 0.5, 5 * sqrt(0.25 / 20000));
    int neg = 0;
    for (int i = 0; i < 1000; i++) neg += lra_rng_int(&r, INT64_MIN, INT64_MAX) < 0;
    CHECK(neg > 400 && neg < 600);
    CHECK_EQ_INT(lra_rng_int(&r, 5, 6), 5);
    // A range of exactly 2^32.
    int64_t top = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t v = lra_rng_int(&r, 0, 1ll << 32);
        REQUIRE(v >= 0 && v < (1ll << 32));
        top += v >= (1ll << 31);
    }
    CHECK(top > 400 && top < 600);
}

static void test_sample_with_replacement(void) {
    const float w[8] = {0.0f, 1.0f, 2.0f, 0.0f, 3.0f, 0.5f, 1.5f, 0.0f};
    enum { K = 200000 };
    int32_t *out = malloc(K * sizeof *out);
    REQUIRE(out);
    lra_rng r = lra_rng_make(11, 12);
    lra_rng_sample_with_replacement(&r, w, 8, K, out);
    int64_t counts[8] = {0};
    for (int i = 0; i < K; i++) {
        REQUIRE(out[i] >= 0 && out[i] < 8);
        counts[out[i]]++;
    }
    CHECK(counts[0] == 0 && counts[3] == 0 && counts[7] == 0);
    const int pos[5] = {1, 2, 4, 5, 6};
    int64_t c5[5];
    double e5[5];
    for (int i = 0; i < 5; i++) c5[i] = counts[pos[i]], e5[i] = K * w[pos[i]] / 8.0;
    CHECK(chi2(c5, e5, 5) < chi2_bound(4));
    // Same seed, same draws.
    int32_t again[16];
    lra_rng r2 = lra_rng_make(11, 12);
    lra_rng_sample_with_replacement(&r2, w, 8, 16, again);
    CHECK(memcmp(again, out, sizeof again) == 0);
    // A single positive weight is always drawn.
    const float one[4] = {0, 0, 5, 0};
    lra_rng_sample_with_replacement(&r, one, 4, 10, out);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(out[i], 2);
    free(out);
}

static void test_sample_without_replacement(void) {
    lra_rng r = lra_rng_make(31, 41);
    // Distinct, positive-weight indices; k = number of positive weights takes them all.
    const float w[7] = {0.5f, 0.0f, 2.0f, 1.0f, 0.0f, 4.0f, 0.25f};
    int32_t out[5];
    for (int t = 0; t < 200; t++) {
        lra_rng_sample_without_replacement(&r, w, 7, 5, out);
        int seen[7] = {0};
        for (int i = 0; i < 5; i++) {
            REQUIRE(out[i] >= 0 && out[i] < 7);
            CHECK(w[out[i]] > 0.0f);
            CHECK(!seen[out[i]]);
            seen[out[i]] = 1;
        }
    }
    // Order distribution for weights {1, 2, 3}: P(a, b, c) = w_a/6 * w_b/(6 - w_a).
    const float w3[3] = {1.0f, 2.0f, 3.0f};
    enum { T = 60000 };
    int64_t counts[6] = {0};
    double expected[6];
    const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int t = 0; t < T; t++) {
        int32_t o[3];
        lra_rng_sample_without_replacement(&r, w3, 3, 3, o);
        int found = 0;
        for (int p = 0; p < 6; p++)
            if (o[0] == perms[p][0] && o[1] == perms[p][1] && o[2] == perms[p][2]) counts[p]++, found = 1;
        REQUIRE(found);
    }
    for (int p = 0; p < 6; p++) {
        double a = w3[perms[p][0]], b = w3[perms[p][1]];
        expected[p] = T * (a / 6.0) * (b / (6.0 - a));
    }
    CHECK(chi2(counts, expected, 6) < chi2_bound(5));
    // First draw alone (k = 1) follows the weights.
    int64_t first[3] = {0};
    for (int t = 0; t < T; t++) {
        int32_t o;
        lra_rng_sample_without_replacement(&r, w3, 3, 1, &o);
        first[o]++;
    }
    double ef[3] = {T / 6.0, T * 2 / 6.0, T * 3 / 6.0};
    CHECK(chi2(first, ef, 3) < chi2_bound(2));
}

static void test_choose(void) {
    lra_rng r = lra_rng_make(5, 5);
    // Each element of a small set is included with probability k/n, and the first draw is uniform.
    enum { N = 10, K = 4, T = 50000 };
    int64_t incl[N] = {0}, first[N] = {0};
    for (int t = 0; t < T; t++) {
        int32_t o[K];
        lra_rng_choose(&r, N, K, o);
        int seen[N] = {0};
        for (int i = 0; i < K; i++) {
            REQUIRE(o[i] >= 0 && o[i] < N);
            CHECK(!seen[o[i]]);
            seen[o[i]] = 1;
            incl[o[i]]++;
        }
        first[o[0]]++;
    }
    double e_incl[N], e_first[N];
    for (int i = 0; i < N; i++) e_incl[i] = (double)T * K / N, e_first[i] = (double)T / N;
    CHECK(chi2(first, e_first, N) < chi2_bound(N - 1));
    // Inclusion counts are not independent cells, but this bound is still far in the tail.
    CHECK(chi2(incl, e_incl, N) < chi2_bound(N - 1));
    // Huge n with small k uses O(k) memory.
    int32_t big[64];
    lra_rng_choose(&r, 2000000000ll, 64, big);
    for (int i = 0; i < 64; i++) {
        CHECK(big[i] >= 0 && big[i] < 2000000000);
        for (int j = 0; j < i; j++) CHECK(big[i] != big[j]);
    }
    // k = n gives a permutation.
    int32_t all[100];
    lra_rng_choose(&r, 100, 100, all);
    int seen[100] = {0};
    for (int i = 0; i < 100; i++) {
        REQUIRE(all[i] >= 0 && all[i] < 100);
        seen[all[i]]++;
    }
    for (int i = 0; i < 100; i++) CHECK_EQ_INT(seen[i], 1);
}

static void test_permutation(void) {
    lra_rng r = lra_rng_make(77, 0);
    int32_t p[1000];
    lra_rng_permutation(&r, 1000, p);
    int seen[1000] = {0}, moved = 0;
    for (int i = 0; i < 1000; i++) {
        REQUIRE(p[i] >= 0 && p[i] < 1000);
        seen[p[i]]++;
        moved += p[i] != i;
    }
    for (int i = 0; i < 1000; i++) CHECK_EQ_INT(seen[i], 1);
    CHECK(moved > 900);
    // All 24 permutations of 4 elements are equally likely.
    enum { T = 48000 };
    int64_t counts[24] = {0};
    double expected[24];
    for (int t = 0; t < T; t++) {
        int32_t q[4];
        lra_rng_permutation(&r, 4, q);
        // Lehmer code -> index in 0..23.
        int code = 0;
        for (int i = 0; i < 4; i++) {
            int smaller = 0;
            for (int j = i + 1; j < 4; j++) smaller += q[j] < q[i];
            code = code * (4 - i) + smaller;
        }
        counts[code]++;
    }
    for (int i = 0; i < 24; i++) expected[i] = T / 24.0;
    CHECK(chi2(counts, expected, 24) < chi2_bound(23));
    int32_t empty[1];
    lra_rng_permutation(&r, 0, empty);
    lra_rng_permutation(&r, 1, empty);
    CHECK_EQ_INT(empty[0], 0);
}

static const lra_test_case TESTS[] = {
    {"philox_known_answers", test_philox_known_answers},
    {"seek_positions_exactly", test_seek_positions_exactly},
    {"streams_and_seeds_differ", test_streams_and_seeds_differ},
    {"fills_match_sequential_draws", test_fills_match_sequential_draws},
    {"keep_mask_layout", test_keep_mask_layout},
    {"fills_independent_of_thread_count", test_fills_independent_of_thread_count},
    {"uniform_and_normal_moments", test_uniform_and_normal_moments},
    {"int_ranges_unbiased", test_int_ranges_unbiased},
    {"sample_with_replacement", test_sample_with_replacement},
    {"sample_without_replacement", test_sample_without_replacement},
    {"choose", test_choose},
    {"permutation", test_permutation},
};
LRA_TEST_MAIN(TESTS)
