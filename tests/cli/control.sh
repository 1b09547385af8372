#!/usr/bin/env bash
# critnet train with the control methods (issue 16): --init critical and --control homeostatic run on Gaussian
# data (and Fashion-MNIST where it is installed), record their settings and the calibration in summary.json,
# resume bit-identically (the controller's running state travels in the checkpoint), bad settings are refused
# with a message, and an imported graph (a MatMul-tanh net, chaotic) is calibrated and controlled through its
# nodes' weights.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

net=(--data gaussian --in 32 --classes 4 --arch mlp --width 64 --depth 6 --act tanh --sigma-w 2.5 --epochs 3
     --batch 50 --threads 1 --quiet)

# --init critical: normal at --sigma-w 2.5, then calibrated; the report is in the settings
"$bin" train "${net[@]}" --init critical --out "$tmp/ci" && ok || bad "train --init critical"
[ "$(json "$tmp/ci/summary.json" 'd["settings"]["init"]')" = critical ] && ok || bad "summary.json: init is not critical"
after=$(json "$tmp/ci/summary.json" 'd["settings"]["critical_init"]["mean_abs_ln_sigma_after"]')
before=$(json "$tmp/ci/summary.json" 'd["settings"]["critical_init"]["mean_abs_ln_sigma_before"]')
awk -v a="$after" -v b="$before" 'BEGIN { exit !(a < 0.05 && b > 0.1) }' && ok ||
    bad "critical init: mean |ln sigma_l| $before -> $after (expected > 0.1 -> < 0.05)"
[ "$(wc -l < "$tmp/ci/metrics.csv")" -eq 4 ] && ok || bad "metrics.csv: $(cat "$tmp/ci/metrics.csv")"
# the tracked sigma (critnet measure's, on test inputs) of the first epoch is near 1, far from the chaotic start
"$bin" train "${net[@]}" --init normal --epochs 1 --out "$tmp/plain" && ok || bad "plain run"
lnsig() { awk -F, 'NR == 2 { v = log($6); print v < 0 ? -v : v }' "$1/metrics.csv"; }
awk -v c="$(lnsig "$tmp/ci")" -v p="$(lnsig "$tmp/plain")" 'BEGIN { exit !(c < 0.05 && p > 0.1) }' && ok ||
    bad "tracked |ln sigma| after epoch 1: critical init $(lnsig "$tmp/ci"), plain $(lnsig "$tmp/plain")"
# critical:BASE starts from another scheme
"$bin" train "${net[@]}" --init critical:orthogonal --epochs 1 --out "$tmp/co" && ok || bad "--init critical:orthogonal"

# --control homeostatic: its settings are recorded; a run stopped and resumed ends bit-identical
ctl=("${net[@]}" --init normal --control homeostatic --control-every 2 --control-rate 0.4 --control-band 0.01)
"$bin" train "${ctl[@]}" --out "$tmp/h" && ok || bad "train --control homeostatic"
[ "$(json "$tmp/h/summary.json" '(d["settings"]["control"], d["settings"]["control_every"], d["settings"]["control_rate"], d["settings"]["control_band"])')" = "('homeostatic', 2, 0.4, 0.01)" ] &&
    ok || bad "summary.json control settings: $(json "$tmp/h/summary.json" 'd["settings"]')"
awk -F, 'END { v = log($6); if (v < 0) v = -v; exit !(v < 0.05) }' "$tmp/h/metrics.csv" && ok ||
    bad "homeostatic: the last tracked sigma is not near 1: $(cat "$tmp/h/metrics.csv")"
"$bin" train "${ctl[@]}" --stop-after 1 --out "$tmp/h2" && "$bin" train --resume "$tmp/h2" --quiet && ok ||
    bad "stop and resume"
cmp -s "$tmp/h/model.cnm" "$tmp/h2/model.cnm" && ok || bad "the resumed controlled run is not bit-identical"
# both together, resumed as well
"$bin" train "${net[@]}" --init critical --control homeostatic --out "$tmp/b" && ok || bad "both"
"$bin" train "${net[@]}" --init critical --control homeostatic --stop-after 2 --out "$tmp/b2" &&
    "$bin" train --resume "$tmp/b2" --quiet && cmp -s "$tmp/b/model.cnm" "$tmp/b2/model.cnm" && ok ||
    bad "critical init + control: the resumed run is not bit-identical"

