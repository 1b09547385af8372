/* train.c: Net._train, cn_train from Python: a network trained in place on NumPy arrays or a named data set.
 * critnet/train.py checks the options and shapes the per-epoch lists into a TrainResult. The net is left as
 * it was at the end of its last completed epoch (or before the call) when the run diverges, fails or is
 * interrupted, so a NaN or a Ctrl-C never leaves it half-updated. */
#include <string.h>
#include "pycn.h"

/* seconds between signal checks inside an epoch: taking the GIL back each step would cost more than a small
 * network's step, and Ctrl-C only needs to feel prompt */
#define SIGNAL_CHECK_SECONDS 0.05

static const char *const metric_names[] = {"train_loss", "train_accuracy", "test_loss", "test_accuracy",
                                           "sigma",      "lambda_max",     "crit_reg",  "seconds"};
#define NMETRICS (int)(sizeof metric_names / sizeof *metric_names)

typedef struct {
    cn_net *net;
    cn_real *params, *state; /* the snapshot of the last completed epoch */
    size_t nparams, nstate;
    PyObject *metrics[NMETRICS]; /* lists, one value per epoch */
    PyObject *callback;          /* NULL or callable(dict) per epoch */
    PyObject *exc_type, *exc_value, *exc_tb;
    double last_check;
    volatile int stop; /* cn_train_cfg.stop */
} train_ctx;

static void snapshot_take(train_ctx *t)
{
    memcpy(t->params, cn_net_params(t->net), t->nparams * sizeof(cn_real));
    if (t->nstate) memcpy(t->state, cn_net_state(t->net), t->nstate * sizeof(cn_real));
}

static void snapshot_restore(train_ctx *t)
{
    memcpy(cn_net_params(t->net), t->params, t->nparams * sizeof(cn_real));
    if (t->nstate) memcpy(cn_net_state(t->net), t->state, t->nstate * sizeof(cn_real));
}

