// The ListOps generator (data.md §11): random [MIN/[MAX/[MED/[SM expression trees over the digits 0-9,
// kept when 500 < length < 2000, de-duplicated, split into train/val/test and written in the LRA
// release format (basic_{train,val,test}.tsv, header "Source\tTarget", CRLF).
//
// Two random-number modes:
// - default: the project's Philox generator.  Root attempt a draws from its own stream
//   (seed, lra_rng_stream(LRA_LISTOPS_RNG_PURPOSE, a, 0, 0)), so an attempt stops drawing as soon as
//   it is too long, and chunks of attempts are sampled in parallel (OpenMP) and merged in attempt
//   order: the rows do not depend on the thread count.  Rows are split in generation order: the first
//   n_train distinct kept trees are train, the next n_val validation, the rest test (the trees are
//   i.i.d., so this is a random split).
// - compat_python: an emulation of CPython's `random` (data/pyrandom.h) driven exactly as the original
//   script drives it, so seed s gives the trees of `random.seed(s)`.  The rows are then split in the
//   iteration order of the script's Python set, emulated for CPython >= 3.11 with PYTHONHASHSEED=0
//   (siphash13 string hashes, tuple hashes, set probing and resizing): at seed 0 with sizes 2000/200/200
//   the three files equal the sample files in shared/data/listops byte for byte.
#ifndef LRA_DATA_LISTOPS_GEN_H
#define LRA_DATA_LISTOPS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

// Token codes of a tree in prefix order without parentheses: digits 0-9 are themselves, then the
// operators and the closer.  A node [OP a b c] is OP a b c END.
enum {
    LRA_LISTOPS_MIN = 10,
    LRA_LISTOPS_MAX = 11,
    LRA_LISTOPS_MED = 12,
    LRA_LISTOPS_SM = 13,
    LRA_LISTOPS_END = 14,
    LRA_LISTOPS_NUM_CODES = 15
};

// Purpose id of the generator's Philox streams.
#define LRA_LISTOPS_RNG_PURPOSE 0x4C4F5053u  // "LOPS"

typedef struct {
    uint64_t seed;
    int64_t n_train, n_val, n_test;  // distinct rows per split (defaults 96000 / 2000 / 2000)
    int compat_python;               // 1: CPython `random` emulation and Python set order (see above)
    int max_depth;                   // leaves only at this depth (default 10, at most 64)
    int max_args;                    // arguments per operator: 2..max_args (default 10)
    int min_length, max_length;      // keep a tree iff min_length < length < max_length (500, 2000);
                                     // length counts operators, ']' and digits, not parentheses
} lra_listops_gen_options;

// The rows of one generated set, train rows first, then validation, then test.
typedef struct {
    int64_t count;                   // n_train + n_val + n_test
    int64_t n_train, n_val, n_test;
    int64_t *offsets;                // [count + 1]
    uint8_t *codes;                  // row i: codes[offsets[i] .. offsets[i + 1]) (LRA_LISTOPS_* codes)
    uint8_t *targets;                // [count]: the value of each row, 0-9
    int64_t attempts;                // root trees drawn, kept or not
} lra_listops_rows;

void lra_listops_gen_defaults(lra_listops_gen_options *o);

// Generates the rows in memory.  LRA_ERR_ARG for invalid options, or when the options admit too few
// distinct trees (no new one in 10 million attempts).
lra_status lra_listops_generate_rows(const lra_listops_gen_options *o, lra_listops_rows *rows);
void lra_listops_rows_free(lra_listops_rows *rows);

// Writes <out_dir>/basic_{train,val,test}.tsv (out_dir is created if missing).
lra_status lra_listops_write_tsv(const lra_listops_rows *rows, const char *out_dir);

// generate_rows + write_tsv.
lra_status lra_listops_generate(const lra_listops_gen_options *o, const char *out_dir);

// The Source string of the tree codes[0..n) into *buf (grown with lra_xrealloc as needed, may start
// NULL/0), NUL-terminated; returns its length.  The codes must form one well-formed tree.
size_t lra_listops_source(const uint8_t *codes, int64_t n, char **buf, size_t *cap);

// Evaluates a Source string (src[0..len), tokens separated by single or repeated spaces) to its
// Target: MIN, MAX, (sum mod 10) and the median truncated to an integer.  LRA_ERR_FORMAT with the
// token position for anything malformed (unknown token, unbalanced parentheses or brackets, an
// operator without arguments, more than one top-level expression).
lra_status lra_listops_eval(const char *src, size_t len, int *value);

// The iteration order of a CPython 3.11 set (setobject.c: linear probes of 9, perturbed jumps, growth
// to used*4 slots, used*2 above 50000) built by adding n distinct objects whose hashes are
// hashes[0..n), in that order.  order: [n] receives the indices 0..n-1 in iteration order.
void lra_listops_python_set_order(const uint64_t *hashes, int64_t n, int64_t *order);

#endif
