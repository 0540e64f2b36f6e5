#!/usr/bin/env python3
"""PyTorch transcription of HF's LongformerSelfAttention as the YOSO repo's LRA code calls it
(mlpen/YOSO encoders/backbones/efficient_attentions/attention_longformer.py: attention_window = window,
first_token_view: token 0 global; q/k/v of the global path share the local weights).  Written densely at
these tiny sizes but with HF's structure:
  local rows: logits over [global keys] ++ [keys j with |i - j| <= window/2], where window keys that are
  padding or global get -10000 (remove_from_windowed_attention_mask), one softmax, padded query rows'
  probabilities set to 0;
  global rows: softmax over all keys with padded keys at -10000, replacing those rows.

Writes tests/fixtures/attn/longformer.safetensors.
Usage: /usr/bin/python3 tools/ref/attn_longformer.py [OUT]
"""
import sys

import torch

import attn_sparse_common as C


def longformer_attention(q, k, v, mask, window, g):
    Bn, Hn, n, p = q.shape
    w = window // 2
    idx = torch.arange(n)
    s = q @ k.transpose(-1, -2) / p ** 0.5                                    # [B, H, n, n]
    is_global = idx < g
    pad = mask == 0                                                          # [B, n]
    in_window = (idx[:, None] - idx[None, :]).abs() <= w
    remove = (pad[:, None, None, :] | is_global[None, None, None, :]).to(s.dtype) * -10000.0
    local = torch.where(in_window, s + remove, torch.full_like(s, float("-inf")))
    glob = s[..., :g]                                                        # global key columns
    probs = torch.softmax(torch.cat([glob, local], -1), -1)
    probs = probs.masked_fill(pad[:, None, :, None], 0.0)
    out = probs[..., :g] @ v[:, :, :g] + probs[..., g:] @ v
    # global query rows attend to every key
    sg = s[:, :, :g] + pad[:, None, None, :].to(s.dtype) * -10000.0
    out_g = torch.softmax(sg, -1) @ v
    return torch.cat([out_g, out[:, :, g:]], 2)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/longformer.safetensors"
    n, window, g = 48, 8, 1
    q, k, v, mask, grad = C.inputs(n, 35, seed=13)
    res = C.run(lambda a, b, c, m: longformer_attention(a, b, c, m, window, g), q, k, v, mask, grad)
    C.write_safetensors(out, C.tensors("", q, k, v, mask, grad, res), {"n": n, "window": window, "num_global": g})


if __name__ == "__main__":
    main()
