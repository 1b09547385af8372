#!/usr/bin/env bash
# continual_kill.sh: the soak of issue 18 (item 4). A continual run is killed with SIGKILL at random moments,
# KILLS times, each time resumed with --resume, and then resumed to its end; its tasks.csv and model.cnm must equal
# those of an uninterrupted run byte for byte, and summary.json must say done.
#
#   bash experiments/soak/continual_kill.sh [--short] [--kills N] [--seed S] [--bin PATH] [--keep DIR]
#
# The default is the long soak (48 tasks of 4,000 examples, width 128: 21 s uninterrupted on this 2-core
# machine). --short is the suite's version (tests/cli/soak_continual.sh: 12 tasks of 1,500, width 32, about
# 2 s uninterrupted). The kill points are KILLS task numbers (not the last) drawn uniformly and sorted; kill i waits until
# tasks.csv holds that many rows, then a delay drawn uniformly from [0, T/tasks] (T the uninterrupted run's time),
# so kills land in data loading, training, measuring or a checkpoint write alike. --seed seeds the draws (bash's
# RANDOM), so a failing sequence can be replayed. Prints each kill; exit 0 when the files match, 1 when not.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${CRITNET_BIN:-$here/../../build/critnet}
kills=10
seed=1
short=0
keep=
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1 ;;
    --kills) kills=$2; shift ;;
    --seed) seed=$2; shift ;;
    --bin) bin=$2; shift ;;
    --keep) keep=$2; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "continual_kill.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ $short = 1 ]; then
    tasks=12
    run=(continual --data mnist --tasks $tasks --examples-per-task 1500 --width 32 --seed 5 --threads 1 --quiet --no-plot)
else
    tasks=48
    run=(continual --data mnist --tasks $tasks --examples-per-task 4000 --width 128 --seed 5 --threads 1 --quiet --no-plot)
fi
work=${keep:-$(mktemp -d)}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
RANDOM=$seed

t0=$(date +%s.%N)
"$bin" "${run[@]}" --out "$work/straight" >"$work/straight.log" 2>&1 || { echo "the uninterrupted run failed: $(cat "$work/straight.log")"; exit 1; }
t=$(echo "$(date +%s.%N) - $t0" | bc -l)
printf 'uninterrupted: %.2f s for %d tasks; %d kills, seed %s\n' "$t" "$tasks" "$kills" "$seed"

rows() { [ -f "$work/k/tasks.csv" ] && echo $(($(wc -l <"$work/k/tasks.csv") - 1)) || echo 0; }
# the kill points: KILLS task numbers drawn uniformly from [0, tasks - 2], sorted; kill i waits for that many rows,
# then a delay uniform in [0, T/tasks], so it lands anywhere in the task that follows (or in a start); two tasks
# are left after the target, so the run cannot end before its kill unless it runs twice as fast as it did
targets=$(for _ in $(seq "$kills"); do echo $((RANDOM % (tasks - 1))); done | sort -n)
landed=0
for target in $targets; do
    if [ -f "$work/k/model.cnm" ]; then "$bin" continual --resume "$work/k" --quiet --no-plot >>"$work/k.log" 2>&1 &
    else "$bin" "${run[@]}" --out "$work/k" >>"$work/k.log" 2>&1 & fi
    pid=$!
    while [ "$(rows)" -lt "$target" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.005; done
    delay=$(echo "$RANDOM / 32768 * $t / $tasks" | bc -l)
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        landed=$((landed + 1))
        printf 'kill %2d at task %2d + %.3f s: %2d tasks in tasks.csv, checkpoint %s\n' "$landed" "$target" "$delay" \
            "$(rows)" "$([ -f "$work/k/model.cnm" ] && echo present || echo none yet)"
    else
        wait "$pid"
        rc=$?
        [ $rc = 0 ] || { echo "a (re)start failed with exit $rc: $(tail -3 "$work/k.log")"; exit 1; }
        echo "the run ended before kill $((landed + 1)) (target task $target + $delay s)"
    fi
done
if [ -f "$work/k/model.cnm" ]; then "$bin" continual --resume "$work/k" --quiet --no-plot >>"$work/k.log" 2>&1
else "$bin" "${run[@]}" --out "$work/k" >>"$work/k.log" 2>&1; fi || { echo "the last resume failed: $(tail -3 "$work/k.log")"; exit 1; }
status=0
if cmp -s "$work/straight/tasks.csv" "$work/k/tasks.csv"; then echo "tasks.csv: identical to the uninterrupted run's"
else echo "tasks.csv DIFFERS:"; diff "$work/straight/tasks.csv" "$work/k/tasks.csv"; status=1; fi
if cmp -s "$work/straight/model.cnm" "$work/k/model.cnm"; then echo "model.cnm: identical"
else echo "model.cnm DIFFERS"; status=1; fi
grep -q '"status":[[:space:]]*"done"' "$work/k/summary.json" || { echo "summary.json does not say done"; status=1; }
# a kill that found the run ended tested nothing: the soak must land them all
[ $landed = "$kills" ] || { echo "only $landed of $kills kills landed"; status=1; }
echo "soak: $landed kills landed; $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
