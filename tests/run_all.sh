#!/bin/sh
# Runs test binaries from the repository root and prints one closing line summing their counts.
# Usage: tests/run_all.sh BUILD_DIR TEST_BINARY...
# A binary that crashes or exits non-zero without reporting failures counts as one failure.
build="$1"; shift
export LRA_BUILD="$build"
total_p=0; total_f=0; total_s=0; bad=""
for t in "$@"; do
  name=$(basename "$t")
  out=$(mktemp)
  "$t" > "$out" 2>&1
  rc=$?
  cat "$out"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$line" ]; then
    echo "FAIL $name: exited with status $rc without a closing line (crash?)"
    total_f=$((total_f + 1)); bad="$bad $name"; continue
  fi
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p'); [ -z "$s" ] && s=0
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$f" -gt 0 ] && bad="$bad $name"
  total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + s))
done
[ -n "$bad" ] && echo "failing:$bad"
if [ "$total_s" -gt 0 ]; then
  echo "$total_p passed, $total_f failed, $total_s skipped"
else
  echo "$total_p passed, $total_f failed"
fi
[ "$total_f" -eq 0 ]
