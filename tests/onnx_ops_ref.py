#!/usr/bin/env python3
"""onnx_ops_ref.py: ONNX models and PyTorch reference data for tests/test_onnx_ops.c and
tests/test_onnx_grad_f64.c.

Usage: /usr/bin/python3 tests/onnx_ops_ref.py OUTDIR

Each model below is a small torch.nn module with seeded random weights. It is exported with
torch.onnx.export (input 'input', output 'output', the batch axis dynamic) to OUTDIR/NAME.onnx, at the
opset it names, so that together the models make torch write every operator of src/onnx/ops.c that its
exporter produces. The operators it never writes at opsets 11-17 (Dropout: eval export drops it; Gelu: an
opset-20 node, exported as its Erf decomposition; GlobalMaxPool: AdaptiveMaxPool2d(1) becomes MaxPool; Size)
go into one model built node by node with onnx.helper from a torch module's weights.

Then OUTDIR/NAME.ref holds, for an input x of batch 2 and a tangent t of the same shape:
    y   the torch float32 forward of x (the exported module itself, as a user would compare)
    jt  J t, the jvp at x, by forward-mode AD (torch.autograd.forward_ad) on a float64 copy of the module,
        so that the reference is accurate to ~1e-15 and the C side's error is all its own; it is computed a
        second time by double backward (torch.autograd.functional.jvp; central differences where torch has
        no double backward) and the script stops unless the two agree, a self-check of the reference
    in_shape, out_shape  the per-example shapes (no batch)
x and t are rounded to float32 first, so the C side reads exactly the numbers torch used.

The model text field of a .ref file is "onnx NAME.onnx\\nopset N\\nblocks B\\n": B is the number of blocks
(readout excluded) that docs/onnx.md#blocks gives where the structure makes it plain (a chain of
nonlinearities, residual blocks that end after Add+ReLU), -1 where it does not.

OUTDIR/cases.txt lists the .ref files; OUTDIR/ops_used.txt lists every op_type of every exported graph, one a
line, so the test can show that no operator of the table is left untested.

File format (all little-endian; the CNREF1 layout of tests/torch_ref.py with another magic):
    magic b"CNONNX1\\0", train u32 (0), batch u32 (2), tangents u32 (1), name (u32 length + bytes),
    text (u32 length + bytes), count u32, then per tensor: name (u32 length + bytes), n u64, n float64.

Inputs are redrawn (new seed) until no ReLU/ReLU6/LeakyReLU/Hardsigmoid/Hardswish input lies within
KINK_MARGIN of a kink, so float32 rounding cannot move the float32 run across one.
"""
import io
import math
import os
import struct
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import forward_ad as fwAD

import onnx
from onnx import TensorProto, helper, numpy_helper

MAGIC = b"CNONNX1\0"
B = 2
KINK_MARGIN = 1e-4
SELF_TOL = 1e-10  # forward AD vs double backward, relative to max |J t|

torch.set_num_threads(1)
warnings.filterwarnings("ignore")  # the exporter's notes on constant folding and dynamic axes


# ------------------------------------------------------------------ models

class Fn(nn.Module):
    """a function as a module, for the exporter"""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def randomize_bn(m, g):
    """running statistics far from (0, 1), so an eval-mode batch norm that ignored them would show"""
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
            mod.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.3)
            mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(c, generator=g) * 0.2)


def conv_stack():
    # groups, dilation, stride, a 1x7 kernel with (0,3) padding and stride (1,2); ReLU6 exports as Clip
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=2), nn.ReLU6(),
        nn.Conv2d(8, 6, (1, 7), stride=(1, 2), padding=(0, 3)), nn.Tanh(),
        nn.Flatten(), nn.Linear(6 * 6 * 3, 10))


