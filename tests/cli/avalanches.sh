#!/usr/bin/env bash
# critnet measure --avalanches from the command line: on a random tanh MLP near its critical line, the JSON's
# counts agree with --aval-csv's rows (size and duration recomputed from the per-block counts), its size fit is
# critnet powerlaw --discrete's on the CSV's completed cascades, the four plots are PNGs, and a rerun gives the
# same file; the linear mode from a block; the argument errors (each a message naming the option, a non-zero
# exit, no output); and the short mode of experiments/avalanches/phase.sh.
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

net=(--arch mlp --width 64 --depth 30 --act tanh --init normal --sigma-w 1.2 --sigma-b 0.05 --data gaussian --in 64
     --samples 100 --probes 0 --seed 3)
"$bin" measure "${net[@]}" --avalanches --aval-threshold 2 --json "$tmp/a.json" --aval-csv "$tmp/a.csv" --quiet \
    --plot "$tmp/plots" >"$tmp/a.out" 2>"$tmp/a.err" && ok || bad "measure --avalanches exited $?: $(cat "$tmp/a.err")"
$py - "$tmp/a.json" "$tmp/a.csv" "$tmp/sizes.csv" <<'PY' && ok || bad "JSON and CSV disagree"
import csv, json, sys
a = json.load(open(sys.argv[1]))["avalanches"]
rows = list(csv.DictReader(open(sys.argv[2])))
L = a["blocks"]
assert len(rows) == a["cascades"] == 1000 and a["first_block"] == 0 and L == 30, (len(rows), a["cascades"], L)
done = 0
with open(sys.argv[3], "w") as f:
    f.write("size\n")
    for r in rows:
        c = [int(r["block_%d" % l]) for l in range(L)]
        T = next((t for t, v in enumerate(c) if v == 0), L)
        assert int(r["duration"]) == T and int(r["size"]) == sum(c[:T]), r
        assert int(r["complete"]) == (0 < T < L), r
        if 0 < T < L:
            done += 1
            f.write("%d\n" % sum(c[:T]))
assert done == a["completed"] and a["empty"] + a["completed"] + a["truncated"] == a["cascades"], a
assert a["size"]["alpha"] is not None and a["crackling"]["T"], a
print("cascades %d: %d completed; alpha_S %.3f above %g; gamma %s, predicted %s" % (
    a["cascades"], done, a["size"]["alpha"], a["size"]["xmin"], a["crackling"]["gamma"], a["crackling"]["gamma_pred"]))
PY
# the size fit is critnet powerlaw's on the same values
"$bin" powerlaw --csv "$tmp/sizes.csv" --discrete --json "$tmp/pl.json" >/dev/null 2>"$tmp/pl.err" ||
    bad "powerlaw on the exported sizes: $(cat "$tmp/pl.err")"
