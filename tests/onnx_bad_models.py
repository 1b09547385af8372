#!/usr/bin/env python3
"""onnx_bad_models.py: ONNX files that critnet must refuse, for tests/test_onnx_errors.c.

Usage: /usr/bin/python3 tests/onnx_bad_models.py OUTDIR

Writes OUTDIR/valid.onnx, a small model that loads (input (N,3,6,6) -> Conv "conv1" -> Relu "relu1" ->
Flatten "flatten" -> Gemm "fc" -> output (N,2)), and one file per fault below, each that model with one
thing wrong, so that the message the test expects can only come from that fault. Built with onnx.helper
alone (no torch), so it is quick. OUTDIR/cases.txt lists the fault files, one a line, as
    FILE<TAB>STATUS<TAB>PHRASE[<TAB>PHRASE...]
STATUS is the cn_status name the load must return; every PHRASE must occur in the message (the file name
is checked by the test itself).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(5)


def weights(shape):
    return (rng.standard_normal(shape) * 0.3).astype(np.float32)


def build(opset=13, conv_w=(4, 3, 3, 3), in_dims=("N", 3, 6, 6), nodes_order=None, extra_inputs=(),
          extra_nodes=(), conv_op="Conv", conv_domain=None):
    nodes = [
        helper.make_node(conv_op, ["input", "conv1.w", "conv1.b"], ["h"], name="conv1", pads=[0, 0, 0, 0],
                         domain=conv_domain),
        helper.make_node("Relu", ["h"], ["r"], name="relu1"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["output"], name="fc", transB=1),
    ] + list(extra_nodes)
    if nodes_order:
        nodes = [nodes[i] for i in nodes_order]
    inits = [numpy_helper.from_array(weights(conv_w), "conv1.w"),
             numpy_helper.from_array(weights((conv_w[0],)), "conv1.b"),
             numpy_helper.from_array(weights((2, 4 * 4 * 4)), "fc.w"),
             numpy_helper.from_array(weights((2,)), "fc.b")]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(in_dims))] + list(extra_inputs)
    graph = helper.make_graph(nodes, "small", inputs,
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2])], inits)
    opsets = [helper.make_opsetid("", opset)]
    if conv_domain:
        opsets.append(helper.make_opsetid(conv_domain, 1))
    return helper.make_model(graph, opset_imports=opsets)


def init_named(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: onnx_bad_models.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = []

    def save(name, model, status, *phrases):
        with open(os.path.join(out, name), "wb") as f:
            f.write(model.SerializeToString())
        if status:
            cases.append("\t".join((name, status) + phrases))

    save("valid.onnx", build(), None)
    save("opset22.onnx", build(opset=22), "CN_ERR_UNSUPPORTED", "opset 22", "1 to 21")
    save("opset0.onnx", build(opset=0), "CN_ERR_UNSUPPORTED", "opset 0", "1 to 21")
    # the older meaning of an operator that critnet does not follow (opset.c)
    m = build(opset=6)
    m.graph.node[1].CopyFrom(helper.make_node("Add", ["h", "conv1.b"], ["r"], name="legacy_add", broadcast=1, axis=1))
    save("legacy_broadcast.onnx", m, "CN_ERR_UNSUPPORTED", "legacy_add", "broadcast along an axis", "opset 6")
    # an operator outside the table, at the place of the Conv: the message names node and operator
    save("unique.onnx", build(conv_op="Unique"), "CN_ERR_UNSUPPORTED", "conv1", "Unique", "not supported")
    save("nonzero.onnx", build(extra_nodes=[helper.make_node("NonZero", ["output"], ["nz"], name="nz_node")]),
         "CN_ERR_UNSUPPORTED", "nz_node", "NonZero", "not supported")
    # a custom domain: refused by domain before the operator is looked up
    save("custom_domain.onnx", build(conv_op="FancyConv", conv_domain="com.example"), "CN_ERR_UNSUPPORTED",
         "conv1", "com.example", "domain")

    # dims say 108 values (4x3x3x3), raw_data holds 4x3x3x2 = 72
    m = build()
    t = init_named(m, "conv1.w")
    t.raw_data = t.raw_data[:72 * 4]
    save("init_shape.onnx", m, "CN_ERR_FORMAT", "conv1.w", "holds 72", "needs 108")
    # raw_data cut by 6 bytes, not even a whole number of floats: 2 values short as the reader counts them
    m = build()
    t = init_named(m, "fc.w")
    t.raw_data = t.raw_data[:-6]
    save("raw_short.onnx", m, "CN_ERR_FORMAT", "fc.w", "holds 126", "needs 128")

    # Relu before the Conv that produces its input
    save("order.onnx", build(nodes_order=[1, 0, 2, 3]), "CN_ERR_FORMAT", "relu1", "before any node produces",
         "topological")
    save("two_inputs.onnx",
         build(extra_inputs=[helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 3, 6, 6])]),
         "CN_ERR_UNSUPPORTED", "2 inputs")
    # weights for 5 input channels, the input has 3: only a run of the graph at load time can see it
    save("conv_channels.onnx", build(conv_w=(4, 5, 3, 3)), "CN_ERR_FORMAT", "conv1", "3 channels",
         "expect 5")
    save("symbolic_dim.onnx", build(in_dims=("N", 3, "H", 6)), "CN_ERR_UNSUPPORTED", "input",
         "dimension 2 is symbolic")
    # a batch fixed at 4 is re-batched (rebatch.c) where the graph allows it; here a Reshape to a constant
    # (4, 64) does not, and a softmax over the first axis mixes the examples
    m = build(in_dims=(4, 3, 6, 6))
    m.graph.node[2].CopyFrom(helper.make_node("Reshape", ["r", "shape4"], ["f"], name="reshape"))
    m.graph.initializer.append(numpy_helper.from_array(np.array([4, 64], np.int64), "shape4"))
    save("fixed_batch.onnx", m, "CN_ERR_FORMAT", "reshape", "fixes the batch at 4", "dynamic batch")
    m = build(in_dims=(4, 3, 6, 6))
    m.graph.node[3].output[0] = "logits"
    m.graph.node.append(helper.make_node("Softmax", ["logits"], ["output"], name="softmax0", axis=0))
    save("fixed_batch_mixed.onnx", m, "CN_ERR_UNSUPPORTED", "fixes the batch at 4", "do not stay apart")

    # the weights in a side file: data_location EXTERNAL with its external_data entries, raw_data gone
    m = build()
    t = init_named(m, "conv1.w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "432")):
        e = t.external_data.add()
        e.key, e.value = k, v
    save("external_data.onnx", m, "CN_ERR_UNSUPPORTED", "conv1.w", "external file")

    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("".join(c + "\n" for c in cases))
    print("onnx_bad_models.py: %d faulty models and valid.onnx" % len(cases))


if __name__ == "__main__":
    main()
