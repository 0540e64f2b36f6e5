#!/usr/bin/env python3
"""Parity dump for `luna` (tests/fixtures/attn/luna.safetensors): two layers chained through the carried
packed sequence.

Reference: github:XuezheMax/fairseq-apollo fairseq/modules/luna_attention.py (LunarMultiheadAttention,
untied k/v: pq/pk/pv/q/k/v/out_proj), fairseq/modules/luna_sentence_encoder.py (LunaSentenceEncoderLayer
with normalize_before: px is LayerNorm'ed before the attention and the packed context is added to it)
and fairseq/models/lra/luna_lra_encoder.py (first px = projected_embeddings * sqrt(D) + sinusoidal
positions; dynamic projection: packed rows beyond an example's length are zeroed and masked), transcribed
below (float64; dropout 0).

Layer 0 gets the first px, layer 1 the carry of layer 0; both read the same x (the blocks between them
are not part of the kernel).  The loss is sum(out1 * dout) + sum(carry2 * dcarry).

Usage: /usr/bin/python3 tools/ref/attn_luna.py
"""
import math

import torch

from attn_mixers_common import finish, inputs, params

B, n, H, p, L = 2, 16, 2, 4, 5
D = H * p


def sinusoid(length, dim):
    half = dim // 2
    e = math.log(10000) / (half - 1)
    e = torch.exp(torch.arange(half, dtype=torch.float) * -e)
    e = torch.arange(length, dtype=torch.float).unsqueeze(1) * e.unsqueeze(0)
    e = torch.cat([torch.sin(e), torch.cos(e)], dim=1).view(length, -1)
    if dim % 2 == 1:
        e = torch.cat([e, torch.zeros(length, 1)], dim=1)
    return e.double()


def heads(t):  # [B, m, D] -> [B*H, m, p]
    return t.reshape(t.shape[0], t.shape[1], H, p).transpose(1, 2).reshape(t.shape[0] * H, t.shape[1], p)


def unheads(t, b):  # [B*H, m, p] -> [B, m, D]
    return t.reshape(b, H, t.shape[1], p).transpose(1, 2).reshape(b, t.shape[1], D)


def luna_layer(x, px, x_pad, px_pad, P, pre):
    lin = lambda name, t: torch.nn.functional.linear(t, P[pre + name + ".weight"], P[pre + name + ".bias"])
    b = x.shape[0]
    pxn = torch.nn.functional.layer_norm(px, (D,), P[pre + "proj_norm.weight"], P[pre + "proj_norm.bias"], 1e-5)
    # pack (_compute_pcontext)
    pq = heads(lin("pq_proj", pxn)) * p ** -0.5
    pk, pv = heads(lin("pk_proj", x)), heads(lin("pv_proj", x))
    s = torch.bmm(pq, pk.transpose(1, 2)).view(b, H, L, n)
    s = s.masked_fill(x_pad[:, None, None, :], float("-inf")).view(b * H, L, n)
    pc = unheads(torch.bmm(torch.softmax(s, dim=-1), pv), b)
    # unpack
    q = heads(lin("q_proj", x)) * p ** -0.5
    k, v = heads(lin("k_proj", pc)), heads(lin("v_proj", pc))
    s = torch.bmm(q, k.transpose(1, 2)).view(b, H, n, L)
    s = s.masked_fill(px_pad[:, None, None, :], float("-inf")).view(b * H, n, L)
    out = lin("out_proj", unheads(torch.bmm(torch.softmax(s, dim=-1), v), b))
    return out, px + pc


def main():
    lengths = [16, 3]  # example 1 is shorter than L: the dynamic projection masks packed rows 3, 4
    x, mask, dout = inputs(B, n, D, lengths, seed=31)
    x.requires_grad_(True)
    shapes = {"l0.projected_embeddings": (L, D)}
    for pre in ["l0.", "l1."]:
        shapes[pre + "proj_norm.weight"] = (D,)
        shapes[pre + "proj_norm.bias"] = (D,)
        for name in ["pq_proj", "pk_proj", "pv_proj", "q_proj", "k_proj", "v_proj", "out_proj"]:
            shapes[pre + name + ".weight"] = (D, D)
            shapes[pre + name + ".bias"] = (D,)
    P = params(shapes, seed=32, scale=0.4)
    x_pad = mask < 0.5
    px_pad = torch.arange(L)[None, :] >= torch.tensor(lengths)[:, None]
    px = P["l0.projected_embeddings"] * math.sqrt(D) + sinusoid(L, D)
    px = px.unsqueeze(0).expand(B, L, D) * (~px_pad)[:, :, None].double()
    _, px1 = luna_layer(x, px, x_pad, px_pad, P, "l0.")
    out, px2 = luna_layer(x, px1, x_pad, px_pad, P, "l1.")
    g = torch.Generator().manual_seed(33)
    dcarry = torch.randn(B, L, D, generator=g, dtype=torch.float64)
    finish("luna", x, mask, dout, out, P, {"kernel": "luna", "heads": H, "head_dim": p, "opts": f"length={L}"},
           extra_loss=(px2 * dcarry).sum(), extra={"carry": px2, "dcarry": dcarry})


if __name__ == "__main__":
    main()
