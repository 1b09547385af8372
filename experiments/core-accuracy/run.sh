#!/usr/bin/env bash
# Accuracy of the core engine on Fashion-MNIST, seed fixed: the two runs that issue 2 asks for.
#   bash experiments/core-accuracy/run.sh           # full: 5 epochs each (about 6 minutes on 2 cores)
#   bash experiments/core-accuracy/run.sh --short   # a smoke run on 2,000 examples, for the test suite
# Writes experiments/core-accuracy/results.md (full mode) and prints the table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
[ -x "$bin" ] || { echo "build critnet first (cmake -B build && cmake --build build)" >&2; exit 1; }
short=0; [ "${1:-}" = "--short" ] && short=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
limit=(); epochs=5
if [ $short = 1 ]; then limit=(--limit-train 2000 --limit-test 1000); epochs=1; fi

run() { # name target args...
  local name=$1 target=$2; shift 2
  "$bin" train --data fashion-mnist --seed 0 --threads 1 --epochs $epochs --batch 128 --optim sgd --momentum 0.9 \
      "${limit[@]}" --quiet --out "$out/$name" "$@"
  acc=$(sed -n 's/.*"test_accuracy":[[:space:]]*\([0-9.]*\).*/\1/p' "$out/$name/summary.json")
  secs=$(sed -n 's/.*"seconds":[[:space:]]*\([0-9.]*\).*/\1/p' "$out/$name/summary.json")
  awk -v n="$name" -v f="$*" -v a="$acc" -v t="$target" -v s="$secs" \
      'BEGIN { printf "| %s | %s | %.2f%% | >= %s%% | %.0f s |\n", n, f, 100 * a, t, s }'
}

{
  echo "| model | flags | test accuracy | target | time |"
  echo "|---|---|---|---|---|"
  run mlp 86 --arch mlp --width 256 --depth 3 --lr 0.05
  run cnn 89 --arch cnn --lr 0.05
} | tee "$out/table.md"
if [ $short = 0 ]; then
  { echo "# Core accuracy on Fashion-MNIST (5 epochs, seed 0, 1 thread)"; echo;
    echo "Produced by \`bash experiments/core-accuracy/run.sh\` on $(date -u +%Y-%m-%d)."; echo;
    cat "$out/table.md"; } > "$here/results.md"
fi
