#!/usr/bin/env bash
# The short modes of the experiments (and of the critnet-only benchmarks) run end to end and print their tables.
set -euo pipefail
: "${CRITNET_SRC:?}"
cd "$CRITNET_SRC"
pass=0; fail=0
expect_rows() { # name output rows...
  local name=$1 out=$2; shift 2
  for row in "$@"; do
    if grep -q -- "| $row |" <<<"$out"; then pass=$((pass+1)); else echo "FAIL: $name: no row '$row'"; fail=$((fail+1)); fi
  done
}
out=$(bash experiments/core-accuracy/run.sh --short 2>&1) || { echo "$out"; echo "FAIL: core-accuracy exited non-zero"; exit 1; }
echo "$out"
expect_rows core-accuracy "$out" mlp cnn
out=$(bash bench/run_crit_cost.sh --short 2>&1) || { echo "$out"; echo "FAIL: crit-cost exited non-zero"; exit 1; }
echo "$out"
expect_rows crit-cost "$out" plain "--crit-every 1" "--crit-every 1 --crit-batch 32" "--crit-every 1 --crit-target lambda" "--crit-every 10"
out=$(bash bench/run_engine.sh --short 2>&1) || { echo "$out"; echo "FAIL: engine exited non-zero"; exit 1; }
echo "$out"
expect_rows engine "$out" "tanh MLP 784-256x3-10" "the same, --crit-weight 1"
out=$(bash experiments/critical-training/run.sh --short 2>&1) || { echo "$out"; echo "FAIL: critical-training exited non-zero"; exit 1; }
echo "$out"
# the verdict table and the stats tables, one row per architecture and condition
expect_rows critical-training "$out" "baseline" "crit_b1" "tanh_sw2.5 | crit_init" "relu_mlp | crit_b1"
# continual (issue 5): the short mode in two calls on one work folder. The first stops every run after its
# first task (--stop-after 1); the second resumes them from their checkpoints, finishes and analyses. A resumed
# run must equal an uninterrupted one, and the short mode must leave docs/continual alone.
docs_before=$({ ls -l --time-style=full-iso -R docs/continual 2>/dev/null || true; } | md5sum)
cwork=$(mktemp -d)
out=$(bash experiments/continual/run.sh --short --work "$cwork" --stop-after 1 2>&1) || { echo "$out"; echo "FAIL: continual --stop-after 1 exited non-zero"; exit 1; }
if grep -q "6 of 6 runs have not finished" <<<"$out"; then pass=$((pass+1)); else echo "$out"; echo "FAIL: continual: --stop-after 1 did not stop the runs"; fail=$((fail+1)); fi
out=$(bash experiments/continual/run.sh --short --work "$cwork" 2>&1) || { echo "$out"; echo "FAIL: continual exited non-zero"; exit 1; }
echo "$out"
# the stats table (method | runs), a test against bp, the task-level and the run-level correlations
expect_rows continual "$out" "crit | 2" "drop | cbp | bp" "(all) | abs_ln_sigma | acc_next" "(all) | acc_prev | d_abs_ln_sigma_next" "crit | abs_lambda0 | online_accuracy" "(all) | mid_abs_ln_sigma | late_change"
n=$(awk -F, 'NR > 1 && $3 == "done" && $4 == 3' "$cwork/analysis/runs_summary.csv" | wc -l)
[ "$n" = 6 ] && pass=$((pass+1)) || { echo "FAIL: continual: $n of 6 runs finished their 3 tasks after the resume"; fail=$((fail+1)); }
read -r -a cargs <"$cwork/common.args"
"${CRITNET_BIN:-build/critnet}" continual "${cargs[@]}" --method crit --seed 1 --quiet --no-plot --out "$cwork/fresh" >/dev/null
cmp -s "$cwork/fresh/tasks.csv" "$cwork/runs/crit/s1/tasks.csv" && pass=$((pass+1)) || { echo "FAIL: continual: the resumed crit run differs from an uninterrupted one"; fail=$((fail+1)); }
nplots=$(ls "$cwork"/analysis/curves.png "$cwork"/analysis/seeds/*.png "$cwork"/analysis/metrics/*.png 2>/dev/null | wc -l)
[ "$nplots" = 12 ] && pass=$((pass+1)) || { echo "FAIL: continual: $nplots plots, want 12 (curves, 3 seed figures, 8 metrics)"; fail=$((fail+1)); }
[ "$({ ls -l --time-style=full-iso -R docs/continual 2>/dev/null || true; } | md5sum)" = "$docs_before" ] && pass=$((pass+1)) || { echo "FAIL: continual --short wrote under docs/continual"; fail=$((fail+1)); }
rm -rf "$cwork"
# zoo (issue 6): the short mode trains and measures 4 tiny models (under mpirun when the build has MPI) and reports
# them with critnet zoo-report; a second call on the same work folder resumes a finished zoo and changes no row;
# the short mode leaves docs/zoo alone. In a sanitized build, the full unwind lets tests/lsan.supp name a block
# Open MPI's own thread keeps (as tests/cli/zoo.sh does for its mpirun check).
docs_before=$({ ls -l --time-style=full-iso -R docs/zoo 2>/dev/null || true; } | md5sum)
zwork=$(mktemp -d)
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0"
out=$(bash experiments/zoo/run.sh --short --work "$zwork" 2>&1) || { echo "$out"; echo "FAIL: zoo exited non-zero"; exit 1; }
echo "$out"
# a row per measure in the correlation, Mann-Whitney and mixed-model tables (4 models each)
expect_rows zoo "$out" "abs_ln_sigma | 4" "abs_lambda0 | 4" "abs_ln_sigma | <= [0-9.e-]*" "abs_lambda0 | 4 | 2"
cp "$zwork/zoo/zoo.csv" "$zwork/first.csv"
out=$(bash experiments/zoo/run.sh --short --work "$zwork" 2>&1) || { echo "$out"; echo "FAIL: zoo (resumed) exited non-zero"; exit 1; }
cmp -s "$zwork/first.csv" "$zwork/zoo/zoo.csv" && pass=$((pass+1)) || { echo "FAIL: zoo: the rerun on the same --work changed zoo.csv"; fail=$((fail+1)); }
grep -q "over its 2 invocations" "$zwork/report/results.md" && pass=$((pass+1)) || { echo "FAIL: zoo: results.md does not sum the 2 invocations' time"; fail=$((fail+1)); }
nfiles=$(ls "$zwork"/report/{results.md,stats.md,stats.json,zoo.csv,acc_vs_abs_ln_sigma.png,acc_vs_abs_lambda0.png,acc_vs_delta.png} 2>/dev/null | wc -l)
[ "$nfiles" = 7 ] && pass=$((pass+1)) || { echo "FAIL: zoo: $nfiles of the 7 report files"; fail=$((fail+1)); }
[ "$({ ls -l --time-style=full-iso -R docs/zoo 2>/dev/null || true; } | md5sum)" = "$docs_before" ] && pass=$((pass+1)) || { echo "FAIL: zoo --short wrote under docs/zoo"; fail=$((fail+1)); }
rm -rf "$zwork"
# torchvision (issue 7): the short mode exports small TorchVision models with python3-torchvision and measures
# them through the ONNX import; under the sanitizers one model keeps the run short
docs_before=$({ ls -l --time-style=full-iso -R docs/torchvision 2>/dev/null || true; } | md5sum)
tv_models=resnet18,mobilenet_v3_small,squeezenet1_1
[ -n "${CN_TEST_CFLAGS:-}" ] && tv_models=squeezenet1_1
out=$(bash experiments/torchvision/run.sh --short --models "$tv_models" 2>&1) || { echo "$out"; echo "FAIL: torchvision --short exited non-zero"; exit 1; }
grep -q "table.py: $(tr ',' '\n' <<<"$tv_models" | grep -c .) measured, 0 failed" <<<"$out" && pass=$((pass+1)) || { echo "$out"; echo "FAIL: torchvision: not every model measured"; fail=$((fail+1)); }
[ "$({ ls -l --time-style=full-iso -R docs/torchvision 2>/dev/null || true; } | md5sum)" = "$docs_before" ] && pass=$((pass+1)) || { echo "FAIL: torchvision --short wrote under docs/torchvision"; fail=$((fail+1)); }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
