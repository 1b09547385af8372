#!/usr/bin/python3
"""onnx_torch_interp.py: a small interpreter that runs an ONNX graph with torch operations, in float64 by
default, with forward-mode AD, so that tests can compare critnet's import of a model (forward, and the
Jacobian-vector products of its blocks) against an implementation that shares none of its code.

The graph is read with python3-onnx and its weights with onnx.numpy_helper; every float tensor (weights,
Constant values, the input) is converted to the interpreter's dtype, every integer or boolean one to int64 or
bool. Nodes run in file order (ONNX files are topologically sorted). Operators: the ones torch.onnx.export
writes at opset 17 for TorchVision's classification models (resnet, mobilenet, efficientnet, densenet,
convnext, vit and their kin): see OPS below. Anything else raises NotImplementedError naming the node.

Forward-mode AD (torch.autograd.forward_ad). run(x, inject={name: tangent}) makes the tensor `name` a dual
tensor with that tangent as soon as it is computed (the graph input included), REPLACING whatever tangent it
carried: the tangent of every tensor downstream of it is then the Jacobian of the stretch between applied to
the injected tangent. When `name` is a cut of the graph (the network's whole state at that point is that one
tensor, as at critnet's block ends), injecting at the start of a block and reading the tangent at its end is
exactly that block's jvp; injecting at every block start in one run gives every block's jvp in one pass,
because each injection discards the tangent that arrived from upstream. A tangent may be a callable
f(primal) -> tangent, so that probes can be drawn with the shape the run produces.

Memory: a tensor is released after its last reader unless it is asked for in `keep`, so that a run at a
large batch (probes replicated along the batch axis) holds only the live tensors.

    python3 tests/onnx_torch_interp.py MODEL.onnx      prints the op counts and the output for a N(0,1) input
"""
import math
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch.autograd import forward_ad as fwAD

# ONNX TensorProto data types
_FLOAT_TYPES = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
_BOOL = 9


def _primal(t):
    return fwAD.unpack_dual(t).primal if isinstance(t, torch.Tensor) else t


def _tangent(t):
    return fwAD.unpack_dual(t).tangent if isinstance(t, torch.Tensor) else None


def _ints(t):
    """an integer tensor (shape, axes, pads ...) as a list of python ints"""
    return [int(v) for v in _primal(t).reshape(-1).tolist()]


