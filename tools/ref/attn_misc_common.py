"""Shared pieces of the parity dumps of tools/ref/attn_{linear,synthesizer,performer}.py (tests/test_attn_ref_misc.c).

Each dump holds the inputs q, k, v [B, H, n, p], mask [B, n] (example 1 padded at the end) and the upstream
gradient gout (zero on padded query rows, whose outputs the kernels leave unspecified), then per case
<case>.out, <case>.dq, <case>.dk, <case>.dv, the injected parameters <case>.param.<name> and their gradients
<case>.grad.<name>.  Metadata: kernel, seq_len (the model length the C kernel is built for), cases
(comma-separated), <case>.opts (C option overrides "a=1,b=x"), <case>.params (names, comma-separated)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lra_ref import write_safetensors  # noqa: E402

B, H, P = 2, 2, 8


def inputs(n, pad=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, n, P, generator=g) for _ in range(3))
    mask = torch.ones(B, n)
    mask[1, n - pad:] = 0
    gout = torch.randn(B, H, n, P, generator=g) * mask[:, None, :, None]
    return q, k, v, mask, gout


def run_case(fn, q, k, v, mask, gout, params):
    """fn(q, k, v, mask, **params) -> out; returns out, dq, dk, dv and the parameter gradients."""
    q, k, v = (t.clone().requires_grad_() for t in (q, k, v))
    ps = {name: t.clone().requires_grad_(t.dtype == torch.float32) for name, t in params.items()}
    out = fn(q, k, v, mask, **ps)
    (out * gout).sum().backward()
    grads = {name: t.grad if t.grad is not None else torch.zeros_like(t) for name, t in ps.items()}
    z = lambda t: t.grad if t.grad is not None else torch.zeros_like(t)  # an unused input (k without q.k)
    return out.detach(), z(q), z(k), z(v), grads


def dump(path, kernel, seq_len, q, k, v, mask, gout, cases):
    """cases: list of (name, C options, fn, params dict)."""
    tensors = {"q": q, "k": k, "v": v, "mask": mask, "gout": gout}
    meta = {"kernel": kernel, "seq_len": seq_len, "cases": ",".join(c[0] for c in cases),
            "torch": torch.__version__}
    for name, opts, fn, params in cases:
        out, dq, dk, dv, grads = run_case(fn, q, k, v, mask, gout, params)
        tensors.update({f"{name}.out": out, f"{name}.dq": dq, f"{name}.dk": dk, f"{name}.dv": dv})
        for pn, t in params.items():
            tensors[f"{name}.param.{pn}"] = t
            tensors[f"{name}.grad.{pn}"] = grads[pn]
        meta[f"{name}.opts"] = opts
        meta[f"{name}.params"] = ",".join(params)
    write_safetensors(path, tensors, meta)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def out_path(name):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, "tests", "fixtures", "attn", f"{name}.safetensors")
