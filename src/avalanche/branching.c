/* branching.c: the multistep-regression (MR) estimator of the branching ratio m of an activity time series
 * (Wilting & Priesemann 2018, Nat. Commun. 9:2325). Under subsampling the regression of A_{t+1} on A_t is
 * biased towards 0 (the conventional estimate), but every lag's slope carries the same factor:
 * r_k = b m^k, so a fit of r_k over k = 1..kmax recovers m. The fit is nonlinear least squares (GSL's
 * multifit_nlinear, trust region) from a log-linear start.
 *
 * The confidence interval resamples blocks: the series is cut into B equal blocks; a replicate draws B of
 * them with replacement and pools, per lag, the cross-products of the pairs inside each drawn block about the
 * series' mean (mrestimator's "stationary mean" form), then fits again. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "critnet_avalanche.h"

void cn_branching_opts_default(cn_branching_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kmax = 40;
    o->dt = 1;
    o->blocks = 20;
    o->level = 0.95;
}

void cn_branching_fit_free(cn_branching_fit *f)
{
    if (!f) return;
    cn_free(f->r);
    f->r = NULL;
}

/* ---------------------------------------------------------------- the fit r_k = b m^k */

typedef struct {
    const double *r;
    int kmax;
} exp_data;

static int exp_f(const gsl_vector *p, void *user, gsl_vector *f)
{
    const exp_data *d = user;
    double b = gsl_vector_get(p, 0), m = gsl_vector_get(p, 1);
    for (int k = 1; k <= d->kmax; k++) gsl_vector_set(f, k - 1, b * pow(m, k) - d->r[k - 1]);
    return GSL_SUCCESS;
}

static int exp_df(const gsl_vector *p, void *user, gsl_matrix *J)
{
    const exp_data *d = user;
    double b = gsl_vector_get(p, 0), m = gsl_vector_get(p, 1);
    for (int k = 1; k <= d->kmax; k++) {
        gsl_matrix_set(J, k - 1, 0, pow(m, k));
        gsl_matrix_set(J, k - 1, 1, b * k * pow(m, k - 1));
    }
    return GSL_SUCCESS;
}

/* b and m of the least-squares fit of r[0..kmax) (lags 1..kmax); 0, or -1 if the solver fails */
static int fit_exponential(const double *r, int kmax, double *b_out, double *m_out)
{
    /* start: ln r_k = ln b + k ln m over the leading positive r_k */
    int np = 0;
    double sk = 0, sl = 0, skk = 0, skl = 0;
    while (np < kmax && r[np] > 0) {
        double k = np + 1, l = log(r[np]);
        sk += k, sl += l, skk += k * k, skl += k * l;
        np++;
    }
    double b0 = r[0], m0 = 0.5;
    if (np >= 2) {
        double slope = (np * skl - sk * sl) / (np * skk - sk * sk);
        m0 = exp(slope);
        b0 = exp((sl - slope * sk) / np);
    }
    exp_data d = {r, kmax};
    gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, (size_t)kmax, 2);
    if (!w) return -1;
    gsl_multifit_nlinear_fdf fdf = {exp_f, exp_df, NULL, (size_t)kmax, 2, &d, 0, 0, 0};
    double p0[2] = {b0, m0};
    gsl_vector_view x0 = gsl_vector_view_array(p0, 2);
    int info, rc = -1;
    if (gsl_multifit_nlinear_init(&x0.vector, &fdf, w) == GSL_SUCCESS &&
        gsl_multifit_nlinear_driver(500, 1e-12, 1e-12, 1e-12, NULL, NULL, &info, w) == GSL_SUCCESS) {
        *b_out = gsl_vector_get(w->x, 0);
        *m_out = gsl_vector_get(w->x, 1);
        rc = isfinite(*b_out) && isfinite(*m_out) ? 0 : -1;
    }
    gsl_multifit_nlinear_free(w);
    return rc;
}

/* ---------------------------------------------------------------- bootstrap over blocks */

