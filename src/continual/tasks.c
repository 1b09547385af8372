/* tasks.c: the task sequence of Online Permuted MNIST. Dohare et al.'s code permutes its whole data matrix
 * in place each task (x = x[:, fresh]), so task t shows pixel perm_t[j] at input j with
 * perm_t = perm_{t-1} o fresh_t; here the composition is kept as one index array instead of copies of the
 * data. */
#include <string.h>
#include "continual/tasks.h"

void cl_perm_identity(int32_t *p, int n)
{
    for (int i = 0; i < n; i++) p[i] = i;
}

void cl_perm_compose(int32_t *perm, const int32_t *fresh, int32_t *tmp, int n)
{
    for (int j = 0; j < n; j++) tmp[j] = perm[fresh[j]];
    memcpy(perm, tmp, (size_t)n * sizeof *perm);
}

int cl_perm_valid(const int32_t *p, int n)
{
    unsigned char *seen = n > 0 ? cn_calloc((size_t)n, 1) : NULL;
    if (!seen) return -1;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        ok = p[i] >= 0 && p[i] < n && !seen[p[i]];
        if (ok) seen[p[i]] = 1;
    }
    cn_free(seen);
    return ok;
}

void cl_task_begin(cn_rng *rng, int32_t *perm, int32_t *order, int32_t *fresh, int32_t *tmp, int n_in, int count)
{
    cl_perm_identity(fresh, n_in);
    cn_rng_shuffle(rng, fresh, (size_t)n_in);
    cl_perm_compose(perm, fresh, tmp, n_in);
    cl_perm_identity(order, count);
    cn_rng_shuffle(rng, order, (size_t)count);
}

void cl_permute(cn_real *restrict dst, const cn_real *restrict src, const int32_t *perm, int n)
{
    for (int j = 0; j < n; j++) dst[j] = src[perm[j]];
}
