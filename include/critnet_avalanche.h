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
 *
 *     cn_cascade_cfg cc;                   // avalanches in a network: perturbation cascades through depth
 *     cn_cascade_defaults(&cc);            // one input unit, finite perturbation, threshold 2.5x the first
 *     cn_cascade_result cr;                //   block's RMS change, 10 cascades per input
 *     cn_cascade_run(&cr, net, x, n_inputs, &cc, &err);
 *     cn_avalanche_opts ao;
 *     cn_avalanche_opts_default(&ao);
 *     cn_avalanche_stats st;
 *     cn_avalanche_analyse(&st, cr.counts, cr.cascades, cr.len, &ao, &err);  // st.size_fit, st.gamma, ...
 *     cn_avalanche_stats_free(&st);
 *     cn_cascade_result_free(&cr);
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

/* The MR estimator on several independent trials of one process: a is (trials, len) row-major. The process
 * need not be stationary: r_k is the slope of the regression of a[t + k] - mean_{t+k} on a[t] - mean_t pooled
 * over every trial and t < len - k, with mean_t the mean of step t over the trials (for a branching process
 * with any time-varying drive, E[A_{t+k} | A_t] = m^k A_t + c_t, so this slope is b m^k at every t). The CI
 * (o->bootstrap replicates, o->level) draws trials with replacement; o->blocks is unused. CN_ERR_ARG for
 * fewer than 2 trials, len < kmax + 2, no variance across trials, bad options; CN_ERR_NONFINITE; CN_ERR_NOMEM. */
int cn_branching_estimate_trials(cn_branching_fit *out, const double *a, int trials, int len,
                                 const cn_branching_opts *o, cn_error *err);


/* ---------------------------------------------------------------- avalanche statistics (avalanche/avstats.c) */

/* Avalanches given as profiles: counts[i * len + t] is the number of units active at step t (0..len-1) of
 * avalanche i. An avalanche lasts while its steps are active: its duration T is the number of leading steps
 * with a count > 0 and its size S their sum; activity after a silent step is not part of it (in neuroscience
 * that would be a new avalanche). T = 0: empty; T = len: cut off by the end of the record, so its true S and T
 * are unknown (censored) and it is left out of the fits, <S>(T) and the shapes. */
typedef struct {
    cn_powerlaw_opts fit;   /* the size and duration fits (discrete is forced; default: cn_powerlaw_opts_default) */
    int min_count;          /* fewest avalanches of one duration for a point of <S>(T) and a shape (default 10) */
    int tmin;               /* shortest duration in the fit of <S>(T) (default 1) */
    int shape_tmin;         /* shortest duration whose average shape enters the collapse (default 3) */
    int shape_points;       /* points of t/T on which the rescaled shapes are compared (default 20) */
    double gamma_lo, gamma_hi; /* the collapse's search range of gamma (default 0.5, 4) */
} cn_avalanche_opts;

void cn_avalanche_opts_default(cn_avalanche_opts *o);

typedef struct {
    int n, len;
    int empty, truncated;    /* avalanches with T = 0, and with T = len */
    int *size, *duration;    /* (n) S and T of each avalanche */
    /* power-law fits of the completed avalanches (0 < T < len); has_* 0 with the reason in *_msg when the
     * fit is impossible (too few values, a constant sample) */
    int has_size_fit, has_duration_fit;
    cn_powerlaw_fit size_fit, duration_fit;
    char size_msg[512], duration_msg[512];
    /* crackling noise, <S>(T) ~ T^gamma: the durations tmin <= T < len with at least min_count avalanches */
    int nT;
    int *T, *T_count;        /* (nT) */
    double *mean_size;       /* (nT) <S> at each */
    double gamma, gamma_se;  /* OLS slope of ln <S> on ln T and its standard error (NaN with fewer than 3 points) */
    double gamma_pred;       /* (alpha_T - 1) / (alpha_S - 1) from the two fits (NaN without both) */
    /* average shapes s(t | T) of the same durations with T >= shape_tmin, and their collapse: gamma_collapse
     * minimises the mean over points u in (0, 1) of the relative variance across T of T^(1-gamma) s(uT | T),
     * each shape interpolated at u, quadratically through the nearest three of its points ((t + 1/2)/T, s_t) */
    int nshapes;
    int *shape_T;            /* (nshapes) */
    double *shape;           /* (nshapes, len): mean count at step t; 0 from t = shape_T[k] on */
    double gamma_collapse, collapse_err; /* NaN with fewer than 2 shapes; collapse_err: that mean variance */
} cn_avalanche_stats;

