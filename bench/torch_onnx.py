#!/usr/bin/python3
"""torch_onnx.py: the PyTorch side of the ONNX benchmark (issue 7: forward and lambda_0 of resnet18 at 224x224
within 2x of PyTorch's time for the same work). It writes the problem that bench_onnx.c then loads, so that both
sides run on the same weights, inputs and initial tangent, and it times PyTorch on that problem.

Usage: /usr/bin/python3 bench/torch_onnx.py prepare --dir DIR [--inputs N] [--seed S]
       /usr/bin/python3 bench/torch_onnx.py time --dir DIR [--threads 1,2] [--reps R] [--warmup W] [--kernels]
                                                 [--json OUT]

prepare  torchvision resnet18 at random init (torch.manual_seed(0), as experiments/torchvision/export.py), exported
         as export.py does it (eval mode, opset 17, dynamic batch, constant folding, not under no_grad) to
         DIR/resnet18.onnx; N inputs N(0, 1) of 3x224x224 (torch.Generator seeded with S) to DIR/x.f32, and a unit
         vector (Euclidean norm 1) of the input's size to DIR/q0.f32 (critnet's cfg.q0 with k = 1): raw float32,
         little-endian. DIR/meta.json records what was written.
time     rebuilds the same network (same seed) and times, at each thread count, best of --reps after --warmup calls
         (wall clock; the process's CPU time beside it, which at one thread a loaded machine disturbs far less):
  forward           the network on all N inputs at once, eval mode, under torch.no_grad:
                      module   the nn.Module as torchvision builds it (conv, batch norm, relu: what users run)
                      fused    batch norm folded into the convolutions, as the ONNX export folds it, so that
                               both sides do the same arithmetic
                      fused_cl the same in torch.channels_last, PyTorch's advice for convolutions on the CPU
                               (oneDNN computes in NHWC blocks; NCHW tensors are reordered at every call)
  forward+lambda0   the forward pass and lambda_0 of every input, the work of critnet's cn_measure with
                    probes = 0 and spectrum = 1. The blocks are critnet's (src/onnx/blocks.c): the stem
                    conv1-bn1-relu, then each BasicBlock, ending at its final ReLU; the max pool after the stem
                    opens the first BasicBlock's block. The readout (avgpool, fc) is not a block but runs forward,
                    since cn_measure's forward pass runs the whole network. Per block: tangent t -> J t, then
                    rho = ln |J t| + 0.5 ln(n_in / n_out), t <- J t / |J t|; lambda_0 = mean of rho over blocks.
                    The tangent starts at q0 for every input, as cfg.q0 makes critnet do (no normalisation first).
                      forward_ad  torch.autograd.forward_ad, the module's blocks on dual tensors of batch N: what a
                                  PyTorch user would write
                      paired      the jvp written out on the fused network: each convolution once on the primal and
                                  once on the tangent (without the bias), ReLU's jvp as the mask of the primal, the
                                  max pool's as a gather at the primal's argmax. Forward AD runs three convolutions
                                  per conv (one of them for the weights' zero tangent) and batch norm's jvp in full;
                                  this runs two and no batch norm
                      paired_cl   the same in torch.channels_last
                  Every variant's lambda_0 per input is kept so that run_onnx.sh can check it against critnet's.
Threads: torch.set_num_threads (the OpenMP pool that oneDNN's convolutions use) and OpenBLAS's own count (which
torch.set_num_threads does not reach) together, as critnet's cn_set_threads does.
With --kernels, which convolution kernel PyTorch runs (oneDNN's mkldnn_convolution or the im2col + BLAS fallback)
is read from the autograd profiler on one untimed pass of each variant, and reported with torch.backends.mkldnn's
flags.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch.autograd import forward_ad as fwAD
from torch.nn.utils.fusion import fuse_conv_bn_weights

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_spectrum import openblas  # noqa: E402  (the one copy of the OpenBLAS handle)

SIDE = 224
MODEL_SEED = 0


def build_model():
    torch.manual_seed(MODEL_SEED)
    return torchvision.models.resnet18().eval()


def prepare(a):
    os.makedirs(a.dir, exist_ok=True)
    model = build_model()
    path = os.path.join(a.dir, "resnet18.onnx")
    # export.py's settings exactly: a file that differs from what users import would time something else
    torch.onnx.export(model, torch.randn(1, 3, SIDE, SIDE), path, opset_version=17, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)
    gen = torch.Generator().manual_seed(a.seed)
    x = torch.randn(a.inputs, 3, SIDE, SIDE, generator=gen)
    q = torch.randn(3 * SIDE * SIDE, generator=gen, dtype=torch.float64)
    q0 = (q / q.norm()).float()  # normalised in double so that |q0| = 1 to float rounding
    x.numpy().astype("<f4").tofile(os.path.join(a.dir, "x.f32"))
    q0.numpy().astype("<f4").tofile(os.path.join(a.dir, "q0.f32"))
    meta = {"model": "resnet18", "weights": "random", "model_seed": MODEL_SEED, "input_seed": a.seed,
            "inputs": a.inputs, "shape": [3, SIDE, SIDE], "onnx": "resnet18.onnx", "opset": 17,
            "torch": torch.__version__, "torchvision": torchvision.__version__}
    with open(os.path.join(a.dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"torch_onnx.py: wrote {path}, {a.inputs} inputs and q0 to {a.dir}")
    return 0


def load_problem(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    n, shape = meta["inputs"], meta["shape"]
    x = torch.from_numpy(np.fromfile(os.path.join(d, "x.f32"), dtype="<f4").reshape(n, *shape))
    q0 = torch.from_numpy(np.fromfile(os.path.join(d, "q0.f32"), dtype="<f4").reshape(1, *shape))
    return meta, x, q0


# ---------------------------------------------------------------- the blocks, as critnet cuts the graph

def module_blocks(m):
    """critnet's blocks as nn.Modules; the readout is returned apart (not measured, but run forward)"""
    blocks = [torch.nn.Sequential(m.conv1, m.bn1, m.relu), torch.nn.Sequential(m.maxpool, m.layer1[0])]
    blocks += [m.layer1[1]] + [b for layer in (m.layer2, m.layer3, m.layer4) for b in layer]
    readout = torch.nn.Sequential(m.avgpool, torch.nn.Flatten(1), m.fc)
    return blocks, readout


