#!/usr/bin/env python3
"""Parity dump for `transformer_ls` (tests/fixtures/attn/transformer_ls.safetensors).

Reference: github:NVIDIA/transformer-ls lra/attention_transformer_ls.py (AttentionLS.forward with
pooling_mode MEAN -- no CLS embedding --, conv_kernel_size -1, the `_v2` sliding-window tiles,
attention dropout 0), transcribed below in float64 with the same as_strided tiling (n divisible by w).

Usage: /usr/bin/python3 tools/ref/attn_transformer_ls.py
"""
import math

import torch
import torch.nn.functional as F

from attn_mixers_common import finish, inputs, params

B, n, H, p, R, W = 2, 16, 2, 4, 3, 4
D = H * p


def split_heads(X):
    return X.reshape(X.size(0), X.size(1), H, p).transpose(1, 2)


def tiles(x, w, transpose):  # bsz x H x n x p -> windows of w + 2 ext keys per segment of w queries
    b, h, m, d = x.shape
    ext = max(w // 2, 1)
    x = F.pad(x, (0, 0, ext, ext), value=0)
    st = x.stride()
    if transpose:
        return torch.as_strided(x, (b, h, m // w, d, 2 * ext + w), (st[0], st[1], w * st[2], st[3], st[2]))
    return torch.as_strided(x, (b, h, m // w, 2 * ext + w, d), (st[0], st[1], w * st[2], st[2], st[3]))


def tiled_mask(pad, w):
    b, m = pad.shape
    ext = max(w // 2, 1)
    pad = F.pad(pad, (ext, ext), value=True)
    st = pad.stride()
    return pad.as_strided((b, m // w, 2 * ext + w), (st[0], st[1] * w, st[1]))[:, None, :, None, :]


def tls_reference(X, mask, P):
    lin = lambda name, t: F.linear(t, P[name + ".weight"], P[name + ".bias"])
    ln = lambda name, t: F.layer_norm(t, (D,), P[name + ".weight"], P[name + ".bias"], 1e-5)
    b = X.shape[0]
    Q = split_heads(lin("W_q", X)) / math.sqrt(p)
    K = split_heads(ln("dual_ln_l", lin("W_k", X)))
    V = split_heads(ln("dual_ln_l", lin("W_v", X)))
    pad = ~mask.bool()
    hs = lin("dconv_fc", X).masked_fill(pad[:, :, None], float("-inf"))
    hs = F.softmax(hs, dim=1).view(b, n, H, R).permute(0, 2, 3, 1)
    Kc, Vc = hs.matmul(K), hs.matmul(V)
    Kc = split_heads(ln("dual_ln_s", Kc.transpose(1, 2).contiguous().view(b, -1, D)))
    Vc = split_heads(ln("dual_ln_s", Vc.transpose(1, 2).contiguous().view(b, -1, D)))
    att_long = Q.matmul(Kc.transpose(-1, -2))
    win = Q.view(b, H, n // W, W, p).matmul(tiles(K, W, True))
    win = win.masked_fill(tiled_mask(pad, W), float("-inf")).view(b, H, n, -1)
    a = torch.cat([att_long, win], dim=-1).softmax(dim=-1).masked_fill(pad[:, None, :, None], 0)
    C = a[:, :, :, :R].matmul(Vc)
    C = C + a[:, :, :, -win.shape[-1]:].view(b, H, n // W, W, -1).matmul(tiles(V, W, False)).view(b, H, n, p)
    return lin("W_o", C.transpose(1, 2).reshape(b, n, D))


def main():
    x, mask, dout = inputs(B, n, D, [16, 10], seed=41)
    x.requires_grad_(True)
    shapes = {}
    for name in ["W_q", "W_k", "W_v", "W_o"]:
        shapes[name + ".weight"] = (D, D)
        shapes[name + ".bias"] = (D,)
    for name in ["dual_ln_s", "dual_ln_l"]:
        shapes[name + ".weight"] = (D,)
        shapes[name + ".bias"] = (D,)
    shapes["dconv_fc.weight"] = (H * R, D)
    shapes["dconv_fc.bias"] = (H * R,)
    P = params(shapes, seed=42, scale=0.5)
    out = tls_reference(x, mask, P)
    finish("transformer_ls", x, mask, dout, out, P,
           {"kernel": "transformer_ls", "heads": H, "head_dim": p, "opts": f"num_landmarks={R},window_size={W}"})


if __name__ == "__main__":
    main()
