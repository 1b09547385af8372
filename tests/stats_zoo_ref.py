#!/usr/bin/python3
"""stats_zoo_ref.py: reference numbers from scipy.stats and statsmodels for tests/test_stats_zoo.c, the
statistics of the model zoo (does accuracy track criticality across families of models).

Usage: stats_zoo_ref.py OUTFILE BOOTFILE

Writes OUTFILE (format CNZOO1, whitespace-separated tokens, floats as Python's repr so they read back exactly):
  - scipy.stats.mannwhitneyu(x, y, alternative=ALT) at its defaults on fixed data sets, with the z of its
    normal approximation (scipy's own _get_mwu_z, which mannwhitneyu calls but does not return);
  - for every case in BOOTFILE (written by the C test, with the resample indices critnet drew): the percentile
    interval of Spearman's rho over the very same resamples, rho by scipy.stats.spearmanr per resample and the
    ends by numpy.percentile, skipping the resamples where rho is NaN (a constant x or y), as critnet documents;
    and, where no resample is skipped, scipy.stats.bootstrap((x, y), paired=True, method="percentile") handed
    the same indices, which must give the same interval;
  - statsmodels' MixedLM random-intercept fits (smf.mixedlm("y ~ ...", df, groups=df["g"]).fit(reml=...)).

How the MixedLM reference is made. statsmodels' default fit (BFGS on sqrt(gamma), gamma = tau2 / scale) stops
where its gradient is small, which on these data leaves tau2 some 1e-6 to 1e-4 relative from the optimum, too
loose to compare at 1e-6. So the optimum of statsmodels' own likelihood is located first, as a root of
statsmodels' own score (MixedLM.score, analytic) in sqrt(gamma) by scipy.optimize.brentq, to rounding; then
MixedLM.fit is started there and must stop at once (checked: its sqrt(gamma) may not move by 1e-9 relative),
so every number recorded (fe_params, bse_fe, scale, cov_re, llf, p-values) is statsmodels' fit output at
statsmodels' optimum. Where the score is negative for every sqrt(gamma) > 0 the likelihood falls from
gamma = 0 and the optimum is the boundary; the fit is then started at sqrt(gamma) = 1e-20 (statsmodels' loglike
is -inf/NaN at exactly 0: it takes ln det of cov_re), which statsmodels treats as singular, i.e. as 0. The
default fit's answer is recorded too, for the checks that critnet's llf is no lower.

Records:
  mwu NAME ALT NX NY x... y... U PVALUE Z EXACT   (EXACT: 1, 0, or -1 where both methods give this p)
  rhoboot NAME LO HI SKIPPED SCIPY_LO SCIPY_HI     (SCIPY_*: nan where a resample was skipped)
  mixed NAME REML N K y... X... g... TAU2 SCALE LLF BOUNDARY beta... bse... z... p... DEF_TAU2 DEF_LLF DEF_CONV
  end RECORDS
BOOTFILE: records "rhoboot NAME N RESAMPLES LEVEL x... y... idx..." (RESAMPLES*N indices, resample-major).
"""
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
import scipy.stats as st
import statsmodels
import statsmodels.formula.api as smf
from scipy import optimize
from scipy.stats._mannwhitneyu import _get_mwu_z
from statsmodels.regression.mixed_linear_model import MixedLMParams


def fmt(v):
    return repr(float(v))


def nums(a):
    return " ".join(fmt(v) for v in np.ravel(a))


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


# ---------------------------------------------------------------- Mann-Whitney U

