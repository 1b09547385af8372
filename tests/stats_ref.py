#!/usr/bin/python3
"""stats_ref.py: reference numbers from scipy.stats for tests/test_stats.c.

Usage: stats_ref.py OUTFILE [BOOTFILE]

Writes OUTFILE (format CNSTATS1, whitespace-separated tokens, floats as Python's repr so they read back
exactly) with numpy's mean and std(ddof=1), scipy.stats.wilcoxon with its defaults and scipy.stats.pearsonr
and spearmanr on fixed data sets, and, for every case in BOOTFILE (written by the C test),
scipy.stats.bootstrap of the mean:
  - on the very resample indices critnet drew (scipy is handed them through a RandomState whose randint
    returns them), percentile and BCa, so these must agree to rounding;
  - with scipy's own generator and many resamples, to compare with critnet within Monte Carlo error.

Records:
  meansd NAME N x... MEAN SD
  wilcoxon NAME ALT N x... y... STATISTIC PVALUE Z EXACT NUSED
      (Z: scipy's method="approx" zstatistic; EXACT: 1, 0, or -1 where both methods give this p)
  wilcoxon_error NAME ALT N x... y...                             (scipy raised ValueError)
  corr KIND NAME N x... y... R PVALUE          (KIND pearson or spearman)
  corr_error KIND NAME N x... y...             (scipy gave NaN: a constant input)
  boot_same NAME PCT_LO PCT_HI BCA_LO BCA_HI
  boot_mc NAME RESAMPLES PCT_LO PCT_HI BCA_LO BCA_HI
  end RECORDS
BOOTFILE: records "boot NAME N RESAMPLES LEVEL x... idx..." (RESAMPLES*N indices, resample-major).
"""
import sys
import warnings

import numpy as np
import scipy
import scipy.stats as st


def fmt(v):
    return repr(float(v))


def nums(a):
    return " ".join(fmt(v) for v in a)


class ReplayState(np.random.RandomState):
    """A RandomState whose randint hands back fixed indices: scipy.stats.bootstrap draws all its resample
    indices in one randint(0, n, (resamples, n)) call when batch is None (scipy 1.10, _resampling.py)."""

    def __init__(self, idx):
        super().__init__(0)
        self.idx = idx
        self.used = False

    def randint(self, low, high=None, size=None, dtype=int):
        if self.used or low != 0 or high != self.idx.shape[1] or tuple(size) != self.idx.shape:
            raise RuntimeError(f"unexpected randint({low}, {high}, {size}): scipy's resampling changed")
        self.used = True
        return self.idx.copy()


def wilcoxon_cases():
    """(name, x, y) data sets; every one is run with each alternative."""
    rng = np.random.default_rng(20240604)
    cases = []
    # the example in scipy's docstring (Cheung & Klotz's corn heights), as differences against zeros
    d = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], float)
    cases.append(("corn15", d, np.zeros_like(d)))
    # small n, continuous, no ties: exact null distribution
    x = np.round(rng.normal(0.3, 1, 10), 6)
    y = np.round(rng.normal(0.0, 1, 10), 6)
    cases.append(("exact10", x, y))
    # n = 1, and n = 3 with W+ at the centre of the distribution (scipy's p = 1 branch)
    cases.append(("single", np.array([2.5]), np.array([1.0])))
    cases.append(("centre3", np.array([1.0, 2.0, -3.0]), np.zeros(3)))
    # every difference positive: the extreme tail, p = 2^-20 one-sided
    cases.append(("allpos20", np.arange(1, 21, dtype=float) + 0.5, np.zeros(20)))
    # n = 50 (last exact size) and n = 51 (first approximate one)
    cases.append(("exact50", np.round(rng.normal(0.2, 1, 50), 5), np.round(rng.normal(0, 1, 50), 5)))
    cases.append(("approx51", np.round(rng.normal(0.2, 1, 51), 5), np.round(rng.normal(0, 1, 51), 5)))
    # ties but no zeros, n <= 50: scipy 1.10 still takes the exact branch, W+ = 70.5 truncated to 70
    d = np.array([1, -1, 2, 3, 3, -4, 5, 6, 7, 8, 9, 10], float)
    cases.append(("ties12_exact", d, np.zeros_like(d)))
    # zeros and ties, n <= 50: normal approximation, zeros dropped, tie correction
    x = rng.integers(0, 6, 30).astype(float)
    y = rng.integers(0, 5, 30).astype(float)
    cases.append(("ties30_zeros", x, y))
    # n = 80: normal approximation, continuous and with ties
    cases.append(("approx80", np.round(rng.normal(0.15, 1, 80), 6), np.round(rng.normal(0, 1, 80), 6)))
    cases.append(("ties80", rng.integers(0, 10, 80).astype(float), rng.integers(0, 9, 80).astype(float)))
    # accuracies of paired runs, the experiment's use (values like 0.8731 - 0.8702)
    a = np.round(0.87 + 0.01 * rng.standard_normal(16), 4)
    b = np.round(a - 0.002 + 0.003 * rng.standard_normal(16), 4)
    cases.append(("accuracy16", a, b))
    return cases


