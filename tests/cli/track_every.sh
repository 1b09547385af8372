#!/usr/bin/env bash
# track_every.sh: `critnet train --track-every N` writes DIR/track.csv (a row at step 0 and every N optimizer
# steps, finite values, one sigma_l column per block) and DIR/track.png; its sigma and lambda_0 at an epoch's
# end are the per-epoch ones of metrics.csv (same probe seed and inputs); a run stopped and resumed, with a
# killed run's later row in the file, ends with the same track.csv as a straight run; a damaged track.csv is
# refused on resume; a bad N exits 2 naming the option. Needs CRITNET_BIN (ctest sets it).
set -euo pipefail

BIN=${CRITNET_BIN:?set CRITNET_BIN to the critnet program}
WORK=$(mktemp -d /tmp/critnet_cli_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}
run() { # a step the rest depends on
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        bad "'$*' exited with status $rc"
        echo "track_every.sh: $passed passed, $failed failed"
        exit 1
    fi
}

# 250 examples in batches of 50: 5 steps per epoch, 15 in all; every 4 steps: rows at steps 0, 4, 8, 12
RUN=(--data gaussian --in 20 --classes 3 --limit-train 250 --width 32 --depth 3 --epochs 3 --batch 50 --seed 7
     --track 50 --quiet --track-every 4)

run "$BIN" train "${RUN[@]}" --out A
check "track.csv has the header of a 3-block net" \
    test "$(head -1 A/track.csv)" = "step,epoch,sigma,lambda0,mean_abs_ln_sigma_block,sigma_1,sigma_2,sigma_3"
check "track.csv rows are steps 0 4 8 12" test "$(tail -n +2 A/track.csv | cut -d, -f1 | tr '\n' ' ')" = "0 4 8 12 "
check "track.csv: every value finite, 8 fields a row" \
    awk -F, 'NR > 1 { if (NF != 8) exit 1; for (i = 1; i <= NF; i++) if ($i !~ /^-?[0-9.]+(e[-+][0-9]+)?$/) exit 1 }' \
    A/track.csv
check "track.csv: epoch = step / 5" awk -F, 'NR > 1 && ($2 - $1 / 5 > 1e-4 || $1 / 5 - $2 > 1e-4) { exit 1 }' A/track.csv
check "track.png written" test -s A/track.png

# the per-epoch tracking (metrics.csv) measures the same way: at step 10 (end of epoch 2) they agree
run "$BIN" train "${RUN[@]}" --track-every 5 --out E
check "step 10's sigma and lambda_0 are metrics.csv's epoch 2" awk -F, '
    FNR == 1 { next } NR == FNR { if ($1 == 2) { s = $6; l = $7 } next }
    $1 == 10 { d1 = $3 - s; d2 = $4 - l; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2; found = 1
               if (d1 > 1e-5 || d2 > 1e-5) exit 1 }
    END { exit !found }' E/metrics.csv E/track.csv

# ---------------------------------------------------------------- stopped and resumed
run "$BIN" train "${RUN[@]}" --stop-after 1 --out B
check "stopped at step 5: rows of steps 0 and 4" test "$(tail -n +2 B/track.csv | cut -d, -f1 | tr '\n' ' ')" = "0 4 "
# a run killed after the checkpoint leaves later rows behind; resume drops them
echo "8,1.6000,9,9,9,9,9,9" >> B/track.csv
cp -r B C
run "$BIN" train --resume B
check "stopped and resumed track.csv = the straight run's" cmp A/track.csv B/track.csv

# a damaged file is refused, named, and left as it was
sed -i '3d' C/track.csv # the row of step 4, which the checkpoint (step 5) needs
cp C/track.csv damaged.csv
rc=0
"$BIN" train --resume C 2> err.txt || rc=$?
check "resume with a row missing fails" test "$rc" -ne 0
check "the message names track.csv" grep -q "track.csv" err.txt
check "the damaged file is left as it was" cmp damaged.csv C/track.csv

# ---------------------------------------------------------------- off by default, bad values refused
run "$BIN" train "${RUN[@]:0:${#RUN[@]}-2}" --out D
check "no --track-every: no track.csv" test ! -e D/track.csv
for v in 0 -1 abc 1.5 1073741825 ""; do
    rc=0
    "$BIN" train "${RUN[@]:0:${#RUN[@]}-2}" --track-every "$v" --out "bad$v" 2> err.txt || rc=$?
    check "--track-every '$v' exits 2 (got $rc)" test "$rc" -eq 2
    check "--track-every '$v': the message names the option" grep -q -- "--track-every" err.txt
    check "--track-every '$v': no output folder" test ! -e "bad$v"
done

echo "track_every.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