def mwu_cases():
    """(name, x, y); every one is run with each alternative."""
    rng = np.random.default_rng(20250607)
    cases = []
    # scipy's docstring example (Shier 2004): diagnosis ages, exact, p = 1/9 two-sided
    cases.append(("ages", np.array([19, 22, 16, 29, 24.0]), np.array([20, 11, 17, 12.0])))
    # one value each: exact, U = 0 or 1
    cases.append(("one_one", np.array([0.3]), np.array([0.1])))
    # small, continuous, no ties: exact
    cases.append(("exact5_7", np.round(rng.normal(0.5, 1, 5), 6), np.round(rng.normal(0, 1, 7), 6)))
    # one sample of 8 (the last exact size) against 30, and 9 against 9 (the first approximate pair)
    cases.append(("exact8_30", np.round(rng.normal(0.4, 1, 8), 6), np.round(rng.normal(0, 1, 30), 6)))
    cases.append(("approx9_9", np.round(rng.normal(0.4, 1, 9), 6), np.round(rng.normal(0, 1, 9), 6)))
    # exact with C(nx + ny, nx) > 2^53, where the counts are no longer exact integers in double
    cases.append(("exact8_400", np.round(rng.normal(0.3, 1, 8), 7), np.round(rng.normal(0, 1, 400), 7)))
    # 3 against 450, exact: a long null distribution (past 500 scipy switches to a far slower recursion)
    cases.append(("exact3_450", np.round(rng.normal(1.0, 1, 3), 7), np.round(rng.normal(0, 1, 450), 7)))
    # ties in small samples: the normal approximation with the tie correction
    cases.append(("ties5_6", np.array([1, 2, 2, 3, 5.0]), np.array([2, 3, 3, 4, 6, 7.0])))
    # complete separation: the far tail
    cases.append(("separated10_12", np.arange(10) + 100.5, np.arange(12.0)))
    # every value equal: s = 0, z = -inf, p = 1
    cases.append(("all_equal", np.full(3, 0.9), np.full(4, 0.9)))
    # the zoo's use: test accuracies of two families (4 decimals: ties), 40 and 55 models
    a = np.round(0.87 + 0.01 * rng.standard_normal(40), 3)
    b = np.round(0.866 + 0.012 * rng.standard_normal(55), 3)
    cases.append(("zoo40_55", a, b))
    # larger, continuous
    cases.append(("approx120_80", rng.normal(0.1, 1, 120), rng.normal(0, 1, 80)))
    return cases


def mwu_records(out):
    for name, x, y in mwu_cases():
        for alt in ("two-sided", "greater", "less"):
            r = st.mannwhitneyu(x, y, alternative=alt)
            # the exact distribution only where scipy's "auto" may choose it: it costs O((nx ny)^2) in scipy
            small = min(len(x), len(y)) <= 8
            p_exact = st.mannwhitneyu(x, y, alternative=alt, method="exact").pvalue if small else np.nan
            p_approx = st.mannwhitneyu(x, y, alternative=alt, method="asymptotic").pvalue
            if p_exact == p_approx:
                exact = -1 if r.pvalue == p_exact else -2  # -2: neither, which the C test rejects
            else:
                exact = 1 if r.pvalue == p_exact else 0 if r.pvalue == p_approx else -2
            u1 = r.statistic
            u2 = len(x) * len(y) - u1
            u = u1 if alt == "greater" else u2 if alt == "less" else max(u1, u2)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = _get_mwu_z(np.float64(u), len(x), len(y), st.rankdata(np.concatenate([x, y])))
            out.append(f"mwu {name} {alt} {len(x)} {len(y)} {nums(x)} {nums(y)} {fmt(u1)} {fmt(r.pvalue)} "
                       f"{fmt(z)} {exact}")


# ---------------------------------------------------------------- bootstrap of Spearman's rho

def rhoboot_records(out, path):
    tok = open(path).read().split()
    i = 0
    while i < len(tok):
        if tok[i] != "rhoboot":
            sys.exit(f"{path}: expected 'rhoboot', got {tok[i]!r}")
        name, n, b, level = tok[i + 1], int(tok[i + 2]), int(tok[i + 3]), float(tok[i + 4])
        i += 5
        x = np.array([float(v) for v in tok[i:i + n]])
        y = np.array([float(v) for v in tok[i + n:i + 2 * n]])
        i += 2 * n
        idx = np.array([int(v) for v in tok[i:i + n * b]], dtype=np.int64).reshape(b, n)
        i += n * b
        rho = np.array([st.spearmanr(x[j], y[j]).statistic for j in idx])
        kept = rho[~np.isnan(rho)]
        skipped = b - len(kept)
        alpha = (1 - level) / 2
        lo, hi = (np.percentile(kept, [100 * alpha, 100 * (1 - alpha)]) if len(kept) else (np.nan, np.nan))
        s_lo = s_hi = np.nan
        if skipped == 0:
            r = st.bootstrap((x, y), lambda u, v: st.spearmanr(u, v).statistic, vectorized=False, paired=True,
                             n_resamples=b, confidence_level=level, method="percentile",
                             random_state=ReplayState(idx))
            s_lo, s_hi = r.confidence_interval.low, r.confidence_interval.high
        out.append(f"rhoboot {name} {fmt(lo)} {fmt(hi)} {skipped} {fmt(s_lo)} {fmt(s_hi)}")


# ---------------------------------------------------------------- MixedLM