static int bootstrap(cn_branching_fit *out, const double *a, int n, double mean, const cn_branching_opts *o,
                     cn_error *err)
{
    int kmax = o->kmax, B = o->blocks, len = n / B;
    /* per block and lag: sum (x - mean)(y - mean) and sum (x - mean)^2 over the pairs inside the block */
    double *sxy = cn_malloc(sizeof(double) * (size_t)B * kmax), *sxx = cn_malloc(sizeof(double) * (size_t)B * kmax);
    double *r = cn_malloc(sizeof(double) * (size_t)kmax), *ms = cn_malloc(sizeof(double) * (size_t)o->bootstrap);
    cn_rng *rng = cn_rng_new(o->seed);
    int rc = sxy && sxx && r && ms && rng ? CN_OK : CN_ERR_NOMEM;
    if (!rc) {
        for (int b = 0; b < B; b++)
            for (int k = 1; k <= kmax; k++) {
                double xy = 0, xx = 0;
                for (int t = b * len; t + k < (b + 1) * len; t++) {
                    double x = a[t] - mean, y = a[t + k] - mean;
                    xy += x * y, xx += x * x;
                }
                sxy[(size_t)b * kmax + k - 1] = xy, sxx[(size_t)b * kmax + k - 1] = xx;
            }
        int kept = 0;
        for (int rep = 0; rep < o->bootstrap; rep++) {
            /* draw the blocks once, then pool every lag over them */
            int pick[1024];
            for (int j = 0; j < B; j++) pick[j] = (int)cn_rng_below(rng, (uint64_t)B);
            int ok = 1;
            for (int k = 0; k < kmax; k++) {
                double num = 0, dd = 0;
                for (int j = 0; j < B; j++) num += sxy[(size_t)pick[j] * kmax + k], dd += sxx[(size_t)pick[j] * kmax + k];
                if (!(dd > 0)) ok = 0;
                r[k] = num / dd;
            }
            double bb, mm;
            if (ok && !fit_exponential(r, kmax, &bb, &mm)) ms[kept++] = mm;
        }
        if (kept < o->bootstrap / 2) {
            rc = cn_error_set(err, CN_ERR_ARG, "branching bootstrap: only %d of %d replicates could be fitted", kept,
                              o->bootstrap);
        } else {
            gsl_sort(ms, 1, (size_t)kept);
            double q = (1 - o->level) / 2;
            out->m_lo = gsl_stats_quantile_from_sorted_data(ms, 1, (size_t)kept, q);
            out->m_hi = gsl_stats_quantile_from_sorted_data(ms, 1, (size_t)kept, 1 - q);
            out->replicates = kept;
        }
    } else {
        cn_error_set(err, rc, "branching bootstrap: out of memory");
    }
    cn_free(sxy);
    cn_free(sxx);
    cn_free(r);
    cn_free(ms);
    cn_rng_free(rng);
    return rc;
}

/* ---------------------------------------------------------------- the estimate */