def bn_pool():
    # a batch norm after a ReLU (not folded into a Conv by the exporter), max-pool with ceil_mode and padding,
    # average pools with and without the padding counted (the latter exports Pad + AveragePool), GAP
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(8),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),           # 16 -> 9
        nn.Conv2d(8, 8, 3, padding=1), nn.Sigmoid(),
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),  # 9 -> 5
        nn.Conv2d(8, 8, 1), nn.LeakyReLU(0.1),
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=True),   # 5 -> 3
        nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=True),                    # 3 -> 4
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def acts():
    # one activation per hidden layer; weights scaled so that pre-activations reach the bends of the
    # hard activations (+-3) and ELU's negative side
    m = nn.Sequential(nn.Flatten(), nn.Linear(32, 24), nn.Hardsigmoid(),
                      nn.Linear(24, 24), nn.Hardswish(),
                      nn.Linear(24, 24), nn.ELU(alpha=0.7),
                      nn.Linear(24, 24), nn.GELU(),
                      nn.Linear(24, 24), nn.SiLU(),
                      nn.Linear(24, 24), nn.Softplus(),
                      nn.Linear(24, 24), nn.Tanh(),
                      nn.Linear(24, 6))
    with torch.no_grad():
        for mod in m:
            if isinstance(mod, nn.Linear):
                mod.weight.mul_(3.0)
    return m


class Attention(nn.Module):
    """patch tokens, one two-head self-attention layer with a residual and LayerNorms, mean over tokens;
    the head split reads B and N from x.shape, so Shape/Gather/Unsqueeze/Concat feed the Reshapes; scores by
    MatMul of two activations, scores times values by Einsum"""

    def __init__(self, c=4, d=8, heads=2, classes=5):
        super().__init__()
        self.heads = heads
        self.embed = nn.Linear(c, d)
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        t = self.embed(x.flatten(2).transpose(1, 2))        # (B, N, d)
        b, n, d = t.shape
        h = self.ln1(t)
        q, k, v = self.qkv(h).split(d, dim=-1)
        q = q.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        k = k.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        v = v.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.heads), dim=-1)
        o = torch.einsum("bhnm,bhmd->bhnd", a, v).transpose(1, 2).reshape(b, n, d)  # Einsum, a batched GEMM
        t = t + self.proj(o)
        return self.head(self.ln2(t).mean(dim=1))


class ShapeOps(nn.Module):
    """split/chunk, strided slices, x[:, 0], reflect and constant padding, unsqueeze/squeeze, reductions,
    pow/sqrt/div/sub, concatenation and an eval-mode Dropout, all merging into one Linear"""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(4 * 4 * 4 + 2 * 8 * 4 + 8 * 8 + 4 + 4, 7)

    def forward(self, x):                                    # (B, 4, 8, 8)
        a, b = torch.split(x, [1, 3], dim=1)
        c1, c2 = x.chunk(2, dim=1)
        z = torch.cat([b, a * 2.0], dim=1)
        d = x / torch.sqrt(x.pow(2) + 1.0)
        h = (d + z)[:, :, ::2, 1::2] + x[:, :, 1::2, ::2]    # (B, 4, 4, 4)
        w = (c2 - c1)[:, :, ::2, :]                          # (B, 2, 4, 8)
        g = x[:, 0].unsqueeze(1).tanh().squeeze(1)           # (B, 8, 8)
        pr = F.pad(x, (1, 1, 2, 0), mode="reflect").mean(dim=(2, 3))
        pc = F.pad(x, (1, 2, 0, 1), value=0.5).mean(dim=(2, 3))
        f = torch.cat([h.flatten(1), w.flatten(1), g.flatten(1), pr, pc], dim=1)
        return self.fc(self.drop(f))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()  # modules, so that the kink check sees their inputs
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.relu1(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return self.relu2(h + (x if self.down is None else self.down(x)))


def resnet():
    # stem, an identity block, a strided block with a 1x1 projection: blocks end at the stem's ReLU and after
    # each Add+ReLU (the ReLU inside a block is no cut: the skip still holds the block's input)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         BasicBlock(8, 8, 1), BasicBlock(8, 16, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def conv1d():
    """Conv1d nets (rank-3 tensors): strided and padded, then depthwise"""
    return nn.Sequential(nn.Conv1d(3, 6, 5, stride=2, padding=2), nn.Tanh(),
                         nn.Conv1d(6, 6, 3, padding=1, groups=6), nn.Sigmoid(),
                         nn.Flatten(), nn.Linear(6 * 8, 5))


def conv3d():
    """Conv3d nets (rank-5 tensors): padded, then strided and grouped with a flat first kernel axis, then
    depthwise with a channel multiplier"""
    return nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.Tanh(),
                         nn.Conv3d(4, 4, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), groups=2), nn.Sigmoid(),
                         nn.Conv3d(4, 8, 3, padding=(1, 0, 0), dilation=(2, 1, 1), groups=4), nn.Tanh(),
                         nn.Flatten(), nn.Linear(8 * 2 * 1 * 1, 5))