def mixed_cases():
    """(name, y, X (n, k) with the intercept column first, group labels)"""
    rng = np.random.default_rng(20250608)
    cases = []

    def shuffled(y, X, g):  # rows in no particular order, labels not 0..G-1: critnet must group by label
        p = rng.permutation(len(y))
        return y[p], X[p], g[p]

    # the zoo: test accuracy ~ |lambda_0| + (1 | family), 8 families of 2 to 9 models, accuracies to 4 decimals
    sizes = np.array([3, 5, 2, 7, 4, 9, 3, 6])
    fam = np.repeat(np.arange(8), sizes)
    lam = np.abs(rng.normal(0, 0.25, len(fam)))
    acc = np.round(0.88 - 0.06 * lam + rng.normal(0, 0.015, 8)[fam] + rng.normal(0, 0.008, len(fam)), 4)
    cases.append(("zoo_k2",) + shuffled(acc, np.column_stack([np.ones(len(fam)), lam]), 10 * fam + 3))
    # balanced: 6 groups of 5
    g = np.repeat(np.arange(6), 5)
    x = rng.normal(0, 1, 30)
    y = 2 + 0.5 * x + rng.normal(0, 1.0, 6)[g] + rng.normal(0, 0.7, 30)
    cases.append(("balanced_k2", y, np.column_stack([np.ones(30), x]), g))
    # unbalanced, k = 3, singletons among the groups, and a covariate constant within groups
    sizes = np.array([1, 4, 2, 10, 1, 6, 3, 8, 5, 2, 7, 1])
    g = np.repeat(np.arange(12), sizes)
    x1 = rng.normal(0, 1, len(g))
    x2 = rng.normal(0, 1, 12)[g]
    y = 1 + 0.3 * x1 - 0.8 * x2 + rng.normal(0, 0.5, 12)[g] + rng.normal(0, 1, len(g))
    cases.append(("unbalanced_k3",) + shuffled(y, np.column_stack([np.ones(len(g)), x1, x2]), -5 * g + 40))
    # the boundary: no group effect, and the errors centred within each group, so the group means of y vary
    # less than chance would have them: tau2 = 0 under REML and ML
    sizes = np.array([4, 3, 6, 5, 3, 4, 5])
    g = np.repeat(np.arange(7), sizes)
    x = rng.normal(0, 1, len(g))
    e = rng.normal(0, 1, len(g))
    e -= (np.bincount(g, e) / sizes)[g]
    cases.append(("boundary_k2", 1 + 0.4 * x + e, np.column_stack([np.ones(len(g)), x]), g))
    # intercept only, balanced (5 groups of 4)
    g = np.repeat(np.arange(5), 4)
    y = 10 + rng.normal(0, 2, 5)[g] + rng.normal(0, 1, 20)
    cases.append(("intercept_k1", y, np.ones((20, 1)), g))
    # a large offset in y and x: critnet works on group-centred data, so no digits cancel
    sizes = np.array([5, 8, 3, 6, 7, 4])
    g = np.repeat(np.arange(6), sizes)
    x = 500 + rng.normal(0, 1, len(g))
    y = 1e4 + 2 * (x - 500) + rng.normal(0, 1.5, 6)[g] + rng.normal(0, 1, len(g))
    cases.append(("offset_k2", y, np.column_stack([np.ones(len(g)), x]), g))
    # many groups, k = 3
    sizes = rng.integers(2, 15, 40)
    g = np.repeat(np.arange(40), sizes)
    X = np.column_stack([np.ones(len(g)), rng.normal(0, 1, len(g)), rng.uniform(0, 1, len(g))])
    y = X @ np.array([0.5, -0.2, 1.0]) + rng.normal(0, 0.3, 40)[g] + rng.normal(0, 0.5, len(g))
    cases.append(("groups40_k3",) + shuffled(y, X, g))
    return cases


def formula_fit(y, X, g):
    k = X.shape[1]
    df = pd.DataFrame({"y": y, "g": g})
    for j in range(1, k):
        df[f"x{j}"] = X[:, j]
    rhs = " + ".join(f"x{j}" for j in range(1, k)) or "1"
    md = smf.mixedlm("y ~ " + rhs, df, groups=df["g"])
    if not np.array_equal(md.exog, X):
        sys.exit("the formula's design matrix is not X")
    return md


