#!/usr/bin/env bash
# activity_branching.sh: does the MR branching ratio of a network's activity (critnet measure
# --activity-branching: active units per block as a time series over depth, the inputs as trials) cross 1 at
# the mean-field critical sigma_w of random tanh MLPs? For each sigma_b, a grid of sigma_w (W ~ N(0,
# sigma_w^2/fan_in), b ~ N(0, sigma_b^2), width 256, depth 40, 200 Gaussian inputs of 256 values), m with its
# 95% CI, the naive r_1 and the Jacobian sigma, against the critical sigma_w of critnet theory --critical.
# The full mode writes experiments/avalanches/activity_branching.md, which docs/avalanches.md quotes.
#
# usage: experiments/avalanches/activity_branching.sh [--short]
#   --short   3 sigma_w, small networks: seconds, for tests/cli/activity_branching.sh; writes nothing
# env: CRITNET_BIN (default build/critnet)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
short=0
case ${1:-} in
--short) short=1 ;;
"") ;;
*) echo "activity_branching.sh: unknown option $1" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $short = 1 ]; then
    net=(--width 64 --depth 24 --in 64); run=(--samples 60 --ab-bootstrap 50); sws="0.6 1.0 2.0"; sbs="0"
else
    net=(--width 256 --depth 40 --in 256); run=(--samples 200 --ab-bootstrap 200)
    sws=$(seq 0.5 0.1 2.0); sbs="0 0.3"
fi
for sb in $sbs; do
    crit=$("$bin" theory --act tanh --sigma-b "$sb" --critical | awk '/critical sigma_w/ {print $3}')
    echo "$crit" > "$work/crit_$sb"
    for sw in $sws; do
        "$bin" measure --arch mlp "${net[@]}" --act tanh --init normal --sigma-w "$sw" --sigma-b "$sb" \
            --data gaussian --spectrum 0 --activity-branching "${run[@]}" --quiet --json "$work/m_${sb}_$sw.json"
    done
done
out=/dev/stdout
[ $short = 1 ] || out=$here/activity_branching.md
/usr/bin/python3 - "$work" "$short" > "$out" <<'PY'
import glob, json, os, sys
work, short = sys.argv[1], sys.argv[2] == "1"
rows = {}
for f in glob.glob(os.path.join(work, "m_*.json")):
    d = json.load(open(f))
    s, a = d["settings"], d["activity_branching"]
    rows.setdefault(s["sigma_b"], []).append((s["sigma_w"], d["sigma"]["value"], a))
print("# MR branching ratio of activity across the order-to-chaos transition (activity_branching.sh)\n")
for sb in sorted(rows):
    crit = float(open(os.path.join(work, f"crit_{sb:g}")).read())
    r = sorted(rows[sb], key=lambda t: t[0])
    for sw, sig, a in r:
        assert all(v is not None for v in (a["m"], a["m_ci"][0], a["m_ci"][1])), f"sigma_w {sw}: m not finite"
    print(f"## sigma_b {sb:g}: mean-field critical sigma_w {crit:.3f}\n")
    print("| sigma_w | Jacobian sigma | m (MR) | 95% CI | naive r_1 | b | mean active units, last block |")
    print("|---|---|---|---|---|---|---|")
    for sw, sig, a in r:
        print(f"| {sw:.2f} | {sig:.3f} | {a['m']:.3f} | [{a['m_ci'][0]:.3f}, {a['m_ci'][1]:.3f}] | {a['m_naive']:.3f} "
              f"| {a['b']:.3f} | {a['mean_count'][-1]:.1f} |")
    peak = max(r, key=lambda t: t[2]["m"])
    above = [sw for sw, _, a in r if a["m_ci"][1] >= 1]
    cross = any(r[i][2]["m"] < 1 <= r[i + 1][2]["m"] for i in range(len(r) - 1))
    print(f"\nlargest m {peak[2]['m']:.3f} at sigma_w {peak[0]:.2f} (critical {crit:.3f}); "
          f"CI reaching 1 at sigma_w {above if above else 'none'}; m crosses 1 from below: {'yes' if cross else 'no'}")
    print(f"verdict: m crosses 1 near the critical sigma_w: {'met' if cross and abs(peak[0] - crit) <= 0.1 else 'NOT met'}\n")
PY
