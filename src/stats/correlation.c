/* correlation.c: Pearson's r and Spearman's rho with their two-sided p-values, giving the numbers
 * scipy.stats.pearsonr and scipy.stats.spearmanr give (scipy 1.10, Debian 12's python3-scipy).
 *
 * What scipy 1.10.1 does (scipy/stats/_stats_py.py), and so what this file does:
 *  - pearsonr: r = <x - mean x, y - mean y> / (|x - mean x| |y - mean y|), clipped to [-1, 1]. Either input
 *    constant (every value equal to the first): r and p are NaN; here that is CN_ERR_ARG. p is
 *    2 * sf(|r|) of the beta(n/2 - 1, n/2 - 1) distribution on [-1, 1], which is the same number as the
 *    two-sided tail of Student's t with n - 2 degrees of freedom at t = r sqrt((n - 2) / (1 - r^2)); here it
 *    comes from GSL's gsl_cdf_tdist_Q. n = 2: r = +-1 and p = 1.
 *  - spearmanr: rho is Pearson's r of the average ranks (rankdata "average": tied values share the mean of
 *    their ranks), and p the same t tail, t = rho sqrt((n - 2) / ((1 + rho)(1 - rho))). For n = 2 scipy's p is
 *    0/0 = NaN; here it is 1, as pearsonr's.
 *  - |r| = 1 with n > 2 gives t = +-inf and p = 0 on both sides. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include "critnet.h"
#include "stats/rank.h"

static int check_args(cn_stats_correlation *out, const double *x, const double *y, int n)
{
    if (!out) return CN_ERR_ARG;
    *out = (cn_stats_correlation){.r = NAN, .p_value = NAN, .n = 0};
    if (!x || !y || n < 2) return CN_ERR_ARG;
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(y[i])) return CN_ERR_NONFINITE;
    return CN_OK;
}

int cn_stats_all_equal(const double *v, int n)
{
    for (int i = 1; i < n; i++)
        if (v[i] != v[0]) return 0;
    return 1;
}

/* Pearson's r of x and y (n >= 2, finite, neither constant), by two passes as numpy: the deviations are
 * taken from the means, so a common offset does not cancel the signal away. */
double cn_stats_pearson_r(const double *x, const double *y, int n)
{
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    /* one square root of the product keeps an exact linear relation at exactly +-1 (sqrt(10) sqrt(40) is not
     * 20 in double, sqrt(400) is); the product of the roots only where the product overflows or underflows */
    double prod = sxx * syy, norm = isfinite(prod) && prod > 0 ? sqrt(prod) : sqrt(sxx) * sqrt(syy);
    double r = sxy / norm;
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* two-sided p of a correlation r over n pairs: Student's t with n - 2 degrees of freedom */
static double t_test_p(double r, int n)
{
    if (n == 2) return 1;
    if (fabs(r) >= 1) return 0;
    double df = n - 2, t = fabs(r) * sqrt(df / ((1 + r) * (1 - r)));
    double p = 2 * gsl_cdf_tdist_Q(t, df);
    return p > 1 ? 1 : p;
}

int cn_stats_pearson(cn_stats_correlation *out, const double *x, const double *y, int n)
{
    int rc = check_args(out, x, y, n);
    if (rc) return rc;
    if (cn_stats_all_equal(x, n) || cn_stats_all_equal(y, n)) return CN_ERR_ARG;
    double r = cn_stats_pearson_r(x, y, n);
    *out = (cn_stats_correlation){.r = r, .p_value = t_test_p(r, n), .n = n};
    return CN_OK;
}

static int by_value(const void *a, const void *b)
{
    double u = ((const cn_stats_ranked *)a)->v, w = ((const cn_stats_ranked *)b)->v;
    return (u > w) - (u < w);
}

double cn_stats_average_ranks(double *rank, const double *v, int n, cn_stats_ranked *work)
{
    for (int i = 0; i < n; i++) work[i] = (cn_stats_ranked){v[i], i};
    qsort(work, (size_t)n, sizeof *work, by_value);
    double ties = 0;
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && work[j].v == work[i].v) j++;
        double r = 0.5 * (i + 1 + j), t = j - i; /* positions i..j-1 hold ranks i+1..j */
        for (int k = i; k < j; k++) rank[work[k].i] = r;
        ties += t * t * t - t;
        i = j;
    }
    return ties;
}

int cn_stats_spearman(cn_stats_correlation *out, const double *x, const double *y, int n)
{
    int rc = check_args(out, x, y, n);
    if (rc) return rc;
    if (cn_stats_all_equal(x, n) || cn_stats_all_equal(y, n)) return CN_ERR_ARG;
    double *rx = cn_malloc((size_t)n * sizeof *rx), *ry = cn_malloc((size_t)n * sizeof *ry);
    cn_stats_ranked *work = cn_malloc((size_t)n * sizeof *work);
    if (!rx || !ry || !work) {
        cn_free(rx);
        cn_free(ry);
        cn_free(work);
        return CN_ERR_NOMEM;
    }
    cn_stats_average_ranks(rx, x, n, work);
    cn_stats_average_ranks(ry, y, n, work);
    double rho = cn_stats_pearson_r(rx, ry, n);
    cn_free(rx);
    cn_free(ry);
    cn_free(work);
    *out = (cn_stats_correlation){.r = rho, .p_value = t_test_p(rho, n), .n = n};
    return CN_OK;
}