def deconv():
    """ConvTranspose in 2-D (strided, padded, output_padding; grouped) and 1-D, as decoders write them"""
    class Deconv(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
            self.b = nn.ConvTranspose2d(4, 4, 2, stride=1, groups=2, bias=False)
            self.c = nn.ConvTranspose1d(4, 2, 3, stride=2, padding=1, dilation=2)
            self.head = nn.Linear(2 * 49, 5)

        def forward(self, x):
            h = torch.tanh(self.a(x))                 # (3, 6, 6) -> (4, 12, 12)
            h = torch.sigmoid(self.b(h))              # -> (4, 13, 13)
            h = torch.tanh(self.c(h[:, :, 0, :]))     # (4, 13) -> (2, 27)
            return self.head(torch.cat([h, h[:, :, :22]], 2).flatten(1))
    return Deconv()


class Upsampling(nn.Module):
    """nn.Upsample / F.interpolate as decoders use them: nearest x2 (asymmetric, floor), bilinear x2 with
    align_corners=True, bilinear x1.5 with align_corners=False (half_pixel), bilinear to a fixed size (the
    sizes input, from Shape arithmetic), nearest downsampling; and a max pool whose indices feed the output
    (MaxPool's second output, turned into torch's per-plane indices by the exporter's second MaxPool)"""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.up_nearest = nn.Upsample(scale_factor=2, mode="nearest")                          # 5 -> 10
        self.c2 = nn.Conv2d(4, 4, 3, stride=2)                                                 # 10 -> 4
        self.up_corners = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)     # 4 -> 8
        self.up_half = nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=False)     # 8 -> 12
        self.up_size = nn.Upsample(size=(7, 9), mode="bilinear", align_corners=False)          # 12 -> 7 x 9
        self.fc = nn.Linear(4 * 7 * 9 + 4 * 3 * 4 + 4 * 3 * 4, 5)

    def forward(self, x):
        h = self.up_nearest(torch.tanh(self.c1(x)))
        h = self.up_half(torch.tanh(self.up_corners(torch.sigmoid(self.c2(h)))))
        h = torch.tanh(self.up_size(h))
        d = F.interpolate(h, scale_factor=0.5, mode="nearest")                                 # 7 x 9 -> 3 x 4
        p, idx = F.max_pool2d(h, 2, return_indices=True)                                        # 7 x 9 -> 3 x 4
        return self.fc(torch.cat([h.flatten(1), d.flatten(1), (p + 1e-3 * idx.float()).flatten(1)], 1))


class UpsampleNearest(nn.Module):
    """nearest upsampling at the opsets where torch writes Upsample (9) and Resize-10"""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 3, 3, padding=1)
        self.up = nn.Upsample(scale_factor=(2, 3), mode="nearest")
        self.fc = nn.Linear(3 * 8 * 12, 4)

    def forward(self, x):
        return self.fc(torch.tanh(self.up(torch.sigmoid(self.c(x)))).flatten(1))


