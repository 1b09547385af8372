/* arrays.c: NumPy arrays in and out. A network's inputs are taken as they are, never copied, so a wrong
 * dtype or layout is an error that says how to fix it; the small inputs of the statistics are cast. */
#include <math.h>
#include <string.h>
#include "pycn.h"

/* The index of the first NaN or Inf in x[0..n), or n. A float is NaN or Inf exactly when its exponent bits are
 * all ones; the largest exponent over a fixed-size chunk is a max-reduction of integers that GCC vectorises at
 * -O2, where a loop of isfinite() with an early exit stays scalar: 0.3 ms instead of 1.3 ms for 784,000 values,
 * under 1% of a predict on them (bench/results/python_overhead.md). */
static size_t first_nonfinite(const cn_real *x, size_t n)
{
    size_t i = 0;
#ifndef CRITNET_DOUBLE
    enum { CHUNK = 256 };
    for (; i + CHUNK <= n; i += CHUNK) {
        uint32_t top = 0;
        for (int j = 0; j < CHUNK; j++) {
            uint32_t b;
            memcpy(&b, x + i + j, sizeof b);
            b &= 0x7f800000u;
            top = b > top ? b : top;
        }
        if (top == 0x7f800000u) break; /* the scalar loop below finds which one */
    }
#endif
    for (; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

static int shape_fits(PyArrayObject *a, const int chw[3], int in)
{
    const npy_intp *s = PyArray_DIMS(a);
    switch (PyArray_NDIM(a)) {
    case 2: return s[1] == in;
    case 3: return chw[0] == 1 && s[1] == chw[1] && s[2] == chw[2];
    case 4: return s[1] == chw[0] && s[2] == chw[1] && s[3] == chw[2];
    default: return 0;
    }
}

PyArrayObject *pycn_net_input(PyObject *obj, const cn_net *net, const char *name, int check_finite, int *n)
{
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a numpy.ndarray, got %s (np.asarray(%s, dtype=np.%s))", name,
                     Py_TYPE(obj)->tp_name, name, PYCN_NPY_REAL == NPY_FLOAT32 ? "float32" : "float64");
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != PYCN_NPY_REAL) {
        PyObject *dt = PyObject_Str((PyObject *)PyArray_DESCR(a));
        PyErr_Format(PyExc_TypeError, "%s: dtype %S, but the network computes in %s (%s.astype(np.%s))", name,
                     dt ? dt : Py_None, PYCN_NPY_REAL == NPY_FLOAT32 ? "float32" : "float64", name,
                     PYCN_NPY_REAL == NPY_FLOAT32 ? "float32" : "float64");
        Py_XDECREF(dt);
        return NULL;
    }
    int chw[3], in = cn_net_in_size(net);
    cn_net_in_shape(net, chw);
    if (!shape_fits(a, chw, in)) {
        PyObject *shape = PyObject_GetAttrString(obj, "shape");
        PyErr_Format(PyExc_ValueError, "%s: shape %S, but the network takes (n, %d) or (n, %d, %d, %d)", name,
                     shape ? shape : Py_None, in, chw[0], chw[1], chw[2]);
        Py_XDECREF(shape);
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a)) {
        PyErr_Format(PyExc_ValueError, "%s is not a C-contiguous aligned array; pass np.ascontiguousarray(%s) "
                     "(critnet reads inputs in place, never copying them)", name, name);
        return NULL;
    }
    npy_intp rows = PyArray_DIM(a, 0);
    if (rows < 1 || rows > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: %zd examples; between 1 and %d are allowed", name, (Py_ssize_t)rows,
                     INT_MAX);
        return NULL;
    }
    /* the forward pass would carry a NaN silently to the outputs; say where it came in instead */
    const cn_real *x = PyArray_DATA(a);
    size_t total = (size_t)rows * (size_t)in, i = check_finite ? first_nonfinite(x, total) : total;
    if (i < total) {
        cn_error e = {0};
        cn_error_set(&e, CN_ERR_NONFINITE, "%s: example %zu has a NaN or Inf value (feature %zu)", name,
                     i / (size_t)in, i % (size_t)in);
        pycn_raise(CN_ERR_NONFINITE, &e, NULL);
        return NULL;
    }
    *n = (int)rows;
    Py_INCREF(a);
    return a;
}

PyArrayObject *pycn_doubles(PyObject *obj, const char *name, int min_n, int *n)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT64, 1, 1, NPY_ARRAY_IN_ARRAY);
    if (!a) {
        /* NumPy's message ("object too deep", "cannot cast") does not say which argument */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(PyExc_TypeError, "%s: expected a 1-D sequence of numbers (%S)", name, value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return NULL;
    }
    npy_intp len = PyArray_DIM(a, 0);
    if (len < min_n || len > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: %zd values; at least %d are needed", name, (Py_ssize_t)len, min_n);
        Py_DECREF(a);
        return NULL;
    }
    *n = (int)len;
    return a;
}

PyObject *pycn_matrix(const double *v, int rows, int cols)
{
    npy_intp dims[2] = {rows, cols};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (a && rows && cols) memcpy(PyArray_DATA((PyArrayObject *)a), v, sizeof(double) * (size_t)rows * cols);
    return a;
}

PyObject *pycn_vector(const double *v, int n)
{
    npy_intp dims[1] = {n};
    PyObject *a = PyArray_SimpleNew(1, dims, NPY_FLOAT64);
    if (a && n) memcpy(PyArray_DATA((PyArrayObject *)a), v, sizeof(double) * (size_t)n);
    return a;
}

int pycn_put(PyObject *d, const char *key, PyObject *value)
{
    if (!value) return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}
