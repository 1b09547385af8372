#!/usr/bin/env bash
# The paper's second claim, tested: does training toward criticality improve accuracy and robustness?
# For architectures initialised off the critical point, with several seeds each, this trains
#   baseline   the architecture's own initialisation, task loss only
#   crit_bB    the same, with the criticality regulariser at weight B (--crit-weight B, target sigma)
#   crit_init  critical initialisation instead (chi1 = 1 from `critnet theory --critical`), task loss only
# and reports test accuracy, accuracy under noise / FGSM / PGD, sigma and lambda_0 before and after
# training, and Wilcoxon signed-rank p-values (paired by seed) of each condition against the baseline and
# against critical initialisation (`critnet stats`).
#   bash experiments/critical-training/run.sh            # full (about 80 minutes on 2 cores)
#   bash experiments/critical-training/run.sh --short    # smoke run for the test suite (small nets, 2 seeds)
#   options: --seeds N (default 6: with 5, the smallest two-sided exact Wilcoxon p is 2/32 = 0.0625, so no
#            difference could reach 0.05), --jobs J (parallel runs, default 2), --work DIR (keep the runs there;
#            rerunning with the same DIR skips the finished runs)
# Full mode writes docs/critical-training/results.md, runs.csv, stats.json and the plots beside them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CRITNET_BIN=${CRITNET_BIN:-$root/build/critnet}
bin=$CRITNET_BIN
[ -x "$bin" ] || { echo "build critnet first (cmake -B build && cmake --build build)" >&2; exit 1; }
short=0 seeds=6 jobs=2 work=""
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1; seeds=2 ;;
    --seeds) seeds=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --work) work=$2; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work/arch" "$work/rows"

critical_sigma_w() { # act sigma_b
    "$bin" theory --act "$1" --sigma-b "$2" --critical --json | sed -n 's/.*"sigma_w_critical":[[:space:]]*\([0-9.e-]*\).*/\1/p'
}
arch() { # name "network flags" "critical-init flags" "training flags"
    echo "$2" >"$work/arch/$1.flags"; echo "$3" >"$work/arch/$1.critinit"; echo "$4" >"$work/arch/$1.train"
    archs+=("$1")
}
archs=()
sb=0.05 # tanh bias scale: with sigma_b = 0 the critical tanh net would be exactly sigma_w = 1, one of the three
tanh_crit=$(critical_sigma_w tanh $sb) relu_crit=$(critical_sigma_w relu 0)
if [ $short = 1 ]; then
    mlp="--data fashion-mnist --arch mlp --width 32 --depth 6"
    arch tanh_sw2.5 "$mlp --act tanh --init normal --sigma-w 2.5 --sigma-b $sb" "--sigma-w $tanh_crit" ""
    arch relu_mlp "$mlp --act relu --init torch" "--init normal --sigma-w $relu_crit --sigma-b 0" ""
    conditions=(baseline crit_b1 crit_init)
    echo "--epochs 1 --batch 128 --optim sgd --lr 0.01 --momentum 0.9 --threads 1 --limit-train 1000 --limit-test 200 --track 100" >"$work/common.train"
    echo "--samples 100 --quiet" >"$work/common.measure"
    echo "--samples 100 --noise 0.1,0.2 --eps 0.01,0.02 --quiet" >"$work/common.robust"
else
    mlp="--data fashion-mnist --arch mlp --width 128"
    for sw in 0.5 1.0 2.5; do
        arch tanh_sw$sw "$mlp --depth 16 --act tanh --init normal --sigma-w $sw --sigma-b $sb" "--sigma-w $tanh_crit" ""
    done
    arch relu_mlp "$mlp --depth 20 --act relu --init torch" "--init normal --sigma-w $relu_crit --sigma-b 0" ""
    # the default CNN costs about 20x an MLP step: a third of the training set keeps it within the budget
    arch cnn "--data fashion-mnist --arch cnn --act relu --init torch" \
        "--init normal --sigma-w $relu_crit --sigma-b 0" "--limit-train 20000"
    conditions=(baseline crit_b0.1 crit_b1 crit_b10 crit_init)
    echo "--epochs 3 --batch 128 --optim sgd --lr 0.01 --momentum 0.9 --threads 1" >"$work/common.train"
    echo "--samples 500 --quiet" >"$work/common.measure"
    echo "--samples 1000 --noise 0.1,0.2 --eps 0.01,0.02 --quiet" >"$work/common.robust"
fi

jobsfile="$work/jobs.txt"
: >"$jobsfile"
for a in "${archs[@]}"; do for c in "${conditions[@]}"; do for s in $(seq 0 $((seeds - 1))); do
    echo "$work $a $c $s" >>"$jobsfile"
done; done; done
total=$(wc -l <"$jobsfile")
echo "critical training: ${#archs[@]} architectures x ${#conditions[@]} conditions x $seeds seeds = $total runs," \
    "$jobs at a time; runs in $work"
