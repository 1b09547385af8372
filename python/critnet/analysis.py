"""analysis.py: the functions on plain numbers: mean-field theory, power-law fits, the branching ratio of an
activity series, and the statistics of critnet_stats.h. Each returns a Result (fields as attributes,
to_dict() for JSON) with the numbers `critnet theory/powerlaw/branching --json` give."""
import numpy as np

from . import _critnet
from .result import Result


def theory(act, sigma_w, sigma_b=0.0, q0=1.0):
    """The mean-field theory of a wide random MLP, W ~ N(0, sigma_w^2/n), b ~ N(0, sigma_b^2), as `critnet
    theory --json`: q_star (fixed point of the length map from q0), converged, iterations, chi1, xi_c =
    -1/ln chi1, lambda_pred = 0.5 ln chi1 and phase ('ordered', 'critical' or 'chaotic').

    act: identity, relu, leaky_relu, tanh, sigmoid, gelu, silu or elu."""
    return Result(_critnet.theory(act, sigma_w, sigma_b, q0))


def critical_sigma_w(act, sigma_b=0.0, lo=0.1, hi=10.0):
    """The sigma_w at which chi1 = 1 for act and sigma_b (bisection on [lo, hi], as `critnet theory
    --critical`). Raises critnet.Error where chi1 does not cross 1 in the bracket."""
    return _critnet.critical_sigma_w(act, sigma_b, lo, hi)


def powerlaw(x, discrete=False, xmin=None, min_tail=50, candidates=1000, bootstrap=0, seed=0, compare=True):
    """Fits p(x) ~ x^-alpha for x >= x_min (Clauset, Shalizi & Newman 2009), as `critnet powerlaw --json`.

    x: the values (> 0; integers with discrete=True), any 1-D sequence. xmin: fixed, or None to search it by
    the KS distance over `candidates` values (None: every distinct value). bootstrap: replicates for the
    goodness-of-fit p-value (seed makes it repeatable at any thread count). compare: the likelihood-ratio
    tests against the exponential, log-normal, stretched exponential and truncated power law.
    Returns a Result with fit (alpha, sigma, xmin, ks, loglik, n, n_tail, p_value, ...) and likelihood_ratio
    (a list of dicts: alternative, R, llr, p_value, nested, loglik, params). Releases the GIL."""
    r = _critnet.powerlaw(x, discrete, 0.0 if xmin is None else xmin, min_tail,
                          0 if candidates is None else candidates, bootstrap, seed, compare)
    return Result(r)


def branching(a, kmax=40, dt=1.0, bootstrap=0, blocks=20, level=0.95, seed=0):
    """The branching ratio m of the activity series a by multistep regression (Wilting & Priesemann 2018),
    unbiased under subsampling, as `critnet branching --json`: m, b, m_naive (r_1), tau = -dt/ln m, r_k
    (ndarray, k = 1..kmax) and, with bootstrap replicates over `blocks` blocks, m_ci at `level`."""
    return Result(_critnet.branching(a, kmax, dt, bootstrap, blocks, level, seed))


def mean_sd(x):
    """(mean, sample standard deviation with n - 1), numpy's mean and std(ddof=1); NaN or Inf raise."""
    return _critnet.mean_sd(x)


def wilcoxon(x, y, alternative="two-sided"):
    """Wilcoxon signed-rank test on the paired differences x - y: scipy.stats.wilcoxon's statistic and
    p_value at its defaults (scipy 1.10), with z, w_plus, w_minus, n_used and exact."""
    return Result(_critnet.wilcoxon(x, y, alternative))


def pearson(x, y):
    """Pearson's r and its two-sided p_value, scipy.stats.pearsonr's numbers."""
    return Result(_critnet.pearson(x, y))


def spearman(x, y):
    """Spearman's rho (as r) and its two-sided p_value, scipy.stats.spearmanr's numbers."""
    return Result(_critnet.spearman(x, y))


def mann_whitney(x, y, alternative="two-sided"):
    """Mann-Whitney U test of x against y: scipy.stats.mannwhitneyu's statistic and p_value (scipy 1.10)."""
    return Result(_critnet.mann_whitney(x, y, alternative))


def bootstrap_ci(x, resamples=2000, level=0.95, seed=0, method="bca"):
    """(lo, hi): the bootstrap confidence interval of the mean of x, 'bca' or 'percentile', as
    scipy.stats.bootstrap with those methods."""
    return _critnet.bootstrap_ci(x, resamples, level, seed, method)


def mixed_intercept(y, X, groups, reml=True):
    """The linear mixed model y = X beta + u[group] + e with a random intercept per group, statsmodels
    MixedLM's numbers: beta, se, z, p (ndarrays), tau2, s2, llf, boundary, converged. X: (n, k), with the
    intercept column if one is wanted; groups: n integer labels."""
    # the C function takes C ints; NumPy's default integers are 64-bit, which it will not cast down by itself
    g = np.asarray(groups)
    if g.dtype.kind not in "iub":
        raise TypeError(f"groups: integer labels expected, got dtype {g.dtype}")
    info = np.iinfo(np.intc)
    if g.size and (g.min() < info.min or g.max() > info.max):
        raise ValueError("groups: labels must fit a C int")
    return Result(_critnet.mixed_intercept(y, X, g.astype(np.intc), reml))
