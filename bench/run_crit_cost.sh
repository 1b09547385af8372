#!/usr/bin/env bash
# run_crit_cost.sh: what critical training costs. One training epoch of the same network with the
# criticality regulariser off, on every step (probes on the whole minibatch, and on its first 32 examples),
# on every step with the lambda target, and on every 10th step, in one run; prints the epoch times (from
# metrics.csv, so data loading is left out) and their ratios to the plain epoch.
# Target (issue 4): --crit-every 1 <= 1.5x a plain epoch, --crit-every 10 close to 1x.
#   bash bench/run_crit_cost.sh           # tanh MLP 784-10x256-10, Fashion-MNIST, 3 repetitions
#   bash bench/run_crit_cost.sh --short   # 2,000 examples, one repetition (test suite)
# Writes bench/results/crit_cost.txt in full mode.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
[ -x "$bin" ] || { echo "build critnet first" >&2; exit 1; }
short=0; [ "${1:-}" = "--short" ] && short=1
limit=(); reps=3
if [ $short = 1 ]; then limit=(--limit-train 2000 --limit-test 500); reps=1; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
net=(--data fashion-mnist --arch mlp --act tanh --width 256 --depth 10 --init normal --sigma-w 2.5
     --epochs 1 --batch 128 --threads 1 --track 0 --quiet "${limit[@]}")
epoch_seconds() { tail -1 "$1/metrics.csv" | awk -F, '{ print $NF }'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
declare -A t
modes=(plain every1 every1_b32 lambda1 every10)
for mode in "${modes[@]}"; do
    runs=()
    for r in $(seq $reps); do
        case $mode in
        plain) extra=() ;;
        every1) extra=(--crit-weight 1 --crit-every 1) ;;
        every1_b32) extra=(--crit-weight 1 --crit-every 1 --crit-batch 32) ;;
        lambda1) extra=(--crit-weight 1 --crit-every 1 --crit-target lambda) ;;
        every10) extra=(--crit-weight 1 --crit-every 10) ;;
        esac
        "$bin" train "${net[@]}" "${extra[@]}" --out "$tmp/$mode$r"
        runs+=("$(epoch_seconds "$tmp/$mode$r")")
    done
    t[$mode]=$(best "${runs[@]}")
done
report() {
    echo "critical training cost: tanh MLP 784-10x256-10, batch 128 (probes on all of it unless --crit-batch), 1 thread, $(
        [ $short = 1 ] && echo '2,000 examples' || echo 'one Fashion-MNIST epoch'), best of $reps"
    echo "| mode | epoch seconds | ratio to plain | target |"
    echo "|---|---|---|---|"
    awk -v p="${t[plain]}" -v a="${t[every1]}" -v a32="${t[every1_b32]}" -v l="${t[lambda1]}" \
        -v b="${t[every10]}" 'BEGIN {
        printf "| plain | %.3f | 1.00x | |\n", p
        printf "| --crit-every 1 | %.3f | %.2fx | <= 1.5x |\n", a, a / p
        printf "| --crit-every 1 --crit-batch 32 | %.3f | %.2fx | <= 1.5x |\n", a32, a32 / p
        printf "| --crit-every 1 --crit-target lambda | %.3f | %.2fx | |\n", l, l / p
        printf "| --crit-every 10 | %.3f | %.2fx | ~1x |\n", b, b / p }'
}
report
if [ $short = 0 ]; then mkdir -p "$root/bench/results"; report > "$root/bench/results/crit_cost.txt"; fi
