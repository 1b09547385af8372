#!/usr/bin/env bash
# zoo_report.sh: critnet zoo-report on a hand-made zoo.csv with the real header (18 rows over 4 families: 15 ok, one
# of them without Delta and three whose Delta curve was cut off by the stimulus grid (left out and counted), a diverged and a failed model, and an earlier failed row of an id that ran again). Every
# number of stats.json against scipy.stats (spearmanr, pearsonr, mannwhitneyu on the groups of the documented
# median rule) and statsmodels' MixedLM (REML), each measure computed from the right column; the bootstrap
# interval replayed exactly (GSL's MT19937 is numpy's MT19937 under legacy seeding) at the defaults and at other
# --seed/--resamples/--level; the printed report equals stats.md; the four PNGs are PNGs; a zoo.csv of an older critnet (without the truncation and per-block columns); and the error paths
# (a message naming the file, exit 1 or 2, nothing written). A few seconds.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# zoo.csv's header as cli/zoo/zoo_table.c writes it
header=id,family,era,arch,depth,width,blocks,params,act,norm,dropout,init,sigma_w,sigma_b,optim,lr,momentum,weight_decay,sched,epochs,batch,limit_train,seed,status,test_accuracy,test_loss,sigma,sigma_se,lambda0,lambda0_se,sigma_act,delta,delta_saturated,delta_truncated_low,mean_abs_ln_sigma_block,train_seconds,measure_seconds,data,threads,measure_inputs,message,settings

# ---------------------------------------------------------------- the synthetic zoo
mkdir -p "$tmp/z"
$py - "$tmp/z/zoo.csv" "$header" <<'EOF'
import sys
import numpy as np
path, header = sys.argv[1], sys.argv[2]
cols = header.split(",")
rng = np.random.default_rng(7)
fams = ["mlp-tanh"] * 5 + ["cnn"] * 4 + ["resmlp"] * 3 + ["meanfield-relu"] * 3
offset = {"mlp-tanh": 0.0, "cnn": 0.08, "resmlp": 0.03, "meanfield-relu": -0.06}
rows = []
def row(**kv):
    r = {c: "nan" for c in cols}
    r.update(era="2010s", arch="mlp", depth="3", width="64", blocks="3", params="1000", act="tanh", norm="none",
             dropout="0", init="normal", sigma_w="1", sigma_b="0.05", optim="sgd", lr="0.01", momentum="0.9",
             weight_decay="0", sched="const", epochs="2", batch="64", limit_train="1000", seed="1", status="ok",
             delta_saturated="1", delta_truncated_low="0", train_seconds="1.5", measure_seconds="0.5", data="fashion-mnist", threads="1",
             measure_inputs="200", message="")
    r.update(kv)
    r["settings"] = f"id={r['id']} family={r['family']} era=2010s arch=mlp width=64 channels=8;16"
    rows.append(",".join(str(r[c]) for c in cols))
# an earlier failed row of m03: the zoo reran it, and the later row counts
row(id="m03", family="mlp-tanh", status="failed", message="examples/zoo/x.model: cannot open")
for i, f in enumerate(fams):
    ls = rng.normal(0, 0.6)          # ln sigma
    lam = rng.normal(0, 0.3)
    delta = 25 - 8 * abs(lam) + rng.normal(0, 2)
    acc = 0.85 - 0.12 * abs(ls) - 0.05 * abs(lam) + offset[f] + rng.normal(0, 0.02)
    kv = dict(id=f"m{i:02d}", family=f, test_accuracy=f"{acc:.4f}", test_loss="0.5", sigma=f"{np.exp(ls):.6g}",
              sigma_se="0.01", lambda0=f"{lam:.6g}", lambda0_se="0.01", sigma_act="1", delta=f"{delta:.6g}",
              mean_abs_ln_sigma_block=f"{abs(ls) + 0.1 * (i % 3):.6g}")
    # Delta curves cut off by the stimulus grid: left out of Delta's tests and counted
    if i in (2, 11):
        kv.update(delta_saturated="0")
    if i in (9, 11):
        kv.update(delta_truncated_low="1")
    if i == 6:
        kv.update(delta="nan", message="no Delta: the response does not rise over the stimulus range")
    row(**kv)
    if i == 4:
        row(id="boom", family="cnn", status="diverged", message="loss is nan at epoch 1 step 3")
row(id="broken", family="resmlp", status="failed", message="out of memory")
open(path, "w").write(header + "\n" + "\n".join(rows) + "\n")
EOF

