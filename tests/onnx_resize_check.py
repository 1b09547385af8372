#!/usr/bin/env python3
"""onnx_resize_check.py: ONNX Resize in critnet against the ONNX reference implementation
(onnx.backend.test.case.node.resize, which generated the backend test data), node by node.

Usage: /usr/bin/python3 tests/onnx_resize_check.py CRITNET_BIN

The backend test data's own Resize cases give the scales or sizes as a second graph input, which critnet
refuses (one input); here each is a constant. For every coordinate_transformation_mode that critnet runs
(half_pixel, pytorch_half_pixel, align_corners, asymmetric) and mode (nearest with each nearest_mode,
linear), a one-node graph at opset 13 with constant scales (up, down, both) and at opset 18 with sizes for
axes [2, 3] goes through `critnet predict` on a (2, 1, 5, 7) input; its output must equal the reference's
within 1e-5. Two comparisons are left out where the reference of ONNX 1.12 departs from the operator's
definition (and from onnxruntime and PyTorch): align_corners with scales that do not give a whole output length
(the reference divides by in * scale - 1, not by the output length - 1) and pytorch_half_pixel with an output of
length 1 (the reference maps it to -0.5, the definition to 0). Then the forms critnet does not run (cubic,
tf_crop_and_resize, antialias, a resize of the batch axis) must be refused with a message naming the node.
Closing line: 'onnx_resize: N passed, N failed'.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx.backend.test.case.node.resize import interpolate_nd, linear_coeffs, nearest_coeffs

TOL = 1e-5


def write_model(path, attrs, opset, scales=None, sizes=None, axes=None):
    inits, ins = [], ["input", ""]
    if scales is not None:
        inits.append(h.make_tensor("scales", T.FLOAT, [len(scales)], scales))
        ins.append("scales")
    else:
        inits.append(h.make_tensor("sizes", T.INT64, [len(sizes)], sizes))
        ins += ["", "sizes"]
    if axes is not None:
        attrs = dict(attrs, axes=axes)
    node = h.make_node("Resize", ins, ["output"], name="resize1", **attrs)
    g = h.make_graph([node], "resize", [h.make_tensor_value_info("input", T.FLOAT, ["batch", 1, 5, 7])],
                     [h.make_tensor_value_info("output", T.FLOAT, None)], inits)
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", opset)]), path)


def predict(binary, tmp, model):
    out = os.path.join(tmp, "y.npy")
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.run([binary, "predict", "--model", model, "--data", "npy:" + os.path.join(tmp, "x.npy"),
                        "--out", out, "--quiet", "--threads", "1"], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr, (np.load(out) if p.returncode == 0 else None)


def main():
    binary = sys.argv[1]
    passed = failed = 0
    worst = 0.0
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 7)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x.reshape(2, -1))
        model = os.path.join(tmp, "m.onnx")
        for ct in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]:
            for mode in ["nearest", "linear"]:
                for nm in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"] if mode == "nearest" else ["floor"]:
                    attrs = dict(mode=mode, coordinate_transformation_mode=ct, nearest_mode=nm)
                    targets = [("scales", [1, 1, 0.6, 1.7]), ("scales", [1, 1, 2.0, 3.0]), ("scales", [1, 1, 0.4, 0.25]),
                               ("sizes", [3, 11]), ("sizes", [8, 4]), ("sizes", [1, 7])]
                    for kind, val in targets:
                        out = val if kind == "sizes" else [int(np.floor(i * s)) for i, s in zip((5, 7), val[2:])]
                        if ct == "align_corners" and kind == "scales" and any(
                                float(np.float32(s)) * i != o for i, s, o in zip((5, 7), val[2:], out)):
                            continue
                        if ct == "pytorch_half_pixel" and 1 in out:
                            continue
                        if kind == "scales":
                            write_model(model, attrs, 13, scales=val)
                            kw = dict(scale_factors=np.array(val[2:], np.float32))
                        else:
                            write_model(model, attrs, 18, sizes=val, axes=[2, 3])
                            kw = dict(output_size=np.array(val))
                        what = "%s %s %s %s %s" % (ct, mode, nm, kind, val)
                        rc, err, y = predict(binary, tmp, model)
                        if rc != 0:
                            print("FAIL %s: refused: %s" % (what, err.strip()))
                            failed += 1
                            continue
                        coeffs = (lambda r, nm=nm: nearest_coeffs(r, mode=nm)) if mode == "nearest" else linear_coeffs
                        # plane by plane: the reference's pure-Python recursion over the N and C axes is slow
                        ref = np.stack([interpolate_nd(x[i, 0], coeffs, coordinate_transformation_mode=ct, **kw)
                                        for i in range(x.shape[0])])
                        if y.size != ref.size:
                            print("FAIL %s: %d outputs, the reference %d" % (what, y.size, ref.size))
                            failed += 1
                            continue
                        d = float(np.abs(y.ravel() - ref.ravel()).max())
                        worst = max(worst, d)
                        if d <= TOL:
                            passed += 1
                        else:
                            print("FAIL %s: max |diff| %.3g" % (what, d))
                            failed += 1
        print("onnx_resize: %d comparisons with the ONNX reference, worst max|diff| %.2g (bound %g)" % (passed + failed, worst, TOL))
        refusals = [("cubic", dict(mode="cubic"), 13, [1, 1, 2, 2], "mode \"cubic\""),
                    ("crop", dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"), 13, [1, 1, 2, 2],
                     "tf_crop_and_resize"),
                    ("antialias", dict(mode="linear", antialias=1), 18, [1, 1, 0.5, 0.5], "antialias"),
                    ("batch", dict(mode="nearest"), 13, [2, 1, 2, 2], "batch")]
        for name, attrs, opset, scales, expect in refusals:
            write_model(model, attrs, opset, scales=scales)
            rc, err, _ = predict(binary, tmp, model)
            if rc in (1, 2) and "node resize1 (Resize)" in err and expect in err:
                passed += 1
            else:
                print("FAIL %s must be refused naming the node and '%s' (rc %d): %s" % (name, expect, rc, err.strip()))
                failed += 1
    print("onnx_resize: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
