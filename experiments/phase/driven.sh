#!/usr/bin/env bash
# The driven dynamic range on the phase diagram (issue 14, item 2): Delta with --response driven (Gaussian noise
# of RMS s into every block, Kinouchi & Copelli's stochastic drive; src/measure/driven.c) for random tanh MLPs
# over sigma_w at depths 10, 20, 40 and sigma_b 0.05, 0.3. Prints, per depth and sigma_b, where Delta peaks over
# the complete curves (saturated, not cut at s_min) against the mean-field critical sigma_w, and how many curves
# were left out; the issue's criterion is 10%. Then a finer sigma_w grid at depth 20 over four sigma_b (0 to 0.3), to
# see what the peak follows: the critical line chi1 = 1 moves with sigma_b. Writes docs/phase/driven_sweep.md, driven_sweep.csv
# and driven_fine.csv (not driven.csv: run.sh writes that, one draw, as for every response).
#   driven.sh [--short] [--work DIR]   --short: a small grid, docs/phase untouched
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
short=0
out=
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1; shift ;;
    --work) out=$2; shift 2 ;;
    *) echo "driven.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
if [ $short = 1 ]; then
    depths=(4 8)
    grid=(--sigma-w 0.6:2.2:5 --sigma-b 0.05:0.3:2 --width 32 --samples 4 --dr-points 16)
    fine=(--sigma-w 0.8:1.4:4 --sigma-b 0:0.3:2 --depth 8 --width 32 --samples 4 --dr-points 16)
else
    depths=(10 20 40)
    grid=(--sigma-w 0.5:2.5:21 --sigma-b 0.05:0.3:2 --width 128 --samples 20 --draws 2 --dr-points 46)
    fine=(--sigma-w 0.8:1.5:29 --sigma-b 0:0.3:5 --depth 20 --width 128 --samples 20 --draws 2 --dr-points 46)
fi
mkdir -p "$out/driven"
t0=$(date +%s)
# one process per depth (each bit-identical on its own), their CSVs joined in depth order
pids=()
for d in "${depths[@]}"; do
    nice "$bin" phase --act tanh "${grid[@]}" --depth "$d" --dr-smin 1e-5 --dr-smax 1e4 --response driven --probes 0 \
        --pairs 0 --seed 1 --quiet --csv "$out/driven/d$d.csv" >/dev/null &
    pids+=($!)
done
mkdir -p "$out/driven-fine"
nice "$bin" phase --act tanh "${fine[@]}" --dr-smin 1e-5 --dr-smax 1e4 --response driven --probes 0 --pairs 0 --seed 1 \
    --quiet --csv "$out/driven-fine/phase.csv" >/dev/null &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done # each one's failure stops the script (set -e)
first=1
for d in "${depths[@]}"; do
    if [ $first = 1 ]; then cat "$out/driven/d$d.csv"; first=0; else tail -n +2 "$out/driven/d$d.csv"; fi
done >"$out/driven/phase.csv"
secs=$(($(date +%s) - t0))
/usr/bin/python3 "$here/summary.py" "$out" driven driven-fine | sed '/^| inputs/,$d' | tee "$out/driven.md"
echo "driven.sh: $secs s of runs (critnet phase --response driven ${grid[*]} --depth ${depths[*]} --dr-smin 1e-5 --dr-smax 1e4 --probes 0 --pairs 0 --seed 1; and the same with ${fine[*]})" | tee -a "$out/driven.md"
[ $short = 1 ] && exit 0
mkdir -p "$root/docs/phase"
cp "$out/driven.md" "$root/docs/phase/driven_sweep.md"
cp "$out/driven/phase.csv" "$root/docs/phase/driven_sweep.csv"
cp "$out/driven-fine/phase.csv" "$root/docs/phase/driven_fine.csv"
echo "driven.sh: wrote $root/docs/phase/driven_sweep.md, driven_sweep.csv and driven_fine.csv"
