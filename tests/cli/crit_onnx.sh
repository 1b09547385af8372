#!/usr/bin/env bash
# The criticality regulariser on an imported model, from the shell: a residual network with batch norm and
# tanh, exported from PyTorch with its batch-norm gains scaled up (chaotic: sigma_l up to 2.8), is trained with
# and without --crit-weight from the same seed. Manipulation check on the quantity R penalises, measured
# independently: the mean over blocks of |ln sigma_l| by `critnet measure` on test inputs (eval mode) is lower
# for the regularised run, and R falls from the first epoch to the second. The lambda target runs too, and a
# block with an operator that has no second-order rule (ReduceLogSumExp) is refused naming the node, with no checkpoint.
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
class Res(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.c1, s.b1 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
        s.c2, s.b2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
    def forward(s, x):
        return torch.tanh(x + s.b2(s.c2(torch.tanh(s.b1(s.c1(x))))))
def export(m, name):
    torch.onnx.export(m.eval(), torch.randn(1, 1, 28, 28), f"{sys.argv[1]}/{name}.onnx", input_names=["input"],
                      output_names=["output"], opset_version=13, dynamic_axes={"input": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
m = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.Tanh(), Res(8), Res(8), Res(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                  nn.Linear(8, 10))
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.mul_(4.0)   # gain well above 1 in every residual branch: chaotic
export(m, "res")
class LogSumExp(nn.Module):  # x - logsumexp over the channels: ReduceLogSumExp, which has no second-order rule yet
    def __init__(s):
        super().__init__()
        s.conv, s.head = nn.Conv2d(1, 4, 3, 2, 1), nn.Linear(4 * 14 * 14, 10)
    def forward(s, x):
        h = torch.tanh(s.conv(x))
        return s.head((h - torch.logsumexp(h, dim=1, keepdim=True)).flatten(1))
export(LogSumExp(), "lse")
PY

common=(--data fashion-mnist --limit-train 1500 --limit-test 200 --batch 50 --epochs 2 --opt sgd --lr 0.02 --seed 3 --quiet)
"$bin" train --model "$tmp/res.onnx" "${common[@]}" --out "$tmp/plain" && ok || bad "train without the regulariser"
"$bin" train --model "$tmp/res.onnx" "${common[@]}" --crit-weight 1 --out "$tmp/crit" && ok || bad "train with --crit-weight"
for run in plain crit; do
    "$bin" measure --model "$tmp/$run/model.cnm" --data fashion-mnist --samples 200 --json "$tmp/$run.json" \
        >/dev/null 2>&1 && ok || bad "measure $run"
done
read -r lp lc rc0 rc1 < <($py - "$tmp" <<'PY'
import csv, json, sys
d = sys.argv[1]
dist = lambda run: json.load(open(f"{d}/{run}.json"))["sigma"]["mean_abs_ln_per_block"]
c = list(csv.DictReader(open(f"{d}/crit/metrics.csv")))
print(dist("plain"), dist("crit"), c[0]["crit_reg"], c[-1]["crit_reg"])
PY
)
echo "mean over blocks of |ln sigma_l|: plain $lp, regularised $lc; R: epoch 1 $rc0, epoch 2 $rc1"
$py -c "import sys; sys.exit(not ($lc < $lp))" && ok || bad "the regulariser did not bring the blocks toward sigma = 1 ($lc vs $lp)"
$py -c "import sys; sys.exit(not (float('$rc1') < float('$rc0')))" && ok || bad "R did not fall ($rc0 -> $rc1)"

"$bin" train --model "$tmp/res.onnx" "${common[@]}" --epochs 1 --crit-weight 1 --crit-target lambda --out "$tmp/lambda" \
    && ok || bad "train with the lambda target"

out=$("$bin" train --model "$tmp/lse.onnx" "${common[@]}" --epochs 1 --crit-weight 1 --crit-layers all \
    --out "$tmp/lse" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "(ReduceLogSumExp)" && echo "$out" | grep -q "second-order rule" && ok \
    || bad "a block with ReduceLogSumExp must be refused naming the node (rc $rc): $out"
[ ! -e "$tmp/lse/model.cnm" ] && ok || bad "a refused run must not write a checkpoint"

echo "crit_onnx: $pass passed, $fail failed"
[ $fail -eq 0 ]
