/* bootstrap.c: bootstrap confidence intervals of the mean, percentile and BCa, giving the numbers
 * scipy.stats.bootstrap((x,), np.mean, method=...) gives on the same resamples (scipy 1.10), and the
 * percentile interval of Spearman's rho of paired data. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include "critnet.h"
#include "stats/rank.h"

static int ascending(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

/* numpy.percentile's default ("linear") quantile of sorted[0..n-1] at q in [0, 1]: the virtual index
 * q (n - 1), linearly interpolated, with numpy's _lerp (from the upper point when the weight is >= 1/2,
 * which keeps the result inside [a, b]). */
static double quantile_sorted(const double *sorted, int n, double q)
{
    double v = q * (n - 1);
    if (!(v > 0)) return sorted[0];
    if (v >= n - 1) return sorted[n - 1];
    int i = (int)floor(v);
    double t = v - i, a = sorted[i], b = sorted[i + 1], diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/* The sorted means of `resamples` bootstrap resamples of x, drawn as the header promises: resample by
 * resample, n indices from cn_rng_below(rng, n) each. Caller frees. */
static int resample_means(double **out, const double *x, int n, int resamples, cn_rng *rng)
{
    double *means = cn_malloc((size_t)resamples * sizeof *means);
    if (!means) return CN_ERR_NOMEM;
    for (int b = 0; b < resamples; b++) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += x[cn_rng_below(rng, (uint64_t)n)];
        means[b] = sum / n;
    }
    qsort(means, (size_t)resamples, sizeof *means, ascending);
    *out = means;
    return CN_OK;
}

static int check_args(double *lo, double *hi, const double *x, int n, int resamples, double level, cn_rng *rng)
{
    if (lo) *lo = NAN;
    if (hi) *hi = NAN;
    if (!lo || !hi || !x || !rng || n < 1 || resamples < 1 || !(level > 0 && level < 1)) return CN_ERR_ARG;
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return CN_ERR_NONFINITE;
    return CN_OK;
}

int cn_stats_bootstrap_ci(double *lo, double *hi, const double *x, int n, int resamples, double level, cn_rng *rng)
{
    int rc = check_args(lo, hi, x, n, resamples, level, rng);
    if (rc) return rc;
    double *means;
    if ((rc = resample_means(&means, x, n, resamples, rng))) return rc;
    double alpha = (1 - level) / 2;
    *lo = quantile_sorted(means, resamples, alpha);
    *hi = quantile_sorted(means, resamples, 1 - alpha);
    cn_free(means);
    return CN_OK;
}

/* Efron & Tibshirani (1993), 14.3, as scipy's _bca_interval: the bias correction z0 from the share of
 * resample means below the sample mean (ties counted half), the acceleration a from the jackknife, and
 * the percentile interval taken at the adjusted levels Phi(z0 + (z0 + z) / (1 - a (z0 + z))). */
int cn_stats_bootstrap_ci_bca(double *lo, double *hi, const double *x, int n, int resamples, double level,
                              cn_rng *rng)
{
    int rc = check_args(lo, hi, x, n, resamples, level, rng);
    if (rc) return rc;
    if (n < 2) return CN_ERR_ARG;
    double *means;
    if ((rc = resample_means(&means, x, n, resamples, rng))) return rc;

    double sum = 0;
    for (int i = 0; i < n; i++) sum += x[i];
    double theta = sum / n;
    long below = 0, at_or_below = 0;
    for (int b = 0; b < resamples; b++) {
        below += means[b] < theta;
        at_or_below += means[b] <= theta;
    }
    double z0 = gsl_cdf_ugaussian_Pinv((double)(below + at_or_below) / (2.0 * resamples));

    /* For the mean, the jackknife terms U_i = (n - 1)(mean of the leave-one-out means - leave-one-out
     * mean i) are exactly x_i - mean(x); computing them so avoids the cancellation of the general form. */
    double s2 = 0, s3 = 0;
    for (int i = 0; i < n; i++) {
        double u = x[i] - theta;
        s2 += u * u;
        s3 += u * u * u;
    }
    double a = s3 / (6 * pow(s2, 1.5));

    double alpha = (1 - level) / 2, z_alpha = gsl_cdf_ugaussian_Pinv(alpha);
    double num1 = z0 + z_alpha, num2 = z0 - z_alpha;
    double q1 = gsl_cdf_ugaussian_P(z0 + num1 / (1 - a * num1));
    double q2 = gsl_cdf_ugaussian_P(z0 + num2 / (1 - a * num2));
    /* constant data (s2 = 0), or every resample mean on one side of the sample mean: no interval */
    if (!(q1 >= 0 && q1 <= 1 && q2 >= 0 && q2 <= 1)) {
        cn_free(means);
        return CN_ERR_ARG;
    }
    *lo = quantile_sorted(means, resamples, q1);
    *hi = quantile_sorted(means, resamples, q2);
    cn_free(means);
    return CN_OK;
}

/* A resample of pairs in which every x (or every y) is the same value has no rho; with distinct values
 * that takes all n draws on one index, probability n^(1 - n), but ties (a handful of model families, a
 * coarse accuracy grid) make it common. Dropping such resamples conditions the interval on "x and y vary",
 * which is harmless while they are few and not otherwise, so past this share the call refuses. */
#define RHO_MAX_SKIPPED 0.10

/* Resample by resample, n pair indices from cn_rng_below(rng, n), the same index for x and y, so an
 * independent implementation can replay them; the resamples whose rho is undefined are skipped but still
 * consume their n draws. */
int cn_stats_spearman_bootstrap_ci(double *lo, double *hi, int *skipped, const double *x, const double *y, int n,
                                   int resamples, double level, cn_rng *rng)
{
    if (skipped) *skipped = 0;
    int rc = check_args(lo, hi, x, n, resamples, level, rng);
    if (rc) return rc;
    if (!y || n < 2) return CN_ERR_ARG;
    for (int i = 0; i < n; i++)
        if (!isfinite(y[i])) return CN_ERR_NONFINITE;

    double *rho = cn_malloc((size_t)resamples * sizeof *rho);
    double *buf = cn_malloc((size_t)4 * n * sizeof *buf);
    cn_stats_ranked *work = cn_malloc((size_t)n * sizeof *work);
    if (!rho || !buf || !work) {
        cn_free(rho);
        cn_free(buf);
        cn_free(work);
        return CN_ERR_NOMEM;
    }
    double *xb = buf, *yb = buf + n, *rx = buf + 2 * n, *ry = buf + 3 * n;
    int kept = 0;
    for (int b = 0; b < resamples; b++) {
        for (int i = 0; i < n; i++) {
            uint64_t j = cn_rng_below(rng, (uint64_t)n);
            xb[i] = x[j];
            yb[i] = y[j];
        }
        if (cn_stats_all_equal(xb, n) || cn_stats_all_equal(yb, n)) continue;
        cn_stats_average_ranks(rx, xb, n, work);
        cn_stats_average_ranks(ry, yb, n, work);
        rho[kept++] = cn_stats_pearson_r(rx, ry, n);
    }
    cn_free(buf);
    cn_free(work);
    if (skipped) *skipped = resamples - kept;
    if (kept == 0 || resamples - kept > RHO_MAX_SKIPPED * resamples) {
        cn_free(rho);
        return CN_ERR_ARG;
    }
    qsort(rho, (size_t)kept, sizeof *rho, ascending);
    double alpha = (1 - level) / 2;
    *lo = quantile_sorted(rho, kept, alpha);
    *hi = quantile_sorted(rho, kept, 1 - alpha);
    cn_free(rho);
    return CN_OK;
}
