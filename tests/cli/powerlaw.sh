#!/usr/bin/env bash
# critnet powerlaw and critnet branching from the command line: a continuous power-law sample (alpha 2.5) and a
# discrete one, whose printed and JSON fits must match tests/powerlaw_ref.py (numpy/scipy) on the same file;
# --csv-out's CCDF against the sorted data; a PNG plot; a reproducible bootstrap p-value, the same at 1 and 2
# threads; a subsampled branching process through critnet branching (r_k and m as numpy/scipy compute them on
# the same file, MR m within 0.02 of 0.95, naive r_1 far
# below); and the error paths: each a message naming the file, line or option, a non-zero exit, no output.
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

# the samples: continuous alpha 2.5 above 1 after uniform values in [0.2, 1); discrete alpha 2 above 3 (by
# inversion of the zeta survival function, powerlaw_ref.draw_pl) after uniform integers 1..2
$py - "$tmp" "$src/tests" <<'PY' || bad "python3 with numpy and scipy is needed"
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from powerlaw_ref import draw_pl
d = sys.argv[1]
r = np.random.default_rng(5)
x = np.concatenate([r.uniform(0.2, 1, 500), draw_pl(r, 2000, 2.5, 1.0, False)])
with open(d + "/cont.csv", "w") as f:
    f.write("run,size\n" + "".join("%d,%.17g\n" % (i, v) for i, v in enumerate(x)))
np.savetxt(d + "/cont.txt", x, fmt="%.17g")
y = np.concatenate([r.integers(1, 3, 300), draw_pl(r, 2000, 2.0, 3, True)])
with open(d + "/disc.csv", "w") as f:
    f.write("size\n" + "".join("%d\n" % t for t in y))
np.savetxt(d + "/disc.txt", y, fmt="%d")
PY

check_fit() { # name csv column-args ref-args json
    local name=$1 csv=$2 cargs=$3 rargs=$4
    "$bin" powerlaw --csv "$csv" $cargs --candidates all --json "$tmp/$name.json" --csv-out "$tmp/$name.ccdf.csv" \
        --plot "$tmp/$name.png" >"$tmp/$name.out" 2>"$tmp/$name.err" && ok ||
        { bad "$name: powerlaw exited $?: $(cat "$tmp/$name.err")"; return; }
    $py "$src/tests/powerlaw_ref.py" "$tmp/$name.txt" $rargs >"$tmp/$name.ref" || { bad "$name: reference failed"; return; }
    $py - "$tmp/$name.json" "$tmp/$name.ref" "$tmp/$name.out" <<'PY' && ok || bad "$name: critnet and scipy differ"
import json, sys
c = json.load(open(sys.argv[1]))["fit"]
r = json.loads(open(sys.argv[2]).read())
out = open(sys.argv[3]).read()
assert c["xmin"] == r["xmin"] and c["n_tail"] == r["n_tail"], (c, r)
assert abs(c["alpha"] - r["alpha"]) < 1e-6 and abs(c["ks"] - r["ks"]) < 1e-7, (c, r)
assert abs(c["sigma"] - r["sigma"]) < 1e-4 * r["sigma"], (c, r)
assert "alpha   %.4f +- %.4f" % (c["alpha"], c["sigma"]) in out, out
print("%s: alpha %.6f (scipy %.6f), x_min %g, ks %.5f" % (sys.argv[1].split("/")[-1], c["alpha"], r["alpha"], c["xmin"], c["ks"]))
PY
    [ "$(head -c 4 "$tmp/$name.png" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ] && ok || bad "$name: no PNG"
}
check_fit cont "$tmp/cont.csv" "--column size" ""
check_fit disc "$tmp/disc.csv" "--discrete" "--discrete"

# the CCDF file: one row per distinct value, P(X >= x) = (values >= x) / n, the fit only from x_min up
$py - "$tmp/cont.ccdf.csv" "$tmp/cont.txt" "$tmp/cont.json" <<'PY' && ok || bad "--csv-out content"
import csv, json, sys, numpy as np
rows = list(csv.DictReader(open(sys.argv[1])))
x = np.sort(np.loadtxt(sys.argv[2]))
f = json.load(open(sys.argv[3]))["fit"]
assert len(rows) == len(np.unique(x)), len(rows)
for r in rows[::97]:
    v = float(r["x"])
    assert abs(float(r["ccdf_data"]) - np.mean(x >= v)) < 1e-12, r
    if v < f["xmin"]:
        assert r["ccdf_fit"] == "", r
    else:
        want = f["n_tail"] / len(x) * (v / f["xmin"]) ** (1 - f["alpha"])
        assert abs(float(r["ccdf_fit"]) - want) < 1e-9 * want, (r, want)
PY

# the LR table: four alternatives, the exponential clearly worse than the power law
grep -Eq "^  exponential +[0-9.]+ " "$tmp/cont.out" && ok || bad "LR table: $(cat "$tmp/cont.out")"
[ "$(grep -cE '^  (exponential|lognormal|stretched_exponential|truncated_power_law) ' "$tmp/cont.out")" = 4 ] && ok ||
    bad "LR table rows"

# the bootstrap: reproducible, the same at 1 and 2 threads, different with another seed
for t in 1 2; do
    "$bin" powerlaw --csv "$tmp/cont.csv" --column size --bootstrap 100 --seed 3 --threads $t --json "$tmp/b$t.json" \
        >/dev/null 2>&1 || bad "bootstrap at $t threads failed"
done
p1=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["fit"]["p_value"])' "$tmp/b1.json")
p2=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["fit"]["p_value"])' "$tmp/b2.json")
[ -n "$p1" ] && [ "$p1" = "$p2" ] && ok || bad "bootstrap p $p1 at 1 thread, $p2 at 2"