$py - "$tmp/a.json" "$tmp/pl.json" <<'PY' && ok || bad "measure's size fit differs from critnet powerlaw's"
import json, sys
a = json.load(open(sys.argv[1]))["avalanches"]["size"]
p = json.load(open(sys.argv[2]))["fit"]
assert a["alpha"] == p["alpha"] and a["xmin"] == p["xmin"] and a["n_tail"] == p["n_tail"], (a, p)
PY
for f in sizes durations crackling shapes; do
    [ "$(head -c 4 "$tmp/plots/avalanche_$f.png" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ] && ok ||
        bad "no avalanche_$f.png"
done
# the text summary, and a rerun with the same seed: the same JSON
"$bin" measure "${net[@]}" --avalanches --aval-threshold 2 --json "$tmp/b.json" >"$tmp/b.out" 2>&1
grep -q "^  crackling   <S>(T) ~ T^gamma: gamma" "$tmp/b.out" && grep -q "^  sizes       alpha" "$tmp/b.out" && ok ||
    bad "the text summary: $(cat "$tmp/b.out")"
$py -c "import json,sys; a,b=(json.load(open(f))['avalanches'] for f in sys.argv[1:]); assert a==b" "$tmp/a.json" "$tmp/b.json" &&
    ok || bad "a rerun with the same seed differs"

# the linear mode from a unit of block 4: blocks 5.. carry the cascade
"$bin" measure "${net[@]}" --avalanches --aval-mode linear --aval-site 4 --aval-threshold-abs 1e-3 --quiet --json "$tmp/l.json" \
    >/dev/null 2>"$tmp/l.err" && ok || bad "linear from block 4: $(cat "$tmp/l.err")"
$py - "$tmp/l.json" <<'PY' && ok || bad "linear mode from block 4"
import json, sys
a = json.load(open(sys.argv[1]))["avalanches"]
assert a["first_block"] == 5 and a["blocks"] == 25 and a["settings"]["site"] == 4 and a["threshold"] == 1e-3, a
assert a["calib_rms"] is None and a["settings"]["mode"] == "linear", a
PY

# argument errors: a message with the option, exit status 2 (1 for what only the network can tell), no output
expect_fail() { # what status message args...
    local what=$1 st=$2 msg=$3
    shift 3
    rm -f "$tmp/e.json"
    "$bin" measure "${net[@]}" --quiet --json "$tmp/e.json" "$@" >"$tmp/e.out" 2>"$tmp/e.err"
    local rc=$?
    if [ $rc = "$st" ] && grep -qF -- "$msg" "$tmp/e.err" && [ ! -e "$tmp/e.json" ]; then ok; else
        bad "$what: exit $rc (want $st), stderr '$(cat "$tmp/e.err")'"; fi
}
expect_fail "--aval-trials 0" 2 "--aval-trials 0" --avalanches --aval-trials 0
expect_fail "--aval-trials x" 2 "--aval-trials x" --avalanches --aval-trials x
expect_fail "--aval-eps 0" 2 "--aval-eps 0" --avalanches --aval-eps 0
expect_fail "--aval-eps nan" 2 "--aval-eps nan" --avalanches --aval-eps nan
expect_fail "--aval-threshold -1" 2 "--aval-threshold -1" --avalanches --aval-threshold -1
expect_fail "--aval-mode exact" 2 "--aval-mode exact: expected finite or linear" --avalanches --aval-mode exact
expect_fail "--aval-site x" 2 "--aval-site x" --avalanches --aval-site x --aval-mode linear
expect_fail "--aval-trials without --avalanches" 2 "--aval-trials needs --avalanches" --aval-trials 5
expect_fail "--aval-csv without --avalanches" 2 "--aval-csv needs --avalanches" --aval-csv "$tmp/x.csv"
expect_fail "both thresholds" 2 "give one of them" --avalanches --aval-threshold 2 --aval-threshold-abs 0.1
expect_fail "a site in the finite mode" 2 "--aval-site 3 needs --aval-mode linear" --avalanches --aval-site 3
expect_fail "a site past the blocks" 1 "site block 40: the network has 30 measured blocks" --avalanches \
    --aval-site 40 --aval-mode linear
expect_fail "--aval-min-count 0" 2 "--aval-min-count 0" --avalanches --aval-min-count 0
[ ! -e "$tmp/x.csv" ] && ok || bad "an --aval-csv file written after an error"

# the short mode of the experiment: its tables
out=$(bash "$src/experiments/avalanches/phase.sh" --short 2>&1) && ok || bad "phase.sh --short exited non-zero: $out"
grep -q "^| 0.05 | 2 | 1.123 |" <<<"$out" && ok || bad "phase.sh --short: no summary row: $out"
[ "$(grep -c '^| [0-9.]* | [-+]' <<<"$out")" = 3 ] && ok || bad "phase.sh --short: not 3 sigma_w rows: $out"

echo "avalanches.sh: $pass passed, $fail failed"
[ $fail = 0 ]