def optimum_sqrt_gamma(md, reml):
    """statsmodels' optimum in c = sqrt(gamma): a root of its score (rising to falling log-likelihood), the
    highest of them if there are several; 0 when the score is negative everywhere from gamma = 1e-8 on (the
    boundary, which the C test confirms on its side by D'(0) >= 0)."""
    md.reml = reml

    def score(c):
        return md.score(np.array([c]))[0]

    # from gamma = 1e-8 up: below 1e-10 statsmodels' get_fe_params switches to a pseudo-inverse that takes
    # gamma as 0, a jump that puts spurious sign changes into the score there
    cs = np.geomspace(1e-4, 1e5, 181)
    s = np.array([score(c) for c in cs])
    roots = []
    for a, b, sa, sb in zip(cs[:-1], cs[1:], s[:-1], s[1:]):
        if sa > 0 and sb < 0:
            roots.append(optimize.brentq(score, a, b, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500))
    if not roots:
        if np.any(s > 0):
            sys.exit("statsmodels' score rises to the top of the scan: no optimum found")
        return 0.0
    return max(roots, key=lambda c: md.loglike(np.array([c])))


def statsmodels_at(md, c):
    """What MixedLM.fit computes once its optimiser has stopped at sqrt(gamma) = c (statsmodels 0.13.5,
    mixed_linear_model.py, fit() after the optimisation loop): GLS fixed effects, scale, the Hessian in
    (beta, gamma) and its inverse, llf. md.reml and the rest of the fit state come from an earlier fit."""
    k = md.k_fe
    params = MixedLMParams.from_packed(np.array([c]), k, md.k_re, use_sqrt=True, has_fe=False)
    fe, _ = md.get_fe_params(params.cov_re, params.vcomp)
    params.fe_params = fe
    scale = md.get_scale(fe, params.cov_re, params.vcomp)
    hess, _ = md.hessian(params)
    bse = np.sqrt(np.diag(np.linalg.inv(-hess))[:k])
    llf = md.loglike(params, profile_fe=False)
    return np.concatenate([[scale * c * c, scale, llf], fe, bse])


def mixed_records(out):
    for name, y, X, g in mixed_cases():
        n, k = X.shape
        for reml in (1, 0):
            md = formula_fit(y, X, g)
            default = md.fit(reml=bool(reml))
            c = optimum_sqrt_gamma(md, bool(reml))
            boundary = int(c == 0)
            if boundary:
                # statsmodels cannot be evaluated at gamma = 0 itself: its loglike takes ln det cov_re, and below
                # gamma = 1e-10 get_fe_params's pseudo-inverse drops the random effect's precision, which acts
                # as gamma = infinity. Every number is smooth in gamma, so the value at 0 is extrapolated
                # linearly from gamma = 2e-10 and 4e-10 (error O(gamma^2), about 1e-19).
                v = 2 * statsmodels_at(md, np.sqrt(2e-10)) - statsmodels_at(md, np.sqrt(4e-10))
                v[0] = 0.0
            else:
                v = statsmodels_at(md, c)
                # the same numbers from fit() itself, started at the optimum, which it must not leave
                res = formula_fit(y, X, g).fit(reml=bool(reml), start_params=np.array([c]))
                direct = np.concatenate([[np.asarray(res.cov_re)[0, 0], res.scale, res.llf],
                                         np.asarray(res.fe_params), np.asarray(res.bse_fe)])
                if not np.allclose(direct, v, rtol=1e-12, atol=0):
                    sys.exit(f"{name}: fit() started at statsmodels' optimum gives {direct}, not {v}")
                z = direct[3:3 + k] / direct[3 + k:]
                if not np.allclose(np.asarray(res.pvalues)[:k], 2 * st.norm.sf(np.abs(z)), rtol=1e-12, atol=0):
                    sys.exit(f"{name}: statsmodels' p-values are not 2 Q(|z|)")
            fe, bse = v[3:3 + k], v[3 + k:]
            z = fe / bse
            p = 2 * st.norm.sf(np.abs(z))
            out.append(f"mixed {name} {reml} {n} {k} {nums(y)} {nums(X)} {' '.join(str(int(v)) for v in g)} "
                       f"{fmt(v[0])} {fmt(v[1])} {fmt(v[2])} {boundary} {nums(fe)} {nums(bse)} {nums(z)} "
                       f"{nums(p)} {fmt(np.asarray(default.cov_re)[0, 0])} {fmt(default.llf)} "
                       f"{int(default.converged)}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: stats_zoo_ref.py OUTFILE BOOTFILE")
    warnings.simplefilter("ignore")  # scipy and statsmodels warn about ties, boundaries, constant resamples
    out = [f"CNZOO1 scipy {scipy.__version__} numpy {np.__version__} statsmodels {statsmodels.__version__}"]
    mwu_records(out)
    rhoboot_records(out, sys.argv[2])
    mixed_records(out)
    out.append(f"end {len(out) - 1}")
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
