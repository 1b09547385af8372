/* alloc_count.c: libcritnet's allocations counted, through its one allocation hook, so that a test can see
 * that a network, a measurement or a failed call gives back everything it took. This is the module's leak
 * check: the ASan build's extension cannot load into an uninstrumented python3 (tests/CMakeLists.txt). The
 * module links its own copy of the library, so the hook counts the module's allocations and nobody else's. */
#include <stdatomic.h>
#include <stdlib.h>
#include "pycn.h"

static atomic_long live;

static void *counted_alloc(size_t size, void *user)
{
    void *p = NULL;
    /* the library's own alignment (src/core/alloc.c): its SIMD loops expect 64 bytes */
    if (posix_memalign(&p, 64, size) != 0) return NULL;
    atomic_fetch_add(&live, 1);
    return p;
}

static void counted_release(void *ptr, void *user)
{
    atomic_fetch_sub(&live, 1);
    free(ptr);
}

void pycn_alloc_count_install(void)
{
    cn_allocator a = {counted_alloc, counted_release, NULL};
    cn_set_allocator(&a);
}

PyObject *pycn_live_allocations(PyObject *mod, PyObject *unused) { return PyLong_FromLong(atomic_load(&live)); }
