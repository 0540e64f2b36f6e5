// ListOps generator (data.md §11), evaluator, and the emulation of the original script's Python set order.
#include "data/listops_gen.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/rng.h"
#include "data/pyrandom.h"

#define VALUE_P 0.25
#define GIVE_UP_ATTEMPTS 10000000  // attempts without a new distinct kept tree before giving up

static const char *const OP_NAMES[4] = {"[MIN", "[MAX", "[MED", "[SM"};
// The same, padded to 4 bytes for whole-word copies.
static const char OP_NAMES4[4][4] = {
    {'[', 'M', 'I', 'N'}, {'[', 'M', 'A', 'X'}, {'[', 'M', 'E', 'D'}, {'[', 'S', 'M', ' '}};

void lra_listops_gen_defaults(lra_listops_gen_options *o) {
    memset(o, 0, sizeof *o);
    o->seed = 0;
    o->n_train = 96000;
    o->n_val = 2000;
    o->n_test = 2000;
    o->compat_python = 0;
    o->max_depth = 10;
    o->max_args = 10;
    o->min_length = 500;
    o->max_length = 2000;
}

// ---------------------------------------------------------------------------------------------------
// Operator values.  Every value is a digit, so a node keeps counts of its argument values.

// The k-th smallest (0-based) of the values counted in counts[0..9].
static int kth_smallest(const int64_t counts[10], int64_t k) {
    for (int d = 0; d < 10; d++) {
        if (k < counts[d]) return d;
        k -= counts[d];
    }
    LRA_ASSERT(0);
    return 0;
}

// op: 0..3 for MIN, MAX, MED, SM; n >= 1 arguments.
static int op_value(int op, const int64_t counts[10], int64_t n, int64_t sum) {
    switch (op) {
    case 0: return kth_smallest(counts, 0);
    case 1: return kth_smallest(counts, n - 1);
    case 2:
        // int(median): the middle value, or the mean of the two middle values truncated
        if (n % 2) return kth_smallest(counts, n / 2);
        return (kth_smallest(counts, n / 2 - 1) + kth_smallest(counts, n / 2)) / 2;
    default: return (int)(sum % 10);
    }
}

// ---------------------------------------------------------------------------------------------------
// Tree sampling (§11.2).  The draw order matters for compat mode: the uniform, then the value or the
// arity, then the children left to right, then the operator.

typedef struct {
    int compat;
    lra_pyrandom py;
    lra_rng ph;
    int max_depth, max_args;
    int64_t limit;  // max_length: a tree this long is rejected
    uint8_t *buf;   // [limit] codes of the current tree
    int64_t len;    // tokens so far; in compat mode it keeps counting past limit (the draws must go on)
    int stop;       // Philox mode: the tree is already too long, stop drawing
} gen_state;

static inline double draw_uniform(gen_state *g) {
    return g->compat ? lra_pyrandom_random(&g->py) : lra_rng_uniform_double(&g->ph);
}

static inline int draw_below(gen_state *g, int n) {
    return g->compat ? (int)lra_pyrandom_randbelow(&g->py, (uint64_t)n) : (int)lra_rng_int(&g->ph, 0, n);
}

static inline void emit(gen_state *g, uint8_t code) {
    if (g->len < g->limit) g->buf[g->len] = code;
    g->len++;
    if (!g->compat && g->len >= g->limit) g->stop = 1;
}

// Returns the node's value (meaningless once the tree is too long).
static int gen_node(gen_state *g, int depth) {
    double r = depth < g->max_depth ? draw_uniform(g) : 1.0;
    if (r > VALUE_P) {
        int v = draw_below(g, 10);
        emit(g, (uint8_t)v);
        return v;
    }
    int n = 2 + draw_below(g, g->max_args - 1);
    int64_t at = g->len;
    emit(g, LRA_LISTOPS_MIN);  // placeholder: the operator is drawn after the children
    if (g->stop) return 0;
    int64_t counts[10] = {0}, sum = 0;
    for (int k = 0; k < n; k++) {
        int v = gen_node(g, depth + 1);
        if (g->stop) return 0;
        counts[v]++;
        sum += v;
    }
    int op = draw_below(g, 4);
    if (at < g->limit) g->buf[at] = (uint8_t)(LRA_LISTOPS_MIN + op);
    emit(g, LRA_LISTOPS_END);
    return op_value(op, counts, n, sum);
}

