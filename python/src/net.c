/* net.c: critnet.Net, a network from a checkpoint, an ONNX file or bytes, or model-format text: its shape,
 * blocks and outputs. Measuring it is measure.c's. */
#include <string.h>
#include <strings.h>
#include "pycn.h"

/* ---------------------------------------------------------------- the object */

PyObject *pycn_net_wrap(cn_net *net, const char *source)
{
    pycn_Net *o = PyObject_New(pycn_Net, &pycn_NetType);
    if (!o) {
        cn_net_free(net);
        return NULL;
    }
    o->net = net;
    o->busy = 0;
    o->source = PyUnicode_FromString(source);
    if (!o->source) {
        Py_DECREF(o);
        return NULL;
    }
    return (PyObject *)o;
}

static void net_dealloc(pycn_Net *self)
{
    /* busy cannot be set here: a running call holds a reference to self */
    cn_net_free(self->net);
    Py_XDECREF(self->source);
    PyObject_Free(self);
}

int pycn_net_acquire(pycn_Net *self)
{
    if (self->busy) {
        PyErr_SetString(pycn_Error, "this network is in use by another thread (its work buffers are shared: give "
                                    "each thread its own critnet.load)");
        return -1;
    }
    self->busy = 1;
    return 0;
}

void pycn_net_release(pycn_Net *self) { self->busy = 0; }

static PyObject *net_repr(pycn_Net *self)
{
    int chw[3];
    cn_net_in_shape(self->net, chw);
    return PyUnicode_FromFormat("<critnet.Net %U: input (%d, %d, %d), %d outputs, %d layers%s>", self->source, chw[0],
                                chw[1], chw[2], cn_net_out_size(self->net), cn_net_layer_count(self->net),
                                cn_net_layer_name(self->net, 0) ? ", imported" : "");
}

/* ---------------------------------------------------------------- constructors */

static int is_onnx(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && strcasecmp(path + n - 5, ".onnx") == 0;
}

PyObject *pycn_load(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "blocks", "max_bytes", NULL};
    PyObject *path_obj = NULL;
    const char *blocks = NULL;
    Py_ssize_t max_bytes = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|zn:load", kwlist, PyUnicode_FSConverter, &path_obj, &blocks,
                                     &max_bytes))
        return NULL;
    const char *path = PyBytes_AS_STRING(path_obj);
    cn_net *net = NULL;
    cn_error err = {0};
    int rc;
    /* as the CLI (cli/model_load.c): the extension picks the reader, so a corrupt file of either kind gets the
     * message of its own reader */
    if (is_onnx(path)) {
        cn_onnx_opts oo = {.blocks = blocks, .max_bytes = (size_t)(max_bytes > 0 ? max_bytes : 0)};
        Py_BEGIN_ALLOW_THREADS
        rc = cn_net_from_onnx(&net, path, &oo, &err);
        Py_END_ALLOW_THREADS
    } else if (blocks) {
        rc = cn_error_set(&err, CN_ERR_ARG, "blocks= applies to ONNX models (FILE.onnx) only");
    } else {
        cn_checkpoint ck;
        Py_BEGIN_ALLOW_THREADS
        rc = cn_checkpoint_load(&ck, path, &err);
        Py_END_ALLOW_THREADS
        if (rc == CN_OK) {
            net = ck.net;
            ck.net = NULL;
            cn_checkpoint_free(&ck);
        }
    }
    PyObject *res = rc ? pycn_raise(rc, &err, NULL) : pycn_net_wrap(net, path);
    Py_DECREF(path_obj);
    return res;
}

PyObject *pycn_from_onnx_bytes(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "name", "blocks", NULL};
    Py_buffer buf;
    const char *name = "<bytes>", *blocks = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|sz:from_onnx_bytes", kwlist, &buf, &name, &blocks)) return NULL;
    cn_net *net = NULL;
    cn_error err = {0};
    cn_onnx_opts oo = {.blocks = blocks};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = cn_net_from_onnx_buffer(&net, buf.buf, (size_t)buf.len, name, &oo, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return rc ? pycn_raise(rc, &err, NULL) : pycn_net_wrap(net, name);
}

