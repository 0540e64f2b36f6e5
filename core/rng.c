// Philox4x32-10 counter-based generator (Salmon, Moraes, Dror, Shaw, SC'11) and the draws built on it.
// Word w of stream (seed, stream) is word w%4 of philox(ctr = {block lo, block hi, stream lo, stream hi},
// key = {seed lo, seed hi}) with block = w/4.
#include "core/rng.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// Fills below this many elements run on one thread (thread start-up costs more than the work).
#define RNG_PARALLEL_MIN 32768

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0];
    uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void lra_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k[0] += PHILOX_W0;
            k[1] += PHILOX_W1;
        }
        philox_round(c, k);
    }
    memcpy(out, c, sizeof c);
}

// Block `block` of the stream, computed directly (used by the stateless fills).
static inline void philox_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                             (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    lra_philox4x32_10(ctr, key, out);
}

// splitmix64's finaliser: a bijection of 64-bit words with good avalanche.
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t lra_rng_stream(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    // Chained so that the order of the ids matters: stream(1,2,0,0) != stream(2,1,0,0).
    uint64_t h = mix64(a + 0x9E3779B97F4A7C15ull);
    h = mix64(h ^ (b + 0xD1B54A32D192ED03ull));
    h = mix64(h ^ (c + 0x8CB92BA72F3D8DD7ull));
    h = mix64(h ^ (d + 0xCA5A826395121157ull));
    return h;
}

lra_rng lra_rng_make(uint64_t seed, uint64_t stream) {
    lra_rng r;
    memset(&r, 0, sizeof r);
    r.key[0] = (uint32_t)seed;
    r.key[1] = (uint32_t)(seed >> 32);
    r.ctr[2] = (uint32_t)stream;
    r.ctr[3] = (uint32_t)(stream >> 32);
    r.used = 4;
    return r;
}

// ctr[0..1] always holds the index of the next block to generate.
static inline void rng_refill(lra_rng *r) {
    lra_philox4x32_10(r->ctr, r->key, r->buf);
    if (++r->ctr[0] == 0) ++r->ctr[1];
    r->used = 0;
}

void lra_rng_seek(lra_rng *r, uint64_t offset) {
    uint64_t block = offset / 4;
    r->ctr[0] = (uint32_t)block;
    r->ctr[1] = (uint32_t)(block >> 32);
    r->used = 4;
    if (offset % 4) {
        rng_refill(r);
        r->used = (int)(offset % 4);
    }
}

uint32_t lra_rng_u32(lra_rng *r) {
    if (r->used >= 4) rng_refill(r);
    return r->buf[r->used++];
}

uint64_t lra_rng_u64(lra_rng *r) {
    uint64_t hi = lra_rng_u32(r);
    uint64_t lo = lra_rng_u32(r);
    return (hi << 32) | lo;
}

