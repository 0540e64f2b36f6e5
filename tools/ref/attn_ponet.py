#!/usr/bin/env python3
"""Parity dump for `ponet` (tests/fixtures/attn/ponet.safetensors).

Reference: github:lxchtan/PoNet examples/LRA/code/attention_ponet.py (PoNetAttention) and the LRA
wiring in examples/LRA/code/attention.py (Attention: W_q, W_k, W_v, W_local, W_segment, ff), transcribed
below (float64).  Deviation of the C kernel: padded keys of the global pooling get -inf, not -10000
(the same probabilities unless a whole example is padding).

Usage: /usr/bin/python3 tools/ref/attn_ponet.py
"""
import math

import torch

from attn_mixers_common import finish, inputs, params

B, n, H, p, S = 2, 16, 2, 4, 3
D = H * p


def split_heads(X):
    return X.reshape(X.size(0), X.size(1), H, p).transpose(1, 2)


def segment_index(batch, length, segment_num):
    seg_len = length // segment_num + 1  # the reference's rule
    idx = torch.arange(segment_num).view(1, segment_num, 1).repeat(1, 1, seg_len).view(1, -1)[:, :length]
    return idx.repeat(batch, 1)


def segment_max(src, index):
    out = torch.zeros_like(src).scatter_reduce(1, index.unsqueeze(-1).expand_as(src), src, reduce="amax",
                                               include_self=False)
    return torch.gather(out, 1, index.unsqueeze(-1).expand(*index.shape[:2], out.size(-1)))


def ponet_reference(X, mask, P):
    lin = lambda name, t: torch.nn.functional.linear(t, P[name + ".weight"], P[name + ".bias"])
    Q, K, O = split_heads(lin("W_q", X)), split_heads(lin("W_k", X)), split_heads(lin("W_v", X))
    local, segment = lin("W_local", X), lin("W_segment", X)
    pad = mask[:, None, :, None] < 0.5
    Q = Q.masked_fill(pad, 0.0)
    q = Q.sum(dim=-2) / torch.ones_like(pad, dtype=Q.dtype).masked_fill(pad, 0.0).sum(dim=-2)
    att = torch.einsum("bdh,bdlh->bdl", q, K) / math.sqrt(p)
    att = att.masked_fill(pad.squeeze(-1), -10000)
    v = torch.einsum("bdlh,bdl->bdh", K, att.softmax(dim=-1))
    pad2 = pad.squeeze(1)
    segment = segment.masked_fill(pad2, -10000)
    local = local.masked_fill(pad2, -10000)
    local = torch.nn.functional.max_pool1d(local.permute(0, 2, 1), 3, stride=1, padding=1).permute(0, 2, 1)
    segment = segment_max(segment, segment_index(X.shape[0], X.shape[1], S))
    ctx = (v.unsqueeze(-2) + split_heads(segment)) * O + split_heads(local)
    ctx = ctx.permute(0, 2, 1, 3).reshape(X.shape[0], X.shape[1], -1).masked_fill(pad2, 0.0)
    return lin("ff", ctx)


def main():
    x, mask, dout = inputs(B, n, D, [16, 11], seed=21)
    x.requires_grad_(True)
    shapes = {}
    for name in ["W_q", "W_k", "W_v", "W_local", "W_segment", "ff"]:
        shapes[name + ".weight"] = (D, D)
        shapes[name + ".bias"] = (D,)
    P = params(shapes, seed=22, scale=0.5)
    out = ponet_reference(x, mask, P)
    finish("ponet", x, mask, dout, out, P, {"kernel": "ponet", "heads": H, "head_dim": p, "opts": f"segment_num={S}"})


if __name__ == "__main__":
    main()
