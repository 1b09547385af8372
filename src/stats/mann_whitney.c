/* mann_whitney.c: the Mann-Whitney U test on two independent samples, giving the numbers of
 * scipy.stats.mannwhitneyu(x, y, alternative=...) at its defaults in scipy 1.10 (Debian 12's python3-scipy).
 *
 * What scipy 1.10.1 does (scipy/stats/_mannwhitneyu.py), and so what this file does:
 *  - The pooled values are ranked, ties sharing the average of their ranks. U1 = (rank sum of x) - nx(nx+1)/2,
 *    the number of pairs with x_i > y_j, ties counting 1/2; U2 = nx ny - U1. The statistic is U1.
 *  - The p-value reads U = U1 for "greater", U2 for "less" (the survival function of U2, by symmetry, rather
 *    than the cdf of U1) and max(U1, U2) for two-sided, where the tail is doubled; p is clipped to [0, 1].
 *  - method "auto" (_mwu_choose_method): the normal approximation when BOTH samples have more than 8 values,
 *    or when any two pooled values are tied; otherwise the exact null distribution. (Its docstring says
 *    "one of the samples is less than 8"; the code says <= 8, and the code is what runs.)
 *  - Exact: p = P(U' >= U) for U' from the null distribution of U1 (all C(nx+ny, nx) arrangements equally
 *    likely), which is symmetric about nx ny / 2.
 *  - Approximate (_get_mwu_z, use_continuity=True): z = (U - nx ny / 2 - 1/2) / s with
 *    s^2 = nx ny / 12 ((N + 1) - sum over tie groups (t^3 - t) / (N (N - 1))), N = nx + ny, and p = Q(z). The
 *    1/2 is always subtracted because U is always read through the upper tail. All values tied: s = 0 and
 *    z = -inf, p = 1.
 * scipy accepts +-inf as data; here NaN and Inf alike are CN_ERR_NONFINITE, as everywhere in critnet. scipy
 * returns no z; we fill the approximation's z in both branches, as cn_stats_wilcoxon does. */
#include <gsl/gsl_cdf.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include "critnet.h"
#include "stats/rank.h"

#define EXACT_MAX_SIZE 8

/* P(U' >= u) under the null, U' the U statistic of m values against n untied others.
 *
 * The number of arrangements with U' = s is the coefficient of q^s in the Gaussian binomial
 * [m + n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i) (partitions of s into at most m parts of at
 * most n), built factor by factor: multiply by (1 - q^(n+i)), then divide by (1 - q^i) as a running sum
 * with stride i. That is O(m * m n) where scipy's recursion (the same numbers) is O(m n * m n). Every
 * intermediate coefficient is an integer no larger than C(m + n, m), so the counts are exact in double while
 * C(m + n, m) < 2^53 (m = 8 with n up to about 350); beyond that the cdf is still good to about 1e-15
 * relative (checked against exact integers at m = 8, n = 2000).
 *
 * Only the lower half of the distribution is built (the product never reads a higher coefficient to form a
 * lower one): by symmetry P(U' >= u) = P(U' <= mn - u), and when mn - u lies past the middle,
 * 1 - P(U' <= u - 1) reads the lower half instead. Caller guarantees m, n >= 1, so mn fits (m <= 8). */
static int exact_sf(double *p, int m, int n, double u)
{
    if (m > n) {
        int t = m;
        m = n;
        n = t;
    }
    long mn = (long)m * n, top = mn / 2;
    long c = mn - (long)u; /* u is an integer here: no ties */
    int lower = c <= top;  /* P(U' <= c) directly, else 1 - P(U' <= u - 1) */
    long want = lower ? c : (long)u - 1;
    if (want < 0) {
        *p = lower ? 0 : 1;
        return CN_OK;
    }
    double *f = cn_malloc((size_t)(top + 1) * sizeof *f);
    if (!f) return CN_ERR_NOMEM;
    f[0] = 1;
    for (long s = 1; s <= top; s++) f[s] = 0;
    for (int i = 1; i <= m; i++) {
        long shift = (long)n + i;
        for (long s = top; s >= shift; s--) f[s] -= f[s - shift];
        for (long s = i; s <= top; s++) f[s] += f[s - i];
    }
    double below = 0, total = 1; /* C(m + n, m) */
    for (long s = 0; s <= want; s++) below += f[s];
    for (int i = 1; i <= m; i++) total = total * (n + i) / i; /* each partial product is itself a binomial */
    cn_free(f);
    *p = lower ? below / total : 1 - below / total;
    return CN_OK;
}

int cn_stats_mann_whitney_u(cn_stats_mann_whitney *out, const double *x, int nx, const double *y, int ny,
                            cn_stats_alternative alt)
{
    if (!out) return CN_ERR_ARG;
    *out = (cn_stats_mann_whitney){.statistic = NAN, .p_value = NAN, .z = NAN};
    if (!x || !y || nx < 1 || ny < 1 || nx > INT_MAX - ny || (int)alt < 0 || (int)alt >= CN_STATS_ALT_COUNT)
        return CN_ERR_ARG;
    for (int i = 0; i < nx; i++)
        if (!isfinite(x[i])) return CN_ERR_NONFINITE;
    for (int j = 0; j < ny; j++)
        if (!isfinite(y[j])) return CN_ERR_NONFINITE;

    int N = nx + ny;
    double *v = cn_malloc((size_t)N * sizeof *v), *rank = cn_malloc((size_t)N * sizeof *rank);
    cn_stats_ranked *work = cn_malloc((size_t)N * sizeof *work);
    if (!v || !rank || !work) {
        cn_free(v);
        cn_free(rank);
        cn_free(work);
        return CN_ERR_NOMEM;
    }
    for (int i = 0; i < nx; i++) v[i] = x[i];
    for (int j = 0; j < ny; j++) v[nx + j] = y[j];
    double ties = cn_stats_average_ranks(rank, v, N, work);
    double r1 = 0;
    for (int i = 0; i < nx; i++) r1 += rank[i]; /* half-integers: the sum is exact */
    cn_free(v);
    cn_free(rank);
    cn_free(work);

    double dx = nx, dy = ny, dn = N;
    double u1 = r1 - dx * (dx + 1) / 2, u2 = dx * dy - u1;
    double u = alt == CN_STATS_ALT_GREATER ? u1 : alt == CN_STATS_ALT_LESS ? u2 : fmax(u1, u2);
    double tails = alt == CN_STATS_ALT_TWO_SIDED ? 2 : 1;

    /* (N + 1) - ties / (N (N - 1)) is exactly 0 when all N values are tied: (N^3 - N) / (N^2 - N) = N + 1 */
    double var = dx * dy / 12 * ((dn + 1) - ties / (dn * (dn - 1)));
    double z = var > 0 ? (u - dx * dy / 2 - 0.5) / sqrt(var) : -INFINITY;
    int exact = (nx <= EXACT_MAX_SIZE || ny <= EXACT_MAX_SIZE) && ties == 0;
    double p;
    if (exact) {
        int rc = exact_sf(&p, nx, ny, u);
        if (rc) return rc;
    } else {
        p = gsl_cdf_ugaussian_Q(z);
    }
    p *= tails;
    *out = (cn_stats_mann_whitney){.statistic = u1, .p_value = p < 0 ? 0 : p > 1 ? 1 : p, .z = z, .nx = nx, .ny = ny,
                             .exact = exact};
    return CN_OK;
}
