#!/usr/bin/env python3
"""Parity fixture for `fmmformer`: a transcription of the FMMformer authors' FMM attention
(CausalFMMAttention.forward in their fast-transformers fork, fast_transformers/attention/
causal_fmm_attention.py) in its non-causal form, float64, layout [N, L, H, E] as the reference:
  far field: per feature map (elu+1, elu(-x)+1, tanh+1) Q, K normalised to unit row sums, K masked,
             W_l * (Q (K^T V)) / (Q . sum K + eps)   (causal cumsums -> sums over all keys);
  near field: softmax over the band |l - s| < bandwidth of Q K^T / sqrt(E) with the key mask, times W1.
The reference masks K before the row normalisation (0/0 on padded keys); this transcription, like the
C kernel, normalises first.  Blend weights are random here so every path is checked.

Usage: /usr/bin/python3 tools/ref/attn_fmmformer.py [OUT]  (default tests/fixtures/attn/fmmformer.safetensors)"""
import sys

import torch
import torch.nn.functional as F

from attn_fixture import inputs, run_case, write

FEATURES = [lambda x: F.elu(x) + 1, lambda x: F.elu(-x) + 1, lambda x: torch.tanh(x) + 1]


def fmm(queries, keys, values, key_mask, W, bandwidth, kernels, eps=1e-6):
    """queries, keys, values: [N, L, H, E]; key_mask [N, L]; W[0] near, W[1..] far, each [1, 1, H, E]."""
    LV = 0
    for l in range(kernels):
        Q, K = FEATURES[l](queries), FEATURES[l](keys)
        Q = Q / Q.sum(-1, keepdim=True)
        K = K / K.sum(-1, keepdim=True)
        K = K * key_mask[:, :, None, None]
        Z = 1 / (torch.einsum("nlhi,nhi->nlh", Q, K.sum(1)) + eps)
        V = torch.einsum("nlhi,nhim->nlhm", Q, torch.einsum("nshi,nshm->nhim", K, values))
        LV = LV + W[l + 1] * (V * Z[:, :, :, None])
    N, L, H, E = queries.shape
    QK = torch.einsum("nlhe,nshe->nhls", queries * (1.0 / E ** 0.5), keys)
    QK = QK.masked_fill(key_mask[:, None, None, :] == 0, -float("inf"))
    i = torch.arange(L)
    band = (i[:, None] - i[None, :]).abs() >= bandwidth
    QK = QK.masked_fill(band[None, None], -float("inf"))
    A = torch.softmax(QK, dim=-1)
    A = torch.nan_to_num(A)  # padded query rows far from any real key: no key, zero row (as the C kernel)
    SV = torch.einsum("nhls,nshd->nlhd", A, values)
    return W[0] * SV + LV


def make(bandwidth, kernels):
    def fn(q, k, v, mask, ps):
        H, p = q.shape[1], q.shape[3]
        W = [ps["W%d" % (l + 1)].reshape(1, 1, H, p) for l in range(kernels + 1)]
        t = lambda x: x.permute(0, 2, 1, 3)  # [B, H, n, p] <-> [B, n, H, p]
        return t(fmm(t(q), t(k), t(v), mask, W, bandwidth, kernels))
    return fn


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/fmmformer.safetensors"
    cases = []
    for seed, (bw, kern, lens) in enumerate([(3, 3, [24, 15]), (5, 2, [24, 24]), (12, 1, [19, 24])]):
        g = torch.Generator().manual_seed(100 + seed)
        params = {"W%d" % (l + 1): torch.rand(2, 8, generator=g, dtype=torch.float64) for l in range(kern + 1)}
        cases.append(("bandwidth=%d,kernels=%d" % (bw, kern),
                      run_case(make(bw, kern), *inputs(10 + seed, 2, 2, 24, 8, lens), params)))
    write(out, "fmmformer", cases)


if __name__ == "__main__":
    main()