class OnnxInterp:
    def __init__(self, path_or_model, dtype=torch.float64):
        model = onnx.load(path_or_model) if isinstance(path_or_model, str) else path_or_model
        self.model = model
        self.dtype = dtype
        g = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.consts = {init.name: self._tensor(numpy_helper.to_array(init), init.data_type) for init in g.initializer}
        inputs = [i.name for i in g.input if i.name not in self.consts]
        if len(inputs) != 1 or len(g.output) != 1:
            raise ValueError("expected one graph input and one output, got %s and %d" % (inputs, len(g.output)))
        self.input_name = inputs[0]
        self.output_name = g.output[0].name
        self.nodes = list(g.node)
        self.attrs = [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for n in self.nodes]
        self.producer = {}
        for i, n in enumerate(self.nodes):
            for o in n.output:
                if o:
                    self.producer[o] = i
        # last reader of each tensor (len(nodes) for the graph output)
        self.last_use = {}
        for i, n in enumerate(self.nodes):
            for t in n.input:
                if t:
                    self.last_use[t] = i
        self.last_use[self.output_name] = len(self.nodes)

    def _tensor(self, arr, data_type):
        arr = np.array(arr)  # a writable copy
        if data_type in _FLOAT_TYPES:
            return torch.from_numpy(arr.astype(np.float64)).to(self.dtype)
        if data_type == _BOOL:
            return torch.from_numpy(arr.astype(bool))
        return torch.from_numpy(arr.astype(np.int64))

    def op_counts(self):
        counts = {}
        for n in self.nodes:
            counts[n.op_type] = counts.get(n.op_type, 0) + 1
        return counts

    # ------------------------------------------------------------------ running

    def run(self, x, inject=None, keep=(), hooks=None, stop=None):
        """Runs the graph on x (batch first) inside one forward-AD level.
        inject: {tensor name: tangent, or callable(primal) -> tangent}: the tensor becomes dual with it.
        keep: names whose values to return; the graph output is always kept.
        hooks: {tensor name: f(primal, tangent_in) -> tangent or None}, called as the tensor is computed with
            the tangent it got from upstream (None: zero); a tensor it returns is injected there.
        stop: a tensor name after whose producer the run ends.
        Returns {name: (primal, tangent_in, injected)} for the kept names: tangent_in is the tangent the
        tensor got from upstream, injected the one put there (None for zero / nothing injected)."""
        inject = inject or {}
        hooks = hooks or {}
        keep = set(keep) | {self.output_name}
        out = {}
        floats = set()
        with fwAD.dual_level():
            vals = dict(self.consts)

            def store(name, v):
                if v.is_floating_point():
                    floats.add(name)
                if name in keep or name in inject or name in hooks:
                    p = _primal(v)
                    tin = _tangent(v) if v.is_floating_point() else None
                    inj = None
                    if name in hooks:
                        inj = hooks[name](p, tin)  # None: nothing injected, the tangent stays
                    if name in inject:
                        inj = inject[name]
                        inj = inj(p) if callable(inj) else inj
                    if inj is not None:
                        inj = inj.to(dtype=v.dtype).reshape(p.shape)
                        v = fwAD.make_dual(p, inj)
                    if name in keep:
                        out[name] = (p.detach().clone(), None if tin is None else tin.detach().clone(),
                                     None if inj is None else inj.detach().clone())
                vals[name] = v

            store(self.input_name, x.to(self.dtype))
            stop_node = self.producer[stop] if stop and stop in self.producer else len(self.nodes) - 1
            for i in range(stop_node + 1):
                n = self.nodes[i]
                args = [vals[t] if t else None for t in n.input]
                try:
                    res = self._op(n, self.attrs[i], args)
                except NotImplementedError:
                    raise
                except Exception as e:
                    raise RuntimeError("node %d %s (%s): %s" % (i, n.name, n.op_type, e)) from e
                if not isinstance(res, (list, tuple)):
                    res = [res]
                for name, v in zip(n.output, res):
                    if name:
                        store(name, v)
                # release what no later node reads (constants stay)
                for t in n.input:
                    if t and self.last_use.get(t) == i and t not in self.consts and t not in keep:
                        vals.pop(t, None)
        self.last_floats = floats
        return out

    def forward(self, x, keep=()):
        """primal values only: {name: tensor} for keep and the output"""
        return {k: v[0] for k, v in self.run(x, keep=keep).items()}

    def block_jvp(self, x, start, end, tangent):
        """(value at end, J tangent): the tangent at tensor `end` when `tangent` is injected at tensor `start`
        (the graph input or any cut) and the tangent is zero everywhere else."""
        r = self.run(x, inject={start: tangent}, keep={end}, stop=end)[end]
        tan = r[1] if r[1] is not None else torch.zeros_like(r[0])
        return r[0], tan

    def shapes(self, x, names):
        return {k: tuple(v[0].shape) for k, v in self.run(x, keep=names).items()}

    def const_value(self, name):
        """the value of an initializer or of a Constant node's output"""
        if name in self.consts:
            return self.consts[name]
        i = self.producer.get(name)
        if i is None or self.nodes[i].op_type != "Constant":
            raise ValueError("%s is not a constant" % name)
        return self._op_Constant(self.attrs[i])

    def active_tensors(self, x=None):
        """names of the float tensors that depend on the input's values (shape-only reads by Shape excluded),
        from a run on x (None: from the last run)"""
        if x is not None:
            self.run(x, stop=None)
        floats = self.last_floats
        active = {self.input_name}
        for n in self.nodes:
            reads = [t for j, t in enumerate(n.input) if t and not (n.op_type == "Shape" and j == 0)]
            if any(t in active for t in reads):
                active |= {o for o in n.output if o in floats}
        return active

    def is_cut(self, name, active):
        """whether the whole state of the network after `name` is computed is `name` itself: no later node
        reads the value of an active tensor computed before it"""
        p = self.producer.get(name, -1)
        for n in self.nodes[p + 1:]:
            for j, t in enumerate(n.input):
                if not t or t == name or t not in active or (n.op_type == "Shape" and j == 0):
                    continue
                if self.producer.get(t, -1) <= p:
                    return False
        return True

    # ------------------------------------------------------------------ operators

    def _op(self, n, a, args):
        f = getattr(self, "_op_" + n.op_type, None)
        if f is None:
            raise NotImplementedError("node %s: operator %s is not in onnx_torch_interp.py" % (n.name, n.op_type))
        return f(a, *args)

    # elementwise
    def _op_Identity(self, a, x):
        return x

    def _op_Relu(self, a, x):
        return torch.relu(x)

    def _op_Sigmoid(self, a, x):
        return torch.sigmoid(x)

    def _op_Tanh(self, a, x):
        return torch.tanh(x)

    def _op_Erf(self, a, x):
        return torch.erf(x)

    def _op_Sqrt(self, a, x):
        return torch.sqrt(x)

    def _op_Exp(self, a, x):
        return torch.exp(x)

    def _op_Neg(self, a, x):
        return -x

    def _op_Clip(self, a, x, lo=None, hi=None):
        if self.opset < 11:
            lo, hi = a.get("min"), a.get("max")
        else:
            lo = None if lo is None else float(_primal(lo))
            hi = None if hi is None else float(_primal(hi))
        return torch.clamp(x, min=lo, max=hi)

    def _op_Add(self, a, x, y):
        return x + y

    def _op_Sub(self, a, x, y):
        return x - y

    def _op_Mul(self, a, x, y):
        return x * y

    def _op_Div(self, a, x, y):
        if not x.is_floating_point() and not y.is_floating_point():
            return torch.div(x, y, rounding_mode="trunc")
        return x / y

    def _op_Pow(self, a, x, y):
        return torch.pow(x, y)

    def _op_Equal(self, a, x, y):
        return torch.eq(_primal(x), _primal(y))

    def _op_Where(self, a, c, x, y):
        return torch.where(_primal(c), x, y)

    def _op_Cast(self, a, x):
        to = a["to"]
        if to in _FLOAT_TYPES:
            return x.to(self.dtype) if x.is_floating_point() else _primal(x).to(self.dtype)
        if to == _BOOL:
            return _primal(x).to(torch.bool)
        return _primal(x).to(torch.int64)

    # linear algebra
    def _op_MatMul(self, a, x, y):
        if x.dim() > 2 and y.dim() == 2:
            # as one mm: torch.matmul on a dual 3-d tensor makes one more copy of the weight per call
            return torch.mm(x.reshape(-1, x.shape[-1]), y).reshape(x.shape[:-1] + (y.shape[1],))
        return torch.matmul(x, y)

    def _op_Gemm(self, a, A, B, C=None):
        if a.get("transA", 0):
            A = A.t()
        if a.get("transB", 0):
            B = B.t()
        y = a.get("alpha", 1.0) * (A @ B)
        if C is not None:
            y = y + a.get("beta", 1.0) * C
        return y

    def _op_Conv(self, a, x, w, b=None):
        nsp = w.dim() - 2
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise NotImplementedError("Conv auto_pad")
        strides = list(a.get("strides", [1] * nsp))
        dil = list(a.get("dilations", [1] * nsp))
        pads = list(a.get("pads", [0] * 2 * nsp))
        if pads[:nsp] != pads[nsp:]:
            x = F.pad(x, self._torch_pads(pads))
            pads = [0] * 2 * nsp
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nsp]
        return conv(x, w, b, stride=strides, padding=pads[:nsp], dilation=dil, groups=a.get("group", 1))

    @staticmethod
    def _torch_pads(pads):
        """ONNX [x1_begin, x2_begin, ..., x1_end, x2_end, ...] -> F.pad's (last_begin, last_end, ...)"""
        k = len(pads) // 2
        out = []
        for i in reversed(range(k)):
            out += [pads[i], pads[i + k]]
        return out

    def _op_BatchNormalization(self, a, x, scale, bias, mean, var):
        if a.get("training_mode", 0):
            raise NotImplementedError("BatchNormalization in training mode")
        shape = [1, -1] + [1] * (x.dim() - 2)
        k = scale / torch.sqrt(var + a.get("epsilon", 1e-5))
        return (x - mean.reshape(shape)) * k.reshape(shape) + bias.reshape(shape)

    def _op_LayerNormalization(self, a, x, scale, bias=None):
        axis = a.get("axis", -1)
        axis = axis if axis >= 0 else x.dim() + axis
        eps = a.get("epsilon", 1e-5)
        dims = tuple(range(axis, x.dim()))
        mu = x.mean(dim=dims, keepdim=True)
        d = x - mu
        var = (d * d).mean(dim=dims, keepdim=True)
        y = d / torch.sqrt(var + eps) * scale
        return y + bias if bias is not None else y

    def _op_Softmax(self, a, x):
        axis = a.get("axis", -1 if self.opset >= 13 else 1)
        if self.opset < 13:
            shp = x.shape
            axis = axis if axis >= 0 else x.dim() + axis
            return torch.softmax(x.reshape(int(np.prod(shp[:axis])), -1), dim=1).reshape(shp)
        return torch.softmax(x, dim=axis)

    # pooling
    def _pool_args(self, a, nsp):
        k = list(a["kernel_shape"])
        s = list(a.get("strides", [1] * nsp))
        pads = list(a.get("pads", [0] * 2 * nsp))
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise NotImplementedError("pool auto_pad")
        return k, s, pads

    def _op_MaxPool(self, a, x):
        nsp = x.dim() - 2
        k, s, pads = self._pool_args(a, nsp)
        dil = list(a.get("dilations", [1] * nsp))
        if pads[:nsp] != pads[nsp:] or any(p > kk // 2 for p, kk in zip(pads, k)):
            x = F.pad(x, self._torch_pads(pads), value=-math.inf)
            pads = [0] * 2 * nsp
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nsp]
        return pool(x, k, s, pads[:nsp], dil, ceil_mode=bool(a.get("ceil_mode", 0)))

    def _op_AveragePool(self, a, x):
        nsp = x.dim() - 2
        k, s, pads = self._pool_args(a, nsp)
        include = bool(a.get("count_include_pad", 0))
        ceil = bool(a.get("ceil_mode", 0))
        if any(pads):
            if ceil or pads[:nsp] != pads[nsp:] or any(p > kk // 2 for p, kk in zip(pads, k)):
                raise NotImplementedError("AveragePool with these pads")
        pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nsp]
        return pool(x, k, s, pads[:nsp], ceil_mode=ceil, count_include_pad=include)

    def _op_GlobalAveragePool(self, a, x):
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)

    def _op_GlobalMaxPool(self, a, x):
        return torch.amax(x, dim=tuple(range(2, x.dim())), keepdim=True)

    def _op_ReduceMean(self, a, x, axes=None):
        axes = a.get("axes") if axes is None else _ints(axes)
        keep = bool(a.get("keepdims", 1))
        if axes is None:
            axes = list(range(x.dim()))
        return x.mean(dim=tuple(axes), keepdim=keep)

    # moving data
    def _op_Pad(self, a, x, pads=None, value=None, axes=None):
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pads = list(a["pads"]) if pads is None else _ints(pads)
        if axes is not None:
            raise NotImplementedError("Pad with axes")
        v = 0.0 if value is None else float(_primal(value))
        if mode != "constant":
            raise NotImplementedError("Pad mode " + mode)
        return F.pad(x, self._torch_pads(pads), value=v)

    def _op_Concat(self, a, *xs):
        xs = [x for x in xs if x is not None]
        if not xs[0].is_floating_point():
            return torch.cat([_primal(x) for x in xs], dim=a["axis"])
        return torch.cat(xs, dim=a["axis"])

    def _op_Flatten(self, a, x):
        axis = a.get("axis", 1)
        axis = axis if axis >= 0 else x.dim() + axis
        return x.reshape(int(np.prod(x.shape[:axis])), -1)

    def _op_Transpose(self, a, x):
        perm = a.get("perm", list(reversed(range(x.dim()))))
        return x.permute(*perm)

    def _op_Reshape(self, a, x, shape):
        shape = _ints(shape)
        if not a.get("allowzero", 0):
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x.reshape(shape)

    def _op_Shape(self, a, x):
        dims = list(x.shape)
        start, end = a.get("start", 0), a.get("end", None)
        return torch.tensor(dims[start:end], dtype=torch.int64)

    def _op_Gather(self, a, x, idx):
        axis = a.get("axis", 0)
        axis = axis if axis >= 0 else x.dim() + axis
        idx = _primal(idx)
        idx = torch.where(idx < 0, idx + x.shape[axis], idx)
        out = torch.index_select(x, axis, idx.reshape(-1))
        return out.reshape(list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:]))

    def _op_Unsqueeze(self, a, x, axes=None):
        axes = list(a["axes"]) if axes is None else _ints(axes)
        r = x.dim() + len(axes)
        for ax in sorted(ax if ax >= 0 else ax + r for ax in axes):
            x = x.unsqueeze(ax)
        return x

    def _op_Squeeze(self, a, x, axes=None):
        axes = a.get("axes") if axes is None else _ints(axes)
        if axes is None:
            return x.squeeze()
        for ax in sorted((ax if ax >= 0 else ax + x.dim() for ax in axes), reverse=True):
            x = x.squeeze(ax)
        return x

    def _op_Slice(self, a, x, starts, ends, axes=None, steps=None):
        starts, ends = _ints(starts), _ints(ends)
        axes = list(range(len(starts))) if axes is None else _ints(axes)
        steps = [1] * len(starts) if steps is None else _ints(steps)
        idx = [slice(None)] * x.dim()
        for s, e, ax, st in zip(starts, ends, axes, steps):
            ax = ax if ax >= 0 else ax + x.dim()
            d = x.shape[ax]
            if st <= 0:
                raise NotImplementedError("Slice with a step <= 0")
            s = max(0, min(d, s + d if s < 0 else s))
            e = max(0, min(d, e + d if e < 0 else e))
            idx[ax] = slice(s, e, st)
        return x[tuple(idx)]

    def _op_Expand(self, a, x, shape):
        shape = torch.broadcast_shapes(tuple(x.shape), tuple(_ints(shape)))
        return x.expand(shape)

    def _op_Constant(self, a):
        if "value" in a:
            t = a["value"]
            return self._tensor(numpy_helper.to_array(t), t.data_type)
        if "value_float" in a:
            return torch.tensor(a["value_float"], dtype=self.dtype)
        if "value_floats" in a:
            return torch.tensor(list(a["value_floats"]), dtype=self.dtype)
        if "value_int" in a:
            return torch.tensor(a["value_int"], dtype=torch.int64)
        if "value_ints" in a:
            return torch.tensor(list(a["value_ints"]), dtype=torch.int64)
        raise NotImplementedError("Constant without a value")

    def _op_ConstantOfShape(self, a, shape):
        shape = _ints(shape)
        if "value" in a:
            t = a["value"]
            v = self._tensor(numpy_helper.to_array(t), t.data_type).reshape(-1)[0]
            return torch.full(shape, v.item(), dtype=v.dtype)
        return torch.zeros(shape, dtype=self.dtype)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.manual_seed(0)
    m = OnnxInterp(sys.argv[1])
    print(m.op_counts())
    shape = [d.dim_value or 1 for d in m.model.graph.input[0].type.tensor_type.shape.dim]
    y = m.forward(torch.randn(shape))[m.output_name]
    print(tuple(y.shape), y.reshape(-1)[:8].tolist())


if __name__ == "__main__":
    main()
