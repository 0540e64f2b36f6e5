"""Shared by tools/ref/attn_<kernel>.py: inputs, the backward pass and the safetensors dump that
tests/test_attn_ref_mix4.c reads.

A fixture holds cases c0, c1, ...: metadata kernel, cases, c<i>.opts (the C options, "a=1,b=true")
and tensors c<i>.{q,k,v,mask,dout,out,dq,dk,dv} plus c<i>.param.<name> / c<i>.grad.<name> for the
kernel's parameters (names without the layer prefix).  The upstream gradient is zero on padded query
rows, so only real rows are compared (their outputs are what the kernels define)."""
import json
import struct

import numpy as np
import torch


def inputs(seed, B, H, n, p, lens, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, n, p, generator=g, dtype=torch.float64) * scale for _ in range(3))
    mask = torch.zeros(B, n, dtype=torch.float64)
    for b, L in enumerate(lens):
        mask[b, :L] = 1
    dout = torch.randn(B, H, n, p, generator=g, dtype=torch.float64) * mask[:, None, :, None]
    return q, k, v, mask, dout


def run_case(fn, q, k, v, mask, dout, params):
    """fn(q, k, v, mask, params) -> [B, H, n, p]; returns the case's tensors (float64 autograd)."""
    q, k, v = (t.clone().requires_grad_(True) for t in (q, k, v))
    ps = {name: t.clone().requires_grad_(t.is_floating_point() and name.startswith("W")) for name, t in params.items()}
    out = fn(q, k, v, mask, ps)
    out.backward(dout)
    res = {"q": q, "k": k, "v": v, "mask": mask, "dout": dout, "out": out, "dq": q.grad, "dk": k.grad, "dv": v.grad}
    for name, t in ps.items():
        res["param." + name] = t
        if t.requires_grad:
            res["grad." + name] = t.grad
    return res


def write(path, kernel, cases):
    """cases: list of (opts, tensors)."""
    meta = {"kernel": kernel, "cases": str(len(cases))}
    header, blobs, off = {}, [], 0
    for i, (opts, ts) in enumerate(cases):
        meta["c%d.opts" % i] = opts
        for name, t in ts.items():
            a = np.ascontiguousarray(t.detach().numpy().astype(np.float32))
            header["c%d.%s" % (i, name)] = {"dtype": "F32", "shape": list(a.shape),
                                            "data_offsets": [off, off + a.nbytes]}
            blobs.append(a.tobytes())
            off += a.nbytes
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