// [0, 1) from the top 24 bits: every value is exactly representable in float.
static inline float u32_to_unit_float(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

float lra_rng_uniform(lra_rng *r) { return u32_to_unit_float(lra_rng_u32(r)); }

double lra_rng_uniform_double(lra_rng *r) {
    uint64_t a = lra_rng_u32(r) >> 5;  // 27 bits
    uint64_t b = lra_rng_u32(r) >> 6;  // 26 bits
    return (double)((a << 26) | b) * (1.0 / 9007199254740992.0);
}

// Box-Muller on two 32-bit words; u1 in (0, 1] so the logarithm is finite.
// Only the cosine branch is used so that every normal owns exactly two words (no hidden state).
static inline double box_muller(uint32_t a, uint32_t b) {
    double u1 = ((double)a + 1.0) * (1.0 / 4294967296.0);
    double u2 = (double)b * (1.0 / 4294967296.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

float lra_rng_normal(lra_rng *r) {
    uint32_t a = lra_rng_u32(r);
    uint32_t b = lra_rng_u32(r);
    return (float)box_muller(a, b);
}

int64_t lra_rng_int(lra_rng *r, int64_t lo, int64_t hi) {
    LRA_ASSERT_MSG(hi > lo, "lra_rng_int: empty range [%lld, %lld)", (long long)lo, (long long)hi);
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    if (range <= 0xFFFFFFFFull) {
        // Lemire's multiply-shift with rejection of the biased low part.
        uint32_t s = (uint32_t)range;
        uint64_t m = (uint64_t)lra_rng_u32(r) * s;
        uint32_t l = (uint32_t)m;
        if (l < s) {
            uint32_t t = (uint32_t)(-s) % s;
            while (l < t) {
                m = (uint64_t)lra_rng_u32(r) * s;
                l = (uint32_t)m;
            }
        }
        return lo + (int64_t)(m >> 32);
    }
    // Wide ranges: reject the first 2^64 mod range values so that x % range is uniform.
    uint64_t t = (0 - range) % range;
    uint64_t x;
    do x = lra_rng_u64(r);
    while (x < t);
    return (int64_t)((uint64_t)lo + x % range);
}

// ---- stateless fills ------------------------------------------------------------------------------

// Words [offset, offset + n) of the stream; out[i] = f(word offset + i).
// Iterates over the blocks that cover the range so each Philox call serves up to four elements.
#define RNG_FILL_WORDS(SEED, STREAM, OFFSET, N, OUT, EXPR)                                     \
    do {                                                                                       \
        const uint64_t off_ = (OFFSET), n_ = (N);                                              \
        uint64_t first_ = off_ / 4, last_ = (off_ + n_ - 1) / 4;                               \
        int64_t nb_ = (int64_t)(last_ - first_ + 1);                                           \
        _Pragma("omp parallel for schedule(static) if (n_ >= RNG_PARALLEL_MIN)")              \
        for (int64_t b_ = 0; b_ < nb_; b_++) {                                                 \
            uint32_t w_[4];                                                                    \
            uint64_t blk_ = first_ + (uint64_t)b_;                                             \
            philox_block((SEED), (STREAM), blk_, w_);                                          \
            for (int j_ = 0; j_ < 4; j_++) {                                                   \
                uint64_t g_ = blk_ * 4 + (uint64_t)j_;                                         \
                if (g_ < off_ || g_ >= off_ + n_) continue;                                    \
                uint32_t x = w_[j_];                                                           \
                (OUT)[g_ - off_] = (EXPR);                                                     \
            }                                                                                  \
        }                                                                                      \
    } while (0)

void lra_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n) {
    if (n == 0) return;
    RNG_FILL_WORDS(seed, stream, offset, (uint64_t)n, out, u32_to_unit_float(x));
}

// Element g (= offset + i) uses words 2g and 2g+1 of the stream (the cosine branch of Box-Muller), so
// fill_normal(offset=o)[i] equals the (o+i)-th lra_rng_normal() draw of a fresh generator.
void lra_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n, float mean,
                         float std) {
    if (n == 0) return;
    uint64_t first = offset / 2, last = (offset + n - 1) / 2;
    int64_t nb = (int64_t)(last - first + 1);
#pragma omp parallel for schedule(static) if (n >= RNG_PARALLEL_MIN)
    for (int64_t b = 0; b < nb; b++) {
        uint32_t w[4];
        uint64_t blk = first + (uint64_t)b;
        philox_block(seed, stream, blk, w);
        for (int half = 0; half < 2; half++) {
            uint64_t g = blk * 2 + (uint64_t)half;
            if (g < offset || g >= offset + n) continue;
            out[g - offset] = (float)((double)mean + (double)std * box_muller(w[2 * half], w[2 * half + 1]));
        }
    }
}

// ---- dropout masks: 16 bits per element -----------------------------------------------------------
// A keep/drop decision needs 16 bits, not 32, so one Philox call serves eight elements.  Elements come in
// groups of 128 that use 16 consecutive blocks, computed together in lane-parallel form (which the compiler
// vectorises): element e = 128 g + 16 (4 h + w) + b is half h (0 = low 16 bits) of word w of block
// 16 g + b, so each run of 16 elements is one vector of block lanes.  Element e is dropped iff its 16 bits
// are < round(p * 65536): the drop probability is within 2^-17 of p.

#define PHILOX_LANES 16
#define KEEP_GROUP (PHILOX_LANES * 8)  // elements per 16 blocks

// Blocks first .. first + 15 of (seed, stream): w[word][lane] = word `word` of block first + lane.
static void philox_blocks16(uint64_t seed, uint64_t stream, uint64_t first, uint32_t w[4][PHILOX_LANES]) {
    uint32_t c0[PHILOX_LANES], c1[PHILOX_LANES], c2[PHILOX_LANES], c3[PHILOX_LANES];
    for (int j = 0; j < PHILOX_LANES; j++) {
        const uint64_t b = first + (uint64_t)j;
        c0[j] = (uint32_t)b;
        c1[j] = (uint32_t)(b >> 32);
        c2[j] = (uint32_t)stream;
        c3[j] = (uint32_t)(stream >> 32);
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        for (int j = 0; j < PHILOX_LANES; j++) {  // philox_round, one lane per block
            const uint64_t p0 = (uint64_t)PHILOX_M0 * c0[j], p1 = (uint64_t)PHILOX_M1 * c2[j];
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ k1;
            c0[j] = n0;
            c1[j] = (uint32_t)p1;
            c2[j] = n2;
            c3[j] = (uint32_t)p0;
        }
    }
    memcpy(w[0], c0, sizeof c0);
    memcpy(w[1], c1, sizeof c1);
    memcpy(w[2], c2, sizeof c2);
    memcpy(w[3], c3, sizeof c3);
}

static uint32_t drop_threshold(float p) {
    LRA_ASSERT_MSG(p >= 0.0f && p < 1.0f, "dropout p=%g outside [0, 1)", (double)p);
    return (uint32_t)lrint((double)p * 65536.0);
}

// Group g (elements (first + g) * 128 ...) of the keep mask, clipped to [offset, offset + n).
static void keep_group(uint64_t seed, uint64_t stream, uint64_t offset, uint8_t *keep, size_t n, uint32_t thr,
                       uint64_t group) {
    uint32_t w[4][PHILOX_LANES];
    const uint64_t e0 = group * KEEP_GROUP;  // the group's first element
    philox_blocks16(seed, stream, e0 / 8, w);
    uint8_t k[KEEP_GROUP];
    for (int h = 0; h < 2; h++)
        for (int word = 0; word < 4; word++) {
            uint8_t *kk = k + (h * 4 + word) * PHILOX_LANES;
            for (int b = 0; b < PHILOX_LANES; b++) kk[b] = (uint8_t)(((w[word][b] >> (16 * h)) & 0xFFFFu) >= thr);
        }
    const uint64_t lo = e0 > offset ? e0 : offset;
    const uint64_t hi = e0 + KEEP_GROUP < offset + n ? e0 + KEEP_GROUP : offset + n;
    memcpy(keep + (lo - offset), k + (lo - e0), (size_t)(hi - lo));
}

// Small fills and fills from inside a parallel region (attention rows) stay out of OpenMP altogether:
// even a one-thread nested region costs a team set-up per call.
static int fill_in_parallel(size_t n) { return n >= RNG_PARALLEL_MIN && !omp_in_parallel() && omp_get_max_threads() > 1; }

void lra_rng_fill_keep(uint64_t seed, uint64_t stream, uint64_t offset, uint8_t *keep, size_t n, float p) {
    if (n == 0) return;
    const uint32_t thr = drop_threshold(p);
    const uint64_t first = offset / KEEP_GROUP, last = (offset + n - 1) / KEEP_GROUP;
    const int64_t ng = (int64_t)(last - first + 1);
    if (fill_in_parallel(n)) {
#pragma omp parallel for schedule(static)
        for (int64_t g = 0; g < ng; g++) keep_group(seed, stream, offset, keep, n, thr, first + (uint64_t)g);
    } else {
        for (int64_t g = 0; g < ng; g++) keep_group(seed, stream, offset, keep, n, thr, first + (uint64_t)g);
    }
}

// Chunk c (elements c * 4096 ...) of the float dropout mask.
static void dropout_chunk(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n, float p,
                          float keep_scale, size_t c) {
    enum { CHUNK = 4096 };
    uint8_t keep[CHUNK];
    const size_t i0 = c * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
    lra_rng_fill_keep(seed, stream, offset + i0, keep, len, p);
    for (size_t i = 0; i < len; i++) out[i0 + i] = keep_scale * (float)keep[i];
}

void lra_rng_fill_dropout(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n, float p) {
    if (n == 0) return;
    LRA_ASSERT_MSG(p >= 0.0f && p < 1.0f, "dropout p=%g outside [0, 1)", (double)p);
    const float keep_scale = 1.0f / (1.0f - p);
    const int64_t nch = (int64_t)((n + 4095) / 4096);
    if (fill_in_parallel(n)) {
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < nch; c++) dropout_chunk(seed, stream, offset, out, n, p, keep_scale, (size_t)c);
    } else {
        for (int64_t c = 0; c < nch; c++) dropout_chunk(seed, stream, offset, out, n, p, keep_scale, (size_t)c);
    }
}

