#!/usr/bin/python3
"""Parity dump of the `reformer` kernel: a PyTorch transcription of Hugging Face's LSHSelfAttention
(transformers 4.5 modeling_reformer.py, wrapped by pkuzengqi/Skeinformer src/models/attention_reformer.py;
the same steps as /work/shared/bench/torch_ref.py's reformer_attn) with the LSH rotations given, so that the C
kernel can run with the same draws (attention/reformer.h).  Writes q (the shared query/key), v, mask,
rot [H, p, n_hashes, NB/2], the upstream gradient g, out = attention(q, v), dq and dv to
tests/fixtures/attn/reformer.safetensors (autograd gradients of sum(out * g)).

Usage: /usr/bin/python3 tools/ref/attn_reformer.py [OUT]
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attn_dump  # noqa: E402


def lsh_attention(u, v, mask, rot, chunk):
    """u, v [B, H, n, p]; mask [B, n]; rot [H, p, nh, NB/2] -> [B, H, n, p] (requires nh*n % chunk == 0)."""
    B, H, n, p = u.shape
    nh, nb = rot.shape[2], 2 * rot.shape[3]
    L = nh * n
    with torch.no_grad():  # hashing: constant
        y = torch.einsum("bhtd,hdkr->bhktr", u, rot)
        bk = torch.cat([y, -y], -1).argmax(-1)                      # [B, H, nh, n]
        if mask.sum() < mask.numel():                               # padding gets its own bucket
            bk, nb = torch.where(mask[:, None, None, :] > 0, bk, torch.tensor(nb)), nb + 1
        bk = (bk + torch.arange(nh)[:, None] * nb).flatten(2)
        idx = torch.argsort(bk * L + torch.arange(L), -1)           # stable sort by (round, bucket)
        undo = torch.empty_like(idx).scatter_(-1, idx, torch.arange(L).expand_as(idx))
        pos = idx % n
    gather = lambda t: t.gather(2, pos[..., None].expand(-1, -1, -1, p)).view(B, H, -1, chunk, p)
    prev_own = lambda t: torch.cat([t.roll(1, 2), t], 3)            # previous chunk (circular), own chunk
    q, vs = gather(u), gather(v)
    kn = q * torch.rsqrt(q.pow(2).mean(-1, keepdim=True) + 1e-6) / math.sqrt(p)
    qp = pos.view(B, H, -1, chunk)
    kp = prev_own(qp)
    s = q @ prev_own(kn).transpose(-1, -2)
    km = mask[:, None, :].expand(B, H, n).gather(2, kp.flatten(2)).view_as(kp)
    s = torch.where(km[..., None, :] > 0, s, torch.tensor(-1e9))
    s = torch.where(qp[..., :, None] != kp[..., None, :], s, torch.tensor(-1e5))
    lse = s.logsumexp(-1, keepdim=True)
    o = (torch.exp(s - lse) @ prev_own(vs)).view(B, H, L, p).gather(2, undo[..., None].expand(-1, -1, -1, p))
    lse = lse.view(B, H, L).gather(2, undo).view(B, H, nh, n, 1)
    return (o.view(B, H, nh, n, p) * torch.exp(lse - lse.logsumexp(2, keepdim=True))).sum(2)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/reformer.safetensors"
    B, H, n, p, nh, chunk = 2, 2, 32, 8, 2, 8
    nb = 2 ** ((2 * (n // chunk)).bit_length() - 1)                 # HF's num_buckets from the length
    g = torch.Generator().manual_seed(7)
    u = torch.randn(B, H, n, p, generator=g).requires_grad_()
    v = torch.randn(B, H, n, p, generator=g).requires_grad_()
    rot = torch.randn(H, p, nh, nb // 2, generator=g)
    mask = torch.ones(B, n)
    mask[1, 27:] = 0
    up = torch.randn(B, H, n, p, generator=g)
    # The bucket decisions must not be near ties (float32 rounding in C could flip them).
    y = torch.einsum("bhtd,hdkr->bhktr", u.detach(), rot)
    yy = torch.cat([y, -y], -1).sort(-1, descending=True).values
    margin = (yy[..., 0] - yy[..., 1]).min().item()
    assert margin > 1e-3, margin
    o = lsh_attention(u, v, mask, rot, chunk)
    (o * up).sum().backward()
    attn_dump.write(out, {"q": u.detach(), "v": v.detach(), "mask": mask, "rot": rot, "g": up,
                          "out": o.detach(), "dq": u.grad, "dv": v.grad},
                    {"n_hashes": nh, "chunk_length": chunk, "num_buckets": nb, "margin": f"{margin:.4g}"})
    print(f"wrote {out}: B {B} H {H} n {n} p {p} n_hashes {nh} chunk {chunk} NB {nb}, bucket margin {margin:.3g}")


if __name__ == "__main__":
    main()
