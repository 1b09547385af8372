#!/usr/bin/env python3
"""torch_spectrum.py: the PyTorch peer of bench_spectrum.c: the Lyapunov spectrum (k exponents, Benettin's
method with depth as time) of the MLP that `bench_spectrum --dump DIR` wrote, on the same weights, inputs
and Q0, as fast as PyTorch allows on the CPU.

Usage: /usr/bin/python3 bench/torch_spectrum.py --dump DIR [--threads 1,2] [--reps 3] [--chunks 100,1000]
                                                [--generic] [--json OUT]

The fast implementations write the jvp of a dense layer out by hand, batched over inputs and tangents:
Z = phi'(z) * (Q W^T) as one GEMM of (chunk*k, n) by (n, n) per layer (Q0 W^T once for the first
layer, since Q0 is the same for every input), then a batched QR of the chunk's (n x k) matrices:
  householder  torch.linalg.qr (LAPACK geqrf + orgqr per matrix, as critnet)
  cholqr2      CholeskyQR2: G = Z Z^T (bmm), L = cholesky(G), Q = L^-1 Z (triangular solve), twice;
               ln R_ii = ln L1_ii + ln L2_ii. Stable while cond(Z) << 1/sqrt(eps_float32) ~ 3e3, which
               the agreement check against critnet confirms for this network.
Threads: torch.set_num_threads and, through ctypes, openblas_set_num_threads (torch leaves OpenBLAS at
the core count otherwise), so that "1 thread" means one thread, as for critnet's cn_set_threads.
`--generic` also times what a PyTorch user would write without that: nn.Sequential with forward-mode
autograd (torch.autograd.forward_ad) on k tangents per input and torch.linalg.qr; context only.

What is timed, per configuration (best and median of --reps, wall clock): the forward pass, the spectrum
and, in the "spectrum+sigma1" variant, sigma with one Gaussian probe per block and input (critnet's
cn_measure with probes=1 does that much). Every (threads, chunk, QR) combination is timed as
spectrum+sigma1; the spectrum alone is then timed for the fastest combination of each thread count. Every implementation's spectrum is returned so that the caller
can check it against critnet's (run_spectrum.sh requires agreement to 1e-3).
"""
import argparse
import ctypes
import json
import math
import os
import time

import numpy as np
import torch
from torch.autograd import forward_ad as fwAD


def load(d):
    text = open(os.path.join(d, "model.txt")).read()
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    n0 = int(lines[0][1])
    acts = [dict(kv.split("=") for kv in ln[1:]).get("act", "identity") for ln in lines[1:]]
    widths = [int(dict(kv.split("=") for kv in ln[1:])["out"]) for ln in lines[1:]]
    f32 = lambda name: torch.from_numpy(np.fromfile(os.path.join(d, name), dtype="<f4"))  # noqa: E731
    params = f32("params.f32")
    Ws, bs, off, nin = [], [], 0, n0
    for w in widths:
        Ws.append(params[off:off + w * nin].reshape(w, nin))
        off += w * nin
        bs.append(params[off:off + w])
        off += w
        nin = w
    assert off == params.numel(), "params.f32 does not match model.txt"
    x = f32("x.f32").reshape(-1, n0)
    q0 = f32("q0.f32").reshape(-1, n0)
    # the readout (last dense, identity) is left out, as cn_measure does by default
    assert all(a == acts[0] for a in acts[:-1]) and acts[-1] == "identity"
    return Ws[:-1], bs[:-1], acts[0], x, q0


def qr_householder_alloc(Z):
    """Z (B, k, n): rows are tangents. Returns ln|R_ii| (B, k) and the orthonormal rows (B, k, n).
    (used by the generic variant; the fast one calls torch.linalg.qr with out= buffers)"""
    Q, R = torch.linalg.qr(Z.transpose(1, 2))  # each (n, k) matrix is column-major in Z: no copy
    return torch.log(torch.diagonal(R, dim1=1, dim2=2).abs()), Q.transpose(1, 2)


class Buffers:
    """Work tensors reused across layers and chunks. Allocating them afresh on every call (what
    torch.linalg.qr without out= does) costs 2-3x in page faults for these sizes on this machine."""

    def __init__(self, B, k, n):
        self.z, self.t, self.q = (torch.empty(B, k, n) for _ in range(3))
        self.r = torch.empty(B, k, k)
        self.g, self.l1, self.l2 = (torch.empty(B, k, k) for _ in range(3))
        self.info = torch.empty(B, dtype=torch.int32)

    def view(self, B):
        v = Buffers.__new__(Buffers)
        for name, t in vars(self).items():
            setattr(v, name, t[:B])
        return v


