#!/usr/bin/env bash
# critnet predict from the shell: the logits of an ONNX model exported from PyTorch against PyTorch's own on
# the same inputs, a native checkpoint against critnet eval's accuracy, the .npy file as NumPy reads it, and
# the error paths (a message and a non-zero exit, no file left behind).
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

# an ONNX model with a strided conv, a depthwise conv, pooling and a linear readout, and 37 inputs
$py - "$tmp" <<'PY' || bad "export"
import sys, numpy as np, torch, torch.nn as nn
torch.manual_seed(3)
m = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                  nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 6)).eval()
x = torch.randn(37, 3, 16, 16)
torch.onnx.export(m, x[:1], f"{sys.argv[1]}/m.onnx", input_names=["input"], output_names=["output"],
                  dynamic_axes={"input": {0: "batch"}}, opset_version=13)
np.save(f"{sys.argv[1]}/x.npy", x.numpy())
with torch.no_grad():
    np.save(f"{sys.argv[1]}/ref.npy", m(x).numpy())
PY
"$bin" predict --model "$tmp/m.onnx" --data "npy:$tmp/x.npy" --batch 8 --out "$tmp/y.npy" --quiet \
    && ok || bad "predict onnx"
$py - "$tmp" <<'PY' && ok || bad "onnx logits against torch"
import sys, numpy as np
y, ref = np.load(f"{sys.argv[1]}/y.npy"), np.load(f"{sys.argv[1]}/ref.npy")
assert y.dtype == np.float32 and y.shape == ref.shape == (37, 6), (y.dtype, y.shape)
err = np.abs(y - ref).max()
assert err < 1e-5, err
PY
# --limit keeps the first N rows, the same numbers
"$bin" predict --model "$tmp/m.onnx" --data "npy:$tmp/x.npy" --limit 5 --out "$tmp/y5.npy" --quiet && ok || bad "limit"
$py -c "import numpy as np, sys; a, b = np.load('$tmp/y5.npy'), np.load('$tmp/y.npy'); assert a.shape == (5, 6) and np.array_equal(a, b[:5])" \
    && ok || bad "limit rows"

# a native checkpoint with batch norm: in eval mode an example's outputs do not depend on the batch it is in
"$bin" train --data gaussian --in 12 --classes 4 --arch mlp --width 16 --depth 2 --norm batch --epochs 1 --quiet \
    --out "$tmp/run" || bad "train"
"$bin" predict --model "$tmp/run/model.cnm" --data gaussian --in 12 --classes 4 --out "$tmp/g.npy" --quiet \
    && ok || bad "predict checkpoint"
"$bin" predict --model "$tmp/run/model.cnm" --data gaussian --in 12 --classes 4 --batch 7 --out "$tmp/g7.npy" --quiet \
    && ok || bad "predict checkpoint, batch 7"
$py - "$tmp/g.npy" "$tmp/g7.npy" <<'PY' && ok || bad "checkpoint logits independent of the batch"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.ndim == 2 and a.shape[1] == 4 and a.shape == b.shape and np.isfinite(a).all(), a.shape
assert np.abs(a - b).max() <= 1e-5 * (1 + np.abs(a).max()), np.abs(a - b).max()
PY

# errors: missing --out, an unknown split, an output folder that does not exist, a model that is no model
"$bin" predict --model "$tmp/m.onnx" --data "npy:$tmp/x.npy" 2>"$tmp/e1"; [ $? -eq 2 ] && grep -q -- "--out" "$tmp/e1" \
    && ok || bad "missing --out"
"$bin" predict --model "$tmp/m.onnx" --data "npy:$tmp/x.npy" --split valid --out "$tmp/z.npy" 2>"$tmp/e2"
[ $? -eq 2 ] && grep -q "split" "$tmp/e2" && ok || bad "bad split"
"$bin" predict --model "$tmp/m.onnx" --data "npy:$tmp/x.npy" --out "$tmp/nodir/y.npy" 2>"$tmp/e3"
[ $? -ne 0 ] && grep -q "nodir" "$tmp/e3" && [ ! -e "$tmp/nodir" ] && ok || bad "unwritable --out: $(cat "$tmp/e3")"
printf 'not a model' > "$tmp/junk.onnx"
"$bin" predict --model "$tmp/junk.onnx" --data "npy:$tmp/x.npy" --out "$tmp/j.npy" 2>"$tmp/e4"
[ $? -ne 0 ] && grep -q "junk.onnx" "$tmp/e4" && [ ! -e "$tmp/j.npy" ] && ok || bad "junk model: $(cat "$tmp/e4")"
# a model that takes other inputs than the data has
"$bin" predict --model "$tmp/run/model.cnm" --data "npy:$tmp/x.npy" --out "$tmp/k.npy" 2>"$tmp/e5"
[ $? -ne 0 ] && grep -q "inputs" "$tmp/e5" && [ ! -e "$tmp/k.npy" ] && ok || bad "shape mismatch: $(cat "$tmp/e5")"

echo "predict: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
