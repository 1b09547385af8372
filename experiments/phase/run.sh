#!/usr/bin/env bash
# The phase diagram of random tanh MLPs (issue 14): sigma, lambda_0, xi and the dynamic range Delta over
# sigma_w at depths 10, 20, 40 and sigma_b 0.05, 0.3, for each response the dynamic range can read. Prints,
# per response, depth and sigma_b, where Delta peaks against the mean-field critical sigma_w (and where
# lambda_0 crosses zero), and writes docs/phase/: summary.md, the CSVs, and the depth-20 figures (every
# heatmap of the tv response, Delta against sigma_w for each response). All outputs stay in the work folder.
#   run.sh [--short] [--work DIR]   --short: a small grid, docs/phase untouched
#   default work folder: a temporary one, removed afterwards
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
short=0
out=
docs=$root/docs/phase
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1; shift ;;
    --work) out=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
if [ $short = 1 ]; then
    grid=(--sigma-w 0.6:2.2:5 --sigma-b 0.05:0.3:2 --depth 4,8 --width 32 --samples 4 --pairs 4 --dr-points 16)
    diagram=(--sigma-w 0.6:2.2:5 --sigma-b 0.05:0.3:3 --depth 8 --width 32 --samples 4 --pairs 4 --dr-points 16)
    cross=(--sigma-w 1:1.6:4 --sigma-b 0.05:0.3:2 --depth 8 --width 32)
else
    grid=(--sigma-w 0.5:2.5:21 --sigma-b 0.05:0.3:2 --depth 10,20,40 --width 128 --samples 20 --pairs 8 --dr-points 46 --dr-smin 1e-5 --dr-smax 1e4)
    diagram=(--sigma-w 0.5:2.5:21 --sigma-b 0:0.3:7 --depth 20 --width 128 --samples 20 --pairs 8 --draws 4 --dr-points 46 --dr-smin 1e-5 --dr-smax 1e4)
    cross=(--sigma-w 1:1.6:31 --sigma-b 0.05:0.3:3 --depth 50 --width 500)
fi
responses=(tv activity hidden hidden-rel driven)
mkdir -p "$out"
t0=$(date +%s)
# the phase diagram proper (tv response), then the comparison of the responses at sigma_b 0.05 and 0.3
nice "$bin" phase --act tanh "${diagram[@]}" --seed 1 --quiet --out "$out/diagram" >/dev/null
# where lambda_0 crosses zero (test_phase's setting: width 500, depth 50, 4 inputs), with the inputs on the
# length map's fixed point and with inputs of mean square 1
# (the short mode draws only the diagram's figures: each critical line costs 20 bisections, slow near sigma_b = 0)
dest() { if [ $short = 1 ]; then mkdir -p "$1"; echo "--csv $1/phase.csv --json $1/phase.json"; else echo "--out $1"; fi; }
for inputs in fixed-point unit; do
    # shellcheck disable=SC2046
    nice "$bin" phase --act tanh "${cross[@]}" --samples 4 --probes 0 --pairs 0 --no-dynamic-range --inputs "$inputs" \
        --seed 1 --quiet $(dest "$out/crossing-$inputs") >/dev/null
done
for r in "${responses[@]}"; do
    # shellcheck disable=SC2046
    nice "$bin" phase --act tanh "${grid[@]}" --response "$r" --seed 1 --quiet $(dest "$out/$r") >/dev/null
done
secs=$(($(date +%s) - t0))
/usr/bin/python3 "$here/summary.py" "$out" "${responses[@]}" | tee "$out/summary.md"
echo "run.sh: $secs s of runs (critnet phase ${grid[*]})" | tee -a "$out/summary.md"
[ $short = 1 ] && exit 0
mkdir -p "$docs"
cp "$out/summary.md" "$docs/"
cp "$out/diagram/phase.csv" "$docs/diagram.csv"
for f in ln_sigma lambda0 delta xi xi_c; do cp "$out/diagram/${f}_d20.png" "$docs/${f}_d20.png"; done
for r in "${responses[@]}"; do
    cp "$out/$r/phase.csv" "$docs/$r.csv"
    for d in 10 20 40; do cp "$out/$r/delta_vs_sigma_w_d$d.png" "$docs/delta_vs_sigma_w_${r}_d$d.png"; done
done
echo "run.sh: wrote $docs"
