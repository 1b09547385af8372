#!/usr/bin/python3
"""torch_train_mlp.py: the PyTorch peer of bench_train_mlp.c.

Times the same training step on the same work: nn.Sequential of Linear/ReLU 784-256-256-256-10 with
torch's default init, batch 128, cross-entropy, SGD lr 0.05 momentum 0.9, on the first examples of
Fashion-MNIST in file order (or uniform random tensors of the same shapes). Warm-up steps are not timed;
each configuration reports the best and the median of several repetitions.

Thread configurations: torch.set_num_threads(T) sets torch's OpenMP pool, but Debian's torch multiplies
matrices with the system OpenBLAS (libblas.so.3), whose own pool it does not touch. So each T is timed
with OpenBLAS matched to T ("blas": T, set through ctypes) and, when OpenBLAS's own default differs,
as a user who only calls torch.set_num_threads(T) gets it ("blas": default).

Run with /usr/bin/python3 (Debian's python3-torch 1.13)."""
import argparse
import ctypes
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
POOL_BATCHES = 64  # as bench_train_mlp.c


def load_pool(data, batch):
    """(x, y, source): the first POOL_BATCHES*batch examples, x float32 (N,784) in [0,1], y int64."""
    if data == "random":
        g = torch.Generator().manual_seed(7)
        n = POOL_BATCHES * batch
        return (torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g), "random U[0,1)")
    if data != "fashion-mnist":
        sys.exit(f"torch_train_mlp: --data {data}: expected fashion-mnist or random")
    with gzip.open(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz"), "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051 or rows * cols != 784:
            sys.exit("torch_train_mlp: bad Fashion-MNIST image file")
        k = min(n // batch, POOL_BATCHES) * batch
        x = np.frombuffer(f.read(k * 784), dtype=np.uint8).reshape(k, 784)
    with gzip.open(os.path.join(FASHION_DIR, "train-labels-idx1-ubyte.gz"), "rb") as f:
        magic, n = struct.unpack(">II", f.read(8))
        if magic != 2049:
            sys.exit("torch_train_mlp: bad Fashion-MNIST label file")
        y = np.frombuffer(f.read(k), dtype=np.uint8)
    return (torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64)), "fashion-mnist")


