#!/usr/bin/env python3
"""torch_ref.py: PyTorch reference data for tests/test_torch_ref.c.

Usage: /usr/bin/python3 tests/torch_ref.py OUTDIR

For every case below (a critnet model text) this builds the same network from torch.nn modules in float64,
fills it with deterministic random parameters, and writes one file OUTDIR/NAME.ref with the inputs and what
PyTorch computes from them: the forward output, the input and parameter gradients of <dout, y>, and the
whole-batch jvp. OUTDIR/cases.txt lists the files in order, one per line.

File format (all fields little-endian):
    magic     8 bytes  b"CNREF1\\0\\0"
    train     u32      1: training mode (batch statistics), 0: eval mode (running statistics)
    batch     u32      B
    tangents  u32      K
    name      u32 length, then UTF-8 bytes (no terminator)
    model     u32 length, then the model text
    count     u32      number of tensors, then for each:
        name  u32 length, then bytes
        n     u64      number of values
        data  n float64, row-major
Tensors: params (flat, critnet's order), state (batch-norm running mean/var before the forward), x (B,in),
dout (B,out), tx (K,B,in), y (B,out), dx (B,in), dparams (flat), ty (K,B,out), state_out (running statistics
after the forward; equal to state in eval mode).

Tangent k of tx is a perturbation of the whole batch, ty[k] = J tx[k] where J is the Jacobian of the batch
function x (B,in) -> y (B,out): in training mode it goes through the batch statistics of batch norm.

Every input (params, state, x, dout, tx) is rounded to float32 first, so the C side (float) reads exactly
the numbers the reference used; only the arithmetic differs. Seeds are retried until no ReLU/leaky-ReLU
pre-activation lies within KINK_MARGIN of 0 and no max-pool window has its two largest values within
KINK_MARGIN of each other (exact ties, e.g. zeros after a ReLU, are harmless: both sides pick the first),
so float32 rounding cannot move a point across a kink.

The jvp is computed twice, by forward-mode AD (torch.autograd.forward_ad) and by the double-backward
trick, and the script fails unless both agree: a self-check of the reference itself.
"""
import os
import struct
import sys

import torch
import torch.nn as nn
from torch.autograd import forward_ad as fwAD

B = 4          # batch
K = 2          # tangents
KINK_MARGIN = 1e-4
SELF_TOL = 1e-9  # forward-AD vs double-backward jvp, relative to the largest value
MAGIC = b"CNREF1\0\0"

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

ACTS = ["identity", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "elu"]


def make_act(name):
    return {
        "identity": nn.Identity,
        "linear": nn.Identity,
        "none": nn.Identity,
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": lambda: nn.GELU(),  # exact erf form
        "silu": nn.SiLU,
        "elu": lambda: nn.ELU(alpha=1.0),
    }[name]()


def canon(y, shape):
    """critnet keeps (C,1,1) shapes flat: (B,C); feature maps are (B,C,H,W)."""
    c, h, w = shape
    return y.reshape(y.shape[0], c) if h == 1 and w == 1 else y.reshape(y.shape[0], c, h, w)


class Dense(nn.Module):
    def __init__(self, nin, out, bias, act):
        super().__init__()
        self.lin = nn.Linear(nin, out, bias=bias)
        self.act = make_act(act)

    def forward(self, x):
        return self.act(self.lin(x.reshape(x.shape[0], -1)))


class Conv(nn.Module):
    def __init__(self, shape, out, k, stride, pad, groups, dilation, bias, act):
        super().__init__()
        self.shape = shape
        self.conv = nn.Conv2d(shape[0], out, k, stride=stride, padding=pad, dilation=dilation, groups=groups,
                              bias=bias)
        self.act = make_act(act)

    def forward(self, x):
        return self.act(self.conv(x.reshape(x.shape[0], *self.shape)))


class Pool(nn.Module):
    def __init__(self, shape, pool):
        super().__init__()
        self.shape = shape
        self.pool = pool

    def forward(self, x):
        return self.pool(x.reshape(x.shape[0], *self.shape))


class Gap(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape).mean(dim=(2, 3))