# Fashion-MNIST, a few steps of a batch-norm CNN with both, where the data is installed
if "$bin" train --data fashion-mnist --limit-train 64 --limit-test 10 --epochs 1 --track 0 --width 8 --depth 1 --quiet \
       --out "$tmp/probe" >/dev/null 2>&1; then
    "$bin" train --data fashion-mnist --arch cnn --width 8 --norm batch --act tanh --init critical:torch --control homeostatic \
        --control-every 1 --limit-train 512 --limit-test 200 --epochs 1 --batch 64 --track 50 --threads 1 --quiet \
        --out "$tmp/fm" && ok || bad "fashion-mnist CNN with --init critical --control homeostatic"
    [ "$(json "$tmp/fm/summary.json" 'd["settings"]["critical_init"]["not_reached"]')" = 0 ] && ok ||
        bad "fashion-mnist: blocks not calibrated: $(json "$tmp/fm/summary.json" 'd["settings"]["critical_init"]')"
    # the short mode of the cost bench
    out=$(bash "${CRITNET_SRC:-.}/bench/run_control_cost.sh" --short 2>&1) && grep -q "ratio to plain" <<<"$out" && ok ||
        bad "bench/run_control_cost.sh --short: $out"
else
    echo "fashion-mnist not installed: its run is skipped"
fi

expect_error() { # what pattern args...
    local what=$1 pat=$2; shift 2
    out=$("$bin" train "$@" --out "$tmp/err" 2>&1); rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pat" <<<"$out"; then ok; else bad "$what: rc=$rc $out"; fi
}
expect_error "unknown control" "--control pid" --data gaussian --in 4 --control pid
expect_error "rate 0" "control-rate" --data gaussian --in 4 --control homeostatic --control-rate 0
expect_error "rate > 1" "control-rate" --data gaussian --in 4 --control homeostatic --control-rate 2
expect_error "every 0" "control-every" --data gaussian --in 4 --control homeostatic --control-every 0
expect_error "negative band" "control-band" --data gaussian --in 4 --control homeostatic --control-band -0.1
expect_error "unknown base" "critical:bogus" --data gaussian --in 4 --init critical:bogus
# an imported graph: the gain of a block is the weight its MatMul multiplies (src/control/block_gain.c)
if /usr/bin/python3 - "$tmp/lin.onnx" <<'PY'
import sys, numpy as np
from onnx import helper, TensorProto, numpy_helper, save
r = np.random.RandomState(0)
w = [numpy_helper.from_array((3.0 * r.randn(16, 16) / 4).astype(np.float32), "w%d" % i) for i in range(3)]
nodes = [helper.make_node("MatMul", ["input", "w0"], ["h0"]), helper.make_node("Tanh", ["h0"], ["t0"]),
         helper.make_node("MatMul", ["t0", "w1"], ["h1"]), helper.make_node("Tanh", ["h1"], ["t1"]),
         helper.make_node("MatMul", ["t1", "w2"], ["output"])]
g = helper.make_graph(nodes, "lin", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 16])],
                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 16])], initializer=w)
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PY
then
    "$bin" train --model-file "$tmp/lin.onnx" --data gaussian --in 16 --classes 16 --epochs 1 --init critical \
        --quiet --out "$tmp/onnx_init" >/dev/null 2>&1 && ok || bad "onnx + critical init"
    after=$(json "$tmp/onnx_init/summary.json" "d['settings']['critical_init']['mean_abs_ln_sigma_after']" 2>/dev/null)
    before=$(json "$tmp/onnx_init/summary.json" "d['settings']['critical_init']['mean_abs_ln_sigma_before']" 2>/dev/null)
    /usr/bin/python3 -c "import sys; sys.exit(not (float('$before') > 0.1 and float('$after') < 0.05))" 2>/dev/null \
        && ok || bad "onnx + critical init: mean |ln sigma_l| $before -> $after"
    "$bin" train --model-file "$tmp/lin.onnx" --data gaussian --in 16 --classes 16 --epochs 1 --control homeostatic \
        --quiet --out "$tmp/onnx_control" >/dev/null 2>&1 && ok || bad "onnx + control"
else
    echo "python onnx not available: the imported-graph checks are skipped"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
