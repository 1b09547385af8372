/* wilcoxon.c: the Wilcoxon signed-rank test on paired samples, giving the same numbers as
 * scipy.stats.wilcoxon(x, y) with its defaults in scipy 1.10 (Debian 12's python3-scipy).
 *
 * What scipy 1.10.1 does (scipy/stats/_morestats.py), and so what this file does:
 *  - d = x - y. method "auto" picks the exact null distribution when len(d) <= 50 (zeros included in that
 *    count) and no d is zero; otherwise the normal approximation.
 *  - zero_method "wilcox": zero differences are dropped before ranking (only reachable in the approximate
 *    branch, since a zero forces it). All differences zero is an error (scipy: ValueError).
 *  - |d| is ranked with average ranks for ties; W+ and W- are the rank sums of the positive and negative d.
 *    The statistic is min(W+, W-) for the two-sided test and W+ for the one-sided ones.
 *  - Exact branch: scipy does NOT look for ties here. A tie can make W+ a half-integer, and scipy then
 *    truncates it, int(W+), before reading the null distribution of W+ (which assumes no ties). We truncate
 *    the same way, so the p-value matches scipy's even though it is then only approximately exact.
 *    Two-sided: p = 2 min(P(W <= w), P(W >= w)), clipped to 1. (scipy sets p = 1 when w is the centre
 *    floor(N(N+1)/4); the distribution is symmetric, so both tails hold at least 1/2 there and the clip
 *    gives 1 all the same.)
 *  - Approximate branch: z = (T - N(N+1)/4) / sqrt((N(N+1)(2N+1) - sum over tie groups (t^3 - t) / 2) / 24),
 *    with T the statistic above and no continuity correction (correction=False). Two-sided p = 2 Q(|z|),
 *    "greater" Q(z), "less" Phi(z).
 * scipy returns zstatistic only from the approximate branch; we fill z from the same formula in both. */
#include <math.h>
#include <stdlib.h>
#include "critnet.h"

#define EXACT_MAX_N 50
#define EXACT_MAX_SUM (EXACT_MAX_N * (EXACT_MAX_N + 1) / 2)

typedef struct {
    double abs;
    int positive;
} signed_diff;

static int by_abs(const void *a, const void *b)
{
    double u = ((const signed_diff *)a)->abs, v = ((const signed_diff *)b)->abs;
    return (u > v) - (u < v);
}

/* Upper tail of the standard normal, Q(z) = 1 - Phi(z), accurate far into both tails. */
static double normal_sf(double z) { return 0.5 * erfc(z / sqrt(2.0)); }

/* The null distribution of W+ for m untied, nonzero differences: each rank k is positive with probability
 * 1/2, so the pmf is the m-fold convolution of (delta_0 + delta_k)/2, built in place from the top down.
 * Every entry is count / 2^m with count < 2^50, so the entries and every partial sum of them are exact in
 * double: the p-values below carry no rounding at all (scipy's _get_wilcoxon_distr builds the same). */
static void signed_rank_pmf(double *pmf, int m)
{
    pmf[0] = 1;
    int top = 0;
    for (int k = 1; k <= m; k++) {
        int new_top = top + k;
        for (int s = new_top; s >= 0; s--) {
            double stay = s <= top ? pmf[s] : 0, shift = s >= k ? pmf[s - k] : 0;
            pmf[s] = 0.5 * stay + 0.5 * shift;
        }
        top = new_top;
    }
}

static double exact_p(int m, double w_plus, cn_stats_alternative alt)
{
    double pmf[EXACT_MAX_SUM + 1];
    signed_rank_pmf(pmf, m);
    int total = m * (m + 1) / 2;
    int w = (int)w_plus; /* truncation, as scipy 1.10's int(r_plus): see the top of the file */
    double below = 0, above = 0; /* P(W+ <= w), P(W+ >= w) */
    for (int s = 0; s <= w; s++) below += pmf[s];
    for (int s = w; s <= total; s++) above += pmf[s];
    double p;
    if (alt == CN_STATS_ALT_GREATER) p = above;
    else if (alt == CN_STATS_ALT_LESS) p = below;
    else p = 2 * (below < above ? below : above);
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

int cn_stats_wilcoxon_signed_rank(cn_stats_wilcoxon *out, const double *x, const double *y, int n,
                                  cn_stats_alternative alternative)
{
    if (!out) return CN_ERR_ARG;
    *out = (cn_stats_wilcoxon){.statistic = NAN, .p_value = NAN, .z = NAN, .w_plus = NAN, .w_minus = NAN};
    if (!x || !y || n < 1 || (int)alternative < 0 || (int)alternative >= CN_STATS_ALT_COUNT) return CN_ERR_ARG;
    int zeros = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || !isfinite(x[i] - y[i])) return CN_ERR_NONFINITE;
        zeros += x[i] - y[i] == 0;
    }
    if (zeros == n) return CN_ERR_ARG;
    int exact = n <= EXACT_MAX_N && zeros == 0;

    signed_diff *d = cn_malloc((size_t)n * sizeof *d);
    if (!d) return CN_ERR_NOMEM;
    int m = 0;
    for (int i = 0; i < n; i++) {
        double v = x[i] - y[i];
        if (v != 0) d[m++] = (signed_diff){fabs(v), v > 0};
    }
    qsort(d, (size_t)m, sizeof *d, by_abs);

    /* ranks 1..m, a run of t equal |d| at positions i..j-1 sharing the average rank (i + 1 + j) / 2 */
    double w_plus = 0, w_minus = 0, ties = 0;
    for (int i = 0; i < m;) {
        int j = i + 1;
        while (j < m && d[j].abs == d[i].abs) j++;
        double rank = 0.5 * (i + 1 + j), t = j - i;
        for (int k = i; k < j; k++) {
            if (d[k].positive) w_plus += rank;
            else w_minus += rank;
        }
        ties += t * t * t - t;
        i = j;
    }
    cn_free(d);

    double T = alternative == CN_STATS_ALT_TWO_SIDED ? (w_plus < w_minus ? w_plus : w_minus) : w_plus;
    double mm = m;
    double mean = mm * (mm + 1) * 0.25;
    double se = sqrt((mm * (mm + 1) * (2 * mm + 1) - 0.5 * ties) / 24);
    double z = (T - mean) / se;

    double p;
    if (exact) p = exact_p(m, w_plus, alternative);
    else if (alternative == CN_STATS_ALT_GREATER) p = normal_sf(z);
    else if (alternative == CN_STATS_ALT_LESS) p = normal_sf(-z);
    else p = 2 * normal_sf(fabs(z));

    *out = (cn_stats_wilcoxon){.statistic = T, .p_value = p, .z = z, .w_plus = w_plus, .w_minus = w_minus,
                         .n_used = m, .exact = exact};
    return CN_OK;
}
