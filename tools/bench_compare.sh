#!/bin/sh
# Side-by-side training-step speed and peak memory of `lra bench train` and the PyTorch peer
# ../shared/bench/torch_ref.py, at the same shapes and thread count, one kernel and length after the other
# (each pair back to back, so both see the same machine state).  Prints a Markdown table.
#
#   sh tools/bench_compare.sh [--threads T] [--batch B] [--steps S] [--n "256 1024 2000"]
#                             [--kernels "softmax nystrom ..."] [--torch PATH] [--build DIR] [--json FILE]
#
# Per-kernel settings, the same on both sides: nystrom uses 128 landmarks and a length that 128 divides
# (2000 -> 2048); bigbird and reformer use blocks (chunks) of 64, or the largest size <= 64 that fits the
# length (bigbird needs n / block >= 8 and block | n; reformer needs chunk | n).  Other kernels use the peer's
# defaults (256 features; yoso 32 hashes; s3 8 tokens and features).
# Needs /usr/bin/python3 with PyTorch (Debian: apt-get install python3-torch).
set -eu
threads=2 batch=32 steps=3 sizes="256 1024 2000" build=build json=""
kernels="softmax nystrom skeinformer linformer performer informer bigbird reformer linear yoso_e yoso s3"
torch_ref="$(dirname "$0")/../../shared/bench/torch_ref.py"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --n) sizes="$2"; shift 2 ;;
    --kernels) kernels="$2"; shift 2 ;;
    --torch) torch_ref="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --json) json="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench_compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$build/lra" ] || { echo "bench_compare.sh: $build/lra not built (run make)" >&2; exit 2; }
[ -f "$torch_ref" ] || { echo "bench_compare.sh: no PyTorch peer at $torch_ref (--torch PATH)" >&2; exit 2; }
/usr/bin/python3 -c "import torch" 2>/dev/null || {
  echo "bench_compare.sh: /usr/bin/python3 cannot import torch (apt-get install python3-torch)" >&2; exit 2; }

# The largest block <= 64 dividing n with at least `min_blocks` blocks.
fit_block() {
  n="$1" min_blocks="$2" b=64
  while [ "$b" -gt 1 ]; do
    if [ $((n % b)) -eq 0 ] && [ $((n / b)) -ge "$min_blocks" ]; then echo "$b"; return; fi
    b=$((b - 1))
  done
  echo 1
}

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; batch $batch, $threads threads, $steps timed steps after one warm-up"
echo
echo "| kernel | n | lra ms/step | torch ms/step | lra faster by | lra / torch peak RSS | lra step / dense bound |"
echo "|---|---|---|---|---|---|---|"
for k in $kernels; do
  for n in $sizes; do
    extra_l="" extra_t=""
    case "$k" in
      nystrom)
        n=$(( (n + 127) / 128 * 128 )); extra_l="--features 128"; extra_t="--features 128" ;;
      bigbird)
        b=$(fit_block "$n" 8); extra_l="--opt block_size=$b"; extra_t="--block $b" ;;
      reformer)
        b=$(fit_block "$n" 2); extra_l="--opt chunk_length=$b"; extra_t="--block $b" ;;
    esac
    # shellcheck disable=SC2086
    l=$("$build/lra" bench train --attn "$k" --n "$n" --batch "$batch" --threads "$threads" --steps "$steps" \
        --json $extra_l 2>/dev/null | tail -n 1) || l=""
    # shellcheck disable=SC2086
    t=$(/usr/bin/python3 "$torch_ref" --attn "$k" --n "$n" --batch "$batch" --threads "$threads" --steps "$steps" \
        --json $extra_t 2>/dev/null | tail -n 1) || t=""
    echo "$k $n ${l:-null} @@ ${t:-null}" >> "$rows"
    /usr/bin/python3 - "$k" "$n" "${l:-null}" "${t:-null}" <<'EOF'
import json, sys
k, n, l, t = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def load(s):
    try:
        return json.loads(s)
    except ValueError:
        return None
l, t = load(l), load(t)
lm = f"{l['ms_per_step']:.0f}" if l else "failed"
tm = f"{t['ms_per_step']:.0f}" if t else "failed"
sp = f"{t['ms_per_step'] / l['ms_per_step']:.2f}x" if l and t else "-"
rss = f"{l['peak_rss_mib'] / t['peak_rss_mib']:.2f}" if l and t else "-"
bound = f"{l['step_over_bound']:.2f}x" if l and l.get("step_over_bound") else "-"
print(f"| {k} | {n} | {lm} | {tm} | {sp} | {rss} | {bound} |", flush=True)
EOF
  done
done
if [ -n "$json" ]; then
  /usr/bin/python3 - "$rows" > "$json" <<'EOF'
import json, sys
out = []
for line in open(sys.argv[1]):
    k, n, rest = line.split(" ", 2)
    l, t = rest.rstrip("\n").split(" @@ ")
    out.append({"kernel": k, "n": int(n), "lra": json.loads(l), "torch": json.loads(t)})
json.dump(out, sys.stdout, indent=1)
EOF
fi
