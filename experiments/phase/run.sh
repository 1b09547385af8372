#!/usr/bin/env bash
# The phase diagram of random tanh MLPs (issue 14): sigma, lambda_0, xi and the dynamic range Delta over
# sigma_w at depths 10, 20, 40 and sigma_b 0.05, 0.3, for each response the dynamic range can read. Prints,
# per response, depth and sigma_b, where Delta peaks against the mean-field critical sigma_w (and where
# lambda_0 crosses zero), and writes docs/phase/ (the tables, CSVs and heatmaps).
#   run.sh [--short] [--out DIR]    --short: a small grid, into a temporary folder (docs/phase untouched)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
short=0
out=$root/docs/phase
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ $short = 1 ]; then
    [ "$out" = "$root/docs/phase" ] && out=$(mktemp -d) && trap 'rm -rf "$out"' EXIT
    grid=(--sigma-w 0.6:2.2:5 --sigma-b 0.05,0.3 --depth 4,8 --width 32 --samples 4 --pairs 4 --dr-points 16)
else
    grid=(--sigma-w 0.5:2.5:21 --sigma-b 0.05,0.3 --depth 10,20,40 --width 128 --samples 20 --pairs 8 --dr-points 40)
fi
responses=(tv activity hidden hidden-rel)
mkdir -p "$out"
t0=$(date +%s)
for r in "${responses[@]}"; do
    # one run per sigma_b: the comma list is not a grid syntax of critnet phase
    IFS=, read -r -a sbs <<<"${grid[3]}"
    args=("${grid[@]:0:2}" "${grid[@]:4}")
    for sb in "${sbs[@]}"; do
        nice "$bin" phase --act tanh "${args[@]}" --sigma-b "$sb" --response "$r" --seed 1 --quiet \
            --out "$out/$r/sb$sb" >/dev/null
    done
done
secs=$(($(date +%s) - t0))
/usr/bin/python3 "$here/summary.py" "$out" "${responses[@]}" | tee "$out/summary.md"
echo "run.sh: $secs s of runs (critnet phase ${grid[*]})" | tee -a "$out/summary.md"
