#!/usr/bin/env python3
"""phase_summary.py WORK: the tables of experiments/avalanches/phase.sh from its JSON files (sb*_c*_sw*.json) and
the critical sigma_w of critnet theory (theory_SB.txt). Markdown on stdout."""
import glob, json, os, re, sys

work = sys.argv[1]
runs = {}
for f in glob.glob(os.path.join(work, "sb*_c*_sw*.json")):
    sb, c, sw = re.match(r"sb([\d.]+)_c([\d.]+)_sw([\d.]+)\.json", os.path.basename(f)).groups()
    runs.setdefault((float(sb), float(c)), []).append((float(sw), json.load(open(f))))


def crit(sb):
    txt = open(os.path.join(work, "theory_%g.txt" % sb)).read()
    return float(re.search(r"critical sigma_w ([\d.]+)", txt).group(1))


def r_exp(fit):
    for t in fit.get("likelihood_ratio", []):
        if t["alternative"] == "exponential":
            return t["R"]
    return None


def f(v, fmt="%.2f"):
    return "–" if v is None else fmt % v


verdicts = []
for (sb, c), rows in sorted(runs.items()):
    rows.sort()
    sw_star = crit(sb)
    print("\n### sigma_b %g, threshold %g x the first block's RMS change (mean-field critical sigma_w %.3f)\n" % (sb, c, sw_star))
    print("| sigma_w | lambda_0 | completed | reached the end | alpha_S (x_min, tail) | KS_S | R_exp S | R_lognormal S "
          "| alpha_T (x_min) | R_exp T | gamma | predicted | collapse |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    best = None
    lam = []
    for sw, d in rows:
        a = d["avalanches"]
        s, t, ck = a["size"], a["duration"], a["crackling"]
        n = a["cascades"]
        rs, rt = r_exp(s), r_exp(t)
        rl = next((x["R"] for x in s.get("likelihood_ratio", []) if x["alternative"] == "lognormal"), None)
        lam.append((sw, d["lambda_max"]["value"]))
        # the candidate must describe avalanches that end inside the network: at least half of them completed
        if rs is not None and a["completed"] >= n / 2 and (best is None or rs > best[1]):
            best = (sw, rs)
        sfit = "–" if s.get("alpha") is None else "%.2f (%g, %.0f%%)" % (s["alpha"], s["xmin"], 100 * s["n_tail"] / s["n"])
        tfit = "–" if t.get("alpha") is None else "%.2f (%g)" % (t["alpha"], t["xmin"])
        print("| %.2f | %+.3f | %.0f%% | %.0f%% | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            sw, d["lambda_max"]["value"], 100 * a["completed"] / n, 100 * a["truncated"] / n, sfit,
            f(s.get("ks"), "%.3f"), f(rs), f(rl), tfit, f(rt), f(ck["gamma"]), f(ck["gamma_pred"]),
            f(a["collapse"]["gamma"])))
    # where lambda_0 crosses zero, interpolated linearly between grid points
    cross = None
    for (x0, y0), (x1, y1) in zip(lam, lam[1:]):
        if y0 < 0 <= y1:
            cross = x0 + (x1 - x0) * (-y0) / (y1 - y0)
            break
    verdicts.append((sb, c, sw_star, cross, best))

step = None
for rows in runs.values():
    sws = sorted(sw for sw, _ in rows)
    if len(sws) > 1:
        step = sws[1] - sws[0]
print("\n### Where the sizes are closest to a power law (largest R against the exponential, at least half the "
      "cascades completed)\n")
print("| sigma_b | threshold | mean-field critical sigma_w | lambda_0 crosses 0 | best sigma_w (R_exp) | "
      "within one grid step (%s) of the critical line |" % (f(step)))
print("|---|---|---|---|---|---|")
for sb, c, star, cross, best in verdicts:
    ok = best is not None and step is not None and abs(best[0] - star) <= step + 1e-9
    print("| %g | %g | %.3f | %s | %s | %s |" % (sb, c, star, f(cross, "%.3f"),
          "–" if best is None else "%.2f (R %.1f)" % best, "met" if ok else "NOT met"))
