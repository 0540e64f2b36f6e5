#!/usr/bin/env python3
"""Parity dump for the `linear` kernel: tests/fixtures/attn/linear.safetensors (see attn_misc_common.py).

ref:  a transcription of mlpen/Nystromformer LRA/code/attention_linear.py (LinearAttention.forward): elu+1
      features scaled by Q.size(2)^-1/4 (Q is [B, H, n, p], so n^-1/4), padded keys and values zeroed, no
      normalisation.  C options normalize=false (scale_by=seq_len is the default).
norm: the normalised form of Katharopoulos et al. (fast-transformers LinearAttention, eps 1e-6) with the same
      key/value masking: the C default.
Usage: /usr/bin/python3 tools/ref/attn_linear.py"""
import torch
import torch.nn.functional as F

from attn_misc_common import dump, inputs, out_path


def ref(Q, K, V, mask):
    n = Q.size(2)
    Q = (F.elu(Q) + 1) / n ** 0.25
    K = (F.elu(K) + 1) * mask[:, None, :, None] / n ** 0.25
    V = V * mask[:, None, :, None]
    return Q @ (K.transpose(-2, -1) @ V)


def norm(Q, K, V, mask):
    Q = F.elu(Q) + 1
    K = (F.elu(K) + 1) * mask[:, None, :, None]
    V = V * mask[:, None, :, None]
    kv = K.transpose(-2, -1) @ V
    z = 1 / (Q @ K.sum(-2)[..., None] + 1e-6)
    return (Q @ kv) * z


if __name__ == "__main__":
    torch.set_num_threads(1)
    n = 32
    q, k, v, mask, gout = inputs(n, seed=11)
    dump(out_path("linear"), "linear", n, q, k, v, mask, gout,
         [("norm", "", norm, {}), ("ref", "normalize=false", ref, {})])
