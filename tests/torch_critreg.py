#!/usr/bin/env python3
"""torch_critreg.py: an independent PyTorch (float64) computation of critnet's criticality regulariser and
its gradient, the reference for tests/test_torch_critreg.c.

Usage: /usr/bin/python3 tests/torch_critreg.py DIR

For every DIR/*.in written by the C test (critnet's weights, inputs, block boundaries and the very probes
that cn_critreg_apply draws) this builds the network with tests/torch_ref.py's build() (same parameter
order as critnet), loads the parameters and computes

    R = (1/L) sum_l (ln sigma_l)^2,   sigma_l^2 = (sum_{k,b} |J_l u_kb|^2 / n_out) / (sum_{k,b} |u_kb|^2 / n_in)

or, for the lambda target, one tangent per probe k and example b through the whole span of blocks,

    lambda = (1/L) (1/2) ln[(sum_{k,b} |J u_kb|^2 / n_out) / (sum_{k,b} |u_kb|^2 / n_in)],   R = lambda^2

(the plain product, without critnet's per-block rescaling), with J u formed by the
double-vjp trick under create_graph=True (so the jvp is itself differentiable,
in the primal point as well as in the weights), then dR/dtheta by reverse mode through it. It writes
DIR/NAME.out: R then dR/dtheta (flat, critnet order), all float64.

Only the first Bc examples of the batch enter R (critnet's --crit-batch).

Input file (little-endian): u32 spec length + spec text; u32 B, m, L, target (0 sigma, 1 lambda), Bc;
L x i32 [first, last, n_in, n_out]; u64 np + np float64 params; B*n_in float64 x; the probes, laid out
(m, Bc, n_in): sigma, one set per block; lambda, one set for the first block's input.
"""
import glob
import os
import struct
import sys
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from torch_ref import build  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.o)
        self.o += struct.calcsize("<" + fmt)
        return v

    def doubles(self, n):
        a = array("d")
        a.frombytes(self.d[self.o:self.o + 8 * n])
        self.o += 8 * n
        return torch.tensor(a, dtype=torch.float64)


def jvp(f, h, u):
    """J_f(h) u, differentiable (create_graph) in h, u and f's parameters: the double-vjp trick."""
    if not h.requires_grad:
        h = h.detach().requires_grad_(True)
    y = f(h)
    v = torch.zeros_like(y, requires_grad=True)
    (g,) = torch.autograd.grad(y, h, v, create_graph=True)
    (ju,) = torch.autograd.grad(g, v, u, create_graph=True)
    return ju


def sigma_target(layers, acts, blocks, probes, Bc):
    R = torch.zeros(())
    L = len(blocks)
    for (first, last, n_in, n_out), u in zip(blocks, probes):
        f = torch.nn.Sequential(*layers[first:last + 1])
        h = acts[first][:Bc]
        assert h[0].numel() == n_in, "block %d-%d: n_in %d vs %d" % (first, last, h[0].numel(), n_in)
        S = torch.zeros(())
        for k in range(u.shape[0]):
            ju = jvp(f, h, u[k].reshape(h.shape))
            assert ju[0].numel() == n_out
            S = S + (ju * ju).sum()
        S = S / n_out
        U = (u * u).sum() / n_in
        ln_sigma = 0.5 * torch.log(S / U)
        R = R + ln_sigma ** 2 / L
    return R


def lambda_target(layers, acts, blocks, u, Bc):
    first, last, L = blocks[0][0], blocks[-1][1], len(blocks)
    n_in, n_out = blocks[0][2], blocks[-1][3]
    f = torch.nn.Sequential(*layers[first:last + 1])
    h = acts[first][:Bc]
    S = torch.zeros(())
    for k in range(u.shape[0]):
        ju = jvp(f, h, u[k].reshape(h.shape)).reshape(Bc, -1)
        assert ju.shape[1] == n_out
        S = S + (ju * ju).sum()
    lam = 0.5 * (torch.log(S / n_out) - torch.log((u * u).sum() / n_in)) / L
    return lam ** 2


def case(path):
    r = Reader(open(path, "rb").read())
    (n,) = r.take("I")
    text = r.d[r.o:r.o + n].decode()
    r.o += n
    B, m, L, target, Bc = r.take("IIIII")
    blocks = [r.take("iiii") for _ in range(L)]
    (np_,) = r.take("Q")
    theta = r.doubles(np_)
    model, in_shape, _ = build(text)
    params = list(model.parameters())
    assert sum(p.numel() for p in params) == np_, "parameter count %d vs critnet's %d" % (
        sum(p.numel() for p in params), np_)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(theta, params)
    nin = in_shape[0] * in_shape[1] * in_shape[2]
    x = r.doubles(B * nin).reshape(B, nin)
    sets = L if target == 0 else 1
    probes = [r.doubles(m * Bc * bl[2]).reshape(m, Bc, bl[2]) for bl in blocks[:sets]]
    assert r.o == len(r.d), "trailing bytes in %s" % path
    layers = list(model)
    # the primal activations entering each layer, as functions of the parameters
    acts = [x]
    for lay in layers:
        acts.append(lay(acts[-1]))
    if target == 1:
        R = lambda_target(layers, acts, blocks, probes[0], Bc)
    else:
        R = sigma_target(layers, acts, blocks, probes, Bc)
    # allow_unused: the readout's parameters do not enter R when it is left out; their gradient is 0
    grads = torch.autograd.grad(R, params, allow_unused=True)
    g = torch.cat([(t if t is not None else torch.zeros_like(p)).reshape(-1) for t, p in zip(grads, params)])
    with open(path[:-3] + ".out", "wb") as out:
        out.write(struct.pack("<d", R.item()))
        out.write(array("d", g.tolist()).tobytes())
    print("%s: R %.10g, %d parameters, max|dR/dtheta| %.4g" % (os.path.basename(path), R.item(), np_,
                                                                g.abs().max().item()))


def main():
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*.in")))
    assert files, "no *.in files in %s" % sys.argv[1]
    for path in files:
        case(path)


if __name__ == "__main__":
    main()
