"""test_stats.py: the statistics through the module give scipy's numbers (the library's own tests hold the C
functions to scipy and statsmodels in depth; this checks that the binding passes arguments and results
through: the order of x and y, the alternative, and each field's name)."""
import numpy as np
import pytest

import critnet

stats = pytest.importorskip("scipy.stats")


@pytest.fixture
def xy():
    rng = np.random.default_rng(11)
    x = rng.standard_normal(30)
    return x, 0.6 * x + rng.standard_normal(30) + 0.3


def test_mean_sd(xy):
    x, _ = xy
    assert critnet.mean_sd(x) == pytest.approx((x.mean(), x.std(ddof=1)), rel=1e-12)
    assert critnet.mean_sd(list(range(5))) == pytest.approx((2.0, np.std(range(5), ddof=1)))  # ints are cast


def test_correlations(xy):
    x, y = xy
    for ours, theirs in ((critnet.pearson(x, y), stats.pearsonr(x, y)), (critnet.spearman(x, y), stats.spearmanr(x, y))):
        assert ours.r == pytest.approx(theirs[0], rel=1e-10) and ours.p_value == pytest.approx(theirs[1], rel=1e-6)
        assert ours.n == 30


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_rank_tests(xy, alternative):
    x, y = xy
    w, ref = critnet.wilcoxon(x, y, alternative), stats.wilcoxon(x, y, alternative=alternative)
    assert w.statistic == pytest.approx(ref.statistic) and w.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    u, ref = critnet.mann_whitney(x, y, alternative), stats.mannwhitneyu(x, y, alternative=alternative)
    assert u.statistic == pytest.approx(ref.statistic) and u.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert (u.nx, u.ny) == (30, 30)


def test_bootstrap_ci_brackets_the_mean(xy):
    x, _ = xy
    for method in ("bca", "percentile"):
        lo, hi = critnet.bootstrap_ci(x, resamples=500, seed=1, method=method)
        assert lo < x.mean() < hi and hi - lo < 1.5
        assert critnet.bootstrap_ci(x, resamples=500, seed=1, method=method) == (lo, hi)  # the seed repeats it


def test_mixed_intercept_recovers_the_slope():
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(8), 12)
    xv = rng.standard_normal(groups.size)
    y = 2.0 * xv + rng.standard_normal(8)[groups] + 0.3 * rng.standard_normal(groups.size)
    X = np.column_stack([np.ones_like(xv), xv])
    fit = critnet.mixed_intercept(y, X, groups)
    assert fit.beta.shape == (2,) and abs(fit.beta[1] - 2.0) < 0.1 and fit.n_groups == 8 and fit.converged
    assert fit.p[1] < 1e-10 and fit.tau2 > 0.1
