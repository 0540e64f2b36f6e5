#!/usr/bin/env python3
"""Writes data/reference/results.tsv, the published accuracy tables `lra table --reference NAME` prints,
from ../shared/reference/results.md (the project's transcription of the papers).  Numbers are copied as
printed; each source keeps its own column order.  Usage: tools/reference/extract_results.py RESULTS_MD OUT_TSV
"""
import sys

# source name -> (heading that precedes the table, title, protocol, {paper row: our kernel})
LRA_ROWS = {"Transformer": "softmax", "Local Attention": "local", "Sparse Trans.": "sparse",
            "Sparse Transformer": "sparse", "Longformer": "longformer", "Linformer": "linformer",
            "Reformer": "reformer", "Sinkhorn Trans.": "sinkhorn", "Sinkhorn Transformer": "sinkhorn",
            "Synthesizer": "synthesizer", "BigBird": "bigbird", "Linear Trans.": "linear",
            "Linear Transformer": "linear", "Performer": "performer"}
SOURCES = [
    ("lra", "### 1.1 Table 1", "LRA paper, Table 1 (Tay et al., ICLR 2021)",
     "JAX/Flax fp32, large per-task models (1-6 layers, 32-512 wide; training.md 2.7); apparently single runs; "
     "last checkpoint tested; ListOps tokenizer pre-fix",
     dict(LRA_ROWS)),
    ("nystromformer", "## 2. Nyströmformer", "Nystromformer README table (Xiong et al., AAAI 2021)",
     "PyTorch, AMP fp16; 2 layers, 64 wide, 2 heads, mean pooling; fixed steps (training.md 2.4); best-dev "
     "checkpoint tested; runs per number not stated; YOSO uses the same protocol (its tables are not available)",
     {"Standard": "softmax", "Reformer": "reformer", "Linformer": "linformer", "Performer": "performer",
      "Nyströmformer (ours)": "nystrom"}),
    ("skeinformer", "### 3.1 Table 1", "Skeinformer, Table 1 (NAACL 2022)",
     "PyTorch, AMP fp16; 2 layers, 64 wide, 128 hidden, 2 heads, mean pooling; Adam lr 1e-4; early stop after "
     "10 checks without improvement; last model tested; mean of 3 runs; feature budget 256",
     {"Standard": "softmax", "V-Mean": "vmean", "BigBird": "bigbird", "Performer": "performer",
      "Nyströmformer": "nystrom", "Reformer": "reformer", "Linformer": "linformer",
      "· w/ unreduced JLT": "linformer_unreduced", "Informer": "informer", "· w/ padding mask": "informer_masked",
      "Skeinformer": "skeinformer", "· w/o column sampling": "skein_uniform",
      "· w/o row normalization": "skein_nonorm", "· w/ simple row normalization": "skein_simplenorm",
      "· w/o pilot sampling reutilization": "skein_nopilot"}),
    ("s3attention", "### 4.1 Table 1", "S3Attention, Table 1 (KDD 2023 submission)",
     "PyTorch fp32, Transformer-LS code; per-task settings (training.md 2.6); best-dev checkpoint tested; "
     "S3 rows mean (std) of 5 seeds; rows Transformer to Performer copied from LRA Table 1, later baselines "
     "from their own papers (not re-run)",
     dict(LRA_ROWS, **{"Nystromformer": "nystrom", "H-Transformer-1D": "h_transformer_1d",
                       "Transformer-LS": "transformer_ls", "FNet": "fnet", "Luna": "luna", "FMMformer": "fmmformer",
                       "PoNet": "ponet", "Cosformer": "cosformer", "Scatterbrain": "scatterbrain",
                       "S3Attention (r, s1, s2 = 8)": "s3", "S3Attention (best)": "s3"})),
]
COLUMN = {"ListOps": "listops", "Text": "text", "Retrieval": "retrieval", "Image": "image",
          "Pathfinder": "pathfinder", "Path-X": "pathx", "Avg": "average", "Average": "average"}


def table_after(lines, heading):
    i = next(k for k, l in enumerate(lines) if l.startswith(heading))
    while not lines[i].startswith("|"):
        i += 1
    rows = []
    while i < len(lines) and lines[i].startswith("|"):
        rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
        i += 1
    return rows[0], rows[2:]


def main():
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
    out = ["# Published LRA accuracy tables (test accuracy, %), transcribed by tools/reference/extract_results.py",
           "# from ../shared/reference/results.md.  Lines (tab-separated):",
           "#   source NAME TITLE PROTOCOL        a paper's table and how its numbers were obtained",
           "#   columns NAME COLUMN...            its columns in its own order (task names, average)",
           "#   row NAME PAPER_ROW KERNEL VALUE... one printed row; KERNEL is our attention (- for none);",
           "#                                     a value is a number, number(std), FAIL, NA or -"]
    for name, heading, title, protocol, kernels in SOURCES:
        header, rows = table_after(lines, heading)
        cols = []
        for h in header[1:]:
            base = h.split(" (")[0]
            cols.append(COLUMN[base])
        out.append("\t".join(["source", name, title, protocol]))
        out.append("\t".join(["columns", name] + cols))
        for r in rows:
            if r[0].startswith("Task Avg"):
                continue
            vals = [v.replace(" ", "") for v in r[1:]]
            out.append("\t".join(["row", name, r[0], kernels.get(r[0], "-")] + vals))
    open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out) + "\n")


main()
