#!/usr/bin/env python3
"""PyTorch transcription of LRA's Sparse Transformer attention (google-research/long-range-arena,
lra_benchmarks/models/sparse_transformer/sparse_attention.py): build_mask merges the patterns with a
logical or (every pattern causal: k <= q), the padding mask is and-ed in, disallowed logits get -1e10,
one softmax.  "fixed" = [Fixed1Pattern(l), Fixed2Pattern(l, c)] (the LRA default with l = 128, c = 32);
"strided" = [LocalPattern(bandwidth=l), StridedPattern(stride=l)].

Writes tests/fixtures/attn/sparse.safetensors (prefixes "fixed." and "strided.").
Usage: /usr/bin/python3 tools/ref/attn_sparse.py [OUT]
"""
import sys

import numpy as np
import torch

import attn_sparse_common as C


def build_mask(n, kind, l, c):
    r = np.arange(n)
    qi, kj = r[:, None], r[None, :]
    lower = kj <= qi
    if kind == "fixed":
        fixed1 = (qi // l) == (kj // l)
        rem = np.remainder(kj, l)
        fixed2 = np.broadcast_to((rem == 0) | (rem >= l - c), (n, n))
        return (fixed1 & lower) | (fixed2 & lower)
    ctx = min(n - 1, l - 1)
    local = sum(np.eye(n, k=-i) for i in range(ctx + 1)) > 0
    strided = (np.remainder(qi - kj, l) == 0) & lower
    return local | strided


def sparse_attention(q, k, v, mask, kind, l, c):
    n = q.shape[2]
    allowed = torch.from_numpy(build_mask(n, kind, l, c))[None, None]
    allowed = allowed & (mask[:, None, None, :] > 0)  # key padding (query side only matters for padded rows)
    return C.masked_softmax_attention(q, k, v, allowed, -1e10)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/sparse.safetensors"
    n = 48
    q, k, v, mask, grad = C.inputs(n, 37, seed=12)
    tens = {}
    for name, kind, l, c in (("fixed.", "fixed", 8, 2), ("strided.", "strided", 6, 0)):
        res = C.run(lambda a, b, cc, m: sparse_attention(a, b, cc, m, kind, l, c), q, k, v, mask, grad)
        tens.update(C.tensors(name, q, k, v, mask, grad, res, with_inputs=not tens))
    C.write_safetensors(out, tens, {"n": n, "fixed_block_size": 8, "fixed_c": 2, "strided_block_size": 6})


if __name__ == "__main__":
    main()
