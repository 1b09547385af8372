/* stats.c: the statistics of critnet_stats.h (cn_stats_*), each with the numbers of its scipy or statsmodels
 * counterpart, over 1-D sequences of numbers. Fast enough that none releases the GIL but the bootstraps. */
#include <string.h>
#include "pycn.h"

static int parse_alternative(const char *s, cn_stats_alternative *alt)
{
    if (!strcmp(s, "two-sided")) *alt = CN_STATS_ALT_TWO_SIDED;
    else if (!strcmp(s, "greater")) *alt = CN_STATS_ALT_GREATER;
    else if (!strcmp(s, "less")) *alt = CN_STATS_ALT_LESS;
    else return PyErr_Format(PyExc_ValueError, "alternative '%s': expected 'two-sided', 'greater' or 'less'", s), -1;
    return 0;
}

/* x and y of the same length, as float64 arrays; 0, or -1 with an exception and both cleared */
static int pair(PyObject *xo, PyObject *yo, int min_n, PyArrayObject **x, PyArrayObject **y, int *n)
{
    int ny;
    *x = pycn_doubles(xo, "x", min_n, n);
    *y = *x ? pycn_doubles(yo, "y", min_n, &ny) : NULL;
    if (*y && ny != *n) PyErr_Format(PyExc_ValueError, "x has %d values, y %d: they must pair up", *n, ny);
    if (*y && ny == *n) return 0;
    Py_CLEAR(*x);
    Py_CLEAR(*y);
    return -1;
}

static PyObject *stats_error(int rc, const char *what)
{
    return pycn_raise(rc, NULL, what);
}

static PyObject *mean_sd(PyObject *m, PyObject *args)
{
    PyObject *xo;
    if (!PyArg_ParseTuple(args, "O:mean_sd", &xo)) return NULL;
    int n;
    PyArrayObject *x = pycn_doubles(xo, "x", 1, &n);
    if (!x) return NULL;
    double mean, sd;
    int rc = cn_stats_mean_sd(PyArray_DATA(x), n, &mean, &sd);
    Py_DECREF(x);
    return rc ? stats_error(rc, "mean_sd") : Py_BuildValue("(dd)", mean, sd);
}

static PyObject *wilcoxon(PyObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "y", "alternative", NULL};
    PyObject *xo, *yo;
    const char *alt_s = "two-sided";
    cn_stats_alternative alt;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|s:wilcoxon", kwlist, &xo, &yo, &alt_s) ||
        parse_alternative(alt_s, &alt))
        return NULL;
    PyArrayObject *x, *y;
    int n;
    if (pair(xo, yo, 1, &x, &y, &n)) return NULL;
    cn_stats_wilcoxon w;
    int rc = cn_stats_wilcoxon_signed_rank(&w, PyArray_DATA(x), PyArray_DATA(y), n, alt);
    Py_DECREF(x);
    Py_DECREF(y);
    if (rc) return stats_error(rc, "wilcoxon");
    return Py_BuildValue("{s:d,s:d,s:d,s:d,s:d,s:i,s:O}", "statistic", w.statistic, "p_value", w.p_value, "z", w.z,
                         "w_plus", w.w_plus, "w_minus", w.w_minus, "n_used", w.n_used, "exact",
                         w.exact ? Py_True : Py_False);
}

static PyObject *correlation(PyObject *args, const char *fmt, int spearman)
{
    PyObject *xo, *yo;
    if (!PyArg_ParseTuple(args, fmt, &xo, &yo)) return NULL;
    PyArrayObject *x, *y;
    int n;
    if (pair(xo, yo, 2, &x, &y, &n)) return NULL;
    cn_stats_correlation c;
    int rc = (spearman ? cn_stats_spearman : cn_stats_pearson)(&c, PyArray_DATA(x), PyArray_DATA(y), n);
    Py_DECREF(x);
    Py_DECREF(y);
    if (rc) return stats_error(rc, spearman ? "spearman" : "pearson");
    return Py_BuildValue("{s:d,s:d,s:i}", "r", c.r, "p_value", c.p_value, "n", c.n);
}
static PyObject *pearson(PyObject *m, PyObject *args) { return correlation(args, "OO:pearson", 0); }
static PyObject *spearman(PyObject *m, PyObject *args) { return correlation(args, "OO:spearman", 1); }

static PyObject *mann_whitney(PyObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "y", "alternative", NULL};
    PyObject *xo, *yo;
    const char *alt_s = "two-sided";
    cn_stats_alternative alt;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|s:mann_whitney", kwlist, &xo, &yo, &alt_s) ||
        parse_alternative(alt_s, &alt))
        return NULL;
    int nx, ny;
    PyArrayObject *x = pycn_doubles(xo, "x", 1, &nx), *y = x ? pycn_doubles(yo, "y", 1, &ny) : NULL;
    if (!y) {
        Py_XDECREF(x);
        return NULL;
    }
    cn_stats_mann_whitney u;
    int rc = cn_stats_mann_whitney_u(&u, PyArray_DATA(x), nx, PyArray_DATA(y), ny, alt);
    Py_DECREF(x);
    Py_DECREF(y);
    if (rc) return stats_error(rc, "mann_whitney");
    return Py_BuildValue("{s:d,s:d,s:d,s:i,s:i,s:O}", "statistic", u.statistic, "p_value", u.p_value, "z", u.z, "nx",
                         u.nx, "ny", u.ny, "exact", u.exact ? Py_True : Py_False);
}

