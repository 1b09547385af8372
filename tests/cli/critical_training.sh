#!/usr/bin/env bash
# critnet train with the criticality regulariser: it runs, records R, sigma and lambda_0 per epoch, resumes
# bit-identically, and rejects bad settings with a message (never a crash).
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
run=(--data gaussian --in 12 --classes 3 --arch mlp --width 16 --depth 4 --act tanh --init normal --sigma-w 2.5
     --epochs 3 --threads 1 --crit-weight 0.5 --crit-probes 2 --quiet)
"$bin" train "${run[@]}" --out "$tmp/a" && ok || bad "critical training run"
head -1 "$tmp/a/metrics.csv" | grep -q '^epoch,train_loss,train_acc,test_loss,test_acc,sigma,lambda0,crit_reg,seconds$' \
    && ok || bad "metrics.csv header: $(head -1 "$tmp/a/metrics.csv")"
awk -F, 'NR > 1 && ($6 == "nan" || $7 == "nan" || $8 == "nan" || $8 <= 0) { exit 1 }' "$tmp/a/metrics.csv" \
    && ok || bad "sigma, lambda0 or R missing: $(cat "$tmp/a/metrics.csv")"
"$bin" train "${run[@]}" --stop-after 1 --out "$tmp/b" && "$bin" train --resume "$tmp/b" --quiet && ok || bad "stop and resume"
cmp -s "$tmp/a/model.cnm" "$tmp/b/model.cnm" && ok || bad "resumed critical training is not bit-identical"

expect_error() { # what pattern args...
    local what=$1 pat=$2; shift 2
    out=$("$bin" train "$@" --out "$tmp/err" 2>&1); rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pat" <<<"$out"; then ok; else bad "$what: rc=$rc $out"; fi
}
expect_error "negative weight" "crit-weight" --data gaussian --in 4 --crit-weight -1
expect_error "unknown target" "crit-target" --data gaussian --in 4 --crit-weight 1 --crit-target entropy
expect_error "probes < 1" "crit-probes" --data gaussian --in 4 --crit-weight 1 --crit-probes 0
expect_error "every < 1" "crit-every" --data gaussian --in 4 --crit-weight 1 --crit-every 0
expect_error "unsupported layer" "batchnorm" --data gaussian --in 4 --norm batch --crit-weight 1 --epochs 1
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