# critnet branching on a subsampled branching process (m = 0.95, 10% of units seen): r_k and the fit against
# numpy/scipy on the same file, m within 0.02 of the truth, the naive r_1 far below
$py - "$tmp/act.csv" <<'PY'
import sys, numpy as np
r = np.random.default_rng(2)
A, a = 500.0, []
for t in range(30000):
    A = r.poisson(0.95 * A + 25)
    a.append(r.binomial(int(A), 0.1))
open(sys.argv[1], "w").write("step,spikes\n" + "".join("%d,%d\n" % (i, v) for i, v in enumerate(a)))
PY
"$bin" branching --csv "$tmp/act.csv" --column spikes --bootstrap 100 --json "$tmp/br.json" --plot "$tmp/br.png" \
    >"$tmp/br.out" 2>"$tmp/br.err" && ok || bad "branching exited $?: $(cat "$tmp/br.err")"
$py - "$tmp/br.json" "$tmp/act.csv" <<'PY' && ok || bad "branching: $(cat "$tmp/br.out")"
import json, math, sys
import numpy as np
from scipy.optimize import curve_fit
d = json.load(open(sys.argv[1]))
# the same estimator in numpy/scipy: OLS slopes (np.polyfit) and an unweighted least-squares fit of b m^k
a = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)[:, 1]
r = np.array([np.polyfit(a[:-k], a[k:], 1)[0] for k in range(1, 41)])
(b, m), _ = curve_fit(lambda k, b, m: b * m ** k, np.arange(1, 41), r, p0=(r[0], 0.9))
assert np.max(np.abs(r - d["r_k"])) < 1e-9, np.max(np.abs(r - d["r_k"]))
assert abs(m - d["m"]) < 1e-6 and abs(b - d["b"]) < 1e-6, (m, b, d["m"], d["b"])
assert abs(d["m"] - 0.95) < 0.02 and d["m_naive"] < 0.8, d
assert d["m_ci"][0] < d["m"] < d["m_ci"][1] and len(d["r_k"]) == 40 and d["replicates"] == 100, d
assert abs(d["tau"] + 1 / math.log(d["m"])) < 1e-9, d
print("branching: m %.4f [%.4f, %.4f], naive %.4f" % (d["m"], d["m_ci"][0], d["m_ci"][1], d["m_naive"]))
PY
[ "$(head -c 4 "$tmp/br.png" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ] && ok || bad "branching: no PNG"

# errors: non-zero exit, a message naming the problem, no output file
fails() { # expected-status pattern command...
    local want=$1 pat=$2
    shift 2
    rm -f "$tmp/none.json"
    "$@" --json "$tmp/none.json" >"$tmp/e.out" 2>"$tmp/e.err"
    local st=$?
    [ "$st" = "$want" ] && grep -q -- "$pat" "$tmp/e.err" && [ ! -e "$tmp/none.json" ] && ok ||
        bad "$* : exit $st (want $want), stderr '$(cat "$tmp/e.err")' (want /$pat/)"
}
printf 'size\n1\n2\nabc\n4\n' >"$tmp/text.csv"
printf 'size\n1\n2\nnan\n4\n' >"$tmp/nan.csv"
printf 'size\n1\n-2\n3\n' >"$tmp/neg.csv"
printf '1\n2\n3\n' >"$tmp/nohead.csv"
{ echo size; for i in $(seq 1 100); do echo 7; done; } >"$tmp/const.csv"
{ echo size; for i in $(seq 1 30); do echo $i; done; } >"$tmp/few.csv"
fails 1 "text.csv:4: column 'size': 'abc' is not a number" "$bin" powerlaw --csv "$tmp/text.csv"
fails 1 "nan.csv:4: column 'size': the value is missing" "$bin" powerlaw --csv "$tmp/nan.csv"
fails 1 "value 2 is -2: a power law needs positive values" "$bin" powerlaw --csv "$tmp/neg.csv"
fails 1 "looks like data: a header row" "$bin" powerlaw --csv "$tmp/nohead.csv"
fails 1 "all 100 values are 7" "$bin" powerlaw --csv "$tmp/const.csv"
fails 1 "at least 50 are needed" "$bin" powerlaw --csv "$tmp/few.csv"
fails 1 "values at or above x_min = 1e+06" "$bin" powerlaw --csv "$tmp/cont.csv" --column size --xmin 1e6
fails 1 "a discrete fit needs integers" "$bin" powerlaw --csv "$tmp/cont.csv" --column size --discrete
fails 1 "has no column 'area'" "$bin" powerlaw --csv "$tmp/cont.csv" --column area
fails 1 "cannot open" "$bin" powerlaw --csv "$tmp/missing.csv"
fails 2 "\-\-bootstrap -5: expected an integer" "$bin" powerlaw --csv "$tmp/cont.csv" --bootstrap -5
fails 2 "\-\-candidates 1: expected an integer" "$bin" powerlaw --csv "$tmp/cont.csv" --candidates 1
fails 2 "\-\-xmin 2.5: --discrete needs an integer" "$bin" powerlaw --csv "$tmp/disc.csv" --discrete --xmin 2.5
fails 2 "\-\-csv FILE is required" "$bin" powerlaw
fails 2 "unrecognized option" "$bin" powerlaw --csv "$tmp/cont.csv" --alpha 2
fails 1 "the series is constant" "$bin" branching --csv "$tmp/const.csv"
fails 1 "30 time steps; at least kmax + 10" "$bin" branching --csv "$tmp/few.csv"
fails 1 "'abc' is not a number" "$bin" branching --csv "$tmp/text.csv"
fails 1 "each needs >= 4 kmax" "$bin" branching --csv "$tmp/act.csv" --column spikes --bootstrap 10 --blocks 1000
fails 2 "\-\-kmax 1: expected an integer" "$bin" branching --csv "$tmp/act.csv" --kmax 1
fails 2 "\-\-dt 0: expected a number" "$bin" branching --csv "$tmp/act.csv" --dt 0

# the short mode of experiments/avalanches/lr_power.sh (the LR test's power on log-normal data) runs
out=$(CRITNET_BIN=$bin bash "$src/experiments/avalanches/lr_power.sh" --short 2>&1) &&
    grep -q "^| 2000 | e^2 (median) | 2 | " <<<"$out" && ok || bad "lr_power.sh --short: $out"

"$bin" powerlaw --help | grep -q "Clauset, Shalizi & Newman" && ok || bad "powerlaw --help"
"$bin" branching --help | grep -q "Wilting & Priesemann" && ok || bad "branching --help"

echo "cli_powerlaw: $pass passed, $fail failed"
[ "$fail" = 0 ]
