#!/usr/bin/env bash
# critnet train --model FILE.onnx from the shell: a CNN with batch norm exported from PyTorch is fine-tuned on
# Fashion-MNIST (it must learn: test accuracy well above chance), the checkpoint refers to the file and
# evaluates to the accuracy train reported, `critnet export` writes it back as valid ONNX that evaluates the
# same, a run stopped after one epoch and resumed ends bit-identical to a run straight through, and a graph
# with an operator that has no backward (a three-input Max) is refused naming the node.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

$py - "$tmp" <<'PY' || bad "export"
import sys, torch, torch.nn as nn
torch.manual_seed(0)
def export(m, name, shape):
    torch.onnx.export(m.eval(), torch.randn(1, *shape), f"{sys.argv[1]}/{name}.onnx", input_names=["input"],
                      output_names=["output"], opset_version=13, dynamic_axes={"input": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
export(nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                     nn.Conv2d(8, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)), "cnn", (1, 28, 28))
# a Max of three inputs, which has no backward yet (torch exports two-input Max only, so built by hand)
import numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
w = [numpy_helper.from_array(np.random.RandomState(i).randn(784, 10).astype(np.float32), f"w{i}") for i in range(3)]
nodes = [helper.make_node("Flatten", ["input"], ["flat"])]
nodes += [helper.make_node("MatMul", ["flat", f"w{i}"], [f"h{i}"]) for i in range(3)]
nodes += [helper.make_node("Max", ["h0", "h1", "h2"], ["output"], name="max3")]
g = helper.make_graph(nodes, "max3", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 10])], initializer=w)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{sys.argv[1]}/max3.onnx")
PY

common=(--data fashion-mnist --limit-train 4000 --opt adam --lr 0.01 --batch 64 --seed 5 --quiet)
"$bin" train --model "$tmp/cnn.onnx" "${common[@]}" --epochs 2 --out "$tmp/straight" && ok || bad "train onnx"
acc=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['test_accuracy'])" "$tmp/straight/summary.json")
$py -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.3 else 1)" "$acc" && ok ||
    bad "the imported CNN did not learn: test accuracy $acc after 2 epochs (chance 0.1)"

out=$("$bin" eval --model "$tmp/straight/model.cnm" --data fashion-mnist 2>&1) && ok || bad "eval checkpoint: $out"
echo "$out" | grep -q "accuracy $($py -c "print('%.4f' % float('$acc'))")" && ok ||
    bad "eval of the checkpoint ($out) differs from train's accuracy $acc"

# export: the file with the trained weights and statistics evaluates as the checkpoint does, and is valid ONNX
# (the fresh batch norms read their statistics through Identity(weight): the export gives them their own)
"$bin" export --model "$tmp/straight/model.cnm" --out "$tmp/tuned.onnx" >/dev/null && ok || bad "export"
out2=$("$bin" eval --model "$tmp/tuned.onnx" --data fashion-mnist 2>&1) && ok || bad "eval exported: $out2"
[[ "${out2#*accuracy}" == "${out#*accuracy}" ]] && ok || bad "exported model ($out2) differs from the checkpoint ($out)"
$py -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$tmp/tuned.onnx" && ok ||
    bad "the exported file fails onnx.checker"
out2=$("$bin" export --model "$tmp/cnn.onnx.missing" --out "$tmp/x.onnx" 2>&1)
[[ $? -ne 0 && ! -e "$tmp/x.onnx" ]] && ok || bad "export of a missing model must fail and write nothing: $out2"

"$bin" train --model "$tmp/cnn.onnx" "${common[@]}" --epochs 2 --stop-after 1 --out "$tmp/resumed" && ok ||
    bad "first epoch"
"$bin" train --resume "$tmp/resumed" --quiet && ok || bad "resume"
cmp -s <(cut -d, -f1-8 "$tmp/straight/metrics.csv") <(cut -d, -f1-8 "$tmp/resumed/metrics.csv") && ok ||
    bad "resumed run differs from the straight one: $(diff <(cut -d, -f1-8 "$tmp/straight/metrics.csv") \
        <(cut -d, -f1-8 "$tmp/resumed/metrics.csv"))"

out=$("$bin" train --model "$tmp/max3.onnx" "${common[@]}" --epochs 1 --out "$tmp/max3" 2>&1)
rc=$?
[[ $rc -ne 0 ]] && echo "$out" | grep -q "node max3 (Max) has no backward" && ok ||
    bad "a graph with a three-input Max must be refused naming the node (rc $rc): $out"

echo "train_onnx: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
