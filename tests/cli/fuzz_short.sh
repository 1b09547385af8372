#!/usr/bin/env bash
# Every libFuzzer target of fuzz/ (one per reader: onnx, checkpoint, spec, idx, npy, images, cifar, zoo_spec,
# csv) built with clang, ASan and UBSan, then run for a few seconds on its seed corpus, which holds the inputs
# that once crashed a reader or made it allocate more than its file justifies (fuzz/regress/TARGET/). Fails when
# a target does not build, does not run, or finds a crash, a leak, a timeout or an amplification.
# FUZZ_SHORT_SECONDS sets the seconds per target (default 3). The build and its objects stay in
# BUILD_DIR/fuzz, so that later runs compile only what changed.
set -uo pipefail
src=${CRITNET_SRC:-.}
out=${BUILD_DIR:-$src/build}/fuzz
secs=${FUZZ_SHORT_SECONDS:-3}
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

targets=$(sed -n 's/^TARGETS="\(.*\)"$/\1/p' "$src/fuzz/run.sh")
[ -n "$targets" ] || bad "no TARGETS line in fuzz/run.sh"
for t in $targets; do
    [ -f "$src/fuzz/fuzz_$t.c" ] || bad "fuzz/run.sh names target $t but fuzz/fuzz_$t.c is missing"
    # ASan and UBSan as the sanitizer test builds set them would clash with the fuzzer's own settings
    # the ONNX corpus (about 260 models, each run forward and backward) alone took the 3 s to replay on the
    # loaded 2-core machine, leaving no time to mutate: its run gets at least 12 s
    tsecs=$secs
    [ "$t" = onnx ] && [ "$tsecs" -lt 12 ] && tsecs=12
    if ! env -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS bash "$src/fuzz/run.sh" "$t" --out "$out" \
        --time "$tsecs" --runs 100000000 >"$out.$t.log" 2>&1; then
        bad "fuzz_$t: fuzz/run.sh failed:"
        tail -25 "$out.$t.log"
        continue
    fi
    stats=$out/$t/final_stats.txt
    execs=$(sed -n 's/^executions: *\([0-9]*\).*/\1/p' "$stats")
    seeds=$(ls "$out/$t/seeds" | wc -l)
    if [ -z "$execs" ] || [ "$execs" -le "$seeds" ]; then
        bad "fuzz_$t: $execs executions, not more than its $seeds seeds"
    elif ! grep -q '^crashes: *0 new' "$stats"; then
        bad "fuzz_$t: new crash artifacts"
        cat "$stats"
    else
        echo "fuzz_$t: $execs executions in ${tsecs}s from $seeds seeds, $(grep '^coverage' "$stats")"
        ok
    fi
done
echo "fuzz_short: $pass passed, $fail failed"
[ "$fail" = 0 ]
