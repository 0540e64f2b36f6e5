#!/usr/bin/env python3
"""Parity fixture for `scatterbrain`: a transcription of SBLocalAttention.forward
(github:HazyResearch/scatterbrain, src/models/attention/sblocal_attention.py) with the features of
SBPerformerFeatures / softmax_kernel (src/models/attention/feature_maps_sb.py), non-causal, float64,
eval mode (no dropout).  fast_transformers' local_dot_product / local_weighted_average (CUDA) are
written as a full score matrix restricted to the window j = i - c//2 + t, t < c, j < length.
The projection matrix is random here and loaded into the C kernel's buffer.

Case 0: pad_keys_in_stabiliser=true with padding: the reference as written.
Cases 1, 2: defaults (the key stabiliser over real keys only), with padding and a different window.

Usage: /usr/bin/python3 tools/ref/attn_scatterbrain.py [OUT]  (default tests/fixtures/attn/scatterbrain.safetensors)"""
import math
import sys

import torch

from attn_fixture import inputs, run_case, write


def softmax_kernel(data, projection_matrix, is_query, softmax_temp, eps, key_valid=None):
    d = data.shape[-1]
    m = 2 * projection_matrix.shape[0]
    data_normalizer = math.sqrt(softmax_temp)
    data_dash = torch.einsum('...id,jd->...ij', data, data_normalizer * projection_matrix)
    diag_data = data.square().sum(dim=-1, keepdim=True) / 2 * (data_normalizer ** 2)
    data_dash = torch.cat([data_dash, -data_dash], dim=-1)
    if is_query:
        log_scale = -diag_data + torch.amax(data_dash, dim=-1, keepdim=True) - math.log(m) / 2
        data_dash_log = data_dash - torch.amax(data_dash, dim=-1, keepdim=True)
        data_dash = torch.exp(data_dash_log) + eps / math.sqrt(m)
    else:
        data_dash_m_diag = data_dash - diag_data - math.log(m) / 2
        for_max = data_dash_m_diag if key_valid is None else \
            data_dash_m_diag.masked_fill(~key_valid[:, None, :, None], -float('inf'))
        log_scale = torch.amax(for_max, dim=(-1, -2), keepdim=True)
        data_dash_log = data_dash_m_diag - log_scale
        data_dash = torch.exp(data_dash_log) + eps / math.sqrt(m)
    return data_dash, log_scale


def local_dot(x, y, lengths, c):
    """[B, H, T, E] x [B, H, S, E] -> [B, H, T, c] over keys j = i - c//2 + t; invalid -> -inf (mask)."""
    B, H, T, _ = x.shape
    full = torch.einsum('bhte,bhse->bhts', x, y)
    i = torch.arange(T)[:, None]
    j = i - c // 2 + torch.arange(c)[None, :]
    valid = (j >= 0)[None] & (j[None] < lengths[:, None, None])  # [B, T, c]
    out = torch.gather(full, 3, j.clamp(0, T - 1)[None, None].expand(B, H, T, c))
    return out, valid[:, None]


def sblocal(query, key, value, lengths, W, c, eps, pad_keys_in_stabiliser):
    """query, key, value: [B, H, T, E] (already permuted as in the reference)."""
    B, H, T, E = query.shape
    softmax_temp = 1 / math.sqrt(E)
    key_valid = torch.arange(T)[None, :] < lengths[:, None]
    q_prime, q_ls = softmax_kernel(query, W, True, softmax_temp, eps)
    k_prime, k_ls = softmax_kernel(key, W, False, softmax_temp, eps,
                                   None if pad_keys_in_stabiliser else key_valid)
    prime_log_scale = q_ls + k_ls
    k_prime = k_prime.masked_fill(~key_valid[:, None, :, None], 0.0)
    q_prime_k_prime_1 = torch.einsum('...nm,...m->...n', q_prime, k_prime.sum(dim=-2))
    q_prime_k_prime_v = torch.einsum('...nm,...md->...nd', q_prime, torch.einsum('...nm,...nd->...md', k_prime, value))
    QK, valid = local_dot(query, key, lengths, c)
    QK = (softmax_temp * QK).masked_fill(~valid, -float('inf'))
    dots_prime, _ = local_dot(q_prime, k_prime, lengths, c)
    dots_prime = dots_prime.masked_fill(~valid, 0.0)
    QK_lse = torch.logsumexp(QK, dim=-1, keepdim=True)
    dots_prime_sum = dots_prime.sum(dim=-1, keepdim=True)
    lr_log_normalization = torch.log((q_prime_k_prime_1[..., None] - dots_prime_sum).clamp_min(1e-24)) + prime_log_scale
    log_normalization = torch.logaddexp(QK_lse, lr_log_normalization)
    prime_scale = torch.exp(prime_log_scale - log_normalization)
    dots = torch.exp(QK - log_normalization) - dots_prime * prime_scale
    # local_weighted_average: sum_t dots[..., t] value[j(t)]
    i = torch.arange(T)[:, None]
    j = (i - c // 2 + torch.arange(c)[None, :]).clamp(0, T - 1)
    vloc = value[:, :, j]  # [B, H, T, c, D]
    dots = dots.masked_fill(~valid, 0.0)
    out_local = torch.einsum('bhtc,bhtcd->bhtd', dots, vloc)
    return out_local + q_prime_k_prime_v * prime_scale


def make(c, eps, pad_stab):
    def fn(q, k, v, mask, ps):
        lengths = mask.sum(1).long()
        return sblocal(q, k, v, lengths, ps["projection_matrix"], c, eps, pad_stab)
    return fn


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attn/scatterbrain.safetensors"
    cases = []
    for s, (opts, c, m, pad, lens) in enumerate([
            ("pad_keys_in_stabiliser=true,local_context=8,nb_features=16", 8, 16, True, [24, 17]),
            ("local_context=8,nb_features=16", 8, 16, False, [24, 17]),
            ("local_context=5,nb_features=32", 5, 32, False, [19, 24])]):
        g = torch.Generator().manual_seed(200 + s)
        W = torch.randn(m // 2, 8, generator=g, dtype=torch.float64)
        cases.append((opts, run_case(make(c, 1e-4, pad), *inputs(20 + s, 2, 2, 24, 8, lens), {"projection_matrix": W})))
    write(out, "scatterbrain", cases)


if __name__ == "__main__":
    main()
