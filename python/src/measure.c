/* measure.c: Net._measure, cn_measure from Python. It returns the result as a flat dict of floats and
 * ndarrays; critnet/measure.py shapes it into the fields of `critnet measure --json`. */
#include <math.h>
#include <string.h>
#include "pycn.h"

/* The Python progress callback, called between batches with the GIL taken back. An exception in it, or a
 * pending signal (Ctrl-C), is kept, raises the library's stop flag so that cn_measure returns before its
 * next batch, and is raised then. */
typedef struct {
    PyObject *callback; /* NULL: none, but signals are still checked */
    PyObject *exc_type, *exc_value, *exc_tb;
    volatile int stop; /* cn_measure_cfg.stop */
} progress_ctx;

static void progress_hook(double done, double total, void *user)
{
    progress_ctx *p = user;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!p->exc_type) {
        PyObject *r = NULL;
        if (PyErr_CheckSignals() == 0 && p->callback) r = PyObject_CallFunction(p->callback, "dd", done, total);
        if (PyErr_Occurred()) {
            PyErr_Fetch(&p->exc_type, &p->exc_value, &p->exc_tb);
            p->stop = 1;
        }
        Py_XDECREF(r);
    }
    PyGILState_Release(g);
}

static int parse_choice(const char *what, const char *name, cn_response *resp, cn_stimulus *stim)
{
    if (stim) {
        if (!strcmp(name, "additive")) *stim = CN_STIM_ADDITIVE;
        else if (!strcmp(name, "contrast")) *stim = CN_STIM_CONTRAST;
        else return PyErr_Format(PyExc_ValueError, "%s '%s': expected 'additive' or 'contrast'", what, name), -1;
        return 0;
    }
    if (cn_response_from_name(name, resp) == CN_OK) return 0;
    PyErr_Format(PyExc_ValueError, "%s '%s': expected 'tv', 'activity', 'hidden', 'hidden-rel' or 'driven'", what, name);
    return -1;
}

/* the optional initial tangents Q0: (spectrum, in_size) of cn_real, read in place */
static PyArrayObject *q0_array(PyObject *obj, int k, int in)
{
    if (!PyArray_Check(obj) || PyArray_TYPE((PyArrayObject *)obj) != PYCN_NPY_REAL ||
        PyArray_NDIM((PyArrayObject *)obj) != 2 || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)obj)) {
        PyErr_Format(PyExc_TypeError, "q0: expected a C-contiguous %s ndarray of shape (spectrum, in_size)",
                     PYCN_NPY_REAL == NPY_FLOAT32 ? "float32" : "float64");
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_DIM(a, 0) != k || PyArray_DIM(a, 1) != in) {
        PyErr_Format(PyExc_ValueError, "q0: shape (%zd, %zd), expected (spectrum, in_size) = (%d, %d)",
                     (Py_ssize_t)PyArray_DIM(a, 0), (Py_ssize_t)PyArray_DIM(a, 1), k, in);
        return NULL;
    }
    Py_INCREF(a);
    return a;
}

