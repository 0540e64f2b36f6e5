#!/usr/bin/env python3
"""PyTorch transcription of LRA's local attention (google-research/long-range-arena,
lra_benchmarks/models/local/local_attention.py, LocalAttention.apply + local_dot_product_attention):
pad the sequence by block_size - n % block_size, reshape into blocks, softmax(q k^T/sqrt(p) + bias) v
inside each block with bias -1e10 on padded keys, drop the padding.  The default reshape is the
intended one ([n_blocks, block_size]: contiguous blocks); `strided` is the reference's own reshape
([block_size, n_blocks], attention along block_size), i.e. the C option strided_reshape.  Positions
added by the padding are treated as padding (the reference's padded mask makes them attendable).

Writes tests/fixtures/attn/local.safetensors (prefixes "contig." and "strided.").
Usage: /usr/bin/python3 tools/ref/attn_local.py [OUT]
"""
import sys

import torch
import torch.nn.functional as F

import attn_sparse_common as C


def local_attention(q, k, v, mask, bs, strided):
    Bn, Hn, n, p = q.shape
    extra = bs - n % bs
    qp, kp, vp = (F.pad(t, (0, 0, 0, extra)) for t in (q, k, v))
    mp = F.pad(mask, (0, extra))
    nb = (n + extra) // bs
    if strided:   # reference: reshape [n_pad] -> [block_size, nb], attend along block_size
        blk = lambda t: t.reshape(Bn, Hn, bs, nb, p).transpose(2, 3)
        mb = mp.reshape(Bn, bs, nb).transpose(1, 2)
    else:
        blk = lambda t: t.reshape(Bn, Hn, nb, bs, p)
        mb = mp.reshape(Bn, nb, bs)
    qb, kb, vb = blk(qp), blk(kp), blk(vp)
    s = qb @ kb.transpose(-1, -2) / p ** 0.5 + (1 - mb[:, None, :, None, :]) * -1e10
    o = torch.softmax(s, -1) @ vb
    o = o.transpose(2, 3).reshape(Bn, Hn, n + extra, p) if strided else o.reshape(Bn, Hn, n + extra, p)
    return o[:, :, :n]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/local.safetensors"
    n, bs = 44, 8
    q, k, v, mask, grad = C.inputs(n, 31, seed=11)
    tens = {}
    for name, strided in (("contig.", False), ("strided.", True)):
        res = C.run(lambda a, b, c, m: local_attention(a, b, c, m, bs, strided), q, k, v, mask, grad)
        tens.update(C.tensors(name, q, k, v, mask, grad, res, with_inputs=not tens))
    C.write_safetensors(out, tens, {"n": n, "block_size": bs})


if __name__ == "__main__":
    main()
