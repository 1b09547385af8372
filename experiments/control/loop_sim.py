#!/usr/bin/env python3
"""loop_sim.py: the homeostatic controller's loop in one dimension, to choose how its running estimate treats
its own corrections (src/control/homeostat.c). x is a block's ln sigma; each observation sees x plus noise; the
estimate m is an exponential average (smoothing a); outside the dead band the gain moves by d = -rate m
(|d| <= 0.5), which changes x by slope * d; learning adds `drift` per observation. "predict" also moves m by d,
as if the slope were 1. Prints, per variant and slope, the observations until |x| stays below 0.05 from
+-0.7, and the largest |x| over the last 10 of 40 observations.

    /usr/bin/python3 experiments/control/loop_sim.py
"""
import random


def run(slope, a, rate, predict, x0, drift=0.005, band=0.02, noise=0.005, n=40):
    rng = random.Random(1)
    x, m, xs = x0, None, []
    for _ in range(n):
        e = x + rng.gauss(0, noise)
        m = e if m is None else (1 - a) * m + a * e
        if abs(m) > band:
            d = max(-0.5, min(0.5, -rate * m))
            x += slope * d
            if predict:
                m += d
        x += drift
        xs.append(x)
    settled = next((i + 1 for i in range(n) if all(abs(v) < 0.05 for v in xs[i:])), None)
    return settled, max(abs(v) for v in xs[-10:])


def main():
    print("variant                     " + "  ".join(f"slope {s} from {x0:+.1f}" for s in (0.3, 0.6, 1.0)
                                                    for x0 in (0.7, -0.7)))
    for predict in (1, 0):
        for a in (0.5, 1.0):
            for rate in (0.5, 0.8):
                cells = []
                for s in (0.3, 0.6, 1.0):
                    for x0 in (0.7, -0.7):
                        settled, tail = run(s, a, rate, predict, x0)
                        cells.append(f"{settled if settled else 'never':>5} obs, {tail:.3f}")
                name = f"{'predict' if predict else 'lag'} a={a} rate={rate}"
                print(f"{name:<27} " + "  ".join(f"{c:>19}" for c in cells))


if __name__ == "__main__":
    main()
