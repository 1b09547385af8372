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
`--generic` also times what a PyTorch user would write without that: nn.Sequential with forward-mode
autograd (torch.autograd.forward_ad) on k tangents per input and torch.linalg.qr; context only.

What is timed, per configuration (best and median of --reps, wall clock): the forward pass, the spectrum
and, in the "spectrum+sigma1" variant, sigma with one Gaussian probe per block and input (critnet's
cn_measure with probes=1 does that much). Every implementation's spectrum is returned so that the caller
can check it against critnet's (run_spectrum.sh requires agreement to 1e-3).
"""
import argparse
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


def qr_householder(Z):
    """Z (B, k, n): rows are tangents. Returns ln|R_ii| (B, k) and the orthonormal rows (B, k, n)."""
    Q, R = torch.linalg.qr(Z.transpose(1, 2))  # each (n, k) matrix is column-major in Z: no copy
    return torch.log(torch.diagonal(R, dim1=1, dim2=2).abs()), Q.transpose(1, 2)


def qr_cholqr2(Z):
    lnr = 0
    for _ in range(2):
        G = torch.bmm(Z, Z.transpose(1, 2))
        L, info = torch.linalg.cholesky_ex(G)
        if info.any():
            raise RuntimeError("CholeskyQR2: Gram matrix not positive definite in float32")
        Z = torch.linalg.solve_triangular(L, Z, upper=False)
        lnr = lnr + torch.log(torch.diagonal(L, dim1=1, dim2=2))
    return lnr, Z


def spectrum_fast(Ws, bs, act, x, q0, chunk, qr, sigma, gen):
    """lambda per input (N, k), float64 sums of float32 ln R; ln sigma per input (N) or None"""
    N, k = x.shape[0], q0.shape[0]
    L = len(Ws)
    lam = torch.zeros(N, k, dtype=torch.float64)
    ln_sig = torch.zeros(N, dtype=torch.float64) if sigma else None
    for s in range(0, N, chunk):
        h = x[s:s + chunk]
        B = h.shape[0]
        Q = None
        for l, (W, b) in enumerate(zip(Ws, bs)):
            n_in, n = W.shape[1], W.shape[0]
            z = torch.addmm(b, h, W.t())
            if act == "tanh":
                h = torch.tanh(z)
                d = 1 - h * h
            else:
                h = torch.relu(z)
                d = (z > 0).to(z.dtype)
            if Q is None:
                Z = (q0 @ W.t()).unsqueeze(0) * d.unsqueeze(1)         # Q0 W^T, the same for every input
            else:
                Z = (Q.reshape(B * k, n_in) @ W.t()).reshape(B, k, n) * d.unsqueeze(1)
            lnr, Q = qr(Z)
            lam[s:s + B] += (lnr.double() + 0.5 * math.log(n_in / n)) / L
            Q = Q.contiguous()
            if sigma:
                u = torch.randn(B, n_in, generator=gen)
                t = (u @ W.t()) * d
                ln_sig[s:s + B] += 0.5 * torch.log(((t * t).sum(1) / n) / ((u * u).sum(1) / n_in)).double() / L
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
                lnr, Q = qr_householder(t.reshape(B, k, n))
                lam[s:s + B] += (lnr.double() + 0.5 * math.log(n_in / n)) / L
    return lam


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
    print("torch %s: MLP %d x %d %s, %d inputs, k=%d; seconds per call (best, median of %d)" %
          (torch.__version__, len(Ws), Ws[0].shape[0], act, N, k, a.reps))
    for thr in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(thr)
        for chunk in sorted({min(int(c), N) for c in a.chunks.split(",")}):
            for name, qr in impls.items():
                for sigma in (False, True):
                    times = []
                    for _ in range(a.reps):
                        gen = torch.Generator().manual_seed(7)
                        t0 = time.perf_counter()
                        lam, ln_sig = spectrum_fast(Ws, bs, act, x, q0, chunk, qr, sigma, gen)
                        times.append(time.perf_counter() - t0)
                    spec, se = summarize(lam)
                    c = {"impl": name, "threads": thr, "chunk": chunk,
                         "config": "spectrum+sigma1" if sigma else "spectrum",
                         "best_s": min(times), "median_s": float(np.median(times)), "spectrum": spec,
                         "spectrum_se": se, "lambda_max": spec[0]}
                    if sigma:
                        c["sigma"] = math.exp(ln_sig.mean().item())
                    configs.append(c)
                    print("  threads %d  chunk %4d  %-11s %-16s best %8.3f s  median %8.3f s  lambda_0 %+.5f%s" %
                          (thr, chunk, name, c["config"], c["best_s"], c["median_s"], spec[0],
                           "  sigma %.5f" % c["sigma"] if sigma else ""))
        if a.generic:
            chunk = min(100, N)
            t0 = time.perf_counter()
            lam = spectrum_generic(Ws, bs, act, x, q0, chunk)
            dt = time.perf_counter() - t0
            spec, se = summarize(lam)
            configs.append({"impl": "generic_autograd", "threads": thr, "chunk": chunk, "config": "spectrum",
                            "best_s": dt, "median_s": dt, "spectrum": spec, "spectrum_se": se,
                            "lambda_max": spec[0]})
            print("  threads %d  chunk %4d  %-11s %-16s once %8.3f s  lambda_0 %+.5f" %
                  (thr, chunk, "generic", "spectrum", dt, spec[0]))
    res = {"torch_version": torch.__version__, "inputs": N, "k": k, "depth": len(Ws), "width": Ws[0].shape[0],
           "act": act, "reps": a.reps, "configs": configs}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
