#!/usr/bin/env python3
"""Parity dump for `synthesizer`: tests/fixtures/attn/synthesizer.safetensors (see attn_misc_common.py).
Learned matrices are drawn here and injected; the model length L = n + 8 checks the [:n] slicing.

random_dot: a transcription of google-research/long-range-arena lra_benchmarks/models/synthesizer/
      synthesizer_attention.py as the LRA encoder runs it (synthesizer_mode 'random', ignore_dot_product
      False): logits q k^T / sqrt(p) + R[:, :n, :n], bias -1e10 where the query or the key is padding,
      softmax, dropout off, times V.  C options: the defaults with dropout=0.
dense_factorized: synthesizer_mode 'dense+factorized_random' with ignore_dot_product True: R1[:, :n] R2[:, :, :n]
      plus relu(q W1_h) W2[:, :n] (the C kernel's form of the reference's dense_syn / dense_syn_len, fed
      from the projected query rows), reshaped from [B, n, H, L] to [B, H, n, L] as there (C: dense_reshape=true),
      and, as there, no padding mask at all (C: unmasked_synthetic=true).
Usage: /usr/bin/python3 tools/ref/attn_synthesizer.py"""
import torch

from attn_misc_common import H, P, dump, inputs, out_path

KF = 4


def random_dot(q, k, v, mask, random):
    n = q.shape[2]
    logits = (q / P ** 0.5) @ k.transpose(-2, -1) + random[None, :, :n, :n]
    pad = mask[:, None, :, None] * mask[:, None, None, :]            # make_padding_mask(query, key)
    logits = logits + torch.where(pad > 0, torch.tensor(0.0), torch.tensor(-1e10))
    return torch.softmax(logits, -1) @ v


def dense_factorized(q, k, v, mask, random1, random2, dense1, dense2):
    n = q.shape[2]
    logits = (random1[:, :n] @ random2[:, :, :n])[None]
    proj = (torch.relu(q @ dense1[None]) @ dense2).transpose(1, 2)   # [B, n, H, L]: the reference's layout
    logits = logits + proj.reshape(q.shape[0], H, n, -1)[..., :n]       # its reshape (not a transpose), then [:n]
    return torch.softmax(logits, -1) @ v


if __name__ == "__main__":
    torch.set_num_threads(1)
    n = 24
    L = n + 8
    q, k, v, mask, gout = inputs(n, seed=13)
    g = torch.Generator().manual_seed(7)
    R = 0.5 * torch.randn(H, L, L, generator=g)
    R1, R2 = 0.5 * torch.randn(H, L, KF, generator=g), 0.5 * torch.randn(H, KF, L, generator=g)
    W1, W2 = 0.5 * torch.randn(H, P, P, generator=g), 0.5 * torch.randn(P, L, generator=g)
    dump(out_path("synthesizer"), "synthesizer", L, q, k, v, mask, gout,
         [("random_dot", "dropout=0", random_dot, {"random": R}),
          ("dense_factorized", f"mode=dense+factorized_random,dot_product=false,k={KF},dropout=0,unmasked_synthetic=true,"
           "dense_reshape=true",
           dense_factorized, {"random1": R1, "random2": R2, "dense1": W1, "dense2": W2})])
