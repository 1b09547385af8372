/* powerlaw.h: internals of the power-law fit shared by the fit, its bootstrap (powerlaw.c, powerlaw_boot.c)
 * and the likelihood-ratio tests (powerlaw_lr.c). */
#ifndef CN_AVALANCHE_POWERLAW_H
#define CN_AVALANCHE_POWERLAW_H

#include "critnet_avalanche.h"

/* One sorted sample and what the x_min scan needs from it, in buffers sized for n values: the values and
 * their logs ascending, suffix sums of the logs (so the continuous MLE of every candidate is O(1)), and for
 * integer data the distinct values with the index where each starts. One per thread in the bootstrap. */
typedef struct {
    int cap, n, discrete;
    double *z, *lz;       /* (n) ascending, and ln z */
    long double *suf;     /* (n + 1) suf[i] = sum of lz[i..n) */
    int nd;               /* distinct values */
    double *u;            /* (nd) distinct values, ascending */
    int *first;           /* (nd + 1) index in z where u[j] starts; first[nd] = n */
    int *cand;            /* (nd) candidate distinct indices of the scan */
} pl_work;

int pl_work_init(pl_work *w, int cap, int discrete);
void pl_work_free(pl_work *w);
/* after z[0..n) (ascending) and lz are filled: the suffix sums and the distinct values */
void pl_work_index(pl_work *w, int n);

/* The fit of the sample in w, with o's x_min (fixed or scanned); fills alpha, sigma, xmin, ks, loglik, n,
 * n_tail, candidates. CN_ERR_ARG (err says why) where no x_min leaves o->min_tail points. */
int pl_fit_sorted(cn_powerlaw_fit *out, pl_work *w, const cn_powerlaw_opts *o, cn_error *err);

/* Exact discrete MLE of alpha for m values >= xmin whose logs sum to sum_log (GSL's Brent minimiser on
 * m ln zeta(alpha, xmin) + alpha sum_log); NaN if it fails. */
double pl_discrete_alpha(double xmin, double m, double sum_log);

/* ln zeta(alpha, q) through gsl_sf_hzeta_e; NaN on a GSL error */
double pl_log_hzeta(double alpha, double q);

/* The semi-parametric bootstrap p-value of CSN section 4.1 for the fit of the sample in w (powerlaw_boot.c). */
int pl_bootstrap(cn_powerlaw_fit *fit, const pl_work *data, const cn_powerlaw_opts *o, cn_error *err);

#endif