def qr_householder(Z, buf):
    """Householder QR (LAPACK geqrf + orgqr per matrix, as critnet): ln|R_ii| and Q's rows in buf.q"""
    torch.linalg.qr(Z.transpose(1, 2), out=(buf.q.transpose(1, 2), buf.r))  # column-major (n, k): no copy
    return torch.diagonal(buf.r, dim1=1, dim2=2).abs().log(), buf.q


def qr_cholqr2(Z, buf):
    """CholeskyQR2: Q = L^-1 Z with L L^T = Z Z^T, twice; R = L2^T L1^T, so ln R_ii = ln L1_ii + ln L2_ii"""
    torch.bmm(Z, Z.transpose(1, 2), out=buf.g)
    torch.linalg.cholesky_ex(buf.g, out=(buf.l1, buf.info))
    torch.linalg.solve_triangular(buf.l1, Z, upper=False, out=buf.t)
    torch.bmm(buf.t, buf.t.transpose(1, 2), out=buf.g)
    ok = not buf.info.any()
    torch.linalg.cholesky_ex(buf.g, out=(buf.l2, buf.info))
    if not ok or buf.info.any():
        raise RuntimeError("CholeskyQR2: a Gram matrix is not positive definite in float32")
    torch.linalg.solve_triangular(buf.l2, buf.t, upper=False, out=buf.q)
    d1, d2 = torch.diagonal(buf.l1, dim1=1, dim2=2), torch.diagonal(buf.l2, dim1=1, dim2=2)
    return d1.log() + d2.log(), buf.q


def spectrum_fast(Ws, bs, act, x, q0, chunk, qr, sigma, gen):
    """lambda per input (N, k), float64 sums of float32 ln R; ln sigma per input (N) or None"""
    N, k = x.shape[0], q0.shape[0]
    L, n = len(Ws), Ws[0].shape[0]
    assert all(W.shape == (n, n) for W in Ws), "the fast path assumes a square MLP"
    lam = torch.zeros(N, k, dtype=torch.float64)
    ln_sig = torch.zeros(N, dtype=torch.float64) if sigma else None
    full = Buffers(min(chunk, N), k, n)
    Wts = [W.t() for W in Ws]
    for s in range(0, N, chunk):
        h = x[s:s + chunk]
        B = h.shape[0]
        buf = full.view(B)
        Q = None
        for l, (Wt, b) in enumerate(zip(Wts, bs)):
            z = torch.addmm(b, h, Wt)
            if act == "tanh":
                h = torch.tanh(z)
                d = 1 - h * h
            else:
                h = torch.relu(z)
                d = (z > 0).to(z.dtype)
            Z = buf.z
            if Q is None:  # Q0 W^T is the same for every input
                torch.mul((q0 @ Wt).unsqueeze(0), d.unsqueeze(1), out=Z)
            else:
                torch.mm(Q.view(B * k, n), Wt, out=Z.view(B * k, n))
                Z.mul_(d.unsqueeze(1))
            lnr, Q = qr(Z, buf)
            lam[s:s + B] += lnr.double() / L  # square layers: the width term 1/2 ln(n_in/n_out) is 0
            if sigma:
                u = torch.randn(B, n, generator=gen)
                t = (u @ Wt) * d
                ln_sig[s:s + B] += 0.5 * torch.log((t * t).sum(1) / (u * u).sum(1)).double() / L
    return lam, ln_sig


def spectrum_generic(Ws, bs, act, x, q0, chunk):
    """nn.Sequential and forward-mode autograd, k tangents per input as a batch of replicated inputs"""
    layers = []
    for W, b in zip(Ws, bs):
        lin = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(b)
        layers.append(torch.nn.Sequential(lin, torch.nn.Tanh() if act == "tanh" else torch.nn.ReLU()))
    N, k, L = x.shape[0], q0.shape[0], len(Ws)
    lam = torch.zeros(N, k, dtype=torch.float64)
    with torch.no_grad():
        for s in range(0, N, chunk):
            h = x[s:s + chunk]
            B = h.shape[0]
            Q = q0.unsqueeze(0).expand(B, k, -1)
            for layer in layers:
                n_in = h.shape[1]
                with fwAD.dual_level():
                    out = layer(fwAD.make_dual(h.repeat_interleave(k, 0), Q.reshape(B * k, n_in)))
                    p, t = fwAD.unpack_dual(out)
                h = p[::k].clone()
                n = h.shape[1]
                lnr, Q = qr_householder_alloc(t.reshape(B, k, n))
                lam[s:s + B] += (lnr.double() + 0.5 * math.log(n_in / n)) / L
    return lam


