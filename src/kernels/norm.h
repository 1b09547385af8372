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

/* xhat = (x - mean) * inv_std of one row from statistics cn_norm_row found, exactly as it wrote them (so a
 * jvp can rebuild a row's xhat instead of the forward keeping all of them); xhat may alias x. */
void cn_norm_row_xhat(const cn_real *x, cn_norm_stats r, cn_real *xhat, size_t d);

/* y = x * scale + bias along a row of d values, the parameters repeating every `period` entries (period
 * divides d); bias may be NULL; y may alias x. */
void cn_norm_affine_periodic(cn_real *y, const cn_real *x, size_t d, const cn_real *scale, const cn_real *bias,
                             size_t period);

/* A set of values normalised together that lies in `segs` pieces of `len` values, `stride` apart: batch
 * norm's channel c of x (B, C, HW) is the span {B, HW, C*HW} from x + c*HW. The span kernels are the steps of
 * batch norm in both engines (train-mode statistics, eval-mode affine, and their Jacobian). */
typedef struct {
    size_t segs, len, stride;
} cn_norm_span;

/* mean and biased variance of the span's values: sums in double, two passes */
void cn_norm_span_moments(const cn_real *x, cn_norm_span s, double *mean, double *var);
/* xhat = (x - mean) * inv_std (xhat may be NULL) and y = xhat * scale + shift, over the span; y may alias x */
void cn_norm_span_apply(const cn_real *x, cn_norm_span s, double mean, double inv_std, double scale, double shift,
                        cn_real *xhat, cn_real *y);
/* y = x * mul + add over the span, in the scalar type: eval-mode batch norm folded into one multiply-add */
void cn_norm_span_affine(const cn_real *x, cn_norm_span s, cn_real mul, cn_real add, cn_real *y);
/* sum(t) and sum(t * xhat) over the span */
void cn_norm_span_sums(const cn_real *t, const cn_real *xhat, cn_norm_span s, double *st, double *stx);
/* u = k * (t - a - xhat * e) over the span (xhat may be NULL when e is 0): with a = mean(t) and
 * e = mean(t xhat) it is the Jacobian of the span's normalisation, times k, applied to t (symmetric, so also
 * the backward); with a = e = 0 it is the eval-mode (affine) Jacobian. u may alias t. */
void cn_norm_span_combine(const cn_real *t, const cn_real *xhat, cn_norm_span s, double k, double a, double e,
                          cn_real *u);

/* The references: the statistics by their textbook formulas, and the Jacobian written out as a d x d matrix
 * (here u must not alias t). */
cn_norm_stats cn_norm_row_naive(const cn_real *x, cn_real *xhat, size_t d, double eps);
void cn_norm_row_project_naive(const cn_real *xhat, double inv_std, const cn_real *t, const cn_real *pre,
                               cn_real *u, size_t d);
/* the span's values one by one through a flat index, moments by their textbook formulas */
void cn_norm_span_moments_naive(const cn_real *x, cn_norm_span s, double *mean, double *var);

#endif