# ---------------------------------------------------------------- the checks of stats.json
cat >"$tmp/check.py" <<'EOF'
import json, sys, warnings
import numpy as np, pandas as pd, scipy.stats as st
import statsmodels.formula.api as smf
csv, js, seed, resamples, level = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = json.load(open(js))
df = pd.read_csv(csv, dtype={"id": str}, keep_default_na=False)
df = df.drop_duplicates("id", keep="last")
okd = df[df.status == "ok"].copy()
for c in ("test_accuracy", "sigma", "lambda0", "delta", "delta_saturated", "delta_truncated_low",
          "mean_abs_ln_sigma_block"):
    okd[c] = pd.to_numeric(okd[c].replace("nan", np.nan))
cut = okd.delta.notna() & ((okd.delta_saturated != 1) | (okd.delta_truncated_low == 1))
okd["abs_ln_sigma"] = np.abs(np.log(okd.sigma))
okd["abs_lambda0"] = np.abs(okd.lambda0)
bad = []
lo = s["measures"]["delta"]["left_out_truncated"]
if (lo["count"], lo["not_saturated"], lo["truncated_low"], lo["ids"], lo["checked"]) != (3, 2, 2, ["m02", "m09", "m11"], True):
    bad.append(f"delta left_out_truncated: {lo}")
if list(okd.id[cut]) != lo["ids"]:
    bad.append(f"cut ids {list(okd.id[cut])} vs {lo['ids']}")
okd.loc[cut, "delta"] = np.nan
def close(name, got, want, rtol=1e-9, atol=1e-12):
    if got is None or not np.isclose(got, want, rtol=rtol, atol=atol):
        bad.append(f"{name}: {got} vs {want}")
def equal(name, got, want):
    if got != want:
        bad.append(f"{name}: {got} vs {want}")
equal("models", s["models"], {"rows": 17, "ok": 15, "diverged": 1, "failed": 1, "replaced_rows": 1})
equal("left_out", [(j["id"], j["status"]) for j in s["left_out"]], [("boom", "diverged"), ("broken", "failed")])
equal("families", s["families"], ["mlp-tanh", "cnn", "resmlp", "meanfield-relu"])
equal("settings", (s["settings"]["seed"], s["settings"]["resamples"], s["settings"]["level"]), (seed, resamples, level))

def replay(x, y):
    """critnet's bootstrap of rho: GSL's mt19937 seeded with the 32-bit fold of the seed (0 becomes GSL's default
    4357), indices by gsl_rng_uniform_int (integer scaling with rejection), rho by spearmanr, numpy.percentile"""
    g = np.random.MT19937()
    s32 = (seed ^ (seed >> 32)) & 0xffffffff
    g._legacy_seeding(s32 or 4357)
    n = len(x)
    scale = 0xffffffff // n
    rhos = []
    for _ in range(resamples):
        idx = []
        while len(idx) < n:
            k = int(g.random_raw()) // scale
            if k < n:
                idx.append(k)
        r = st.spearmanr(x[idx], y[idx]).statistic
        if not np.isnan(r):
            rhos.append(r)
    a = (1 - level) / 2
    return np.percentile(rhos, [100 * a, 100 * (1 - a)]), resamples - len(rhos)

