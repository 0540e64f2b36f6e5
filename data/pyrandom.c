// CPython `random` emulation: MT19937 (Matsumoto & Nishimura) with CPython's seeding and draw rules.
#include "data/pyrandom.h"

#include "core/status.h"

void lra_pyrandom_init_genrand(lra_pyrandom *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < LRA_PYRANDOM_N; i++) {
        uint32_t p = r->mt[i - 1];
        r->mt[i] = 1812433253u * (p ^ (p >> 30)) + (uint32_t)i;
    }
    r->index = LRA_PYRANDOM_N;
}

void lra_pyrandom_seed_array(lra_pyrandom *r, const uint32_t *key, size_t n) {
    LRA_ASSERT(n >= 1);
    lra_pyrandom_init_genrand(r, 19650218u);
    uint32_t *mt = r->mt;
    size_t i = 1, j = 0;
    size_t k = n > LRA_PYRANDOM_N ? n : LRA_PYRANDOM_N;
    for (; k; k--) {
        uint32_t p = mt[i - 1];
        mt[i] = (mt[i] ^ ((p ^ (p >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= LRA_PYRANDOM_N) {
            mt[0] = mt[LRA_PYRANDOM_N - 1];
            i = 1;
        }
        if (j >= n) j = 0;
    }
    for (k = LRA_PYRANDOM_N - 1; k; k--) {
        uint32_t p = mt[i - 1];
        mt[i] = (mt[i] ^ ((p ^ (p >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= LRA_PYRANDOM_N) {
            mt[0] = mt[LRA_PYRANDOM_N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000u;  // guarantees a non-zero state
    r->index = LRA_PYRANDOM_N;
}

void lra_pyrandom_seed(lra_pyrandom *r, uint64_t n) {
    uint32_t key[2] = {(uint32_t)n, (uint32_t)(n >> 32)};
    lra_pyrandom_seed_array(r, key, key[1] ? 2 : 1);
}

// The in-place refill; the three loops avoid a modulo per word (the words with k+397 >= 624 read
// words already refilled, as the reference does).
static inline uint32_t twist_word(uint32_t cur, uint32_t next, uint32_t far) {
    uint32_t y = (cur & 0x80000000u) | (next & 0x7FFFFFFFu);
    return far ^ (y >> 1) ^ ((y & 1u) ? 0x9908B0DFu : 0u);
}

static void twist(lra_pyrandom *r) {
    enum { N = LRA_PYRANDOM_N, M = 397 };
    uint32_t *mt = r->mt;
    int k = 0;
    for (; k < N - M; k++) mt[k] = twist_word(mt[k], mt[k + 1], mt[k + M]);
    for (; k < N - 1; k++) mt[k] = twist_word(mt[k], mt[k + 1], mt[k + M - N]);
    mt[N - 1] = twist_word(mt[N - 1], mt[0], mt[M - 1]);
    r->index = 0;
}

uint32_t lra_pyrandom_u32(lra_pyrandom *r) {
    if (r->index >= LRA_PYRANDOM_N) twist(r);
    uint32_t y = r->mt[r->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
}

double lra_pyrandom_random(lra_pyrandom *r) {
    uint32_t a = lra_pyrandom_u32(r) >> 5, b = lra_pyrandom_u32(r) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

uint64_t lra_pyrandom_getrandbits(lra_pyrandom *r, int k) {
    LRA_ASSERT(k >= 0 && k <= 64);
    if (k == 0) return 0;
    if (k <= 32) return lra_pyrandom_u32(r) >> (32 - k);
    uint64_t lo = lra_pyrandom_u32(r);
    uint64_t hi = lra_pyrandom_u32(r) >> (64 - k);
    return lo | (hi << 32);
}

uint64_t lra_pyrandom_randbelow(lra_pyrandom *r, uint64_t n) {
    LRA_ASSERT(n >= 1);
    int k = 64 - __builtin_clzll(n);  // n.bit_length(): a power of two wastes half its draws, as in CPython
    uint64_t v = lra_pyrandom_getrandbits(r, k);
    while (v >= n) v = lra_pyrandom_getrandbits(r, k);
    return v;
}

int64_t lra_pyrandom_randrange(lra_pyrandom *r, int64_t start, int64_t stop) {
    LRA_ASSERT(start < stop);
    uint64_t width = (uint64_t)stop - (uint64_t)start;
    return (int64_t)((uint64_t)start + lra_pyrandom_randbelow(r, width));
}

int64_t lra_pyrandom_randint(lra_pyrandom *r, int64_t a, int64_t b) {
    LRA_ASSERT(a <= b);
    uint64_t width = (uint64_t)b - (uint64_t)a + 1u;
    LRA_ASSERT(width != 0);  // the full 64-bit range would need a 65-bit draw
    return (int64_t)((uint64_t)a + lra_pyrandom_randbelow(r, width));
}

size_t lra_pyrandom_choice(lra_pyrandom *r, size_t n) { return (size_t)lra_pyrandom_randbelow(r, n); }
