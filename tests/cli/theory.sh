#!/usr/bin/env bash
# critnet theory: the printed mean-field numbers against closed forms (relu chi1 = sigma_w^2/2, the tanh
# critical point sigma_w = 1 at sigma_b = 0), valid JSON and CSV, and a clear exit 2 for a bad activation.
set -uo pipefail
: "${CRITNET_BIN:?}"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# value of a "  key  value" line of the text output
field() { awk -v k="$1" '$1 == k { print $2; exit }'; }
# |a - b| < tol
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < t) }'; }

# relu, sigma_w 2: chi1 = 2, lambda_0 = ln(2)/2, chaotic
out=$("$CRITNET_BIN" theory --act relu --sigma-w 2 2>&1) || bad "relu exited $?"
chi1=$(field chi1 <<<"$out")
near "$chi1" 2 1e-9 && ok || bad "relu sigma_w 2: chi1 '$chi1', want 2"
lam=$(field lambda_0 <<<"$out")
near "$lam" 0.34657359028 1e-9 && ok || bad "relu sigma_w 2: lambda_0 '$lam', want ln(2)/2"
grep -q "phase *chaotic" <<<"$out" && ok || bad "relu sigma_w 2: phase not chaotic: $out"

# relu, sigma_w 1, sigma_b 0.3: chi1 = 0.5, q* = sigma_b^2 / (1 - 1/2) = 0.18, ordered
out=$("$CRITNET_BIN" theory --act relu --sigma-w 1 --sigma-b 0.3 2>&1) || bad "relu (1, 0.3) exited $?"
near "$(field chi1 <<<"$out")" 0.5 1e-9 && ok || bad "relu (1, 0.3): chi1, want 0.5: $out"
near "$(field 'q*' <<<"$out")" 0.18 1e-9 && ok || bad "relu (1, 0.3): q*, want 0.18: $out"
grep -q "phase *ordered" <<<"$out" && ok || bad "relu (1, 0.3): phase not ordered"

# tanh, sigma_b 0, sigma_w 0.5: q* = 0 and chi1 = sigma_w^2 tanh'(0)^2 = 0.25
out=$("$CRITNET_BIN" theory --act tanh --sigma-w 0.5 2>&1) || bad "tanh 0.5 exited $?"
near "$(field chi1 <<<"$out")" 0.25 1e-9 && ok || bad "tanh sigma_w 0.5: chi1, want 0.25: $out"
near "$(field 'q*' <<<"$out")" 0 1e-12 && ok || bad "tanh sigma_w 0.5: q*, want 0: $out"

# tanh, sigma_w 1.5, sigma_b 0.3: chaotic (chi1 > 1), lambda_0 = 0.5 ln chi1
out=$("$CRITNET_BIN" theory --act tanh --sigma-w 1.5 --sigma-b 0.3 2>&1) || bad "tanh (1.5, 0.3) exited $?"
chi1=$(field chi1 <<<"$out")
lam=$(field lambda_0 <<<"$out")
awk -v c="$chi1" -v l="$lam" 'BEGIN { d = 0.5 * log(c) - l; exit !(c > 1 && d < 1e-9 && d > -1e-9) }' && ok ||
    bad "tanh (1.5, 0.3): chi1 '$chi1', lambda_0 '$lam'"

# --json is valid JSON and carries the numbers
"$CRITNET_BIN" theory --act tanh --sigma-w 2.5 --json >"$tmp/p.json" 2>&1 || bad "--json exited $?"
/usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' <"$tmp/p.json" && ok || bad "--json: not JSON: $(cat "$tmp/p.json")"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["act"] == "tanh" and d["sigma_w"] == 2.5 and d["converged"] is True, d
assert d["chi1"] > 1 and abs(d["lambda_pred"] - 0.5 * __import__("math").log(d["chi1"])) < 1e-12, d
assert d["phase"] == "chaotic", d' "$tmp/p.json" 2>/dev/null && ok || bad "--json fields: $(cat "$tmp/p.json")"
# infinities (relu sigma_w 2 diverges) must still be JSON
"$CRITNET_BIN" theory --act relu --sigma-w 2 --json | /usr/bin/python3 -c 'import json,sys; d = json.load(sys.stdin); assert d["q_star"] is None' &&
    ok || bad "--json with q* = inf is not valid JSON with q_star null"

# --sweep: a table with N rows, --csv with a header and N rows, --json with N points
out=$("$CRITNET_BIN" theory --act relu --sweep 1:2:5 --csv "$tmp/s.csv" 2>&1) || bad "--sweep exited $?"
rows=$(grep -cE '^ *[0-9.]+ ' <<<"$out")
[ "$rows" = 5 ] && ok || bad "--sweep 1:2:5 printed $rows rows: $out"
/usr/bin/python3 -c '
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
assert len(r) == 5, r
for row in r:
    sw = float(row["sigma_w"])
    assert abs(float(row["chi1"]) - sw * sw / 2) < 1e-9, row' "$tmp/s.csv" && ok || bad "--csv: $(cat "$tmp/s.csv")"
"$CRITNET_BIN" theory --act tanh --sweep 0.5:3:6 --sigma-b 0.05 --json |
    /usr/bin/python3 -c 'import json,sys; d = json.load(sys.stdin); assert len(d["points"]) == 6' && ok ||
    bad "--sweep --json: not 6 points"

# --critical: tanh at sigma_b 0 is critical at sigma_w = 1; relu at sqrt 2
out=$("$CRITNET_BIN" theory --act tanh --critical 2>&1) || bad "--critical exited $?"
grep -q "critical sigma_w 1\.0000" <<<"$out" && ok || bad "tanh --critical: $out"
out=$("$CRITNET_BIN" theory --act relu --sigma-b 0.2 --critical 2>&1) || bad "relu --critical exited $?"
grep -q "critical sigma_w 1\.41421" <<<"$out" && ok || bad "relu --critical: $out"
"$CRITNET_BIN" theory --act tanh --sigma-b 0.3 --critical --json |
    /usr/bin/python3 -c 'import json,sys; d = json.load(sys.stdin); assert abs(d["at_critical"]["chi1"] - 1) < 1e-9, d' &&
    ok || bad "--critical --json"

# unknown activation: exit 2 and a message naming it
"$CRITNET_BIN" theory --act nosuch --sigma-w 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && ok || bad "unknown activation exited $rc, want 2"
grep -q "nosuch.*unknown activation" "$tmp/err" && ok || bad "unknown activation message: $(cat "$tmp/err")"
# a negative sigma_w and a malformed sweep are usage errors too
"$CRITNET_BIN" theory --act tanh --sigma-w -1 >/dev/null 2>&1
[ $? = 2 ] && ok || bad "negative sigma_w not rejected with exit 2"
"$CRITNET_BIN" theory --act tanh --sweep 1:2 >/dev/null 2>&1
[ $? = 2 ] && ok || bad "--sweep 1:2 not rejected with exit 2"

echo "theory: $pass passed, $fail failed"
[ "$fail" = 0 ]
