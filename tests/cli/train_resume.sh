#!/usr/bin/env bash
# train_resume.sh: `critnet train --stop-after 1` then `critnet train --resume` ends where 3 epochs straight
# end (the checkpoint's parameters, optimizer and RNG state; metrics; eval), and the CLI's error paths exit
# non-zero with a message naming the problem, never a crash. Needs CRITNET_BIN (ctest sets it).
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

DATA=(--data gaussian --in 20 --classes 3)
RUN=("${DATA[@]}" --width 32 --depth 2 --epochs 3 --batch 50 --seed 7 --quiet)

# ---------------------------------------------------------------- straight vs stopped and resumed

# run COMMAND...: a step the rest depends on; a failure ends the script with the count so far
run() {
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        bad "'$*' exited with status $rc"
        echo "train_resume.sh: $passed passed, $failed failed"
        exit 1
    fi
}

run "$BIN" train "${RUN[@]}" --out A
run "$BIN" train "${RUN[@]}" --stop-after 1 --out B
check "stopped run: metrics.csv has a header and 1 epoch" test "$(wc -l < B/metrics.csv)" -eq 2
check "stopped run: summary.json says stopped" grep -q '"status":[[:space:]]*"stopped"' B/summary.json

run "$BIN" train --resume B
# --stop-after N stops "after N epochs of this call" (--help), so one plain --resume should finish the run.
if [ "$(wc -l < B/metrics.csv)" -eq 4 ]; then
    ok
else
    bad "one 'train --resume B' did not finish the 3 epochs: metrics.csv has $(($(wc -l < B/metrics.csv) - 1)) epochs" \
        "(--stop-after 1 is stored with the run's argv and applied again on resume)"
    for _ in 1 2 3; do # go on, so that the rest can still be compared
        grep -q '"status":[[:space:]]*"done"' B/summary.json && break
        run "$BIN" train --resume B
    done
fi
check "resumed run: summary.json says done" grep -q '"status":[[:space:]]*"done"' B/summary.json

# metrics rows, less the seconds column (the last)
check "metrics.csv rows (without seconds) differ between straight and resumed runs" \
    diff <(rev A/metrics.csv | cut -d, -f2- | rev) <(rev B/metrics.csv | cut -d, -f2- | rev)

# model.cnm: "CRITNET\0" u32 version u32 epoch i64 steps | u32 len spec | u32 len settings | data... | u32 crc.
# Section by section first, so that a failure says which part differs.
u32_at() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
section() { # section FILE NAME -> the bytes of that section on stdout
    local f=$1 spec_len set_off set_len data_off size
    spec_len=$(u32_at "$f" 24)
    set_off=$((28 + spec_len))
    set_len=$(u32_at "$f" "$set_off")
    data_off=$((set_off + 4 + set_len))
    size=$(stat -c %s "$f")
    case $2 in
    header) head -c 24 "$f" ;;
    spec) tail -c +29 "$f" | head -c "$spec_len" ;;
    settings) tail -c +$((set_off + 5)) "$f" | head -c "$set_len" ;;
    data) tail -c +$((data_off + 1)) "$f" | head -c $((size - data_off - 4)) ;;
    esac
}
for part in header spec data; do
    check "model.cnm: the $part section differs between straight and resumed runs" \
        cmp -s <(section A/model.cnm "$part") <(section B/model.cnm "$part")
done
check "model.cnm: the data section is empty (layout misread)" test "$(section A/model.cnm data | wc -c)" -gt 1000
# run control (--stop-after, --out, --quiet) is not stored, so the whole files must match
check "model.cnm of the straight and the resumed run are not byte-identical" cmp -s A/model.cnm B/model.cnm

# the same evaluation (less the model path)
evalA=$("$BIN" eval --model A/model.cnm "${DATA[@]}" --json | grep -v '"model"')
evalB=$("$BIN" eval --model B/model.cnm "${DATA[@]}" --json | grep -v '"model"')
check "eval of the straight and resumed models differ" test "$evalA" = "$evalB"
check "eval --json has an accuracy" grep -q '"accuracy"' <<< "$evalA"

# resuming a finished run does nothing and says so
before=$(cksum < A/model.cnm)
out=$("$BIN" train --resume A 2>&1)
check "resume of a finished run: '$out'" grep -q "already finished" <<< "$out"
check "resume of a finished run changed the model" test "$before" = "$(cksum < A/model.cnm)"

# ---------------------------------------------------------------- error paths

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

head -c 100 A/model.cnm > truncated.cnm
cp A/model.cnm corrupt.cnm
printf '\x55' | dd of=corrupt.cnm bs=1 seek=200 conv=notrunc status=none
printf 'not a checkpoint\n' > text.cnm
: > empty.cnm

expect_fail "unknown option" "bogus-option" "$BIN" train --bogus-option --out X
expect_fail "unknown command" "frobnicate" "$BIN" frobnicate
expect_fail "--epochs 0" "--epochs 0" "$BIN" train "${DATA[@]}" --epochs 0 --out X
expect_fail "--epochs abc" "--epochs abc" "$BIN" train "${DATA[@]}" --epochs abc --out X
expect_fail "--lr -1" "--lr -1" "$BIN" train "${DATA[@]}" --lr -1 --out X
expect_fail "--act bogus" "bogus" "$BIN" train "${DATA[@]}" --act bogus --out X
expect_fail "--optim bogus" "bogus" "$BIN" train "${DATA[@]}" --optim bogus --out X
expect_fail "--norm bogus" "bogus" "$BIN" train "${DATA[@]}" --norm bogus --out X
expect_fail "stray argument" "stray" "$BIN" train "${DATA[@]}" --out X stray
expect_fail "--data idx:/nonexistent" "/nonexistent" "$BIN" train --data idx:/nonexistent --out X --quiet
expect_fail "--data unknown" "nosuchdata" "$BIN" train --data nosuchdata --out X --quiet
expect_fail "--model-file missing" "/nonexistent/model.txt" \
    "$BIN" train "${DATA[@]}" --model-file /nonexistent/model.txt --out X --quiet
expect_fail "--resume /nonexistent" "/nonexistent" "$BIN" train --resume /nonexistent
mkdir -p E
expect_fail "--resume of a folder without a checkpoint" "E/model.cnm" "$BIN" train --resume E
expect_fail "train without --out" "--out" "$BIN" train "${DATA[@]}" --quiet
expect_fail "eval without --model" "--model" "$BIN" eval "${DATA[@]}"
expect_fail "eval --model missing file" "/nonexistent/model.cnm" "$BIN" eval --model /nonexistent/model.cnm "${DATA[@]}"
expect_fail "eval of a corrupt model (one byte changed)" "corrupt.cnm" "$BIN" eval --model corrupt.cnm "${DATA[@]}"
expect_fail "eval of a truncated model" "truncated.cnm" "$BIN" eval --model truncated.cnm "${DATA[@]}"
expect_fail "eval of a text file" "text.cnm" "$BIN" eval --model text.cnm "${DATA[@]}"
expect_fail "eval of an empty file" "empty.cnm" "$BIN" eval --model empty.cnm "${DATA[@]}"
expect_fail "eval on data of the wrong size" "inputs" "$BIN" eval --model A/model.cnm --data gaussian --in 21 --classes 3
mkdir -p C
cp corrupt.cnm C/model.cnm
expect_fail "resume from a corrupt checkpoint" "C/model.cnm" "$BIN" train --resume C
check "no output folder X was created by the failures" test ! -e X

echo "train_resume.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