static PyObject *result_dict(const cn_measure_result *r, const cn_measure_cfg *cfg)
{
    PyObject *d = PyDict_New();
    int L = r->nblocks, k = r->k;
    if (!d) return NULL;
    int bad = pycn_put(d, "inputs", PyLong_FromLong(r->inputs)) ||
              pycn_put(d, "sigma", PyFloat_FromDouble(r->sigma)) ||
              pycn_put(d, "sigma_stderr", PyFloat_FromDouble(r->sigma_se)) ||
              pycn_put(d, "sigma_per_block", pycn_vector(r->sigma_block, L)) ||
              pycn_put(d, "sigma_per_block_stderr", pycn_vector(r->sigma_block_se, L)) ||
              pycn_put(d, "mean_abs_ln_sigma_per_block", PyFloat_FromDouble(r->mean_abs_ln_sigma_block)) ||
              pycn_put(d, "lambda_max", PyFloat_FromDouble(r->lambda_max)) ||
              pycn_put(d, "lambda_max_stderr", PyFloat_FromDouble(r->lambda_max_se)) ||
              pycn_put(d, "spectrum", pycn_vector(r->spectrum, k)) ||
              pycn_put(d, "spectrum_stderr", pycn_vector(r->spectrum_se, k)) ||
              pycn_put(d, "local_exponents", pycn_matrix(r->local_exponents, L, k)) ||
              pycn_put(d, "degenerate_directions", PyLong_FromLong(r->degenerate)) ||
              pycn_put(d, "sigma_activity", PyFloat_FromDouble(r->sigma_act)) ||
              pycn_put(d, "activity", pycn_vector(r->activity, L + 1)) ||
              pycn_put(d, "activity_slope", pycn_vector(r->activity_slope, L)) ||
              pycn_put(d, "blocks", pycn_blocks_list(r->blocks, L)) ||
              pycn_put(d, "has_dynamic_range", PyBool_FromLong(cfg->dynamic_range));
    if (!bad && cfg->dynamic_range)
        bad = pycn_put(d, "dr_defined", PyBool_FromLong(r->has_dr)) ||
              pycn_put(d, "delta_db", PyFloat_FromDouble(r->has_dr ? r->dr.delta_db : NAN)) ||
              pycn_put(d, "s10", PyFloat_FromDouble(r->has_dr ? r->dr.s10 : NAN)) ||
              pycn_put(d, "s90", PyFloat_FromDouble(r->has_dr ? r->dr.s90 : NAN)) ||
              pycn_put(d, "saturated", PyBool_FromLong(r->has_dr && r->dr.saturated)) ||
              pycn_put(d, "truncated_low", PyBool_FromLong(r->has_dr && r->dr.truncated_low)) ||
              pycn_put(d, "dr_class", PyUnicode_FromString(r->has_dr ? cn_dynrange_class(&r->dr) : "no-rise")) ||
              pycn_put(d, "dr_complete", PyBool_FromLong(r->has_dr && cn_dynrange_complete(&r->dr))) ||
              pycn_put(d, "dr_s", pycn_vector(r->dr_s, r->dr_n)) ||
              pycn_put(d, "dr_F", pycn_vector(r->dr_F, r->dr_n));
    if (bad) Py_CLEAR(d);
    return d;
}

PyObject *pycn_net_measure(PyObject *self_obj, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "probes", "spectrum", "include_readout", "batch", "seed", "dynamic_range",
                             "dr_points", "dr_smin", "dr_smax", "stimulus", "response", "dr_block", "q0",
                             "progress", NULL};
    pycn_Net *self = (pycn_Net *)self_obj;
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    PyObject *xobj, *q0obj = Py_None, *callback = Py_None;
    const char *stimulus = "additive", *response = "tv";
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|iipiKpiddssiOO:measure", kwlist, &xobj, &cfg.probes,
                                     &cfg.spectrum, &cfg.include_readout, &cfg.batch, &seed, &cfg.dynamic_range,
                                     &cfg.dr_points, &cfg.dr_smin, &cfg.dr_smax, &stimulus, &response, &cfg.dr_block,
                                     &q0obj, &callback))
        return NULL;
    if (parse_choice("stimulus", stimulus, NULL, &cfg.dr_stimulus) ||
        parse_choice("response", response, &cfg.dr_response, NULL))
        return NULL;
    if (callback != Py_None && !PyCallable_Check(callback))
        return PyErr_Format(PyExc_TypeError, "progress: expected a callable(done, total) or None");
    /* `critnet measure --seed S` draws its probes from S + 1, apart from the initialisation's stream: the same
     * seed here gives the CLI's numbers */
    cfg.seed = (uint64_t)seed + 1;
    int n;
    PyArrayObject *x = pycn_net_input(xobj, self->net, "x", 0, &n), *q0 = NULL;
    if (!x) return NULL;
    if (q0obj != Py_None) {
        if (!(q0 = q0_array(q0obj, cfg.spectrum, cn_net_in_size(self->net)))) {
            Py_DECREF(x);
            return NULL;
        }
        cfg.q0 = PyArray_DATA(q0);
    }
    progress_ctx pc = {.callback = callback == Py_None ? NULL : callback};
    cfg.progress = progress_hook;
    cfg.user = &pc;
    cfg.stop = &pc.stop;
    cn_measure_result res;
    cn_error err = {0};
    int rc = -1;
    if (pycn_net_acquire(self) == 0) {
        const cn_real *xd = PyArray_DATA(x);
        Py_BEGIN_ALLOW_THREADS
        rc = cn_measure(self->net, xd, n, &cfg, &res, &err);
        Py_END_ALLOW_THREADS
        pycn_net_release(self);
    }
    Py_DECREF(x);
    Py_XDECREF(q0);
    if (rc < 0) return NULL;
    if (pc.exc_type) {
        if (rc == CN_OK) cn_measure_result_free(&res);
        PyErr_Restore(pc.exc_type, pc.exc_value, pc.exc_tb);
        return NULL;
    }
    if (rc) return pycn_raise(rc, &err, "measure");
    PyObject *d = result_dict(&res, &cfg);
    cn_measure_result_free(&res);
    return d;
}