def openblas():
    """the OpenBLAS core that torch's BLAS and LAPACK calls end in. torch.set_num_threads does not reach
    it (its threads stay at the core count), so the benchmark sets them too, as cn_set_threads does."""
    (torch.ones(2, 2) @ torch.ones(2, 2)).sum()
    paths = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "libopenblas" in ln})
    if not paths:
        return None
    lib = ctypes.CDLL(paths[0])
    lib.openblas_get_config.restype = ctypes.c_char_p
    return lib


def summarize(lam):
    m = lam.mean(0)
    se = lam.std(0, unbiased=True) / math.sqrt(lam.shape[0]) if lam.shape[0] > 1 else torch.full_like(m, float("nan"))
    return m.tolist(), se.tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--chunks", default="100,1000", help="inputs per pass")
    ap.add_argument("--generic", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    Ws, bs, act, x, q0 = load(a.dump)
    N, k = x.shape[0], q0.shape[0]
    impls = {"householder": qr_householder, "cholqr2": qr_cholqr2}
    configs = []
    blas = openblas()
    print("torch %s: MLP %d x %d %s, %d inputs, k=%d; seconds per call (best, median of %d)" %
          (torch.__version__, len(Ws), Ws[0].shape[0], act, N, k, a.reps))
    def run(thr, chunk, name, sigma):
        times = []
        for _ in range(a.reps):
            gen = torch.Generator().manual_seed(7)
            t0 = time.perf_counter()
            lam, ln_sig = spectrum_fast(Ws, bs, act, x, q0, chunk, impls[name], sigma, gen)
            times.append(time.perf_counter() - t0)
        spec, se = summarize(lam)
        c = {"impl": name, "threads": thr, "chunk": chunk, "config": "spectrum+sigma1" if sigma else "spectrum",
             "best_s": min(times), "median_s": float(np.median(times)), "spectrum": spec, "spectrum_se": se,
             "lambda_max": spec[0]}
        if sigma:
            c["sigma"] = math.exp(ln_sig.mean().item())
        print("  threads %d  chunk %4d  %-11s %-16s best %8.3f s  median %8.3f s  lambda_0 %+.5f%s" %
              (thr, chunk, name, c["config"], c["best_s"], c["median_s"], spec[0],
               "  sigma %.5f" % c["sigma"] if sigma else ""), flush=True)
        configs.append(c)
        return c

    def set_threads(thr):
        torch.set_num_threads(thr)
        if blas:
            blas.openblas_set_num_threads(thr)

    # every (threads, chunk, QR) with sigma as critnet's probes=1 run does it, then the spectrum alone for the
    # fastest (chunk, QR) of each thread count
    best_thr = None
    for thr in [int(t) for t in a.threads.split(",")]:
        set_threads(thr)
        tried = [run(thr, chunk, name, True) for chunk in sorted({min(int(c), N) for c in a.chunks.split(",")})
                 for name in impls]
        top = min(tried, key=lambda c: c["best_s"])
        run(thr, top["chunk"], top["impl"], False)
        if best_thr is None or top["best_s"] < best_thr[1]:
            best_thr = (thr, top["best_s"])
    if a.generic:  # context only: once, at the faster thread count
        thr, chunk = best_thr[0], min(100, N)
        set_threads(thr)
        t0 = time.perf_counter()
        lam = spectrum_generic(Ws, bs, act, x, q0, chunk)
        dt = time.perf_counter() - t0
        spec, se = summarize(lam)
        configs.append({"impl": "generic_autograd", "threads": thr, "chunk": chunk, "config": "spectrum",
                        "best_s": dt, "median_s": dt, "spectrum": spec, "spectrum_se": se, "lambda_max": spec[0]})
        print("  threads %d  chunk %4d  %-11s %-16s once %8.3f s  lambda_0 %+.5f" %
              (thr, chunk, "generic", "spectrum", dt, spec[0]))
    res = {"torch_version": torch.__version__, "openblas": blas.openblas_get_config().decode() if blas else None,
           "inputs": N, "k": k, "depth": len(Ws), "width": Ws[0].shape[0], "act": act, "reps": a.reps,
           "configs": configs}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
