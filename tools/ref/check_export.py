#!/usr/bin/python3
"""Cross-checks a C-trained ListOps model in PyTorch: loads the safetensors file written by
`lra export` into the reference module (tools/ref/lra_ref.py), scores basic_test.tsv with the same
tokenisation (data.md §4.2) and prints the accuracy, to compare with `lra eval RUN --json`.

  /usr/bin/python3 tools/ref/check_export.py WEIGHTS.safetensors DATA_DIR
Only softmax-attention models with mean pooling are mirrored.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lra_ref import ModelForSC, read_safetensors  # noqa: E402

IDS = {"[MIN": 11, "[MAX": 12, "[MED": 13, "[SM": 14, "]": 15}


def tokenize(src):
    out = []
    for tok in src.split():
        if tok in ("(", ")"):
            continue
        out.append(1 + int(tok) if tok.isdigit() else IDS[tok])
    return out


def yaml_value(text, dotted):
    """The value of a dotted key in the resolved YAML that `lra` writes (two-space indentation)."""
    parts, depth = dotted.split("."), 0
    for line in text.splitlines():
        stripped = line.split("#")[0].rstrip()
        if not stripped.strip():
            continue
        indent = (len(line) - len(line.lstrip())) // 2
        key, _, value = stripped.strip().partition(":")
        if indent == depth and key == parts[depth]:
            if depth == len(parts) - 1:
                return value.strip().strip('"')
            depth += 1
    raise KeyError(dotted)


def main():
    weights, data_dir = sys.argv[1], sys.argv[2]
    with open(weights, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["__metadata__"]
    cfg = meta["config"]
    get = lambda k: int(yaml_value(cfg, k))  # noqa: E731
    L = get("data.max_length")
    L = 1 << math.ceil(math.log2(L))
    model = ModelForSC(get("model.vocab_size") or 32, L, get("model.dim"), get("model.heads"), get("model.head_dim"),
                       get("model.hidden"), get("model.layers"), 10, get("model.head_hidden"))
    state = {k: v for k, v in read_safetensors(weights).items()}
    model.load_state_dict(state)
    model.eval()
    rows = [line.rstrip("\r\n").split("\t") for line in open(os.path.join(data_dir, "basic_test.tsv"))][1:]
    correct = 0
    with torch.no_grad():
        for i in range(0, len(rows), 64):
            chunk = rows[i:i + 64]
            ids = torch.zeros(len(chunk), L, dtype=torch.long)
            for b, (src, _) in enumerate(chunk):
                t = tokenize(src)[:L]
                ids[b, : len(t)] = torch.tensor(t)
            logits = model(ids, (ids != 0).float())
            correct += sum(int(p) == int(y) for p, (_, y) in zip(logits.argmax(-1), chunk))
    print(json.dumps({"weights": weights, "examples": len(rows), "accuracy": correct / len(rows)}))


if __name__ == "__main__":
    main()
