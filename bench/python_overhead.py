#!/usr/bin/env python3
"""python_overhead.py: what `import critnet` adds to the C call (issue 19: no measurable overhead for arrays
already in float32 C order). The same checkpoint and inputs go through Net.predict / Net.measure here and
through cn_predict / cn_measure in bench_python (bench/bench_python.c), best of REPS each, one thread each,
the two processes alternating ROUNDS times so that a change in the machine's load hits both.

usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [--build build] [--reps 20] [--rounds 3]
       [--short]    (--short: a tiny run that checks the script still works; its times mean nothing)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import critnet

CASES = [  # name, model text, inputs
    ("MLP 784-256x3-10, 1000 inputs", "input 784\n" + "dense out=256 act=relu\n" * 3 + "dense out=10\n", 1000),
    ("tiny 4-4-2, 1 input (the fixed cost of a call)", "input 4\ndense out=4 act=tanh\ndense out=2\n", 1),
]


def best_of(fn, reps):
    """(wall, CPU) seconds, best of reps after one untimed call, as bench_python.c times"""
    fn()
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--short", action="store_true")
    a = ap.parse_args()
    if a.short:
        a.reps, a.rounds = 2, 1
    critnet.set_threads(1)
    exe = os.path.join(a.build, "bench", "bench_python")
    print(f"{'case':48s} {'call':8s} {'C wall ms':>10s} {'Py wall ms':>10s} {'ratio':>6s} {'C cpu ms':>10s} "
          f"{'Py cpu ms':>10s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec, n in CASES:
            net = critnet.from_spec(spec, init="kaiming_uniform", seed=0)
            net.save(os.path.join(tmp, "m.cnm"))
            x = np.random.default_rng(0).random((n, net.in_size), dtype=np.float32)
            x.tofile(os.path.join(tmp, "x.f32"))
            c = {k: [] for k in ("predict", "measure", "predict_cpu", "measure_cpu")}
            py = {k: [] for k in c}
            for _ in range(a.rounds):
                out = subprocess.run([exe, os.path.join(tmp, "m.cnm"), os.path.join(tmp, "x.f32"), str(n),
                                      str(a.reps)], capture_output=True, text=True, check=True).stdout
                for k, v in json.loads(out).items():
                    c[k].append(v)
                for call, fn in (("predict", lambda: net.predict(x)), ("measure", lambda: net.measure(x))):
                    wall, cpu = best_of(fn, a.reps)
                    py[call].append(wall)
                    py[call + "_cpu"].append(cpu)
            for call in ("predict", "measure"):
                w = [min(d[call]) * 1e3 for d in (c, py)]
                u = [min(d[call + "_cpu"]) * 1e3 for d in (c, py)]
                print(f"{name:48s} {call:8s} {w[0]:10.4f} {w[1]:10.4f} {w[1] / w[0]:6.3f} {u[0]:10.4f} {u[1]:10.4f} "
                      f"{u[1] / u[0]:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
