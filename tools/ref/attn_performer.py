#!/usr/bin/env python3
"""Parity dump for `performer` with kernel=relu: tests/fixtures/attn/performer.safetensors (see
attn_misc_common.py).  The features W [m, p] are drawn here and injected into the C kernel's buffer.

ref:  a transcription of mlpen/YOSO encoders/backbones/efficient_attentions/attention_performer.py with
      kernel_type "relu" taken at its word, i.e. performer_pytorch FastAttention with generalized_attention:
      the wrapper passes Q p^-1/4, K p^-1/4 m, V m; generalized_kernel scales by p^-1/4 again and takes
      relu(x W^T) + 1e-3 (so padded keys keep 1e-3 features); linear_attention normalises by q . sum_j k_j.
      C options kernel=relu,double_scale=true,pad_keys_in_denominator=true.
relu: the C default with kernel=relu: scaled once, padded keys' features zeroed.
Usage: /usr/bin/python3 tools/ref/attn_performer.py"""
import torch

from attn_misc_common import P, dump, inputs, out_path

M = 16


def generalized_kernel(data, W, normalize=True):
    x = data * data.shape[-1] ** -0.25 if normalize else data
    return torch.relu(x @ W.t()) + 1e-3


def linear_attention(q, k, v):
    d_inv = 1.0 / (q @ k.sum(-2)[..., None])
    return (q @ (k.transpose(-2, -1) @ v)) * d_inv


def ref(Q, K, V, mask, features):
    r, mk = Q.shape[-1] ** -0.25, mask[:, None, :, None]
    q, k = generalized_kernel(Q * r, features), generalized_kernel(K * r * mk, features)
    return linear_attention(q, k, V * mk)


def relu(Q, K, V, mask, features):
    r, mk = Q.shape[-1] ** -0.25, mask[:, None, :, None]
    q = generalized_kernel(Q * r, features, normalize=False)
    k = generalized_kernel(K * r, features, normalize=False) * mk
    return linear_attention(q, k, V * mk)


def orthogonal_features(m, p, g):
    blocks = [torch.linalg.qr(torch.randn(p, p, generator=g))[0].t() for _ in range(-(-m // p))]
    return torch.randn(m, p, generator=g).norm(dim=1)[:, None] * torch.cat(blocks)[:m]


if __name__ == "__main__":
    torch.set_num_threads(1)
    n = 32
    q, k, v, mask, gout = inputs(n, seed=12)
    W = orthogonal_features(M, P, torch.Generator().manual_seed(5)).contiguous()
    # The buffer is not trainable: its gradient is dumped but not compared.
    dump(out_path("performer"), "performer", n, q, k, v, mask, gout,
         [("ref", f"nb_features={M},kernel=relu,double_scale=true,pad_keys_in_denominator=true", ref, {"features": W}),
          ("relu", f"nb_features={M},kernel=relu", relu, {"features": W})])
