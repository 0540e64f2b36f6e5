"""Shared by tools/ref/attn_{bigbird,longformer,local,sparse}.py: fixed inputs, the forward/backward run
and a small safetensors writer (numpy only; the `safetensors` package is not needed).

Every dump holds q, k, v [B, H, n, p], mask [B, n] (example 1 padded), the fixed upstream gradient
grad_out (zero on padded query rows, whose outputs the references define differently and nothing
downstream reads), then [prefix.]output, dq, dk, dv per configuration, and the options as metadata.  These kernels have no
parameters, so there are no parameter gradients.
"""
import json
import struct

import numpy as np
import torch

B, H, P = 2, 2, 8


def inputs(n, real1, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, n, P, generator=g, dtype=torch.float64) for _ in range(3))
    mask = torch.ones(B, n, dtype=torch.float64)
    mask[1, real1:] = 0
    grad = torch.randn(B, H, n, P, generator=g, dtype=torch.float64) * mask[:, None, :, None]
    return q, k, v, mask, grad


def run(fn, q, k, v, mask, grad):
    """Output and input gradients of fn(q, k, v, mask) for the upstream gradient `grad` (float64)."""
    q, k, v = (t.clone().requires_grad_() for t in (q, k, v))
    out = fn(q, k, v, mask)
    out.backward(grad)
    return out.detach(), q.grad, k.grad, v.grad


def tensors(prefix, q, k, v, mask, grad, res, with_inputs=True):
    """The dump's tensors; the results are named prefix + output/dq/dk/dv (inputs are stored once)."""
    t = {}
    if with_inputs:
        t.update({n: x for n, x in zip(["q", "k", "v", "mask", "grad_out"], [q, k, v, mask, grad])})
    t.update({prefix + n: x for n, x in zip(["output", "dq", "dk", "dv"], res)})
    return {n: x.detach().numpy().astype(np.float32) for n, x in t.items()}


def write_safetensors(path, tens, meta):
    header, off, blobs = {}, 0, []
    for name, a in tens.items():
        a = np.ascontiguousarray(a)
        dt = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def masked_softmax_attention(q, k, v, allowed, bias):
    """softmax(q k^T / sqrt(p) + bias on disallowed pairs) v, the dense emulation the LRA code runs.
    allowed: [B or 1, H or 1, n, n] bool."""
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    s = s + (~allowed).to(s.dtype) * bias
    return torch.softmax(s, -1) @ v
