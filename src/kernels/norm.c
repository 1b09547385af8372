/* norm.c: the row normalisation kernels of norm.h. */
#include <math.h>
#include "kernels/norm.h"
#include "kernels/simd.h"

cn_norm_stats cn_norm_row(const cn_real *x, cn_real *xhat, size_t d, double eps)
{
    double sum = 0, sq = 0;
    CN_SIMD_SUM(sum)
    for (size_t j = 0; j < d; j++) sum += x[j];
    const double mean = d ? sum / (double)d : 0;
    CN_SIMD_SUM(sq)
    for (size_t j = 0; j < d; j++) {
        double e = x[j] - mean;
        sq += e * e;
    }
    cn_norm_stats r = {mean, 1 / sqrt((d ? sq / (double)d : 0) + eps)};
    cn_norm_row_xhat(x, r, xhat, d);
    return r;
}

void cn_norm_row_xhat(const cn_real *x, cn_norm_stats r, cn_real *xhat, size_t d)
{
    const cn_real m = (cn_real)r.mean, s = (cn_real)r.inv_std;
    CN_SIMD
    for (size_t j = 0; j < d; j++) xhat[j] = (x[j] - m) * s;
}

void cn_norm_row_project(const cn_real *xhat, double inv_std, const cn_real *t, const cn_real *pre, cn_real *u,
                         size_t d)
{
    double sv = 0, svx = 0;
    if (pre) {
        CN_SIMD_REDUCE(+, sv, svx)
        for (size_t j = 0; j < d; j++) {
            double v = (double)t[j] * pre[j];
            sv += v;
            svx += v * xhat[j];
        }
    } else {
        CN_SIMD_REDUCE(+, sv, svx)
        for (size_t j = 0; j < d; j++) {
            sv += t[j];
            svx += (double)t[j] * xhat[j];
        }
    }
    const double mv = d ? sv / (double)d : 0, mvx = d ? svx / (double)d : 0;
    if (pre) {
        CN_SIMD
        for (size_t j = 0; j < d; j++) u[j] = (cn_real)(inv_std * ((double)t[j] * pre[j] - mv - xhat[j] * mvx));
    } else {
        CN_SIMD
        for (size_t j = 0; j < d; j++) u[j] = (cn_real)(inv_std * (t[j] - mv - xhat[j] * mvx));
    }
}

void cn_norm_affine_periodic(cn_real *y, const cn_real *x, size_t d, const cn_real *scale, const cn_real *bias,
                             size_t period)
{
    if (period == 1) {
        const cn_real s = scale[0], b = bias ? bias[0] : 0;
        CN_SIMD
        for (size_t j = 0; j < d; j++) y[j] = x[j] * s + b;
        return;
    }
    for (size_t j0 = 0; j0 < d; j0 += period) {
        cn_real *yb = y + j0;
        const cn_real *xb = x + j0;
        if (bias) {
            CN_SIMD
            for (size_t k = 0; k < period; k++) yb[k] = xb[k] * scale[k] + bias[k];
        } else {
            CN_SIMD
            for (size_t k = 0; k < period; k++) yb[k] = xb[k] * scale[k];
        }
    }
}

void cn_norm_span_moments(const cn_real *x, cn_norm_span s, double *mean, double *var)
{
    const size_t m = s.segs * s.len;
    double sum = 0, sq = 0;
    for (size_t b = 0; b < s.segs; b++) {
        const cn_real *xs = x + b * s.stride;
        CN_SIMD_SUM(sum)
        for (size_t i = 0; i < s.len; i++) sum += xs[i];
    }
    const double mu = m ? sum / (double)m : 0;
    /* two passes: the one-pass formula loses the variance to cancellation when |mean| >> std */
    for (size_t b = 0; b < s.segs; b++) {
        const cn_real *xs = x + b * s.stride;
        CN_SIMD_SUM(sq)
        for (size_t i = 0; i < s.len; i++) {
            double u = xs[i] - mu;
            sq += u * u;
        }
    }
    *mean = mu;
    *var = m ? sq / (double)m : 0;
}

