/* critnet_avalanche.h: the tools neuroscience uses to call activity critical, on plain arrays: power-law
 * fits of avalanche sizes and durations (Clauset, Shalizi & Newman 2009) and the multistep-regression
 * branching ratio of an activity time series (Wilting & Priesemann 2018). Part of libcritnet.
 *
 * A short working example (error checks shortened):
 *
 *     cn_powerlaw_opts o;
 *     cn_powerlaw_opts_default(&o);        // continuous, x_min searched, no bootstrap
 *     o.bootstrap = 1000;                  // goodness-of-fit p-value from 1000 replicates
 *     cn_powerlaw_fit fit;
 *     cn_error err = {0};
 *     cn_powerlaw_estimate(&fit, sizes, n, &o, &err);
 *     cn_powerlaw_lr lr;
 *     cn_powerlaw_compare(&lr, sizes, n, &fit, CN_PL_LOGNORMAL, &err);   // lr.R < 0: log-normal fits better
 *
 *     cn_branching_opts bo;
 *     cn_branching_opts_default(&bo);      // k = 1..40, dt = 1, no bootstrap
 *     cn_branching_fit mr;
 *     cn_branching_estimate(&mr, activity, T, &bo, &err);                // mr.m, mr.m_naive, mr.tau
 *     cn_branching_fit_free(&mr);
 */
#ifndef CRITNET_AVALANCHE_H
#define CRITNET_AVALANCHE_H

#include "critnet_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- power laws (avalanche/powerlaw.c) */

typedef struct {
    int discrete;       /* 1: integer data, exact discrete MLE with the Hurwitz zeta; 0: continuous */
    double xmin;        /* > 0: fixed x_min; 0: searched by minimising the KS distance */
    int min_tail;       /* fewest points at or above x_min (default 50); fewer: CN_ERR_ARG */
    int max_candidates; /* x_min candidates scanned (default 1000): the distinct values, thinned to this many
                         * evenly spaced in log(tail size) where there are more; 0: every distinct value */
    int bootstrap;      /* replicates for the goodness-of-fit p-value (0: none) */
    uint64_t seed;      /* the bootstrap's seed: replicate r draws from its own generator seeded from (seed, r),
                         * so the p-value does not depend on the thread count */
} cn_powerlaw_opts;

void cn_powerlaw_opts_default(cn_powerlaw_opts *o);

typedef struct {
    int discrete;
    double alpha;     /* MLE of the exponent: p(x) ~ x^-alpha for x >= xmin */
    double sigma;     /* its standard error: (alpha - 1)/sqrt(n_tail), or for discrete data
                       * 1/sqrt(n_tail * d^2/dalpha^2 ln zeta(alpha, xmin)) (CSN eqs. 3.2 and 3.6) */
    double xmin;
    double ks;        /* KS distance between the tail and the fit */
    double loglik;    /* log-likelihood of the tail under the fit */
    int n, n_tail;    /* all values, and those >= xmin */
    int candidates;   /* x_min candidates scanned (1 when fixed) */
    double p_value;   /* share of replicates whose KS distance is >= ks (NaN without bootstrap) */
    int replicates;
} cn_powerlaw_fit;

/* Fits a power law to x[0..n) (any order). CN_ERR_NONFINITE for NaN/Inf, CN_ERR_ARG (err says which) for
 * a value <= 0, a non-integer value with discrete, a constant sample, fewer than min_tail points at or above
 * x_min, or bad options; CN_ERR_NOMEM. With threads > 1 (cn_set_threads) replicates run in parallel. */
int cn_powerlaw_estimate(cn_powerlaw_fit *out, const double *x, int n, const cn_powerlaw_opts *o, cn_error *err);

