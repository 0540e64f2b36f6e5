// Emulation of numpy's legacy RandomState (MT19937 seeded with init_genrand), bit for bit, for reproducing
// the original Pathfinder generator (data.md 12.2 and Appendix A).  CPython's `random` (which the
// Pathfinder generator uses only for a shuffle that never changes its output) is in data/pyrandom.h.
#ifndef LRA_DATA_NPRANDOM_H
#define LRA_DATA_NPRANDOM_H

#include <stdint.h>

#define LRA_MT19937_N 624

// Plain MT19937 state (Matsumoto & Nishimura).  Copyable value type.
typedef struct {
    uint32_t mt[LRA_MT19937_N];
    int index;   // next word of mt to output; LRA_MT19937_N means "refill first"
} lra_mt19937;

void lra_mt19937_init_genrand(lra_mt19937 *g, uint32_t seed);
// key: [n] 32-bit words, n >= 1
void lra_mt19937_init_by_array(lra_mt19937 *g, const uint32_t *key, int n);
uint32_t lra_mt19937_next32(lra_mt19937 *g);
// 53-bit double in [0, 1): (a>>5 * 2^26 + b>>6) / 2^53 (numpy random_sample, Python random()).
double lra_mt19937_double(lra_mt19937 *g);

// numpy.random.RandomState (legacy), seeded with an integer 0 <= seed < 2^32.
typedef struct {
    lra_mt19937 mt;
} lra_nprandom;

void lra_nprandom_seed(lra_nprandom *r, uint32_t seed);
// randint(lo, hi), hi exclusive, hi > lo, with numpy's legacy masked rejection; no draw when hi - lo == 1.
int64_t lra_nprandom_randint(lra_nprandom *r, int64_t lo, int64_t hi);
// rand() / random_sample(): a 53-bit double in [0, 1).
double lra_nprandom_rand(lra_nprandom *r);
// shuffle() of a int32 array as numpy's legacy shuffle does it (Fisher-Yates from the end, j = randint(0, i+1)
// via the masked bounded draw).  x: [n]
void lra_nprandom_shuffle_i32(lra_nprandom *r, int32_t *x, int64_t n);

#endif
