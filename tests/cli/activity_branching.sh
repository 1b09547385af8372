#!/usr/bin/env bash
# critnet measure --activity-branching: on random tanh MLPs (sigma_b 0, critical sigma_w 1) ordered (0.6),
# critical (1.0) and chaotic (2.0), m and its CI are finite and ordered (lo <= hi); r_k in the JSON is the pooled
# regression recomputed with numpy from --ab-csv's counts, and m the fit of b m^k to them (scipy); m peaks at the
# critical point (larger there than on either side: the relaxation of the activity slows down there); whether m is
# larger for the chaotic net than for the ordered one is printed, not asserted (it is not: docs/avalanches.md).
# Argument errors exit 2 with no output; and the short mode of experiments/avalanches/activity_branching.sh.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
src=${CRITNET_SRC:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

net=(--arch mlp --width 128 --depth 30 --act tanh --init normal --sigma-b 0 --data gaussian --in 128 --samples 100
     --spectrum 0 --seed 2)
for sw in 0.6 1.0 2.0; do
    "$bin" measure "${net[@]}" --sigma-w $sw --activity-branching --ab-bootstrap 100 --json "$tmp/m$sw.json" \
        --ab-csv "$tmp/c$sw.csv" --quiet 2>"$tmp/err" && ok || bad "sigma_w $sw exited $?: $(cat "$tmp/err")"
done
$py - "$tmp" <<'PY' && ok || bad "the JSON's numbers"
import csv, json, math, sys
import numpy as np
from scipy.optimize import curve_fit
t = sys.argv[1]
m = {}
for sw in ("0.6", "1.0", "2.0"):
    a = json.load(open(f"{t}/m{sw}.json"))["activity_branching"]
    c = np.array([[float(v) for v in r[1:]] for r in list(csv.reader(open(f"{t}/c{sw}.csv")))[1:]])
    assert c.shape == (100, 30) == (a["inputs"], a["blocks"]), c.shape
    assert np.allclose(c.mean(0), a["mean_count"], rtol=1e-12), sw
    d = c - c.mean(0)
    r = [np.sum(d[:, :-k] * d[:, k:]) / np.sum(d[:, :-k] ** 2) for k in range(1, a["kmax"] + 1)]
    assert np.allclose(r, a["r_k"], atol=1e-9), (sw, r, a["r_k"])
    (b, mm), _ = curve_fit(lambda k, b, m: b * m ** k, np.arange(1, a["kmax"] + 1), r, p0=(a["b"], a["m"]))
    assert abs(mm - a["m"]) < 1e-5 and abs(b - a["b"]) < 1e-5, (sw, mm, a["m"], b, a["b"])
    lo, hi = a["m_ci"]
    assert all(v is not None and math.isfinite(v) for v in (a["m"], lo, hi, a["m_naive"], a["sigma"])), a
    assert lo <= hi and a["replicates"] >= 50, a
    m[sw] = a["m"]
    print(f"sigma_w {sw}: m {a['m']:.4f} [{lo:.4f}, {hi:.4f}], naive {a['m_naive']:.4f}, Jacobian sigma {a['sigma']:.4f}")
assert m["1.0"] > m["0.6"] and m["1.0"] > m["2.0"], m
print("m larger for the chaotic net (2.0) than for the ordered one (0.6):", m["2.0"] > m["0.6"])
PY
# a rerun gives the same file
"$bin" measure "${net[@]}" --sigma-w 1.0 --activity-branching --ab-bootstrap 100 --json "$tmp/again.json" --quiet \
    2>/dev/null && $py -c "
import json,sys; a,b=(json.load(open(f))['activity_branching'] for f in sys.argv[1:]); assert a==b" \
    "$tmp/m1.0.json" "$tmp/again.json" && ok || bad "a rerun differs"

expect_refused() {
    local what=$1; shift
    rm -f "$tmp/x.json"
    "$bin" measure "${net[@]}" --sigma-w 1 --json "$tmp/x.json" --quiet "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne 0 ] && [ ! -e "$tmp/x.json" ] && grep -q -- "$what" "$tmp/err"; then ok
    else bad "$* : exit $rc, message '$(cat "$tmp/err")'"; fi
}
expect_refused "needs --activity-branching" --ab-kmax 5
expect_refused "needs --activity-branching" --ab-csv "$tmp/x.csv"
expect_refused "give one of them" --activity-branching --ab-threshold 1 --ab-threshold-abs 0.5
expect_refused "ab-kmax" --activity-branching --ab-kmax 1
expect_refused "ab-kmax 29" --activity-branching --ab-kmax 29
expect_refused "ab-threshold" --activity-branching --ab-threshold 0
expect_refused "ab-threshold" --activity-branching --ab-threshold nan
expect_refused "ab-bootstrap" --activity-branching --ab-bootstrap -1
expect_refused "ab-threshold-abs" --activity-branching --ab-threshold-abs inf
# an absolute threshold above every |tanh| leaves no activity: an error, not a number
expect_refused "same activity" --activity-branching --ab-threshold-abs 1.5

CRITNET_BIN=$bin "$src/experiments/avalanches/activity_branching.sh" --short >"$tmp/short.md" 2>"$tmp/err" &&
    grep -q "verdict" "$tmp/short.md" && ok || bad "activity_branching.sh --short: $(cat "$tmp/err")"

echo "activity_branching.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
