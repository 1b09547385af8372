/* pycn.h: what the files of the _critnet extension share: the Net type, the error and array helpers, and
 * the module functions each file defines. module.c gathers them into the module. */
#ifndef PYCN_H
#define PYCN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
/* every file but module.c sees the NumPy API table that module.c imports (import_array) */
#define PY_ARRAY_UNIQUE_SYMBOL pycn_ARRAY_API
#ifndef PYCN_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "critnet.h"

/* the NumPy type of cn_real: the arrays a network reads and writes */
#ifdef CRITNET_DOUBLE
#define PYCN_NPY_REAL NPY_FLOAT64
#else
#define PYCN_NPY_REAL NPY_FLOAT32
#endif

/* ---------------------------------------------------------------- errors (errors.c) */

extern PyObject *pycn_Error; /* critnet.Error */
/* Raises critnet.Error for a library status, with err's message when it has one, else cn_strerror's;
 * `what` (may be NULL) prefixes it. Returns NULL for `return pycn_raise(...)`. */
PyObject *pycn_raise(int status, const cn_error *err, const char *what);
/* The status's short name, the `status` attribute of the exception: "arg", "io", "nonfinite", ... */
const char *pycn_status_name(int status);

/* ---------------------------------------------------------------- arrays (arrays.c) */

/* A network's input: an ndarray of cn_real, C-contiguous and aligned, of shape (n, in) or (n, c, h, w)
 * with (c, h, w) the network's input shape, and with check_finite, without NaN or Inf (cn_measure checks
 * its inputs itself; cn_predict does not). Never copied: a wrong dtype or layout is an error that names the
 * fix. Returns a new reference, sets *n; NULL with an exception set. */
PyArrayObject *pycn_net_input(PyObject *obj, const cn_net *net, const char *name, int check_finite, int *n);
/* A 1-D array of float64 from any sequence or array (ints too: avalanche sizes are counts), copied only
 * where it must be cast or made contiguous: these inputs are small next to the work done on them. NaN and
 * Inf are left to the library, which names the position. min_n: fewest values. New reference or NULL. */
PyArrayObject *pycn_doubles(PyObject *obj, const char *name, int min_n, int *n);
/* A new 1-D float64 ndarray holding v[0..n); NULL with an exception set. */
PyObject *pycn_vector(const double *v, int n);
/* A new (rows, cols) float64 ndarray holding v, row-major. */
PyObject *pycn_matrix(const double *v, int rows, int cols);
/* Sets d[key] = value and drops the reference to value; -1 (exception set) when value is NULL or the set
 * fails. For building result dicts in one chain of calls. */
int pycn_put(PyObject *d, const char *key, PyObject *value);

/* ---------------------------------------------------------------- networks (net.c) */

typedef struct {
    PyObject_HEAD
    cn_net *net;
    /* set while a call runs with the GIL released: a second thread on the same network (whose buffers the
     * first is using) gets an error instead of corrupting them. Read and written only under the GIL. */
    int busy;
    PyObject *source; /* str: the file or "<spec>", for repr and messages */
} pycn_Net;

extern PyTypeObject pycn_NetType;
/* Wraps net (taken, freed with the object); NULL (net freed) on failure. */
PyObject *pycn_net_wrap(cn_net *net, const char *source);
/* Marks the network busy for a call that releases the GIL; -1 with an exception if it already is. */
int pycn_net_acquire(pycn_Net *self);
void pycn_net_release(pycn_Net *self);
/* The blocks as a list of dicts: index, name, first_layer, last_layer, units_in, units (as the CLI's JSON). */
PyObject *pycn_blocks_list(const cn_block *b, int n);

/* ---------------------------------------------------------------- the functions of each file */

PyObject *pycn_load(PyObject *mod, PyObject *args, PyObject *kw);             /* net.c */
PyObject *pycn_from_onnx_bytes(PyObject *mod, PyObject *args, PyObject *kw);  /* net.c */
PyObject *pycn_from_spec(PyObject *mod, PyObject *args, PyObject *kw);        /* net.c */
PyObject *pycn_net_measure(PyObject *self, PyObject *args, PyObject *kw);     /* measure.c */
PyObject *pycn_net_train(PyObject *self, PyObject *args, PyObject *kw);       /* train.c */
PyObject *pycn_theory(PyObject *mod, PyObject *args, PyObject *kw);           /* theory.c */
PyObject *pycn_critical_sigma_w(PyObject *mod, PyObject *args, PyObject *kw); /* theory.c */
PyObject *pycn_powerlaw(PyObject *mod, PyObject *args, PyObject *kw);         /* avalanche.c */
PyObject *pycn_branching(PyObject *mod, PyObject *args, PyObject *kw);        /* avalanche.c */
extern PyMethodDef pycn_stats_methods[];                                      /* stats.c */
void pycn_alloc_count_install(void);                                          /* alloc_count.c */
PyObject *pycn_live_allocations(PyObject *mod, PyObject *unused);             /* alloc_count.c */

#endif /* PYCN_H */
