#!/usr/bin/env python3
"""PyTorch transcription of BigBird's block-sparse attention as the Skeinformer repo runs it
(pkuzengqi/Skeinformer src/models/attention_bigbird.py, a copy of HF's BigBirdBlockSparseAttention):
query blocks 0 and nb-1 attend to all keys; block 1 to key blocks [0, 1, 2, nb-1] + random; blocks
2..nb-3 to [i-1, i, i+1] + random + [0] + [nb-1]; block nb-2 to [0, nb-3, nb-2, nb-1] + random; each
as one softmax over the gathered keys with -10000 on padded keys; the output is multiplied by the
query mask.  HF computes the five parts with separate batched products; here each query block is one
gathered product (the same key sets and logits).  The random blocks are drawn here (numpy seed 0, the
intended rule of docs/kernels/bigbird.md) and stored as rand_blocks [H, nb-2, r] for the C test to inject.

Writes tests/fixtures/attn/bigbird.safetensors.
Usage: /usr/bin/python3 tools/ref/attn_bigbird.py [OUT]
"""
import sys

import numpy as np
import torch

import attn_sparse_common as C


def draw_blocks(nb, r, heads, seed=0):
    rs = np.random.RandomState(seed)
    R = np.full((heads, nb - 2, r), -1, dtype=np.int32)
    for h in range(heads):
        for i in range(1, nb - 1):
            bad = {i - 1, i, i + 1, 0, nb - 1} | ({nb - 2} if i == 1 else set()) | ({1} if i == nb - 2 else set())
            cand = np.array([j for j in range(nb) if j not in bad])
            pick = cand[rs.permutation(len(cand))[:r]]
            R[h, i - 1, : len(pick)] = pick
    return R


def bigbird_attention(q, k, v, mask, bs, R):
    Bn, Hn, n, p = q.shape
    nb = n // bs
    outs = []
    for h in range(Hn):
        rows = []
        for i in range(nb):
            qb = q[:, h, i * bs:(i + 1) * bs]
            if i == 0 or i == nb - 1:
                blocks = list(range(nb))
            elif i == 1:
                blocks = [0, 1, 2, nb - 1] + list(R[h, 0])
            elif i == nb - 2:
                blocks = [0, nb - 3, nb - 2, nb - 1] + list(R[h, nb - 3])
            else:
                blocks = [i - 1, i, i + 1] + list(R[h, i - 1]) + [0, nb - 1]
            cols = torch.cat([torch.arange(j * bs, (j + 1) * bs) for j in blocks])
            s = qb @ k[:, h, cols].transpose(-1, -2) / p ** 0.5 + (1.0 - mask[:, None, cols]) * -10000.0
            rows.append(torch.softmax(s, -1) @ v[:, h, cols])
        outs.append(torch.cat(rows, 1))
    return torch.stack(outs, 1) * mask[:, None, :, None]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/bigbird.safetensors"
    n, bs, r = 64, 8, 2
    R = draw_blocks(n // bs, r, C.H)
    q, k, v, mask, grad = C.inputs(n, 45, seed=14)
    res = C.run(lambda a, b, c, m: bigbird_attention(a, b, c, m, bs, R), q, k, v, mask, grad)
    tens = C.tensors("", q, k, v, mask, grad, res)
    tens["rand_blocks"] = R
    C.write_safetensors(out, tens, {"n": n, "block_size": bs, "num_random_blocks": r})


if __name__ == "__main__":
    main()
