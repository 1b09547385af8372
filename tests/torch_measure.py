#!/usr/bin/env python3
"""torch_measure.py: an independent PyTorch implementation of critnet's criticality measures, the reference
for tests/test_torch_measure.c.

Usage: /usr/bin/python3 tests/torch_measure.py OUTDIR

For every case (a critnet model text) this builds the network from torch.nn modules in float64 with the
builder of tests/torch_ref.py (same parameter order as critnet), fills it with random parameters and
non-trivial batch-norm running statistics (eval mode), draws N inputs and one orthonormal Q0 (k, n_in),
and computes, with autograd's forward mode on the same weights and inputs:

  - the block partition, from the rules of docs/criticality-measures.md applied to the model text
    (a block closes after a dense/conv/residual/act/normalisation layer unless the next layer is a
    normalisation or activation; pools and flatten open the next block; the readout is left out unless
    include_readout);
  - the EXACT sigma_l(x) = sqrt(||J_l(x)||_F^2 / n_l) from the full block Jacobian, its per-block
    geometric mean over inputs and the network value exp(E_x (1/L) sum_l ln sigma_l(x)). J_l is formed
    by forward-mode AD with identity tangents (or reverse mode with identity cotangents when the block
    has fewer outputs than inputs) in float32, because torch's float64 convolutions on the CPU are 5-15x
    slower; its rounding (~1e-6 relative, checked on the first input against a float64 Jacobian from the
    other AD mode) is ~1000x below the estimator noise that sets the sigma tolerance;
  - the noise that critnet's Hutchinson ratio estimate with m probes adds to those values (see below);
  - in float64, the Lyapunov spectrum by Benettin's method from the given Q0: Z = J_l Q (k jvps per input),
    Z = Q R (torch.linalg.qr), rho_i = ln|R_ii| + 1/2 ln(n_{l-1}/n_l), lambda_i = mean over blocks; the
    spectrum (mean over inputs) with its standard error and the per-block local exponents.

Estimator noise of critnet's sigma. critnet estimates sigma_l(x)^2 by the ratio s/u of s = (1/m) sum_p
|J u_p|^2 / n_out and u = (1/m) sum_p |u_p|^2 / n_in over m Gaussian probes u_p. With A = J^T J,
Var(u^T A u) = 2 tr(A^2), Var(u^T u) = 2 n_in and Cov(u^T A u, u^T u) = 2 tr(A), so by the delta method

    Var(ln sigma_hat) = r / (2m),   E[ln sigma_hat] - ln sigma = -r / (2m) + O(1/m^2),
    r = tr(A^2) / tr(A)^2 - 1/n_in       (0 for an isometry: the ratio form is then exact).

Over N inputs (independent probes per input and block) the mean of ln sigma_hat therefore has the
standard error sqrt(sum_x r_x / 2m) / N around ln sigma + bias. The file carries that standard error and
the bias for every block and for the network value; the C test requires
|ln sigma_critnet - ln sigma_exact - bias| <= 4 standard errors (+ 1e-5 for float rounding).

Inputs are float32-rounded so that critnet reads exactly the numbers used here. An input is redrawn
while any ReLU pre-activation lies within KINK_MARGIN of 0, or a max-pool window's two largest values
(exact ties excluded) lie within KINK_MARGIN of each other, so float32 rounding cannot move a point
across a kink and change a Jacobian.

File format (little-endian), one file per case, listed in OUTDIR/cases.txt:
    magic  8 bytes b"CNMEAS1\\0"
    name   u32 length + bytes; model: u32 length + text
    count  u32, then per tensor: name (u32 length + bytes), n (u64), n float64
Tensors: meta [N, k, probes, batch, include_readout, L], blocks (L x [first, last, n_in, n_out]), params,
state, x (N, n_in), q0 (k, n_in), ln_sigma_block (L), ln_sigma_block_se (L), ln_sigma_block_bias (L),
ln_sigma_net [value, se, bias], spectrum (k), spectrum_se (k), local (L x k).
"""
import copy
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from torch.autograd import forward_ad as fwAD  # noqa: E402

from torch_ref import build, canon, f32, get_state, maxpool_gaps, randomize, run_kink_hooks  # noqa: E402
from torch_ref import script_main, write_file  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

MAGIC = b"CNMEAS1\0"
KINK_MARGIN = 1e-4
PROBES = 256          # critnet's m for sigma in the C test
SELF_TOL = 1e-5       # float32 Jacobian vs float64 one by the other AD mode, relative to the largest entry

MLP = "input 32\n" + "dense out=32 act=tanh\n" * 6 + "dense out=10\n"

CNN = """input 1 12 12
conv out=4 k=3 pad=1 act=relu
maxpool k=2
conv out=8 k=3 pad=1 act=relu
flatten
dense out=32 act=relu
dense out=10
"""

