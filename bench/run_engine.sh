#!/usr/bin/env bash
# run_engine.sh: the same native network trained on the layer engine and on the graph engine (--engine graph:
# lowered to ONNX, src/onnx/lower.c), in one run: the epoch time of each (from metrics.csv, data loading left
# out), their ratio, and the cost of the criticality regulariser on each engine. This is the speed a switch of
# native nets to the graph engine would cost (issue 13: no regression allowed); the PyTorch peers of these
# workloads are in run_train_mlp.sh (layer engine) and run_onnx_train.sh (graph engine).
#   bash bench/run_engine.sh           # 5,000 Fashion-MNIST images, best of 2
#   bash bench/run_engine.sh --short   # 256 images, a narrower resnet, one repetition (test suite)
# Writes bench/results/engine.md in full mode.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
[ -x "$bin" ] || { echo "build critnet first" >&2; exit 1; }
short=0; [ "${1:-}" = "--short" ] && short=1
limit=(--limit-train 5000 --limit-test 500); reps=2
res_width=8
if [ $short = 1 ]; then limit=(--limit-train 256 --limit-test 100); reps=1; res_width=4; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
common=(--data fashion-mnist --epochs 1 --batch 128 --threads 1 --track 0 --quiet --seed 1 "${limit[@]}")
mlp=(--arch mlp --act tanh --width 256 --depth 3)
cnn=(--arch resnet --width $res_width --depth 2 --norm batch --act relu)
epoch_seconds() { tail -1 "$1/metrics.csv" | awk -F, '{ print $NF }'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
declare -A t
run() { # name, then train options
    local name=$1; shift
    local runs=()
    for r in $(seq $reps); do
        "$bin" train "${common[@]}" "$@" --out "$tmp/$name$r"
        runs+=("$(epoch_seconds "$tmp/$name$r")")
    done
    t[$name]=$(best "${runs[@]}")
}
run mlp_layers "${mlp[@]}"
run mlp_graph "${mlp[@]}" --engine graph
run mlp_layers_crit "${mlp[@]}" --crit-weight 1
run mlp_graph_crit "${mlp[@]}" --crit-weight 1 --engine graph
run res_layers "${cnn[@]}"
run res_graph "${cnn[@]}" --engine graph
run res_graph_crit "${cnn[@]}" --crit-weight 1 --engine graph
report() {
    echo "engines: one training epoch, batch 128, 1 thread, $([ $short = 1 ] && echo '256' || echo '5,000') Fashion-MNIST images, best of $reps ($(date -u +%F), load $(cut -d' ' -f1 /proc/loadavg))"
    echo "| network | layer engine s | graph engine s | graph / layers | target |"
    echo "|---|---|---|---|---|"
    awk -v a="${t[mlp_layers]}" -v b="${t[mlp_graph]}" -v c="${t[mlp_layers_crit]}" -v d="${t[mlp_graph_crit]}" \
        -v e="${t[res_layers]}" -v f="${t[res_graph]}" -v g="${t[res_graph_crit]}" -v w="$res_width" 'BEGIN {
        printf "| tanh MLP 784-256x3-10 | %.3f | %.3f | %.2fx | <= 1x (no regression) |\n", a, b, b / a
        printf "| the same, --crit-weight 1 | %.3f | %.3f | %.2fx | |\n", c, d, d / c
        printf "| resnet width %d, 2 blocks, batch norm | %.3f | %.3f | %.2fx | <= 1x (no regression) |\n", w, e, f, f / e
        printf "| the same, --crit-weight 1 | refused | %.3f | | |\n", g
        printf "\nregulariser cost (epoch with / without): layer engine MLP %.2fx; graph engine MLP %.2fx, resnet %.2fx\n", c / a, d / b, g / f }'
}
report
if [ $short = 0 ]; then mkdir -p "$root/bench/results"; report > "$root/bench/results/engine.md"; fi
