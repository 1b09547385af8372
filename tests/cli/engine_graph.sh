#!/usr/bin/env bash
# critnet train --engine graph: a native residual network with batch norm, which the layer engine's regulariser
# refuses (the message points to --engine graph), is lowered to DIR/model.onnx and trained with the criticality
# regulariser on the graph engine; R falls over the epochs; a run stopped after one epoch and resumed ends
# bit-identical to a run straight through; `critnet export` writes a native checkpoint as ONNX that
# onnx.checker accepts and that evaluates exactly as the checkpoint; and the zoo refuses the option.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

common=(--data fashion-mnist --arch resnet --width 8 --depth 2 --norm batch --act tanh --limit-train 400
        --limit-test 200 --batch 50 --seed 4 --quiet --crit-weight 1)
out=$("$bin" train "${common[@]}" --epochs 1 --out "$tmp/layers" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q -- "--engine graph" && ok || bad "the layer engine must refuse and point to --engine graph (rc $rc): $out"

"$bin" train "${common[@]}" --epochs 2 --engine graph --out "$tmp/straight" && ok || bad "train --engine graph"
[ -s "$tmp/straight/model.onnx" ] && ok || bad "no lowered model.onnx in the run folder"
read -r r1 r2 < <($py -c "
import csv; rows = list(csv.DictReader(open('$tmp/straight/metrics.csv'))); print(rows[0]['crit_reg'], rows[-1]['crit_reg'])")
echo "R: epoch 1 $r1, epoch 2 $r2"
$py -c "import sys; sys.exit(not (0 < float('$r2') < float('$r1')))" && ok || bad "R did not fall ($r1 -> $r2)"

"$bin" train "${common[@]}" --epochs 2 --engine graph --stop-after 1 --out "$tmp/resumed" >/dev/null && ok || bad "first half"
"$bin" train --resume "$tmp/resumed" --quiet >/dev/null && ok || bad "resume"
# (the checkpoints name their own folder's model.onnx, so the files differ: compare what they compute)
cmp -s <(cut -d, -f1-8 "$tmp/straight/metrics.csv") <(cut -d, -f1-8 "$tmp/resumed/metrics.csv") && ok ||
    bad "the resumed run's metrics differ from the straight one's"
for run in straight resumed; do
    "$bin" predict --model "$tmp/$run/model.cnm" --data fashion-mnist --limit 200 --out "$tmp/$run.npy" \
        >/dev/null 2>&1 || bad "predict $run"
done
cmp -s "$tmp/straight.npy" "$tmp/resumed.npy" && ok || bad "stop-and-resume is not bit-identical (logits differ)"

"$bin" train --data fashion-mnist --arch cnn --norm batch --limit-train 500 --epochs 1 --seed 2 --quiet \
    --out "$tmp/cnn" && ok || bad "train a native cnn"
"$bin" export --model "$tmp/cnn/model.cnm" --out "$tmp/cnn.onnx" >/dev/null && ok || bad "export a native checkpoint"
$py -c "import onnx; onnx.checker.check_model(onnx.load('$tmp/cnn.onnx'), full_check=True)" && ok || bad "onnx.checker"
a=$("$bin" eval --model "$tmp/cnn/model.cnm" --data fashion-mnist --limit-test 1000 2>&1 | tail -1 | sed 's/.*accuracy//')
b=$("$bin" eval --model "$tmp/cnn.onnx" --data fashion-mnist --limit-test 1000 2>&1 | tail -1 | sed 's/.*accuracy//')
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "the export evaluates differently: '$a' vs '$b'"

printf 'model a --arch mlp --engine graph\n' > "$tmp/zoo.txt"
"$bin" zoo --spec "$tmp/zoo.txt" --data fashion-mnist --out "$tmp/zoo" >/dev/null 2>&1 && bad "zoo accepted --engine graph" || ok

echo "engine_graph: $pass passed, $fail failed"
[ $fail -eq 0 ]