// ---------------------------------------------------------------------------------------------------
// De-duplication: open addressing over row indices, exact comparison of the codes on a hash match.

static uint64_t hash_codes(const uint8_t *c, int64_t n) {
    uint64_t h = 0x243F6A8885A308D3ull ^ (uint64_t)n;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, c + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, c + i, (size_t)(n - i));
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

typedef struct {
    int64_t *slots;  // row index + 1, 0 = empty
    uint64_t mask;
} dedup_table;

// Inserts row `row` (already stored in rows) unless an equal row is present; returns 1 when inserted.
static int dedup_insert(dedup_table *t, const lra_listops_rows *rows, const uint64_t *hashes, int64_t row) {
    const uint8_t *c = rows->codes + rows->offsets[row];
    int64_t n = rows->offsets[row + 1] - rows->offsets[row];
    uint64_t i = hashes[row] & t->mask;
    while (t->slots[i]) {
        int64_t o = t->slots[i] - 1;
        if (hashes[o] == hashes[row] && rows->offsets[o + 1] - rows->offsets[o] == n &&
            memcmp(rows->codes + rows->offsets[o], c, (size_t)n) == 0)
            return 0;
        i = (i + 1) & t->mask;
    }
    t->slots[i] = row + 1;
    return 1;
}

// ---------------------------------------------------------------------------------------------------
// CPython >= 3.11 with PYTHONHASHSEED=0: str hash = siphash13 with a zero key, tuple hash = the
// xxHash-style tuplehash, int hash = the value.  The script's set holds nested 2-tuples
// (((OP, c1), c2), ..., cn), ']').

static inline uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIP_ROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                            \
        v0 += v1; v2 += v3;                                                                         \
        v1 = rotl64(v1, 13) ^ v0; v3 = rotl64(v3, 16) ^ v2;                                         \
        v0 = rotl64(v0, 32);                                                                        \
        v2 += v1; v0 += v3;                                                                         \
        v1 = rotl64(v1, 17) ^ v2; v3 = rotl64(v3, 21) ^ v0;                                         \
        v2 = rotl64(v2, 32);                                                                        \
    } while (0)

// Python's hash() of a str of Latin-1 characters.
static uint64_t py_str_hash(const char *s) {
    size_t n = strlen(s);
    if (n == 0) return 0;
    const uint64_t k0 = 0, k1 = 0;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    const uint8_t *p = (const uint8_t *)s;
    size_t left = n;
    for (; left >= 8; left -= 8, p += 8) {
        uint64_t m = 0;
        for (int b = 0; b < 8; b++) m |= (uint64_t)p[b] << (8 * b);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);  // siphash13: one compression round
        v0 ^= m;
    }
    uint64_t m = (uint64_t)n << 56;
    for (size_t b = 0; b < left; b++) m |= (uint64_t)p[b] << (8 * b);
    v3 ^= m;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= m;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);  // three finalization rounds
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    uint64_t h = (v0 ^ v1) ^ (v2 ^ v3);
    return h == UINT64_MAX ? (uint64_t)-2 : h;
}

// hash((a, b)) from hash(a) and hash(b).
static uint64_t py_pair_hash(uint64_t a, uint64_t b) {
    const uint64_t P1 = 11400714785074694791ull, P2 = 14029467366897019727ull, P5 = 2870177450012600261ull;
    uint64_t acc = P5;
    acc += a * P2;
    acc = rotl64(acc, 31);
    acc *= P1;
    acc += b * P2;
    acc = rotl64(acc, 31);
    acc *= P1;
    acc += 2u ^ (P5 ^ 3527539u);
    return acc == UINT64_MAX ? 1546275796u : acc;
}

// Python hash of the tree codes[0..n); stack: scratch of n words.
static uint64_t py_tree_hash(const uint8_t *codes, int64_t n, const uint64_t op_hash[4], uint64_t end_hash,
                             uint64_t *stack) {
    int64_t top = 0;
    uint64_t root = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t c = codes[i];
        uint64_t h;
        if (c >= LRA_LISTOPS_MIN && c <= LRA_LISTOPS_SM) {
            stack[top++] = op_hash[c - LRA_LISTOPS_MIN];
            continue;
        } else if (c == LRA_LISTOPS_END) {
            LRA_ASSERT(top > 0);
            h = py_pair_hash(stack[--top], end_hash);
        } else {
            h = c;  // hash of a small int
        }
        if (top > 0)
            stack[top - 1] = py_pair_hash(stack[top - 1], h);
        else
            root = h;
    }
    return root;
}

