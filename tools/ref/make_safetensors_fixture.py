#!/usr/bin/env python3
"""Writes tests/fixtures/safetensors/ref.safetensors, the interoperability fixture of
tests/test_safetensors.c.

Uses the `safetensors` package when it is installed; otherwise writes the format the way the
reference implementation does (tensors sorted by dtype alignment, then name; compact JSON header
padded with spaces to a multiple of 8).  The header is written with ensure_ascii so that the C
reader's \\uXXXX decoding is exercised.  The values are formulas that the C test recomputes.

Usage: python3 tools/ref/make_safetensors_fixture.py [OUT]
"""
import json
import struct
import sys

import numpy as np


def tensors():
    return {
        "embed.weight": (np.arange(12, dtype=np.float32) * 0.25 - 1.0).reshape(4, 3),
        "head.bias": np.array([1.0 / 3.0, -2e-300], dtype=np.float64),
        "ids": np.array([-2, -1, 0, 1, 2**31 - 1], dtype=np.int32),
        "mask": (np.arange(8, dtype=np.uint8) * 37).reshape(2, 2, 2),
        "step": np.array(-(2**40), dtype=np.int64),  # a 0-dimensional tensor
        "empty": np.zeros((0, 3), dtype=np.float32),
        "\u00fcn\u00ef.w": np.array([1.5], dtype=np.float32),  # a non-ASCII name
    }


METADATA = {"format": "pt", "note": 'quote " backslash \\ newline \n tab \t'}
DTYPES = {np.float32: ("F32", 4), np.float64: ("F64", 8), np.int32: ("I32", 4), np.int64: ("I64", 8),
          np.uint8: ("U8", 1)}


def write_manually(path, ts):
    order = sorted(ts, key=lambda k: (-DTYPES[ts[k].dtype.type][1], k))
    header, blobs, off = {"__metadata__": METADATA}, [], 0
    for name in order:
        a = np.asarray(ts[name], order="C")  # (ascontiguousarray would make 0-d tensors 1-d)
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPES[a.dtype.type][0], "shape": list(a.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/safetensors/ref.safetensors"
    ts = tensors()
    try:
        from safetensors.numpy import save_file  # type: ignore
        save_file(ts, out, metadata=METADATA)
        print("wrote", out, "with the safetensors package")
    except ImportError:
        write_manually(out, ts)
        print("wrote", out, "(safetensors package not installed: format written by hand)")


if __name__ == "__main__":
    main()
