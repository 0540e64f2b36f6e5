#!/usr/bin/env python3
"""Parity fixture for `h_transformer_1d`: a transcription of HAttention1D.forward
(github:lucidrains/h-transformer-1d, h_transformer_1d/h_transformer_1d.py) from the scaled q, k, v on
(einops rearrange/repeat written as reshapes), float64, with three switches for the C defaults:
  full_levels      log2(N/b) sibling levels instead of the reference's log2(N/b) - 1;
  consistent_max   every level rescaled to the row's overall maximum; all-masked rows weigh nothing;
  counted_norm     a coarse key counts its real tokens in the normaliser.
With all three off it is the reference as written (case 0, padded to 32 from 24).

Usage: /usr/bin/python3 tools/ref/attn_h_transformer_1d.py [OUT]
(default tests/fixtures/attn/h_transformer_1d.safetensors)"""
from math import ceil, log2
import sys

import torch
import torch.nn.functional as F

from attn_fixture import inputs, run_case, write


def masked_aggregate(tensor, mask, dim=-1, average=True):
    diff_len = len(tensor.shape) - len(mask.shape)
    mask = mask[(..., *((None,) * diff_len))]
    tensor = tensor.masked_fill(~mask, 0.)
    total_el = mask.sum(dim=dim)
    agg = tensor.sum(dim=dim)
    if average:
        agg = agg / total_el.clamp(min=1.)
    agg = agg.masked_fill(total_el == 0, 0.)
    return agg


def flip_every_two(t):
    s = t.shape
    t = t.reshape(s[0], s[1] // 2, 2, *s[2:])
    t = torch.flip(t, dims=(2,))
    return t.reshape(s)


def h_attention(q, k, v, mask, bsz, eps=1e-8, full_levels=False, consistent_max=False, counted_norm=False):
    """q, k, v: [(b h), n, d] (q already scaled by d^-1/2); mask: bool [(b h), n]."""
    bh, n, d = q.shape
    pad_to_len = 2 ** ceil(log2(n))
    padding = pad_to_len - n
    if padding != 0:
        q, k, v = (F.pad(t, (0, 0, 0, padding), value=0.) for t in (q, k, v))
        mask = F.pad(mask, (0, padding), value=False)
    num_levels = int(log2(pad_to_len // bsz)) - 2 + (1 if full_levels else 0)
    assert num_levels >= 0
    count = mask.to(q.dtype)
    qkvs = [(q, k, v, mask, count)]
    for level in range(num_levels):
        q, k, v = (t.reshape(bh, t.shape[1] // 2, 2, d) for t in (q, k, v))
        mask2 = mask.reshape(bh, -1, 2)
        q = masked_aggregate(q, mask2, dim=2)
        k = masked_aggregate(k, mask2, dim=2)
        v = masked_aggregate(v, mask2, dim=2, average=False)
        count = (count.reshape(bh, -1, 2) * mask2).sum(2)
        mask = torch.any(mask2, dim=2)
        qkvs.append((q, k, v, mask, count))
    qkvs = [qkvs[0], *qkvs]

    def to_blocks(t):
        return t.reshape(t.shape[0], t.shape[1] // bsz, bsz, *t.shape[2:])

    Ys = []
    for ind, (q, k, v, mask, count) in enumerate(reversed(qkvs)):
        is_last = ind == (len(qkvs) - 1)
        q, k, v, count = map(to_blocks, (q, k, v, count))
        mask = to_blocks(mask)
        q_mask = mask
        k_mask = flip_every_two(mask) if not is_last else mask
        if consistent_max:  # rows are masked by their keys only
            q_mask = torch.ones_like(mask)
        S_mask = q_mask[..., :, None] & k_mask[..., None, :]
        if not is_last:
            k, v, count = map(flip_every_two, (k, v, count))
        S = torch.einsum('... i d, ... j d -> ... i j', q, k)
        if consistent_max:
            S = S.masked_fill(~S_mask, -float('inf'))
            mx = torch.max(S, dim=-1, keepdim=True).values.detach()
            A = torch.exp(S - torch.where(torch.isinf(mx), torch.zeros_like(mx), mx))
        else:
            S = S.masked_fill(~S_mask, -torch.finfo(S.dtype).max)
            mx = torch.max(S, dim=-1, keepdim=True).values
            A = torch.exp(S - mx)
        y = torch.einsum('... i j, ... j d -> ... i d', A, v).reshape(bh, -1, d)
        a = (A * count[..., None, :]).sum(-1) if counted_norm and not is_last else A.sum(dim=-1)
        Ys.append((y, a.reshape(bh, -1), mx.reshape(bh, -1)))

    if consistent_max:  # rescale every level to the row's overall maximum
        N = pad_to_len
        ups = []
        for ind, (y, a, mx) in enumerate(Ys):
            r = N // y.shape[1]
            ups.append((y.repeat_interleave(r, 1), a.repeat_interleave(r, 1), mx.repeat_interleave(r, 1)))
        M = torch.stack([u[2] for u in ups]).max(0).values
        Y = sum(u[0] * torch.where(torch.isinf(u[2]), torch.zeros_like(M), torch.exp(u[2] - M))[..., None] for u in ups)
        A = sum(u[1] * torch.where(torch.isinf(u[2]), torch.zeros_like(M), torch.exp(u[2] - M)) for u in ups)
    else:
        Y, A = 0, 0
        for ind, (Y_level, A_level, _) in enumerate(Ys):
            is_last = ind == (len(Ys) - 1)
            if not is_last and torch.is_tensor(Y):
                Y = Y.repeat_interleave(2, 1)
            if not is_last and torch.is_tensor(A):
                A = A.repeat_interleave(2, 1)
            Y = Y_level + Y
            A = A_level + A
    out = Y / (A + eps)[..., None]
    return out[:, :n]


def make(bsz, **flags):
    def fn(q, k, v, mask, ps):
        B, H, n, p = q.shape
        m = (mask != 0)[:, None, :].expand(B, H, n).reshape(B * H, n)
        o = h_attention((q * p ** -0.5).reshape(B * H, n, p), k.reshape(B * H, n, p), v.reshape(B * H, n, p), m, bsz,
                        **flags)
        return o.reshape(B, H, n, p)
    return fn


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/h_transformer_1d.safetensors"
    ref = "reference_levels=true,per_level_max=true,reference_normaliser=true"
    dflt = dict(full_levels=True, consistent_max=True, counted_norm=True)
    cases = [(ref + ",block_size=2", run_case(make(2), *inputs(31, 2, 2, 24, 8, [24, 13]), {})),
             ("block_size=2", run_case(make(2, **dflt), *inputs(32, 2, 2, 24, 8, [24, 13]), {})),
             ("block_size=4", run_case(make(4, **dflt), *inputs(33, 2, 2, 32, 8, [27, 32]), {}))]
    write(out, "h_transformer_1d", cases)


if __name__ == "__main__":
    main()