typedef struct {
    uint64_t hash;
    int64_t idx;  // -1: unused
} py_set_entry;

// set_insert_clean: linear probes of 9 entries, then perturbed jumps.
static void py_set_insert_clean(py_set_entry *t, uint64_t mask, uint64_t hash, int64_t idx) {
    uint64_t perturb = hash, i = hash & mask;
    for (;;) {
        if (t[i].idx < 0) {
            t[i].hash = hash;
            t[i].idx = idx;
            return;
        }
        if (i + 9 <= mask) {
            for (uint64_t j = 1; j <= 9; j++) {
                if (t[i + j].idx < 0) {
                    t[i + j].hash = hash;
                    t[i + j].idx = idx;
                    return;
                }
            }
        }
        perturb >>= 5;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

void lra_listops_python_set_order(const uint64_t *hashes, int64_t n, int64_t *order) {
    uint64_t mask = 7;
    py_set_entry *t = lra_xmalloc(8 * sizeof *t);
    for (int i = 0; i < 8; i++) t[i].idx = -1;
    int64_t used = 0;
    for (int64_t k = 0; k < n; k++) {
        // set_add_entry on a new key probes exactly like set_insert_clean
        py_set_insert_clean(t, mask, hashes[k], k);
        used++;
        if ((uint64_t)used * 5 < mask * 3) continue;
        // set_table_resize(so, used > 50000 ? used * 2 : used * 4)
        uint64_t minused = (uint64_t)(used > 50000 ? used * 2 : used * 4), size = 8;
        while (size <= minused) size <<= 1;
        py_set_entry *nt = lra_xmalloc(size * sizeof *nt);
        for (uint64_t i = 0; i < size; i++) nt[i].idx = -1;
        for (uint64_t i = 0; i <= mask; i++)
            if (t[i].idx >= 0) py_set_insert_clean(nt, size - 1, t[i].hash, t[i].idx);
        free(t);
        t = nt;
        mask = size - 1;
    }
    int64_t m = 0;
    for (uint64_t i = 0; i <= mask; i++)
        if (t[i].idx >= 0) order[m++] = t[i].idx;
    LRA_ASSERT(m == n);
    free(t);
}

// Reorders rows into the script's set iteration order.
static void apply_python_order(lra_listops_rows *rows, int64_t max_len) {
    int64_t n = rows->count;
    uint64_t op_hash[4];
    for (int k = 0; k < 4; k++) op_hash[k] = py_str_hash(OP_NAMES[k]);
    uint64_t end_hash = py_str_hash("]");
    uint64_t *stack = lra_xmalloc((size_t)(max_len > 0 ? max_len : 1) * sizeof *stack);
    uint64_t *hashes = lra_xmalloc((size_t)n * sizeof *hashes);
    for (int64_t i = 0; i < n; i++)
        hashes[i] = py_tree_hash(rows->codes + rows->offsets[i], rows->offsets[i + 1] - rows->offsets[i],
                                 op_hash, end_hash, stack);
    int64_t *order = lra_xmalloc((size_t)n * sizeof *order);
    lra_listops_python_set_order(hashes, n, order);

    int64_t total = rows->offsets[n];
    uint8_t *codes = lra_xmalloc((size_t)(total > 0 ? total : 1));
    int64_t *offsets = lra_xmalloc((size_t)(n + 1) * sizeof *offsets);
    uint8_t *targets = lra_xmalloc((size_t)(n > 0 ? n : 1));
    offsets[0] = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = order[k], len = rows->offsets[i + 1] - rows->offsets[i];
        memcpy(codes + offsets[k], rows->codes + rows->offsets[i], (size_t)len);
        offsets[k + 1] = offsets[k] + len;
        targets[k] = rows->targets[i];
    }
    free(rows->codes);
    free(rows->offsets);
    free(rows->targets);
    rows->codes = codes;
    rows->offsets = offsets;
    rows->targets = targets;
    free(order);
    free(hashes);
    free(stack);
}

// ---------------------------------------------------------------------------------------------------

static lra_status check_options(const lra_listops_gen_options *o) {
    if (o->n_train < 0 || o->n_val < 0 || o->n_test < 0 || o->n_train + o->n_val + o->n_test < 1)
        return lra_error(LRA_ERR_ARG,
                         "listops generator: split sizes %lld/%lld/%lld: expected non-negative sizes, "
                         "at least one row in all",
                         (long long)o->n_train, (long long)o->n_val, (long long)o->n_test);
    if (o->max_depth < 1 || o->max_depth > 64)
        return lra_error(LRA_ERR_ARG, "listops generator: max_depth %d: expected 1..64", o->max_depth);
    if (o->max_args < 2 || o->max_args > 1000)
        return lra_error(LRA_ERR_ARG, "listops generator: max_args %d: expected 2..1000", o->max_args);
    if (o->min_length < 0 || o->max_length > (1 << 24) || o->max_length < o->min_length + 2)
        return lra_error(LRA_ERR_ARG,
                         "listops generator: lengths %d..%d: expected 0 <= min_length, min_length + 2 <= "
                         "max_length <= 16777216 (kept: min_length < length < max_length)",
                         o->min_length, o->max_length);
    // The longest possible tree: full arity down to leaves at max_depth.
    int64_t longest = 1;
    for (int d = o->max_depth - 1; d >= 1 && longest <= o->min_length; d--) longest = 2 + o->max_args * longest;
    if (longest <= o->min_length)
        return lra_error(LRA_ERR_ARG,
                         "listops generator: max_depth %d and max_args %d allow at most %lld tokens: expected "
                         "more than min_length %d",
                         o->max_depth, o->max_args, (long long)longest, o->min_length);
    return LRA_OK;
}

// The distinct kept trees so far, in order, with their de-duplication table.
typedef struct {
    lra_listops_rows *rows;
    size_t codes_cap;
    uint64_t *hashes;  // [total]
    dedup_table dt;
    int64_t total;
} collector;

static void collector_init(collector *c, lra_listops_rows *rows, int64_t total, int64_t max_length) {
    c->rows = rows;
    c->total = total;
    rows->offsets = lra_xmalloc((size_t)(total + 1) * sizeof *rows->offsets);
    rows->targets = lra_xmalloc((size_t)total);
    rows->offsets[0] = 0;
    // about the mean kept length at the default lengths; grown by half when full
    c->codes_cap = (size_t)(total < 65536 ? total : 65536) * 1100u;
    if (c->codes_cap < (size_t)max_length) c->codes_cap = (size_t)max_length;
    rows->codes = lra_xmalloc(c->codes_cap);
    c->hashes = lra_xmalloc((size_t)total * sizeof *c->hashes);
    uint64_t size = 16;
    while (size < (uint64_t)total * 2) size <<= 1;
    c->dt.slots = lra_xcalloc(size, sizeof *c->dt.slots);
    c->dt.mask = size - 1;
}

static void collector_free(collector *c) {
    free(c->dt.slots);
    free(c->hashes);
}

// Appends a kept tree unless it is a duplicate; returns 1 when it was new.
static int collector_add(collector *c, const uint8_t *codes, int64_t len, int value) {
    lra_listops_rows *rows = c->rows;
    int64_t kept = rows->count, off = rows->offsets[kept];
    LRA_ASSERT(kept < c->total);
    if ((size_t)(off + len) > c->codes_cap) {
        c->codes_cap = c->codes_cap * 3 / 2 + (size_t)len;
        rows->codes = lra_xrealloc(rows->codes, c->codes_cap);
    }
    memcpy(rows->codes + off, codes, (size_t)len);
    rows->offsets[kept + 1] = off + len;
    c->hashes[kept] = hash_codes(codes, len);
    if (!dedup_insert(&c->dt, rows, c->hashes, kept)) return 0;
    rows->targets[kept] = (uint8_t)value;
    rows->count++;
    return 1;
}

static lra_status give_up(const lra_listops_gen_options *o, int64_t kept, int64_t total) {
    return lra_error(LRA_ERR_ARG,
                     "listops generator: no new distinct tree in %d attempts after %lld of %lld rows "
                     "(max_depth %d, max_args %d, lengths %d..%d admit too few trees)",
                     GIVE_UP_ATTEMPTS, (long long)kept, (long long)total, o->max_depth, o->max_args,
                     o->min_length, o->max_length);
}

static void gen_state_init(gen_state *g, const lra_listops_gen_options *o) {
    memset(g, 0, sizeof *g);
    g->compat = o->compat_python != 0;
    g->max_depth = o->max_depth;
    g->max_args = o->max_args;
    g->limit = o->max_length;
    g->buf = lra_xmalloc((size_t)g->limit);
}

// Compat mode: one sequential Python-compatible stream, as the original script.
static lra_status generate_compat(const lra_listops_gen_options *o, collector *c) {
    gen_state g;
    gen_state_init(&g, o);
    lra_pyrandom_seed(&g.py, o->seed);
    lra_status st = LRA_OK;
    int64_t since_new = 0;
    while (c->rows->count < c->total) {
        if (since_new >= GIVE_UP_ATTEMPTS) {
            st = give_up(o, c->rows->count, c->total);
            break;
        }
        c->rows->attempts++;
        since_new++;
        g.len = 0;
        int value = gen_node(&g, 1);
        if (g.len <= o->min_length || g.len >= o->max_length) continue;
        if (collector_add(c, g.buf, g.len, value)) since_new = 0;
    }
    free(g.buf);
    return st;
}

// Philox mode: attempt a draws from its own stream, so chunks of attempts are sampled in parallel and
// merged in attempt order; the rows do not depend on the thread count.
#define CHUNK_ATTEMPTS 512

typedef struct {
    gen_state g;
    uint8_t *codes;     // the chunk's kept trees end to end
    size_t codes_cap, codes_used;
    int64_t *attempt;   // [n] attempt index of each kept tree
    int32_t *len;       // [n]
    uint8_t *value;     // [n]
    int64_t n, n_cap;
} chunk;

static void sample_chunk(const lra_listops_gen_options *o, chunk *ch, int64_t first) {
    ch->n = 0;
    ch->codes_used = 0;
    gen_state *g = &ch->g;
    for (int64_t a = first; a < first + CHUNK_ATTEMPTS; a++) {
        g->ph = lra_rng_make(o->seed, lra_rng_stream(LRA_LISTOPS_RNG_PURPOSE, (uint64_t)a, 0, 0));
        g->len = 0;
        g->stop = 0;
        int value = gen_node(g, 1);
        if (g->stop || g->len <= o->min_length || g->len >= o->max_length) continue;
        if (ch->n == ch->n_cap) {
            ch->n_cap = ch->n_cap ? 2 * ch->n_cap : 64;
            ch->attempt = lra_xrealloc(ch->attempt, (size_t)ch->n_cap * sizeof *ch->attempt);
            ch->len = lra_xrealloc(ch->len, (size_t)ch->n_cap * sizeof *ch->len);
            ch->value = lra_xrealloc(ch->value, (size_t)ch->n_cap);
        }
        if (ch->codes_used + (size_t)g->len > ch->codes_cap) {
            ch->codes_cap = 2 * ch->codes_cap + (size_t)g->len;
            ch->codes = lra_xrealloc(ch->codes, ch->codes_cap);
        }
        memcpy(ch->codes + ch->codes_used, g->buf, (size_t)g->len);
        ch->codes_used += (size_t)g->len;
        ch->attempt[ch->n] = a;
        ch->len[ch->n] = (int32_t)g->len;
        ch->value[ch->n] = (uint8_t)value;
        ch->n++;
    }
}

static lra_status generate_philox(const lra_listops_gen_options *o, collector *c) {
    int n_chunks = 4 * omp_get_max_threads();
    chunk *chunks = lra_xcalloc((size_t)n_chunks, sizeof *chunks);
    for (int k = 0; k < n_chunks; k++) gen_state_init(&chunks[k].g, o);
    lra_status st = LRA_OK;
    int64_t base = 0, last_new = -1;
    while (c->rows->count < c->total) {
        // Small requests need few attempts: grow the round from one chunk to all of them.
        int64_t want = (c->total - c->rows->count) * 16 / CHUNK_ATTEMPTS + 1;
        int n_round = want < n_chunks ? (int)want : n_chunks;
#pragma omp parallel for schedule(dynamic, 1)
        for (int k = 0; k < n_round; k++) sample_chunk(o, &chunks[k], base + (int64_t)k * CHUNK_ATTEMPTS);
        for (int k = 0; k < n_round && c->rows->count < c->total; k++) {
            const chunk *ch = &chunks[k];
            size_t off = 0;
            for (int64_t j = 0; j < ch->n && c->rows->count < c->total; j++) {
                if (collector_add(c, ch->codes + off, ch->len[j], ch->value[j])) {
                    last_new = ch->attempt[j];
                    c->rows->attempts = last_new + 1;
                }
                off += (size_t)ch->len[j];
            }
        }
        base += (int64_t)n_round * CHUNK_ATTEMPTS;
        if (c->rows->count < c->total && base - (last_new + 1) >= GIVE_UP_ATTEMPTS) {
            st = give_up(o, c->rows->count, c->total);
            break;
        }
    }
    for (int k = 0; k < n_chunks; k++) {
        free(chunks[k].g.buf);
        free(chunks[k].codes);
        free(chunks[k].attempt);
        free(chunks[k].len);
        free(chunks[k].value);
    }
    free(chunks);
    return st;
}

lra_status lra_listops_generate_rows(const lra_listops_gen_options *o, lra_listops_rows *rows) {
    memset(rows, 0, sizeof *rows);
    LRA_TRY(check_options(o));
    int64_t total = o->n_train + o->n_val + o->n_test;
    rows->n_train = o->n_train;
    rows->n_val = o->n_val;
    rows->n_test = o->n_test;
    collector c;
    collector_init(&c, rows, total, o->max_length);
    lra_status st = o->compat_python ? generate_compat(o, &c) : generate_philox(o, &c);
    collector_free(&c);
    if (st != LRA_OK) {
        lra_listops_rows_free(rows);
        return st;
    }
    if (o->compat_python) apply_python_order(rows, o->max_length);
    return LRA_OK;
}

void lra_listops_rows_free(lra_listops_rows *rows) {
    free(rows->offsets);
    free(rows->codes);
    free(rows->targets);
    memset(rows, 0, sizeof *rows);
}

// ---------------------------------------------------------------------------------------------------
// Serialization (§11.5): an operator with k arguments opens k+1 pairs, "( ( ... ( OP a1 ) a2 ) ... ak ) ] )".

size_t lra_listops_source(const uint8_t *codes, int64_t n, char **buf, size_t *cap) {
    // Layout of *buf: the text (at most 9 characters per code plus 2 per argument, so < 12 n + 16), then
    // an int32 scratch of 3 n words: the arity of each operator and a stack of (operator, argument count).
    size_t text_cap = ((size_t)n * 12u + 16u + 7u) & ~(size_t)7u;
    size_t need = text_cap + (size_t)n * 3u * sizeof(int32_t) + 16u;
    if (*cap < need || *buf == NULL) {
        *buf = lra_xrealloc(*buf, need);
        *cap = need;
    }
    char *out = *buf;
    int32_t *arity = (int32_t *)(void *)(out + text_cap), *pos = arity + n, *cnt = pos + n;

    int64_t depth = 0, n_ops = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t c = codes[i];
        LRA_ASSERT_MSG(c < LRA_LISTOPS_NUM_CODES, "listops code %d at %lld", c, (long long)i);
        if (c != LRA_LISTOPS_END && depth > 0) cnt[depth - 1]++;  // one more argument of the open operator
        if (c >= LRA_LISTOPS_MIN && c <= LRA_LISTOPS_SM) {
            pos[depth] = (int32_t)n_ops++;
            cnt[depth] = 0;
            depth++;
        } else if (c == LRA_LISTOPS_END) {
            LRA_ASSERT(depth > 0);
            depth--;
            arity[pos[depth]] = cnt[depth];
        }
    }
    LRA_ASSERT(depth == 0);

    // Second pass: write.  Fixed-size pieces are copied whole, a few bytes past the end at most; the
    // text bound above leaves room for that.
    static const char OPENS[] = "( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ";
    const size_t opens_pairs = (sizeof OPENS - 1) / 2;
    size_t w = 0;
    int64_t op_index = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t c = codes[i];
        if (c < 10) {
            if (depth > 0) {  // " d )": the argument closes its pair
                char piece[4] = {' ', (char)('0' + c), ' ', ')'};
                memcpy(out + w, piece, 4);
                w += 4;
            } else {
                out[w++] = (char)('0' + c);
            }
        } else if (c == LRA_LISTOPS_END) {
            depth--;
            memcpy(out + w, " ] ) )", 6);  // the node's closer, then the pair of its parent's argument
            w += depth > 0 ? 6 : 4;
        } else {
            if (depth > 0) out[w++] = ' ';
            size_t pairs = (size_t)arity[op_index++] + 1;
            while (pairs > 0) {
                size_t k = pairs < opens_pairs ? pairs : opens_pairs;
                memcpy(out + w, OPENS, 2 * k);
                w += 2 * k;
                pairs -= k;
            }
            memcpy(out + w, OP_NAMES4[c - LRA_LISTOPS_MIN], 4);
            w += c == LRA_LISTOPS_SM ? 3 : 4;
            depth++;
        }
    }
    LRA_ASSERT(w < text_cap);
    out[w] = '\0';
    return w;
}

