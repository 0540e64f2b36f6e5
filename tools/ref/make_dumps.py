#!/usr/bin/python3
"""Writes the PyTorch reference dumps that tests/test_model_ref.c compares the C model against.

For a small single-sequence classifier and a small retrieval dual encoder (dropout 0, padding masks)
each dump holds: the inputs, every parameter, the logits, the loss, every parameter gradient, and the
parameters after 5 AdamW steps under OneCycle (with beta1 cycling), all in safetensors with the
C parameter names.  Run: /usr/bin/python3 tools/ref/make_dumps.py [OUT_DIR] (default tests/fixtures/ref).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lra_ref import ModelForSC, write_safetensors  # noqa: E402

CONFIGS = {
    "single": dict(vocab_size=16, pos_len=16, dim=8, heads=2, head_dim=4, hidden=16, layers=2, classes=3,
                   head_hidden=12, dual=False, batch=3, n=10),
    # ListOps-shaped (10 classes, 32 rows) so that `lra import` can build it from a listops config.
    "listops": dict(vocab_size=32, pos_len=16, dim=8, heads=2, head_dim=4, hidden=16, layers=2, classes=10,
                    head_hidden=12, dual=False, batch=3, n=16),
    "dual": dict(vocab_size=12, pos_len=8, dim=8, heads=2, head_dim=4, hidden=16, layers=2, classes=2,
                 head_hidden=12, dual=True, batch=3, n=8),
}
LR, WARMUP, TOTAL, STEPS = 1e-2, 2, 10, 5


def make_inputs(gen, vocab, batch, n):
    ids = torch.randint(1, vocab, (batch, n), generator=gen)
    lengths = [n, n - 3, n // 2][:batch]
    for b, length in enumerate(lengths):
        ids[b, length:] = 0
    return ids, (ids != 0).float()


def dump(name, cfg, out_dir):
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    model = ModelForSC(cfg["vocab_size"], cfg["pos_len"], cfg["dim"], cfg["heads"], cfg["head_dim"],
                       cfg["hidden"], cfg["layers"], cfg["classes"], cfg["head_hidden"], dual=cfg["dual"])
    # Larger weights than the defaults make the comparison sensitive to every term.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    ids0, mask0 = make_inputs(gen, cfg["vocab_size"], cfg["batch"], cfg["n"])
    ids1, mask1 = make_inputs(gen, cfg["vocab_size"], cfg["batch"], cfg["n"]) if cfg["dual"] else (None, None)
    labels = torch.randint(0, cfg["classes"], (cfg["batch"],), generator=gen)

    tensors = {"input.ids0": ids0, "input.mask0": mask0, "input.labels": labels}
    if cfg["dual"]:
        tensors.update({"input.ids1": ids1, "input.mask1": mask1})
    for k, v in model.state_dict().items():
        tensors["param." + k] = v.clone()

    logits = model(ids0, mask0, ids1, mask1)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    tensors["out.logits"] = logits
    tensors["out.loss"] = loss.reshape(1)
    for k, p in model.named_parameters():
        tensors["grad." + k] = p.grad.clone()

    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=TOTAL, pct_start=WARMUP / TOTAL,
                                                anneal_strategy="linear")
    opt.zero_grad()
    for step in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(ids0, mask0, ids1, mask1), labels)
        loss.backward()
        opt.step()
        sched.step()
    for k, p in model.named_parameters():
        tensors["after5." + k] = p.detach().clone()
    meta = {k: v for k, v in cfg.items()}
    meta.update(lr=LR, warmup=WARMUP, total=TOTAL, steps=STEPS, weight_decay=0.01, torch=torch.__version__)
    path = os.path.join(out_dir, f"model_{name}.safetensors")
    write_safetensors(path, tensors, meta)
    print(f"wrote {path}: {len(tensors)} tensors, loss {tensors['out.loss'].item():.6f}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "ref")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for name, cfg in CONFIGS.items():
        dump(name, cfg, out_dir)


if __name__ == "__main__":
    main()
