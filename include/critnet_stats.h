/* critnet_stats.h: the statistics of libcritnet (src/stats/), cn_stats_*: mean and standard deviation,
 * bootstrap confidence intervals, Pearson and Spearman correlations, the Wilcoxon signed-rank and
 * Mann-Whitney U tests and a random-intercept mixed model, each giving the numbers of its scipy or
 * statsmodels counterpart. critnet.h includes it. */
#ifndef CRITNET_STATS_H
#define CRITNET_STATS_H

#include "critnet_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean and sample standard deviation (divisor n - 1, numpy's std(ddof=1)) of n values, by two passes.
 * Either output may be NULL; n == 1 gives sd = NaN, as numpy does. CN_ERR_ARG for n < 1 or no x or no
 * output, CN_ERR_NONFINITE for NaN or Inf in x. */
int cn_stats_mean_sd(const double *x, int n, double *mean, double *sd);

/* Which way the alternative hypothesis points, for the differences d = x - y. */
typedef enum {
    CN_STATS_ALT_TWO_SIDED = 0,
    CN_STATS_ALT_GREATER,     /* d tends to be above 0: x > y */
    CN_STATS_ALT_LESS,        /* d tends to be below 0: x < y */
    CN_STATS_ALT_COUNT
} cn_stats_alternative;

typedef struct {
    double statistic;       /* two-sided: min(W+, W-); one-sided: W+ (scipy's convention) */
    double p_value;
    double z;               /* (statistic - N(N+1)/4) / sd, tie-corrected, no continuity correction; scipy's
                             * zstatistic in the normal approximation, filled here in both branches */
    double w_plus, w_minus; /* rank sums of the positive and the negative differences */
    int n_used;             /* N: the nonzero differences */
    int exact;              /* 1: p from the exact null distribution; 0: the normal approximation */
} cn_stats_wilcoxon;

/* Wilcoxon signed-rank test on the paired differences x[i] - y[i], i < n, with the numbers of
 * scipy.stats.wilcoxon(x, y, alternative=...) at its defaults in scipy 1.10 (zero_method="wilcox": zero
 * differences dropped; correction=False; method="auto": exact when n <= 50 and no difference is zero, else
 * the normal approximation with the tie correction). Like scipy 1.10, the exact branch does not check for
 * ties and truncates a half-integer W+ (src/stats/wilcoxon.c says more). CN_ERR_ARG for n < 1, NULL, a
 * bad alternative, or all differences zero; CN_ERR_NONFINITE for NaN or Inf. */
int cn_stats_wilcoxon_signed_rank(cn_stats_wilcoxon *out, const double *x, const double *y, int n,
                                  cn_stats_alternative alternative);

/* Percentile bootstrap confidence interval [lo, hi] of the mean of x at level (e.g. 0.95), as
 * scipy.stats.bootstrap((x,), np.mean, confidence_level=level, method="percentile"): the (1-level)/2 and
 * (1+level)/2 quantiles (numpy.percentile's linear interpolation) of the means of `resamples` resamples.
 * Resample after resample, each draws its n indices with cn_rng_below(rng, n), in order, so an
 * independent implementation can replay them. CN_ERR_ARG for n < 1, resamples < 1, level outside (0, 1),
 * NULL; CN_ERR_NONFINITE for NaN or Inf in x. */
int cn_stats_bootstrap_ci(double *lo, double *hi, const double *x, int n, int resamples, double level, cn_rng *rng);
/* The same resamples, bias-corrected and accelerated (BCa, scipy's default method="BCa"). Needs n >= 2;
 * CN_ERR_ARG also where the interval is undefined (constant data). */
int cn_stats_bootstrap_ci_bca(double *lo, double *hi, const double *x, int n, int resamples, double level,
                              cn_rng *rng);

/* A correlation of n pairs and its two-sided p-value. */
typedef struct {
    double r;       /* Pearson's r, or Spearman's rho (Pearson's r of the average ranks) */
    double p_value; /* two-sided: Student's t with n - 2 degrees of freedom at t = r sqrt((n - 2) / (1 - r^2))
                     * (GSL's gsl_cdf_tdist_Q); 1 for n = 2, 0 for |r| = 1 and n > 2 */
    int n;
} cn_stats_correlation;

/* Pearson's r of x[i], y[i], i < n, and its p-value, the numbers of scipy.stats.pearsonr(x, y) (scipy
 * 1.10). CN_ERR_ARG for n < 2, NULL, or a constant x or y (scipy: NaN); CN_ERR_NONFINITE for NaN or Inf. */
int cn_stats_pearson(cn_stats_correlation *out, const double *x, const double *y, int n);
/* Spearman's rho (ties get the average of their ranks) and its p-value, the numbers of
 * scipy.stats.spearmanr(x, y), except that n = 2 gives p = 1 where scipy gives NaN. The same errors, and
 * CN_ERR_NOMEM. */
int cn_stats_spearman(cn_stats_correlation *out, const double *x, const double *y, int n);

