#!/usr/bin/python3
"""powerlaw_ref.py: an independent reference for critnet's power-law fit, written from Clauset, Shalizi &
Newman (2009) with numpy and scipy only (the `powerlaw` package is not installed here): every distinct value
with at least MIN_TAIL values at or above it is an x_min candidate (the paper's full scan); alpha is the
closed-form MLE (continuous) or the exact discrete MLE (scipy.special.zeta as the Hurwitz zeta,
scipy.optimize.minimize_scalar); the KS distance is the largest gap between the CDFs, for integers at every
integer from x_min to the largest value. Optionally the semi-parametric bootstrap p-value (section 4.1).

With --lr, the likelihood-ratio tests of section 5 as well: each alternative fitted by maximum likelihood on
the tail with scipy.optimize (Nelder-Mead from two starts, the better kept), Vuong's R and p. Continuous: the
truncated power law normalised by scipy.integrate.quad (not by an incomplete gamma function). Discrete: the
alternatives' continuous laws rounded down, (S(x) - S(x+1)) / S(xmin), the exponential by the optimiser too
(not the closed form), and the truncated power law x^-a e^(-lam x) / Z with Z summed directly to where the
terms are below e^-60 of the first (up to 10^7 terms).

usage: powerlaw_ref.py FILE [--discrete] [--xmin X] [--bootstrap N] [--seed S] [--min-tail M] [--lr]
FILE holds one value per line. Prints one JSON object: alpha, xmin, ks, sigma, loglik, n_tail, candidates,
p_value (null without bootstrap), seconds_fit, seconds_bootstrap (wall clock) and cpu_fit, cpu_bootstrap (this
process's CPU time, which a loaded machine inflates less).
"""
import json
import sys
import time

import numpy as np
from scipy import integrate, optimize, special, stats


def cont_fit(z, k, xmin):
    t = z[k:]
    m = len(t)
    a = 1 + m / np.sum(np.log(t / xmin))
    F = 1 - (t / xmin) ** (1 - a)
    i = np.arange(m)
    D = max(np.max(F - i / m), np.max((i + 1) / m - F))
    return a, D


def disc_alpha(xmin, m, sum_log):
    f = lambda a: m * np.log(special.zeta(a, xmin)) + a * sum_log
    r = optimize.minimize_scalar(f, bounds=(1 + 1e-6, 20), method="bounded", options={"xatol": 1e-12})
    return r.x


def disc_fit(z, k, xmin):
    t = z[k:]
    m = len(t)
    a = disc_alpha(xmin, m, np.sum(np.log(t)))
    xs = np.arange(xmin, t[-1] + 1)
    F = 1 - special.zeta(a, xs + 1) / special.zeta(a, xmin)      # P(X <= x) of the fit
    E = np.searchsorted(t, xs, side="right") / m                  # empirical P(X <= x)
    D = np.max(np.abs(F - E))
    if xmin < t[0]:
        pass  # covered: xs starts at xmin
    return a, D


def fit(x, discrete, xmin_fixed, min_tail):
    z = np.sort(np.asarray(x, dtype=float))
    n = len(z)
    one = disc_fit if discrete else cont_fit
    if xmin_fixed:
        k = int(np.searchsorted(z, xmin_fixed, side="left"))
        a, D = one(z, k, xmin_fixed)
        best = (D, xmin_fixed, a, k)
        cands = 1
    else:
        u, first = np.unique(z, return_index=True)
        best = None
        cands = 0
        for xm, k in zip(u, first):
            if n - k < min_tail:
                break
            cands += 1
            a, D = one(z, k, xm)
            if best is None or D < best[0]:
                best = (D, xm, a, k)
    D, xm, a, k = best
    m = n - k
    t = z[k:]
    if discrete:
        h = 1e-4 * a
        lz = lambda s: np.log(special.zeta(s, xm))
        d2 = (lz(a + h) - 2 * lz(a) + lz(a - h)) / h**2
        sigma = 1 / np.sqrt(m * d2)
        ll = -m * lz(a) - a * np.sum(np.log(t))
    else:
        sigma = (a - 1) / np.sqrt(m)
        ll = m * np.log(a - 1) - m * np.log(xm) - a * np.sum(np.log(t / xm))
    return dict(alpha=float(a), xmin=float(xm), ks=float(D), sigma=float(sigma), loglik=float(ll), n_tail=int(m),
                candidates=cands, k=int(k))