def corr_cases():
    """(name, x, y) data sets for pearsonr and spearmanr."""
    rng = np.random.default_rng(20250101)
    cases = []
    # small n, independent: p in the middle of (0, 1)
    cases.append(("indep10", np.round(rng.normal(0, 1, 10), 6), np.round(rng.normal(0, 1, 10), 6)))
    # n = 3, the smallest n with a p-value between 0 and 1
    cases.append(("three", np.array([0.1, 0.4, 0.35]), np.array([2.0, 1.0, 3.5])))
    # correlated, n = 50, both signs
    x = rng.normal(0, 1, 50)
    cases.append(("pos50", x, 0.6 * x + 0.8 * rng.normal(0, 1, 50)))
    cases.append(("neg50", x, -0.3 * x + rng.normal(0, 1, 50)))
    # strong, n = 300: p far in the tail (about 1e-100)
    x = rng.normal(0, 1, 300)
    cases.append(("strong300", x, x + 0.5 * rng.normal(0, 1, 300)))
    # weak, n = 5000: many degrees of freedom, p near 0.01 (the experiment's pooled task rows)
    x = rng.normal(0, 1, 5000)
    cases.append(("weak5000", x, 0.07 * x + rng.normal(0, 1, 5000)))
    # ties on both sides (integers): Spearman's average ranks
    cases.append(("ties40", rng.integers(0, 5, 40).astype(float), rng.integers(0, 4, 40).astype(float)))
    # the experiment's kind of data: |ln sigma| near 0.05 against accuracy changes near -0.01, with an offset
    drift = np.abs(np.log(1 + 0.05 * rng.standard_normal(120)))
    cases.append(("drift120", np.round(drift, 6), np.round(-0.2 * drift + 0.01 * rng.standard_normal(120), 6)))
    # a large common offset (accuracies near 1): two-pass means keep the signal
    x = rng.normal(0, 1, 30)
    cases.append(("offset30", 1e6 + x, 1e6 + x + rng.normal(0, 1, 30)))
    # exactly reversed order: r = rho = -1, p = 0
    cases.append(("reversed6", np.arange(6, dtype=float), 10 - 2 * np.arange(6, dtype=float)))
    return cases


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: stats_ref.py OUTFILE [BOOTFILE]")
    warnings.simplefilter("ignore")  # scipy warns about zeros and small n; the numbers are what we compare
    out = [f"CNSTATS1 scipy {scipy.__version__} numpy {np.__version__}"]

    rng = np.random.default_rng(7)
    meansd = [
        ("eight", np.array([2, 4, 4, 4, 5, 5, 7, 9], float)),
        ("one", np.array([3.25])),
        ("normal100", rng.normal(-1.5, 2.0, 100)),
        ("offset1e8", 1e8 + rng.normal(0, 1, 40)),
    ]
    for name, x in meansd:
        sd = np.std(x, ddof=1) if len(x) > 1 else np.nan
        out.append(f"meansd {name} {len(x)} {nums(x)} {fmt(np.mean(x))} {fmt(sd)}")

    for name, x, y in wilcoxon_cases():
        for alt in ("two-sided", "greater", "less"):
            head = f"{name} {alt} {len(x)} {nums(x)} {nums(y)}"
            r = st.wilcoxon(x, y, alternative=alt)
            z = st.wilcoxon(x, y, alternative=alt, method="approx").zstatistic
            p_exact = st.wilcoxon(x, y, alternative=alt, method="exact").pvalue
            p_approx = st.wilcoxon(x, y, alternative=alt, method="approx").pvalue
            # which branch scipy's method="auto" took, read off its answer rather than restated; -1 where
            # both branches give the same p (W+ at the centre, z = 0) and the answer cannot tell
            if p_exact == p_approx:
                exact = -1 if r.pvalue == p_exact else -2  # -2: neither, which the C test rejects
            else:
                exact = 1 if r.pvalue == p_exact else 0 if r.pvalue == p_approx else -2
            nused = int(np.sum(x - y != 0))
            out.append(f"wilcoxon {head} {fmt(r.statistic)} {fmt(r.pvalue)} {fmt(z)} {exact} {nused}")

    for name, n in (("allzero5", 5), ("allzero60", 60)):
        x = np.linspace(0.5, 3, n)
        for alt in ("two-sided", "greater", "less"):
            try:
                st.wilcoxon(x, x.copy(), alternative=alt)
            except ValueError:
                out.append(f"wilcoxon_error {name} {alt} {n} {nums(x)} {nums(x)}")

    for name, x, y in corr_cases():
        for kind, f in (("pearson", st.pearsonr), ("spearman", st.spearmanr)):
            r = f(x, y)
            out.append(f"corr {kind} {name} {len(x)} {nums(x)} {nums(y)} {fmt(r.statistic)} {fmt(r.pvalue)}")
    # n = 2: pearsonr's p is 1 (spearmanr's is NaN, which critnet does not follow; the C test checks its 1)
    r = st.pearsonr([1.0, 2.0], [3.0, 1.0])
    out.append(f"corr pearson two 2 1.0 2.0 3.0 1.0 {fmt(r.statistic)} {fmt(r.pvalue)}")
    for kind, f in (("pearson", st.pearsonr), ("spearman", st.spearmanr)):
        for name, x, y in (("constx", np.full(5, 0.1), np.arange(5.0)), ("consty", np.arange(4.0), np.full(4, 3.0))):
            if np.isnan(f(x, y).statistic):
                out.append(f"corr_error {kind} {name} {len(x)} {nums(x)} {nums(y)}")

    if len(sys.argv) == 3:
        tok = open(sys.argv[2]).read().split()
        i = 0
        while i < len(tok):
            if tok[i] != "boot":
                sys.exit(f"{sys.argv[2]}: expected 'boot', got {tok[i]!r}")
            name, n, b, level = tok[i + 1], int(tok[i + 2]), int(tok[i + 3]), float(tok[i + 4])
            i += 5
            x = np.array([float(v) for v in tok[i:i + n]])
            i += n
            idx = np.array([int(v) for v in tok[i:i + n * b]], dtype=np.int64).reshape(b, n)
            i += n * b
            ci = []
            for method in ("percentile", "BCa"):
                r = st.bootstrap((x,), np.mean, n_resamples=b, confidence_level=level, method=method,
                                 random_state=ReplayState(idx))
                ci += [r.confidence_interval.low, r.confidence_interval.high]
            out.append(f"boot_same {name} {nums(ci)}")
            big = 20000
            ci = []
            for method in ("percentile", "BCa"):
                r = st.bootstrap((x,), np.mean, n_resamples=big, confidence_level=level, method=method,
                                 random_state=np.random.default_rng(12345))
                ci += [r.confidence_interval.low, r.confidence_interval.high]
            out.append(f"boot_mc {name} {big} {nums(ci)}")

    out.append(f"end {len(out) - 1}")
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
