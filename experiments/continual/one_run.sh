#!/usr/bin/env bash
# one_run.sh: one run of the continual experiment (called by run.sh, in parallel).
#   one_run.sh WORKDIR METHOD SEED
# METHOD is the experiment's name of a method, with '+' where `critnet continual --method` takes ','
# (crit+l2), and cbp-RATE for cbp at another replacement rate (cbp-1e-5). Reads WORKDIR/common.args (the
# problem flags every run shares). The run lives in WORKDIR/runs/METHOD/sSEED; its log in
# WORKDIR/runs/METHOD/sSEED.log.
#  - summary.json says done or diverged: nothing to do (a diverged run is a result, recorded as such);
#  - a checkpoint (model.cnm) is there: `critnet continual --resume`, which continues from the last finished
#    task, after a kill too;
#  - else a fresh run.
# CONTINUAL_STOP_AFTER=K (run.sh --stop-after K): stop after K tasks of this call, resumable later.
set -euo pipefail
work=$1 method=$2 seed=$3
bin=${CRITNET_BIN:?}
dir="$work/runs/$method/s$seed"
log="$dir.log"
status() { sed -n 's/.*"status":[[:space:]]*"\([a-z]*\)".*/\1/p' "$dir/summary.json" 2>/dev/null || true; }
case $(status) in done | diverged) exit 0 ;; esac
stop=()
[ -n "${CONTINUAL_STOP_AFTER:-}" ] && stop=(--stop-after "$CONTINUAL_STOP_AFTER")
if [ -s "$dir/model.cnm" ]; then
    cmd=("$bin" continual --resume "$dir" --quiet --no-plot "${stop[@]}")
else
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    read -r -a common <"$work/common.args"
    case $method in
    cbp-*) how=(--method cbp --replacement-rate "${method#cbp-}") ;;
    *) how=(--method "${method//+/,}") ;;
    esac
    cmd=("$bin" continual "${common[@]}" "${how[@]}" --seed "$seed" --quiet --no-plot "${stop[@]}"
         --out "$dir")
fi
if ! "${cmd[@]}" >>"$log" 2>&1; then
    # a run that diverged has written its summary (status diverged, with the message) and counts as done
    [ "$(status)" = diverged ] && exit 0
    echo "continual run $method seed $seed failed (${cmd[*]}):" >&2
    tail -n 5 "$log" >&2
    exit 1
fi