def forward_module(m, x):
    with torch.no_grad():
        return m(x)


def lambda0_forward_ad(m, x, q0):
    blocks, readout = module_blocks(m)
    N = x.shape[0]
    h, t = x, q0.expand(N, *q0.shape[1:])
    lam = torch.zeros(N, dtype=torch.float64)
    with torch.no_grad():  # forward AD is not disabled by no_grad; the graph for backward is
        for blk in blocks:
            n_in = h[0].numel()
            with fwAD.dual_level():
                h, t = fwAD.unpack_dual(blk(fwAD.make_dual(h, t)))
            nrm = t.flatten(1).norm(dim=1)
            lam += nrm.double().log() + 0.5 * math.log(n_in / h[0].numel())
            t = t / nrm.view(N, 1, 1, 1)
        readout(h)
    return lam / len(blocks)


class Fused:
    """resnet18 with batch norm folded into every convolution (conv weight and a bias), eval mode only; in
    memory_format torch.channels_last (NHWC in memory), the layout oneDNN computes in, the inputs are converted
    inside the timed call, as a caller holding NCHW inputs would have to"""

    def __init__(self, m, memory_format=torch.contiguous_format):
        self.fmt = memory_format

        def cb(conv, bn):
            w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                        bn.weight, bn.bias)
            return (w.detach().contiguous(memory_format=memory_format), b.detach().contiguous(), conv.stride,
                    conv.padding)
        self.stem = cb(m.conv1, m.bn1)
        self.blocks = []
        for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
            for b in layer:
                ds = cb(b.downsample[0], b.downsample[1]) if b.downsample is not None else None
                self.blocks.append((cb(b.conv1, b.bn1), cb(b.conv2, b.bn2), ds))
        self.fc_w, self.fc_b = m.fc.weight.detach(), m.fc.bias.detach()

    @staticmethod
    def conv(h, c, bias=True):
        w, b, s, p = c
        return F.conv2d(h, w, b if bias else None, s, p)

    def readout(self, h):
        return torch.addmm(self.fc_b, F.adaptive_avg_pool2d(h, 1).flatten(1), self.fc_w.t())

    def forward(self, x):
        with torch.no_grad():
            h = F.relu_(self.conv(x.contiguous(memory_format=self.fmt), self.stem))
            h = F.max_pool2d(h, 3, 2, 1)
            for c1, c2, ds in self.blocks:
                y = F.relu_(self.conv(h, c1))
                y = self.conv(y, c2)
                y += self.conv(h, ds) if ds else h
                h = F.relu_(y)
            return self.readout(h)

    def lambda0_paired(self, x, q0):
        """primal h and tangent t side by side, each convolution called once for each (the tangent takes no
        bias). One call on both stacked as a batch of 2N was tried and ran 2x slower: oneDNN's convolutions on
        this build slow down far more than in proportion from batch 16 to 32 (64 channels of 56x56: 5x)"""
        N = x.shape[0]
        lam = torch.zeros(N, dtype=torch.float64)
        nblocks = 1 + len(self.blocks)

        def conv(h, t, c):
            return self.conv(h, c), self.conv(t, c, bias=False)

        def relu(h, t):
            # ReLU's own jvp kernel (what forward AD calls too): one pass, where t.mul_(h > 0) casts the mask
            h = h.relu_()
            return h, torch.ops.aten.threshold_backward(t, h, 0.0)

        def close(t, n_in):
            nonlocal lam
            # over the three axes in place: t.flatten(1) would copy a channels_last tensor first
            nrm = torch.linalg.vector_norm(t, dim=(1, 2, 3))
            lam += nrm.double().log() + 0.5 * math.log(n_in / t[0].numel())
            t.div_(nrm.view(N, 1, 1, 1))

        with torch.no_grad():
            h, t = (v.contiguous(memory_format=self.fmt) for v in (x, q0.expand(N, *q0.shape[1:])))
            n_in = x[0].numel()
            h, t = relu(*conv(h, t, self.stem))
            close(t, n_in)
            for i, (c1, c2, ds) in enumerate(self.blocks):
                n_in = h[0].numel()
                if i == 0:  # the stem's max pool opens the first BasicBlock's block
                    h, idx = F.max_pool2d(h, 3, 2, 1, return_indices=True)
                    t = t.flatten(2).gather(2, idx.flatten(2)).view(h.shape).contiguous(memory_format=self.fmt)
                y, u = relu(*conv(h, t, c1))
                y, u = conv(y, u, c2)
                if ds:
                    a, b = conv(h, t, ds)
                    y += a
                    u += b
                else:
                    y += h
                    u += t
                h, t = relu(y, u)
                close(t, n_in)
            self.readout(h)
        return lam / nblocks