typedef enum {
    CN_PL_EXPONENTIAL = 0, /* p(x) ~ exp(-lambda x) */
    CN_PL_LOGNORMAL,       /* p(x) ~ exp(-(ln x - mu)^2 / (2 s^2)) / x */
    CN_PL_STRETCHED_EXP,   /* p(x) ~ x^(beta-1) exp(-(lambda x)^beta) (Weibull) */
    CN_PL_TRUNCATED,       /* p(x) ~ x^-alpha exp(-lambda x), which nests the power law */
    CN_PL_ALT_COUNT
} cn_powerlaw_alt;

const char *cn_powerlaw_alt_name(cn_powerlaw_alt a); /* "exponential", "lognormal", ... */

typedef struct {
    cn_powerlaw_alt alt;
    double param[2];  /* the alternative's MLE above x_min: lambda; (mu, s); (lambda, beta); (alpha, lambda) */
    double loglik;    /* its log-likelihood on the tail */
    double llr;       /* sum of ln p_powerlaw - ln p_alt over the tail: > 0 favours the power law */
    double R;         /* llr / (sqrt(n_tail) * sd of the pointwise ratios), Vuong's normalised ratio */
    double p_value;   /* two-sided Vuong p = erfc(|R|/sqrt 2); nested (truncated): chi2_1(2|llr|)/2 */
} cn_powerlaw_lr;

/* Likelihood-ratio test of the fitted power law against an alternative fitted by MLE on the same tail
 * (values >= fit->xmin). For discrete fits the alternative's pmf is that of its continuous law rounded down
 * to integers, (S(x) - S(x+1)) / S(xmin), except the truncated power law, x^-alpha e^(-lambda x) / Z. */
int cn_powerlaw_compare(cn_powerlaw_lr *out, const double *x, int n, const cn_powerlaw_fit *fit, cn_powerlaw_alt alt,
                        cn_error *err);

/* The fitted law's survival P(X >= x) for x >= xmin (for plots against the empirical CCDF). */
double cn_powerlaw_ccdf(const cn_powerlaw_fit *fit, double x);

/* n draws from the power law (alpha, xmin) into out: continuous by inversion; discrete exactly, by inversion
 * of the zeta survival function. For tests and the bootstrap. CN_ERR_ARG for alpha <= 1 or xmin <= 0 (or not
 * an integer when discrete). */
int cn_powerlaw_sample(double *out, int n, double alpha, double xmin, int discrete, cn_rng *rng);

/* ---------------------------------------------------------------- branching ratio (avalanche/branching.c) */

typedef struct {
    int kmax;        /* largest lag k (default 40) */
    double dt;       /* time step, for tau (default 1) */
    int bootstrap;   /* replicates for the CI of m (0: none) */
    int blocks;      /* blocks the series is cut into for the bootstrap (default 20; each >= 4 kmax long) */
    double level;    /* CI level (default 0.95) */
    uint64_t seed;
} cn_branching_opts;

void cn_branching_opts_default(cn_branching_opts *o);

typedef struct {
    int kmax;
    double *r;          /* (kmax) r_k, k = 1..kmax: OLS slope of A_{t+k} on A_t; r[0] is r_1 */
    double b, m;        /* the fit r_k = b m^k (nonlinear least squares) */
    double m_naive;     /* r_1: the conventional estimate, biased under subsampling */
    double tau;         /* -dt / ln m (NaN for m >= 1 or <= 0) */
    double m_lo, m_hi;  /* bootstrap percentile CI of m (NaN without bootstrap) */
    int replicates;
} cn_branching_fit;

/* The MR estimator on the activity series a[0..n). CN_ERR_NONFINITE for NaN/Inf; CN_ERR_ARG for n too short
 * (< kmax + 10), a constant series, or bad options; CN_ERR_NOMEM. Free with cn_branching_fit_free. */
int cn_branching_estimate(cn_branching_fit *out, const double *a, int n, const cn_branching_opts *o, cn_error *err);
void cn_branching_fit_free(cn_branching_fit *f);

#ifdef __cplusplus
}
#endif
#endif
