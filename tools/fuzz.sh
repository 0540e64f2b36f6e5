#!/bin/sh
# Runs the libFuzzer binaries that `make fuzz` built, each for a fixed time, and reports executions and
# findings.  Usage: tools/fuzz.sh [-b BUILD] [-t SECONDS] [-j PARALLEL] [TARGET...]   (default: every target)
# Working corpora live in BUILD/corpus/<target> (seeded from the globs in fuzz/seeds/<target>), findings in
# BUILD/findings/<target>/.  A finding makes the script exit 1: reduce it, fix the parser and copy the input
# into tests/fuzz/<target>/, which `make test` replays.
set -u
build=build-fuzz; secs=20; par=1
while getopts b:t:j: o; do
  case "$o" in
    b) build="$OPTARG" ;; t) secs="$OPTARG" ;; j) par="$OPTARG" ;;
    *) echo "usage: tools/fuzz.sh [-b BUILD] [-t SECONDS] [-j PARALLEL] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
cd "$(dirname "$0")/.." || exit 2
mkdir -p "$build/findings"
if [ $# -eq 0 ]; then set -- $(ls fuzz/fuzz_*.c | sed -e 's|fuzz/fuzz_||' -e 's|\.c$||'); fi

run_one() {
  t="$1"
  bin="$build/fuzzers/$t"
  [ -x "$bin" ] || { echo "fuzz $t: $bin missing (run make fuzz)"; return 1; }
  corpus="$build/corpus/$t"; finds="$build/findings/$t"
  mkdir -p "$corpus" "$finds"
  if [ -f "fuzz/seeds/$t" ]; then
    grep -v '^#' "fuzz/seeds/$t" | while read -r g; do
      [ -n "$g" ] || continue
      for f in $g; do [ -f "$f" ] && cp "$f" "$corpus/seed-$(echo "$f" | tr '/' '_')"; done
    done
  fi
  [ -d "tests/fuzz/$t" ] && cp tests/fuzz/"$t"/* "$corpus"/ 2>/dev/null
  log="$build/findings/$t.log"
  # -rss_limit_mb and -malloc_limit_mb: an allocation the input cannot justify is a finding too.
  "$bin" "$corpus" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$finds/" > "$log" 2>&1
  rc=$?
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  n=$(ls "$finds" | wc -l)
  echo "fuzz $t: ${execs:-?} executions in ${secs} s, $n findings (exit $rc; log $log)"
  [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]
}

fail=0; running=0
for t in "$@"; do
  if [ "$par" -le 1 ]; then run_one "$t" || fail=1
  else
    ( run_one "$t" ) > "$build/findings/.$t.out" 2>&1 &
    running=$((running + 1))
    if [ "$running" -ge "$par" ]; then wait; running=0; fi
  fi
done
if [ "$par" -gt 1 ]; then
  wait
  for t in "$@"; do cat "$build/findings/.$t.out"; grep -q ', 0 findings (exit 0' "$build/findings/.$t.out" || fail=1; done
fi
exit $fail