# ---------------------------------------------------------------- timing

def conv_kernels(fn):
    """the aten convolution kernels one call of fn runs, with their counts"""
    with torch.autograd.profiler.profile() as prof:
        fn()
    keep = ("mkldnn_convolution", "slow_conv", "thnn_conv", "_nnpack", "convolution_depthwise", "conv2d")
    return {e.key: e.count for e in prof.key_averages() if any(k in e.key for k in keep)}


def main_time(a):
    meta, x, q0 = load_problem(a.dir)
    N = x.shape[0]
    m = build_model()
    fused, fused_cl = Fused(m), Fused(m, torch.channels_last)
    blas = openblas()
    variants = {
        "forward": {"module": lambda: forward_module(m, x), "fused": lambda: fused.forward(x),
                    "fused_cl": lambda: fused_cl.forward(x)},
        "forward+lambda0": {"forward_ad": lambda: lambda0_forward_ad(m, x, q0),
                            "paired": lambda: fused.lambda0_paired(x, q0),
                            "paired_cl": lambda: fused_cl.lambda0_paired(x, q0)},
    }
    torch.set_num_threads(1)
    kernels = {f"{what}/{impl}": conv_kernels(fn) for what, d in variants.items() for impl, fn in d.items()} \
        if a.kernels else {}
    configs = []
    print(f"torch {torch.__version__}: resnet18 224x224, {N} inputs (batch {N}); mkldnn available "
          f"{torch.backends.mkldnn.is_available()}, enabled {torch.backends.mkldnn.enabled}; seconds per call "
          f"(best, median of {a.reps} after {a.warmup} untimed)", flush=True)
    for thr in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(thr)
        if blas:
            blas.openblas_set_num_threads(thr)
        for what, d in variants.items():
            for impl, fn in d.items():
                for _ in range(a.warmup):  # oneDNN builds its primitives on the first call of each shape
                    out = fn()
                times, cpu = [], []
                for _ in range(a.reps):
                    t0, c0 = time.perf_counter(), time.process_time()
                    out = fn()
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                c = {"what": what, "impl": impl, "threads": thr, "best_s": min(times),
                     "median_s": float(np.median(times)), "times_s": times, "cpu_best_s": min(cpu), "cpu_s": cpu}
                line = (f"  threads {thr}  {what:16s} {impl:10s} best {c['best_s']:8.3f} s  "
                        f"median {c['median_s']:8.3f} s  cpu {c['cpu_best_s']:8.3f} s")
                if what == "forward+lambda0":
                    c["lambda0"] = out.tolist()
                    c["lambda0_mean"] = float(out.mean())
                    line += f"  lambda_0 mean {c['lambda0_mean']:+.6f}"
                print(line, flush=True)
                configs.append(c)
    res = {"torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
           "openblas": blas.openblas_get_config().decode() if blas else None,
           "mkldnn_available": torch.backends.mkldnn.is_available(), "mkldnn_enabled": torch.backends.mkldnn.enabled,
           "conv_kernels": kernels, "inputs": N, "reps": a.reps, "warmup": a.warmup, "meta": meta, "configs": configs}
    for k, v in kernels.items():
        print(f"  conv kernels, {k}: " + ", ".join(f"{n} x{c}" for n, c in sorted(v.items())))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", required=True)
    p.add_argument("--inputs", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    t = sub.add_parser("time")
    t.add_argument("--dir", required=True)
    t.add_argument("--threads", default="1,2")
    t.add_argument("--reps", type=int, default=3)
    t.add_argument("--warmup", type=int, default=1, help="untimed calls before the timed ones")
    t.add_argument("--kernels", action="store_true", help="report the convolution kernels each variant runs")
    t.add_argument("--json")
    a = ap.parse_args()
    return prepare(a) if a.cmd == "prepare" else main_time(a)


if __name__ == "__main__":
    raise SystemExit(main())
