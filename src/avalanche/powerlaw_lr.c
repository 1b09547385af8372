/* powerlaw_lr.c: likelihood-ratio tests of a fitted power law against other heavy-tailed laws (Clauset,
 * Shalizi & Newman 2009, section 5; Vuong 1989): each alternative is fitted by maximum likelihood on the
 * same tail (x >= x_min), and the pointwise log-likelihood ratios give Vuong's normalised statistic R and its
 * two-sided p-value. The truncated power law contains the power law (lambda = 0), so its p-value is the
 * boundary rule chi2_1(2 |llr|) / 2 (a 50:50 mixture of chi2_0 and chi2_1), as the `powerlaw` package does.
 *
 * Continuous data: the alternatives' densities truncated at x_min. Integer data: the alternatives' continuous
 * laws rounded down, pmf (S(x) - S(x+1)) / S(x_min), except the truncated power law, whose pmf
 * x^-alpha e^(-lambda x) / Z nests the zeta law: Z is summed term by term to where e^(-lambda x) < e^-40
 * (at most 20000 terms) plus e^(-lambda X) zeta(alpha, X) for the rest (an upper bound, exact as lambda -> 0). */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_erf.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "avalanche/powerlaw.h"

static const char *const alt_names[] = {"exponential", "lognormal", "stretched_exponential", "truncated_power_law"};
_Static_assert(sizeof alt_names / sizeof alt_names[0] == CN_PL_ALT_COUNT, "one name per alternative");

const char *cn_powerlaw_alt_name(cn_powerlaw_alt a)
{
    return a >= 0 && a < CN_PL_ALT_COUNT ? alt_names[a] : "unknown";
}

#define TPL_TERMS 20000
#define PENALTY 1e100 /* the minimiser's value where a law gives the data zero probability */

typedef struct {
    const double *x, *lx, *w; /* the tail's distinct values, their logs and how often each occurs */
    int nu, m, discrete;       /* distinct values; values */
    double xmin;
    cn_powerlaw_alt alt;
} lr_data;

/* ln S(x) of the alternative's continuous law (up to a constant that cancels in S(x)/S(xmin)); lx = ln x */
static double log_surv(cn_powerlaw_alt alt, const double *p, double x, double lx)
{
    switch (alt) {
    case CN_PL_EXPONENTIAL: return -p[0] * x;
    case CN_PL_LOGNORMAL: return gsl_sf_log_erfc((lx - p[0]) / (p[1] * M_SQRT2));
    case CN_PL_STRETCHED_EXP: return -exp(p[1] * (p[2] + lx)); /* (lambda x)^beta; p[2] = ln lambda */
    default: return NAN;
    }
}

/* ln Z of the discrete truncated power law (alpha p[0], lambda p[1]) on x >= xmin */
static double tpl_log_norm(const double *p, double xmin)
{
    double a = p[0], lam = p[1];
    double terms = fmin(ceil(40 / lam), TPL_TERMS), z = 0;
    for (int t = 0; t < (int)terms; t++) z += exp(-a * log(xmin + t) - lam * (xmin + t));
    double X = xmin + terms, tail = exp(pl_log_hzeta(a, X) - lam * X);
    return log(z + (isfinite(tail) ? tail : 0));
}

/* ln p(x) of the alternative with parameters p (natural units, and p[2] = ln p[0]); norm: the precomputed
 * normaliser; lx = ln x */
static double alt_logp(const lr_data *d, const double *p, double norm, double x, double lx)
{
    if (d->alt == CN_PL_TRUNCATED) {
        if (d->discrete) return -p[0] * lx - p[1] * x - norm;
        return (1 - p[0]) * log(p[1]) - p[0] * lx - p[1] * x - norm;
    }
    if (d->discrete) {
        double a = log_surv(d->alt, p, x, lx), b = log_surv(d->alt, p, x + 1, log1p(x));
        return a + log(-expm1(b - a)) - norm;
    }
    switch (d->alt) {
    case CN_PL_EXPONENTIAL: return log(p[0]) - p[0] * x - norm;
    case CN_PL_LOGNORMAL: {
        double t = (lx - p[0]) / p[1];
        return -lx - log(p[1]) - 0.5 * log(2 * M_PI) - 0.5 * t * t - (norm - M_LN2);
    }
    default: /* stretched exponential */
        return log(p[1]) + p[1] * p[2] + (p[1] - 1) * lx - exp(p[1] * (p[2] + lx)) - norm;
    }
}