void lra_rng_fill_bernoulli(uint64_t seed, uint64_t stream, uint64_t offset, uint8_t *out, size_t n, float prob) {
    if (n == 0) return;
    RNG_FILL_WORDS(seed, stream, offset, (uint64_t)n, out, (uint8_t)(u32_to_unit_float(x) < prob ? 1 : 0));
}

// ---- sampling -----------------------------------------------------------------------------------

void lra_rng_sample_with_replacement(lra_rng *r, const float *w, int64_t n, int64_t k, int32_t *out) {
    LRA_ASSERT(n > 0 && n <= INT32_MAX && k >= 0);
    double *cdf = lra_xmalloc((size_t)n * sizeof *cdf);
    double acc = 0.0;
    int64_t last_pos = -1;
    for (int64_t i = 0; i < n; i++) {
        LRA_ASSERT_MSG(w[i] >= 0.0f && isfinite(w[i]), "weight %lld is %g", (long long)i, (double)w[i]);
        acc += (double)w[i];
        cdf[i] = acc;
        if (w[i] > 0.0f) last_pos = i;
    }
    LRA_ASSERT_MSG(last_pos >= 0, "all %lld weights are zero", (long long)n);
    for (int64_t d = 0; d < k; d++) {
        double u = lra_rng_uniform_double(r) * acc;
        // First index whose cumulative weight exceeds u: zero-weight entries can never be it.
        int64_t lo = 0, hi = last_pos;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        out[d] = (int32_t)lo;
    }
    free(cdf);
}

