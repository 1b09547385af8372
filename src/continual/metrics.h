/* metrics.h: what a continual run measures after each task: dead units, effective rank of the last hidden
 * representation, mean weight magnitude. */
#ifndef CN_CL_METRICS_H
#define CN_CL_METRICS_H
#include "critnet.h"

/* Roy and Vetterli (2007): exp(-sum_i p_i ln p_i), p_i = s_i / sum_j |s_j|, with 0 ln 0 = 0, from n singular
 * values; 0 when all are 0. */
double cl_effective_rank_sv(const double *s, int n);
/* The same for the (rows, cols) row-major matrix m; singular values by LAPACKE_dgesdd in double. */
int cl_effective_rank(double *out, const cn_real *m, int rows, int cols);
/* Mean |w| over the weight matrices of the dense layers (biases left out, as Dohare et al.'s weight
 * magnitude). */
double cl_mean_abs_weight(cn_net *net, const int *dense, int ndense);
/* Forward passes (eval mode) over x (n, in) in chunks of `chunk` (the net must be reserved for it): the
 * fraction of hidden units (every dense layer but the last) that output exactly 0 on all n inputs, and the
 * effective rank of the last hidden layer's (n, width) outputs. */
int cl_probe_metrics(cn_net *net, const int *dense, int ndense, const cn_real *x, int n, int chunk,
                     double *dead_fraction, double *erank);
#endif
