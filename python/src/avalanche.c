/* avalanche.c: power-law fits and the branching ratio of activity (critnet_avalanche.h), with the fields of
 * `critnet powerlaw --json` and `critnet branching --json`. */
#include <math.h>
#include "pycn.h"

/* the parameter names of each alternative, as cli/cmd_powerlaw.c writes them */
static const char *param_names[CN_PL_ALT_COUNT][2] = {
    {"lambda", NULL}, {"mu", "sigma"}, {"lambda", "beta"}, {"alpha", "lambda"}};

static PyObject *fit_dict(const cn_powerlaw_fit *f, const cn_powerlaw_opts *o)
{
    return Py_BuildValue("{s:O,s:d,s:d,s:d,s:O,s:d,s:d,s:i,s:i,s:i,s:d,s:i,s:K}", "discrete",
                         f->discrete ? Py_True : Py_False, "alpha", f->alpha, "sigma", f->sigma, "xmin", f->xmin,
                         "xmin_fixed", o->xmin > 0 ? Py_True : Py_False, "ks", f->ks, "loglik", f->loglik, "n", f->n,
                         "n_tail", f->n_tail, "candidates", f->candidates, "p_value", f->p_value, "replicates",
                         f->replicates, "seed", (unsigned long long)o->seed);
}

static PyObject *lr_dict(const cn_powerlaw_lr *t)
{
    PyObject *par = PyDict_New();
    for (int k = 0; par && k < 2; k++)
        if (param_names[t->alt][k] && pycn_put(par, param_names[t->alt][k], PyFloat_FromDouble(t->param[k])))
            Py_CLEAR(par);
    if (!par) return NULL;
    return Py_BuildValue("{s:s,s:d,s:d,s:d,s:O,s:d,s:N}", "alternative", cn_powerlaw_alt_name(t->alt), "R", t->R,
                         "llr", t->llr, "p_value", t->p_value, "nested", t->alt == CN_PL_TRUNCATED ? Py_True : Py_False,
                         "loglik", t->loglik, "params", par);
}

PyObject *pycn_powerlaw(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "discrete", "xmin", "min_tail", "candidates", "bootstrap", "seed", "compare", NULL};
    cn_powerlaw_opts o;
    cn_powerlaw_opts_default(&o);
    PyObject *xobj;
    unsigned long long seed = 0;
    int compare = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pdiiiKp:powerlaw", kwlist, &xobj, &o.discrete, &o.xmin,
                                     &o.min_tail, &o.max_candidates, &o.bootstrap, &seed, &compare))
        return NULL;
    o.seed = seed;
    int n;
    PyArrayObject *x = pycn_doubles(xobj, "x", 1, &n);
    if (!x) return NULL;
    const double *xv = PyArray_DATA(x);
    cn_powerlaw_fit fit;
    cn_powerlaw_lr lr[CN_PL_ALT_COUNT];
    cn_error err = {0};
    int rc;
    /* the bootstrap refits thousands of replicates: seconds to minutes */
    Py_BEGIN_ALLOW_THREADS
    rc = cn_powerlaw_estimate(&fit, xv, n, &o, &err);
    for (int a = 0; compare && !rc && a < CN_PL_ALT_COUNT; a++)
        rc = cn_powerlaw_compare(&lr[a], xv, n, &fit, (cn_powerlaw_alt)a, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    if (rc) return pycn_raise(rc, &err, "powerlaw");
    PyObject *tests = PyList_New(compare ? CN_PL_ALT_COUNT : 0);
    for (int a = 0; tests && compare && a < CN_PL_ALT_COUNT; a++) {
        PyObject *t = lr_dict(&lr[a]);
        if (!t) Py_CLEAR(tests);
        else PyList_SET_ITEM(tests, a, t);
    }
    if (!tests) return NULL;
    return Py_BuildValue("{s:N,s:N}", "fit", fit_dict(&fit, &o), "likelihood_ratio", tests);
}

PyObject *pycn_branching(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"a", "kmax", "dt", "bootstrap", "blocks", "level", "seed", NULL};
    cn_branching_opts o;
    cn_branching_opts_default(&o);
    PyObject *aobj;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|idiidK:branching", kwlist, &aobj, &o.kmax, &o.dt, &o.bootstrap,
                                     &o.blocks, &o.level, &seed))
        return NULL;
    o.seed = seed;
    int n;
    PyArrayObject *a = pycn_doubles(aobj, "a", 1, &n);
    if (!a) return NULL;
    const double *av = PyArray_DATA(a);
    cn_branching_fit f;
    cn_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = cn_branching_estimate(&f, av, n, &o, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(a);
    if (rc) return pycn_raise(rc, &err, "branching");
    PyObject *d = Py_BuildValue("{s:i,s:i,s:d,s:d,s:d,s:d,s:d,s:(dd),s:d,s:i,s:i,s:K,s:N}", "steps", n, "kmax", f.kmax,
                                "dt", o.dt, "m", f.m, "b", f.b, "m_naive", f.m_naive, "tau", f.tau, "m_ci", f.m_lo,
                                f.m_hi, "ci_level", o.level, "replicates", f.replicates, "blocks", o.blocks, "seed",
                                (unsigned long long)o.seed, "r_k", pycn_vector(f.r, f.kmax));
    cn_branching_fit_free(&f);
    return d;
}
