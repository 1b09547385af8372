#!/usr/bin/env python3
"""summary.py OUT RESPONSE...: where each measure of experiments/phase/run.sh finds the transition.

For each response of the dynamic range, depth and sigma_b (OUT/RESPONSE/phase.csv): the mean-field
critical sigma_w, where lambda_0 crosses zero (linear interpolation between the grid points around its first
sign change), and the sigma_w at which Delta peaks over the points whose response curve is complete (saturated
at the top, flat at the bottom: dr_class "ok"). Curves cut off by the stimulus grid are left out, and the table
counts them. A peak counts as on the critical line when it lies within 10% of the critical sigma_w (the issue's
criterion)."""
import csv, math, os, sys

out, responses = sys.argv[1], sys.argv[2:]


def num(v):
    try:
        return float(v)
    except ValueError:
        return math.nan


def crossing(rows):
    for a, b in zip(rows, rows[1:]):
        if a["lambda0"] < 0 <= b["lambda0"]:
            t = -a["lambda0"] / (b["lambda0"] - a["lambda0"])
            return a["sigma_w"] + t * (b["sigma_w"] - a["sigma_w"])
    return math.nan


def peak(rows):
    ok = [r for r in rows if math.isfinite(r["delta_db"])]
    return max(ok, key=lambda r: r["delta_db"]) if ok else None


def trough(rows):
    ok = [r for r in rows if math.isfinite(r["delta_db"])]
    return min(ok, key=lambda r: r["delta_db"]) if ok else None


def rel(x, c):
    return f"{100 * (x / c - 1):+.1f}%" if math.isfinite(x) and math.isfinite(c) else "n/a"


def complete(r):
    """saturated and not cut at s_min (older CSVs have no dr_truncated_low: those count as not cut)"""
    return r["dr_saturated"] == 1 and r.get("dr_truncated_low", 0) == 0 and math.isfinite(r.get("delta_db_raw", r["delta_db"]))


print("| response | depth | sigma_b | critical sigma_w | lambda_0 = 0 at | complete curves | left out (cut off, no rise) | "
      "Delta peak (dB) | off | within 10% | minimum (dB) | off |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
hits = {}
for resp in responses:
    rows = [{k: num(v) for k, v in r.items()} for r in csv.DictReader(open(os.path.join(out, resp, "phase.csv")))]
    for sb in sorted({r["sigma_b"] for r in rows}):
        for depth in sorted({r["depth"] for r in rows}):
            sub = sorted((r for r in rows if r["depth"] == depth and r["sigma_b"] == sb), key=lambda r: r["sigma_w"])
            crit = sub[0]["sigma_w_critical"]
            lam = crossing(sub)
            kept = [dict(r, delta_db=r.get("delta_db_raw", r["delta_db"])) for r in sub if complete(r)]
            pc, tc = peak(kept), trough(kept)
            norise = sum(1 for r in sub if not math.isfinite(r.get("delta_db_raw", r["delta_db"])))
            within = pc is not None and abs(pc["sigma_w"] / crit - 1) <= 0.10
            hits.setdefault(resp, []).append(within)
            print(f"| {resp} | {depth:.0f} | {sb:g} | {crit:.4f} | {lam:.4f} ({rel(lam, crit)}) | "
                  + f"{len(kept)} of {len(sub)} | {len(sub) - len(kept) - norise}, {norise} | "
                  + (f"{pc['sigma_w']:.3f} ({pc['delta_db']:.1f}) | {rel(pc['sigma_w'], crit)} | " if pc else "n/a | n/a | ")
                  + ("yes" if within else "no") + " | "
                  + (f"{tc['sigma_w']:.3f} ({tc['delta_db']:.1f}) | {rel(tc['sigma_w'], crit)} |" if tc else "n/a | n/a |"))
print()
for resp, h in hits.items():
    print(f"{resp}: Delta (complete curves) peaks within 10% of the critical sigma_w in {sum(h)} of {len(h)} "
          "(depth, sigma_b) cases")

# lambda_0's zero crossing at width 500, depth 50 (OUT/crossing-INPUTS/phase.csv), if run.sh made them
print()
print("| inputs | sigma_b | critical sigma_w | lambda_0 = 0 at | off |")
print("|---|---|---|---|---|")
for inputs in ("fixed-point", "unit"):
    path = os.path.join(out, "crossing-" + inputs, "phase.csv")
    if not os.path.exists(path):
        continue
    rows = [{k: num(v) for k, v in r.items()} for r in csv.DictReader(open(path))]
    for sb in sorted({r["sigma_b"] for r in rows}):
        sub = sorted((r for r in rows if r["sigma_b"] == sb), key=lambda r: r["sigma_w"])
        crit, lam = sub[0]["sigma_w_critical"], crossing(sub)
        print(f"| {inputs} | {sb:g} | {crit:.4f} | {lam:.4f} | {rel(lam, crit)} |")
