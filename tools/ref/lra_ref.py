"""PyTorch mirror of the C model (training.md §1), with the reference repositories' module and
parameter names, so that state-dict keys equal the C parameter names.

Only developer tools use this file (reference dumps, safetensors round trips); the C framework
never needs Python.
"""
import math

import torch
import torch.nn as nn


class Embeddings(nn.Module):
    def __init__(self, vocab_size, pos_len, dim, dropout):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, dim)
        self.position_embeddings = nn.Embedding(pos_len, dim)
        torch.nn.init.normal_(self.word_embeddings.weight, std=0.02)
        torch.nn.init.normal_(self.position_embeddings.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids):
        pos = torch.arange(ids.size(1), device=ids.device)[None, :]
        return self.dropout(self.word_embeddings(ids) + self.position_embeddings(pos))


class SoftmaxAttention(nn.Module):
    def __init__(self, head_dim, dropout):
        super().__init__()
        self.head_dim = head_dim
        self.drop_attn = nn.Dropout(dropout)

    def forward(self, q, k, v, mask):
        s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        s = s - 1e6 * (1 - mask[:, None, None, :])
        p = self.drop_attn(nn.functional.softmax(s, dim=-1))
        return torch.matmul(p, v)


class Attention(nn.Module):
    def __init__(self, dim, heads, head_dim, attn_dropout):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.W_q = nn.Linear(dim, heads * head_dim)
        self.W_k = nn.Linear(dim, heads * head_dim)
        self.W_v = nn.Linear(dim, heads * head_dim)
        self.attn = SoftmaxAttention(head_dim, attn_dropout)
        self.ff = nn.Linear(heads * head_dim, dim)

    def split(self, x):
        b, n, _ = x.shape
        return x.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask):
        q, k, v = self.split(self.W_q(x)), self.split(self.W_k(x)), self.split(self.W_v(x))
        o = self.attn(q.float(), k.float(), v.float(), mask.float())
        b, h, n, p = o.shape
        return self.ff(o.transpose(1, 2).reshape(b, n, h * p))


class Transformer(nn.Module):
    def __init__(self, dim, heads, head_dim, hidden, dropout, attn_dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mha = Attention(dim, heads, head_dim, attn_dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlpblock = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                      nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x, mask):
        x = self.dropout1(self.mha(self.norm1(x), mask)) + x
        return self.mlpblock(self.norm2(x)) + x


class Model(nn.Module):
    def __init__(self, vocab_size, pos_len, dim, heads, head_dim, hidden, layers, dropout, attn_dropout):
        super().__init__()
        self.layers = layers
        self.embeddings = Embeddings(vocab_size, pos_len, dim, dropout)
        for i in range(layers):
            setattr(self, f"transformer_{i}", Transformer(dim, heads, head_dim, hidden, dropout, attn_dropout))
        self.norm = nn.LayerNorm(dim)

    def forward(self, ids, mask):
        x = self.embeddings(ids)
        for i in range(self.layers):
            x = getattr(self, f"transformer_{i}")(x, mask)
        return self.norm(x) * mask[:, :, None]


class SCHead(nn.Module):
    def __init__(self, dim, hidden, classes, dual):
        super().__init__()
        self.dual = dual
        self.mlpblock = nn.Sequential(nn.Linear(4 * dim if dual else dim, hidden), nn.ReLU(),
                                      nn.Linear(hidden, classes))

    def forward(self, u, v=None):
        if self.dual:
            u = torch.cat([u, v, u * v, u - v], dim=-1)
        return self.mlpblock(u)


class ModelForSC(nn.Module):
    """Single-sequence classifier (dual=False) or retrieval dual encoder (dual=True), MEAN pooling."""

    def __init__(self, vocab_size, pos_len, dim, heads, head_dim, hidden, layers, classes, head_hidden,
                 dual=False, dropout=0.0, attn_dropout=0.0):
        super().__init__()
        self.dual = dual
        self.model = Model(vocab_size, pos_len, dim, heads, head_dim, hidden, layers, dropout, attn_dropout)
        self.seq_classifer = SCHead(dim, head_hidden, classes, dual)

    def pool(self, ids, mask):
        return self.model(ids, mask).mean(dim=1)

    def forward(self, ids0, mask0, ids1=None, mask1=None):
        u = self.pool(ids0, mask0)
        v = self.pool(ids1, mask1) if self.dual else None
        return self.seq_classifer(u, v)


def write_safetensors(path, tensors, metadata=None):
    """Writes an ordered dict name -> tensor (float32 or int32) in the safetensors format."""
    import json
    import struct
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.float32:
            dtype = "F32"
        elif t.dtype in (torch.int32, torch.int64):
            t, dtype = t.to(torch.int32), "I32"
        else:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    import json
    import struct
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = {"F32": np.float32, "I32": np.int32}[info["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).copy().reshape(info["shape"]))
    return out