RESNET = """input 3 8 8
conv out=4 k=3 pad=1
batchnorm act=relu
residual act=relu
  conv out=4 k=3 pad=1
  batchnorm act=relu
  conv out=4 k=3 pad=1
  batchnorm
end
residual act=relu
  conv out=8 k=3 stride=2 pad=1
  batchnorm act=relu
  conv out=8 k=3 pad=1
  batchnorm
end
residual act=relu
  conv out=16 k=3 stride=2 pad=1
  batchnorm act=relu
  conv out=16 k=3 pad=1
  batchnorm
end
gap
flatten
dense out=10
"""

# (name, model text, inputs N, exponents k, critnet batch, include_readout, seed)
CASES = [
    ("mlp_tanh", MLP, 48, 32, 20, 0, 1),          # k = width: the whole spectrum
    ("cnn", CNN, 40, 8, 16, 0, 2),
    ("cnn_with_readout", CNN, 24, 8, 10, 1, 3),   # --layers all: the readout is the last block
    ("resnet_bn_eval", RESNET, 32, 16, 12, 0, 4),
]


# ---------------------------------------------------------------- blocks, from the model text


def top_level_kinds(text):
    """kinds of the top-level layers, in order (a residual ... end is one layer)"""
    kinds, depth = [], 0
    for line in text.splitlines():
        tok = line.split("#", 1)[0].split()
        if not tok or tok[0] == "input":
            continue
        if tok[0] == "end":
            depth -= 1
            continue
        if depth == 0:
            kinds.append(tok[0])
        if tok[0] == "residual":
            depth += 1
    return kinds


MAIN = {"dense", "conv", "residual", "act", "batchnorm", "layernorm"}
JOINS_PREVIOUS = {"batchnorm", "layernorm", "act"}


def blocks_of(kinds, include_readout):
    """[(first, last)] layer ranges: a block closes after a main layer unless the next layer joins it"""
    out, first = [], 0
    for i, k in enumerate(kinds):
        last = i == len(kinds) - 1
        if last or (k in MAIN and kinds[i + 1] not in JOINS_PREVIOUS):
            out.append((first, i))
            first = i + 1
    if not include_readout and len(out) > 1:
        out.pop()
    return out


# ---------------------------------------------------------------- the measures


def kink_margins(model, x):
    """per input: the smallest distance of a ReLU input to 0 and of a max-pool window's top two values"""
    margin = torch.full((x.shape[0],), float("inf"))

    def relu_hook(mod, inp):
        v = inp[0].reshape(inp[0].shape[0], -1).abs().min(dim=1).values
        margin.copy_(torch.minimum(margin, v))

    def pool_hook(mod, inp):
        gap = maxpool_gaps(mod, inp)
        if gap is None:
            return
        gap = torch.where(gap > 0, gap, torch.full_like(gap, float("inf")))
        margin.copy_(torch.minimum(margin, gap.reshape(gap.shape[0], -1).min(dim=1).values))

    run_kink_hooks(model, x, relu_hook, pool_hook)
    return margin


def block_fn(model, first, last):
    mods = list(model.children())[first:last + 1]

    def f(h):
        for m in mods:
            h = m(h)
        return h

    return f


def jvp_batch(f, h, tangents):
    """f's jvp at each of h's inputs: h (N, *s), tangents (N, T, n) -> (N, T, n_out), and f(h)"""
    N, T = tangents.shape[0], tangents.shape[1]
    prim = h.repeat_interleave(T, dim=0)
    with fwAD.dual_level():
        out = f(fwAD.make_dual(prim, tangents.reshape(N * T, *h.shape[1:])))
        t = fwAD.unpack_dual(out).tangent
    return t.reshape(N, T, -1)


def jacobian_t(f, h, n_in, n_out):
    """J(x)^T (N, n_in, n_out) for each of h's inputs: forward mode with identity tangents when the block
    has fewer inputs than outputs, else reverse mode with identity cotangents (cost: min(n_in, n_out)
    copies of each input through the block)"""
    N = h.shape[0]
    if n_in <= n_out:
        return jvp_batch(f, h, torch.eye(n_in, dtype=h.dtype).expand(N, n_in, n_in))
    prim = h.repeat_interleave(n_out, dim=0).requires_grad_(True)
    out = f(prim).reshape(N, n_out, n_out)  # replica j of input x
    g = torch.autograd.grad(out, prim, torch.eye(n_out, dtype=h.dtype).expand(N, n_out, n_out))[0]
    return g.reshape(N, n_out, n_in).transpose(1, 2)


