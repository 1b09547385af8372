#!/usr/bin/python3
"""make_corpus.py: the seed corpus for fuzz/fuzz_onnx.c.

Usage: /usr/bin/python3 fuzz/make_corpus.py OUTDIR [--dict FILE]

Writes small ONNX files (a few KB each) into OUTDIR:
  t_*.onnx  valid models exported by torch (conv/bn/relu/pool/gemm, residual, attention with the shape
            arithmetic torch writes for a dynamic batch, LayerNorm at opsets 13 and 17, Concat/Split/Slice/Pad,
            1-D/depthwise/grouped/dilated convolutions, elementwise and reduction operators)
  h_*.onnx  valid models built with onnx.helper for operators and attribute forms torch does not write
            (opset-11 attributes, Range, ConstantOfShape, Where, Tile, Expand, Shape start/end, a fixed batch)
  x_*.onnx  hostile inputs the reader must refuse or survive: truncated files, corrupt raw_data lengths,
            huge, negative and zero-product dimensions, absurd Reshape/Expand/Tile/Pad/ConstantOfShape shapes,
            out-of-range Gather indices, degenerate Conv geometry, INT64_MIN Slice steps, cycles and
            duplicate names, missing names and attributes
With --dict, also writes a libFuzzer dictionary (operator and attribute names, limit values) to FILE.
Needs torch and onnx (Debian's python3-torch and python3-onnx; run with /usr/bin/python3).
"""
import io
import os
import struct
import sys
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")
rng = np.random.default_rng(1)
OUT = None
COUNT = [0]

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def save(name, model):
    data = model if isinstance(model, (bytes, bytearray)) else model.SerializeToString()
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    COUNT[0] += 1


def w(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def ints(name, values):
    return init(name, np.array(values, dtype=np.int64))


def vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, list(dims) if dims is not None else None)