// ---------------------------------------------------------------------------------------------------

// Rows are serialized in parallel, a batch of rows per task into the task's text buffer, and written in
// order.
#define WRITE_BATCH 64

typedef struct {
    char *text, *scratch;
    size_t text_cap, text_len, scratch_cap;
} text_batch;

static void serialize_batch(const lra_listops_rows *rows, int64_t r0, int64_t r1, text_batch *tb) {
    tb->text_len = 0;
    for (int64_t r = r0; r < r1; r++) {
        size_t l = lra_listops_source(rows->codes + rows->offsets[r], rows->offsets[r + 1] - rows->offsets[r],
                                      &tb->scratch, &tb->scratch_cap);
        if (tb->text_len + l + 4 > tb->text_cap) {
            tb->text_cap = 2 * tb->text_cap + l + 4;
            tb->text = lra_xrealloc(tb->text, tb->text_cap);
        }
        memcpy(tb->text + tb->text_len, tb->scratch, l);
        char tail[4] = {'\t', (char)('0' + rows->targets[r]), '\r', '\n'};
        memcpy(tb->text + tb->text_len + l, tail, 4);
        tb->text_len += l + 4;
    }
}

static lra_status write_split(const char *dir, const char *name, const lra_listops_rows *rows, int64_t first,
                              int64_t count, text_batch *tb, int n_tasks) {
    size_t plen = strlen(dir) + strlen(name) + 16;
    char *path = lra_xmalloc(plen);
    snprintf(path, plen, "%s/basic_%s.tsv", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        lra_status s = lra_error(LRA_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(path);
        return s;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    int ok = fputs("Source\tTarget\r\n", f) >= 0;
    const int64_t end = first + count;
    for (int64_t r0 = first; ok && r0 < end; r0 += (int64_t)n_tasks * WRITE_BATCH) {
        int64_t left = end - r0;
        int n_round = left >= (int64_t)n_tasks * WRITE_BATCH ? n_tasks : (int)((left + WRITE_BATCH - 1) / WRITE_BATCH);
#pragma omp parallel for schedule(dynamic, 1)
        for (int t = 0; t < n_round; t++) {
            int64_t a = r0 + (int64_t)t * WRITE_BATCH, b = a + WRITE_BATCH < end ? a + WRITE_BATCH : end;
            serialize_batch(rows, a, b, &tb[t]);
        }
        for (int t = 0; ok && t < n_round; t++) ok = fwrite(tb[t].text, 1, tb[t].text_len, f) == tb[t].text_len;
    }
    int err = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    lra_status s = LRA_OK;
    if (!ok) s = lra_error(LRA_ERR_IO, "%s: write failed: %s (disk full?)", path, strerror(err));
    free(path);
    return s;
}

lra_status lra_listops_write_tsv(const lra_listops_rows *rows, const char *out_dir) {
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST)
        return lra_error(LRA_ERR_IO, "%s: cannot create the output directory: %s", out_dir, strerror(errno));
    int n_tasks = 4 * omp_get_max_threads();
    text_batch *tb = lra_xcalloc((size_t)n_tasks, sizeof *tb);
    lra_status s = write_split(out_dir, "train", rows, 0, rows->n_train, tb, n_tasks);
    if (s == LRA_OK) s = write_split(out_dir, "val", rows, rows->n_train, rows->n_val, tb, n_tasks);
    if (s == LRA_OK)
        s = write_split(out_dir, "test", rows, rows->n_train + rows->n_val, rows->n_test, tb, n_tasks);
    for (int t = 0; t < n_tasks; t++) {
        free(tb[t].text);
        free(tb[t].scratch);
    }
    free(tb);
    return s;
}

lra_status lra_listops_generate(const lra_listops_gen_options *o, const char *out_dir) {
    lra_listops_rows rows;
    LRA_TRY(lra_listops_generate_rows(o, &rows));
    lra_status s = lra_listops_write_tsv(&rows, out_dir);
    lra_listops_rows_free(&rows);
    return s;
}

// ---------------------------------------------------------------------------------------------------
// Evaluation of a Source string.

typedef struct {
    int op;
    int64_t n, sum;
    int64_t counts[10];
} eval_frame;

lra_status lra_listops_eval(const char *src, size_t len, int *value) {
    enum { FIXED = 32 };
    eval_frame fixed[FIXED];
    eval_frame *fr = fixed;
    int64_t depth = 0, cap = FIXED, parens = 0, tok = 0;
    int have = 0, result = 0;
    lra_status st = LRA_OK;
    size_t i = 0;
    while (i < len) {
        if (src[i] == ' ') {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && src[i] != ' ') i++;
        size_t l = i - s;
        const char *t = src + s;
        int v = -1;
        tok++;
        if (l == 1 && t[0] == '(') {
            parens++;
            continue;
        } else if (l == 1 && t[0] == ')') {
            if (--parens < 0) {
                st = lra_error(LRA_ERR_FORMAT, "listops source: token %lld: ')' without a matching '('",
                               (long long)tok);
                break;
            }
            continue;
        } else if (l == 1 && t[0] >= '0' && t[0] <= '9') {
            v = t[0] - '0';
        } else if (l == 1 && t[0] == ']') {
            if (depth == 0) {
                st = lra_error(LRA_ERR_FORMAT, "listops source: token %lld: ']' without an open operator",
                               (long long)tok);
                break;
            }
            eval_frame *f = &fr[depth - 1];
            if (f->n == 0) {
                st = lra_error(LRA_ERR_FORMAT, "listops source: token %lld: operator %s has no arguments",
                               (long long)tok, OP_NAMES[f->op]);
                break;
            }
            v = op_value(f->op, f->counts, f->n, f->sum);
            depth--;
        } else {
            int op = -1;
            for (int k = 0; k < 4; k++)
                if (strlen(OP_NAMES[k]) == l && memcmp(OP_NAMES[k], t, l) == 0) op = k;
            if (op < 0) {
                st = lra_error(LRA_ERR_FORMAT,
                               "listops source: token %lld '%.*s': expected (, ), ], a digit, [MIN, [MAX, "
                               "[MED or [SM",
                               (long long)tok, (int)(l > 40 ? 40 : l), t);
                break;
            }
            if (depth == cap) {
                eval_frame *nf = lra_xmalloc((size_t)cap * 2 * sizeof *nf);
                memcpy(nf, fr, (size_t)depth * sizeof *nf);
                if (fr != fixed) free(fr);
                fr = nf;
                cap *= 2;
            }
            memset(&fr[depth], 0, sizeof fr[depth]);
            fr[depth].op = op;
            depth++;
            continue;
        }
        // a complete value: an argument of the open operator, or the whole expression
        if (depth > 0) {
            fr[depth - 1].counts[v]++;
            fr[depth - 1].n++;
            fr[depth - 1].sum += v;
        } else if (have) {
            st = lra_error(LRA_ERR_FORMAT, "listops source: token %lld: a second top-level expression",
                           (long long)tok);
            break;
        } else {
            have = 1;
            result = v;
        }
    }
    if (st == LRA_OK) {
        if (depth > 0)
            st = lra_error(LRA_ERR_FORMAT, "listops source: %lld operator(s) not closed by ']' at the end",
                           (long long)depth);
        else if (parens != 0)
            st = lra_error(LRA_ERR_FORMAT, "listops source: %lld '(' not closed at the end", (long long)parens);
        else if (!have)
            st = lra_error(LRA_ERR_FORMAT, "listops source: empty expression");
    }
    if (fr != fixed) free(fr);
    if (st == LRA_OK) *value = result;
    return st;
}
