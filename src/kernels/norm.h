/* norm.h: normalising rows by their own mean and standard deviation, the arithmetic that layer norm and
 * instance norm share in both engines (the native layernorm layer, ONNX LayerNormalization and
 * InstanceNormalization): the statistics, the Jacobian of the normalisation, and the periodic affine map
 * after it. Each has a slow, obvious _naive twin that tests/test_kernels_norm_f64.c holds it to. */
#ifndef CN_KERNELS_NORM_H
#define CN_KERNELS_NORM_H

#include <stddef.h>
#include "critnet.h"

typedef struct {
    double mean, inv_std; /* inv_std = 1/sqrt(var + eps), var the biased variance (as torch and ONNX) */
} cn_norm_stats;

/* xhat = (x - mean) * inv_std for one row of d values, sums in double with a two-pass variance (one pass
 * over squares loses the variance of rows whose mean is large); xhat may alias x. */
cn_norm_stats cn_norm_row(const cn_real *x, cn_real *xhat, size_t d, double eps);

/* u = inv_std * (v - mean(v) - xhat * mean(v * xhat)) with v = t * pre (pre NULL: v = t): the Jacobian of the
 * row's normalisation applied to v. The Jacobian is symmetric, so this is also the backward (the cotangent of
 * x from that of xhat). u may alias t. */
void cn_norm_row_project(const cn_real *xhat, double inv_std, const cn_real *t, const cn_real *pre, cn_real *u,
                         size_t d);

/* y = y * scale + bias along a row of d values, the parameters repeating every `period` entries (period
 * divides d); bias may be NULL. */
void cn_norm_affine_periodic(cn_real *y, size_t d, const cn_real *scale, const cn_real *bias, size_t period);

/* The references: the statistics by their textbook formulas, and the Jacobian written out as a d x d matrix
 * (here u must not alias t). */
cn_norm_stats cn_norm_row_naive(const cn_real *x, cn_real *xhat, size_t d, double eps);
void cn_norm_row_project_naive(const cn_real *xhat, double inv_std, const cn_real *t, const cn_real *pre,
                               cn_real *u, size_t d);

#endif
