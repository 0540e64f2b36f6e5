#!/usr/bin/env python3
"""Parity dump for `fnet` (tests/fixtures/attn/fnet.safetensors).

Reference: github:lxchtan/PoNet examples/LRA/code/attention_fnet.py (FFTAttention.forward):
the real part of an FFT over the hidden dimension followed by one over the sequence; the LRA wrapper
(attention.py) replaces the output projection by the identity.  The C default mask_input=true zeroes
padded tokens first (the reference ignores the mask); norm=none (no scaling).
n = 12 and D = 6 are not powers of two (mixed-radix FFT paths).

Usage: /usr/bin/python3 tools/ref/attn_fnet.py
"""
import torch

from attn_mixers_common import finish, inputs


def fnet_reference(X):
    return torch.fft.fft(torch.fft.fft(X, dim=-1), dim=-2).real


def main():
    B, n, D = 2, 12, 6
    x, mask, dout = inputs(B, n, D, [12, 7], seed=11)
    x.requires_grad_(True)
    out = fnet_reference(x * mask[:, :, None])
    finish("fnet", x, mask, dout, out, {}, {"kernel": "fnet", "heads": 2, "head_dim": 3, "opts": ""})


if __name__ == "__main__":
    main()
