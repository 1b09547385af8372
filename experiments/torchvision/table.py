#!/usr/bin/python3
"""Collect experiments/torchvision/run.sh's results into one table: a row per TorchVision classification model
with its export status, sigma, lambda_0, Delta (and accuracy when labelled images were given), or the reason
it failed. Writes table.csv and results.md into the output folder."""
import csv, json, math, os, sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def num(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def fmt(v, spec):
    return "" if v is None else format(v, spec)


def family(name):
    for prefix in ("efficientnet_v2", "mobilenet_v3", "mobilenet_v2", "shufflenet_v2", "wide_resnet", "resnext",
                   "swin_v2", "vgg", "vit", "swin", "regnet", "resnet", "densenet", "convnext", "mnasnet",
                   "squeezenet", "efficientnet", "maxvit", "alexnet", "googlenet", "inception"):
        if name.startswith(prefix):
            return prefix
    return name


def main():
    work, out = sys.argv[1], sys.argv[2]
    exports = {}
    for line in open(os.path.join(work, "onnx", "export.jsonl")):
        row = json.loads(line)
        exports[row["model"]] = row  # the last attempt counts
    rows = []
    for name in sorted(exports):
        e = exports[name]
        r = {"model": name, "family": family(name), "weights": e.get("weights", ""), "params": e.get("params"),
             "status": e["status"], "error": e.get("error", "")}
        m = load_json(os.path.join(work, "measure", name + ".json"))
        err_path = os.path.join(work, "measure", name + ".err")
        if e["status"] == "ok" and m is None:
            r["status"] = "measure failed"
            r["error"] = open(err_path).read().strip().splitlines()[-1] if os.path.exists(err_path) else "not measured"
        if m:
            r["blocks"] = len(m.get("sigma", {}).get("per_layer") or [])
            r["sigma"] = num(m["sigma"]["value"])
            r["lambda0"] = num(m["lambda_max"]["value"])
            dr = m.get("dynamic_range") or {}
            # a curve cut off by the stimulus grid (not saturated, or still rising at s_min) measures the grid:
            # its Delta is left out of the table and counted (docs/criticality-measures.md)
            cut = dr and (not dr.get("saturated", False) or dr.get("truncated_low", False))
            r["delta_db"] = None if cut else num(dr.get("delta_db"))
            r["delta_cut"] = bool(cut)
            sec = os.path.join(work, "measure", name + ".seconds")
            r["seconds"] = float(open(sec).read()) if os.path.exists(sec) else None
        ev = load_json(os.path.join(work, "eval", name + ".json"))
        if ev:
            r["top1"] = num(ev.get("accuracy"))
            r["top5"] = num(ev.get("top5_accuracy"))
        rows.append(r)
    cols = ["model", "family", "weights", "params", "status", "blocks", "sigma", "lambda0", "delta_db", "top1", "top5",
            "seconds", "error"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "table.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    ok = [r for r in rows if r.get("sigma") is not None or r.get("lambda0") is not None]
    failed = [r for r in rows if r not in ok]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("# TorchVision classification models through critnet's ONNX import\n\n")
        f.write(f"Written by `experiments/torchvision/run.sh` ({open(os.path.join(work, 'settings')).read().strip()}).\n\n")
        f.write(f"{len(rows)} models: {len(ok)} measured, {len(failed)} failed.")
        n_cut = sum(1 for r in ok if r.get("delta_cut"))
        if n_cut:
            f.write(f" Delta of {n_cut} model{'s' if n_cut > 1 else ''} is left out (blank): the stimulus grid cut "
                    "the response curve off (not saturated by s_max, or still rising at s_min).")
        f.write("\n\n")
        f.write("| model | family | weights | params (M) | blocks | sigma | lambda_0 | Delta (dB) | top-1 | top-5 | s |\n")
        f.write("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for r in ok:
            p = r.get("params")
            f.write(f"| {r['model']} | {r['family']} | {r['weights']} | {fmt(p / 1e6 if p else None, '.1f')} | "
                    f"{r.get('blocks', '')} | {fmt(r.get('sigma'), '.4f')} | {fmt(r.get('lambda0'), '+.4f')} | "
                    f"{fmt(r.get('delta_db'), '.2f')} | {fmt(r.get('top1'), '.4f')} | {fmt(r.get('top5'), '.4f')} | "
                    f"{fmt(r.get('seconds'), '.0f')} |\n")
        if failed:
            f.write("\n## Models that failed, and why\n\n| model | stage | reason |\n|---|---|---|\n")
            for r in failed:
                reason = r["error"].replace("|", "\\|")
                f.write(f"| {r['model']} | {r['status']} | {reason} |\n")
    print(f"table.py: {len(ok)} measured, {len(failed)} failed -> {out}/table.csv, results.md")


if __name__ == "__main__":
    main()
