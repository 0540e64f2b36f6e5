#!/bin/sh
# Scaling benchmark of data-parallel training (`make MPI=1`): trains the same small ListOps model with
# several ranks x threads-per-rank mixes and prints the training throughput of each.
#
# Usage: tools/bench_mpi.sh [-b BUILD] [-s STEPS] [-B BATCH] [-r REPEATS] [MIX ...]
#   MIX      RANKSxTHREADS, e.g. 2x1 (default: 1x1 2x1 4x1 ... up to the cores, then 1xN 2xN/2 ...
#            N/2x2 with N the cores)
#   -b       build folder holding an MPI build of lra (default: build)
#   -s       steps per run (default 30; the first 10 are a warm-up and not timed)
#   -B       global batch (default 64, divisible by 1, 2, 4, 8, 16 ranks)
#   -r       runs per mix, the fastest counts (default 1; more on a busy machine)
# Environment: MPI_BIND=none runs the ranks unbound (default: each rank bound to THREADS cores when
# RANKS x THREADS fits the cores); MPIRUN_ARGS adds arguments to mpirun (e.g. a --hostfile).
# Prints one row per mix: ms per step, examples per second, speed-up over the first mix.
set -eu
build=build
steps=30
batch=64
repeats=1
while getopts b:s:B:r: opt; do
  case "$opt" in
    b) build="$OPTARG" ;;
    s) steps="$OPTARG" ;;
    B) batch="$OPTARG" ;;
    r) repeats="$OPTARG" ;;
    *) echo "usage: tools/bench_mpi.sh [-b BUILD] [-s STEPS] [-B BATCH] [-r REPEATS] [RANKSxTHREADS ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
lra="$build/lra"
[ -x "$lra" ] || { echo "bench_mpi: $lra not found: build it with make MPI=1 BUILD=$build" >&2; exit 1; }
command -v mpirun >/dev/null 2>&1 || { echo "bench_mpi: mpirun not found (sh tools/install-deps.sh --mpi)" >&2; exit 1; }
ldd "$lra" 2>/dev/null | grep -q libmpi || { echo "bench_mpi: $lra is not an MPI build (make MPI=1)" >&2; exit 1; }
cores=$(nproc)
if [ $# -eq 0 ]; then
  set --
  k=1; while [ "$k" -le "$cores" ]; do set -- "$@" "${k}x1"; k=$((k * 2)); done
  k=1; while [ "$k" -lt "$cores" ]; do
    t=$((cores / k)); [ "$t" -gt 1 ] && set -- "$@" "${k}x${t}"; k=$((k * 2)); done
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d /tmp/lra-bench-mpi.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
"$lra" data generate listops --out "$work/data" --train 2000 --val 64 --test 64 --max-depth 6 \
  --min-length 100 --max-length 256 --seed 1 >/dev/null
cat > "$work/bench.yaml" <<EOF
seed: 1
task: listops
data:
  path: $work/data
  max_length: 256
model:
  layers: 2
  dim: 64
  heads: 2
  head_dim: 32
  hidden: 128
  head_hidden: 128
  dropout: 0.1
  vocab_size: 32
  attention:
    type: softmax
train:
  steps: $steps
  batch_size: $batch
  lr: 1.0e-3
  warmup: 4
  eval_every: 1000000
  checkpoint_every: 1000000
  log_every: 10
EOF
echo "lra $("$lra" --version | cut -d' ' -f2), $cores cores, global batch $batch, sequence length 256, $steps steps ($((steps - 10)) timed)"
printf '%-6s %-8s %-8s %-10s %-10s %s\n' ranks threads cores ms/step examples/s speed-up
base=""
for mix in "$@"; do
  k=${mix%x*}; t=${mix#*x}
  case "$k$t" in *[!0-9]*|"") echo "bench_mpi: bad mix '$mix' (expected RANKSxTHREADS)" >&2; exit 2 ;; esac
  if [ $((batch % k)) -ne 0 ]; then echo "bench_mpi: skipping $mix: batch $batch not divisible by $k" >&2; continue; fi
  bind="--bind-to none"
  if [ "${MPI_BIND:-}" != none ] && [ $((k * t)) -le "$cores" ]; then bind="--map-by slot:PE=$t --bind-to core"; fi
  ms=""
  i=0
  while [ "$i" -lt "$repeats" ]; do
    i=$((i + 1))
    run="$work/run-$mix-$i"
    # shellcheck disable=SC2086
    if ! mpirun --oversubscribe $bind ${MPIRUN_ARGS:-} -np "$k" "$lra" train "$work/bench.yaml" --run-dir "$run" \
        --threads "$t" --quiet > "$work/log-$mix" 2>&1; then
      echo "bench_mpi: $mix failed:" >&2; cat "$work/log-$mix" >&2; exit 1
    fi
    # Mean ms per step over the train lines after the first (warm-up) interval; the fastest run counts.
    m=$(grep '"split": "train"' "$run/metrics.jsonl" | tail -n +2 | \
        sed -E 's/.*"ms_per_step": ([0-9.]+).*/\1/' | awk '{s += $1; n++} END {if (n) printf "%.1f", s / n}')
    ms=$(awk -v a="$ms" -v b="$m" 'BEGIN {if (a == "" || b + 0 < a + 0) print b; else print a}')
  done
  eps=$(awk -v ms="$ms" -v b="$batch" 'BEGIN {printf "%.1f", b * 1000 / ms}')
  [ -z "$base" ] && base=$eps
  sp=$(awk -v a="$eps" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
  printf '%-6s %-8s %-8s %-10s %-10s %s\n' "$k" "$t" $((k * t)) "$ms" "$eps" "$sp"
done