for name, nearer_larger in (("abs_ln_sigma", False), ("mean_abs_ln_sigma_block", False), ("abs_lambda0", False),
                            ("delta", True)):
    m = s["measures"][name]
    d = okd[~okd[name].isna()]
    x, y = d[name].to_numpy(), d.test_accuracy.to_numpy()
    equal(name + " n", m["n"], len(d))
    equal(name + " without", m["without_value"], ["m06"] if name == "delta" else [])
    r = st.spearmanr(x, y)
    close(name + " rho", m["spearman"]["rho"], r.statistic)
    close(name + " rho p", m["spearman"]["p_value"], r.pvalue)
    r = st.pearsonr(x, y)
    close(name + " pearson r", m["pearson"]["r"], r.statistic)
    close(name + " pearson p", m["pearson"]["p_value"], r.pvalue)
    (lo, hi), skipped = replay(x, y)
    close(name + " ci lo", m["spearman"]["ci"][0], lo)
    close(name + " ci hi", m["spearman"]["ci"][1], hi)
    equal(name + " ci skipped", m["spearman"]["ci_skipped_resamples"], skipped)
    # the documented rule: the median (numpy's), the models at it near
    split = np.median(x)
    near = x >= split if nearer_larger else x <= split
    close(name + " split", m["mann_whitney"]["split"], split)
    equal(name + " near ids", m["mann_whitney"]["near"]["ids"], list(d.id[near]))
    equal(name + " far ids", m["mann_whitney"]["far"]["ids"], list(d.id[~near]))
    close(name + " near median", m["mann_whitney"]["near"]["median_accuracy"], np.median(y[near]))
    close(name + " far median", m["mann_whitney"]["far"]["median_accuracy"], np.median(y[~near]))
    r = st.mannwhitneyu(y[near], y[~near], alternative="two-sided")
    close(name + " U", m["mann_whitney"]["U"], r.statistic)
    close(name + " U p", m["mann_whitney"]["p_value"], r.pvalue)
    # statsmodels' own optimiser stops within about 1e-5 of the optimum (tests/stats_zoo_ref.py says more); the
    # library's fit is checked to 1e-6 against its exact optimum in test_stats_zoo.c
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = smf.mixedlm(f"test_accuracy ~ {name}", d, groups=d["family"]).fit(reml=True)
    mm = m["mixed_model"]
    equal(name + " families", mm["families"], d.family.nunique())
    equal(name + " formula", mm["formula"], f"test_accuracy ~ 1 + {name} + (1 | family)")
    close(name + " slope", mm["slope"]["estimate"], f.fe_params[name], rtol=1e-4, atol=1e-6)
    close(name + " intercept", mm["intercept"]["estimate"], f.fe_params["Intercept"], rtol=1e-4, atol=1e-6)
    close(name + " slope se", mm["slope"]["se"], f.bse_fe[name], rtol=1e-3, atol=1e-6)
    close(name + " slope z", mm["slope"]["z"], f.tvalues[name], rtol=1e-4)
    close(name + " slope p", mm["slope"]["p_value"], f.pvalues[name], rtol=1e-2)  # p of z near 9: 1e-19
    close(name + " residual variance", mm["residual_variance"], f.scale, rtol=1e-4)
    close(name + " group variance", mm["group_variance"], float(f.cov_re.iloc[0, 0]), rtol=1e-3)
    # the data keep every fit inside (family variance > 0), where statsmodels' answer is its optimum
    equal(name + " boundary", (mm["boundary"], mm["converged"]), (False, True))
    # the verdicts follow the stated rules
    sign = 1 if nearer_larger else -1
    def verdict(p, towards):
        return "no evidence" if p >= 0.05 else "higher nearer criticality" if towards > 0 else "lower nearer criticality"
    equal(name + " verdict spearman", m["verdicts"]["spearman"], verdict(m["spearman"]["p_value"], sign * m["spearman"]["rho"]))
    equal(name + " verdict mw", m["verdicts"]["mann_whitney"],
          verdict(m["mann_whitney"]["p_value"], m["mann_whitney"]["U"] - near.sum() * (~near).sum() / 2))
    equal(name + " verdict mixed", m["verdicts"]["mixed_model"], verdict(mm["slope"]["p_value"], sign * mm["slope"]["estimate"]))
print("\n".join(bad) if bad else "ok")
sys.exit(1 if bad else 0)
EOF