/* CN_ERR_ARG for n < 1, len < 1, a negative count or bad options; CN_ERR_NOMEM. A fit that cannot be made is
 * not an error (has_*_fit = 0). Free with cn_avalanche_stats_free. */
int cn_avalanche_analyse(cn_avalanche_stats *out, const int *counts, int n, int len, const cn_avalanche_opts *o,
                         cn_error *err);
void cn_avalanche_stats_free(cn_avalanche_stats *s);

/* ---------------------------------------------------------------- cascades in a network (avalanche/cascade.c) */

typedef struct cn_net cn_net; /* critnet.h */

/* finite: the perturbed input runs forward and a unit's change is the difference of the two block outputs;
 * linear: Jacobian-vector products on the reference's forward pass, the limit of a vanishing perturbation
 * (counts then depend only on threshold / eps) */
typedef enum { CN_CASCADE_FINITE = 0, CN_CASCADE_LINEAR, CN_CASCADE_MODE_COUNT } cn_cascade_mode;

const char *cn_cascade_mode_name(cn_cascade_mode m); /* "finite", "linear" */
int cn_cascade_mode_from_name(const char *name, cn_cascade_mode *out); /* CN_ERR_ARG if unknown */

typedef struct {
    cn_cascade_mode mode;
    int site;             /* -1 (default): one input unit; k >= 0: one unit of block k's output (linear mode only:
                           * the public network API runs forward from the input only) */
    double eps;           /* the seed unit's change, in its own units (default 0.01) */
    double threshold;     /* > 0: a unit counts as changed when |delta h_i| > threshold */
    double rel_threshold; /* with threshold 0 (default): rel_threshold (default 2.5) times the RMS change of the
                           * first block after the site over the calibration's cascades */
    int calibration;      /* those cascades: the trials of the first ceil(calibration / trials) inputs (default
                           * 1000), run once more before the count, so the threshold does not depend on batch */
    int trials;           /* cascades per input, each from a uniformly drawn unit with a random sign (default 10) */
    int include_readout;  /* count the readout block too */
    int batch;            /* cascades per pass (default 256; at least one input's trials) */
    uint64_t seed;        /* the seed units and signs */
    void (*progress)(double done, double total, void *user);
    void *user;
} cn_cascade_cfg;

void cn_cascade_defaults(cn_cascade_cfg *cfg);

typedef struct {
    int cascades;         /* inputs x trials, input-major */
    int len;              /* blocks the cascade runs through: those after the site */
    int first_block;      /* the index (0-based, among the measured blocks) of the first of them */
    int site_units;       /* units the seed was drawn from */
    double threshold;     /* the absolute threshold used */
    double calib_rms;     /* the calibration's RMS change (NaN with an absolute threshold) */
    int *units;           /* (len) units per block */
    double *rms;          /* (len) RMS change per block over all cascades */
    int *counts;          /* (cascades, len) units changed beyond the threshold at each block */
    int *input, *unit;    /* (cascades) the input and the seed unit of each */
    signed char *sign;    /* (cascades) the perturbation's sign */
} cn_cascade_result;

/* Runs trials cascades from each of the n inputs x (n, in) through net (eval mode). CN_ERR_ARG for bad
 * settings (err says which), CN_ERR_NONFINITE for NaN/Inf in x or in the changes, CN_ERR_NOMEM; a pass of an
 * imported model that fails returns its status. Free with cn_cascade_result_free. */
int cn_cascade_run(cn_cascade_result *out, cn_net *net, const cn_real *x, int n, const cn_cascade_cfg *cfg,
                   cn_error *err);
void cn_cascade_result_free(cn_cascade_result *r);

/* A network's activity per block as a time series (avalanche/netactivity.c): counts[i * len + l] is the number
 * of units of measured block l whose |output| exceeds the threshold, for input i of x (n inputs). The threshold
 * is abs_threshold if > 0, otherwise rel_threshold x the RMS of every measured block output over all inputs (one
 * threshold for the whole "recording", as an event threshold in SDs of the signal). *threshold and *rms report
 * what was used; *len the blocks. CN_ERR_NONFINITE for a NaN/Inf output; CN_ERR_NOMEM; pass errors. */
int cn_net_activity_counts(cn_net *net, const cn_real *x, int n, int include_readout, double rel_threshold,
                           double abs_threshold, double **counts, int *len, double *threshold, double *rms,
                           cn_error *err);

#ifdef __cplusplus
}
#endif

#endif
