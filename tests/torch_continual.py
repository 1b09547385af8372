#!/usr/bin/env python3
"""torch_continual.py: an independent PyTorch (float64) replay of critnet's online learning with batch size 1,
the reference for tests/test_torch_continual.c.

Usage: /usr/bin/python3 tests/torch_continual.py DIR

For every DIR/*.in written by the C test (critnet's initial weights, and each task's examples already
permuted and in the order critnet saw them) this builds input -> depth x (Linear, ReLU) -> Linear, loads the
weights and, example by example, scores the prediction (argmax, first index on ties, as critnet), takes the
cross-entropy loss and makes one plain SGD step (p -= lr * grad). It writes DIR/NAME.out: per task the
number of examples predicted right before their update, then the final weights.

Input file (little-endian): "CNCONT1\\0"; u32 n_in, width, depth, classes, tasks, steps (per task);
f64 lr; u64 np + np float64 params (critnet's order: per layer W (out, in) row-major, then b); per task
steps x n_in float64 inputs, then steps float64 labels.
Output file: u32 tasks; tasks float64 hit counts; u64 np + np float64 params.
"""
import glob
import struct
import sys
from array import array

import torch

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


def read_f64(f, n):
    a = array("d")
    a.frombytes(f.read(8 * n))
    if sys.byteorder != "little":
        a.byteswap()
    return torch.tensor(a, dtype=torch.float64)


def replay(path):
    with open(path, "rb") as f:
        if f.read(8) != b"CNCONT1\0":
            raise SystemExit(f"{path}: bad magic")
        n_in, width, depth, classes, tasks, steps = struct.unpack("<6I", f.read(24))
        (lr,) = struct.unpack("<d", f.read(8))
        (npar,) = struct.unpack("<Q", f.read(8))
        params = read_f64(f, npar)
        data = []
        for _ in range(tasks):
            x = read_f64(f, steps * n_in).reshape(steps, n_in)
            y = read_f64(f, steps).long()
            data.append((x, y))
    sizes = [n_in] + [width] * depth + [classes]
    layers = [torch.nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
    off = 0
    with torch.no_grad():
        for lin in layers:
            nw = lin.weight.numel()
            lin.weight.copy_(params[off:off + nw].reshape(lin.weight.shape))
            off += nw
            nb = lin.bias.numel()
            lin.bias.copy_(params[off:off + nb])
            off += nb
    if off != npar:
        raise SystemExit(f"{path}: {npar} parameters in the file, the network has {off}")
    plist = [p for lin in layers for p in (lin.weight, lin.bias)]

    def forward(x):
        h = x
        for i, lin in enumerate(layers):
            h = lin(h)
            if i < len(layers) - 1:
                h = torch.relu(h)
        return h

    hits = []
    for x, y in data:
        hit = 0
        for s in range(steps):
            out = forward(x[s:s + 1])
            hit += int(torch.argmax(out[0]).item() == y[s].item())
            loss = torch.nn.functional.cross_entropy(out, y[s:s + 1])
            for p in plist:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in plist:
                    p -= lr * p.grad
        hits.append(hit)
    final = torch.cat([p.detach().reshape(-1) for p in plist])
    with open(path[:-3] + ".out", "wb") as f:
        f.write(struct.pack("<I", tasks))
        f.write(struct.pack(f"<{tasks}d", *hits))
        f.write(struct.pack("<Q", final.numel()))
        out = array("d", final.tolist())
        if sys.byteorder != "little":
            out.byteswap()
        f.write(out.tobytes())


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    files = sorted(glob.glob(sys.argv[1] + "/*.in"))
    if not files:
        raise SystemExit(f"no .in files in {sys.argv[1]}")
    for path in files:
        replay(path)


if __name__ == "__main__":
    main()