# ---------------------------------------------------------------- a run at the defaults
if "$bin" zoo-report "$tmp/z" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "zoo-report exited $?: $(cat "$tmp/err")"; fi
cmp -s "$tmp/out" "$tmp/z/stats.md" && ok || bad "the printed report differs from stats.md"
res=$($py "$tmp/check.py" "$tmp/z/zoo.csv" "$tmp/z/stats.json" 0 2000 0.95 2>&1) && ok || bad "stats.json (defaults): $res"
for f in acc_vs_abs_ln_sigma acc_vs_mean_abs_ln_sigma_block acc_vs_abs_lambda0 acc_vs_delta; do
    [ "$(head -c 8 "$tmp/z/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok || bad "$f.png is not a PNG"
done
# the tables: one row per measure in each, and the left-out models listed
for row in "| abs_ln_sigma | 15 |" "| mean_abs_ln_sigma_block | 15 |" "| abs_lambda0 | 15 |" "| delta | 11 |" \
    "Delta of 3 ok models is left out of its tests" "(2 not saturated by s_max, 2 still rising at s_min" \
    "| boom | cnn | diverged |" \
    "| broken | resmlp | failed |" "### What the numbers say"; do
    grep -qF -- "$row" "$tmp/z/stats.md" && ok || bad "stats.md has no '$row'"
done
[ "$(grep -c "^| abs_ln_sigma |" "$tmp/z/stats.md")" = 3 ] && ok || bad "abs_ln_sigma should have a row in each of the 3 tables"

# other bootstrap settings reach the interval; --quiet prints nothing
if "$bin" zoo-report "$tmp/z" --seed 3 --resamples 300 --level 0.9 --quiet >"$tmp/out" 2>"$tmp/err"; then ok; else
    bad "zoo-report --seed 3 exited $?: $(cat "$tmp/err")"; fi
[ ! -s "$tmp/out" ] && ok || bad "--quiet printed: $(head -3 "$tmp/out")"
res=$($py "$tmp/check.py" "$tmp/z/zoo.csv" "$tmp/z/stats.json" 3 300 0.9 2>&1) && ok || bad "stats.json (--seed 3): $res"

# a zoo.csv of an older critnet: no delta_truncated_low and mean_abs_ln_sigma_block columns (34, 35); it still
# reads, says that the curves could not be checked, and the per-block distance sits out
mkdir -p "$tmp/old"
awk -F, -v OFS=, '{ s = $1; for (i = 2; i <= NF; i++) if (i != 34 && i != 35) s = s OFS $i; print s }' \
    "$tmp/z/zoo.csv" >"$tmp/old/zoo.csv"
if "$bin" zoo-report "$tmp/old" --quiet 2>"$tmp/err"; then ok; else bad "zoo-report on an older zoo.csv: $(cat "$tmp/err")"; fi
grep -qF "has no delta_truncated_low column" "$tmp/old/stats.md" && ok || bad "older zoo.csv: no word on the unchecked curves"
$py - "$tmp/old/stats.json" <<'PY' && ok || bad "older zoo.csv: stats.json"
import json, sys
m = json.load(open(sys.argv[1]))["measures"]
assert m["mean_abs_ln_sigma_block"]["n"] == 0 and len(m["mean_abs_ln_sigma_block"]["without_value"]) == 15
lo = m["delta"]["left_out_truncated"]
assert (lo["count"], lo["not_saturated"], lo["truncated_low"], lo["checked"]) == (2, 2, 0, False), lo
assert m["delta"]["n"] == 12
PY

# ---------------------------------------------------------------- errors: a message, exit 1 or 2, nothing written
fails() { # dir want-in-message [options]
    local dir=$1 want=$2
    shift 2
    rm -f "$dir/stats.json" "$dir/stats.md" "$dir"/*.png 2>/dev/null
    "$bin" zoo-report "$dir" "$@" >"$tmp/eout" 2>"$tmp/eerr"
    local rc=$?
    if [ "$rc" != 1 ] && [ "$rc" != 2 ] || ! grep -qF -- "$want" "$tmp/eerr" || grep -qE "Sanitizer|runtime error" "$tmp/eerr" ||
        [ -s "$tmp/eout" ] || ls "$dir"/stats.json "$dir"/stats.md "$dir"/*.png >/dev/null 2>&1; then
        bad "zoo-report $dir $*: exit $rc, stderr '$(cat "$tmp/eerr")', want '$want' and no output"
    else
        ok
    fi
}
mkcase() { # name awk-program: a zoo folder whose zoo.csv is the synthetic one through awk
    mkdir -p "$tmp/$1"
    awk -F, -v OFS=, "$2" "$tmp/z/zoo.csv" >"$tmp/$1/zoo.csv"
}
fails "$tmp/nosuch" "nosuch: no such folder"
mkdir -p "$tmp/empty"
fails "$tmp/empty" "empty/zoo.csv: no such file"
mkcase nocols '{ print $1, $2, $24, $25, $27 }' # no lambda0, no delta
fails "$tmp/nocols" "nocols/zoo.csv: no columns lambda0, delta"
mkcase few 'NR == 1 || $1 == "m00" || $1 == "m01" || $1 == "boom"'
fails "$tmp/few" "few/zoo.csv: 2 models with status ok (of 3: 1 diverged, 0 failed); the statistics need at least 3"
mkcase nansigma 'NR > 1 && $1 == "m05" { $27 = "nan" } { print }'
fails "$tmp/nansigma" "nansigma/zoo.csv:9: model m05 has status ok but sigma is nan"
mkcase infacc 'NR > 1 && $1 == "m02" { $25 = "inf" } { print }'
fails "$tmp/infacc" "infacc/zoo.csv:5: column 'test_accuracy': 'inf' is infinite"
mkcase word 'NR > 1 && $1 == "m02" { $29 = "big" } { print }'
fails "$tmp/word" "word/zoo.csv:5: column 'lambda0': 'big' is not a number"
mkcase status 'NR > 1 && $1 == "m02" { $24 = "running" } { print }'
fails "$tmp/status" "status/zoo.csv:5: model m02: status 'running' (expected ok, diverged or failed)"
fails "$tmp/z" "--level 1.5: expected a number in [0, 1]" --level 1.5
"$bin" zoo-report >/dev/null 2>"$tmp/eerr"
[ $? = 2 ] && grep -q "DIR is required" "$tmp/eerr" && ok || bad "no DIR: $(cat "$tmp/eerr")"

echo "zoo_report: $pass passed, $fail failed"
[ "$fail" = 0 ]