class Pool3d(nn.Module):
    """3-D pools (rank-5 tensors): max with padding and ceil_mode, average without and with the padding
    counted, a 3-D max pool's indices, trilinear upsampling"""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv3d(2, 4, 3, padding=1)
        self.mp = nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True)                              # 6 -> 4
        self.ap = nn.AvgPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), count_include_pad=False)  # -> 4,2,2
        self.ap2 = nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=True)                     # -> 5,3,3
        self.up = nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False)               # -> 10,6,6
        self.fc = nn.Linear(4 * 5 * 3 * 3 + 4 * 3 * 3 * 3 + 4 * 2 * 2 * 2, 5)

    def forward(self, x):
        h = torch.tanh(self.c(x))
        m = self.mp(h)
        a = torch.sigmoid(self.ap2(self.ap(m)))
        u = F.avg_pool3d(self.up(a), 2, stride=(4, 2, 2))                                         # -> 3,3,3
        q, idx = F.max_pool3d(h, (2, 3, 3), stride=3, return_indices=True)                        # -> 2,2,2
        return self.fc(torch.cat([a.flatten(1), u.flatten(1), (q + 1e-3 * idx.float()).flatten(1)], 1))


class Shuffle(nn.Module):
    """ShuffleNet's channel shuffle between two grouped convolutions"""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(4, 8, 1, groups=2)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.fc = nn.Linear(8 * 6 * 6, 6)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        h = self.relu1(self.c1(x))
        b, c, hh, ww = h.shape
        h = h.reshape(b, 2, c // 2, hh, ww).transpose(1, 2).reshape(b, c, hh, ww)
        h = self.relu2(self.c2(h))
        return self.fc(h.flatten(1))


class Misc(nn.Module):
    """the rest of the elementwise and shape operators torch writes: Abs Log Exp Neg Reciprocal Max Min,
    Where with Greater/Less, Expand (with its Equal/Where/ConstantOfShape shape arithmetic), Tile, Range and
    Cast, ReduceSum/ReduceMax, InstanceNormalization, Einsum with either operand transposed, MatMul by a
    weight, LogSoftmax"""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.inorm = nn.InstanceNorm2d(4, affine=True)
        self.w = nn.Parameter(torch.randn(12 + 32, 5) * 0.3)

    def forward(self, x):                                    # (B, 3, 6, 6)
        h = self.inorm(self.conv(x))
        a = torch.log(h.abs() + 1.0) + torch.exp(-0.5 * h) + torch.reciprocal(h.pow(2) + 1.0)
        b = torch.maximum(h, 0.3 * h) + torch.minimum(h, -0.5 * h)
        c = torch.where(h > 0.2, h, 0.1 * h) + torch.where(h < -0.4, h * h, -h)
        e = h[:, :1].expand(h.shape[0], 4, 6, 6) + h[:, :2].repeat(1, 2, 1, 1)
        r = h * (torch.arange(h.shape[3]).float() * 0.2) + torch.zeros(h.shape[0], 4, 6, 6)
        s = a + b + c + e + r
        sf, hf = s.flatten(2), h.flatten(2)                  # (B, 4, 36)
        g1 = torch.einsum("bcn,bdn->bcd", sf, hf)           # B operand transposed
        g2 = torch.einsum("bnc,bnd->bcd", sf.transpose(1, 2), hf.transpose(1, 2))  # A operand transposed
        f = torch.cat([s.sum(dim=(2, 3)) * 0.1, s.amax(dim=(2, 3)), s.mean(dim=(2, 3)),
                       g1.flatten(1) * 0.03, g2.flatten(1) * 0.03], dim=1)
        return torch.log_softmax(f @ self.w, dim=1)


class Handmade(nn.Module):
    """the torch side of the onnx.helper model: Conv, Gelu (exact), Conv, Gelu (tanh), GlobalMaxPool,
    Flatten, Dropout, Identity, Gemm, times Size(x) / (batch * per-example size) = 1"""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = nn.Conv2d(6, 6, 3)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        h = F.gelu(self.c2(F.gelu(self.c1(x))), approximate="tanh")
        return self.fc(h.amax(dim=(2, 3)))


def handmade_onnx(m, in_shape, opset):
    """Handmade as an ONNX graph written node by node (torch never writes these nodes at opset <= 17)"""
    def init(name, t):
        return numpy_helper.from_array(t.detach().float().numpy(), name)
    per_example = 1
    for d in in_shape:
        per_example *= d
    nodes = [
        helper.make_node("Conv", ["input", "c1.w", "c1.b"], ["h1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Gelu", ["h1"], ["g1"], name="gelu1"),
        helper.make_node("Conv", ["g1", "c2.w", "c2.b"], ["h2"], name="conv2"),
        helper.make_node("Gelu", ["h2"], ["g2"], name="gelu2", approximate="tanh"),
        helper.make_node("GlobalMaxPool", ["g2"], ["gm"], name="gmp"),
        helper.make_node("Flatten", ["gm"], ["fl"], name="flatten"),
        helper.make_node("Dropout", ["fl", "ratio"], ["dr"], name="dropout"),
        helper.make_node("Identity", ["dr"], ["id"], name="identity"),
        helper.make_node("Gemm", ["id", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
        helper.make_node("Size", ["input"], ["size"], name="size"),
        helper.make_node("Shape", ["input"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="batch", axis=0),
        helper.make_node("Mul", ["batch", "per_example"], ["expect"], name="expect"),
        helper.make_node("Cast", ["size"], ["size_f"], name="cast_size", to=TensorProto.FLOAT),
        helper.make_node("Cast", ["expect"], ["expect_f"], name="cast_expect", to=TensorProto.FLOAT),
        helper.make_node("Div", ["size_f", "expect_f"], ["one"], name="one"),
        helper.make_node("Mul", ["logits", "one"], ["output"], name="scale"),
    ]
    inits = [init("c1.w", m.c1.weight), init("c1.b", m.c1.bias), init("c2.w", m.c2.weight),
             init("c2.b", m.c2.bias), init("fc.w", m.fc.weight), init("fc.b", m.fc.bias),
             helper.make_tensor("ratio", TensorProto.FLOAT, [], [0.3]),
             helper.make_tensor("zero", TensorProto.INT64, [], [0]),
             helper.make_tensor("per_example", TensorProto.INT64, [], [per_example])]
    graph = helper.make_graph(
        nodes, "handmade",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + list(in_shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString()


class ExtraOps(nn.Module):
    """the operators of issue 13.4 that torch does not write (or not in ONNX's form), as one graph written
    node by node (extra_onnx): PRelu, Selu, DepthToSpace (CRD, torch.pixel_shuffle), SpaceToDepth, LRN, the
    trigonometric and hyperbolic functions and their inverses, Softsign, Celu, ThresholdedRelu, ArgMax and
    ArgMin (through Cast), Hardmax, ReduceMin/L1/L2/SumSquare/LogSum/LogSumExp/Prod; at opset 18 the reductions take
    their axes as an input"""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.prelu = nn.PReLU(8)
        with torch.no_grad():
            self.prelu.weight.copy_(torch.rand(8) * 0.4 + 0.05)
        self.selu, self.thresh = nn.SELU(), nn.Threshold(0.3, 0.0)
        self.fc = nn.Linear(8 * 6 + 8 * 4, 5)

    def forward(self, x):                                    # (B, 8, 4, 4)
        h = self.selu(self.prelu(self.conv(x)))
        d = F.pixel_shuffle(h, 2)                            # (B, 2, 8, 8)
        b_, c_, hh, ww = d.shape
        s = d.reshape(b_, c_, hh // 2, 2, ww // 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(b_, c_ * 4, hh // 2, ww // 2)
        l = F.local_response_norm(s, 3, alpha=0.3, beta=0.75, k=1.5)
        u = torch.tanh(l) * 0.9
        a = torch.asin(u) + torch.acos(u) * 0.5 + torch.atanh(u) + torch.atan(l) + torch.sin(l) + torch.cos(l) + torch.tan(u)
        b = (torch.sinh(u) + torch.cosh(u) + torch.asinh(l) + torch.acosh(l * l + 1.5) + F.softsign(l)
             + F.celu(l, 0.8) + self.thresh(l))
        hardmax = (l == l.amax(dim=1, keepdim=True)).float()  # one-hot of the largest channel
        v = (a + b + 0.01 * torch.argmax(l, dim=1, keepdim=True).float()
             - 0.01 * torch.argmin(l, dim=1, keepdim=True).float() + 0.01 * hardmax)
        f = [v.amin(dim=(2, 3)), v.abs().sum(dim=(2, 3)), torch.sqrt((v * v).sum(dim=(2, 3))), (v * v).sum(dim=(2, 3)),
             torch.log(torch.cosh(v).sum(dim=(2, 3))), torch.logsumexp(v, dim=(2, 3)),
             (torch.sigmoid(v) + 0.5).prod(dim=3).flatten(1)]
        return self.fc(torch.cat(f, 1))


def extra_onnx(m, in_shape, opset):
    """ExtraOps as an ONNX graph written node by node"""
    def init(name, t):
        return numpy_helper.from_array(t.detach().float().numpy(), name)
    def const(name, v):
        return helper.make_tensor(name, TensorProto.FLOAT, [], [v])
    N = helper.make_node
    def reduce(op, x, y, axes):
        if opset >= 18:
            return N(op, [x, "axes" + "".join(map(str, axes))], [y], keepdims=0)
        return N(op, [x], [y], axes=axes, keepdims=0)
    nodes = [
        N("Conv", ["input", "conv.w", "conv.b"], ["h0"], pads=[1, 1, 1, 1]),
        N("PRelu", ["h0", "slope"], ["h1"]), N("Selu", ["h1"], ["h2"]),
        N("DepthToSpace", ["h2"], ["d"], blocksize=2, mode="CRD"), N("SpaceToDepth", ["d"], ["s"], blocksize=2),
        N("LRN", ["s"], ["l"], size=3, alpha=0.3, beta=0.75, bias=1.5),
        N("Tanh", ["l"], ["tl"]), N("Mul", ["tl", "c09"], ["u"]),
        N("Asin", ["u"], ["a1"]), N("Acos", ["u"], ["a2f"]), N("Mul", ["a2f", "c05"], ["a2"]), N("Atanh", ["u"], ["a3"]),
        N("Atan", ["l"], ["a4"]), N("Sin", ["l"], ["a5"]), N("Cos", ["l"], ["a6"]), N("Tan", ["u"], ["a7"]),
        N("Sinh", ["u"], ["b1"]), N("Cosh", ["u"], ["b2"]), N("Asinh", ["l"], ["b3"]), N("Mul", ["l", "l"], ["ll"]),
        N("Add", ["ll", "c15"], ["ll15"]), N("Acosh", ["ll15"], ["b4"]), N("Softsign", ["l"], ["b5"]),
        N("Celu", ["l"], ["b6"], alpha=0.8), N("ThresholdedRelu", ["l"], ["b7"], alpha=0.3),
        N("ArgMax", ["l"], ["am"], axis=1, keepdims=1), N("Cast", ["am"], ["amf"], to=TensorProto.FLOAT),
        N("Mul", ["amf", "c001"], ["amw"]),
        N("ArgMin", ["l"], ["an"], axis=1, keepdims=1), N("Cast", ["an"], ["anf"], to=TensorProto.FLOAT),
        N("Mul", ["anf", "c001"], ["anw"]),
        N("Hardmax", ["l"], ["hm"], axis=1), N("Mul", ["hm", "c001"], ["hmw"]),
    ]
    terms = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "amw", "hmw"]
    acc = terms[0]
    for i, t in enumerate(terms[1:]):
        nodes.append(N("Add", [acc, t], ["acc%d" % i]))
        acc = "acc%d" % i
    nodes += [
        N("Sub", [acc, "anw"], ["v"]), N("Cosh", ["v"], ["p"]), N("Sigmoid", ["v"], ["sg"]), N("Add", ["sg", "c05"], ["sg5"]),
        reduce("ReduceMin", "v", "r1", [2, 3]), reduce("ReduceL1", "v", "r2", [2, 3]), reduce("ReduceL2", "v", "r3", [2, 3]),
        reduce("ReduceSumSquare", "v", "r4", [2, 3]), reduce("ReduceLogSum", "p", "r5", [2, 3]),
        reduce("ReduceLogSumExp", "v", "r6", [2, 3]), reduce("ReduceProd", "sg5", "r7p", [3]),
        N("Flatten", ["r7p"], ["r7"], axis=1),
        N("Concat", ["r1", "r2", "r3", "r4", "r5", "r6", "r7"], ["f"], axis=1),
        N("Gemm", ["f", "fc.w", "fc.b"], ["output"], transB=1),
    ]
    for i, nd in enumerate(nodes):
        nd.name = "%s_%d" % (nd.op_type, i)
    inits = [init("conv.w", m.conv.weight), init("conv.b", m.conv.bias), init("slope", m.prelu.weight.reshape(8, 1, 1)),
             init("fc.w", m.fc.weight), init("fc.b", m.fc.bias),
             const("c09", 0.9), const("c05", 0.5), const("c15", 1.5), const("c001", 0.01)]
    if opset >= 18:
        inits += [helper.make_tensor("axes23", TensorProto.INT64, [2], [2, 3]),
                  helper.make_tensor("axes3", TensorProto.INT64, [1], [3])]
    graph = helper.make_graph(
        nodes, "extra_ops",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + list(in_shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


# name, constructor, per-example input shape, opset, expected blocks (-1: not obvious from the structure)
MODELS = [
    ("conv_stack", conv_stack, (3, 12, 12), 17, 3),
    ("conv_stack_op11", conv_stack, (3, 12, 12), 11, 3),
    ("bn_pool", bn_pool, (3, 16, 16), 11, 3),
    ("acts", acts, (2, 4, 4), 17, 7),
    ("acts_op13", acts, (2, 4, 4), 13, 7),
    ("attention", Attention, (4, 4, 4), 17, -1),
    ("attention_op13", Attention, (4, 4, 4), 13, -1),
    ("shape_ops", ShapeOps, (4, 8, 8), 13, -1),
    ("shape_ops_op11", ShapeOps, (4, 8, 8), 11, -1),
    ("resnet", resnet, (3, 12, 12), 13, 3),
    ("resnet_op17", resnet, (3, 12, 12), 17, 3),
    ("shuffle", Shuffle, (4, 6, 6), 17, 2),
    ("deconv", deconv, (3, 6, 6), 13, -1),
    ("conv1d", conv1d, (3, 16), 17, 2),
    ("conv3d", conv3d, (2, 4, 6, 6), 13, 3),
    ("misc", Misc, (3, 6, 6), 17, -1),
    ("upsample", Upsampling, (3, 5, 5), 17, -1),
    ("upsample_op11", Upsampling, (3, 5, 5), 11, -1),
    ("upsample_op9", UpsampleNearest, (2, 4, 4), 9, -1),
    ("upsample_op10", UpsampleNearest, (2, 4, 4), 10, -1),
    ("pool3d", Pool3d, (2, 6, 6, 6), 13, -1),
    ("handmade", Handmade, (3, 6, 6), 17, 2),
    ("extra_ops", ExtraOps, (8, 4, 4), 17, -1),
    ("extra_ops_op18", ExtraOps, (8, 4, 4), 18, -1),
]


# ------------------------------------------------------------------ references

KINKS = {nn.ReLU: (0.0,), nn.ReLU6: (0.0, 6.0), nn.LeakyReLU: (0.0,), nn.Hardsigmoid: (-3.0, 3.0),
         nn.Hardswish: (-3.0, 3.0), nn.PReLU: (0.0,), nn.SELU: (0.0,), nn.Threshold: (0.3,)}


def kink_distance(m, x):
    """the smallest distance of any input of a piecewise-linear activation module to one of its bends"""
    dist = [math.inf]
    hooks = []
    for mod in m.modules():
        for cls, at in KINKS.items():
            if type(mod) is cls:
                def hook(_m, inp, _out, at=at):
                    for a in at:
                        dist[0] = min(dist[0], (inp[0] - a).abs().min().item())
                hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        m(x)
    for h in hooks:
        h.remove()
    return dist[0]


def jvp_forward_ad(m, x, t):
    with fwAD.dual_level():
        out = m(fwAD.make_dual(x, t))
        return fwAD.unpack_dual(out).tangent.detach().clone()


def jvp_second_opinion(m, x, t):
    """J t by double backward, or, where torch has no double backward (hardsigmoid), by central differences
    in float64 with h = 1e-6 (error ~h^2 times the third derivative, plus ~1e-16 / h of rounding); returns
    the jvp and the tolerance of its agreement with forward AD, relative to max |J t|"""
    try:
        return torch.autograd.functional.jvp(m, x, t)[1].detach().clone(), SELF_TOL
    except RuntimeError:
        h = 1e-6
        with torch.no_grad():
            return (m(x + h * t) - m(x - h * t)) / (2 * h), 1e-6


def export(m, x, opset):
    f = io.BytesIO()
    torch.onnx.export(m, x, f, input_names=["input"], output_names=["output"], opset_version=opset,
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, do_constant_folding=True)
    return f.getvalue()


def write_file(path, name, text, tensors):
    def s(b):
        return struct.pack("<I", len(b)) + b
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<III", 0, B, 1))
        f.write(s(name.encode()) + s(text.encode()))
        f.write(struct.pack("<I", len(tensors)))
        for tname, v in tensors:
            v = [float(e) for e in v.reshape(-1).tolist()] if torch.is_tensor(v) else [float(e) for e in v]
            f.write(s(tname.encode()) + struct.pack("<Q", len(v)) + struct.pack("<%dd" % len(v), *v))


def make_case(out, name, ctor, in_shape, opset, blocks, index):
    for attempt in range(20):
        seed = 1000 * index + attempt
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed + 7)
        m = ctor()
        with torch.no_grad():
            randomize_bn(m, g)
        m.eval()
        x = torch.randn((B,) + tuple(in_shape), generator=g).float()
        t = torch.randn((B,) + tuple(in_shape), generator=g).float()
        if kink_distance(m, x) > KINK_MARGIN and kink_distance(m, x[:1]) > KINK_MARGIN:
            break
    else:
        raise SystemExit("%s: no seed keeps the inputs away from the kinks" % name)
    with torch.no_grad():
        y = m(x)
    data = (handmade_onnx(m, in_shape, opset) if ctor is Handmade else extra_onnx(m, in_shape, opset)
            if ctor is ExtraOps else export(m, x, opset))
    md = m.double()
    xd, td = x.double(), t.double()
    jt = jvp_forward_ad(md, xd, td)
    jt2, tol = jvp_second_opinion(md, xd, td)
    scale = jt.abs().max().item()
    gap = (jt - jt2).abs().max().item()
    if not gap <= tol * max(scale, 1e-300):
        raise SystemExit("%s: forward-AD and double-backward jvp disagree by %.3e (max |Jt| %.3e)" % (name, gap, scale))
    with torch.no_grad():
        y64 = md(xd)
    if not (y64 - y.double()).abs().max().item() <= 1e-4 * (1 + y64.abs().max().item()):
        raise SystemExit("%s: float32 and float64 forwards of the module disagree" % name)
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(data)
    text = "onnx %s.onnx\nopset %d\nblocks %d\n" % (name, opset, blocks)
    write_file(os.path.join(out, name + ".ref"), name, text,
               [("x", x), ("t", t), ("y", y), ("jt", jt), ("in_shape", list(in_shape)),
                ("out_shape", list(y.shape[1:]))])
    return {n.op_type for n in onnx.load_from_string(data).graph.node}


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: onnx_ops_ref.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    used = set()
    names = []
    for i, (name, ctor, in_shape, opset, blocks) in enumerate(MODELS):
        used |= make_case(out, name, ctor, in_shape, opset, blocks, i)
        names.append(name + ".ref")
    with open(os.path.join(out, "ops_used.txt"), "w") as f:
        f.write("".join(op + "\n" for op in sorted(used)))
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    print("onnx_ops_ref.py: %d models, %d operators" % (len(names), len(used)))


if __name__ == "__main__":
    main()
