#!/usr/bin/env bash
# run_onnx_train.sh: training steps of imported models, critnet (bench_onnx_train: forward in training mode,
# cross-entropy, backward, SGD) against PyTorch on the same exported module, weights, batch and labels, in the
# same run, at 1 and 2 threads. Two models: a CIFAR-sized ResNet with batch norm (3x32x32, three stages) and
# an MLP 784-256x3-10. Checks that both start from the same loss (to 1e-4 relative: same weights, same
# function), prints both step times and the ratio critnet/PyTorch.
#
# usage: bench/run_onnx_train.sh [--short]   (--short: 3 steps at batch 8; numbers mean nothing)
# env: BUILD_DIR (default build/), BENCH_BIN (default $BUILD_DIR/bench/bench_onnx_train)
# Exit status: 0, or 1 when a step fails or the losses disagree. Never on speed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
BIN=${BENCH_BIN:-$BUILD_DIR/bench/bench_onnx_train}
PY=/usr/bin/python3
B=128 STEPS=10
[ "${1:-}" = "--short" ] && B=8 STEPS=3
[ -x "$BIN" ] || { echo "run_onnx_train.sh: $BIN is missing (cmake --build build --target bench_onnx_train)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

status=0
printf "%-8s %7s %12s %12s %8s\n" model threads critnet_s torch_s ratio
for threads in 1 2; do
    export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
    $PY - "$TMP" "$B" "$STEPS" "$threads" > "$TMP/torch.txt" <<'PY'
import sys, time, torch, torch.nn as nn, numpy as np
out, B, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
def block(cin, cout, stride):
    class Block(nn.Module):
        def __init__(s):
            super().__init__()
            s.f = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            s.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                      if stride != 1 or cin != cout else nn.Identity())
        def forward(s, x):
            return torch.relu(s.f(x) + s.skip(x))
    return Block()
resnet = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), block(16, 16, 1),
                       block(16, 32, 2), block(32, 64, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                    nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
for name, m, shape in (("resnet", resnet, (3, 32, 32)), ("mlp", mlp, (1, 28, 28))):
    m.eval()
    x = torch.randn(B, *shape)
    y = torch.randint(0, 10, (B,))
    torch.onnx.export(m, x[:1], f"{out}/{name}.onnx", input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}}, opset_version=13, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    x.numpy().astype("<f4").tofile(f"{out}/{name}.x")
    y.numpy().astype("<i4").tofile(f"{out}/{name}.y")
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    best, loss0 = float("inf"), None
    for s in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        t = time.perf_counter() - t0
        if s == 0:
            loss0 = loss.item()
        else:
            best = min(best, t)
    print(name, best, loss0)
PY
    while read -r name torch_s torch_loss; do
        line=$("$BIN" "$TMP/$name.onnx" "$TMP/$name.x" "$TMP/$name.y" "$B" "$STEPS" "$threads") ||
            { echo "FAIL: $name"; status=1; continue; }
        read -r c loss < <($PY -c "import json,sys; j=json.loads(sys.argv[1]); print(j['step_s'], j['loss0'])" "$line")
        $PY -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) <= 1e-4*abs(b)+1e-5 else 1)" "$loss" "$torch_loss" ||
            { echo "FAIL: $name: first loss $loss, torch $torch_loss"; status=1; }
        $PY -c "import sys; c,t=map(float,sys.argv[3:]); print('%-8s %7s %12.4f %12.4f %7.2fx' % (sys.argv[1], sys.argv[2], c, t, c/t))" \
            "$name" "$threads" "$c" "$torch_s"
    done < "$TMP/torch.txt"
done
echo "(batch $B, best of $STEPS steps; ratio = critnet time / PyTorch time, below 1 is faster)"
exit $status
