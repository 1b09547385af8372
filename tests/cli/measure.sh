#!/usr/bin/env bash
# critnet measure from the shell: on a checkpoint and on a fresh network, its JSON/CSV/plots, a rerun from
# the recorded settings, and the error paths (each a message and a non-zero exit, never a crash).
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

# a small trained model
"$bin" train --data gaussian --in 20 --classes 3 --arch mlp --width 16 --depth 3 --act tanh --epochs 2 \
    --quiet --out "$tmp/run" || bad "train"
"$bin" measure --model "$tmp/run/model.cnm" --data gaussian --in 20 --classes 3 --samples 200 --spectrum 4 \
    --dynamic-range --dr-points 20 --json "$tmp/m.json" --csv "$tmp/m.csv" --plot "$tmp/plots" --quiet \
    && ok || bad "measure checkpoint"
$py - "$tmp/m.json" <<'PY' && ok || bad "json content"
import json, sys, math
d = json.load(open(sys.argv[1]))
for key in ["sigma", "lambda_max", "lyapunov_spectrum", "local_exponents", "sigma_activity", "dynamic_range",
            "mean_field", "settings", "blocks"]:
    assert key in d, key
assert len(d["lyapunov_spectrum"]) == 4 and len(d["sigma"]["per_layer"]) == 3
assert all(a >= b - 1e-9 for a, b in zip(d["lyapunov_spectrum"], d["lyapunov_spectrum"][1:])), "spectrum sorted"
assert d["mean_field"] is None, "no mean field for a trained checkpoint"
assert len(d["dynamic_range"]["curve"]) == 20 and isinstance(d["dynamic_range"]["saturated"], bool)
assert "phase.md" in d["dynamic_range"]["note"], "Delta carries its caveat"
s = d["settings"]
assert s["samples"] == 200 and s["seed"] == 0 and s["spectrum"] == 4 and s["argv"]
assert 0 < d["sigma"]["value"] < 10 and d["sigma"]["stderr"] > 0
PY
[ "$(head -1 "$tmp/m.csv")" = "block,name,units,sigma,sigma_stderr,abs_ln_sigma,activity,local_exponent_1,local_exponent_2,local_exponent_3,local_exponent_4,delta_db,dr_class" ] \
    && [ "$(wc -l < "$tmp/m.csv")" -eq 4 ] && ok || bad "csv"
for f in sigma_profile spectrum dynamic_range; do
    [ "$(head -c 4 "$tmp/plots/$f.png" | od -An -c | tr -d ' ')" = "211PNG" ] && ok || bad "plot $f.png"
done

# the recorded argv reruns to the same numbers
mapfile -t args < <($py -c 'import json,sys; [print(a) for a in json.load(open(sys.argv[1]))["settings"]["argv"]]' "$tmp/m.json")
"$bin" measure "${args[@]/$tmp\/m.json/$tmp/m2.json}" >/dev/null 2>&1
$py - "$tmp/m.json" "$tmp/m2.json" <<'PY' && ok || bad "rerun from settings differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["sigma"] == b["sigma"] and a["lyapunov_spectrum"] == b["lyapunov_spectrum"]
PY

# a fresh network with a mean-field theory
"$bin" measure --arch mlp --width 64 --depth 8 --act tanh --init normal --sigma-w 1.5 --data gaussian --in 64 \
    --samples 50 --json "$tmp/f.json" --quiet && ok || bad "fresh"
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); m=d["mean_field"]; assert m and m["chi1"] > 1 and m["lambda_pred"] > 0' "$tmp/f.json" \
    && ok || bad "mean field missing"

expect_error() { # description pattern command...
    local what=$1 pat=$2; shift 2
    out=$("$@" 2>&1); rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pat" <<<"$out"; then ok; else bad "$what: rc=$rc out=$out"; fi
}
expect_error "missing checkpoint" "cannot open" "$bin" measure --model "$tmp/nope.cnm" --data gaussian --in 20
head -c 100 "$tmp/run/model.cnm" > "$tmp/trunc.cnm"
expect_error "truncated checkpoint" "trunc.cnm" "$bin" measure --model "$tmp/trunc.cnm" --data gaussian --in 20
printf 'garbage, not a model' > "$tmp/junk.cnm"
expect_error "corrupt checkpoint" "bad magic" "$bin" measure --model "$tmp/junk.cnm" --data gaussian --in 20
expect_error "spectrum too large" "narrowest" "$bin" measure --model "$tmp/run/model.cnm" --data gaussian --in 20 --classes 3 --spectrum 17
expect_error "probes -1" "probes" "$bin" measure --model "$tmp/run/model.cnm" --data gaussian --in 20 --probes -1
expect_error "wrong data" "inputs" "$bin" measure --model "$tmp/run/model.cnm" --data gaussian --in 30
# without --in, Gaussian data takes the model's input size: 20 for the MLP, 3x6x6 = 108 for a conv model (it
# was 784, so `measure --model resnet18.onnx --data gaussian` failed)
for m in "$tmp/run/model.cnm" "$tmp/conv/model.cnm"; do
    if [ "$m" = "$tmp/conv/model.cnm" ]; then
        printf 'input 3 6 6\nconv out=4 k=3 act=tanh\ngap\ndense out=3\n' >"$tmp/conv.model"
        "$bin" train --model-file "$tmp/conv.model" --data gaussian --in 108 --classes 3 --epochs 1 --quiet \
            --out "$tmp/conv" >/dev/null 2>&1 || bad "train the conv model"
    fi
    for cmd in measure eval robustness predict; do
        extra=
        [ "$cmd" = measure ] && extra="--samples 50"
        [ "$cmd" = robustness ] && extra="--samples 20 --eps 0.1 --pgd-steps 2"
        [ "$cmd" = predict ] && extra="--out $tmp/p.npy --limit 10"
        # shellcheck disable=SC2086
        # (and without --classes: the model's 3 outputs)
        if out=$("$bin" $cmd --model "$m" --data gaussian $extra 2>&1); then ok; else
            bad "$cmd --model $m --data gaussian without --in and --classes: $out"
        fi
    done
done
# and an ONNX model's: AveragePool on 1x3x32x32 from the ONNX backend tests (libonnx-testdata)
onnx=/usr/share/libonnx-testdata/data/node/test_averagepool_2d_default/model.onnx
if out=$("$bin" measure --model "$onnx" --data gaussian --samples 4 2>&1) && grep -q "on 4 test inputs of gaussian" <<<"$out"
then ok; else bad "measure --model $onnx --data gaussian without --in: $out"; fi
expect_error "bad layers" "layers" "$bin" measure --arch mlp --data gaussian --in 8 --layers some
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
