// numpy legacy RandomState emulation on MT19937 (data.md Appendix A).
#include "data/nprandom.h"

#include "core/status.h"

#define MT_M 397
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7FFFFFFFu

void lra_mt19937_init_genrand(lra_mt19937 *g, uint32_t seed) {
    g->mt[0] = seed;
    for (int i = 1; i < LRA_MT19937_N; i++)
        g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) + (uint32_t)i;
    g->index = LRA_MT19937_N;
}

void lra_mt19937_init_by_array(lra_mt19937 *g, const uint32_t *key, int n) {
    LRA_ASSERT(n >= 1);
    lra_mt19937_init_genrand(g, 19650218u);
    uint32_t *mt = g->mt;
    int i = 1, j = 0;
    for (int k = (LRA_MT19937_N > n ? LRA_MT19937_N : n); k > 0; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= LRA_MT19937_N) {
            mt[0] = mt[LRA_MT19937_N - 1];
            i = 1;
        }
        if (j >= n) j = 0;
    }
    for (int k = LRA_MT19937_N - 1; k > 0; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= LRA_MT19937_N) {
            mt[0] = mt[LRA_MT19937_N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000u;
    g->index = LRA_MT19937_N;
}

static void mt_refill(lra_mt19937 *g) {
    uint32_t *mt = g->mt;
    for (int k = 0; k < LRA_MT19937_N; k++) {
        uint32_t y = (mt[k] & MT_UPPER) | (mt[(k + 1) % LRA_MT19937_N] & MT_LOWER);
        mt[k] = mt[(k + MT_M) % LRA_MT19937_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908B0DFu : 0u);
    }
    g->index = 0;
}

uint32_t lra_mt19937_next32(lra_mt19937 *g) {
    if (g->index >= LRA_MT19937_N) mt_refill(g);
    uint32_t y = g->mt[g->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}

double lra_mt19937_double(lra_mt19937 *g) {
    uint32_t a = lra_mt19937_next32(g) >> 5, b = lra_mt19937_next32(g) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

void lra_nprandom_seed(lra_nprandom *r, uint32_t seed) { lra_mt19937_init_genrand(&r->mt, seed); }

// Smallest 2^k - 1 >= v.
static uint64_t fill_mask(uint64_t v) {
    v |= v >> 1;
    v |= v >> 2;
    v |= v >> 4;
    v |= v >> 8;
    v |= v >> 16;
    v |= v >> 32;
    return v;
}

// A value in [0, max] by masked rejection (numpy's bounded masked draw / random_interval).
static uint64_t np_interval(lra_mt19937 *g, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = fill_mask(max), v;
    if (max <= 0xFFFFFFFFu) {
        if (max == 0xFFFFFFFFu) return lra_mt19937_next32(g);
        do v = lra_mt19937_next32(g) & mask; while (v > max);
    } else {
        // 64-bit draws: numpy takes the high word first ((uint64)next32 << 32 | next32).
        do {
            uint64_t hi = lra_mt19937_next32(g);
            v = ((hi << 32) | lra_mt19937_next32(g)) & mask;
        } while (v > max);
    }
    return v;
}

int64_t lra_nprandom_randint(lra_nprandom *r, int64_t lo, int64_t hi) {
    LRA_ASSERT(hi > lo);
    return lo + (int64_t)np_interval(&r->mt, (uint64_t)(hi - lo) - 1u);
}

double lra_nprandom_rand(lra_nprandom *r) { return lra_mt19937_double(&r->mt); }

void lra_nprandom_shuffle_i32(lra_nprandom *r, int32_t *x, int64_t n) {
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)np_interval(&r->mt, (uint64_t)i);
        int32_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}