int cn_branching_estimate(cn_branching_fit *out, const double *a, int n, const cn_branching_opts *o, cn_error *err)
{
    gsl_set_error_handler_off(); /* GSL's default handler aborts; we report through status codes */
    if (!out || !a || !o) return cn_error_set(err, CN_ERR_ARG, "branching ratio: no data or no options");
    memset(out, 0, sizeof *out);
    out->m = out->b = out->m_naive = out->tau = out->m_lo = out->m_hi = NAN;
    if (o->kmax < 2) return cn_error_set(err, CN_ERR_ARG, "kmax %d: must be >= 2", o->kmax);
    if (!(o->dt > 0) || !isfinite(o->dt)) return cn_error_set(err, CN_ERR_ARG, "dt %g: must be > 0", o->dt);
    if (o->bootstrap < 0 || (o->bootstrap > 0 && (o->blocks < 2 || o->blocks > 1024)))
        return cn_error_set(err, CN_ERR_ARG, "bootstrap %d with %d blocks: need bootstrap >= 0 and 2..1024 blocks",
                            o->bootstrap, o->blocks);
    if (!(o->level > 0 && o->level < 1)) return cn_error_set(err, CN_ERR_ARG, "level %g: must be in (0, 1)", o->level);
    if (n < o->kmax + 10)
        return cn_error_set(err, CN_ERR_ARG, "%d time steps; at least kmax + 10 = %d are needed", n, o->kmax + 10);
    if (o->bootstrap > 0 && n / o->blocks < 4 * o->kmax)
        return cn_error_set(err, CN_ERR_ARG, "bootstrap: %d blocks of %d steps; each needs >= 4 kmax = %d "
                            "(fewer blocks or a smaller kmax)", o->blocks, n / o->blocks, 4 * o->kmax);
    double mean = 0;
    for (int t = 0; t < n; t++) {
        if (!isfinite(a[t])) return cn_error_set(err, CN_ERR_NONFINITE, "time step %d is %g", t + 1, a[t]);
        mean += a[t];
    }
    mean /= n;
    int kmax = o->kmax;
    if (!(out->r = cn_malloc(sizeof(double) * (size_t)kmax)))
        return cn_error_set(err, CN_ERR_NOMEM, "branching ratio: out of memory");
    out->kmax = kmax;
    /* r_k: the OLS slope of a[t + k] on a[t], t < n - k, each side about its own mean */
    for (int k = 1; k <= kmax; k++) {
        int np = n - k;
        double mx = 0, my = 0;
        for (int t = 0; t < np; t++) mx += a[t], my += a[t + k];
        mx /= np, my /= np;
        double sxy = 0, sxx = 0;
        for (int t = 0; t < np; t++) sxy += (a[t] - mx) * (a[t + k] - my), sxx += (a[t] - mx) * (a[t] - mx);
        if (!(sxx > 0)) {
            cn_branching_fit_free(out);
            return cn_error_set(err, CN_ERR_ARG, "the series is constant (%g): no branching ratio", a[0]);
        }
        out->r[k - 1] = sxy / sxx;
    }
    out->m_naive = out->r[0];
    if (fit_exponential(out->r, kmax, &out->b, &out->m)) {
        cn_branching_fit_free(out);
        return cn_error_set(err, CN_ERR_ARG, "the fit of r_k = b m^k did not converge");
    }
    out->tau = out->m > 0 && out->m < 1 ? -o->dt / log(out->m) : NAN;
    if (o->bootstrap > 0) {
        int rc = bootstrap(out, a, n, mean, o, err);
        if (rc) {
            cn_branching_fit_free(out);
            return rc;
        }
    }
    return CN_OK;
}

/* ---------------------------------------------------------------- several trials of a non-stationary series */

/* r_k pooled over the trials listed in pick[0..T) (a trial may repeat): the slope of the regression of
 * a[t + k] - mean_{t+k} on a[t] - mean_t over every trial and t < len - k, with mean_t the mean of step t
 * over those trials. 0, or -1 if some lag has no variance to regress on. mean: (len) scratch. */
static int pooled_slopes(double *r, const double *a, int len, const int *pick, int T, int kmax, double *mean)
{
    for (int t = 0; t < len; t++) {
        double s = 0;
        for (int j = 0; j < T; j++) s += a[(size_t)pick[j] * len + t];
        mean[t] = s / T;
    }
    for (int k = 1; k <= kmax; k++) {
        double xy = 0, xx = 0;
        for (int j = 0; j < T; j++) {
            const double *row = a + (size_t)pick[j] * len;
            for (int t = 0; t + k < len; t++) {
                double x = row[t] - mean[t], y = row[t + k] - mean[t + k];
                xy += x * y, xx += x * x;
            }
        }
        if (!(xx > 0)) return -1;
        r[k - 1] = xy / xx;
    }
    return 0;
}

