#!/usr/bin/env python3
"""onnx_backend.py: runs the official ONNX backend test data (Debian's libonnx-testdata: node/,
pytorch-converted/, pytorch-operator/, simple/) through `critnet predict`, as a user with those files would.

Usage: /usr/bin/python3 tests/onnx_backend.py CRITNET_BIN [--data DIR] [--csv FILE] [--jobs N] [--limit N]

For every test case (a folder with model.onnx and test_data_set_0/) the first input is converted to .npy
(reshaped to (N, features), since critnet only asks that the features per example match) and the model is
run with `critnet predict`. Then exactly one of these holds, or the case fails:
  matched   critnet accepted the model and its outputs equal output_0.pb within |out - ref| <= 1e-4 + 1e-3 |ref|
  refused   critnet refused it with exit status 1 or 2 and a message naming the model file
A crash (a signal, a sanitizer report), a hang (60 s), an accepted model whose outputs differ, or a refusal
without a message is a failure. The closing line is 'onnx_backend: N passed, N failed' for ctest.
--csv writes one row per case (suite, name, status, reason) for docs/onnx.md's table.
"""
import argparse
import collections
import concurrent.futures
import csv
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple"]
ABS_TOL, REL_TOL = 1e-4, 1e-3


def reason_of(stderr):
    """the refusal's reason with names and numbers taken out, so that like refusals group together"""
    line = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    line = re.sub(r"^critnet( \w+)?: ", "", line)
    line = re.sub(r"\S*model\.onnx:?\s*", "", line)
    line = re.sub(r"node \S+ \((\w+)\)", r"node (\1)", line)
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", line)
    line = re.sub(r"\b\d+\b", "N", line)
    return line[:160]


def read_tensor(path):
    """a TensorProto file as an array, or None where the file holds a sequence, a map or an optional"""
    t = onnx.TensorProto()
    try:
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        return numpy_helper.to_array(t)
    except Exception:
        return None


def run_case(binary, suite, case_dir, tmp):
    name = os.path.basename(case_dir)
    model = os.path.join(case_dir, "model.onnx")
    data = os.path.join(case_dir, "test_data_set_0")
    inputs = sorted(f for f in os.listdir(data) if f.startswith("input_")) if os.path.isdir(data) else []
    outputs = sorted(f for f in os.listdir(data) if f.startswith("output_")) if os.path.isdir(data) else []
    if not inputs or not outputs:
        return suite, name, "refused", "the test case has no input or no output data (not run)", True
    x, ref = read_tensor(os.path.join(data, inputs[0])), read_tensor(os.path.join(data, outputs[0]))
    if x is None:
        x = np.zeros((1, 1), np.int64)  # a sequence or optional input: critnet must refuse the model
    xin = os.path.join(tmp, name + ".npy")
    yout = os.path.join(tmp, name + ".out.npy")
    if x.size == 0:
        np.save(xin, np.zeros((1, 1), np.float32))  # an empty input: no example to run
    elif x.ndim >= 2 and x.dtype.kind == "f":
        np.save(xin, np.ascontiguousarray(x.reshape(x.shape[0], -1)))
    elif x.dtype.kind == "f":
        np.save(xin, np.ascontiguousarray(x.reshape(1, -1)))  # no batch axis: critnet must refuse the model
    else:
        np.save(xin, np.zeros((1, max(1, x.size)), np.float32))  # an int/bool input: critnet must refuse it
    batch = str(max(1, x.shape[0] if x.ndim >= 1 else 1))
    try:
        p = subprocess.run([binary, "predict", "--model", model, "--data", "npy:" + xin, "--out", yout,
                            "--batch", batch, "--quiet", "--threads", "1"],
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return suite, name, "FAILED", "hang: no answer in 60 s", False
    if p.returncode < 0 or p.returncode > 2 or "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        return suite, name, "FAILED", "crash: status %d %s" % (p.returncode, p.stderr.strip()[-300:]), False
    if p.returncode != 0:
        clear = "model.onnx" in p.stderr and len(p.stderr.strip()) > 20
        if not clear:
            return suite, name, "FAILED", "refused without a clear message: %r" % p.stderr.strip(), False
        return suite, name, "refused", reason_of(p.stderr), True
    y = np.load(yout).astype(np.float64).ravel()
    r = ref.astype(np.float64).ravel() if ref is not None and ref.dtype.kind in "fiub" else None
    if r is None or y.size != r.size:
        return suite, name, "FAILED", "accepted, but %d outputs where the reference has %s" % (
            y.size, "non-numeric data" if r is None else str(r.size)), False
    both_nan = np.isnan(y) & np.isnan(r)
    err = np.abs(y - r)
    ok = both_nan | (err <= ABS_TOL + REL_TOL * np.abs(r)) | ((y == r) & np.isinf(r))
    if not ok.all():
        worst = int(np.argmax(np.where(ok, 0, err)))
        return suite, name, "FAILED", "accepted, but output %d is %g, the reference %g" % (worst, y[worst], r[worst]), False
    return suite, name, "matched", "", True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data")
    ap.add_argument("--csv")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="the first N cases of each suite (0: all)")
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        print("onnx_backend: %s is missing (apt-get install libonnx-testdata; scripts/setup.sh does)" % a.data)
        print("onnx_backend: 0 passed, 1 failed")
        return 1
    cases = []
    for suite in SUITES:
        root = os.path.join(a.data, suite)
        names = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "model.onnx")))
        if a.limit:
            names = names[:a.limit]
        cases += [(suite, os.path.join(root, d)) for d in names]
    results = []
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futures = [pool.submit(run_case, a.binary, s, d, tmp) for s, d in cases]
        for f in futures:
            results.append(f.result())
    by_suite = collections.defaultdict(collections.Counter)
    reasons = collections.Counter()
    for suite, name, status, reason, good in results:
        by_suite[suite][status] += 1
        if status == "refused":
            reasons[reason] += 1
        if not good:
            print("FAIL %s/%s: %s" % (suite, name, reason))
    print("%-20s %8s %8s %8s" % ("suite", "matched", "refused", "FAILED"))
    for suite in SUITES:
        c = by_suite[suite]
        print("%-20s %8d %8d %8d" % (suite, c["matched"], c["refused"], c["FAILED"]))
    print("most common refusals:")
    for reason, n in reasons.most_common(12):
        print("  %5d  %s" % (n, reason))
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["suite", "case", "status", "reason"])
            for suite, name, status, reason, _ in sorted(results):
                w.writerow([suite, name, status, reason])
    passed = sum(1 for r in results if r[4])
    print("onnx_backend: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
