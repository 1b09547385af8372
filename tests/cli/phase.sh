#!/usr/bin/env bash
# critnet phase: a small grid end to end (CSV, JSON and heatmaps), the mean-field columns against critnet
# theory, bit-identical reruns, clear exit 2 for bad options, and experiments/phase/run.sh --short.
set -uo pipefail
: "${CRITNET_BIN:?}"
: "${CRITNET_SRC:?}"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

args=(--act tanh --sigma-w 0.8:1.6:3 --sigma-b 0.1:0.3:2 --depth 6,8 --width 32 --samples 4 --pairs 4 --dr-points 12 --quiet)
"$CRITNET_BIN" phase "${args[@]}" --out "$tmp/a" || bad "phase exited $?"
"$CRITNET_BIN" phase "${args[@]}" --csv "$tmp/b.csv" || bad "phase (rerun) exited $?"
[ "$(wc -l <"$tmp/a/phase.csv")" = 13 ] && ok || bad "phase.csv: $(wc -l <"$tmp/a/phase.csv") lines, want 13 (header + 12 points)"
cmp -s "$tmp/a/phase.csv" "$tmp/b.csv" && ok || bad "a rerun with the same seed gave a different CSV"
for f in ln_sigma lambda0 delta xi xi_c; do
    for d in 6 8; do [ -s "$tmp/a/${f}_d$d.png" ] && ok || bad "no heatmap ${f}_d$d.png"; done
done
[ -s "$tmp/a/delta_vs_sigma_w_d6.png" ] && ok || bad "no delta_vs_sigma_w_d6.png"
# the JSON: 12 points, the mean field where it applies, and chi1 and the critical sigma_w as critnet theory has them
/usr/bin/python3 - "$tmp/a/phase.json" "$CRITNET_BIN" <<'PY' && ok || bad "phase.json does not hold what it should"
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
pts = d["points"]
assert len(pts) == 12 and d["settings"]["act"] == "tanh", d["settings"]
for p in pts:
    t = json.loads(subprocess.run([sys.argv[2], "theory", "--act", "tanh", "--sigma-w", str(p["sigma_w"]),
                                   "--sigma-b", str(p["sigma_b"]), "--q0", str(p["input_q"]), "--json"],
                                  capture_output=True, check=True).stdout)
    assert abs(p["mean_field"]["chi1"] - t["chi1"]) < 1e-9 * t["chi1"], (p, t)
    c = json.loads(subprocess.run([sys.argv[2], "theory", "--act", "tanh", "--sigma-b", str(p["sigma_b"]),
                                   "--critical", "--json"], capture_output=True, check=True).stdout)
    assert abs(p["sigma_w_critical"] - c["sigma_w_critical"]) < 1e-7, (p, c)
    assert p["dynamic_range"] is None or "saturated" in p["dynamic_range"], p
    # the sign of lambda_0 follows the phase away from the line (20% off it)
    if p["mean_field"]["chi1"] < 0.8: assert p["lambda0"] < 0, p
PY
# Delta's curves cut off by the stimulus grid: left out of delta_db (and the heatmap), kept in delta_db_raw and
# dr_class, and counted in the printed summary, which also carries the caution; the per-block distance beside
# |ln sigma|. A grid of [1e-2, 1e0] cuts most curves off.
"$CRITNET_BIN" phase --act tanh --sigma-w 0.8:1.6:3 --depth 6 --width 32 --samples 4 --pairs 0 --dr-points 12 \
    --dr-smin 1e-2 --dr-smax 1 --csv "$tmp/cut.csv" --response driven >"$tmp/cut.txt" 2>/dev/null || bad "phase (cut grid) exited $?"
/usr/bin/python3 - "$tmp/cut.csv" "$tmp/cut.txt" <<'PY' && ok || bad "cut-off curves: not left out and counted as they should"
import csv, math, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
text = open(sys.argv[2]).read()
assert len(rows) == 3
for r in rows:
    assert r["dr_class"] in ("ok", "truncated-low", "truncated-high", "truncated-both", "no-rise"), r
    assert (r["dr_class"] == "ok") == math.isfinite(float(r["delta_db"])), r
    assert r["dr_class"] == "no-rise" or math.isfinite(float(r["delta_db_raw"])), r
    assert float(r["mean_abs_ln_sigma_block"]) >= float(r["abs_ln_sigma"]) - 1e-6, r
m = re.search(r"Delta: (\d+) of 3 curves left out", text)
assert m and int(m.group(1)) == sum(r["dr_class"] != "ok" for r in rows) > 0, text
assert "\ncaution: no Delta response" in text, text
PY

# CNN and residual networks run (no mean field: null)
"$CRITNET_BIN" phase --arch cnn --width 4 --depth 2 --sigma-w 1 --sigma-b 0.1 --samples 2 --pairs 2 --dr-points 6 --quiet --json "$tmp/c.json" || bad "cnn exited $?"
/usr/bin/python3 -c 'import json,sys; p = json.load(open(sys.argv[1]))["points"][0]; assert p["mean_field"] is None and p["lambda0"] is not None, p' "$tmp/c.json" && ok || bad "cnn point"
# bad options: exit 2 with a message naming the option
for opt in "--sigma-w 1:0:3" "--sigma-b x" "--depth 0" "--act nope" "--arch transformer" "--c0 1" "--inputs fixed-point --arch cnn" "--frobnicate"; do
    # shellcheck disable=SC2086
    err=$("$CRITNET_BIN" phase $opt --quiet 2>&1 >/dev/null)
    rc=$?
    name=${opt%% *}
    [ "$rc" = 2 ] && grep -q -- "${name#--}" <<<"$err" && ok || bad "'$opt': exit $rc, message '$err'"
done
# the experiment's short mode: its table, and nothing written under docs/phase
docs_before=$({ ls -l --time-style=full-iso -R "$CRITNET_SRC/docs/phase" 2>/dev/null || true; } | md5sum)
out=$(bash "$CRITNET_SRC/experiments/phase/run.sh" --short 2>&1) || bad "experiments/phase/run.sh --short exited non-zero: $out"
echo "$out"
grep -q "| tv |" <<<"$out" && ok || bad "run.sh --short: no row for the tv response"
[ "$({ ls -l --time-style=full-iso -R "$CRITNET_SRC/docs/phase" 2>/dev/null || true; } | md5sum)" = "$docs_before" ] && ok || bad "run.sh --short wrote under docs/phase"
# the driven Delta's experiment, short: its table, and nothing written under docs/phase
out=$(bash "$CRITNET_SRC/experiments/phase/driven.sh" --short 2>&1) || bad "experiments/phase/driven.sh --short exited non-zero: $out"
grep -q "| driven | 8 | 0.3 |" <<<"$out" && grep -q "^driven: Delta (complete curves) peaks within 10%" <<<"$out" && ok ||
    bad "driven.sh --short: no table: $out"
[ "$({ ls -l --time-style=full-iso -R "$CRITNET_SRC/docs/phase" 2>/dev/null || true; } | md5sum)" = "$docs_before" ] && ok || bad "driven.sh --short wrote under docs/phase"
echo "phase: $pass passed, $fail failed"
[ $fail -eq 0 ]