def find_openblas():
    """The OpenBLAS that torch loaded (through libblas.so.3), or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return None
    for p in sorted(paths):
        base = os.path.basename(p)
        if base.startswith(("libopenblas", "libblas.so")):
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_num_threads.restype = ctypes.c_int
                lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
                return lib
            except (OSError, AttributeError):
                continue
    return None


def fmt(v):
    return "-" if v is None else f"{v:.3f}"


def make_model(width, depth):
    torch.manual_seed(42)
    layers, n = [], 784
    for _ in range(depth):
        layers += [nn.Linear(n, width), nn.ReLU()]
        n = width
    layers.append(nn.Linear(n, 10))
    return nn.Sequential(*layers)


def run_config(args, x, y, threads, blas, blas_threads):
    torch.set_num_threads(threads)
    if blas is not None and blas_threads is not None:
        blas.openblas_set_num_threads(blas_threads)
    model = make_model(args.width, args.depth)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    B, nb = args.batch, x.shape[0] // args.batch
    xs = [x[i * B:(i + 1) * B].contiguous() for i in range(nb)]
    ys = [y[i * B:(i + 1) * B].contiguous() for i in range(nb)]
    state = {"k": 0, "first": None, "last": None}

    def step(ph=None):
        k = state["k"] % nb
        state["k"] += 1
        t0 = time.perf_counter()
        opt.zero_grad()
        t1 = time.perf_counter()
        out = model(xs[k])
        t2 = time.perf_counter()
        loss = loss_fn(out, ys[k])
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        opt.step()
        if ph is not None:
            t5 = time.perf_counter()
            ph["zero_grad"].append(t1 - t0)
            ph["forward"].append(t2 - t1)
            ph["loss"].append(t3 - t2)
            ph["backward"].append(t4 - t3)
            ph["optimizer"].append(t5 - t4)
        return loss

    for _ in range(args.warmup):
        loss = step()
    state["first"] = float(loss.detach()) if args.warmup else None
    sps, ms = [], []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        dt = time.perf_counter() - t0
        sps.append(args.steps * B / dt)
        ms.append(1e3 * dt / args.steps)
    state["last"] = float(loss.detach())
    res = {
        "threads": threads,
        "blas": "default" if blas_threads is None else blas_threads,
        "blas_threads": blas.openblas_get_num_threads() if blas is not None else None,
        "torch_threads": torch.get_num_threads(),
        "samples_per_s_best": max(sps),
        "samples_per_s_median": statistics.median(sps),
        "step_ms_best": min(ms),
        "step_ms_median": statistics.median(ms),
        "first_loss": state["first"],
        "last_loss": state["last"],
    }
    if args.breakdown:
        # medians over steps, as bench_train_mlp.c, so that an interrupted step does not count
        ph = {k: [] for k in ("forward", "loss", "zero_grad", "backward", "optimizer")}
        for _ in range(max(args.steps // 2, 5)):
            step(ph)
        res["phases_ms"] = {k: 1e3 * statistics.median(v) for k, v in ph.items()}
    if not all(v is None or v == v for v in (state["first"], state["last"])):
        sys.exit("torch_train_mlp: the loss is NaN")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="comma list of torch.set_num_threads values")
    ap.add_argument("--data", default="fashion-mnist", help="fashion-mnist or random")
    ap.add_argument("--no-breakdown", dest="breakdown", action="store_false")
    ap.add_argument("--no-default-blas", dest="default_blas", action="store_false",
                    help="time only OpenBLAS threads matched to torch's")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if min(args.steps, args.reps, args.batch) < 1:
        sys.exit("torch_train_mlp: --steps, --reps and --batch must be >= 1")
    x, y, source = load_pool(args.data, args.batch)
    blas = find_openblas()
    default_blas = blas.openblas_get_num_threads() if blas is not None else None
    threads = [int(t) for t in args.threads.split(",")]
    configs = []
    # OpenBLAS's default is lost once set, so the configurations that keep it run first
    if blas is None:
        configs = [(t, None) for t in threads]
    else:
        if args.default_blas:
            configs += [(t, None) for t in threads if t != default_blas]
        configs += [(t, t) for t in threads]
    print(f"torch {torch.__version__} training-step benchmark: MLP 784-{args.width}(x{args.depth})-10 relu, "
          f"batch {args.batch}, SGD lr 0.05 momentum 0.9, cross-entropy; data {source}; "
          f"OpenBLAS default threads {default_blas}")
    results = []
    for t, bt in configs:
        r = run_config(args, x, y, t, blas, bt)
        results.append(r)
        line = (f"torch  threads {r['threads']} (blas {r['blas_threads']}{' default' if bt is None else ''}): "
                f"{r['samples_per_s_best']:9.0f} samples/s best, {r['samples_per_s_median']:9.0f} median, "
                f"{r['step_ms_best']:6.3f} ms/step   [loss {fmt(r['first_loss'])} -> {fmt(r['last_loss'])}]")
        print(line)
        if "phases_ms" in r:
            tot = sum(r["phases_ms"].values())
            print("  phases (median ms/step; sum %.3f): %s" % (tot, " ".join(
                f"{k} {v:.3f} ({100 * v / tot:.0f}%)" for k, v in r["phases_ms"].items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"bench": "train_mlp_torch", "torch_version": torch.__version__, "data": source,
                       "batch": args.batch, "width": args.width, "depth": args.depth, "steps": args.steps,
                       "warmup": args.warmup, "reps": args.reps, "openblas_default_threads": default_blas,
                       "configs": results}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
