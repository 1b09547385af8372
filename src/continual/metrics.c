/* metrics.c: dead units, effective rank and weight magnitude, as Dohare et al. report them for Online
 * Permuted MNIST (lop/permuted_mnist/online_expr.py; compute_effective_rank in lop/utils/miscellaneous.py). */
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include "continual/metrics.h"
#include "net/net_internal.h"

double cl_effective_rank_sv(const double *s, int n)
{
    double total = 0, h = 0;
    for (int i = 0; i < n; i++) total += fabs(s[i]);
    if (!(total > 0)) return 0;
    for (int i = 0; i < n; i++) {
        double p = fabs(s[i]) / total;
        if (p > 0) h -= p * log(p);
    }
    return exp(h);
}

int cl_effective_rank(double *out, const cn_real *m, int rows, int cols)
{
    *out = NAN;
    if (rows < 1 || cols < 1) return CN_ERR_ARG;
    int k = rows < cols ? rows : cols;
    double *a = cn_malloc((size_t)rows * cols * sizeof *a), *s = cn_malloc((size_t)k * sizeof *s);
    int rc = CN_ERR_NOMEM;
    if (a && s) {
        for (size_t i = 0; i < (size_t)rows * cols; i++) a[i] = m[i];
        /* the row-major (rows, cols) matrix is the column-major (cols, rows) one, its transpose, which has the
         * same singular values: no copy into column order. jobz 'N': singular values only. */
        lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', cols, rows, a, cols, s, NULL, 1, NULL, 1);
        rc = info == 0                                                           ? CN_OK
             : info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR ? CN_ERR_NOMEM
             : info < 0                                                            ? CN_ERR_ARG
                                                                                   : CN_ERR_NONFINITE;
        if (rc == CN_OK) *out = cl_effective_rank_sv(s, k);
    }
    cn_free(a);
    cn_free(s);
    return rc;
}

double cl_mean_abs_weight(cn_net *net, const int *dense, int ndense)
{
    double sum = 0;
    size_t count = 0;
    for (int d = 0; d < ndense; d++) {
        const cn_layer *L = net->chain.layers[dense[d]];
        size_t nw = L->nparams - L->nbias;
        for (size_t i = 0; i < nw; i++) sum += fabs((double)L->p[i]);
        count += nw;
    }
    return count ? sum / (double)count : NAN;
}

int cl_probe_metrics(cn_net *net, const int *dense, int ndense, const cn_real *x, int n, int chunk,
                     double *dead_fraction, double *erank)
{
    *dead_fraction = *erank = NAN;
    if (ndense < 2 || n < 1 || chunk < 1) return CN_ERR_ARG;
    const int nin = cn_net_in_size(net), last = dense[ndense - 2];
    int units = 0;
    for (int d = 0; d < ndense - 1; d++) units += cn_net_layer_out_size(net, dense[d]);
    const int width = cn_net_layer_out_size(net, last);
    unsigned char *alive = cn_calloc((size_t)units, 1);
    cn_real *h = cn_malloc((size_t)n * width * sizeof *h);
    if (!alive || !h) {
        cn_free(alive);
        cn_free(h);
        return CN_ERR_NOMEM;
    }
    for (int start = 0; start < n; start += chunk) {
        int B = n - start < chunk ? n - start : chunk;
        cn_net_forward(net, x + (size_t)start * nin, B, 0);
        int off = 0;
        for (int d = 0; d < ndense - 1; d++) {
            int w = cn_net_layer_out_size(net, dense[d]);
            const cn_real *y = cn_net_layer_output(net, dense[d]);
            for (int b = 0; b < B; b++)
                for (int j = 0; j < w; j++) alive[off + j] |= y[(size_t)b * w + j] != 0;
            off += w;
        }
        memcpy(h + (size_t)start * width, cn_net_layer_output(net, last), (size_t)B * width * sizeof *h);
    }
    int dead = 0;
    for (int u = 0; u < units; u++) dead += !alive[u];
    *dead_fraction = (double)dead / units;
    int rc = cl_effective_rank(erank, h, n, width);
    cn_free(alive);
    cn_free(h);
    return rc;
}