class Flatten(nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class BatchNorm(nn.Module):
    def __init__(self, shape, eps, momentum, act):
        super().__init__()
        self.shape = shape
        c, h, w = shape
        self.flat = h == 1 and w == 1
        self.bn = (nn.BatchNorm1d if self.flat else nn.BatchNorm2d)(c, eps=eps, momentum=momentum)
        self.act = make_act(act)

    def forward(self, x):
        x = x.reshape(x.shape[0], self.shape[0]) if self.flat else x.reshape(x.shape[0], *self.shape)
        return self.act(self.bn(x))


class LayerNorm(nn.Module):
    def __init__(self, shape, eps, act):
        super().__init__()
        self.shape = shape
        self.ln = nn.LayerNorm(list(shape), eps=eps)
        self.act = make_act(act)

    def forward(self, x):
        return self.act(self.ln(x.reshape(x.shape[0], *self.shape)))


class Act(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.act = make_act(act)

    def forward(self, x):
        return self.act(x)


class Shaped(nn.Module):
    """A layer followed by the reshape to critnet's canonical form of its output shape."""

    def __init__(self, layer, out_shape):
        super().__init__()
        self.layer = layer
        self.out_shape = out_shape

    def forward(self, x):
        return canon(self.layer(x), self.out_shape)


class Residual(nn.Module):
    """y = act(body(x) + skip(x)); parameters: the body's, then the projection's."""

    def __init__(self, body, proj, act, out_shape):
        super().__init__()
        self.body = body
        self.proj = proj
        self.act = make_act(act)
        self.out_shape = out_shape

    def forward(self, x):
        h = self.body(x)
        s = canon(self.proj(x), self.out_shape) if self.proj is not None else x
        return self.act(h + s)


def parse_args(tokens, allowed):
    args = {}
    for t in tokens:
        k, v = t.split("=", 1)
        if k not in allowed:
            raise ValueError("unknown key %s" % k)
        args[k] = v
    return args


def build(text):
    """critnet model text -> (torch module, input shape, output shape)."""
    lines = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            lines.append(line)
    assert lines[0][0] == "input"
    dims = [int(v) for v in lines[0][1:]]
    in_shape = tuple(dims) if len(dims) == 3 else (dims[0], 1, 1)
    # stack of frames: [layers, in_shape, cur_shape, residual args]
    stack = [[[], in_shape, in_shape, None]]
    for tok in lines[1:]:
        kind, rest = tok[0], tok[1:]
        frame = stack[-1]
        cur = frame[2]
        c, h, w = cur
        if kind == "residual":
            a = parse_args(rest, {"act", "skip"})
            stack.append([[], cur, cur, a])
            continue
        if kind == "end":
            body_layers, rin, rout, a = stack.pop()
            skip = a.get("skip", "auto")
            same = rin == rout
            proj = None
            if skip == "projection" or (skip == "auto" and not same):
                if rin[1] == 1 and rin[2] == 1 and rout[1] == 1 and rout[2] == 1:
                    proj = nn.Sequential(Shaped(Dense(rin[0] * rin[1] * rin[2], rout[0], True, "identity"), rout))
                else:
                    has_bn = any(isinstance(m.layer, BatchNorm) for m in body_layers if isinstance(m, Shaped))
                    stride = rin[1] // rout[1]
                    conv = Conv(rin, rout[0], 1, stride, 0, 1, 1, not has_bn, "identity")
                    mods = [Shaped(conv, rout)]
                    if has_bn:
                        mods.append(Shaped(BatchNorm(rout, 1e-5, 0.1, "identity"), rout))
                    proj = nn.Sequential(*mods)
            else:
                assert same
            res = Residual(nn.Sequential(*body_layers), proj, a.get("act", "identity"), rout)
            stack[-1][0].append(res)
            stack[-1][2] = rout
            continue
        if kind in ("dense", "linear"):
            a = parse_args(rest, {"out", "act", "bias"})
            out = (int(a["out"]), 1, 1)
            layer = Dense(c * h * w, out[0], int(a.get("bias", "1")) != 0, a.get("act", "identity"))
        elif kind in ("conv", "conv2d"):
            a = parse_args(rest, {"out", "k", "stride", "pad", "groups", "dilation", "bias", "act"})
            k, s, p, d = int(a.get("k", 3)), int(a.get("stride", 1)), int(a.get("pad", 0)), int(a.get("dilation", 1))
            ho = (h + 2 * p - d * (k - 1) - 1) // s + 1
            wo = (w + 2 * p - d * (k - 1) - 1) // s + 1
            out = (int(a["out"]), ho, wo)
            layer = Conv(cur, out[0], k, s, p, int(a.get("groups", 1)), d, int(a.get("bias", "1")) != 0,
                         a.get("act", "identity"))
        elif kind in ("maxpool", "avgpool"):
            a = parse_args(rest, {"k", "stride", "pad"})
            k = int(a.get("k", 2))
            s, p = int(a.get("stride", k)), int(a.get("pad", 0))
            out = (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            pool = (nn.MaxPool2d(k, s, p) if kind == "maxpool" else
                    nn.AvgPool2d(k, s, p, ceil_mode=False, count_include_pad=True))
            layer = Pool(cur, pool)
        elif kind == "gap":
            out = (c, 1, 1)
            layer = Gap(cur)
        elif kind == "flatten":
            out = (c * h * w, 1, 1)
            layer = Flatten()
        elif kind == "batchnorm":
            a = parse_args(rest, {"act", "eps", "momentum"})
            out = cur
            layer = BatchNorm(cur, float(a.get("eps", 1e-5)), float(a.get("momentum", 0.1)), a.get("act", "identity"))
        elif kind == "layernorm":
            a = parse_args(rest, {"act", "eps"})
            out = cur
            layer = LayerNorm(cur, float(a.get("eps", 1e-5)), a.get("act", "identity"))
        elif kind == "act":
            a = parse_args(rest, {"fn"})
            out = cur
            layer = Act(a["fn"])
        else:
            raise ValueError("layer kind %s has no reference here" % kind)
        frame[0].append(Shaped(layer, out))
        frame[2] = out
    assert len(stack) == 1
    return nn.Sequential(*stack[0][0]), in_shape, stack[0][2]


def f32(t):
    """round to float32 and back, so that the C side reads exactly these numbers"""
    return t.float().double()


def randomize(model):
    """Random parameters of order-one effect (unlike torch's init, biases and norm affines are far from
    0 and 1, so a gradient or jvp that ignores them shows) and non-trivial running statistics."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(f32(torch.randn_like(m.weight) * (1.5 / fan_in) ** 0.5))
                if m.bias is not None:
                    m.bias.copy_(f32(0.3 * torch.randn_like(m.bias)))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.copy_(f32(torch.empty_like(m.weight).uniform_(0.5, 1.5)))
                m.bias.copy_(f32(0.3 * torch.randn_like(m.bias)))
                if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    m.running_mean.copy_(f32(0.5 * torch.randn_like(m.running_mean)))
                    m.running_var.copy_(f32(torch.empty_like(m.running_var).uniform_(0.5, 2.0)))


def bn_modules(model):
    return [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]


def get_state(model):
    """critnet's state buffer: per batch norm, in layer order, running_mean then running_var"""
    parts = []
    for m in bn_modules(model):
        parts += [m.running_mean.reshape(-1), m.running_var.reshape(-1)]
    return torch.cat(parts).clone() if parts else torch.zeros(0)


def set_state(model, state):
    i = 0
    with torch.no_grad():
        for m in bn_modules(model):
            for buf in (m.running_mean, m.running_var):
                buf.copy_(state[i:i + buf.numel()])
                i += buf.numel()
            m.num_batches_tracked.zero_()


def maxpool_gaps(mod, inp):
    """For a Pool module's forward-pre-hook: the gap between the two largest values of every max-pool
    window, (B, C, windows); None when the pool is not a max pool."""
    p = mod.pool
    if not isinstance(p, nn.MaxPool2d):
        return None
    v = inp[0].reshape(inp[0].shape[0], *mod.shape)
    if p.padding:
        v = nn.functional.pad(v, [p.padding] * 4, value=float("-inf"))
    cols = nn.functional.unfold(v, p.kernel_size, stride=p.stride)  # (B, C*k*k, L)
    cols = cols.reshape(v.shape[0], v.shape[1], p.kernel_size * p.kernel_size, -1)
    top = cols.topk(2, dim=2).values
    return top[:, :, 0] - top[:, :, 1]


def run_kink_hooks(model, x, relu_hook, pool_hook):
    """One forward pass (no grad) of x with relu_hook as the forward-pre-hook of every ReLU/LeakyReLU and
    pool_hook of every Pool; the hooks are removed afterwards."""
    hooks = []
    for m in model.modules():
        if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            hooks.append(m.register_forward_pre_hook(relu_hook))
        elif isinstance(m, Pool):
            hooks.append(m.register_forward_pre_hook(pool_hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()


def kink_margin(model, x):
    """Smallest distance of a ReLU input to 0, and of a max-pool window's top two values (exact ties
    excluded), over one forward pass."""
    margins = []

    def relu_hook(mod, inp):
        margins.append(inp[0].abs().min().item())

    def pool_hook(mod, inp):
        gap = maxpool_gaps(mod, inp)
        if gap is None:
            return
        gap = gap[gap > 0]
        if gap.numel():
            margins.append(gap.min().item())

    run_kink_hooks(model, x, relu_hook, pool_hook)
    return min(margins) if margins else float("inf")


def reference(name, text, train, seed):
    for attempt in range(200):
        torch.manual_seed(seed * 1000 + attempt)
        model, in_shape, out_shape = build(text)
        randomize(model)
        model.train(bool(train))
        state = get_state(model)
        x = f32(torch.randn(B, *in_shape))
        x = canon(x, in_shape)
        margin = kink_margin(model, x)
        set_state(model, state)
        if margin > KINK_MARGIN:
            break
    else:
        raise RuntimeError("%s: no seed keeps the ReLU/max-pool points away from their kinks" % name)
    nin = in_shape[0] * in_shape[1] * in_shape[2]
    nout = out_shape[0] * out_shape[1] * out_shape[2]
    params = list(model.parameters())
    dout = f32(torch.randn(B, nout))
    tx = f32(torch.randn(K, B, nin))

    # forward and backward
    xr = x.clone().requires_grad_(True)
    y = model(xr).reshape(B, nout)
    state_out = get_state(model)
    grads = torch.autograd.grad(y, [xr] + params, dout, retain_graph=True)
    dx = grads[0].reshape(B, nin)
    dparams = torch.cat([g.reshape(-1) for g in grads[1:]]) if params else torch.zeros(0)

    # jvp by double backward on the same graph: g(u) = J^T u is linear in u, and d<g(u), tx>/du = J tx
    u = torch.zeros_like(y, requires_grad=True)
    g = torch.autograd.grad(y, xr, u, create_graph=True)[0]
    ty_db = torch.stack([torch.autograd.grad(g, u, tx[k].reshape(g.shape), retain_graph=True)[0]
                         for k in range(K)]).reshape(K, B, nout)

    # jvp by forward-mode AD, each tangent on a fresh forward from the same running statistics
    ty_fw = []
    for k in range(K):
        set_state(model, state)
        with fwAD.dual_level():
            out = model(fwAD.make_dual(x, tx[k].reshape(x.shape)))
            ty_fw.append(fwAD.unpack_dual(out).tangent.reshape(B, nout).clone())
    ty = torch.stack(ty_fw)
    scale = max(ty.abs().max().item(), 1e-300)
    if (ty - ty_db).abs().max().item() > SELF_TOL * scale:
        raise RuntimeError("%s: forward-AD and double-backward jvp disagree by %g" %
                           (name, (ty - ty_db).abs().max().item()))
    set_state(model, state)
    with torch.no_grad():
        y2 = model(x).reshape(B, nout)
    if (y2 - y).abs().max().item() > SELF_TOL * max(y.abs().max().item(), 1e-300):
        raise RuntimeError("%s: the forward is not reproducible" % name)

    flat = torch.cat([p.detach().reshape(-1) for p in params]) if params else torch.zeros(0)
    return [("params", flat), ("state", state), ("x", x), ("dout", dout), ("tx", tx), ("y", y), ("dx", dx),
            ("dparams", dparams), ("ty", ty), ("state_out", state_out)]


def write_file(path, magic, header, name, text, tensors):
    """One reference file: magic, header (bytes, already packed), name, model text, then the tensors
    [(name, tensor)] as float64 (the layout in this file's docstring, less the run header)."""
    def blob(b):
        return struct.pack("<I", len(b)) + b

    with open(path, "wb") as f:
        f.write(magic)
        f.write(header)
        f.write(blob(name.encode()))
        f.write(blob(text.encode()))
        f.write(struct.pack("<I", len(tensors)))
        for tname, t in tensors:
            v = t.detach().reshape(-1).double().tolist()
            f.write(blob(tname.encode()))
            f.write(struct.pack("<Q", len(v)))
            f.write(struct.pack("<%dd" % len(v), *v))


def write_case(path, name, text, train, tensors):
    write_file(path, MAGIC, struct.pack("<III", train, B, K), name, text, tensors)


def script_main(script, write_all):
    """The command line of a reference script: `SCRIPT OUTDIR`. write_all(out) writes the case files into
    OUTDIR and returns their names, which go to OUTDIR/cases.txt in order."""
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUTDIR\n" % script)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    names = write_all(out)
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    print("%s: torch %s, %d cases written to %s" % (script, torch.__version__, len(names), out))
    return 0


RESNET = """input 3 8 8
conv out=4 k=3 pad=1 act=identity
batchnorm act=relu
residual act=relu
  conv out=4 k=3 stride=1 pad=1 act=identity
  batchnorm act=relu
  conv out=4 k=3 pad=1
  batchnorm
end
residual act=relu
  conv out=8 k=3 stride=2 pad=1 act=identity
  batchnorm act=relu
  conv out=8 k=3 pad=1
  batchnorm
end
residual act=relu
  conv out=16 k=3 stride=2 pad=1 act=identity
  batchnorm act=relu
  conv out=16 k=3 pad=1
  batchnorm
end
gap
flatten
dense out=10
"""

CNN = """input 1 8 8
conv out=4 k=3 pad=1 act=relu
maxpool k=2
conv out=8 k=3 pad=1 act=relu
maxpool k=2
flatten
dense out=128 act=relu
dense out=10
"""

CNN_BN = """input 2 8 8
conv out=4 k=3 pad=1 act=identity
batchnorm act=relu
maxpool k=2
conv out=8 k=3 pad=1 act=identity
batchnorm act=relu
maxpool k=2
flatten
dense out=16 act=relu
dense out=10
"""

MLP_LN = """input 1 4 4
flatten
dense out=16 act=identity
layernorm act=gelu
dense out=16 act=identity
layernorm act=gelu
dense out=10
"""

RES_CONV_BN = """input 2 6 6
residual act=relu
  conv out=4 k=3 stride=2 pad=1
  batchnorm act=relu
  conv out=4 k=3 pad=1
  batchnorm
end
"""

BN1D = "input 6\ndense out=5\nbatchnorm act=tanh\ndense out=3\n"
BN2D = "input 3 4 4\nbatchnorm act=relu\n"

# (name, model text, train)
CASES = []
for a in ACTS:
    CASES.append(("dense_" + a, "input 7\ndense out=6 act=%s\ndense out=3\n" % a, 1))
for a in ACTS:
    CASES.append(("act_" + a, "input 6\nact fn=%s\ndense out=3\n" % a, 1))
CASES += [
    ("dense_nobias", "input 7\ndense out=5 act=tanh bias=0\ndense out=3 bias=0\n", 1),
    ("dense_on_map", "input 2 3 3\ndense out=4 act=silu\n", 1),
    ("act_on_map", "input 2 3 3\nact fn=gelu\nconv out=2 k=3 pad=1\n", 1),
    ("conv_plain", "input 3 7 7\nconv out=4\n", 1),
    ("conv_stride2_pad1", "input 3 7 7\nconv out=4 k=3 stride=2 pad=1 act=tanh\n", 1),
    ("conv_groups2", "input 4 6 6\nconv out=6 k=3 pad=1 groups=2 act=relu\n", 1),
    ("conv_dilation2", "input 2 8 8\nconv out=3 k=3 pad=2 dilation=2 act=elu\n", 1),
    ("conv_relu", "input 2 6 6\nconv out=3 k=3 pad=1 act=relu\nconv out=2 k=3 pad=1 act=relu\n", 1),
    ("conv_all", "input 4 9 9\nconv out=4 k=3 stride=2 pad=1 groups=2 dilation=2 act=relu\nconv out=2 k=2 bias=0\n", 1),
    ("conv_1x1", "input 3 5 5\nconv out=4 k=1 act=gelu\n", 1),
    ("conv_1x1_stride2", "input 3 5 5\nconv out=4 k=1 stride=2 bias=0\n", 1),
    ("conv_k5_stride3", "input 2 9 9\nconv out=3 k=5 stride=3 pad=2 act=sigmoid\n", 1),
    ("maxpool_k2", "input 3 6 6\nmaxpool k=2\n", 1),
    ("maxpool_k3_s2_p1", "input 2 7 7\nmaxpool k=3 stride=2 pad=1\n", 1),
    ("maxpool_odd", "input 2 5 5\nmaxpool k=2\n", 1),
    ("avgpool_k2", "input 3 6 6\navgpool k=2\n", 1),
    ("avgpool_k3_s2_p1", "input 2 7 7\navgpool k=3 stride=2 pad=1\n", 1),
    ("avgpool_overlap_odd", "input 2 5 5\navgpool k=2 stride=1\n", 1),
    ("gap", "input 3 4 5\ngap\n", 1),
    ("flatten", "input 2 3 3\nflatten\ndense out=4 act=tanh\n", 1),
    ("batchnorm2d_train", BN2D, 1),
    ("batchnorm2d_eval", BN2D, 0),
    ("batchnorm1d_train", BN1D, 1),
    ("batchnorm1d_eval", BN1D, 0),
    ("batchnorm_eps_momentum", "input 3 3 3\nconv out=4 k=3 pad=1\nbatchnorm act=gelu eps=0.1 momentum=0.3\n", 1),
    ("layernorm_map", "input 3 4 4\nlayernorm act=gelu\n", 1),
    ("layernorm_flat", "input 6\ndense out=8\nlayernorm act=silu\ndense out=3\n", 1),
    ("layernorm_eps", "input 5\nlayernorm eps=0.1 act=elu\n", 0),
    ("residual_mlp_identity", "input 6\nresidual act=relu\n  dense out=8 act=tanh\n  dense out=6\nend\ndense out=3\n", 1),
    ("residual_conv_identity",
     "input 2 5 5\nresidual act=relu\n  conv out=2 k=3 pad=1 act=relu\n  conv out=2 k=3 pad=1\nend\n", 1),
    ("residual_dense_projection", "input 6\nresidual act=gelu\n  dense out=8 act=relu\nend\ndense out=3\n", 1),
    ("residual_forced_projection", "input 6\nresidual skip=projection act=tanh\n  dense out=6 act=elu\nend\n", 1),
    ("residual_conv_projection_bn_train", RES_CONV_BN, 1),
    ("residual_conv_projection_bn_eval", RES_CONV_BN, 0),
    ("residual_conv_projection_bias",
     "input 2 6 6\nresidual act=silu\n  conv out=4 k=3 stride=2 pad=1 act=relu\nend\n", 1),
    ("residual_nested",
     "input 5\nresidual act=tanh\n  residual act=relu\n    dense out=5 act=sigmoid\n  end\n  dense out=5\n"
     "  layernorm\nend\n", 1),
    ("residual_identity_bn",
     "input 2 4 4\nresidual skip=identity\n  batchnorm act=leaky_relu\n  conv out=2 k=3 pad=1\nend\ngap\n", 1),
    ("cnn", CNN, 1),
    ("cnn_batchnorm_train", CNN_BN, 1),
    ("cnn_batchnorm_eval", CNN_BN, 0),
    ("mlp_layernorm", MLP_LN, 1),
    ("resnet_train", RESNET, 1),
    ("resnet_eval", RESNET, 0),
]


def write_all(out):
    names = []
    for i, (name, text, train) in enumerate(CASES):
        tensors = reference(name, text, train, seed=i + 1)
        fname = name + ".ref"
        write_case(os.path.join(out, fname), name, text, train, tensors)
        names.append(fname)
    return names


def main():
    return script_main("torch_ref.py", write_all)


if __name__ == "__main__":
    sys.exit(main())