void cn_norm_span_apply(const cn_real *x, cn_norm_span s, double mean, double inv_std, double scale, double shift,
                        cn_real *xhat, cn_real *y)
{
    for (size_t b = 0; b < s.segs; b++) {
        const size_t o = b * s.stride;
        for (size_t i = 0; i < s.len; i++) {
            double h = (x[o + i] - mean) * inv_std;
            if (xhat) xhat[o + i] = (cn_real)h;
            y[o + i] = (cn_real)(scale * h + shift);
        }
    }
}

void cn_norm_span_affine(const cn_real *x, cn_norm_span s, cn_real mul, cn_real add, cn_real *y)
{
    for (size_t b = 0; b < s.segs; b++) {
        const cn_real *xs = x + b * s.stride;
        cn_real *ys = y + b * s.stride;
        CN_SIMD
        for (size_t i = 0; i < s.len; i++) ys[i] = xs[i] * mul + add;
    }
}

void cn_norm_span_sums(const cn_real *t, const cn_real *xhat, cn_norm_span s, double *st, double *stx)
{
    double a = 0, e = 0;
    for (size_t b = 0; b < s.segs; b++) {
        const size_t o = b * s.stride;
        CN_SIMD_REDUCE(+, a, e)
        for (size_t i = 0; i < s.len; i++) {
            a += t[o + i];
            e += (double)t[o + i] * xhat[o + i];
        }
    }
    *st = a;
    *stx = e;
}

void cn_norm_span_combine(const cn_real *t, const cn_real *xhat, cn_norm_span s, double k, double a, double e,
                          cn_real *u)
{
    for (size_t b = 0; b < s.segs; b++) {
        const size_t o = b * s.stride;
        if (e != 0) {
            CN_SIMD
            for (size_t i = 0; i < s.len; i++) u[o + i] = (cn_real)(k * (t[o + i] - a - xhat[o + i] * e));
        } else {
            CN_SIMD
            for (size_t i = 0; i < s.len; i++) u[o + i] = (cn_real)(k * (t[o + i] - a));
        }
    }
}

void cn_norm_span_moments_naive(const cn_real *x, cn_norm_span s, double *mean, double *var)
{
    const size_t m = s.segs * s.len;
    double mu = 0, v = 0;
    for (size_t i = 0; i < m; i++) mu += x[(i / s.len) * s.stride + i % s.len];
    mu /= (double)m;
    for (size_t i = 0; i < m; i++) {
        double u = x[(i / s.len) * s.stride + i % s.len] - mu;
        v += u * u;
    }
    *mean = mu;
    *var = v / (double)m;
}

cn_norm_stats cn_norm_row_naive(const cn_real *x, cn_real *xhat, size_t d, double eps)
{
    double mean = 0, var = 0;
    for (size_t j = 0; j < d; j++) mean += x[j];
    mean /= (double)d;
    for (size_t j = 0; j < d; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= (double)d;
    cn_norm_stats r = {mean, 1 / sqrt(var + eps)};
    for (size_t j = 0; j < d; j++) xhat[j] = (cn_real)((x[j] - mean) * r.inv_std);
    return r;
}

void cn_norm_row_project_naive(const cn_real *xhat, double inv_std, const cn_real *t, const cn_real *pre,
                               cn_real *u, size_t d)
{
    /* d xhat_j / d x_k = inv_std (delta_jk - 1/d - xhat_j xhat_k / d), applied to v = t * pre */
    for (size_t j = 0; j < d; j++) {
        double s = 0;
        for (size_t k = 0; k < d; k++) {
            double jac = inv_std * ((j == k) - 1.0 / (double)d - (double)xhat[j] * xhat[k] / (double)d);
            s += jac * t[k] * (pre ? pre[k] : 1);
        }
        u[j] = (cn_real)s;
    }
}
