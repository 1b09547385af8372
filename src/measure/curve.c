/* curve.c: statistics of measured curves: the dynamic range of a response curve F(s) (Kinouchi &
 * Copelli 2006) and the least-squares slope used by the activity branching ratio. */
#include <math.h>
#include <stddef.h>
#include "critnet.h"

/* s where the piecewise-linear-in-log-s curve first reaches level, scanning from the left.
 * The caller guarantees F[0] < level <= F[n-1], so a crossing exists and F[i] > F[i-1] there. */
static double crossing(const double *s, const double *F, int n, double level)
{
    int i = 1;
    while (i < n - 1 && F[i] < level) i++;
    double t = (level - F[i - 1]) / (F[i] - F[i - 1]);
    double ls = log(s[i - 1]) + t * (log(s[i]) - log(s[i - 1]));
    return exp(ls);
}

/* F at s[0] < v < s[n-1], linear in log s like s_p, so that the verdicts below do not depend on where the
 * grid points happen to fall */
static double interp_log(const double *s, const double *F, int n, double v)
{
    int j = 1;
    while (j < n - 1 && s[j] < v) j++;
    double w = log(s[j]) - log(s[j - 1]); /* 0 only for neighbouring doubles */
    double t = w > 0 ? (log(v) - log(s[j - 1])) / w : 1.0;
    return F[j - 1] + t * (F[j] - F[j - 1]);
}

int cn_dynamic_range(cn_dynrange *out, const double *s, const double *F, int n)
{
    if (!out) return CN_ERR_ARG;
    out->delta_db = out->s10 = out->s90 = out->f0 = out->fmax = NAN;
    out->saturated = out->truncated_low = 0;
    if (!s || !F || n < 2) return CN_ERR_ARG;
    for (int i = 0; i < n; i++) {
        if (!isfinite(s[i]) || !isfinite(F[i]) || !(s[i] > 0)) return CN_ERR_ARG;
        if (i > 0 && !(s[i] > s[i - 1])) return CN_ERR_ARG;
    }
    double f0 = F[0], fmax = F[n - 1];
    /* The curve must rise, and by more than rounding: both levels must lie strictly inside (F0, Fmax),
     * which keeps every interpolation below well defined. */
    double lev10 = f0 + 0.1 * (fmax - f0), lev90 = f0 + 0.9 * (fmax - f0);
    if (!(fmax > f0) || !(lev10 > f0) || !(lev90 < fmax)) return CN_ERR_ARG;

    double s10 = crossing(s, F, n, lev10);
    double s90 = crossing(s, F, n, lev90);

    /* Saturation: how much F still rises over the last decade, F(s_max) - F(s_max/10), with F at
     * s_max/10 interpolated linearly in log s like s_p above, so the verdict does not depend on where
     * the grid points happen to fall. A grid shorter than a decade cannot show a plateau: not saturated. */
    double s_dec = s[n - 1] / 10.0;
    double f_dec = s[0] < s_dec ? interp_log(s, F, n, s_dec) : f0;
    out->saturated = (fmax - f_dec) < 0.05 * (fmax - f0);
    /* The same at the low end: how much F rises over the first decade, F(10 s_min) - F(s_min). A curve that
     * is still rising there was cut off: F0 is no baseline, and s10 sits near the grid's minimum. */
    double s_up = s[0] * 10.0;
    double f_up = s_up < s[n - 1] ? interp_log(s, F, n, s_up) : fmax;
    out->truncated_low = (f_up - f0) >= 0.05 * (fmax - f0);

    out->f0 = f0;
    out->fmax = fmax;
    out->s10 = s10;
    out->s90 = s90;
    out->delta_db = 10.0 * log10(s90 / s10);
    return CN_OK;
}

int cn_dynrange_complete(const cn_dynrange *d) { return d && d->saturated && !d->truncated_low; }

const char *cn_dynrange_class(const cn_dynrange *d)
{
    if (!d) return "?";
    if (d->truncated_low) return d->saturated ? "truncated-low" : "truncated-both";
    return d->saturated ? "ok" : "truncated-high";
}

double cn_ols_slope(const double *x, const double *y, int n)
{
    if (!x || !y || n < 2) return NAN;
    /* an exact test for constant x: a tolerance on sxx would misjudge data of small spread */
    int varies = 0;
    for (int i = 1; i < n && !varies; i++) varies = x[i] != x[0];
    if (!varies) return NAN;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0; /* two passes: centring first keeps large offsets from cancelling */
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    return sxy / sxx;
}