static PyObject *bootstrap_ci(PyObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "resamples", "level", "seed", "method", NULL};
    PyObject *xo;
    int resamples = 2000;
    double level = 0.95;
    unsigned long long seed = 0;
    const char *method = "bca";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|idKs:bootstrap_ci", kwlist, &xo, &resamples, &level, &seed, &method))
        return NULL;
    int bca = !strcmp(method, "bca");
    if (!bca && strcmp(method, "percentile"))
        return PyErr_Format(PyExc_ValueError, "method '%s': expected 'bca' or 'percentile'", method);
    int n;
    PyArrayObject *x = pycn_doubles(xo, "x", 1, &n);
    if (!x) return NULL;
    cn_rng *rng = cn_rng_new(seed);
    double lo, hi;
    int rc = CN_ERR_NOMEM;
    const double *xv = PyArray_DATA(x);
    if (rng) {
        Py_BEGIN_ALLOW_THREADS
        rc = (bca ? cn_stats_bootstrap_ci_bca : cn_stats_bootstrap_ci)(&lo, &hi, xv, n, resamples, level, rng);
        Py_END_ALLOW_THREADS
    }
    cn_rng_free(rng);
    Py_DECREF(x);
    return rc ? stats_error(rc, "bootstrap_ci") : Py_BuildValue("(dd)", lo, hi);
}

static PyObject *mixed_intercept(PyObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"y", "X", "groups", "reml", NULL};
    PyObject *yo, *Xo, *go;
    int reml = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|p:mixed_intercept", kwlist, &yo, &Xo, &go, &reml)) return NULL;
    int n;
    PyArrayObject *y = pycn_doubles(yo, "y", 1, &n);
    PyArrayObject *X = y ? (PyArrayObject *)PyArray_FROMANY(Xo, NPY_FLOAT64, 2, 2, NPY_ARRAY_IN_ARRAY) : NULL;
    PyArrayObject *g = X ? (PyArrayObject *)PyArray_FROMANY(go, NPY_INT, 1, 1, NPY_ARRAY_IN_ARRAY) : NULL;
    PyObject *res = NULL;
    if (!g) goto done;
    if (PyArray_DIM(X, 0) != n || PyArray_DIM(g, 0) != n) {
        PyErr_Format(PyExc_ValueError, "mixed_intercept: y has %d rows, X %zd, groups %zd", n,
                     (Py_ssize_t)PyArray_DIM(X, 0), (Py_ssize_t)PyArray_DIM(g, 0));
        goto done;
    }
    int k = (int)PyArray_DIM(X, 1);
    cn_stats_mixed_fit f;
    int rc = cn_stats_mixed_intercept(&f, PyArray_DATA(y), PyArray_DATA(X), n, k, PyArray_DATA(g), reml);
    if (rc) {
        stats_error(rc, "mixed_intercept");
        goto done;
    }
    res = Py_BuildValue("{s:N,s:N,s:N,s:N,s:d,s:d,s:d,s:i,s:i,s:i,s:O,s:O,s:O}", "beta", pycn_vector(f.beta, k), "se",
                        pycn_vector(f.se, k), "z", pycn_vector(f.z, k), "p", pycn_vector(f.p, k), "tau2", f.tau2, "s2",
                        f.s2, "llf", f.llf, "n", f.n, "k", f.k, "n_groups", f.n_groups, "reml",
                        f.reml ? Py_True : Py_False, "boundary", f.boundary ? Py_True : Py_False, "converged",
                        f.converged ? Py_True : Py_False);
done:
    Py_XDECREF(y);
    Py_XDECREF(X);
    Py_XDECREF(g);
    return res;
}

PyMethodDef pycn_stats_methods[] = {
    {"mean_sd", mean_sd, METH_VARARGS,
     "mean_sd(x) -> (mean, sd)\n\nMean and sample standard deviation (n - 1), numpy's std(ddof=1)."},
    {"wilcoxon", (PyCFunction)(void (*)(void))wilcoxon, METH_VARARGS | METH_KEYWORDS,
     "wilcoxon(x, y, alternative='two-sided') -> dict\n\n"
     "Wilcoxon signed-rank test on x - y, scipy.stats.wilcoxon's numbers at its defaults (scipy 1.10)."},
    {"pearson", pearson, METH_VARARGS, "pearson(x, y) -> dict(r, p_value, n)\n\nscipy.stats.pearsonr's numbers."},
    {"spearman", spearman, METH_VARARGS,
     "spearman(x, y) -> dict(r, p_value, n)\n\nscipy.stats.spearmanr's numbers (average ranks for ties)."},
    {"mann_whitney", (PyCFunction)(void (*)(void))mann_whitney, METH_VARARGS | METH_KEYWORDS,
     "mann_whitney(x, y, alternative='two-sided') -> dict\n\nscipy.stats.mannwhitneyu's numbers (scipy 1.10)."},
    {"bootstrap_ci", (PyCFunction)(void (*)(void))bootstrap_ci, METH_VARARGS | METH_KEYWORDS,
     "bootstrap_ci(x, resamples=2000, level=0.95, seed=0, method='bca') -> (lo, hi)\n\n"
     "Bootstrap confidence interval of the mean, BCa or percentile, as scipy.stats.bootstrap."},
    {"mixed_intercept", (PyCFunction)(void (*)(void))mixed_intercept, METH_VARARGS | METH_KEYWORDS,
     "mixed_intercept(y, X, groups, reml=True) -> dict\n\n"
     "Linear mixed model y = X beta + u[group] + e with a random intercept per group, statsmodels MixedLM's\n"
     "numbers. X: (n, k) with the intercept column if one is wanted; groups: n integer labels."},
    {NULL}};
