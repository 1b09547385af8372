/* errors.c: library statuses as Python exceptions: critnet.Error carries the library's message (which
 * names the file or argument) and the status's short name in its `status` attribute. */
#include "pycn.h"

PyObject *pycn_Error;

static const char *const status_names[] = {"ok", "nomem", "io", "format", "arg", "nonfinite", "unsupported",
                                            "stopped"};
_Static_assert(sizeof status_names / sizeof *status_names == CN_STATUS_COUNT, "a name for every status");

const char *pycn_status_name(int status)
{
    return status >= 0 && status < CN_STATUS_COUNT ? status_names[status] : "unknown";
}

PyObject *pycn_raise(int status, const cn_error *err, const char *what)
{
    /* out of memory is MemoryError in Python, whoever ran out */
    if (status == CN_ERR_NOMEM && !(err && err->msg[0])) return PyErr_NoMemory();
    const char *msg = err && err->msg[0] ? err->msg : cn_strerror(status);
    PyObject *text = what ? PyUnicode_FromFormat("%s: %s", what, msg) : PyUnicode_FromString(msg);
    if (!text) return NULL;
    PyObject *exc = PyObject_CallOneArg(pycn_Error, text);
    Py_DECREF(text);
    if (!exc) return NULL;
    PyObject *name = PyUnicode_FromString(pycn_status_name(status));
    if (name && PyObject_SetAttrString(exc, "status", name) == 0) PyErr_SetObject(pycn_Error, exc);
    Py_XDECREF(name);
    Py_DECREF(exc);
    return NULL;
}
