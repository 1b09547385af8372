#!/usr/bin/env bash
# critnet robustness from the shell: on a small trained checkpoint, its table, JSON, CSV and plot; size 0 gives
# the clean accuracy and PGD never beats it; a rerun from the recorded settings; and the error paths (a
# negative eps, an unknown attack, a missing model: each a message and a non-zero exit, never a crash).
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

"$bin" train --data gaussian --in 20 --classes 3 --arch mlp --width 16 --depth 2 --epochs 2 --quiet \
    --out "$tmp/run" || bad "train"
out=$("$bin" robustness --model "$tmp/run/model.cnm" --data gaussian --in 20 --classes 3 --samples 200 \
    --json "$tmp/r.json" --csv "$tmp/r.csv" --plot "$tmp/r.png" 2>&1) && ok || bad "robustness: $out"
grep -q "clean accuracy" <<<"$out" && grep -q "pgd eps" <<<"$out" && grep -q "not clipped" <<<"$out" \
    && ok || bad "table: $out"
$py - "$tmp/r.json" <<'PY' && ok || bad "json content"
import json, sys
d = json.load(open(sys.argv[1]))
for key in ["model", "data", "split", "examples", "clean_accuracy", "results", "settings"]:
    assert key in d, key
r, clean = d["results"], d["clean_accuracy"]
assert d["examples"] == 200 and 0 <= clean <= 1
assert r["noise"]["std"] == [0, 0.05, 0.1, 0.2, 0.3], r["noise"]
for k in ["fgsm", "pgd"]:
    assert r[k]["eps"] == [0, 0.01, 0.02, 0.05, 0.1], r[k]
for k in ["noise", "fgsm", "pgd"]:
    acc = r[k]["accuracy"]
    assert len(acc) == 5 and all(0 <= a <= 1 for a in acc), (k, acc)
    assert acc[0] == clean, (k, acc[0], clean)
assert all(a <= clean for a in r["pgd"]["accuracy"]), r["pgd"]
s = d["settings"]
assert s["samples"] == 200 and s["seed"] == 0 and s["pgd_steps"] == 10 and s["pgd_step_scale"] == 2.5
assert s["clip"] is False and s["clip_range"] is None, "gaussian data are not in [0, 1]"
assert s["attacks"] == ["fgsm", "pgd"] and s["argv"] and s["model_spec"].startswith("input 20")
PY
[ "$(head -1 "$tmp/r.csv")" = "perturbation,size,accuracy" ] && [ "$(wc -l < "$tmp/r.csv")" -eq 16 ] \
    && ok || bad "csv"
[ "$(head -c 4 "$tmp/r.png" | od -An -c | tr -d ' ')" = "211PNG" ] && ok || bad "plot"

# the recorded argv reruns to the same numbers
mapfile -t args < <($py -c 'import json,sys; [print(a) for a in json.load(open(sys.argv[1]))["settings"]["argv"]]' "$tmp/r.json")
"$bin" robustness "${args[@]/$tmp\/r.json/$tmp/r2.json}" >/dev/null 2>&1
$py - "$tmp/r.json" "$tmp/r2.json" <<'PY' && ok || bad "rerun from settings differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["results"] == b["results"] and a["clean_accuracy"] == b["clean_accuracy"]
PY

# one attack, no noise, a custom grid
"$bin" robustness --model "$tmp/run/model.cnm" --data gaussian --in 20 --classes 3 --samples 50 --noise none \
    --attacks fgsm --eps 0,0.5 --json "$tmp/f.json" --quiet && ok || bad "fgsm only"
$py -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; assert list(r)==["fgsm"] and r["fgsm"]["eps"]==[0,0.5]' \
    "$tmp/f.json" && ok || bad "fgsm-only json"

expect_error() { # description pattern command...
    local what=$1 pat=$2; shift 2
    out=$("$@" 2>&1); rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pat" <<<"$out"; then ok; else bad "$what: rc=$rc out=$out"; fi
}
m=(--model "$tmp/run/model.cnm" --data gaussian --in 20 --classes 3 --samples 50)
expect_error "negative eps" "--eps -0.1: expected a comma list .* each in \[0, " "$bin" robustness "${m[@]}" --eps -0.1
expect_error "negative eps in a list" "--eps 0,0.01,-0.02: expected" "$bin" robustness "${m[@]}" --eps 0,0.01,-0.02
expect_error "negative noise" "--noise 0,-1: expected" "$bin" robustness "${m[@]}" --noise 0,-1
expect_error "not a number" "--eps 0,abc: expected a comma list of at most 64 numbers" "$bin" robustness "${m[@]}" --eps 0,abc
expect_error "unknown attack" "unknown attack" "$bin" robustness "${m[@]}" --attacks fgsm,cw
expect_error "missing model" "cannot open" "$bin" robustness --model "$tmp/nope.cnm" --data gaussian --in 20
expect_error "no model" "required" "$bin" robustness --data gaussian --in 20
expect_error "pgd steps 0" "pgd-steps" "$bin" robustness "${m[@]}" --pgd-steps 0
expect_error "clip on for data outside [0,1]" "outside" "$bin" robustness "${m[@]}" --clip on
expect_error "wrong data" "inputs" "$bin" robustness --model "$tmp/run/model.cnm" --data gaussian --in 30
printf 'garbage, not a model' > "$tmp/junk.cnm"
expect_error "corrupt checkpoint" "bad magic" "$bin" robustness --model "$tmp/junk.cnm" --data gaussian --in 20
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
