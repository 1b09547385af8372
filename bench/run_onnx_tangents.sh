#!/usr/bin/env bash
# run_onnx_tangents.sh: K = 8 tangents through an imported ONNX model at once against one at a time (issue 13:
# "at least 4x faster than K separate passes"), and PyTorch's batched forward-mode AD (torch.func.vmap, or functorch.vmap, over
# torch.func.jvp) on the same model, inputs and tangent count, in the same run. Three models exported from
# PyTorch: a tanh MLP 784-512x6-10 (Gemm), a CNN on 3x32x32 (Conv), and a small transformer-style encoder
# block stack (MatMul, LayerNorm, Softmax). Prints, per model, critnet batched / one at a time / PyTorch and
# the ratios, and checks that batched and separate tangents agree (to 1e-5 relative). One thread each.
#
# usage: bench/run_onnx_tangents.sh [--short]   (--short: 2 inputs, 1 rep; numbers mean nothing)
# env: BUILD_DIR (default build/), BENCH_BIN (default $BUILD_DIR/bench/bench_onnx_tangents)
# Exit status: 0, or 1 when a step fails or batched and separate disagree. Never on speed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BIN=${BENCH_BIN:-$BUILD_DIR/bench/bench_onnx_tangents}
PY=/usr/bin/python3
N=32 K=8 REPS=5
[ "${1:-}" = "--short" ] && N=2 REPS=1
[ -x "$BIN" ] || { echo "run_onnx_tangents.sh: $BIN is missing (cmake --build build --target bench_onnx_tangents)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

$PY - "$TMP" "$N" "$K" "$REPS" > "$TMP/torch.txt" <<'PY'
import sys, time, torch, torch.nn as nn
try:
    from torch.func import jvp, vmap
except ImportError:  # torch 1.13 (Debian 12) ships them as functorch
    from functorch import jvp, vmap
out, N, K, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
torch.manual_seed(0)
class Encoder(nn.Module):
    def __init__(s, d=64, seq=16, layers=3):
        super().__init__()
        s.seq, s.d = seq, d
        s.blocks = nn.ModuleList([nn.TransformerEncoderLayer(d, 4, 128, dropout=0.0, batch_first=True)
                                  for _ in range(layers)])
        s.head = nn.Linear(d, 10)
    def forward(s, x):
        h = x.reshape(x.shape[0], s.seq, s.d)
        for b in s.blocks:
            h = b(h)
        return s.head(h.mean(1))
mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.Tanh(), *[m for _ in range(5) for m in (nn.Linear(512, 512), nn.Tanh())],
                    nn.Linear(512, 10))
cnn = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 64, 10))
for name, m, shape in (("mlp", mlp, (784,)), ("cnn", cnn, (3, 32, 32)), ("encoder", Encoder(), (16 * 64,))):
    m.eval()
    x = torch.randn(N, *shape)
    torch.onnx.export(m, x[:1], f"{out}/{name}.onnx", input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}}, opset_version=13)
    x.numpy().astype("float32").tofile(f"{out}/{name}.f32")
    t = torch.randn(K, N, *shape)
    m.train()  # the same function (no dropout, no batch norm); eval mode takes a fused encoder path without jvp
    f = lambda tan: jvp(m, (x,), (tan,))[1]
    with torch.no_grad():
        vmap(f)(t)
        best = min((lambda t0: (vmap(f)(t), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(reps))
    print(name, best)
PY

status=0
printf "%-8s %12s %12s %12s %10s %10s\n" model batched_s separate_s torch_s sep/batch torch/batch
while read -r name torch_s; do
    line=$("$BIN" "$TMP/$name.onnx" "$TMP/$name.f32" "$N" "$K" "$REPS") || { echo "FAIL: $name"; status=1; continue; }
    read -r b s d < <($PY -c "import json,sys; j=json.loads(sys.argv[1]); print(j['batched_s'], j['separate_s'], j['max_rel_diff'])" "$line")
    $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1e-5 else 1)" "$d" ||
        { echo "FAIL: $name: batched and separate tangents differ by $d"; status=1; }
    $PY -c "import sys; b,s,t=map(float,sys.argv[2:]); print('%-8s %12.4f %12.4f %12.4f %9.2fx %9.2fx' % (sys.argv[1], b, s, t, s/b, t/b))" "$name" "$b" "$s" "$torch_s"
done < "$TMP/torch.txt"
echo "(N = $N inputs, K = $K tangents, best of $REPS, 1 thread each; sep/batch >= 4 is the issue's target)"
exit $status
