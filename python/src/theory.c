/* theory.c: the mean-field theory of a wide random MLP (cn_meanfield_*), as `critnet theory` gives it. */
#include <math.h>
#include "pycn.h"

static int parse_act(const char *name, cn_act *act)
{
    if (cn_act_from_name(name, act) == CN_OK) return 0;
    PyObject *names = PyUnicode_FromString("");
    for (int i = 0; names && i < CN_ACT_COUNT; i++) {
        PyObject *joined = PyUnicode_FromFormat("%U%s%s", names, i ? ", " : "", cn_act_name((cn_act)i));
        Py_SETREF(names, joined);
    }
    if (names) PyErr_Format(PyExc_ValueError, "act '%s': unknown activation (expected one of: %U)", name, names);
    Py_XDECREF(names);
    return -1;
}

/* the phase of `critnet theory` (cli/cmd_theory.c): critical within 1e-3 of ln chi1 = 0 */
static const char *phase_name(double chi1)
{
    double l = log(chi1);
    return fabs(l) < 1e-3 ? "critical" : l < 0 ? "ordered" : "chaotic";
}

PyObject *pycn_theory(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"act", "sigma_w", "sigma_b", "q0", NULL};
    const char *act_name;
    double sigma_w, sigma_b = 0, q0 = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sd|dd:theory", kwlist, &act_name, &sigma_w, &sigma_b, &q0))
        return NULL;
    cn_act act;
    if (parse_act(act_name, &act)) return NULL;
    /* the CLI's ranges (cmd_theory.c): the library takes any finite value, but a negative scale is a typo */
    if (!(sigma_w >= 0) || !(sigma_b >= 0) || !(q0 > 0) || !isfinite(sigma_w) || !isfinite(sigma_b) || !isfinite(q0))
        return PyErr_Format(PyExc_ValueError, "theory: need finite sigma_w >= 0, sigma_b >= 0 and q0 > 0");
    cn_meanfield m;
    int rc = cn_meanfield_compute(&m, act, sigma_w, sigma_b, q0);
    if (rc) return pycn_raise(rc, NULL, "theory");
    return Py_BuildValue("{s:s,s:d,s:d,s:d,s:d,s:O,s:i,s:d,s:d,s:d,s:s}", "act", cn_act_name(act), "sigma_w", sigma_w,
                         "sigma_b", sigma_b, "q0", q0, "q_star", m.q_star, "converged",
                         m.converged ? Py_True : Py_False, "iterations", m.iterations, "chi1", m.chi1, "xi_c", m.xi_c,
                         "lambda_pred", m.lambda_pred, "phase", phase_name(m.chi1));
}

PyObject *pycn_critical_sigma_w(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"act", "sigma_b", "lo", "hi", NULL};
    const char *act_name;
    double sigma_b = 0, lo = 0.1, hi = 10; /* the CLI's bracket, [0.1, 10] */
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ddd:critical_sigma_w", kwlist, &act_name, &sigma_b, &lo, &hi))
        return NULL;
    cn_act act;
    if (parse_act(act_name, &act)) return NULL;
    double sw;
    int rc = cn_meanfield_critical_sigma_w(&sw, act, sigma_b, lo, hi);
    if (rc == CN_ERR_ARG) {
        cn_error e = {0};
        cn_error_set(&e, rc, "%s at sigma_b %g: chi1 does not cross 1 for sigma_w in [%g, %g] (it may jump across 1 "
                     "where the length map is bistable)", cn_act_name(act), sigma_b, lo, hi);
        return pycn_raise(rc, &e, NULL);
    }
    if (rc) return pycn_raise(rc, NULL, "critical_sigma_w");
    return PyFloat_FromDouble(sw);
}