PyObject *pycn_from_spec(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "init", "sigma_w", "sigma_b", "seed", NULL};
    const char *text, *init_name = "torch";
    double sigma_w = 1.0, sigma_b = 0.0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|sddK:from_spec", kwlist, &text, &init_name, &sigma_w, &sigma_b,
                                     &seed))
        return NULL;
    cn_init init = {.sigma_w = sigma_w, .sigma_b = sigma_b};
    if (cn_init_from_name(init_name, &init.kind)) {
        cn_error e = {0};
        cn_error_set(&e, CN_ERR_ARG, "init '%s': expected torch, kaiming_uniform, kaiming_normal, xavier, "
                     "orthogonal or normal", init_name);
        return pycn_raise(CN_ERR_ARG, &e, NULL);
    }
    cn_net *net = NULL;
    cn_error err = {0};
    int rc = cn_net_from_spec(&net, text, &err);
    if (rc) return pycn_raise(rc, &err, "model text");
    /* the same stream as `critnet measure --model-file F --seed S`, so that both draw the same network */
    cn_rng *rng = cn_rng_new(seed);
    rc = rng ? cn_net_init(net, &init, rng) : CN_ERR_NOMEM;
    cn_rng_free(rng);
    if (rc) {
        cn_net_free(net);
        return pycn_raise(rc, NULL, "initialising the network");
    }
    return pycn_net_wrap(net, "<spec>");
}

/* ---------------------------------------------------------------- methods */

static PyObject *net_predict(pycn_Net *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "batch", NULL};
    PyObject *xobj;
    int batch = 0, n;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i:predict", kwlist, &xobj, &batch)) return NULL;
    if (batch < 0) return PyErr_Format(PyExc_ValueError, "batch %d: must be >= 1 (0: the default)", batch);
    /* the CLI's defaults (critnet predict): an ImageNet model keeps every intermediate tensor of a batch */
    if (!batch) batch = cn_net_layer_name(self->net, 0) ? 16 : 500;
    PyArrayObject *x = pycn_net_input(xobj, self->net, "x", 1, &n);
    if (!x) return NULL;
    npy_intp dims[2] = {n, cn_net_out_size(self->net)};
    PyObject *out = PyArray_SimpleNew(2, dims, PYCN_NPY_REAL);
    if (!out || pycn_net_acquire(self)) {
        Py_DECREF(x);
        Py_XDECREF(out);
        return NULL;
    }
    int chw[3];
    cn_net_in_shape(self->net, chw);
    /* a view of the caller's array as a data set: cn_predict reads x in place and writes into out */
    cn_dataset d = {.count = n, .c = chw[0], .h = chw[1], .w = chw[2], .x = PyArray_DATA(x)};
    cn_real *dst = PyArray_DATA((PyArrayObject *)out);
    cn_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = cn_predict(self->net, &d, batch, 0, dst, &err);
    Py_END_ALLOW_THREADS
    pycn_net_release(self);
    Py_DECREF(x);
    if (rc) {
        Py_DECREF(out);
        return pycn_raise(rc, &err, "predict");
    }
    return out;
}

PyObject *pycn_blocks_list(const cn_block *b, int n)
{
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *d = Py_BuildValue("{s:i,s:s,s:i,s:i,s:i,s:i}", "index", i, "name", b[i].name, "first_layer",
                                    b[i].first, "last_layer", b[i].last, "units_in", b[i].n_in, "units", b[i].n_out);
        if (!d) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, d);
    }
    return list;
}

static PyObject *net_blocks(pycn_Net *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"include_readout", NULL};
    int readout = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:blocks", kwlist, &readout)) return NULL;
    cn_block *b = NULL;
    int count = 0, rc = cn_net_blocks(self->net, readout, &b, &count);
    if (rc) return pycn_raise(rc, NULL, "blocks");
    PyObject *list = pycn_blocks_list(b, count);
    cn_free(b);
    return list;
}