/* Percentile bootstrap confidence interval [lo, hi] of Spearman's rho of the pairs (x[i], y[i]), i < n, at level (e.g.
 * 0.95): resample after resample, n pair indices from cn_rng_below(rng, n), in order, the same index taken for x and y
 * (as cn_stats_bootstrap_ci draws its indices); rho of each resample as cn_stats_spearman; the (1-level)/2 and
 * (1+level)/2 quantiles (numpy.percentile's linear interpolation) of the rhos. A resample whose x or y values are all
 * equal has no rho: it is skipped (its draws still made) and counted in *skipped (may be NULL), and the quantiles are
 * those of the rest. CN_ERR_ARG, with lo and hi NaN, when more than 10% of the resamples are skipped (a constant x or y
 * skips all), for n < 2, resamples < 1, level outside (0, 1), NULL; CN_ERR_NONFINITE for NaN or Inf; CN_ERR_NOMEM. */
int cn_stats_spearman_bootstrap_ci(double *lo, double *hi, int *skipped, const double *x, const double *y, int n,
                                   int resamples, double level, cn_rng *rng);

typedef struct {
    double statistic; /* U of x: the pairs with x[i] > y[j], ties counting 1/2 (scipy's statistic) */
    double p_value;
    double z;         /* (U - nx ny/2 - 1/2) / sd, tie-corrected, of the U the p-value reads: U of x for
                       * greater, of y for less, the larger for two-sided (scipy's _get_mwu_z); so p is
                       * Q(z), doubled for two-sided, in the approximation. Filled in both branches; -inf
                       * when all values are equal */
    int nx, ny;
    int exact;        /* 1: p from the exact null distribution; 0: the normal approximation */
} cn_stats_mann_whitney;

/* Mann-Whitney U test of x[0..nx) against y[0..ny), with the numbers of scipy.stats.mannwhitneyu(x, y,
 * alternative=...) at its defaults in scipy 1.10 (use_continuity=True, method="auto": exact when nx <= 8 or
 * ny <= 8 and no two values are tied, else the normal approximation with the tie and continuity
 * corrections; src/stats/mann_whitney.c says more). CN_STATS_ALT_GREATER: x tends to be larger than y.
 * CN_ERR_ARG for nx < 1, ny < 1, NULL or a bad alternative; CN_ERR_NONFINITE for NaN or Inf (scipy takes
 * Inf); CN_ERR_NOMEM. */
int cn_stats_mann_whitney_u(cn_stats_mann_whitney *out, const double *x, int nx, const double *y, int ny,
                            cn_stats_alternative alternative);

#define CN_STATS_MIXED_MAX_K 16

/* A linear mixed model with a random intercept per group, y = X beta + u[group] + e,
 * u ~ N(0, tau2), e ~ N(0, s2), fitted by REML or ML. */
typedef struct {
    double beta[CN_STATS_MIXED_MAX_K]; /* fixed effects, in the order of X's columns */
    double se[CN_STATS_MIXED_MAX_K];   /* their standard errors, as statsmodels MixedLM's bse_fe (see below) */
    double z[CN_STATS_MIXED_MAX_K];    /* beta / se */
    double p[CN_STATS_MIXED_MAX_K];    /* two-sided normal p-values, 2 Q(|z|) */
    double tau2;                 /* group (random-intercept) variance: statsmodels' cov_re, "Group Var" */
    double s2;                   /* residual variance: statsmodels' scale */
    double llf;                  /* the REML or ML log-likelihood at the estimate, as statsmodels' llf */
    int n, k, n_groups;
    int reml;
    int boundary;  /* 1: the estimate of tau2 is 0, on the edge of the parameter space */
    int converged; /* 0: the optimiser stopped short, or tau2 / s2 ran to the top of the search (1e10) */
} cn_stats_mixed_fit;

/* Fits y[i] = sum_j X[i k + j] beta[j] + u[group[i]] + e[i], i < n: X is (n, k) row-major and holds the
 * intercept column if one is wanted; group[i] is any integer label (equal labels, same group). reml != 0:
 * REML, else ML. beta and s2 are profiled out, leaving a 1-D likelihood in gamma = tau2 / s2 >= 0 that is
 * maximised over ln gamma (grid, then GSL's Brent minimiser on the deviance, then a root of its derivative),
 * with gamma = 0 taken when the likelihood falls from there. The numbers are statsmodels' (0.13, Debian 12):
 * smf.mixedlm("y ~ x", df, groups=df["g"]).fit(reml=...) at the optimum, standard errors included: those
 * invert the observed information of (beta, gamma) in the scale-profiled likelihood, as statsmodels' fit
 * does, not the GLS covariance s2 (X' V^-1 X)^-1 alone; NaN where that is not invertible. CN_ERR_ARG for
 * k < 1 or k > CN_STATS_MIXED_MAX_K, NULL, fewer than 2 groups, no group with 2 or more observations, n <= k under
 * REML, X without full column rank, or y fitted exactly by X; CN_ERR_NONFINITE for NaN or Inf in y or X (or
 * squares that overflow); CN_ERR_NOMEM. */
int cn_stats_mixed_intercept(cn_stats_mixed_fit *out, const double *y, const double *X, int n, int k,
                             const int *group, int reml);

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_STATS_H */