static double alt_norm(const lr_data *d, const double *p_in)
{
    double p[3] = {p_in[0], p_in[1], log(p_in[0])};
    if (d->alt == CN_PL_TRUNCATED) {
        if (d->discrete) return tpl_log_norm(p, d->xmin);
        gsl_sf_result r;
        if (gsl_sf_gamma_inc_e(1 - p[0], p[1] * d->xmin, &r) != GSL_SUCCESS || !(r.val > 0)) return NAN;
        return log(r.val);
    }
    return log_surv(d->alt, p, d->xmin, log(d->xmin));
}

static double alt_loglik(const lr_data *d, const double *p_in)
{
    double p[3] = {p_in[0], p_in[1], log(p_in[0])};
    double norm = alt_norm(d, p), ll = 0;
    if (!isfinite(norm)) return -INFINITY;
    for (int i = 0; i < d->nu; i++) ll += d->w[i] * alt_logp(d, p, norm, d->x[i], d->lx[i]);
    return ll;
}

/* the minimiser's coordinates to parameters: positive ones through exp */
static void to_params(const lr_data *d, const gsl_vector *v, double *p)
{
    double a = gsl_vector_get(v, 0), b = gsl_vector_get(v, 1);
    switch (d->alt) {
    case CN_PL_LOGNORMAL: p[0] = a, p[1] = exp(b); break;
    case CN_PL_STRETCHED_EXP: p[0] = exp(a), p[1] = exp(b); break;
    default: p[0] = d->discrete ? 1 + exp(a) : a, p[1] = exp(b); break; /* truncated power law */
    }
}

static double objective(const gsl_vector *v, void *user)
{
    const lr_data *d = user;
    double p[2];
    to_params(d, v, p);
    double ll = alt_loglik(d, p);
    return isfinite(ll) ? -ll / d->m : PENALTY;
}

/* Nelder-Mead from start (minimiser coordinates); p gets the best parameters */
static int fit_nm(const lr_data *d, const double *start, double *p)
{
    gsl_multimin_fminimizer *s = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, 2);
    gsl_vector *x = gsl_vector_alloc(2), *step = gsl_vector_alloc(2);
    if (!s || !x || !step) {
        if (s) gsl_multimin_fminimizer_free(s);
        if (x) gsl_vector_free(x);
        if (step) gsl_vector_free(step);
        return CN_ERR_NOMEM;
    }
    gsl_vector_set(x, 0, start[0]);
    gsl_vector_set(x, 1, start[1]);
    gsl_vector_set_all(step, 0.3);
    gsl_multimin_function f = {objective, 2, (void *)d};
    int rc = gsl_multimin_fminimizer_set(s, &f, x, step) == GSL_SUCCESS ? CN_OK : CN_ERR_ARG;
    /* the objective is the mean log-likelihood per point; a simplex of 1e-7 in the (log) parameters changes
     * it far below what the tests resolve. Where the optimum is a boundary (the log-normal's mu -> -infinity,
     * the stretched exponential's beta -> 0, both becoming a power law) the simplex walks along a ridge for
     * ever: it stops once 100 steps gain less than 1e-10 per point (1e-5 in total on 1e5 points). */
    double last = INFINITY;
    for (int it = 0; !rc && it < 5000; it++) {
        if (gsl_multimin_fminimizer_iterate(s) != GSL_SUCCESS) break;
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-7) == GSL_SUCCESS) break;
        if (it % 100 == 99) {
            double fv = gsl_multimin_fminimizer_minimum(s);
            if (last - fv < 1e-10) break;
            last = fv;
        }
    }
    if (!rc) to_params(d, gsl_multimin_fminimizer_x(s), p);
    gsl_multimin_fminimizer_free(s);
    gsl_vector_free(x);
    gsl_vector_free(step);
    return rc;
}

static double pl_logp(const cn_powerlaw_fit *f, double lzeta, double x)
{
    if (f->discrete) return -f->alpha * log(x) - lzeta;
    return log(f->alpha - 1) - log(f->xmin) - f->alpha * log(x / f->xmin);
}