def model(nodes, inits=(), in_dims=("N", 4), opset=13, out="output", inputs=None, outputs=None):
    inputs = inputs if inputs is not None else [vi("input", in_dims)]
    outputs = outputs if outputs is not None else [vi(out, None)]
    g = helper.make_graph(nodes, "fuzz", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def node(op, ins, outs, name=None, **attrs):
    return helper.make_node(op, ins, outs, name=name if name is not None else (outs[0] if outs else op), **attrs)


# ------------------------------------------------------------------ torch exports

def torch_models():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    def export(mod, shape, name, opset=13):
        mod.eval()
        buf = io.BytesIO()
        x = torch.randn(*shape)
        with torch.no_grad():
            torch.onnx.export(mod, x, buf, opset_version=opset, input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, do_constant_folding=True)
        save(name, buf.getvalue())

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.c2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn(self.c1(x))), 2)
            x = F.avg_pool2d(torch.tanh(self.c2(x)), 2, ceil_mode=True)
            return self.fc(torch.flatten(x, 1))

    bn = Cnn()
    bn.bn.running_mean.uniform_(-0.2, 0.2)
    bn.bn.running_var.uniform_(0.5, 1.5)
    export(bn, (1, 3, 8, 8), "t_cnn.onnx")
    export(bn, (1, 3, 8, 8), "t_cnn_opset11.onnx", opset=11)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.ba = nn.BatchNorm2d(cout)
            self.b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bb = nn.BatchNorm2d(cout)
            self.down = None if stride == 1 and cin == cout else nn.Conv2d(cin, cout, 1, stride, bias=False)

        def forward(self, x):
            y = self.bb(self.b(F.relu(self.ba(self.a(x)))))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(2, 4, 3, padding=1)
            self.b1 = Block(4, 4, 1)
            self.b2 = Block(4, 6, 2)
            self.fc = nn.Linear(6, 2)

        def forward(self, x):
            x = self.b2(self.b1(F.relu(self.stem(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    export(Res(), (1, 2, 6, 6), "t_residual.onnx")

    class Attention(nn.Module):
        def __init__(self, d=8, heads=2):
            super().__init__()
            self.h = heads
            self.qkv = nn.Linear(d, 3 * d)
            self.o = nn.Linear(d, d)

        def forward(self, x):
            B, T, D = x.shape
            q, k, v = self.qkv(x).split(D, dim=-1)
            q = q.reshape(B, T, self.h, D // self.h).transpose(1, 2)
            k = k.reshape(B, T, self.h, D // self.h).transpose(1, 2)
            v = v.reshape(B, T, self.h, D // self.h).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-2, -1) / (D // self.h) ** 0.5, dim=-1)
            y = (a @ v).transpose(1, 2).reshape(B, T, D)
            return self.o(y)[:, 0]

    export(Attention(), (1, 5, 8), "t_attention.onnx")

    class Ln(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(6, 8)
            self.ln = nn.LayerNorm(8)
            self.b = nn.Linear(8, 3)

        def forward(self, x):
            return self.b(F.gelu(self.ln(self.a(x))))

    export(Ln(), (1, 6), "t_layernorm17.onnx", opset=17)
    export(Ln(), (1, 6), "t_layernorm13.onnx", opset=13)

    class Move(nn.Module):
        def forward(self, x):  # (N, 8, 6)
            a, b = x.split([3, 5], dim=1)
            c = b[:, 1::2, 1:-1]
            d = F.pad(a, (1, 2), mode="constant", value=0.5)
            e = F.pad(a, (2, 1), mode="reflect")
            f = F.pad(a, (2, 1), mode="replicate")
            g = torch.cat([d, e, f], dim=1)
            h = torch.cat([c.flatten(1), g.flatten(1)], dim=1)
            return torch.sigmoid(h) * h

    export(Move(), (1, 8, 6), "t_concat_split_slice_pad.onnx")

    class Convs(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv1d(4, 4, 3, padding=2, dilation=2)
            self.dw = nn.Conv2d(4, 8, 3, padding=1, groups=4)
            self.gc = nn.Conv2d(8, 4, (1, 3), stride=(1, 2), groups=2)
            self.pw = nn.Conv2d(4, 4, 1)

        def forward(self, x):  # (N, 4, 12)
            y = F.leaky_relu(self.c1(x), 0.1)
            y = y.reshape(y.shape[0], 4, 3, 4)
            y = F.elu(self.dw(y))
            y = F.hardswish(self.gc(y))
            y = F.max_pool2d(self.pw(y), (2, 1), stride=1, ceil_mode=True)
            return F.adaptive_max_pool2d(y, 1).flatten(1)

    export(Convs(), (1, 4, 12), "t_convs.onnx")

    class Elementwise(nn.Module):
        def forward(self, x):  # (N, 6)
            y = torch.clamp(x, -1.0, 1.0) + F.softplus(x) - F.hardsigmoid(x)
            y = y * torch.exp(-x.abs()) + torch.log(x.abs() + 1) / torch.sqrt(x.abs() + 1)
            y = torch.where(x > 0, y, 0.1 * y) + torch.maximum(x, y) - torch.minimum(-x, y)
            y = y + torch.reciprocal(x * x + 1) + torch.pow(x.abs() + 0.5, 1.5) + torch.erf(x)
            z = y.unsqueeze(1).expand(-1, 3, -1)
            z = z.repeat(1, 2, 1)
            m = z.mean(dim=1) + z.sum(dim=1, keepdim=True).squeeze(1) + z.amax(dim=1)
            return F.log_softmax(-m, dim=-1)

    export(Elementwise(), (1, 6), "t_elementwise.onnx")

    class Norms(nn.Module):
        def __init__(self):
            super().__init__()
            self.inorm = nn.InstanceNorm2d(3, affine=True)

        def forward(self, x):  # (N, 3, 4, 4)
            y = self.inorm(x)
            idx = torch.arange(y.shape[-1])
            y = y + idx.to(y.dtype)
            return y.flatten(1)

    export(Norms(), (1, 3, 4, 4), "t_instancenorm_range.onnx")


# ------------------------------------------------------------------ helper models that load

def helper_models():
    # opset 11: Split with the split attribute, Squeeze/Unsqueeze with axes attributes
    save("h_opset11_attrs.onnx", model([
        node("Split", ["input"], ["a", "b"], axis=1, split=[1, 3]),
        node("Unsqueeze", ["a"], ["au"], axes=[2]),
        node("Squeeze", ["au"], ["as"], axes=[2]),
        node("Concat", ["b", "as"], ["c"], axis=1),
        node("Relu", ["c"], ["output"]),
    ], opset=11))
    # opset 13: Split sizes and axes as inputs, ReduceSum with axes input
    save("h_opset13_inputs.onnx", model([
        node("Split", ["input", "sizes"], ["a", "b"], axis=1),
        node("Unsqueeze", ["a", "ax"], ["au"]),
        node("ReduceSum", ["au", "ax"], ["r"], keepdims=0),
        node("Mul", ["r", "b"], ["m"]),
        node("Tanh", ["m"], ["output"]),
    ], [ints("sizes", [2, 2]), ints("ax", [2])]))
    # Shape with start/end (opset 15), Gather of a scalar, ConstantOfShape, Range, Cast, Expand, Tile
    save("h_shape_ops.onnx", model([
        node("Shape", ["input"], ["s"], start=-1),
        node("Gather", ["s", "zero"], ["d"], axis=0),
        node("Range", ["zero", "d", "one"], ["r"]),
        node("Cast", ["r"], ["rf"], to=1),
        node("Add", ["input", "rf"], ["a"]),
        node("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.25])),
        node("Mul", ["a", "c"], ["b"]),
        node("Unsqueeze", ["b", "ax1"], ["bu"]),
        node("Expand", ["bu", "eshape"], ["e"]),
        node("Tile", ["e", "reps"], ["t"]),
        node("Flatten", ["t"], ["f"], axis=1),
        node("Size", ["f"], ["sz"]),
        node("Cast", ["sz"], ["szf"], to=1),
        node("Div", ["f", "szf"], ["output"]),
    ], [ints("zero", 0), ints("one", 1), ints("ax1", [1]), ints("eshape", [1, 3, 1]), ints("reps", [1, 1, 2])],
        opset=15))
    # Where / Equal / Less / Greater / Max / Min / Neg / Abs / Identity / Dropout / Clip with inputs
    save("h_logic.onnx", model([
        node("Greater", ["input", "half"], ["gt"]),
        node("Less", ["input", "mhalf"], ["lt"]),
        node("Equal", ["gt", "lt"], ["eq"]),
        node("Where", ["eq", "input", "zerof"], ["wh"]),
        node("Max", ["wh", "input", "mhalf"], ["mx"]),
        node("Min", ["mx", "half"], ["mn"]),
        node("Neg", ["mn"], ["ng"]),
        node("Abs", ["ng"], ["ab"]),
        node("Identity", ["ab"], ["id"]),
        node("Dropout", ["id"], ["dr"]),
        node("Clip", ["dr", "mhalf", "half"], ["output"]),
    ], [init("half", np.float32(0.5)), init("mhalf", np.float32(-0.5)), init("zerof", np.float32(0))]))
    # Gemm with transA/transB/alpha/beta and a MatMul that broadcasts a batch of matrices
    save("h_gemm_matmul.onnx", model([
        node("Gemm", ["input", "W", "b"], ["g"], transB=1, alpha=0.5, beta=2.0),
        node("Reshape", ["g", "sh"], ["r"]),
        node("MatMul", ["r", "M"], ["mm"]),
        node("Softmax", ["mm"], ["sm"], axis=-1),
        node("Reshape", ["sm", "sh2"], ["output"]),
    ], [init("W", w(6, 4)), init("b", w(6)), ints("sh", [0, 2, 3]), init("M", w(3, 2)), ints("sh2", [-1, 4])]))
    # pools with dilations, pads, SAME_UPPER and count_include_pad
    save("h_pools.onnx", model([
        node("MaxPool", ["input"], ["m"], kernel_shape=[2, 2], dilations=[2, 1], pads=[1, 0, 1, 1]),
        node("AveragePool", ["m"], ["a"], kernel_shape=[3, 3], auto_pad="SAME_UPPER", count_include_pad=1),
        node("GlobalMaxPool", ["a"], ["gm"]),
        node("GlobalAveragePool", ["a"], ["ga"]),
        node("Sub", ["gm", "ga"], ["d"]),
        node("Flatten", ["d"], ["output"]),
    ], in_dims=("N", 2, 5, 5)))
    # a batch fixed at 1: runs one example at a time
    save("h_fixed_batch1.onnx", model([
        node("MatMul", ["input", "W"], ["m"]),
        node("Sigmoid", ["m"], ["output"]),
    ], [init("W", w(4, 3))], in_dims=(1, 4)))
    # initializers listed among the inputs, as older exports do, and a Constant node of each kind
    save("h_init_inputs_constants.onnx", model([
        node("Constant", [], ["c1"], value=helper.make_tensor("c", TensorProto.FLOAT, [4], [1, 2, 3, 4])),
        node("Constant", [], ["c2"], value_float=0.5),
        node("Constant", [], ["c3"], value_floats=[1.0, -1.0, 0.5, 2.0]),
        node("Constant", [], ["c4"], value_ints=[-1, 4]),
        node("Constant", [], ["c5"], value_int=1),
        node("Mul", ["input", "c1"], ["a"]),
        node("Add", ["a", "c2"], ["b"]),
        node("Pow", ["b", "c3"], ["p"]),
        node("Sqrt", ["p"], ["q"]),
        node("Reshape", ["q", "c4"], ["r"]),
        node("Gemm", ["r", "W"], ["output"]),
    ], [init("W", w(4, 2))], inputs=[vi("input", ("N", 4)), vi("W", (4, 2))]))
    # Pad opset 11 (pads and value as inputs), edge/reflect modes, negative pads that crop
    save("h_pad_modes.onnx", model([
        node("Pad", ["input", "p1", "v"], ["a"], mode="constant"),
        node("Pad", ["a", "p2"], ["b"], mode="reflect"),
        node("Pad", ["b", "p3"], ["c"], mode="edge"),
        node("Pad", ["c", "p4"], ["output"]),
    ], [ints("p1", [0, 0, 1, 2, 0, 0, 2, 1]), init("v", np.float32(1.5)), ints("p2", [0, 0, 2, 0, 0, 0, 0, 3]),
        ints("p3", [0, 1, 0, 1, 0, 0, 1, 0]), ints("p4", [0, 0, -1, -2, 0, 0, -1, 0])], in_dims=("N", 2, 3, 3),
        opset=11))
    # a float Pad whose constant is -inf (as a max-pool-like padding): the int64 form of it must not overflow
    save("h_pad_neg_inf.onnx", model([
        node("Pad", ["input", "p", "v"], ["a"]),
        node("MaxPool", ["a"], ["m"], kernel_shape=[2, 2]),
        node("Flatten", ["m"], ["output"]),
    ], [ints("p", [0, 0, 1, 1, 0, 0, 1, 1]), init("v", np.float32(-np.inf))], in_dims=("N", 2, 3, 3)))
    # Slice with negative steps and clamped starts/ends, Transpose, LogSoftmax, ReduceMax/Mean keepdims
    save("h_slice_transpose.onnx", model([
        node("Slice", ["input", "st", "en", "ax", "sp"], ["s"]),
        node("Transpose", ["s"], ["t"], perm=[0, 2, 1]),
        node("ReduceMax", ["t"], ["rm"], axes=[2], keepdims=1),
        node("ReduceMean", ["t"], ["rn"], axes=[1], keepdims=1),
        node("Sub", ["t", "rm"], ["d"]),
        node("Mul", ["d", "rn"], ["e"]),
        node("Flatten", ["e"], ["f"]),
        node("LogSoftmax", ["f"], ["output"], axis=1),
    ], [ints("st", [-1, 100]), ints("en", [-100, 1]), ints("ax", [2, 1]), ints("sp", [-2, -1])],
        in_dims=("N", 4, 5)))
    # LayerNormalization with a stash output, InstanceNormalization, BatchNormalization on 2-D input
    save("h_norms.onnx", model([
        node("BatchNormalization", ["input", "g", "b", "m", "v"], ["bn"], epsilon=1e-3),
        node("LayerNormalization", ["bn", "g", "b"], ["ln"], axis=-1),
        node("Reshape", ["ln", "sh"], ["r"]),
        node("InstanceNormalization", ["r", "g1", "b1"], ["in"]),
        node("HardSigmoid", ["in"], ["hs"], alpha=0.3),
        node("Flatten", ["hs"], ["output"]),
    ], [init("g", w(4) + 1), init("b", w(4)), init("m", w(4)), init("v", np.abs(w(4)) + 0.5),
        ints("sh", [0, 1, 4]), init("g1", np.float32([1.5])), init("b1", np.float32([0.1]))], opset=17))


# ------------------------------------------------------------------ hostile inputs

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def base_model():
    """input (N,3,6,6) -> Conv -> Relu -> Flatten -> Gemm: the model the corrupt variants start from"""
    return model([
        node("Conv", ["input", "cw", "cb"], ["h"], pads=[0, 0, 0, 0]),
        node("Relu", ["h"], ["r"]),
        node("Flatten", ["r"], ["f"]),
        node("Gemm", ["f", "fw", "fb"], ["output"], transB=1),
    ], [init("cw", w(4, 3, 3, 3)), init("cb", w(4)), init("fw", w(2, 64)), init("fb", w(2))],
        in_dims=("N", 3, 6, 6))


def one_node(op, ins, inits, in_dims=("N", 4), opset=13, after="Relu", **attrs):
    """input -> [op] -> after -> output, so that the hostile node is run at load time"""
    nodes = [node(op, ["input"] + list(ins), ["y"], name="hostile", **attrs)]
    nodes.append(node(after, ["y"], ["output"]) if after else node("Identity", ["y"], ["output"]))
    return model(nodes, inits, in_dims=in_dims, opset=opset)


def raw_tensor(name, dims, raw, dtype=TensorProto.FLOAT):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def einsum_models():
    # (N,4) x (4,3): the batch is a free letter of A
    save("h_einsum_matmul.onnx", model([
        node("Einsum", ["input", "W"], ["y"], equation="ij,jk->ik"),
        node("Relu", ["y"], ["output"]),
    ], [init("W", w(4, 3))]))
    # attention as MaxViT writes it: scores, then scores times values, batch letters first
    save("h_einsum_attention.onnx", model([
        node("Reshape", ["input", "sh"], ["x"]),
        node("Einsum", ["x", "x"], ["s"], equation="b g h i d, b g h j d -> b g h i j"),
        node("Softmax", ["s"], ["a"], axis=-1),
        node("Einsum", ["a", "x"], ["y"], equation="bghij,bghjd->bghid"),
        node("Flatten", ["y"], ["output"]),
    ], [ints("sh", [0, 1, 2, 3, 2])], in_dims=("N", 12)))
    # transposed operands
    save("h_einsum_transposed.onnx", model([
        node("Reshape", ["input", "sh"], ["x"]),
        node("Einsum", ["x", "x"], ["y"], equation="bji,bjk->bik"),
        node("Flatten", ["y"], ["output"]),
    ], [ints("sh", [0, 3, 4])], in_dims=("N", 12)))


def hostile_models():
    base = base_model()
    data = base.SerializeToString()
    save("x_base.onnx", data)
    # truncated files: inside the header, inside the weights, one byte short
    for i, cut in enumerate((1, 7, len(data) // 3, len(data) // 2, len(data) - 40, len(data) - 1)):
        save("x_truncated_%d.onnx" % i, data[:cut])
    save("x_empty.onnx", b"")
    save("x_garbage.onnx", bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
    # the length varint of a raw_data field, bumped and cut: the protobuf no longer decodes, or a later field
    # is read from the middle of the floats
    raw = next(t for t in base.graph.initializer if t.name == "fw").raw_data
    at = data.find(raw)
    ln = varint(len(raw))
    assert data[at - len(ln):at] == ln
    for i, new in enumerate((len(raw) + 1, len(raw) - 1, len(raw) + 4096, 0, (1 << 31) + 5, (1 << 64) - 1)):
        save("x_rawlen_%d.onnx" % i, data[:at - len(ln)] + varint(new) + data[at:])
    # bit flips in the length bytes and the first bytes of the data
    for i, bit in enumerate((0, 3, 6, 7, 9, 12)):
        b = bytearray(data)
        pos = at - len(ln) + bit // 8
        b[pos] ^= 1 << (bit % 8)
        save("x_bitflip_%d.onnx" % i, bytes(b))

    # raw_data that does not match the shape, or whose type is not one critnet reads
    m = base_model()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-6]
    save("x_raw_short.onnx", m)
    m = base_model()
    m.graph.initializer[1].CopyFrom(raw_tensor("cb", [4], b"\0" * 8, TensorProto.FLOAT16))
    save("x_raw_float16.onnx", m)
    m = base_model()
    m.graph.initializer[1].CopyFrom(raw_tensor("cb", [4], b"\0" * 32, TensorProto.DOUBLE))
    save("x_raw_double.onnx", m)

    # dimensions: huge, negative, too many, a zero that makes a huge product empty
    for i, dims in enumerate(([1 << 40], [-1], [1 << 31, 2], [I64_MAX], [I64_MIN], [0, 1 << 62, 1 << 62],
                              [0, I64_MAX], [1] * 9, [1 << 20, 1 << 20])):
        m = base_model()
        t = raw_tensor("cb", dims, b"")
        m.graph.initializer[1].CopyFrom(t)
        save("x_dims_%d.onnx" % i, m)
    for i, dims in enumerate((("N", 1 << 30, 1 << 30, 1), ("N", -3, 6, 6), ("N", 0, 6, 6), (1 << 40, 3, 6, 6),
                              ("N",), ("N", 3, 6, 6, 1), ("N", 1 << 20, 1 << 11, 1))):
        m = base_model()
        m.graph.input[0].CopyFrom(vi("input", dims))
        save("x_input_dims_%d.onnx" % i, m)
    # an empty tensor of absurd extent reaches the operators through an initializer and an allowzero Reshape
    save("x_zero_product_init.onnx", model([
        node("Add", ["input", "empty"], ["a"]),
        node("Relu", ["a"], ["output"]),
    ], [raw_tensor("empty", [1, 0, 1 << 40, 1 << 40], b"")]))
    save("x_zero_product_reshape.onnx", model([
        node("Slice", ["input", "s0", "s1", "ax"], ["e"]),
        node("Reshape", ["e", "huge"], ["r"], allowzero=1),
        node("Transpose", ["r"], ["t"], perm=[0, 3, 2, 1]),
        node("Conv", ["t", "cw"], ["c"]),
        node("Relu", ["c"], ["output"]),
    ], [ints("s0", [0]), ints("s1", [0]), ints("ax", [1]), ints("huge", [1, 0, 1 << 40, 1 << 40]),
        init("cw", w(2, 1 << 0, 1, 1))]))

    # a batch fixed at 1 whose output is empty but wide per example: the per-example size must fit an int
    for i, shape in enumerate(([1, 1 << 16, 1 << 15, 0], [0, 1 << 15, 1 << 15], [0, 1 << 31], [1, 0, 1 << 31])):
        save("x_fixed_batch_wide_%d.onnx" % i, model([
            node("Slice", ["input", "s0", "s1", "ax"], ["e"]),
            node("Reshape", ["e", "shape"], ["r"], allowzero=1),
            node("Relu", ["r"], ["output"]),
        ], [ints("s0", [0]), ints("s1", [0]), ints("ax", [0]), ints("shape", shape)], in_dims=(1, 4)))

    save("x_dynamic_batch_wide.onnx", model([
        node("Slice", ["input", "s0", "s1", "ax"], ["e"]),
        node("Reshape", ["e", "shape"], ["r"]),
        node("Relu", ["r"], ["output"]),
    ], [ints("s0", [0]), ints("s1", [0]), ints("ax", [1]), ints("shape", [0, 0, 1 << 16, 1 << 15])]))

    # Reshape to absurd shapes
    for i, shape in enumerate(([1 << 40, 1 << 40], [-1, -1], [1 << 31, 1], [-1, 1 << 62], [0, 0, 0, 0, 0, 0, 0, 0, 0],
                               [I64_MIN, -1], [3, -1], [-2, 4], [0, -1], [1, 0])):
        save("x_reshape_%d.onnx" % i, one_node("Reshape", ["shape"], [ints("shape", shape)]))
    save("x_reshape_allowzero.onnx", one_node("Reshape", ["shape"], [ints("shape", [0, 4])], allowzero=1))
    save("x_reshape_float_shape.onnx", one_node("Reshape", ["shape"], [init("shape", np.float32([1, 4]))]))
    # ConstantOfShape, Expand, Tile, Range to sizes the budget refuses (or that overflow)
    for i, shape in enumerate(([1 << 30], [1 << 15, 1 << 15], [1 << 31], [1 << 32], [-1, 4], [I64_MAX, 0],
                               [1 << 16, 1 << 16, 0, 1 << 16])):
        save("x_constofshape_%d.onnx" % i, model([
            node("ConstantOfShape", ["shape"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
            node("ReduceSum", ["c"], ["s"], keepdims=0),
            node("Add", ["input", "s"], ["output"]),
        ], [ints("shape", shape)]))
    for i, shape in enumerate(([1 << 20, 1 << 20], [1 << 28, 4], [I64_MAX, 4], [-1, 4], [1, 1, 1, 1, 1, 1, 1, 1, 4])):
        save("x_expand_%d.onnx" % i, one_node("Expand", ["shape"], [ints("shape", shape)]))
    for i, reps in enumerate(([1 << 30, 1], [1, 1 << 31], [I64_MAX, 0], [-1, 1], [1 << 16, 1 << 16], [1])):
        save("x_tile_%d.onnx" % i, one_node("Tile", ["reps"], [ints("reps", reps)]))
    for i, (a, b, c) in enumerate(((0, 1 << 40, 1), (I64_MIN, I64_MAX, 1), (I64_MAX, I64_MIN, -1), (0, 10, 0),
                                   (I64_MAX, I64_MIN, I64_MIN), (I64_MAX, I64_MIN, -(1 << 56)))):
        save("x_range_%d.onnx" % i, model([
            node("Range", ["a", "b", "c"], ["r"]),
            node("Cast", ["r"], ["rf"], to=1),
            node("ReduceSum", ["rf"], ["s"], keepdims=0),
            node("Add", ["input", "s"], ["output"]),
        ], [ints("a", a), ints("b", b), ints("c", c)]))
    save("x_range_float_inf.onnx", model([
        node("Range", ["a", "b", "c"], ["r"]),
        node("ReduceSum", ["r"], ["s"], keepdims=0),
        node("Add", ["input", "s"], ["output"]),
    ], [init("a", np.float32(0)), init("b", np.float32(np.inf)), init("c", np.float32(1e-30))]))

    # Gather with out-of-range indices
    for i, idx in enumerate(([4], [-5], [I64_MIN], [I64_MAX], [[0, 1], [3, 4]], [])):
        save("x_gather_%d.onnx" % i, one_node("Gather", ["idx"], [ints("idx", idx)], axis=1))
    save("x_gather_axis.onnx", one_node("Gather", ["idx"], [ints("idx", [0])], axis=5))
    save("x_gather_float_idx.onnx", one_node("Gather", ["idx"], [init("idx", np.float32([0]))], axis=1))

    # Conv: 0 channels, kernel bigger than the input, huge pads/strides/dilations, bad groups
    cin = ("N", 3, 6, 6)
    for i, (wshape, attrs) in enumerate((
            ((4, 0, 3, 3), {}), ((0, 3, 3, 3), {}), ((4, 3, 9, 9), {}), ((4, 3, 3, 3), {"pads": [(1 << 31) - 1] * 4}),
            ((4, 3, 3, 3), {"strides": [0, 0]}), ((4, 3, 3, 3), {"dilations": [1 << 30, 1]}),
            ((4, 3, 3, 3), {"group": 0}), ((4, 1, 3, 3), {"group": 3}), ((3, 1, 3, 3), {"group": -3}),
            ((4, 3, 3, 3), {"pads": [-1, 0, 0, 0]}), ((4, 3, 3, 3), {"kernel_shape": [5, 5]}),
            ((4, 3, 3, 3), {"auto_pad": "SAME_LOWER", "strides": [(1 << 31) - 1, 1]}),
            ((4, 3, 3, 3), {"auto_pad": "BOGUS"}), ((4, 3, 3), {}), ((4, 3, 1, 1), {"pads": [1 << 20] * 4}),
            ((4, 3, 3, 3), {"pads": [0, 0, 0, 0, 0, 0]}), ((4, 3, 3, 3), {"strides": [1, 1, 1]}),
            ((4, 3, 3, 3), {"dilations": [1, 1, 1, 1]}), ((4, 3, 3, 3), {"kernel_shape": [3, 3, 3, 3]}), ((1, 3, 1, 6), {"dilations": [1, 1 << 30], "pads": [0, 0, 0, 1 << 30]}))):
        save("x_conv_%d.onnx" % i, one_node("Conv", ["W"], [init("W", w(*wshape))], in_dims=cin, after="Flatten",
                                            **attrs))
    save("x_conv_bias_len.onnx", one_node("Conv", ["W", "B"], [init("W", w(4, 3, 3, 3)), init("B", w(5))],
                                          in_dims=cin, after="Flatten"))
    save("x_conv_int_weights.onnx", one_node("Conv", ["W"], [ints("W", np.ones((4, 3, 3, 3)))], in_dims=cin,
                                             after="Flatten"))
    save("x_conv_rank5.onnx", one_node("Conv", ["W"], [init("W", w(2, 1, 1, 1, 1))], in_dims=("N", 1, 2, 2, 2),
                                       after="Flatten"))
    # pools with huge kernels / pads
    for i, attrs in enumerate(({"kernel_shape": [1 << 30, 1], "pads": [1 << 29, 0, 1 << 29, 0]},
                               {"kernel_shape": [2, 2], "strides": [0, 1]}, {"kernel_shape": [7, 7]},
                               {"kernel_shape": [2, 2], "pads": [(1 << 31) - 1, 0, 1, 0]},
                               {"kernel_shape": [3, 3], "ceil_mode": 1, "strides": [5, 5], "pads": [2, 2, 2, 2]},
                               {"kernel_shape": [2]}, {})):
        for op in ("MaxPool", "AveragePool"):
            save("x_%s_%d.onnx" % (op.lower(), i), one_node(op, [], [], in_dims=cin, after="Flatten", **attrs))

    # Pad with huge or crossing pads
    for i, (pads, mode) in enumerate((([0, 0, 1 << 31, 0], "constant"), ([0, 0, I64_MAX, I64_MAX], "constant"),
                                      ([0, 0, -5, 0], "constant"), ([0, -1 << 31, 0, 1 << 31], "constant"),
                                      ([0, 0, 9, 9], "reflect"), ([0, 0, 1 << 30, 0], "edge"), ([0, 0, 1, 1], "wrap"),
                                      ([0, 0, 1], "constant"), ([0, 0, I64_MIN, 0], "constant"),
                                      ([0, 1 << 30, 0, 1 << 30], "reflect"))):
        save("x_pad_%d.onnx" % i, one_node("Pad", ["pads"], [ints("pads", pads)], opset=13, mode=mode))
    save("x_pad_empty_reflect.onnx", model([
        node("Slice", ["input", "s0", "s1", "ax"], ["e"]),
        node("Pad", ["e", "pads"], ["p"], mode="reflect"),
        node("Relu", ["p"], ["output"]),
    ], [ints("s0", [0]), ints("s1", [0]), ints("ax", [1]), ints("pads", [0, 2, 0, 2])]))

    # Slice with INT64_MIN/INT64_MAX steps, starts and ends; step 0; bad and repeated axes
    for i, (st, en, ax, sp) in enumerate((([0], [4], [1], [I64_MIN]), ([I64_MAX], [I64_MIN], [1], [I64_MIN]),
                                          ([I64_MIN], [I64_MAX], [1], [I64_MAX]), ([0], [4], [1], [0]),
                                          ([0], [4], [2], [1]), ([0, 0], [4, 4], [1, 1], [1, 1]),
                                          ([-1], [I64_MIN], [1], [-1]), ([3], [-5], [-1], [I64_MIN + 1]),
                                          ([0], [4], [1], [2, 2]))):
        save("x_slice_%d.onnx" % i, one_node("Slice", ["st", "en", "ax", "sp"],
                                             [ints("st", st), ints("en", en), ints("ax", ax), ints("sp", sp)]))

    # Split / Concat / Transpose / Squeeze / Unsqueeze misuse
    save("x_split_sizes.onnx", one_node("Split", ["sz"], [ints("sz", [I64_MAX, 2])], axis=1))
    save("x_split_negative.onnx", one_node("Split", ["sz"], [ints("sz", [6, -2])], axis=1))
    save("x_split_many_outputs.onnx", model([
        node("Split", ["input"], ["s%d" % i for i in range(64)] , axis=1),
        node("Relu", ["s0"], ["output"]),
    ]))
    save("x_concat_mixed.onnx", one_node("Concat", ["idx"], [ints("idx", [[1, 2, 3, 4]])], axis=0))
    save("x_concat_rank.onnx", one_node("Concat", ["c"], [init("c", w(1, 4, 1))], axis=1))
    save("x_transpose_perm.onnx", one_node("Transpose", [], [], perm=[1, 1]))
    save("x_transpose_perm_big.onnx", one_node("Transpose", [], [], perm=[0, 9]))
    save("x_unsqueeze_rank9.onnx", one_node("Unsqueeze", ["ax"], [ints("ax", list(range(2, 9)))]))
    save("x_unsqueeze_dup.onnx", one_node("Unsqueeze", ["ax"], [ints("ax", [1, 1])]))
    save("x_squeeze_non1.onnx", one_node("Squeeze", ["ax"], [ints("ax", [1])]))
    save("x_flatten_axis.onnx", one_node("Flatten", [], [], axis=-9))
    save("x_softmax_axis.onnx", one_node("Softmax", [], [], axis=7))
    save("x_matmul_mismatch.onnx", one_node("MatMul", ["M"], [init("M", w(5, 2))]))
    save("x_matmul_1d.onnx", one_node("MatMul", ["M"], [init("M", w(4))], after=None))
    save("x_gemm_mismatch.onnx", one_node("Gemm", ["M"], [init("M", w(5, 2))], transA=1))
    save("x_cast_inf.onnx", model([
        node("Div", ["input", "zero"], ["d"]),
        node("Cast", ["d"], ["c"], to=7),
        node("Cast", ["c"], ["cf"], to=1),
        node("Add", ["input", "cf"], ["output"]),
    ], [init("zero", np.float32(0))]))
    save("x_cast_bad_type.onnx", one_node("Cast", [], [], to=16))
    save("x_reduce_axes.onnx", one_node("ReduceSum", ["ax"], [ints("ax", [5])]))
    save("x_where_float_cond.onnx", one_node("Where", ["input", "input"], []))
    save("x_int_overflow.onnx", model([
        node("Mul", ["big", "big"], ["m"]),
        node("Div", ["min", "m1"], ["d"]),
        node("Neg", ["min"], ["n"]),
        node("Abs", ["n"], ["a"]),
        node("Add", ["d", "a"], ["s"]),
        node("Cast", ["s"], ["sf"], to=1),
        node("Mul", ["input", "sf"], ["output"]),
    ], [ints("big", [I64_MAX]), ints("min", [I64_MIN]), ints("m1", [-1])]))
    save("x_int_div_zero.onnx", model([
        node("Div", ["one", "zero"], ["d"]),
        node("Cast", ["d"], ["df"], to=1),
        node("Mul", ["input", "df"], ["output"]),
    ], [ints("one", [1]), ints("zero", [0])]))

    # graph structure: cycles, a node reading its own output, duplicate names, outputs nobody writes
    save("x_cycle.onnx", model([
        node("Relu", ["b"], ["a"]),
        node("Relu", ["a"], ["b"]),
        node("Relu", ["input"], ["output"]),
    ]))
    save("x_self_loop.onnx", model([node("Add", ["input", "output"], ["output"])]))
    save("x_duplicate_output.onnx", model([
        node("Relu", ["input"], ["a"]),
        node("Relu", ["input"], ["a"], name="again"),
        node("Relu", ["a"], ["output"]),
    ]))
    save("x_output_is_input.onnx", model([node("Relu", ["input"], ["input"])], out="input"))
    save("x_output_is_init.onnx", model([node("Relu", ["input"], ["r"])], [init("c", w(4))], out="c"))
    save("x_output_missing.onnx", model([node("Relu", ["input"], ["r"])], out="nowhere"))
    save("x_init_twice.onnx", model([node("Add", ["input", "c"], ["output"])], [init("c", w(4)), init("c", w(4))]))
    save("x_no_nodes.onnx", model([], out="input"))
    save("x_no_graph.onnx", helper.make_model(helper.make_graph([], "g", [], []),
                                               opset_imports=[helper.make_opsetid("", 13)]))
    m = onnx.ModelProto()
    m.opset_import.add().version = 13
    save("x_graph_absent.onnx", m)
    save("x_opset_huge.onnx", model([node("Relu", ["input"], ["output"])], opset=(1 << 40) + 13))
    save("x_two_inputs.onnx", model([node("Add", ["input", "other"], ["output"])],
                                    inputs=[vi("input", ("N", 4)), vi("other", ("N", 4))]))
    save("x_input_int.onnx", model([node("Relu", ["input"], ["output"])],
                                   inputs=[vi("input", ("N", 4), TensorProto.INT64)]))
    save("x_input_no_shape.onnx", model([node("Relu", ["input"], ["output"])], inputs=[vi("input", None)]))
    save("x_output_int.onnx", model([node("Shape", ["input"], ["output"])]))
    save("x_output_constant_only.onnx", model([node("Relu", ["c"], ["output"])], [init("c", w(2, 4))]))
    save("x_batch_moved.onnx", model([node("Transpose", ["input"], ["output"], perm=[1, 0])]))
    save("x_batch_reduced.onnx", model([node("ReduceSum", ["input"], ["output"], keepdims=0)]))
    save("x_empty_names.onnx", model([
        node("Relu", ["input", ""], ["", "a"], name=""),
        node("Relu", ["a"], ["output"], name=""),
    ]))
    save("x_layernorm_stash.onnx", model([
        node("LayerNormalization", ["input", "g", "b"], ["y", "mean", "istd"]),
        node("Relu", ["y"], ["output"]),
    ], [init("g", w(4)), init("b", w(4))], opset=17))
    # Einsum: the batched-matrix forms it runs, and equations it must refuse
    for i, eq in enumerate(("ii,ij->ij", "ij,jk", "...ij,jk->ik", "ij,jk,kl->il", "ij,jk->ki", "i1,jk->ik",
                            "ij,jk->ik->x", "ij,jk->ikz", "", ",->", "->", "ij,->i", "i j , j k -> i k",
                            "a" * 200 + ",b->b", "ij,jk->ik" + " " * 300, "iJ,Jk->ik", "ij,kj->ik", "ji,jk->ik",
                            "abcdefghi,abcdefghj->abcdefgij", "ij,ij->ij", "i,i->", "ij,jk->jk")):
        save("x_einsum_%d.onnx" % i, one_node("Einsum", ["W"], [init("W", w(4, 3))], equation=eq))
    save("x_einsum_one_input.onnx", one_node("Einsum", [], [], equation="ij->ji"))
    save("x_einsum_three_inputs.onnx", one_node("Einsum", ["W", "W"], [init("W", w(4, 3))], equation="ij,jk,kl->il"))
    save("x_einsum_no_equation.onnx", one_node("Einsum", ["W"], [init("W", w(4, 3))]))
    save("x_einsum_int_equation.onnx", one_node("Einsum", ["W"], [init("W", w(4, 3))], equation=3))
    save("x_einsum_int_operand.onnx", one_node("Einsum", ["W"], [ints("W", np.ones((4, 3)))], equation="ij,jk->ik"))
    save("x_unknown_op.onnx", one_node("NonZero", [], []))
    save("x_custom_domain.onnx", model([helper.make_node("Relu", ["input"], ["output"], domain="com.x")]))
    save("x_missing_input.onnx", one_node("Add", [""], []))
    save("x_no_inputs_node.onnx", model([node("Relu", [], ["x"]), node("Relu", ["input"], ["output"])]))
    save("x_no_outputs_node.onnx", model([node("Relu", ["input"], []), node("Relu", ["input"], ["output"])]))

    # fields the proto leaves unset: names of inputs, outputs, initializers, attributes
    m = base_model()
    m.graph.input[0].ClearField("name")
    save("x_unnamed_input.onnx", m)
    m = base_model()
    m.graph.output[0].ClearField("name")
    save("x_unnamed_output.onnx", m)
    m = base_model()
    m.graph.initializer[1].ClearField("name")
    save("x_unnamed_init.onnx", m)
    m = base_model()
    m.graph.node[0].ClearField("op_type")
    save("x_no_op_type.onnx", m)
    m = base_model()
    del m.graph.node[0].attribute[:]
    a = m.graph.node[0].attribute.add()
    a.type = onnx.AttributeProto.INTS
    a.ints.extend([0, 0, 0, 0])
    save("x_unnamed_attr.onnx", m)
    m = base_model()
    m.graph.node[0].attribute[0].ClearField("type")
    save("x_untyped_attr.onnx", m)
    m = base_model()
    m.graph.node[0].attribute[0].type = onnx.AttributeProto.GRAPH
    save("x_graph_attr.onnx", m)
    m = base_model()
    m.graph.node[0].attribute[0].type = onnx.AttributeProto.TENSOR
    save("x_tensor_attr_missing.onnx", m)
    cm = model([helper.make_node("Constant", [], ["c"]), node("Add", ["input", "c"], ["output"])])
    a = cm.graph.node[0].attribute.add()
    a.type = onnx.AttributeProto.TENSOR
    a.t.CopyFrom(helper.make_tensor("t", TensorProto.FLOAT, [4], [1, 2, 3, 4]))
    save("x_constant_unnamed_attr.onnx", cm)
    cm = model([helper.make_node("Constant", [], ["c"]), node("Add", ["input", "c"], ["output"])])
    a = cm.graph.node[0].attribute.add()
    a.type = onnx.AttributeProto.FLOAT
    a.f = 1.0
    save("x_constant_unnamed_float.onnx", cm)
    save("x_constant_sparse.onnx", model([
        helper.make_node("Constant", [], ["c"], value_string="x"),
        node("Add", ["input", "c"], ["output"]),
    ]))
    save("x_constant_two_attrs.onnx", model([
        helper.make_node("Constant", [], ["c"], value_float=1.0, value_int=2),
        node("Add", ["input", "c"], ["output"]),
    ]))
    save("x_constant_no_output.onnx", model([
        helper.make_node("Constant", [], [], value_float=1.0),
        node("Relu", ["input"], ["output"]),
    ]))
    save("x_constant_of_shape_int_value.onnx", model([
        node("Shape", ["input"], ["s"]),
        node("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.INT64, [1], [7])),
        node("Cast", ["c"], ["cf"], to=1),
        node("Mul", ["input", "cf"], ["output"]),
    ]))
    save("x_constant_of_shape_two_values.onnx", model([
        node("Shape", ["input"], ["s"]),
        node("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [2], [7, 8])),
        node("Mul", ["input", "c"], ["output"]),
    ]))


def write_dict(path):
    """a libFuzzer dictionary: operator, attribute and enum names, and the values that test the limits"""
    words = set()
    ops = ("Abs Add AveragePool BatchNormalization Cast Clip Concat Constant ConstantOfShape Conv Div Dropout "
           "Einsum Elu Equal Erf Exp Expand Flatten Gather Gelu Gemm GlobalAveragePool GlobalMaxPool Greater "
           "HardSigmoid HardSwish Identity InstanceNormalization LayerNormalization LeakyRelu Less Log LogSoftmax "
           "MatMul Max MaxPool Min Mul Neg Pad Pow Range Reciprocal ReduceMax ReduceMean ReduceSum Relu Reshape "
           "Shape Sigmoid Size Slice Softmax Softplus Split Sqrt Squeeze Sub Tanh Tile Transpose Unsqueeze Where")
    attrs = ("axis axes perm shape allowzero keepdims noop_with_empty_axes split starts ends steps pads mode value "
             "value_float value_floats value_int value_ints kernel_shape strides dilations group auto_pad ceil_mode "
             "count_include_pad storage_order epsilon momentum alpha beta transA transB to start end equation "
             "stash_type approximate min max")
    enums = "constant reflect edge NOTSET VALID SAME_UPPER SAME_LOWER ai.onnx tanh none ij,jk->ik bij,bjk->bik"
    words.update(ops.split() + attrs.split() + enums.split())
    lines = ['"%s"' % x for x in sorted(words)]
    # little-endian int64 / float limits as they appear in raw_data, and large varints
    for v in (0, 1, -1, 1 << 31, (1 << 31) - 1, 1 << 32, 1 << 62, I64_MIN, I64_MAX):
        lines.append('"%s"' % "".join("\\x%02x" % b for b in struct.pack("<q", v)))
    for f in (float("inf"), float("nan"), 1e30, -0.0):
        lines.append('"%s"' % "".join("\\x%02x" % b for b in struct.pack("<f", f)))
    for v in (1 << 20, 1 << 31, 1 << 40, (1 << 63) - 1):
        lines.append('"%s"' % "".join("\\x%02x" % b for b in varint(v)))
    with open(path, "w") as f:
        f.write("# ONNX names and limit values for fuzz/fuzz_onnx.c (written by fuzz/make_corpus.py)\n")
        f.write("".join(line + "\n" for line in lines))


def main():
    global OUT
    args = sys.argv[1:]
    dict_path = None
    if len(args) == 3 and args[1] == "--dict":
        dict_path = args[2]
        args = args[:1]
    if len(args) != 1:
        raise SystemExit("usage: make_corpus.py OUTDIR [--dict FILE]")
    OUT = args[0]
    if dict_path:
        write_dict(dict_path)
    os.makedirs(OUT, exist_ok=True)
    helper_models()
    einsum_models()
    hostile_models()
    torch_models()
    print("make_corpus.py: %d files in %s" % (COUNT[0], OUT))


if __name__ == "__main__":
    main()
