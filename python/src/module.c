/* module.c: the _critnet extension module: its functions, the Net type and critnet.Error. The package
 * critnet (critnet/__init__.py) is the documented face; this module is its C half. */
#define PYCN_MODULE_C
#include "pycn.h"

static PyObject *set_threads(PyObject *m, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 1 || n > 1024) return PyErr_Format(PyExc_ValueError, "threads %ld: between 1 and 1024", n);
    cn_set_threads((int)n);
    Py_RETURN_NONE;
}

static PyObject *get_threads(PyObject *m, PyObject *unused) { return PyLong_FromLong(cn_get_threads()); }

static PyMethodDef core_methods[] = {
    {"load", (PyCFunction)(void (*)(void))pycn_load, METH_VARARGS | METH_KEYWORDS, "see critnet.load"},
    {"from_onnx_bytes", (PyCFunction)(void (*)(void))pycn_from_onnx_bytes, METH_VARARGS | METH_KEYWORDS,
     "see critnet.from_onnx_bytes"},
    {"from_spec", (PyCFunction)(void (*)(void))pycn_from_spec, METH_VARARGS | METH_KEYWORDS, "see critnet.from_spec"},
    {"theory", (PyCFunction)(void (*)(void))pycn_theory, METH_VARARGS | METH_KEYWORDS, "see critnet.theory"},
    {"critical_sigma_w", (PyCFunction)(void (*)(void))pycn_critical_sigma_w, METH_VARARGS | METH_KEYWORDS,
     "see critnet.critical_sigma_w"},
    {"powerlaw", (PyCFunction)(void (*)(void))pycn_powerlaw, METH_VARARGS | METH_KEYWORDS, "see critnet.powerlaw"},
    {"branching", (PyCFunction)(void (*)(void))pycn_branching, METH_VARARGS | METH_KEYWORDS, "see critnet.branching"},
    {"set_threads", set_threads, METH_O,
     "set_threads(n)\n\nOpenBLAS and OpenMP threads, set together (process-wide, as `--threads N`)."},
    {"get_threads", get_threads, METH_NOARGS, "get_threads() -> int"},
    {"_live_allocations", pycn_live_allocations, METH_NOARGS,
     "_live_allocations() -> int: libcritnet's blocks allocated and not yet freed (for the leak test)"},
    {NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, .m_name = "_critnet", .m_doc = "C half of the critnet package", .m_size = -1};

PyMODINIT_FUNC PyInit__critnet(void)
{
    import_array();
    pycn_alloc_count_install();
    if (PyType_Ready(&pycn_NetType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (PyModule_AddFunctions(m, core_methods) || PyModule_AddFunctions(m, pycn_stats_methods)) goto fail;
    /* one exception for every failure the library reports; `status` says which kind ("io", "arg", ...) */
    pycn_Error = PyErr_NewExceptionWithDoc("critnet.Error",
                                           "A failure reported by libcritnet, with its message (naming the file or "
                                           "argument) and its status name in .status.",
                                           NULL, NULL);
    if (!pycn_Error || PyModule_AddObjectRef(m, "Error", pycn_Error) ||
        PyModule_AddObjectRef(m, "Net", (PyObject *)&pycn_NetType) ||
        PyModule_AddStringConstant(m, "version", CRITNET_VERSION) ||
        PyModule_AddStringConstant(m, "real_dtype", PYCN_NPY_REAL == NPY_FLOAT32 ? "float32" : "float64"))
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
