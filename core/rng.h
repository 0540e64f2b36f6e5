// Counter-based random numbers: Philox4x32-10 keyed by (seed, stream).
// The value of draw i of a (seed, stream) pair depends only on (seed, stream, i), so parallel fills give
// the same numbers whatever the thread count, and a resumed run draws what an uninterrupted one would.
// Streams are 64-bit ids; build one from several purpose ids with lra_rng_stream().
#ifndef LRA_CORE_RNG_H
#define LRA_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

// Sequential generator over one stream.  Copyable value type.
typedef struct {
    uint32_t key[2];      // from the seed
    uint32_t ctr[4];      // ctr[0..1]: block index, ctr[2..3]: stream id
    uint32_t buf[4];      // the current block's output
    int used;             // words of buf already consumed (4 = empty)
} lra_rng;

// The one Philox4x32-10 bijection: out = philox(ctr, key).
void lra_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

// Mixes up to four purpose ids (e.g. step, layer, head, LRA_RNG_PURPOSE_x) into one stream id.
uint64_t lra_rng_stream(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

lra_rng lra_rng_make(uint64_t seed, uint64_t stream);
// Positions the generator at 32-bit word `offset` of its stream (block offset/4, word offset%4).
void lra_rng_seek(lra_rng *r, uint64_t offset);

uint32_t lra_rng_u32(lra_rng *r);
uint64_t lra_rng_u64(lra_rng *r);
float lra_rng_uniform(lra_rng *r);                 // [0, 1), 24 random bits
double lra_rng_uniform_double(lra_rng *r);         // [0, 1), 53 random bits
float lra_rng_normal(lra_rng *r);                  // N(0, 1) (Box-Muller over two uniforms)
int64_t lra_rng_int(lra_rng *r, int64_t lo, int64_t hi);  // uniform in [lo, hi), unbiased

// Stateless fills: element i is a function of (seed, stream, offset + i) only, so the result is the same
// at any thread count (they run in parallel with OpenMP).
void lra_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n);
void lra_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n, float mean,
                         float std);
// Dropout masks use 16 bits per element, eight elements per Philox block (rng.c says how): keep[i] = 1
// with probability 1 - p (exactly 1 - round(65536 p) / 65536), else 0; p in [0, 1).
void lra_rng_fill_keep(uint64_t seed, uint64_t stream, uint64_t offset, uint8_t *keep, size_t n, float p);
// out[i] = 1/(1-p) where fill_keep keeps element offset + i, else 0 (inverted-dropout mask).
void lra_rng_fill_dropout(uint64_t seed, uint64_t stream, uint64_t offset, float *out, size_t n, float p);
// out[i] = 1 with probability prob, else 0.
void lra_rng_fill_bernoulli(uint64_t seed, uint64_t stream, uint64_t offset, uint8_t *out, size_t n, float prob);

// Sampling from non-negative weights w[0..n-1] (need not sum to 1; at least one > 0).
// With replacement: k indices, each drawn with probability w[i]/sum(w).
void lra_rng_sample_with_replacement(lra_rng *r, const float *w, int64_t n, int64_t k, int32_t *out);
// Without replacement (sequential weighted draws, k <= number of positive weights), in draw order.
void lra_rng_sample_without_replacement(lra_rng *r, const float *w, int64_t n, int64_t k, int32_t *out);
// Uniform without replacement from 0..n-1 (k <= n), in draw order.
void lra_rng_choose(lra_rng *r, int64_t n, int64_t k, int32_t *out);
// A uniformly random permutation of 0..n-1 (Fisher-Yates).
void lra_rng_permutation(lra_rng *r, int64_t n, int32_t *out);

#endif
