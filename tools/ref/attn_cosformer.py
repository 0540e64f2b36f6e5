#!/usr/bin/env python3
"""Parity fixture for `cosformer`: a transcription of the non-causal branch of CosformerAttention.forward
(github:OpenNLPLab/cosFormer, cosformer.py) from the activations on, in float64.

Case 0: padded_length=true, no padding: the reference as written.
Case 1: defaults with padding: each example run alone at its real length through the reference (what
the C default promises: the re-weighting uses the example's length and padded keys are dropped).

Usage: /usr/bin/python3 tools/ref/attn_cosformer.py [OUT]  (default tests/fixtures/attn/cosformer.safetensors)"""
import sys

import numpy as np
import torch

from attn_fixture import inputs, run_case, write


def reference(q, k, v, eps=1e-6):
    """q, k, v: [N, L, d] (batch*heads first, as after the reference's view/transpose)."""
    q, k = torch.relu(q), torch.relu(k)
    tgt_len, src_len = q.shape[1], k.shape[1]
    m = max(src_len, tgt_len)
    weight_index = (np.pi / 2 * torch.arange(1, m + 1, dtype=torch.float64)).reshape(1, -1, 1)
    q_ = torch.cat([q * torch.sin(weight_index[:, :tgt_len, :] / m), q * torch.cos(weight_index[:, :tgt_len, :] / m)], dim=-1)
    k_ = torch.cat([k * torch.sin(weight_index[:, :src_len, :] / m), k * torch.cos(weight_index[:, :src_len, :] / m)], dim=-1)
    kv_ = torch.einsum('nld,nlm->ndm', k_, v)
    z_ = 1 / torch.clamp_min(torch.einsum('nld,nd->nl', q_, torch.sum(k_, axis=1)), eps)
    return torch.einsum('nld,ndm,nl->nlm', q_, kv_, z_)


def padded_length(q, k, v, mask, params):
    B, H, n, p = q.shape
    return reference(q.reshape(B * H, n, p), k.reshape(B * H, n, p), v.reshape(B * H, n, p)).reshape(B, H, n, p)


def per_example(q, k, v, mask, params):
    B, H, n, p = q.shape
    rows = []
    for b in range(B):
        L = int(mask[b].sum())
        o = reference(q[b, :, :L], k[b, :, :L], v[b, :, :L])
        rows.append(torch.cat([o, torch.zeros(H, n - L, p, dtype=o.dtype)], dim=1))
    return torch.stack(rows)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/cosformer.safetensors"
    cases = [("padded_length=true", run_case(padded_length, *inputs(1, 2, 2, 24, 8, [24, 24]), {})),
             ("", run_case(per_example, *inputs(2, 2, 2, 24, 8, [24, 17]), {}))]
    write(out, "cosformer", cases)


if __name__ == "__main__":
    main()
