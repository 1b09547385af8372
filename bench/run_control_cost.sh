#!/usr/bin/env bash
# run_control_cost.sh: what the homeostatic controller costs. One training epoch of the same network without
# control, with --control homeostatic at its default (an observation every 10 steps) and on every step (SGD at
# lr 0.01: at the default 0.05 this net stayed at chance and one run diverged). It reports CPU seconds (user +
# sys) of the whole command, not wall time: on a shared machine the wall time of an epoch moved by more than
# the controller costs (the every-step run once came out faster than the plain one). The data loading is in
# every mode alike, so the extra seconds are the controller's; the ratios understate it a little. Also the CPU
# time --init critical adds (against --init normal, on 128 examples).
# Target (issue 16): "at almost no cost" -- read here as <= 1.05x a plain epoch at the default.
#   bash bench/run_control_cost.sh           # tanh MLP 784-10x256-10, Fashion-MNIST, 3 repetitions
#   bash bench/run_control_cost.sh --short   # 2,000 examples, one repetition (tests/cli/control.sh)
# Writes bench/results/control_cost.txt in full mode.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
[ -x "$bin" ] || { echo "build critnet first" >&2; exit 1; }
short=0; [ "${1:-}" = "--short" ] && short=1
limit=(); reps=3
if [ $short = 1 ]; then limit=(--limit-train 2000 --limit-test 500); reps=1; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
net=(--data fashion-mnist --arch mlp --act tanh --width 256 --depth 10 --sigma-w 2.5 --lr 0.01
     --epochs 1 --batch 128 --threads 1 --track 0 --quiet "${limit[@]}")
best() { printf '%s\n' "$@" | sort -g | head -1; }
cpu_seconds() { awk '{ print $1 + $2 }' "$1"; }
declare -A t
for mode in plain every10 every1 init_normal init_critical; do
    runs=()
    for r in $(seq $reps); do
        case $mode in
        plain | init_normal) extra=(--init normal) ;;
        every10) extra=(--init normal --control homeostatic) ;;
        every1) extra=(--init normal --control homeostatic --control-every 1) ;;
        init_critical) extra=(--init critical) ;;
        esac
        # the init modes time the whole command on 128 examples: loading, initialising, a tiny epoch
        [[ $mode == init_* ]] && extra+=(--limit-train 128 --limit-test 10)
        /usr/bin/time -f "%U %S" -o "$tmp/time" "$bin" train "${net[@]}" "${extra[@]}" --out "$tmp/$mode$r"
        runs+=("$(cpu_seconds "$tmp/time")")
    done
    t[$mode]=$(best "${runs[@]}")
done
report() {
    echo "homeostatic control cost: tanh MLP 784-10x256-10 (sigma_w 2.5), SGD lr 0.01, batch 128, 1 thread, $(
        [ $short = 1 ] && echo '2,000 examples' || echo 'one Fashion-MNIST epoch'), best of $reps"
    echo "| mode | CPU seconds (whole command) | extra | ratio to plain | target |"
    echo "|---|---|---|---|---|"
    awk -v p="${t[plain]}" -v a="${t[every10]}" -v b="${t[every1]}" 'BEGIN {
        printf "| plain | %.2f | | 1.00x | |\n", p
        printf "| --control homeostatic (every 10) | %.2f | %+.2f s | %.3fx | <= 1.05x |\n", a, a - p, a / p
        printf "| --control homeostatic --control-every 1 | %.2f | %+.2f s | %.2fx | |\n", b, b - p, b / p }'
    awk -v n="${t[init_normal]}" -v c="${t[init_critical]}" 'BEGIN {
        printf "--init critical adds %.2f CPU s to a run (%.2f s against %.2f s for --init normal, whole command)\n",
               c - n, c, n }'
}
report
if [ $short = 0 ]; then mkdir -p "$root/bench/results"; report > "$root/bench/results/control_cost.txt"; fi
