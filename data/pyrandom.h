// An emulation of CPython's `random` module (MT19937 and the draws built on it), for generators that
// must reproduce the original Python scripts draw for draw (the ListOps generator's compat mode,
// data.md §11.8 and Appendix A).  Also offers numpy's legacy seeding (`init_genrand`).
// Verified against CPython 3.11 in tests/test_listops_gen.c.
#ifndef LRA_DATA_PYRANDOM_H
#define LRA_DATA_PYRANDOM_H

#include <stddef.h>
#include <stdint.h>

#define LRA_PYRANDOM_N 624

typedef struct {
    uint32_t mt[LRA_PYRANDOM_N];
    int index;  // next word of mt to output; LRA_PYRANDOM_N means "twist before the next output"
} lra_pyrandom;

// random.seed(n) for an integer n >= 0: init_by_array with the 32-bit words of n, least significant
// first (n = 0 gives the key [0]).
void lra_pyrandom_seed(lra_pyrandom *r, uint64_t n);
// MT19937 init_by_array(key[0..n-1]), n >= 1.
void lra_pyrandom_seed_array(lra_pyrandom *r, const uint32_t *key, size_t n);
// MT19937 init_genrand(s) (numpy's legacy RandomState(s) seeding).
void lra_pyrandom_init_genrand(lra_pyrandom *r, uint32_t s);

// The next tempered 32-bit output (genrand_uint32).
uint32_t lra_pyrandom_u32(lra_pyrandom *r);
// random.random(): 53-bit double in [0, 1) from two outputs.
double lra_pyrandom_random(lra_pyrandom *r);
// random.getrandbits(k) for 0 <= k <= 64 (words least significant first, the last one shifted down).
uint64_t lra_pyrandom_getrandbits(lra_pyrandom *r, int k);
// random._randbelow(n) for n >= 1: getrandbits(bit_length(n)) repeated until < n.
uint64_t lra_pyrandom_randbelow(lra_pyrandom *r, uint64_t n);
// random.randrange(start, stop) (step 1, start < stop) and random.randint(a, b) (a <= b, inclusive).
int64_t lra_pyrandom_randrange(lra_pyrandom *r, int64_t start, int64_t stop);
int64_t lra_pyrandom_randint(lra_pyrandom *r, int64_t a, int64_t b);
// The index that random.choice(seq) picks for len(seq) == n >= 1.
size_t lra_pyrandom_choice(lra_pyrandom *r, size_t n);

#endif
