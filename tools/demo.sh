#!/bin/sh
# `make demo`: generate a small ListOps task, train the quick-start model on it with the progress bar,
# evaluate the best checkpoint on the test split and print the results table.
# Usage: tools/demo.sh [BUILD_DIR]   (default build)
set -eu
B="${1:-build}"
DATA=datasets/quickstart/listops
RUN=runs/quickstart
if [ ! -f "$DATA/basic_test.tsv" ]; then
  echo "== generating the quick-start ListOps data in $DATA"
  "$B/lra" data generate listops --out "$DATA" --seed 1 --train 4000 --val 500 --test 500 \
    --max-depth 6 --min-length 40 --max-length 250
fi
rm -rf "$RUN"
echo "== training (configs/quickstart.yaml) into $RUN"
"$B/lra" train configs/quickstart.yaml --run-dir "$RUN"
echo "== evaluating the best checkpoint on the test split"
"$B/lra" eval "$RUN" --split test
echo "== results table"
"$B/lra" table "$RUN"