start=$(date +%s)
n0=$(find "$work/rows" -name '*.csv' | wc -l) # finished by an earlier call with the same --work
# each run prints nothing; progress comes from counting the finished rows (a line per change, or one
# line redrawn on a terminal)
xargs -P "$jobs" -L 1 bash "$here/one_run.sh" <"$jobsfile" &
pid=$!
progress() {
    local n el; n=$(find "$work/rows" -name '*.csv' | wc -l); el=$(( $(date +%s) - start ))
    [ "$n" = "${last_n:-}" ] && [ "${1:-}" != final ] && return
    last_n=$n
    local eta=""
    [ "$n" -gt "$n0" ] && [ "$n" -lt "$total" ] && eta=", about $(( el * (total - n) / (n - n0) / 60 )) min left"
    if [ -t 2 ]; then printf '\r  %d/%d runs done, %d s elapsed%s   ' "$n" "$total" "$el" "$eta" >&2
    else printf '  %d/%d runs done, %d s elapsed%s\n' "$n" "$total" "$el" "$eta" >&2; fi
}
while kill -0 $pid 2>/dev/null; do progress; sleep 5; done
wait $pid
progress final
[ -t 2 ] && echo >&2

csv="$work/runs.csv"
echo "arch,condition,seed,status,test_acc,noise_0.1,noise_0.2,fgsm_0.01,fgsm_0.02,pgd_0.01,pgd_0.02,sigma_before,lambda0_before,sigma_after,lambda0_after,abs_ln_sigma_before,abs_lambda0_before,abs_ln_sigma_after,abs_lambda0_after,train_seconds" >"$csv"
while read -r _ a c s; do cat "$work/rows/$a,$c,$s.csv"; done <"$jobsfile" >>"$csv"

metrics=test_acc,noise_0.2,fgsm_0.02,pgd_0.02,abs_ln_sigma_before,abs_lambda0_before,abs_ln_sigma_after,abs_lambda0_after,train_seconds
stats=("$bin" stats --csv "$csv" --group arch --condition condition --pair seed --metrics "$metrics"
       --baselines baseline,crit_init)
if [ $short = 1 ]; then
    "${stats[@]}" --md "$work/stats.md" --plot "$work/plots"
else
    out="$root/docs/critical-training"
    mkdir -p "$out"
    "${stats[@]}" --md "$work/stats.md" --json "$out/stats.json" --plot "$out"
    cp "$csv" "$out/runs.csv"
fi

# The issue's check: the chaotic tanh net (sigma_w = 2.5) ends training with |ln sigma| and |lambda_0| at
# least halved by critical training, at equal or better accuracy than the identically trained baseline.
verdict() {
    awk -F, -v arch=tanh_sw2.5 '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["arch"] == arch && $col["status"] == "done" {
        c = $col["condition"]; n[c]++
        acc[c] += $col["test_acc"]; ls[c] += $col["abs_ln_sigma_after"]; la[c] += $col["abs_lambda0_after"] }
    END {
        if (!n["baseline"]) { print "no finished baseline runs for " arch; exit }
        b = "baseline"
        printf "| condition | test acc | mean |ln sigma| after | ratio to baseline | mean |lambda_0| after | ratio to baseline | halved at >= accuracy? |\n"
        printf "|---|---|---|---|---|---|---|\n"
        for (c in n) {
            rs = (ls[c] / n[c]) / (ls[b] / n[b]); rl = (la[c] / n[c]) / (la[b] / n[b])
            ok = (c != b && rs <= 0.5 && rl <= 0.5 && acc[c] / n[c] >= acc[b] / n[b]) ? "yes" : (c == b ? "" : "no")
            printf "| %s | %.4f | %.4f | %.2f | %.4f | %.2f | %s |\n", c, acc[c] / n[c], ls[c] / n[c], rs, la[c] / n[c], rl, ok
        }
    }' "$csv" | { read -r h; read -r s; echo "$h"; echo "$s"; sort; }
}
{
    echo "# Critical training: results"
    echo
    [ $short = 1 ] && echo "(short mode: a smoke run, not a result)" && echo
    echo "Produced by \`bash experiments/critical-training/run.sh$([ $short = 1 ] && echo ' --short')\` on $(date -u +%Y-%m-%d)" \
        "($seeds seeds; $(sed 's/ --threads 1//' "$work/common.train"); measures on $(sed 's/--samples \([0-9]*\).*/\1/' "$work/common.measure") test inputs," \
        "attacks on $(sed 's/--samples \([0-9]*\).*/\1/' "$work/common.robust")). Architectures (network flags; critical initialisation):"
    echo
    for a in "${archs[@]}"; do echo "- \`$a\`: \`$(cat "$work/arch/$a.flags") $(cat "$work/arch/$a.train")\`; critical init \`$(cat "$work/arch/$a.critinit")\`"; done
    echo
    echo "Diverged runs: $(awk -F, 'NR > 1 && $4 != "done"' "$csv" | wc -l) of $total."
    echo
    echo "## The chaotic tanh MLP (sigma_w = 2.5): is |ln sigma| and |lambda_0| halved at equal or better accuracy?"
    echo
    verdict
    echo
    cat "$work/stats.md"
} >"$work/results.md"
cat "$work/results.md"
[ $short = 1 ] || cp "$work/results.md" "$root/docs/critical-training/results.md"