def lr_tests(x, a, xmin):
    t = np.sort(x[x >= xmin])
    m, lt = len(t), np.log(t)
    lpl = np.log(a - 1) - np.log(xmin) - a * np.log(t / xmin)

    def ln_exp(p):
        return np.log(p[0]) - p[0] * (t - xmin)

    def ln_lognorm(p):
        mu, s = p
        return stats.norm.logpdf(lt, mu, s) - lt - stats.norm.logsf(np.log(xmin), mu, s)

    def ln_stretched(p):
        lam, b = p
        return np.log(b) + b * np.log(lam) + (b - 1) * lt - (lam * t) ** b + (lam * xmin) ** b

    def ln_tpl(p):
        al, lam = p
        z = integrate.quad(lambda u: u ** -al * np.exp(-lam * (u - xmin)), xmin, np.inf, epsabs=0, epsrel=1e-12,
                           limit=200)[0]
        return -al * lt - lam * (t - xmin) - np.log(z)

    def best(fn, to_p, starts):
        res = []
        for s0 in starts:
            f = lambda v: -np.sum(fn(to_p(v))) / m
            r = optimize.minimize(f, s0, method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-14, maxiter=20000))
            res.append(r)
        r = min(res, key=lambda r: r.fun)
        return to_p(r.x)

    fits = {
        "exponential": (ln_exp, [1 / np.mean(t - xmin)]),
        "lognormal": (ln_lognorm, best(ln_lognorm, lambda v: (v[0], np.exp(v[1])),
                                       [[np.mean(lt), np.log(np.std(lt))], [0.0, 0.0]])),
        "stretched_exponential": (ln_stretched, best(ln_stretched, lambda v: (np.exp(v[0]), np.exp(v[1])),
                                                     [[-np.log(np.mean(t)), np.log(0.5)], [0.0, 0.0]])),
        "truncated_power_law": (ln_tpl, best(ln_tpl, lambda v: (v[0], np.exp(v[1])),
                                             [[a, np.log(0.1 / np.mean(t))], [a - 0.5, np.log(1 / np.mean(t))]])),
    }
    return vuong(lpl, fits, np.ones(m))


def lr_tests_discrete(x, a, xmin):
    u, w = np.unique(x[x >= xmin], return_counts=True)
    m, lu = w.sum(), np.log(u)
    lpl = -a * lu - np.log(special.zeta(a, xmin))

    def rounded(lsurv):  # ln pmf of the law with ln-survival lsurv, rounded down, truncated at xmin
        def f(p):
            s0, s1 = lsurv(p, u), lsurv(p, u + 1)
            return s0 + np.log1p(-np.exp(s1 - s0)) - lsurv(p, np.array([float(xmin)]))[0]
        return f

    ln_exp = rounded(lambda p, v: -p[0] * v)
    ln_lognorm = rounded(lambda p, v: stats.norm.logsf(np.log(v), p[0], p[1]))
    ln_stretched = rounded(lambda p, v: -(p[0] * v) ** p[1])

    def ln_tpl(p):
        al, lam = p
        n_terms = int(min(np.ceil(60 / lam), 1e7))
        k = xmin + np.arange(n_terms, dtype=float)
        lt = -al * np.log(k) - lam * (k - xmin)
        z = np.sum(np.exp(lt - lt[0])) * np.exp(lt[0])
        return -al * lu - lam * (u - xmin) - np.log(z)

    def best(fn, to_p, starts):
        res = [optimize.minimize(lambda v: -np.sum(w * fn(to_p(v))) / m, s0, method="Nelder-Mead",
                                 options=dict(xatol=1e-10, fatol=1e-14, maxiter=20000)) for s0 in starts]
        return to_p(min(res, key=lambda r: r.fun).x)

    mean, ml, sl = np.sum(w * u) / m, np.sum(w * lu) / m, np.sqrt(np.sum(w * lu**2) / m - (np.sum(w * lu) / m) ** 2)
    fits = {
        "exponential": (ln_exp, best(ln_exp, lambda v: (np.exp(v[0]),), [[-np.log(mean - xmin + 1)], [0.0]])),
        "lognormal": (ln_lognorm, best(ln_lognorm, lambda v: (v[0], np.exp(v[1])), [[ml, np.log(sl)], [0.0, 0.0]])),
        "stretched_exponential": (ln_stretched, best(ln_stretched, lambda v: (np.exp(v[0]), np.exp(v[1])),
                                                     [[-np.log(mean), np.log(0.5)], [0.0, 0.0]])),
        "truncated_power_law": (ln_tpl, best(ln_tpl, lambda v: (1 + np.exp(v[0]), np.exp(v[1])),
                                             [[np.log(a - 1), np.log(0.1 / mean)], [0.0, np.log(1 / mean)]])),
    }
    return vuong(lpl, fits, w)