static PyObject *net_save(pycn_Net *self, PyObject *args)
{
    PyObject *path_obj;
    if (!PyArg_ParseTuple(args, "O&:save", PyUnicode_FSConverter, &path_obj)) return NULL;
    cn_error err = {0};
    int rc;
    if (pycn_net_acquire(self)) rc = -1; /* an ONNX net read from memory: the library refuses, saying why */
    else {
        const char *path = PyBytes_AS_STRING(path_obj);
        Py_BEGIN_ALLOW_THREADS
        rc = cn_checkpoint_save(path, self->net, NULL, NULL, 0, "", &err);
        Py_END_ALLOW_THREADS
        pycn_net_release(self);
    }
    Py_DECREF(path_obj);
    if (rc < 0) return NULL;
    if (rc) return pycn_raise(rc, &err, NULL);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- attributes */

static PyObject *get_in_shape(pycn_Net *self, void *c)
{
    int chw[3];
    cn_net_in_shape(self->net, chw);
    return Py_BuildValue("(iii)", chw[0], chw[1], chw[2]);
}
static PyObject *get_in_size(pycn_Net *self, void *c) { return PyLong_FromLong(cn_net_in_size(self->net)); }
static PyObject *get_out_size(pycn_Net *self, void *c) { return PyLong_FromLong(cn_net_out_size(self->net)); }
static PyObject *get_layers(pycn_Net *self, void *c) { return PyLong_FromLong(cn_net_layer_count(self->net)); }
static PyObject *get_params(pycn_Net *self, void *c) { return PyLong_FromSize_t(cn_net_param_count(self->net)); }
static PyObject *get_imported(pycn_Net *self, void *c)
{
    return PyBool_FromLong(cn_net_layer_name(self->net, 0) != NULL);
}

static PyObject *get_inference_only(pycn_Net *self, void *c)
{
    return PyBool_FromLong(cn_net_inference_only(self->net));
}
static PyObject *get_spec(pycn_Net *self, void *c)
{
    char *s = cn_net_spec(self->net);
    if (!s) return PyErr_NoMemory();
    PyObject *r = PyUnicode_FromString(s);
    cn_free(s);
    return r;
}
static PyObject *get_source(pycn_Net *self, void *c) { return Py_NewRef(self->source); }

static PyGetSetDef net_getset[] = {
    {"in_shape", (getter)get_in_shape, NULL, "input shape (c, h, w) of one example; an MLP's is (n, 1, 1)", NULL},
    {"in_size", (getter)get_in_size, NULL, "inputs per example, c * h * w", NULL},
    {"out_size", (getter)get_out_size, NULL, "outputs (logits) per example", NULL},
    {"layer_count", (getter)get_layers, NULL, "layers (ONNX: graph segments) of the chain", NULL},
    {"param_count", (getter)get_params, NULL, "trained parameters (0 for an ONNX model: its weights are the file's)",
     NULL},
    {"imported", (getter)get_imported, NULL, "True for an imported (ONNX) model", NULL},
    {"inference_only", (getter)get_inference_only, NULL, "True when the network has no backward (an ONNX operator without one)",
     NULL},
    {"spec", (getter)get_spec, NULL, "the network as model-format text (docs/model-format.md)", NULL},
    {"source", (getter)get_source, NULL, "where the network came from: a path, '<spec>' or the ONNX bytes' name",
     NULL},
    {NULL}};

static PyMethodDef net_methods[] = {
    {"predict", (PyCFunction)(void (*)(void))net_predict, METH_VARARGS | METH_KEYWORDS,
     "predict(x, batch=0) -> ndarray (n, out_size)\n\n"
     "The outputs (logits, before any softmax) in eval mode (running batch-norm statistics, no dropout), as\n"
     "`critnet predict` writes them. x: float32, C-contiguous, shape (n, in_size) or (n, c, h, w); it is read\n"
     "in place. batch: examples per pass (0: 500, or 16 for an ONNX model). Releases the GIL."},
    {"_measure", (PyCFunction)(void (*)(void))pycn_net_measure, METH_VARARGS | METH_KEYWORDS,
     "the C side of Net.measure (critnet/__init__.py), returning a flat dict"},
    {"_train", (PyCFunction)(void (*)(void))pycn_net_train, METH_VARARGS | METH_KEYWORDS,
     "the C side of critnet.train (critnet/train.py), returning per-epoch lists"},
    {"blocks", (PyCFunction)(void (*)(void))net_blocks, METH_VARARGS | METH_KEYWORDS,
     "blocks(include_readout=False) -> list of dict\n\n"
     "The blocks the measures take as units of depth (docs/criticality-measures.md): index, name, first_layer,\n"
     "last_layer, units_in, units."},
    {"save", (PyCFunction)net_save, METH_VARARGS,
     "save(path)\n\nWrites a bare checkpoint (model text and parameters) that critnet.load and `critnet measure\n"
     "--model` read. Not for ONNX models."},
    {NULL}};

PyTypeObject pycn_NetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "critnet.Net",
    .tp_basicsize = sizeof(pycn_Net),
    .tp_dealloc = (destructor)net_dealloc,
    .tp_repr = (reprfunc)net_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A network of libcritnet: from critnet.load, critnet.from_spec or critnet.from_torch.\n\n"
              "Each Net owns its buffers; two networks never interfere, and one network refuses a second thread\n"
              "while a call runs.",
    .tp_methods = net_methods,
    .tp_getset = net_getset,
};