int cn_branching_estimate_trials(cn_branching_fit *out, const double *a, int trials, int len,
                                 const cn_branching_opts *o, cn_error *err)
{
    gsl_set_error_handler_off();
    if (!out || !a || !o) return cn_error_set(err, CN_ERR_ARG, "branching ratio: no data or no options");
    memset(out, 0, sizeof *out);
    out->m = out->b = out->m_naive = out->tau = out->m_lo = out->m_hi = NAN;
    if (o->kmax < 2) return cn_error_set(err, CN_ERR_ARG, "kmax %d: must be >= 2", o->kmax);
    if (!(o->dt > 0) || !isfinite(o->dt)) return cn_error_set(err, CN_ERR_ARG, "dt %g: must be > 0", o->dt);
    if (o->bootstrap < 0) return cn_error_set(err, CN_ERR_ARG, "bootstrap %d: must be >= 0", o->bootstrap);
    if (!(o->level > 0 && o->level < 1)) return cn_error_set(err, CN_ERR_ARG, "level %g: must be in (0, 1)", o->level);
    if (trials < 2) return cn_error_set(err, CN_ERR_ARG, "%d trials: at least 2 are needed (a step's mean is over "
                                        "the trials)", trials);
    if (len < o->kmax + 2)
        return cn_error_set(err, CN_ERR_ARG, "%d time steps; at least kmax + 2 = %d are needed", len, o->kmax + 2);
    for (size_t i = 0; i < (size_t)trials * len; i++)
        if (!isfinite(a[i]))
            return cn_error_set(err, CN_ERR_NONFINITE, "trial %zu, time step %zu is %g", i / len + 1, i % len + 1, a[i]);
    int kmax = o->kmax, rc = CN_OK;
    int *pick = cn_malloc(sizeof(int) * (size_t)trials);
    double *mean = cn_malloc(sizeof(double) * (size_t)len), *r = cn_malloc(sizeof(double) * (size_t)kmax);
    double *ms = cn_malloc(sizeof(double) * ((size_t)o->bootstrap + 1));
    cn_rng *rng = o->bootstrap ? cn_rng_new(o->seed) : NULL;
    out->r = cn_malloc(sizeof(double) * (size_t)kmax);
    if (!pick || !mean || !r || !ms || !out->r || (o->bootstrap && !rng)) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "branching ratio: out of memory");
        goto done;
    }
    out->kmax = kmax;
    for (int j = 0; j < trials; j++) pick[j] = j;
    if (pooled_slopes(out->r, a, len, pick, trials, kmax, mean)) {
        rc = cn_error_set(err, CN_ERR_ARG, "every trial has the same activity at every step: no branching ratio");
        goto done;
    }
    out->m_naive = out->r[0];
    if (fit_exponential(out->r, kmax, &out->b, &out->m)) {
        rc = cn_error_set(err, CN_ERR_ARG, "the fit of r_k = b m^k did not converge");
        goto done;
    }
    out->tau = out->m > 0 && out->m < 1 ? -o->dt / log(out->m) : NAN;
    /* the CI: trials drawn with replacement (they are independent), each replicate fitted the same way */
    int kept = 0;
    for (int rep = 0; rep < o->bootstrap; rep++) {
        for (int j = 0; j < trials; j++) pick[j] = (int)cn_rng_below(rng, (uint64_t)trials);
        double bb, mm;
        if (!pooled_slopes(r, a, len, pick, trials, kmax, mean) && !fit_exponential(r, kmax, &bb, &mm)) ms[kept++] = mm;
    }
    if (o->bootstrap && kept < o->bootstrap / 2) {
        rc = cn_error_set(err, CN_ERR_ARG, "branching bootstrap: only %d of %d replicates could be fitted", kept,
                          o->bootstrap);
    } else if (kept) {
        gsl_sort(ms, 1, (size_t)kept);
        double q = (1 - o->level) / 2;
        out->m_lo = gsl_stats_quantile_from_sorted_data(ms, 1, (size_t)kept, q);
        out->m_hi = gsl_stats_quantile_from_sorted_data(ms, 1, (size_t)kept, 1 - q);
        out->replicates = kept;
    }
done:
    if (rc) cn_branching_fit_free(out);
    cn_free(pick);
    cn_free(mean);
    cn_free(r);
    cn_free(ms);
    cn_rng_free(rng);
    return rc;
}
