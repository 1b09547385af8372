#!/usr/bin/env bash
# The short modes of the experiments (and of the critnet-only benchmarks) run end to end and print their tables.
set -euo pipefail
: "${CRITNET_SRC:?}"
cd "$CRITNET_SRC"
pass=0; fail=0
expect_rows() { # name output rows...
  local name=$1 out=$2; shift 2
  for row in "$@"; do
    if grep -q -- "| $row |" <<<"$out"; then pass=$((pass+1)); else echo "FAIL: $name: no row '$row'"; fail=$((fail+1)); fi
  done
}
out=$(bash experiments/core-accuracy/run.sh --short 2>&1) || { echo "$out"; echo "FAIL: core-accuracy exited non-zero"; exit 1; }
echo "$out"
expect_rows core-accuracy "$out" mlp cnn
out=$(bash bench/run_crit_cost.sh --short 2>&1) || { echo "$out"; echo "FAIL: crit-cost exited non-zero"; exit 1; }
echo "$out"
expect_rows crit-cost "$out" plain "--crit-every 1" "--crit-every 1 --crit-batch 32" "--crit-every 1 --crit-target lambda" "--crit-every 10"
out=$(bash experiments/critical-training/run.sh --short 2>&1) || { echo "$out"; echo "FAIL: critical-training exited non-zero"; exit 1; }
echo "$out"
# the verdict table and the stats tables, one row per architecture and condition
expect_rows critical-training "$out" "baseline" "crit_b1" "tanh_sw2.5 | crit_init" "relu_mlp | crit_b1"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