def measure(name, text, N, k, probes, include_readout, seed):
    torch.manual_seed(seed)
    model, in_shape, _ = build(text)
    randomize(model)
    model.eval()
    model32 = copy.deepcopy(model).float()
    n0 = in_shape[0] * in_shape[1] * in_shape[2]
    x = f32(torch.randn(N, n0))
    for _ in range(100):  # redraw the inputs that sit near a kink
        bad = kink_margins(model, canon(x, in_shape)) <= KINK_MARGIN
        if not bad.any():
            break
        x[bad] = f32(torch.randn(int(bad.sum()), n0))
    else:
        raise RuntimeError("%s: inputs keep landing near a ReLU/max-pool kink" % name)
    q0 = f32(torch.linalg.qr(torch.randn(n0, k))[0].T.contiguous())  # (k, n0), orthonormal rows

    blocks = blocks_of(top_level_kinds(text), include_readout)
    assert len(list(model.children())) == len(top_level_kinds(text))
    L = len(blocks)
    ln_sig = torch.zeros(N, L)
    noise_var = torch.zeros(N, L)  # Var(ln sigma_hat) of critnet's m-probe ratio estimate, per input
    local = torch.zeros(L, k)
    lam = torch.zeros(N, k)
    binfo = []
    h = canon(x, in_shape)
    Q = q0.unsqueeze(0).expand(N, k, n0).contiguous()
    for l, (first, last) in enumerate(blocks):
        f = block_fn(model, first, last)
        n_in = h[0].numel()
        with torch.no_grad():
            h_out = f(h)
        n_out = h_out[0].numel()
        binfo.append((first, last, n_in, n_out))

        # exact sigma from the full Jacobian, a few inputs at a time: Jt[x] = J(x)^T (n_in, n_out)
        f32_block = block_fn(model32, first, last)
        chunk = max(1, 4096 // min(n_in, n_out))
        for s in range(0, N, chunk):
            hs = h[s:s + chunk]
            Jt = jacobian_t(f32_block, hs.float(), n_in, n_out).double()
            trA = (Jt * Jt).sum(dim=(1, 2))
            G = Jt @ Jt.transpose(1, 2) if n_in <= n_out else Jt.transpose(1, 2) @ Jt
            trA2 = (G * G).sum(dim=(1, 2))
            ln_sig[s:s + chunk, l] = 0.5 * torch.log(trA / n_out)
            noise_var[s:s + chunk, l] = (trA2 / trA ** 2 - 1.0 / n_in) / (2 * probes)
            if s == 0:  # self-check on the first input: float64, by the other mode of autograd
                if n_in <= n_out:
                    Jchk = torch.autograd.functional.jacobian(lambda v: f(v).reshape(-1), hs[:1])
                    Jchk = Jchk.reshape(n_out, n_in).T
                else:
                    Jchk = jvp_batch(f, hs[:1], torch.eye(n_in).unsqueeze(0))[0]
                err = (Jchk - Jt[0]).abs().max().item()
                if err > SELF_TOL * max(Jchk.abs().max().item(), 1e-300):
                    raise RuntimeError("%s block %d: forward and reverse Jacobians differ by %g" % (name, l, err))

        # Benettin step
        Z = jvp_batch(f, h, Q)                     # (N, k, n_out): rows are J q_j
        Qn, R = torch.linalg.qr(Z.transpose(1, 2))  # (N, n_out, k), (N, k, k)
        rho = torch.log(torch.diagonal(R, dim1=1, dim2=2).abs()) + 0.5 * math.log(n_in / n_out)
        local[l] = rho.mean(dim=0)
        lam += rho / L
        Q = Qn.transpose(1, 2).contiguous()
        h = h_out

    se = lambda v: v.std(dim=0, unbiased=True) / math.sqrt(v.shape[0])  # noqa: E731
    ln_block = ln_sig.mean(dim=0)
    block_se = noise_var.sum(dim=0).sqrt() / N
    block_bias = -noise_var.mean(dim=0)
    ln_net = ln_sig.mean().item()
    net_se = noise_var.sum().sqrt().item() / (N * L)
    net_bias = -noise_var.mean().item()
    spectrum = lam.mean(dim=0)
    print("%s: %d inputs, %d blocks (%s), k=%d, lambda_0 %.6f, sigma %.6f (critnet's %d-probe estimate: "
          "se %.1e, bias %.1e)" % (name, N, L, ",".join("%d->%d" % (b[2], b[3]) for b in binfo), k,
                                   spectrum[0].item(), math.exp(ln_net), probes, net_se, net_bias))
    params = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    meta = torch.tensor([N, k, probes, 0, include_readout, L], dtype=torch.float64)
    return meta, [
        ("blocks", torch.tensor(binfo, dtype=torch.float64)), ("params", params), ("state", get_state(model)),
        ("x", x), ("q0", q0), ("ln_sigma_block", ln_block), ("ln_sigma_block_se", block_se),
        ("ln_sigma_block_bias", block_bias), ("ln_sigma_net", torch.tensor([ln_net, net_se, net_bias])),
        ("spectrum", spectrum), ("spectrum_se", se(lam)), ("local", local)]


def write_all(out):
    names = []
    for name, text, N, k, batch, readout, seed in CASES:
        meta, tensors = measure(name, text, N, k, PROBES, readout, seed)
        meta[3] = batch
        write_file(os.path.join(out, name + ".ref"), MAGIC, b"", name, text, [("meta", meta)] + tensors)
        names.append(name + ".ref")
    return names


def main():
    return script_main("torch_measure.py", write_all)


if __name__ == "__main__":
    sys.exit(main())
