#!/usr/bin/env bash
# critnet stats on a hand-made CSV (2 groups, 3 conditions of which 2 are baselines, 6 seeds): every printed
# mean ± sd against awk's, Wilcoxon p-values against exact values worked out by hand (2/64, 1, 2/32), the
# normal approximation where a difference is zero, pairing by column and by order, --json/--md/--plot, a
# reproducible bootstrap, and the error paths (each a message naming the file, a non-zero exit, no output).
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# mlp, acc: crit - plain = +.01 .. +.06, all positive: exact two-sided p = 2 / 2^6 = 0.03125.
#           crit - l2 = +.01 +.02 +.03 +.04 -.05 -.06: W+ = 1+2+3+4 = 10 of 21; P(W+ <= 10) = 32/64, so p = 1.
# mlp, loss: plain seed 3 is nan: 5 pairs, all crit - plain < 0, so p = 2 / 2^5 = 0.0625, "1 missing".
# cnn, acc: crit - plain is 0 at seed 1, so the normal approximation: 5 nonzero differences, all positive,
#           z = (0 - 7.5) / sqrt(5*6*11/24), p = erfc(|z| / sqrt 2); crit seed 7 has no partner: "1 unpaired".
cat >"$tmp/runs.csv" <<'EOF'
seed,arch,method,acc,loss
1,mlp,plain,0.80,0.50
1,mlp,crit,0.81,0.40
1,mlp,l2,0.80,0.45
1,cnn,plain,0.90,0.30
1,cnn,crit,0.90,0.20
1,cnn,l2,0.89,0.31
2,mlp,plain,0.81,0.48
2,mlp,crit,0.83,0.39
2,mlp,l2,0.81,0.44
2,cnn,plain,0.91,0.29
2,cnn,crit,0.92,0.21
2,cnn,l2,0.90,0.30
3,mlp,plain,0.82,nan
3,mlp,crit,0.85,0.38
3,mlp,l2,0.82,0.43
3,cnn,plain,0.92,0.28
3,cnn,crit,0.94,0.22
3,cnn,l2,0.91,0.29
4,mlp,plain,0.83,0.46
4,mlp,crit,0.87,0.37
4,mlp,l2,0.83,0.42
4,cnn,plain,0.93,0.27
4,cnn,crit,0.96,0.23
4,cnn,l2,0.92,0.28
5,mlp,plain,0.84,0.45
5,mlp,crit,0.89,0.36
5,mlp,l2,0.94,0.41
5,cnn,plain,0.94,0.26
5,cnn,crit,0.98,0.24
5,cnn,l2,0.93,0.27
6,mlp,plain,0.85,0.44
6,mlp,crit,0.91,0.35
6,mlp,l2,0.97,0.40
6,cnn,plain,0.95,0.25
6,cnn,crit,1.00,0.25
6,cnn,l2,0.94,0.26
7,cnn,crit,0.99,0.19
EOF
args=(--csv "$tmp/runs.csv" --condition method --group arch --pair seed --metrics acc,loss --baselines plain,l2)

"$bin" stats "${args[@]}" --md "$tmp/r.md" --json "$tmp/r.json" --plot "$tmp/plots" >"$tmp/out" 2>"$tmp/err" &&
    ok || bad "stats exited $?: $(cat "$tmp/err")"
cmp -s "$tmp/out" "$tmp/r.md" && ok || bad "--md differs from what was printed"

# every "mean ± sd" cell against awk's two-pass mean and n-1 sd of the CSV, nan skipped (4 digits: rel 1e-3)
awk -F, 'NR > 1 { for (j = 4; j <= 5; j++) if ($j != "nan") { k = $2 " " $3 " " j - 3; n[k]++; v[k, n[k]] = $j; s[k] += $j } }
    END { for (k in n) { m = s[k] / n[k]; q = 0; for (i = 1; i <= n[k]; i++) q += (v[k, i] - m) ^ 2
          printf "%s %d %.10g %.10g\n", k, n[k], m, sqrt(q / (n[k] - 1)) } }' "$tmp/runs.csv" | sort >"$tmp/want"
awk -F'|' '/±/ && $2 !~ /arch/ { for (j = 5; j <= 6; j++) { g = $2; c = $3; gsub(/ /, "", g); gsub(/ /, "", c)
    n = $4 + 0; if (match($j, /n=[0-9]+/)) n = substr($j, RSTART + 2, RLENGTH - 2) + 0
    split($j, w, "±"); split(w[2], sd, " "); printf "%s %s %d %d %s %s\n", g, c, j - 4, n, w[1] + 0, sd[1] + 0 } }' \
    "$tmp/out" | sort >"$tmp/got"
