#!/usr/bin/env bash
# The model zoo (issue 6): does test accuracy track criticality across a population of models, from 1990s sigmoid
# MLPs to ResNets? Trains and measures the `full` preset of `critnet zoo` (96 models of 13 families, each with its
# own budget; docs/zoo.md) and reports `critnet zoo-report`: Spearman's rho of accuracy against |ln sigma|,
# |lambda_0| and Delta with bootstrap intervals, a Mann-Whitney test of the near-critical half against the far
# half, and a mixed model with a random intercept per family; with the verdicts its rules read off the numbers.
#   bash experiments/zoo/run.sh --work ~/zoo-runs   # full (docs/zoo.md#times estimates its length; results.md
#                                                   # records the time it took); --work makes it resumable
#   bash experiments/zoo/run.sh --short             # smoke run for the test suite: 4 tiny models (short.spec)
#   options: --work DIR (keep the zoo there; rerunning with the same DIR skips the models done, after a kill too,
#            and retries the failed ones), --ranks N (MPI ranks, default 2), --no-mpi (one process)
# The zoo runs under `mpirun -np 2 --oversubscribe` (plus --allow-run-as-root as root), one thread per rank, when
# the critnet binary has MPI (`critnet zoo --help` says) and mpirun is on the PATH; else as one process. The rows do
# not depend on which (docs/zoo.md#mpi).
# Full mode writes docs/zoo/: results.md, zoo.csv, stats.json, stats.md, acc_vs_abs_ln_sigma.png,
# acc_vs_abs_lambda0.png and acc_vs_delta.png. --short writes nothing under docs/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CRITNET_BIN=${CRITNET_BIN:-$root/build/critnet}
bin=$CRITNET_BIN
[ -x "$bin" ] || { echo "build critnet first (cmake -B build && cmake --build build)" >&2; exit 1; }

short=0 work="" ranks=2 mpi=1
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1 ;;
    --work) work=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --no-mpi) mpi=0 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done
[[ $ranks =~ ^[1-9][0-9]*$ ]] || { echo "--ranks must be a positive integer, not '$ranks'" >&2; exit 2; }
if [ $short = 1 ]; then
    population=(--spec "$here/short.spec") samples=20 what="the 4 tiny models of experiments/zoo/short.spec"
else
    population=(--preset full) samples=200 what="the full preset"
fi
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work"
cd "$root" # the data lives in ./data

# The flags that decide the rows. A work folder keeps them: its zoo is resumed only under the same ones (critnet
# zoo itself also refuses rows made with other settings, naming the file and the line).
common="${population[*]} --data fashion-mnist --samples $samples --threads 1"
if [ -s "$work/common.args" ] && [ "$(cat "$work/common.args")" != "$common" ]; then
    echo "$work holds a zoo made with other settings ($(cat "$work/common.args")); use another --work" >&2
    exit 2
fi
echo "$common" >"$work/common.args"

launcher=() how="one process"
if [ $mpi = 1 ] && "$bin" zoo --help | grep -q "MPI: this build has it" && command -v mpirun >/dev/null; then
    launcher=(mpirun -np "$ranks" --oversubscribe)
    [ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
    how="\`mpirun -np $ranks --oversubscribe\`, one thread per rank"
fi
quiet=()
[ $short = 1 ] && quiet=(--quiet)
echo "zoo: $what under $how; the zoo in $work/zoo"
start=$(date +%s)
# one thread per rank: --threads 1 sets OpenBLAS and OpenMP inside critnet; the variables keep any library that
# reads them at load time from starting more
rc=0
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "${launcher[@]}" "$bin" zoo "${population[@]}" --data fashion-mnist \
    --samples "$samples" --threads 1 --out "$work/zoo" "${quiet[@]}" || rc=$?
elapsed=$(($(date +%s) - start))
# every invocation's time and launcher, so that a resumed study reports the wall time of all its parts
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $elapsed $how" >>"$work/invocations.log"
if [ $rc != 0 ]; then
    echo "critnet zoo exited $rc (above: why); rerun with --work $work to retry the failed models" >&2
    exit 1
fi
wall=$(awk '{ s += $2 } END { print s }' "$work/invocations.log")
parts=$(wc -l <"$work/invocations.log")

# ---------------------------------------------------------------- the statistics
# zoo-report runs on a copy of zoo.csv in the folder the report goes to, so that stats.json names that zoo.csv
if [ $short = 1 ]; then out=$work/report; else out=docs/zoo; fi # relative to $root, as the report will name it
rm -rf "$out"
mkdir -p "$out"
cp "$work/zoo/zoo.csv" "$out/"
"$bin" zoo-report "$out" --quiet

# ---------------------------------------------------------------- the report
section() { # the lines of stats.md from the heading "### $1" up to the next heading of that level
    awk -v h="### $1" '$0 == h { p = 1; next } p && /^### / { p = 0 } p' "$out/stats.md"
}
models=$(($(wc -l <"$out/zoo.csv") - 1))
families=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "family") c = i; next } { print $c }' "$out/zoo.csv" | sort -u | wc -l)
{
    echo "# The model zoo: does accuracy track criticality? Results"
    echo
    [ $short = 1 ] && echo "(short mode: a smoke run, not a result)" && echo
    echo "Produced by \`bash experiments/zoo/run.sh$([ $short = 1 ] && echo ' --short')\` on $(date -u +%Y-%m-%d)" \
        "with critnet $("$bin" --version | awk '{ print $2 }'): \`critnet zoo $common\` ($models models of $families" \
        "families; [docs/zoo.md](../zoo.md) describes the population, the budgets and the measurements) under $how," \
        "in **$((wall / 60)) min $((wall % 60)) s** of wall time on $(nproc) cores, measured by the script" \
        "$([ "$parts" -gt 1 ] && echo "over its $parts invocations (a resumed run)" || echo "in one invocation")." \
        "Then \`critnet zoo-report\` at its defaults: 2000 bootstrap resamples, seed 0, 95% intervals."
    echo
    echo "## What the numbers say"
    echo
    section "What the numbers say" | sed '/^$/d; s/^Rules: /\nRules: /'
    echo
    echo "## The models"
    echo
    sed -n '1,/^### /p' "$out/stats.md" | sed '$d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
    left=$(section "Models left out")
    [ -z "$left" ] || echo "$left"
    echo
    echo "## Correlation with test accuracy"
    section "Correlation with test accuracy"
    echo "## Near-critical against far from criticality (Mann-Whitney U)"
    section "Near-critical against far from criticality (Mann-Whitney U)"
    echo "## Mixed model: test_accuracy ~ 1 + measure + (1 | family), REML"
    section "Mixed model: test_accuracy ~ 1 + measure + (1 | family), REML"
    echo "## Figures"
    echo
    echo "Test accuracy against each measure, a colour and a marker per family; Spearman's rho and its p under the title."
    echo
    echo "![test accuracy against |ln sigma|](acc_vs_abs_ln_sigma.png)"
    echo
    echo "![test accuracy against |lambda_0|](acc_vs_abs_lambda0.png)"
    echo
    echo "![test accuracy against Delta](acc_vs_delta.png)"
    echo
    echo "## Files"
    echo
    echo "[zoo.csv](zoo.csv): a row per model (settings, accuracy, sigma, lambda_0, Delta, times; the columns are in" \
        "[docs/zoo.md](../zoo.md#zoocsv-and-zoojson)). [stats.json](stats.json): every number above, the settings," \
        "the group rule and the verdict rules. [stats.md](stats.md): the report as \`critnet zoo-report\` prints it."
} >"$out/results.md"
cat "$out/results.md"
