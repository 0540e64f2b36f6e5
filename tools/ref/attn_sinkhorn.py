#!/usr/bin/python3
"""Parity dump of the `sinkhorn` kernel.  Two cases, each with forward and autograd gradients of
sum(out * g) with respect to q, k, v and the sorting network (W [nb, p], c [nb]):

  ref.*  a line-by-line PyTorch transcription of LRA's SinkhornAttention core
         (google-research/long-range-arena lra_benchmarks/models/sinkhorn_transformer/sinkhorn_attention.py:
         strided block reshape, DenseGeneral sorting network on the block sums, non-causal sinkhorn_operator
         with its clip, the einsum 'bskhd,bnhl->bsnhd', two separately normalised local attentions summed),
         with H = 1 and no padding, where the C kernel's reference switches (clip=1, separate_softmax,
         block_sum, strided_blocks) reproduce it exactly;
  def.*  the kernel's default semantics (padded K/V zeroed, contiguous blocks, sorted blocks P K', one
         softmax over own + sorted keys), B 2, H 2, with padding.

Writes tests/fixtures/attn/sinkhorn.safetensors.  Usage: /usr/bin/python3 tools/ref/attn_sinkhorn.py [OUT]
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attn_dump  # noqa: E402


def sinkhorn_operator(log_alpha, n_iters, temp, clip):
    """LRA's non-causal sinkhorn_operator: rows then columns normalised in log space, clipped, exp."""
    n = log_alpha.shape[1]
    la = log_alpha.reshape(-1, n, n) / temp
    for _ in range(n_iters):
        la = la - torch.logsumexp(la, 2, keepdim=True)
        la = la - torch.logsumexp(la, 1, keepdim=True)
    return torch.exp(torch.clamp(la, -clip, clip))


def local_attention(q, k, v):
    """LRA local_dot_product_attention over axis 1 of [bs, block, nb, h, d] (no bias, no dropout)."""
    q = q / math.sqrt(q.shape[-1])
    w = torch.softmax(torch.einsum("bsnhd,btnhd->bnhst", q, k), -1)
    return torch.einsum("bnhst,btnhd->bsnhd", w, v)


def lra_reference(q, k, v, W, c, block, iters, temp, clip):
    """q, k, v [bs, n, h, d] (LRA layout), W [nb, d], c [nb] -> [bs, n, h, d]; full mask."""
    bs, n, h, d = q.shape
    nb = n // block
    bq, bk, bv = (t.reshape(bs, block, nb, h, d) for t in (q, k, v))
    sum_key = bk.sum(1)                                              # [bs, nb, h, d]
    sort_out = sum_key @ W.t() + c                                   # DenseGeneral(d -> max_num_blocks = nb)
    perm = sinkhorn_operator(sort_out.reshape(-1, nb, nb), iters, temp, clip).reshape(-1, nb, h, nb)
    sk = torch.einsum("bskhd,bnhl->bsnhd", bk, perm)
    sv = torch.einsum("bskhd,bnhl->bsnhd", bv, perm)
    x = local_attention(bq, bk, bv) + local_attention(bq, sk, sv)
    return x.reshape(bs, n, h, d)


def default_variant(q, k, v, mask, W, c, block, iters, temp):
    """The kernel's defaults: q, k, v [B, H, n, p], mask [B, n] -> [B, H, n, p]."""
    B, H, n, p = q.shape
    nb = n // block
    m = mask[:, None, :, None]
    kb, vb = (k * m).reshape(B, H, nb, block, p), (v * m).reshape(B, H, nb, block, p)
    qb = q.reshape(B, H, nb, block, p)
    la = (kb.sum(3) @ W.t() + c) / temp                              # [B, H, nb, nb]
    for _ in range(iters):
        la = torch.log_softmax(la, -1)
        la = torch.log_softmax(la, -2)
    P = torch.exp(la)
    ks = (P @ kb.reshape(B, H, nb, -1)).reshape(B, H, nb, block, p)
    vs = (P @ vb.reshape(B, H, nb, -1)).reshape(B, H, nb, block, p)
    mb = mask.reshape(B, 1, nb, 1, block) > 0
    anyj = mb.any(2, keepdim=True).expand_as(mb)
    s = torch.cat([qb @ kb.transpose(-1, -2), qb @ ks.transpose(-1, -2)], -1) / math.sqrt(p)
    s = s.masked_fill(~torch.cat([mb, anyj], -1), float("-inf"))
    return (torch.softmax(s, -1) @ torch.cat([vb, vs], 3)).reshape(B, H, n, p)


def case(prefix, B, H, n, p, block, gen, fn, mask):
    nb = n // block
    q, k, v = (torch.randn(B, H, n, p, generator=gen).requires_grad_() for _ in range(3))
    W = (torch.randn(nb, p, generator=gen) / math.sqrt(p)).requires_grad_()
    c = (0.1 * torch.randn(nb, generator=gen)).requires_grad_()
    g = torch.randn(B, H, n, p, generator=gen)
    o = fn(q, k, v, mask, W, c)
    (o * g).sum().backward()
    return {f"{prefix}.{name}": t.detach() for name, t in
            dict(q=q, k=k, v=v, mask=mask, W=W, c=c, g=g, out=o, dq=q.grad, dk=k.grad, dv=v.grad,
                 dW=W.grad, dc=c.grad).items()}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/sinkhorn.safetensors"
    gen = torch.Generator().manual_seed(11)
    meta = dict(ref_B=2, ref_H=1, ref_n=32, ref_p=8, ref_block=8, ref_iters=2, ref_temp=0.75, ref_clip=1.0,
                def_B=2, def_H=2, def_n=32, def_p=8, def_block=8, def_iters=3, def_temp=0.75)
    lra = lambda q, k, v, mask, W, c: lra_reference(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), W, c, 8,
                                                    2, 0.75, 1.0).transpose(1, 2)
    ts = case("ref", 2, 1, 32, 8, 8, gen, lra, torch.ones(2, 32))
    mask = torch.ones(2, 32)
    mask[1, 21:] = 0
    ts.update(case("def", 2, 2, 32, 8, 8, gen, lambda q, k, v, m, W, c: default_variant(q, k, v, m, W, c, 8, 3, 0.75),
                   mask))
    attn_dump.write(out, ts, meta)
    print(f"wrote {out}: {len(ts)} tensors")


if __name__ == "__main__":
    main()
