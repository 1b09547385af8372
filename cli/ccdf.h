/* ccdf.h: the empirical CCDF of a sample beside its power-law fit, as a CSV and a log-log plot (critnet powerlaw,
 * and the avalanche sizes and durations of critnet measure --avalanches). */
#ifndef CN_CCDF_H
#define CN_CCDF_H

#include "critnet_avalanche.h"

/* P(X >= x) at each distinct value of the ascending x[0..n) into cx, cy (*m of them); the fit's beside it in cf,
 * scaled to the share of the tail (NaN below x_min). One buffer: the caller frees cx only. 0, or -1 (no memory). */
int cli_ccdf(const double *x, int n, const cn_powerlaw_fit *f, double **cx, double **cy, double **cf, int *m);

/* The CCDF and the fit, log-log, titled "NAME: CCDF, power law above x_min = X"; 0, or -1 (message printed). */
int cli_ccdf_plot(const char *path, const char *name, const double *cx, const double *cy, const double *cf, int m,
                  const cn_powerlaw_fit *f);

#endif