typedef struct {
    double key;
    int32_t idx;
} rng_keyed;

// Max-heap on (key, idx) so the k smallest keys survive; ties broken by index for determinism.
static inline int keyed_less(rng_keyed a, rng_keyed b) {
    return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

static void heap_sift_down(rng_keyed *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, big = i;
        if (l < n && keyed_less(h[big], h[l])) big = l;
        if (l + 1 < n && keyed_less(h[big], h[l + 1])) big = l + 1;
        if (big == i) return;
        rng_keyed t = h[i];
        h[i] = h[big];
        h[big] = t;
        i = big;
    }
}

// Efraimidis-Spirakis: with E_i ~ Exp(1), sorting E_i / w_i ascending gives the items in the order
// (and with the distribution) of sequential weighted draws without replacement.
void lra_rng_sample_without_replacement(lra_rng *r, const float *w, int64_t n, int64_t k, int32_t *out) {
    LRA_ASSERT(n > 0 && n <= INT32_MAX && k >= 0);
    if (k == 0) return;
    int64_t positive = 0;
    for (int64_t i = 0; i < n; i++) {
        LRA_ASSERT_MSG(w[i] >= 0.0f && isfinite(w[i]), "weight %lld is %g", (long long)i, (double)w[i]);
        if (w[i] > 0.0f) positive++;
    }
    LRA_ASSERT_MSG(k <= positive, "asked for %lld draws from %lld positive weights", (long long)k,
                   (long long)positive);
    rng_keyed *heap = lra_xmalloc((size_t)k * sizeof *heap);
    int64_t size = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(w[i] > 0.0f)) continue;
        // One draw per positive weight, in index order: -log(u) with u in (0, 1].
        double u = 1.0 - lra_rng_uniform_double(r);
        rng_keyed e = {-log(u) / (double)w[i], (int32_t)i};
        if (size < k) {
            heap[size] = e;
            for (int64_t c = size++; c > 0;) {  // sift up
                int64_t p = (c - 1) / 2;
                if (!keyed_less(heap[p], heap[c])) break;
                rng_keyed t = heap[p];
                heap[p] = heap[c];
                heap[c] = t;
                c = p;
            }
        } else if (keyed_less(e, heap[0])) {
            heap[0] = e;
            heap_sift_down(heap, size, 0);
        }
    }
    // Pop the maximum repeatedly: fills out[] from the back, giving ascending keys = draw order.
    for (int64_t m = size; m > 0; m--) {
        out[m - 1] = heap[0].idx;
        heap[0] = heap[m - 1];
        heap_sift_down(heap, m - 1, 0);
    }
    free(heap);
}

