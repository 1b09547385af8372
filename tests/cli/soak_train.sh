#!/usr/bin/env bash
# soak_train.sh: the short train soak (issue 18, item 4). A `critnet train` run is killed with SIGKILL at KILLS
# random moments and resumed with --resume after each, then resumed to its end. Its model.cnm must equal an
# uninterrupted run's byte for byte, and its metrics.csv too except the seconds column (the last: wall time),
# and summary.json must say done.
#
#   bash tests/cli/soak_train.sh [--kills N] [--seed S] [--bin PATH] [--keep DIR] [--epochs E]
#
# The kill points are KILLS epoch numbers (not the last two) drawn uniformly and sorted; kill i waits until
# metrics.csv holds that many rows, then a delay drawn uniformly from [0, T/epochs] (T the uninterrupted run's
# time), so kills land in data loading, an epoch's steps, its evaluation and tracking, or a checkpoint write.
# --seed seeds the draws (bash's RANDOM; the suite draws a new one each time and prints it), so a failing
# sequence can be replayed. Needs no data set (gaussian inputs). Exit 0 when the files match, 1 when not.
set -uo pipefail
bin=${CRITNET_BIN:-$(dirname "$0")/../../build/critnet}
kills=5
seed=${SOAK_SEED:-$RANDOM}
epochs=16
keep=
while [ $# -gt 0 ]; do
    case $1 in
    --kills) kills=$2; shift ;;
    --seed) seed=$2; shift ;;
    --bin) bin=$2; shift ;;
    --keep) keep=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "soak_train.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
# the criticality regulariser and the per-epoch tracking make each epoch long enough to be hit mid-way, and
# their random probes make the RNG state part of what a resume must restore
run=(train --data gaussian --in 64 --classes 4 --width 128 --depth 4 --epochs "$epochs"
     --batch 32 --optim adam --lr 1e-3 --crit-weight 0.1 --seed 5 --threads 1 --quiet)
work=${keep:-$(mktemp -d /tmp/critnet_soak_train_XXXXXX)}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
RANDOM=$seed

t0=$(date +%s.%N)
"$bin" "${run[@]}" --out "$work/straight" >"$work/straight.log" 2>&1 || {
    echo "the uninterrupted run failed: $(tail -5 "$work/straight.log")"
    exit 1
}
t=$(echo "$(date +%s.%N) - $t0" | bc -l)
printf 'uninterrupted: %.2f s for %d epochs; %d kills, seed %s\n' "$t" "$epochs" "$kills" "$seed"

rows() { [ -f "$work/k/metrics.csv" ] && echo $(($(wc -l <"$work/k/metrics.csv") - 1)) || echo 0; }
targets=$(for _ in $(seq "$kills"); do echo $((RANDOM % (epochs - 2))); done | sort -n)
landed=0
for target in $targets; do
    if [ -f "$work/k/model.cnm" ]; then "$bin" train --resume "$work/k" --quiet >>"$work/k.log" 2>&1 &
    else "$bin" "${run[@]}" --out "$work/k" >>"$work/k.log" 2>&1 & fi
    pid=$!
    while [ "$(rows)" -lt "$target" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.005; done
    delay=$(echo "$RANDOM / 32768 * $t / $epochs" | bc -l)
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        landed=$((landed + 1))
        printf 'kill %d at epoch %2d + %.3f s: %2d epochs in metrics.csv, checkpoint %s\n' "$landed" "$target" \
            "$delay" "$(rows)" "$([ -f "$work/k/model.cnm" ] && echo present || echo none yet)"
    else
        wait "$pid"
        rc=$?
        [ $rc = 0 ] || { echo "a (re)start failed with exit $rc: $(tail -3 "$work/k.log")"; exit 1; }
        echo "the run ended before kill $((landed + 1)) (target epoch $target + $delay s)"
    fi
done
if [ -f "$work/k/model.cnm" ]; then "$bin" train --resume "$work/k" --quiet >>"$work/k.log" 2>&1
else "$bin" "${run[@]}" --out "$work/k" >>"$work/k.log" 2>&1; fi || {
    echo "the last resume failed: $(tail -3 "$work/k.log")"
    exit 1
}
status=0
no_seconds() { rev "$1" | cut -d, -f2- | rev; }
if diff <(no_seconds "$work/straight/metrics.csv") <(no_seconds "$work/k/metrics.csv") >"$work/metrics.diff"; then
    echo "metrics.csv: identical to the uninterrupted run's (the seconds column left out)"
else
    echo "metrics.csv DIFFERS:"
    cat "$work/metrics.diff"
    status=1
fi
if cmp -s "$work/straight/model.cnm" "$work/k/model.cnm"; then echo "model.cnm: identical"
else echo "model.cnm DIFFERS"; status=1; fi
grep -q '"status":[[:space:]]*"done"' "$work/k/summary.json" || { echo "summary.json does not say done"; status=1; }
# a kill that found the run ended tested nothing: the soak must land them all
[ $landed = "$kills" ] || { echo "only $landed of $kills kills landed"; status=1; }
echo "soak: $landed kills landed; $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
