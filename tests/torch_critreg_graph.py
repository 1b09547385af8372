"""torch_critreg_graph.py OUTDIR: PyTorch's reference for the criticality regulariser on imported graphs
(test_critreg_graph_f64.c).

For a residual network with batch norm and tanh (the architecture the layer version refuses) and an MLP with
layer norm, GELU, a sigmoid gate (a product of two activations) and softplus, each exported to ONNX, in eval
mode and in training mode (batch norm on the batch's statistics), it computes in float64 with torch's double
backward:
  - sigma target: R = (1/L) sum_l (ln sigma_l)^2 over the blocks (the top-level modules before the readout),
    sigma_l^2 = (sum |J_l u_l|^2 / n_l) / (sum |u_l|^2 / n_{l-1}), J_l the block's Jacobian at the forward's
    values (all examples at once, so batch norm's statistics move with the tangent);
  - lambda target: G = (1/2) ln[(sum |J u|^2 / n_L) / (sum |u|^2 / n_0)] through every block, which does not
    depend on where the blocks are cut; the test forms lambda = G / L and R = lambda^2 with critnet's L;
and the gradients of R (sigma) and of G (lambda) with respect to every parameter, by the initializer's name.
Batch norm and layer norm run as elementary ops (mean, variance, sqrt) for the reference: in Debian's torch
1.13 the double backward of the fused F.batch_norm (training mode) and F.layer_norm disagrees with central
differences of the same torch function (by 2x to 7x on a Linear + norm block), while the elementary
form agrees to 1e-9.
The probes u_l of block l are the first m * B * n_{l-1} values of one array u, as the C side reads them.

File format: magic CNCRG1, train u32, batch u32, probes u32, name, text "onnx FILE target T blocks B1,B2,..",
tensors x, u, R (sigma) or G (lambda), and "g:NAME" per parameter; cases.txt lists the files.
"""
import os
import struct
import sys
import types

import torch
import torch.nn as nn

MAGIC = b"CNCRG1\0\0"
B, M = 4, 2


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.b1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.b2(self.c2(torch.tanh(self.b1(self.c1(x))))))


class Gated(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin = nn.Linear(n, n)
        self.norm = nn.LayerNorm(n)
        self.gate = nn.Linear(n, n)

    def forward(self, x):
        h = nn.functional.gelu(self.norm(self.lin(x)))
        return h * torch.sigmoid(self.gate(x))


def resnet():
    return nn.Sequential(nn.Sequential(nn.Conv2d(2, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.Tanh()), Residual(4),
                         Residual(4), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))), (2, 6, 6)


def gated_mlp():
    return nn.Sequential(nn.Sequential(nn.Linear(10, 12), nn.Softplus()), Gated(12), Gated(12),
                         nn.Linear(12, 3)), (10,)


def randomize(m, g):
    """batch-norm statistics and affine parameters away from their defaults, all distinct (the exporter merges
    equal initializers)"""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm2d, nn.LayerNorm)):
                mod.weight.copy_(0.8 + 0.6 * torch.rand(mod.weight.shape, generator=g))
                mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=g))
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
                mod.running_var.copy_(0.7 + 0.6 * torch.rand(mod.running_var.shape, generator=g))


def bn_elementary(self, x):
    """batch norm from elementary ops: torch 1.13's fused batch norm and layer norm have double backwards that
    disagree with central differences (see the module docstring), elementary ops' do not"""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    if self.training:
        mean = x.mean(dim=[0] + list(range(2, x.dim())), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=[0] + list(range(2, x.dim())), keepdim=True)
    else:
        mean, var = self.running_mean.view(shape), self.running_var.view(shape)
    return (x - mean) / torch.sqrt(var + self.eps) * self.weight.view(shape) + self.bias.view(shape)


