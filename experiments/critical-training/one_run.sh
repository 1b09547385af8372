#!/usr/bin/env bash
# one_run.sh: one training run of the critical-training experiment (called by run.sh, in parallel).
#   one_run.sh WORKDIR ARCH CONDITION SEED
# Reads WORKDIR/arch/ARCH.flags (network flags), WORKDIR/arch/ARCH.critinit (the flags of the critical
# initialisation), WORKDIR/arch/ARCH.train (per-architecture training flags) and WORKDIR/common.train.
# Measures the fresh network, trains it, measures it again and attacks it; appends nothing to shared
# files: its result is WORKDIR/rows/ARCH,CONDITION,SEED.csv (one CSV row), written last, so that a rerun
# of run.sh skips the runs that finished.
set -euo pipefail
work=$1 arch=$2 cond=$3 seed=$4
bin=${CRITNET_BIN:?}
row="$work/rows/$arch,$cond,$seed.csv"
[ -s "$row" ] && exit 0
dir="$work/runs/$arch/$cond/$seed"
mkdir -p "$dir"
read -r -a net <"$work/arch/$arch.flags"
read -r -a train <"$work/arch/$arch.train"
read -r -a common <"$work/common.train"
read -r -a measure <"$work/common.measure"
read -r -a attack <"$work/common.robust"
case $cond in
baseline) extra=() ;;
crit_init) read -r -a init <"$work/arch/$arch.critinit"; net+=("${init[@]}"); extra=() ;;
crit_b*) extra=(--crit-weight "${cond#crit_b}") ;;
*) echo "unknown condition $cond" >&2; exit 2 ;;
esac

# the "value" member of a top-level JSON object KEY, as critnet measure writes it (one member per line)
json_value() { awk -v k="\"$1\":" '$1 == k { f = 1 } f && $1 == "\"value\":" { sub(/,$/, "", $2); print $2; exit }' "$2"; }
abs_log() { awk -v v="$1" 'BEGIN { if (v == "" || v == "nan" || v <= 0) print "nan"; else { l = log(v); print l < 0 ? -l : l } }'; }
abs() { awk -v v="$1" 'BEGIN { if (v == "" || v == "nan") print "nan"; else print v < 0 ? -v : v }'; }

"$bin" measure "${net[@]}" "${measure[@]}" --seed "$seed" --json "$dir/before.json" >/dev/null
status=done
if ! "$bin" train "${net[@]}" "${common[@]}" "${train[@]}" "${extra[@]}" --seed "$seed" --quiet --out "$dir/train" \
    >"$dir/train.log" 2>&1; then
    status=diverged
    grep -q "diverged" "$dir/train.log" || { cat "$dir/train.log" >&2; exit 1; }
fi
sb=$(json_value sigma "$dir/before.json"); lb=$(json_value lambda_max "$dir/before.json")
acc=nan sa=nan la=nan secs=nan rob=(nan nan nan nan nan nan)
if [ $status = done ]; then
    acc=$(sed -n 's/.*"test_accuracy":[[:space:]]*\([-0-9.e]*\).*/\1/p' "$dir/train/summary.json")
    secs=$(sed -n 's/.*"seconds":[[:space:]]*\([-0-9.e]*\).*/\1/p' "$dir/train/summary.json")
    "$bin" measure --model "$dir/train/model.cnm" "${measure[@]}" --json "$dir/after.json" >/dev/null
    sa=$(json_value sigma "$dir/after.json"); la=$(json_value lambda_max "$dir/after.json")
    "$bin" robustness --model "$dir/train/model.cnm" "${attack[@]}" --seed "$seed" --csv "$dir/robust.csv" >/dev/null
    # noise 0.1, 0.2; fgsm 0.01, 0.02; pgd 0.01, 0.02 (the grid in common.robust)
    mapfile -t rob < <(awk -F, 'NR > 1 && $2 != 0 { print $3 }' "$dir/robust.csv")
fi
printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$arch" "$cond" "$seed" "$status" "$acc" \
    "${rob[@]}" "$sb" "$lb" "$sa" "$la" "$(abs_log "$sb")" "$(abs "$lb")" "$(abs_log "$sa")" "$(abs "$la")" "$secs" \
    >"$row.tmp"
mv "$row.tmp" "$row"