int cn_powerlaw_compare(cn_powerlaw_lr *out, const double *x, int n, const cn_powerlaw_fit *fit, cn_powerlaw_alt alt,
                        cn_error *err)
{
    gsl_set_error_handler_off(); /* GSL's default handler aborts; we report through status codes */
    if (!out || !x || !fit || n < 1 || alt < 0 || alt >= CN_PL_ALT_COUNT || !(fit->alpha > 1))
        return cn_error_set(err, CN_ERR_ARG, "likelihood-ratio test: bad arguments");
    memset(out, 0, sizeof *out);
    out->alt = alt;
    double *tail = cn_malloc(sizeof(double) * 3 * (size_t)n);
    if (!tail) return cn_error_set(err, CN_ERR_NOMEM, "likelihood-ratio test: out of memory");
    double *ltail = tail + n, *w = tail + 2 * (size_t)n;
    int m = 0;
    double sum = 0, suml = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            cn_free(tail);
            return cn_error_set(err, CN_ERR_NONFINITE, "value %d is %g", i + 1, x[i]);
        }
        if (x[i] >= fit->xmin) tail[m++] = x[i];
    }
    if (m < 2) {
        cn_free(tail);
        return cn_error_set(err, CN_ERR_ARG, "likelihood-ratio test: %d values at or above x_min", m);
    }
    /* the distinct values with their counts: integer data have few, which makes every likelihood cheap */
    gsl_sort(tail, 1, (size_t)m);
    int nu = 0;
    for (int i = 0; i < m; i++) {
        if (nu == 0 || tail[i] != tail[nu - 1]) tail[nu] = tail[i], w[nu++] = 0;
        w[nu - 1]++;
    }
    for (int i = 0; i < nu; i++) {
        ltail[i] = log(tail[i]);
        sum += w[i] * tail[i], suml += w[i] * ltail[i], suml2 += w[i] * ltail[i] * ltail[i];
    }
    lr_data d = {tail, ltail, w, nu, m, fit->discrete, fit->xmin, alt};
    double lzeta = fit->discrete ? pl_log_hzeta(fit->alpha, fit->xmin) : 0;
    double pl_ll = 0;
    for (int i = 0; i < nu; i++) pl_ll += w[i] * pl_logp(fit, lzeta, tail[i]);

    double p[3] = {0, 0, 0};
    int rc = CN_OK;
    double mean_excess = sum / m - fit->xmin;
    if (alt == CN_PL_EXPONENTIAL) {
        /* closed forms: continuous 1/mean(x - xmin); discrete (geometric) e^-lambda = e/(1 + e), e the mean excess */
        p[0] = fit->discrete ? log1p(1 / mean_excess) : 1 / mean_excess;
    } else {
        double mu = suml / m, sd = sqrt(fmax(suml2 / m - mu * mu, 1e-12)), start[2];
        if (alt == CN_PL_LOGNORMAL) start[0] = mu, start[1] = log(sd);
        else if (alt == CN_PL_STRETCHED_EXP) start[0] = -log(sum / m), start[1] = log(0.5);
        else start[0] = fit->discrete ? log(fit->alpha - 1) : fit->alpha, start[1] = log(0.1 / (sum / m));
        rc = fit_nm(&d, start, p);
    }
    if (rc) {
        cn_free(tail);
        return cn_error_set(err, rc, "likelihood-ratio test against the %s: the fit failed", alt_names[alt]);
    }
    double alt_ll = alt_loglik(&d, p);
    if (alt == CN_PL_TRUNCATED && !(alt_ll >= pl_ll)) {
        /* the optimum is the boundary lambda -> 0, the power law itself */
        p[0] = fit->alpha, p[1] = 0, alt_ll = pl_ll;
    }
    out->param[0] = p[0], out->param[1] = p[1];
    out->loglik = alt_ll;
    /* Vuong: the pointwise ratios, their sum and spread */
    double norm = p[1] == 0 && alt == CN_PL_TRUNCATED ? 0 : alt_norm(&d, p), s1 = 0, s2 = 0;
    p[2] = log(p[0]);
    for (int i = 0; i < nu; i++) {
        double l = pl_logp(fit, lzeta, tail[i]) - (p[1] == 0 && alt == CN_PL_TRUNCATED
                                                        ? pl_logp(fit, lzeta, tail[i])
                                                        : alt_logp(&d, p, norm, tail[i], ltail[i]));
        s1 += w[i] * l;
        s2 += w[i] * l * l;
    }
    cn_free(tail);
    double mean = s1 / m, var = fmax(s2 / m - mean * mean, 0);
    out->llr = s1;
    out->R = var > 0 ? s1 / sqrt(m * var) : 0;
    if (alt == CN_PL_TRUNCATED) out->p_value = 0.5 * gsl_cdf_chisq_Q(2 * fabs(s1), 1);
    else out->p_value = var > 0 ? gsl_sf_erfc(fabs(out->R) / M_SQRT2) : 1;
    if (!isfinite(out->R) || !isfinite(alt_ll))
        return cn_error_set(err, CN_ERR_ARG, "likelihood-ratio test against the %s: no finite likelihood", alt_names[alt]);
    return CN_OK;
}
