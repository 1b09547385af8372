/* threads.c: one thread count for OpenBLAS and OpenMP alike, so the two pools never oversubscribe. */
#include "core/blas.h"
#ifdef _OPENMP
#include <omp.h>
#endif


static int g_threads = 1;

void cn_set_threads(int n)
{
    if (n < 1) n = 1;
    g_threads = n;
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

int cn_get_threads(void) { return g_threads; }
