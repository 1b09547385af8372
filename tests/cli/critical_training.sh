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
# the lambda target with probes on part of each minibatch: also resumes bit-identically
"$bin" train "${run[@]}" --crit-target lambda --crit-batch 8 --out "$tmp/l" && ok || bad "lambda target run"
"$bin" train "${run[@]}" --crit-target lambda --crit-batch 8 --stop-after 2 --out "$tmp/l2" &&
    "$bin" train --resume "$tmp/l2" --quiet && cmp -s "$tmp/l/model.cnm" "$tmp/l2/model.cnm" && ok ||
    bad "resumed lambda-target training is not bit-identical"
grep -q '"crit_target":[[:space:]]*"lambda"' "$tmp/l/summary.json" && ok || bad "summary.json lacks crit_target lambda"

# the regulariser does what it is for: from a chaotic start (sigma_w = 2.5), the last epoch's tracked
# |ln sigma| (target sigma) and |lambda_0| (target lambda) end below those of plain training on the same data.
# beta = 10: on this tiny net plain training drifts toward criticality too, and at beta = 1 the difference
# was within that drift (|lambda_0| 0.054 vs plain 0.047).
plain=(--data gaussian --in 12 --classes 3 --arch mlp --width 16 --depth 4 --act tanh --init normal --sigma-w 2.5
       --epochs 3 --threads 1 --quiet)
"$bin" train "${plain[@]}" --out "$tmp/p" && ok || bad "plain run"
"$bin" train "${plain[@]}" --crit-weight 10 --out "$tmp/cs" && ok || bad "sigma-target run"
"$bin" train "${plain[@]}" --crit-weight 10 --crit-target lambda --out "$tmp/cl" && ok || bad "lambda-target run"
last() { tail -1 "$1/metrics.csv" | awk -F, -v c="$2" '{ v = c == 6 ? log($c) : $c; print v < 0 ? -v : v }'; }
awk -v p="$(last "$tmp/p" 6)" -v c="$(last "$tmp/cs" 6)" 'BEGIN { exit !(c < p) }' && ok ||
    bad "|ln sigma| after sigma-target training $(last "$tmp/cs" 6) is not below plain $(last "$tmp/p" 6)"
awk -v p="$(last "$tmp/p" 7)" -v c="$(last "$tmp/cl" 7)" 'BEGIN { exit !(c < p) }' && ok ||
    bad "|lambda_0| after lambda-target training $(last "$tmp/cl" 7) is not below plain $(last "$tmp/p" 7)"
echo "plain |ln sigma| $(last "$tmp/p" 6), |lambda_0| $(last "$tmp/p" 7); sigma target |ln sigma| $(last "$tmp/cs" 6);" \
     "lambda target |lambda_0| $(last "$tmp/cl" 7)"

expect_error() { # what pattern args...
    local what=$1 pat=$2; shift 2
    out=$("$bin" train "$@" --out "$tmp/err" 2>&1); rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "$pat" <<<"$out"; then ok; else bad "$what: rc=$rc $out"; fi
}
expect_error "negative weight" "crit-weight" --data gaussian --in 4 --crit-weight -1
expect_error "unknown target" "crit-target" --data gaussian --in 4 --crit-weight 1 --crit-target entropy
expect_error "probes < 1" "crit-probes" --data gaussian --in 4 --crit-weight 1 --crit-probes 0
expect_error "every < 1" "crit-every" --data gaussian --in 4 --crit-weight 1 --crit-every 0
expect_error "crit batch < 1" "crit-batch" --data gaussian --in 4 --crit-weight 1 --crit-batch 0
expect_error "unsupported layer" "batchnorm" --data gaussian --in 4 --norm batch --crit-weight 1 --epochs 1
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
