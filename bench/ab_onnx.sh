#!/usr/bin/env bash
# ab_onnx.sh: critnet against an earlier critnet on the same ONNX work, in one run (issue 13: "no speed
# regression, measured side by side"). Builds bench_onnx at git revision REV in a scratch worktree (or takes
# --old-bin), exports resnet18 once (bench/torch_onnx.py prepare), then times the old and the new binary one
# after the other, in alternating order, ROUNDS times, at one thread: forward, and forward + lambda_0. Prints
# each round, the best of each side and the ratio new/old, and checks that both give the same lambda_0. Writes
# nothing in the tree.
#
# usage: bench/ab_onnx.sh [--rev REV | --old-bin PATH] [--rounds N] [--inputs N] [--short]
#   --rev REV       the earlier revision to build (default: the commit before kernels/ existed, 986ea25)
#   --old-bin PATH  an already built bench_onnx to compare with instead (the test suite passes the new one)
#   --short         2 inputs, 1 round, no warm-up: checks that the comparison runs; numbers mean nothing
# env: BUILD_DIR (default build/), BENCH_BIN (default $BUILD_DIR/bench/bench_onnx)
# Exit status: 0, or 1 when the two disagree on lambda_0 (or a step failed). Never on speed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
NEW=${BENCH_BIN:-$BUILD_DIR/bench/bench_onnx}
PY=/usr/bin/python3
REV=986ea25 OLD= ROUNDS=2 N=16 REPS=3 WARMUP=1
while [ $# -gt 0 ]; do
    case $1 in
    --rev) REV=$2; shift ;;
    --old-bin) OLD=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --inputs) N=$2; shift ;;
    --short) ROUNDS=1 N=2 REPS=1 WARMUP=0 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "ab_onnx.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
[ -x "$NEW" ] || { echo "ab_onnx.sh: $NEW is missing (cmake --build build --target bench_onnx)" >&2; exit 1; }
TMP=$(mktemp -d)
cleanup() {
    [ -d "$TMP/old-src" ] && git -C "$ROOT" worktree remove --force "$TMP/old-src" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
if [ -z "$OLD" ]; then
    echo "ab_onnx.sh: building bench_onnx at $REV (a few minutes)" >&2
    git -C "$ROOT" worktree add --detach -q "$TMP/old-src" "$REV"
    cmake -S "$TMP/old-src" -B "$TMP/old-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$TMP/old-build" --target bench_onnx -j"$(nproc)" >/dev/null
    OLD=$TMP/old-build/bench/bench_onnx
fi
unset OPENBLAS_NUM_THREADS OMP_NUM_THREADS
"$PY" "$ROOT/bench/torch_onnx.py" prepare --dir "$TMP/problem" --inputs "$N" >/dev/null
read -r LOAD _ </proc/loadavg
echo "resnet18 224x224, $N inputs, 1 thread, $ROUNDS round(s); load average $LOAD; old: ${OLD/#$TMP/<scratch>}"
# the order alternates from round to round, so that neither side always runs second (warmer caches, a clock
# that has settled)
for r in $(seq "$ROUNDS"); do
    order="old new"
    [ $((r % 2)) = 0 ] && order="new old"
    for side in $order; do
        bin=$OLD
        [ "$side" = new ] && bin=$NEW
        "$bin" --dir "$TMP/problem" --inputs "$N" --reps "$REPS" --warmup "$WARMUP" --threads 1 --no-per-input \
            --json "$TMP/$side$r.json" >/dev/null 2>&1
    done
done
"$PY" - "$TMP" "$ROUNDS" <<'PY'
import json, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
runs = {side: [json.load(open(f"{tmp}/{side}{r}.json")) for r in range(1, rounds + 1)] for side in ("old", "new")}
def best(side, what):
    return min(c["best_s"] for j in runs[side] for c in j["configs"] if c["what"] == what)
def lam(side):
    return [c["lambda0_mean"] for j in runs[side] for c in j["configs"] if c["what"] == "forward+lambda0"]
print("| what | old (best s) | new (best s) | new/old | each round old / new |")
print("|---|---:|---:|---:|---|")
for what in ("forward", "forward+lambda0"):
    per = ["%.3f / %.3f" % (next(c["best_s"] for c in o["configs"] if c["what"] == what),
                            next(c["best_s"] for c in n["configs"] if c["what"] == what))
           for o, n in zip(runs["old"], runs["new"])]
    o, n = best("old", what), best("new", what)
    print("| %s | %.3f | %.3f | %.2fx | %s |" % (what, o, n, n / o, "; ".join(per)))
lo, ln = lam("old"), lam("new")
diff = max(abs(a - b) for a, b in zip(lo, ln))
print("lambda_0 (mean over the inputs): old %.9f, new %.9f; largest difference %.1e (tolerance 1e-5)" % (lo[0], ln[0], diff))
sys.exit(0 if diff <= 1e-5 else 1)
PY