checked=$(join <(awk '{ print $1 "_" $2 "_" $3, $4, $5, $6 }' "$tmp/want") \
               <(awk '{ print $1 "_" $2 "_" $3, $4, $5, $6 }' "$tmp/got") |
    awk 'function rel(a, b) { d = a - b; if (d < 0) d = -d; return d <= 1e-3 * (b < 0 ? -b : b) + 1e-12 }
         $2 == $5 && rel($6, $3) && rel($7, $4) { good++ } END { print good + 0 }')
[ "$checked" = 12 ] && ok || bad "mean ± sd: $checked of 12 cells match awk; want: $(cat "$tmp/want") got: $(cat "$tmp/got")"

# rows in order of first appearance; the skipped nan is counted
order=$(awk -F'|' '/±/ && $2 !~ /arch/ { gsub(/ /, "", $2); gsub(/ /, "", $3); printf "%s/%s ", $2, $3 }' "$tmp/out")
[ "$order" = "mlp/plain mlp/crit mlp/l2 cnn/plain cnn/crit cnn/l2 " ] && ok || bad "row order: $order"
grep -q "^Skipped 1 missing value (loss: 1)\.$" "$tmp/out" && ok || bad "missing values not reported: $(cat "$tmp/out")"

# the tests table: group, metric, condition, baseline, pairs, left out, median, mean, p, test
row() { awk -F'|' -v w="$1" '{ s = ""; for (i = 2; i < NF; i++) { f = $i; gsub(/^ +| +$/, "", f); s = s f ";" } }
    index(s, w) == 1 { print s }' "$tmp/out"; }
[ "$(row 'mlp;acc;crit;plain;')" = "mlp;acc;crit;plain;6;0;0.035;0.035;0.031;exact;" ] && ok ||
    bad "mlp acc crit vs plain: $(row 'mlp;acc;crit;plain;')"
[ "$(row 'mlp;acc;crit;l2;')" = "mlp;acc;crit;l2;6;0;0.015;-0.001667;1;exact;" ] && ok ||
    bad "mlp acc crit vs l2: $(row 'mlp;acc;crit;l2;')"
[ "$(row 'mlp;loss;crit;plain;')" = "mlp;loss;crit;plain;5;1 missing;-0.09;-0.092;0.062;exact;" ] && ok ||
    bad "mlp loss crit vs plain: $(row 'mlp;loss;crit;plain;')"
[ "$(row 'cnn;acc;crit;plain;')" = "cnn;acc;crit;plain;6;1 unpaired;0.025;0.025;0.043;normal approx.;" ] && ok ||
    bad "cnn acc crit vs plain: $(row 'cnn;acc;crit;plain;')"
grep -q "runs paired by the column seed" "$tmp/out" && ok || bad "pairing not stated"

# the JSON: valid, and the p-values to the last bit where they are exact
$py -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/r.json" && ok || bad "--json is not valid JSON"
$py - "$tmp/r.json" <<'PY' && ok || bad "--json content"
import json, math, sys
d = json.load(open(sys.argv[1]))
t = {(x["group"], x["metric"], x["condition"], x["baseline"]): x for x in d["tests"]}
assert len(t) == 8, len(t)
a = t["mlp", "acc", "crit", "plain"]
assert a["p_value"] == 2 / 64 and a["method"] == "exact" and a["pairs"] == 6 and a["w_minus"] == 0, a
b = t["mlp", "acc", "crit", "l2"]
assert b["p_value"] == 1 and b["w_plus"] == 10 and b["w_minus"] == 11, b
c = t["mlp", "loss", "crit", "plain"]
assert c["p_value"] == 2 / 32 and c["pairs"] == 5 and c["missing"] == 1, c
n = t["cnn", "acc", "crit", "plain"]
z = 7.5 / math.sqrt(5 * 6 * 11 / 24)
assert n["method"] == "normal" and n["unpaired"] == 1 and n["nonzero_differences"] == 5, n
assert abs(n["p_value"] - math.erfc(z / math.sqrt(2))) < 1e-12, (n, math.erfc(z / math.sqrt(2)))
s = d["summary"]
assert len(s) == 12, len(s)
for x in s:
    lo, hi = x["ci95"]
    assert lo < x["mean"] < hi, x
assert d["missing"] == {"acc": 0, "loss": 1}, d["missing"]
assert d["bootstrap"]["method"] == "BCa" and d["bootstrap"]["resamples"] == 2000 and d["bootstrap"]["seed"] == 0
assert d["settings"]["argv"][:2] == ["--csv", d["csv"]] and "--baselines" in d["settings"]["argv"], d["settings"]
PY

# the bootstrap is reproducible from --seed, and the seed is used
"$bin" stats "${args[@]}" --json "$tmp/again.json" >/dev/null 2>&1
diff <(grep -A2 ci95 "$tmp/r.json") <(grep -A2 ci95 "$tmp/again.json") >/dev/null && ok || bad "same seed, different intervals"
"$bin" stats "${args[@]}" --seed 7 --json "$tmp/seed7.json" >/dev/null 2>&1
diff <(grep -A2 ci95 "$tmp/r.json") <(grep -A2 ci95 "$tmp/seed7.json") >/dev/null && bad "--seed 7 changed no interval" || ok

# one PNG per metric
for m in acc loss; do
    f="$tmp/plots/$m.png"
    [ "$(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ] && [ "$(wc -c <"$f")" -gt 1000 ] && ok ||
        bad "plot $m.png missing or not a PNG"
done

# pairing: b's rows in reverse seed order. By seed, b - a = +1 .. +6 (p = 2/64); by order, not.
printf 'seed,cond,y\n1,a,1\n2,a,2\n3,a,3\n4,a,4\n5,a,5\n6,a,6\n6,b,12\n5,b,10\n4,b,8\n3,b,6\n2,b,4\n1,b,2\n' >"$tmp/pair.csv"
"$bin" stats --csv "$tmp/pair.csv" --condition cond --pair seed --metrics y --baselines a --json "$tmp/p.json" >/dev/null &&
    $py -c 'import json,sys; assert json.load(open(sys.argv[1]))["tests"][0]["p_value"] == 2 / 64' "$tmp/p.json" &&
    ok || bad "--pair seed did not pair by seed"
out=$("$bin" stats --csv "$tmp/pair.csv" --condition cond --metrics y --baselines a --json "$tmp/o.json" 2>&1)
grep -q "no --pair given: runs paired by their order" <<<"$out" &&
    $py -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["tests"][0]["p_value"] != 2 / 64 and d["pair"] is None' \
        "$tmp/o.json" && ok || bad "pairing by order: $out"

# errors: a message naming the file (and line), exit 1 or 2, and nothing written
fails() { # want-in-message, then the arguments
    local want=$1
    shift
    rm -f "$tmp/e.json" "$tmp/e.md"
    "$bin" stats "$@" --json "$tmp/e.json" --md "$tmp/e.md" >"$tmp/eout" 2>"$tmp/eerr"
    local rc=$?
    # exit 1 (bad input) or 2 (usage): a sanitizer's report on an error path must not pass for the error
    if [ "$rc" != 1 ] && [ "$rc" != 2 ] || ! grep -qF -- "$want" "$tmp/eerr" || grep -qE "Sanitizer|runtime error" "$tmp/eerr" ||
        [ -s "$tmp/eout" ] || [ -e "$tmp/e.json" ] || [ -e "$tmp/e.md" ]; then
        bad "'$*': exit $rc, stderr '$(cat "$tmp/eerr")', want '$want' and no output"
    else
        ok
    fi
}
fails "runs.csv has no column 'methd'" --csv "$tmp/runs.csv" --condition methd --metrics acc
fails "runs.csv has no column 'los'" --csv "$tmp/runs.csv" --condition method --metrics acc,los
fails "runs.csv has no column 'ach'" --csv "$tmp/runs.csv" --condition method --group ach --metrics acc
fails "has method 'l3'" --csv "$tmp/runs.csv" --condition method --metrics acc --baselines plain,l3
printf 'seed,cond,y\n1,a,0.5\n2,a,0.4\n3,a,zero\n' >"$tmp/bad.csv"
fails "bad.csv:4: column 'y': 'zero' is not a number" --csv "$tmp/bad.csv" --condition cond --metrics y
fails "nosuch.csv: cannot open" --csv "$tmp/nosuch.csv" --condition cond --metrics y
printf 'seed,cond,y\n1,"a",0.5\n' >"$tmp/quoted.csv"
fails "quoted.csv:2: field 2 is quoted" --csv "$tmp/quoted.csv" --condition cond --metrics y
printf 'seed,cond,y\n1,a,0.5\n2,a\n' >"$tmp/short.csv"
fails "short.csv:3: 2 fields where the header has 3" --csv "$tmp/short.csv" --condition cond --metrics y
: >"$tmp/empty.csv"
fails "empty.csv: empty file" --csv "$tmp/empty.csv" --condition cond --metrics y
fails "--metrics M1,M2,... is required" --csv "$tmp/runs.csv" --condition method
# a 230 KB table of 5,000 columns and 200,000 blank lines: the cells are sized from the file's commas, not its
# lines times the header's width (8 GB, refused as "out of memory" under this 2 GB limit). The limit is left
# out under ASan, which reserves terabytes of address space.
$py -c 'import sys; sys.stdout.write(",".join("c%d" % i for i in range(5000)) + "\n" * 200000 + "1,2\n")' >"$tmp/wide.csv"
if [ -n "${CN_TEST_CFLAGS:-}" ]; then
    fails "wide.csv:200001: 2 fields where the header has 5000" --csv "$tmp/wide.csv" --condition c0 --metrics c1
else
    before=$fail
    (ulimit -v 2000000 && fails "wide.csv:200001: 2 fields where the header has 5000" --csv "$tmp/wide.csv" \
        --condition c0 --metrics c1 && [ "$fail" = "$before" ]) || bad "the wide table under a 2 GB limit"
fi

echo "stats: $pass passed, $fail failed"
[ "$fail" = 0 ]
