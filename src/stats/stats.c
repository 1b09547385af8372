/* stats.c: summary statistics of repeated runs: mean and sample standard deviation. The test, the
 * confidence intervals and the correlations of the experiments live beside it (wilcoxon.c, bootstrap.c,
 * correlation.c). */
#include <math.h>
#include "critnet.h"

int cn_stats_mean_sd(const double *x, int n, double *mean, double *sd)
{
    if (mean) *mean = NAN;
    if (sd) *sd = NAN;
    if (!x || n < 1 || (!mean && !sd)) return CN_ERR_ARG;
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return CN_ERR_NONFINITE;
    /* Two passes, as numpy: the deviations are taken from the mean, so a large common offset (accuracies
     * near 1, losses near a constant) does not cancel away the spread as sum(x^2) - n mean^2 would. */
    double sum = 0;
    for (int i = 0; i < n; i++) sum += x[i];
    double m = sum / n;
    if (mean) *mean = m;
    if (sd && n > 1) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
        *sd = sqrt(ss / (n - 1));
    }
    return CN_OK;
}