// Sparse Fisher-Yates: only the positions that were swapped are stored, in an open-addressing
// table, so choosing k of n costs O(k) memory whatever n is.
typedef struct {
    int64_t *keys;  // -1 = empty
    int64_t *vals;
    int64_t mask;
} rng_swap_map;

static int64_t *swap_slot(rng_swap_map *m, int64_t key, int insert) {
    uint64_t h = mix64((uint64_t)key) & (uint64_t)m->mask;
    for (;;) {
        if (m->keys[h] == key) return &m->vals[h];
        if (m->keys[h] == -1) {
            if (!insert) return NULL;
            m->keys[h] = key;
            m->vals[h] = key;  // an untouched position holds its own index
            return &m->vals[h];
        }
        h = (h + 1) & (uint64_t)m->mask;
    }
}

void lra_rng_choose(lra_rng *r, int64_t n, int64_t k, int32_t *out) {
    LRA_ASSERT(n >= 0 && n <= (int64_t)INT32_MAX + 1 && k >= 0 && k <= n);
    if (k == 0) return;
    int64_t cap = 16;
    while (cap < 4 * k) cap *= 2;
    rng_swap_map m = {lra_xmalloc((size_t)cap * sizeof(int64_t)), lra_xmalloc((size_t)cap * sizeof(int64_t)),
                      cap - 1};
    for (int64_t i = 0; i < cap; i++) m.keys[i] = -1;
    for (int64_t i = 0; i < k; i++) {
        int64_t j = lra_rng_int(r, i, n);
        int64_t *vj = swap_slot(&m, j, 1);
        int64_t *vi = swap_slot(&m, i, 1);
        int64_t pick = *vj;
        *vj = *vi;
        *vi = pick;
        out[i] = (int32_t)pick;
    }
    free(m.keys);
    free(m.vals);
}

void lra_rng_permutation(lra_rng *r, int64_t n, int32_t *out) {
    LRA_ASSERT(n >= 0 && n <= (int64_t)INT32_MAX + 1);
    for (int64_t i = 0; i < n; i++) out[i] = (int32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = lra_rng_int(r, 0, i + 1);
        int32_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}
