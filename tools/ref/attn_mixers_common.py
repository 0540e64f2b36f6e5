"""Shared by the tools/ref/attn_<name>.py parity scripts: a minimal safetensors writer (the format the
C reader core/safetensors.c accepts; the `safetensors` package is not needed) and the fixed test inputs.

Each script transcribes its reference implementation in PyTorch (float64), runs it on fixed inputs
and parameters, and writes tests/fixtures/attn/<name>.safetensors with
  x, mask, dout (the fixed upstream gradient), out, dx,
  param.<name> (the parameters, injected into the C kernel's store by name) and grad.<name>;
tests/test_attn_ref_mixers.c checks the C kernels against it.
"""
import json
import os
import struct

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def write(name, tensors, meta):
    path = os.path.join(ROOT, "tests", "fixtures", "attn", name + ".safetensors")
    header = {"__metadata__": {k: str(v) for k, v in meta.items()}}
    blobs, off = [], 0
    for key in sorted(tensors):
        a = np.ascontiguousarray(tensors[key].detach().cpu().numpy().astype(np.float32))
        b = a.tobytes()
        header[key] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


def inputs(B, n, D, lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, n, D, generator=g, dtype=torch.float64)
    mask = torch.zeros(B, n, dtype=torch.float64)
    for b, l in enumerate(lengths):
        mask[b, :l] = 1
    dout = torch.randn(B, n, D, generator=g, dtype=torch.float64)
    return x, mask, dout


def params(shapes, seed=1, scale=0.3):
    """Random parameters {name: tensor} (requires_grad), float32-representable values."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in shapes.items():
        t = torch.randn(*shape, generator=g, dtype=torch.float64) * scale
        if name.endswith("norm.weight") or name.endswith("ln_s.weight") or name.endswith("ln_l.weight"):
            t = 1 + t
        out[name] = t.float().double().requires_grad_(True)
    return out


def finish(name, x, mask, dout, out, prm, meta, extra_loss=None, extra=None):
    """Backward of sum(out * dout) (+ extra_loss) and the dump."""
    loss = (out * dout).sum()
    if extra_loss is not None:
        loss = loss + extra_loss
    loss.backward()
    t = {"x": x, "mask": mask, "dout": dout, "out": out, "dx": x.grad}
    for k, v in prm.items():
        t["param." + k] = v
        t["grad." + k] = v.grad if v.grad is not None else torch.zeros_like(v)
    if extra:
        t.update(extra)
    write(name, t, meta)