/* with the GIL: the epoch's row appended and handed to the callback; 0, or -1 with an exception set */
static int epoch_done(train_ctx *t, const cn_train_progress *p)
{
    const double v[NMETRICS] = {p->train_loss, p->train_acc, p->test_loss, p->test_acc,
                                p->sigma,      p->lambda_max, p->crit_reg, p->epoch_seconds};
    for (int i = 0; i < NMETRICS; i++) {
        PyObject *f = PyFloat_FromDouble(v[i]);
        int bad = !f || PyList_Append(t->metrics[i], f);
        Py_XDECREF(f);
        if (bad) return -1;
    }
    if (!t->callback) return 0;
    PyObject *row = PyDict_New();
    if (!row || pycn_put(row, "epoch", PyLong_FromLong(p->epoch + 1))) {
        Py_XDECREF(row);
        return -1;
    }
    for (int i = 0; i < NMETRICS; i++)
        if (pycn_put(row, metric_names[i], PyFloat_FromDouble(v[i]))) {
            Py_DECREF(row);
            return -1;
        }
    PyObject *r = PyObject_CallOneArg(t->callback, row);
    Py_DECREF(row);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* cn_train's progress: every step, from the thread that called cn_train, without the GIL */
static void train_hook(const cn_train_progress *p, void *user)
{
    train_ctx *t = user;
    if (t->stop) return;
    if (p->done) snapshot_take(t); /* the epoch finished with finite parameters and a finite test loss */
    else if (p->elapsed - t->last_check < SIGNAL_CHECK_SECONDS) return;
    t->last_check = p->elapsed;
    PyGILState_STATE g = PyGILState_Ensure();
    int bad = PyErr_CheckSignals() || (p->done && epoch_done(t, p));
    if (bad) {
        PyErr_Fetch(&t->exc_type, &t->exc_value, &t->exc_tb);
        t->stop = 1;
    }
    PyGILState_Release(g);
}

/* y: integer labels, one per example, in [0, classes); cast to int32 (a small copy where needed) */
static PyArrayObject *labels_array(PyObject *obj, const char *name, int n, int classes)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(obj);
    if (!a) return NULL;
    if (!PyArray_ISINTEGER(a) || PyArray_NDIM(a) != 1) {
        PyErr_Format(PyExc_TypeError, "%s: expected a 1-D array of integer class labels", name);
        Py_DECREF(a);
        return NULL;
    }
    PyArrayObject *y = (PyArrayObject *)PyArray_FromArray(a, PyArray_DescrFromType(NPY_INT32),
                                                          NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    Py_DECREF(a);
    if (!y) return NULL;
    if (PyArray_DIM(y, 0) != n) {
        PyErr_Format(PyExc_ValueError, "%s: %zd labels for %d examples", name, (Py_ssize_t)PyArray_DIM(y, 0), n);
        Py_DECREF(y);
        return NULL;
    }
    const int32_t *v = PyArray_DATA(y);
    for (int i = 0; i < n; i++)
        if (v[i] < 0 || v[i] >= classes) {
            PyErr_Format(PyExc_ValueError, "%s[%d] = %d: labels must be in [0, %d) (the network's outputs)", name, i,
                         (int)v[i], classes);
            Py_DECREF(y);
            return NULL;
        }
    return y;
}

/* a split over arrays read in place: x (n, in) of cn_real, y int32 */
static int split_from_arrays(cn_dataset *d, cn_net *net, PyObject *xo, PyObject *yo, const char *xname,
                             const char *yname, PyObject **keep_x, PyObject **keep_y)
{
    int n, chw[3];
    PyArrayObject *x = pycn_net_input(xo, net, xname, 1, &n);
    if (!x) return -1;
    *keep_x = (PyObject *)x;
    PyArrayObject *y = labels_array(yo, yname, n, cn_net_out_size(net));
    if (!y) return -1;
    *keep_y = (PyObject *)y;
    cn_net_in_shape(net, chw);
    *d = (cn_dataset){.count = n, .c = chw[0], .h = chw[1], .w = chw[2], .classes = cn_net_out_size(net),
                      .x = PyArray_DATA(x), .y = PyArray_DATA(y)};
    return 0;
}

static int parse_names(const char *optim, const char *sched, const char *loss, const char *target, cn_train_cfg *c)
{
    if (cn_opt_from_name(optim, &c->optim.kind))
        return PyErr_Format(PyExc_ValueError, "optim '%s': expected 'sgd', 'adam' or 'adamw'", optim), -1;
    if (cn_sched_from_name(sched, &c->optim.sched))
        return PyErr_Format(PyExc_ValueError, "sched '%s': expected 'constant', 'step' or 'cosine'", sched), -1;
    if (cn_loss_from_name(loss, &c->loss))
        return PyErr_Format(PyExc_ValueError, "loss '%s': expected 'cross_entropy' or 'mse'", loss), -1;
    if (!strcmp(target, "sigma")) c->crit.target = CN_CRIT_SIGMA;
    else if (!strcmp(target, "lambda")) c->crit.target = CN_CRIT_LAMBDA;
    else return PyErr_Format(PyExc_ValueError, "crit_target '%s': expected 'sigma' or 'lambda'", target), -1;
    return 0;
}

static PyObject *metrics_dict(train_ctx *t, int epochs_done)
{
    PyObject *d = PyDict_New();
    if (!d || pycn_put(d, "epochs_done", PyLong_FromLong(epochs_done))) {
        Py_XDECREF(d);
        return NULL;
    }
    for (int i = 0; i < NMETRICS; i++) {
        Py_INCREF(t->metrics[i]);
        if (pycn_put(d, metric_names[i], t->metrics[i])) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

PyObject *pycn_net_train(PyObject *self_obj, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x",         "y",          "x_test",      "y_test",       "data",        "epochs",
                             "batch",     "optim",      "lr",          "momentum",     "nesterov",    "weight_decay",
                             "beta1",     "beta2",      "eps",         "sched",        "step_size",   "gamma",
                             "seed",      "loss",       "crit_weight", "crit_target",  "crit_probes", "crit_every",
                             "crit_batch", "crit_include_readout", "track_samples", "limit_train", "limit_test",
                             "out",       "progress",   NULL};
    pycn_Net *self = (pycn_Net *)self_obj;
    PyObject *xo, *yo, *xto, *yto, *data_spec, *out_obj, *callback;
    const char *optim, *sched, *loss, *target;
    unsigned long long seed;
    cn_train_cfg c;
    memset(&c, 0, sizeof c);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOiisddpddddsidKsdsiiipiiiOO:_train", kwlist, &xo, &yo, &xto, &yto,
                                     &data_spec, &c.epochs, &c.batch, &optim, &c.optim.lr, &c.optim.momentum,
                                     &c.optim.nesterov, &c.optim.weight_decay, &c.optim.beta1, &c.optim.beta2,
                                     &c.optim.eps, &sched, &c.optim.step_size, &c.optim.gamma, &seed, &loss,
                                     &c.crit.weight, &target, &c.crit.probes, &c.crit.every, &c.crit.batch,
                                     &c.crit.layers_all, &c.track_samples, &c.limit_train, &c.limit_test, &out_obj,
                                     &callback))
        return NULL;
    if (parse_names(optim, sched, loss, target, &c)) return NULL;
    c.seed = seed;
    c.optim.total_epochs = c.epochs;
    if (c.track_samples == 0) c.track_samples = -1; /* Python's 0 is off; the library's 0 is its default */
    const char *out = out_obj == Py_None ? NULL : PyUnicode_AsUTF8(out_obj);
    if (out_obj != Py_None && !out) return NULL;
    c.out_dir = out;

    cn_data data = {0};
    int loaded = 0;
    PyObject *keep[4] = {NULL, NULL, NULL, NULL};
    cn_error err = {0};
    int rc;
    if (data_spec != Py_None) {
        const char *spec = PyUnicode_AsUTF8(data_spec);
        if (!spec) return NULL;
        cn_data_opts o = {.spec = spec, .gaussian_dim = cn_net_in_size(self->net),
                          .gaussian_classes = cn_net_out_size(self->net), .seed = c.seed};
        Py_BEGIN_ALLOW_THREADS
        rc = cn_data_load(&data, &o, &err);
        Py_END_ALLOW_THREADS
        if (rc) return pycn_raise(rc, &err, "data");
        loaded = 1;
    } else if (split_from_arrays(&data.train, self->net, xo, yo, "x", "y", &keep[0], &keep[1]) ||
               (xto != Py_None &&
                split_from_arrays(&data.test, self->net, xto, yto, "x_test", "y_test", &keep[2], &keep[3]))) {
        goto fail;
    } else if (xto == Py_None) {
        data.test = data.train; /* no test split: each epoch is evaluated on the training data */
    }

    train_ctx t = {.net = self->net, .nparams = cn_net_param_count(self->net),
                   .nstate = cn_net_state_count(self->net), .callback = callback == Py_None ? NULL : callback};
    PyObject *result = NULL;
    cn_optim *opt = NULL;
    cn_rng *rng = cn_rng_new(c.seed);
    t.params = PyMem_RawMalloc((t.nparams ? t.nparams : 1) * sizeof(cn_real));
    t.state = PyMem_RawMalloc((t.nstate ? t.nstate : 1) * sizeof(cn_real));
    if (!rng || !t.params || !t.state || cn_optim_new(&opt, &c.optim, t.nparams)) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < NMETRICS; i++)
        if (!(t.metrics[i] = PyList_New(0))) goto done;
    snapshot_take(&t);
    c.progress = train_hook;
    c.user = &t;
    c.stop = &t.stop;
    cn_train_result res;
    rc = -1;
    if (pycn_net_acquire(self) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = cn_train(self->net, &data, &c, opt, rng, 0, &res, &err);
        Py_END_ALLOW_THREADS
        pycn_net_release(self);
    }
    if (rc != CN_OK && rc != -1) snapshot_restore(&t);
    if (t.exc_type) {
        if (rc == CN_OK) snapshot_restore(&t);
        PyErr_Restore(t.exc_type, t.exc_value, t.exc_tb);
    } else if (rc > 0) {
        pycn_raise(rc, &err, "train");
    } else if (rc == CN_OK) {
        result = metrics_dict(&t, res.epochs_done);
    }
done:
    for (int i = 0; i < NMETRICS; i++) Py_XDECREF(t.metrics[i]);
    PyMem_RawFree(t.params);
    PyMem_RawFree(t.state);
    cn_optim_free(opt);
    cn_rng_free(rng);
    if (loaded) cn_data_free(&data);
    for (int i = 0; i < 4; i++) Py_XDECREF(keep[i]);
    return result;
fail:
    for (int i = 0; i < 4; i++) Py_XDECREF(keep[i]);
    return NULL;
}