def ln_elementary(self, x):
    dims = list(range(x.dim() - len(self.normalized_shape), x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
    return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def elementary_norms(model):
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.forward = types.MethodType(bn_elementary, mod)
        if isinstance(mod, nn.LayerNorm):
            mod.forward = types.MethodType(ln_elementary, mod)


def block_ends(model_onnx, count):
    """the output of the last node of each of the first `count` top-level modules (node names /i/...)"""
    ends = []
    for i in range(count):
        last = [n for n in model_onnx.graph.node if n.name.startswith("/%d/" % i)][-1]
        ends.append(last.output[0])
    return ends


def jvp(f, h, u):
    """J_f(h) u, differentiable (double backward through a dummy cotangent)"""
    y = f(h)
    w = torch.zeros_like(y, requires_grad=True)
    (gh,) = torch.autograd.grad(y, h, w, create_graph=True)
    (v,) = torch.autograd.grad(gh, w, u, create_graph=True)
    return v


def write(path, name, text, train, tensors):
    def s(b):
        return struct.pack("<I", len(b)) + b
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<III", train, B, M))
        f.write(s(name.encode()) + s(text.encode()))
        f.write(struct.pack("<I", len(tensors)))
        for tname, v in tensors:
            v = [float(e) for e in v.detach().reshape(-1).tolist()]
            f.write(s(tname.encode()) + struct.pack("<Q", len(v)) + struct.pack("<%dd" % len(v), *v))


def main(out):
    import onnx
    cases = []
    for index, ctor in enumerate([resnet, gated_mlp]):
        torch.manual_seed(index)
        g = torch.Generator().manual_seed(100 + index)
        model, shape = ctor()
        randomize(model, g)
        fname = "%s.onnx" % ctor.__name__
        torch.onnx.export(model.eval(), torch.randn(1, *shape), os.path.join(out, fname), input_names=["input"],
                          output_names=["output"], opset_version=17, dynamic_axes={"input": {0: "batch"}},
                          do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
        blocks = list(model)[:-1]
        ends = block_ends(onnx.load(os.path.join(out, fname)), len(blocks))
        model = model.double()
        elementary_norms(model)
        x = torch.randn((B,) + shape, generator=g, dtype=torch.float64)
        # the widest block input, m probes of B rows
        widths, h = [], x
        with torch.no_grad():
            for blk in blocks:
                widths.append(h[0].numel())
                h = blk.eval()(h)
        u = torch.randn(M * B * max(widths), generator=g, dtype=torch.float64)
        names = dict(model.named_parameters())
        for train in (0, 1):
            model.train(bool(train))
            for target in ("sigma", "lambda"):
                h = x.detach().requires_grad_(True)
                terms = []
                for li, blk in enumerate(blocks):
                    n_in = h[0].numel()
                    if target == "sigma" or li == 0:
                        probes = u[:M * B * n_in].reshape((M, B) + tuple(h.shape[1:]))
                        tangents = [probes[k] for k in range(M)]
                        u_norm = sum((t * t).sum() for t in tangents) / n_in
                    tangents = [jvp(blk, h, t) for t in tangents]
                    h = blk(h)
                    if target == "sigma":
                        s = sum((t * t).sum() for t in tangents) / h[0].numel()
                        terms.append(0.5 * torch.log(s / u_norm))
                if target == "sigma":
                    value = sum(t * t for t in terms) / len(terms)
                else:
                    s = sum((t * t).sum() for t in tangents) / h[0].numel()
                    value = 0.5 * torch.log(s / u_norm)
                params = [p for p in model.parameters()]
                grads = torch.autograd.grad(value, params, allow_unused=True)
                tensors = [("x", x), ("u", u), ("R" if target == "sigma" else "G", value)]
                for (pname, p), gp in zip(names.items(), grads):
                    tensors.append(("g:" + pname, gp if gp is not None else torch.zeros_like(p)))
                case = "%s_%s_%s" % (ctor.__name__, target, "train" if train else "eval")
                text = "onnx %s target %s blocks %s" % (fname, target, ",".join(ends))
                write(os.path.join(out, case + ".ref"), case, text, train, tensors)
                cases.append(case + ".ref")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
