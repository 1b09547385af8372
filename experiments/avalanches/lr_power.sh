#!/usr/bin/env bash
# lr_power.sh: how often critnet powerlaw's likelihood-ratio test prefers the log-normal on log-normal data
# (mu 2, sigma 1.2; numpy seeds 100..109), with x_min searched and with x_min fixed at the median e^2, for
# samples of 5000 and 20000 values. A sample counts when R < 0 with p < 0.05. Prints a markdown table and, in
# the full mode, writes it to experiments/avalanches/lr_power.md (docs/avalanches.md quotes it).
#
# usage: experiments/avalanches/lr_power.sh [--short]
#   --short   2 seeds of 2000 values: seconds, for tests/cli/powerlaw.sh; writes nothing
# env: CRITNET_BIN (default build/critnet)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${CRITNET_BIN:-$ROOT/build/critnet}
PY=/usr/bin/python3
SIZES="5000 20000"
SEEDS=$(seq 100 109)
OUT=$ROOT/experiments/avalanches/lr_power.md
if [ "${1:-}" = --short ]; then SIZES=2000; SEEDS="100 101"; OUT=; fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
{
    echo "| values | x_min | samples | log-normal preferred (R < 0, p < 0.05) | median p |"
    echo "|---|---|---|---|---|"
    for n in $SIZES; do
        for s in $SEEDS; do
            "$PY" -c "import numpy as np, sys; x = np.random.default_rng($s).lognormal(2, 1.2, $n)
open(sys.argv[1], 'w').write('v\n' + ''.join('%.17g\n' % v for v in x))" "$TMP/x$s.csv"
        done
        for mode in searched median; do
            args=()
            [ $mode = median ] && args=(--xmin 7.38905609893065)
            for s in $SEEDS; do
                "$BIN" powerlaw --csv "$TMP/x$s.csv" --threads 1 "${args[@]}" --json "$TMP/f$s.json" >/dev/null
            done
            "$PY" - "$n" "$mode" "$TMP" $SEEDS <<'PY'
import json, statistics, sys
n, mode, tmp, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
lr = [next(t for t in json.load(open(f"{tmp}/f{s}.json"))["likelihood_ratio"] if t["alternative"] == "lognormal")
      for s in seeds]
k = sum(t["R"] < 0 and t["p_value"] < 0.05 for t in lr)
print(f"| {n} | {'searched' if mode == 'searched' else 'e^2 (median)'} | {len(lr)} | {k} | "
      f"{statistics.median(t['p_value'] for t in lr):.2g} |")
PY
        done
    done
} | tee "$TMP/table.md"
[ -z "$OUT" ] || cp "$TMP/table.md" "$OUT"