def vuong(lpl, fits, w):
    out = {}
    m = np.sum(w)
    for name, (fn, p) in fits.items():
        l = lpl - fn(p)
        s1 = np.sum(w * l)
        sd = np.sqrt(np.sum(w * l * l) / m - (s1 / m) ** 2)
        R = s1 / (np.sqrt(m) * sd)
        if name == "truncated_power_law":
            pv = 0.5 * stats.chi2.sf(2 * abs(s1), 1)
        else:
            pv = special.erfc(abs(R) / np.sqrt(2))
        out[name] = dict(R=float(R), llr=float(s1), p_value=float(pv), params=[float(v) for v in p])
    return out


def draw_pl(rng, m, a, xmin, discrete):
    v = 1 - rng.random(m)
    if not discrete:
        return xmin * v ** (-1 / (a - 1))
    # inversion of the zeta survival function, by bisection on the integers
    lo = np.full(m, xmin)
    hi = np.full(m, xmin)
    S = lambda x: special.zeta(a, x) / special.zeta(a, xmin)
    while True:
        grow = S(hi + 1) >= v
        if not grow.any():
            break
        hi = np.where(grow, hi * 2 + 1, hi)
    while np.any(hi > lo):
        mid = np.floor((lo + hi + 1) / 2)
        ok = S(mid) >= v
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid - 1)
    return lo


def main():
    args = sys.argv[1:]
    path = args[0]
    discrete = "--discrete" in args
    get = lambda k, d: type(d)(args[args.index(k) + 1]) if k in args else d
    xmin_fixed = get("--xmin", 0.0)
    boot = get("--bootstrap", 0)
    seed = get("--seed", 0)
    min_tail = get("--min-tail", 50)
    x = np.loadtxt(path, ndmin=1)
    t0, c0 = time.perf_counter(), time.process_time()
    f = fit(x, discrete, xmin_fixed, min_tail)
    f["seconds_fit"], f["cpu_fit"] = time.perf_counter() - t0, time.process_time() - c0
    f["p_value"] = None
    t0, c0 = time.perf_counter(), time.process_time()
    if boot:
        rng = np.random.default_rng(seed)
        z = np.sort(x)
        below = z[: f["k"]]
        n, m = len(z), f["n_tail"]
        ge = 0
        for _ in range(boot):
            mt = n if xmin_fixed else rng.binomial(n, m / n)
            rep = draw_pl(rng, m if xmin_fixed else mt, f["alpha"], f["xmin"], discrete)
            if not xmin_fixed and n - mt > 0:
                rep = np.concatenate([rng.choice(below, n - mt), rep])
            ge += fit(rep, discrete, xmin_fixed, min_tail)["ks"] >= f["ks"]
        f["p_value"] = ge / boot
    if "--lr" in args:
        test = lr_tests_discrete if discrete else lr_tests
        f["lr"] = test(np.asarray(x, dtype=float), f["alpha"], f["xmin"])
    f["seconds_bootstrap"], f["cpu_bootstrap"] = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps(f))


if __name__ == "__main__":
    main()
