/* powerlaw.c: power-law fits by the method of Clauset, Shalizi & Newman (2009, SIAM Review 51:661): the MLE
 * of alpha above x_min (closed form for continuous data, the exact discrete MLE with the Hurwitz zeta for
 * integers), x_min by minimising the Kolmogorov-Smirnov distance, and the standard error of alpha.
 *
 * Speed: the sample is sorted once; suffix sums of the logs give every candidate's continuous MLE in O(1).
 * The KS distance of a candidate is computed exactly but lazily (ks_refine): both CDFs are monotone, so the
 * distance inside a block of points is bounded by the values at its ends, and only blocks whose bound can
 * still raise the maximum are split; a candidate is dropped as soon as its distance reaches the best so far.
 * That costs about sqrt(n) log n evaluations per candidate instead of n, and the same code serves integer
 * data, where each evaluation is a Hurwitz zeta. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_sf_zeta.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "avalanche/powerlaw.h"

void cn_powerlaw_opts_default(cn_powerlaw_opts *o)
{
    memset(o, 0, sizeof *o);
    o->min_tail = 50;
    o->max_candidates = 1000;
}

int pl_work_init(pl_work *w, int cap, int discrete)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->discrete = discrete;
    w->z = cn_malloc(sizeof(double) * (size_t)cap);
    w->lz = cn_malloc(sizeof(double) * (size_t)cap);
    w->suf = cn_malloc(sizeof(long double) * (size_t)(cap + 1));
    w->u = cn_malloc(sizeof(double) * (size_t)cap);
    w->first = cn_malloc(sizeof(int) * (size_t)(cap + 1));
    w->cand = cn_malloc(sizeof(int) * (size_t)cap);
    if (!w->z || !w->lz || !w->suf || !w->u || !w->first || !w->cand) {
        pl_work_free(w);
        return CN_ERR_NOMEM;
    }
    return CN_OK;
}

void pl_work_free(pl_work *w)
{
    cn_free(w->z);
    cn_free(w->lz);
    cn_free(w->suf);
    cn_free(w->u);
    cn_free(w->first);
    cn_free(w->cand);
    memset(w, 0, sizeof *w);
}

void pl_work_index(pl_work *w, int n)
{
    w->n = n;
    w->suf[n] = 0;
    for (int i = n - 1; i >= 0; i--) w->suf[i] = w->suf[i + 1] + w->lz[i];
    int nd = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || w->z[i] != w->z[i - 1]) {
            w->u[nd] = w->z[i];
            w->first[nd++] = i;
        }
    w->first[nd] = n;
    w->nd = nd;
}

double pl_log_hzeta(double alpha, double q)
{
    gsl_sf_result r;
    if (gsl_sf_hzeta_e(alpha, q, &r) != GSL_SUCCESS || !(r.val > 0)) return NAN;
    return log(r.val);
}

/* ---------------------------------------------------------------- discrete MLE */

typedef struct {
    double xmin, m, sum_log;
} zeta_nll;

/* minus the log-likelihood: m ln zeta(alpha, xmin) + alpha sum ln x; convex in alpha */
static double zeta_objective(double alpha, void *p)
{
    const zeta_nll *z = p;
    if (!(alpha > 1)) return INFINITY;
    double lz = pl_log_hzeta(alpha, z->xmin);
    return isnan(lz) ? INFINITY : z->m * lz + alpha * z->sum_log;
}

double pl_discrete_alpha(double xmin, double m, double sum_log)
{
    zeta_nll p = {xmin, m, sum_log};
    /* CSN eq. 3.7, the continuous approximation, as the starting point */
    double denom = sum_log - m * log(xmin - 0.5);
    double mid = denom > 0 ? 1 + m / denom : 2.5;
    mid = fmin(fmax(mid, 1.05), 30);
    double fm = zeta_objective(mid, &p);
    double lo = 1 + (mid - 1) / 2, hi = mid + 0.5, flo = zeta_objective(lo, &p), fhi = zeta_objective(hi, &p);
    /* walk the convex objective until mid is below both ends */
    for (int it = 0; it < 200 && !(fm < flo && fm < fhi); it++) {
        if (flo <= fm) {
            hi = mid, fhi = fm, mid = lo, fm = flo;
            lo = 1 + (mid - 1) / 2, flo = zeta_objective(lo, &p);
        } else {
            lo = mid, flo = fm, mid = hi, fm = fhi;
            hi = mid + 2 * (mid - lo), fhi = zeta_objective(hi, &p);
        }
        if (mid - 1 < 1e-9 || mid > 1e3) return NAN;
    }
    if (!(fm < flo && fm < fhi)) return NAN;
    gsl_min_fminimizer *s = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
    if (!s) return NAN;
    gsl_function f = {zeta_objective, &p};
    double a = NAN;
    if (gsl_min_fminimizer_set_with_values(s, &f, mid, fm, lo, flo, hi, fhi) == GSL_SUCCESS) {
        for (int it = 0; it < 200; it++) {
            if (gsl_min_fminimizer_iterate(s) != GSL_SUCCESS) break;
            a = gsl_min_fminimizer_x_minimum(s);
            if (gsl_min_test_interval(gsl_min_fminimizer_x_lower(s), gsl_min_fminimizer_x_upper(s), 1e-11, 0) ==
                GSL_SUCCESS)
                break;
        }
    }
    gsl_min_fminimizer_free(s);
    return a;
}

/* ---------------------------------------------------------------- KS distance of one candidate */

/* The tail as a sequence of points q with model CDF F_q (non-decreasing) and empirical CDF in [lo_q, hi_q];
 * the distance is max_q max(F_q - lo_q, hi_q - F_q).
 * continuous: q = 0..m-1 is the q-th tail value; lo = q/m, hi = (q+1)/m.
 * discrete: point 2j is the distinct value u_j, point 2j+1 the integer just below u_{j+1}; both have the
 * empirical CDF C_j/m (C_j: tail values <= u_j), F(x) = 1 - zeta(alpha, x+1)/zeta(alpha, xmin). */
typedef struct {
    const pl_work *w;
    int k, c, m, npts; /* first tail index in z, first distinct index, tail size, points */
    double alpha, lxmin, xmin, log_norm;
    double lb, stop; /* the distance so far; give up once lb >= stop */
} ks_ctx;

static double ks_F(const ks_ctx *s, int q)
{
    const pl_work *w = s->w;
    if (!w->discrete) return -expm1(-(s->alpha - 1) * (w->lz[s->k + q] - s->lxmin));
    int j = s->c + q / 2;
    double x = q % 2 == 0 ? w->u[j] + 1 : (j + 1 < w->nd ? w->u[j + 1] : INFINITY);
    if (isinf(x)) return 1;
    return -expm1(pl_log_hzeta(s->alpha, x) - s->log_norm);
}

static double ks_lo(const ks_ctx *s, int q)
{
    if (!s->w->discrete) return (double)q / s->m;
    int j = s->c + q / 2;
    return (double)(s->w->first[j + 1] - s->k) / s->m;
}

static double ks_hi(const ks_ctx *s, int q) { return s->w->discrete ? ks_lo(s, q) : (double)(q + 1) / s->m; }

static double ks_dev(const ks_ctx *s, int q, double F) { return fmax(F - ks_lo(s, q), ks_hi(s, q) - F); }

/* Raises s->lb to the largest deviation strictly between q0 and q1 (whose F are known and already counted),
 * splitting only where the monotone bound allows more than lb. 1 once lb >= stop. */
static int ks_refine(ks_ctx *s, int q0, double F0, int q1, double F1)
{
    if (q1 - q0 <= 1) return 0;
    double ub = fmax(F1 - ks_lo(s, q0 + 1), ks_hi(s, q1 - 1) - F0);
    if (ub <= s->lb) return 0;
    int mid = q0 + (q1 - q0) / 2;
    double Fm = ks_F(s, mid);
    s->lb = fmax(s->lb, ks_dev(s, mid, Fm));
    if (s->lb >= s->stop) return 1;
    double ubl = fmax(Fm - ks_lo(s, q0 + 1), ks_hi(s, mid - 1) - F0);
    double ubr = fmax(F1 - ks_lo(s, mid + 1), ks_hi(s, q1 - 1) - Fm);
    if (ubl >= ubr) return ks_refine(s, q0, F0, mid, Fm) || ks_refine(s, mid, Fm, q1, F1);
    return ks_refine(s, mid, Fm, q1, F1) || ks_refine(s, q0, F0, mid, Fm);
}

/* The KS distance, or a value >= stop when it is at least stop. */
static double ks_distance(ks_ctx *s)
{
    s->lb = 0;
    int last = s->npts - 1;
    double F0 = ks_F(s, 0), F1 = ks_F(s, last);
    s->lb = fmax(ks_dev(s, 0, F0), ks_dev(s, last, F1));
    if (s->lb >= s->stop) return s->lb;
    ks_refine(s, 0, F0, last, F1);
    return s->lb;
}

/* ---------------------------------------------------------------- one candidate */

typedef struct {
    double xmin, alpha, ks;
    int k, c, m;
} pl_cand;

/* alpha of the tail starting at z[k] (distinct index c) with lower bound xmin; 0 if undefined */
static int cand_alpha(pl_cand *p, const pl_work *w)
{
    long double sum_log = w->suf[p->k];
    if (!w->discrete) {
        long double d = sum_log - (long double)p->m * log(p->xmin);
        if (!(d > 0)) return 0;
        p->alpha = 1 + p->m / (double)d;
    } else {
        p->alpha = pl_discrete_alpha(p->xmin, p->m, (double)sum_log);
    }
    return isfinite(p->alpha) && p->alpha > 1;
}

static void cand_ks(pl_cand *p, const pl_work *w, double stop)
{
    ks_ctx s = {.w = w, .k = p->k, .c = p->c, .m = p->m, .alpha = p->alpha, .xmin = p->xmin,
                .lxmin = log(p->xmin), .stop = stop};
    s.npts = w->discrete ? 2 * (w->nd - p->c) : p->m;
    if (w->discrete) s.log_norm = pl_log_hzeta(p->alpha, p->xmin);
    p->ks = ks_distance(&s);
    /* a fixed x_min below the smallest tail value: the integers in between, where the empirical CDF is 0 */
    if (w->discrete && w->u[p->c] > p->xmin)
        p->ks = fmax(p->ks, -expm1(pl_log_hzeta(p->alpha, w->u[p->c]) - s.log_norm));
}

static void cand_at(pl_cand *p, const pl_work *w, int c)
{
    p->c = c;
    p->k = w->first[c];
    p->m = w->n - p->k;
    p->xmin = w->u[c];
}

/* ---------------------------------------------------------------- the fit */

/* The candidates: distinct values leaving >= min_tail points, thinned to max evenly in log(tail size). */
static int candidates(pl_work *w, int min_tail, int max)
{
    int nc = 0;
    while (nc < w->nd && w->n - w->first[nc] >= min_tail) nc++;
    if (nc < 1 || max <= 0 || nc <= max) {
        for (int c = 0; c < nc; c++) w->cand[c] = c;
        return nc;
    }
    double lbig = log((double)(w->n - w->first[0])), lsmall = log((double)(w->n - w->first[nc - 1]));
    int out = 0, c = 0;
    for (int g = 0; g < max; g++) {
        double target = exp(lbig + (lsmall - lbig) * g / (max - 1));
        while (c < nc - 1 && w->n - w->first[c] > target + 1e-9) c++;
        if (out == 0 || w->cand[out - 1] != c) w->cand[out++] = c;
    }
    return out;
}

static void finish(cn_powerlaw_fit *out, const pl_work *w, const pl_cand *b, int ncand)
{
    out->discrete = w->discrete;
    out->alpha = b->alpha;
    out->xmin = b->xmin;
    out->ks = b->ks;
    out->n = w->n;
    out->n_tail = b->m;
    out->candidates = ncand;
    double sum_log = (double)w->suf[b->k];
    if (!w->discrete) {
        out->sigma = (b->alpha - 1) / sqrt(b->m);
        out->loglik = b->m * log(b->alpha - 1) - b->m * log(b->xmin) -
                      b->alpha * (double)(w->suf[b->k] - (long double)b->m * log(b->xmin));
    } else {
        /* CSN eq. 3.6: the observed information is m times the second derivative of ln zeta(alpha, xmin) in
         * alpha (the variance of ln x under the fit), by central differences of GSL's zeta */
        double h = 1e-4 * b->alpha;
        double d2 = (pl_log_hzeta(b->alpha + h, b->xmin) - 2 * pl_log_hzeta(b->alpha, b->xmin) +
                     pl_log_hzeta(b->alpha - h, b->xmin)) / (h * h);
        out->sigma = d2 > 0 ? 1 / sqrt(b->m * d2) : NAN;
        out->loglik = -b->m * pl_log_hzeta(b->alpha, b->xmin) - b->alpha * sum_log;
    }
    out->p_value = NAN;
    out->replicates = 0;
}

int pl_fit_sorted(cn_powerlaw_fit *out, pl_work *w, const cn_powerlaw_opts *o, cn_error *err)
{
    pl_cand best = {.ks = INFINITY};
    if (o->xmin > 0) {
        int c = 0;
        while (c < w->nd && w->u[c] < o->xmin) c++;
        int m = c < w->nd ? w->n - w->first[c] : 0;
        if (m < o->min_tail)
            return cn_error_set(err, CN_ERR_ARG, "%d values at or above x_min = %g; at least %d are needed", m, o->xmin,
                                o->min_tail);
        cand_at(&best, w, c);
        best.xmin = o->xmin;
        if (!cand_alpha(&best, w))
            return cn_error_set(err, CN_ERR_ARG, "no finite MLE of alpha above x_min = %g (all values equal?)", o->xmin);
        cand_ks(&best, w, INFINITY);
        finish(out, w, &best, 1);
        return CN_OK;
    }
    int nc = candidates(w, o->min_tail, o->max_candidates);
    if (nc < 1)
        return cn_error_set(err, CN_ERR_ARG, "%d values; at least %d are needed above x_min", w->n, o->min_tail);
    /* a coarse pass first finds a small distance early, so that most candidates of the full pass stop soon;
     * ties keep the smaller x_min, as a scan in ascending order would */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nc; i++) {
            if ((i % 16 == 0) != (pass == 0)) continue;
            pl_cand p;
            cand_at(&p, w, w->cand[i]);
            if (!cand_alpha(&p, w)) continue;
            cand_ks(&p, w, best.ks);
            if (p.ks < best.ks || (p.ks == best.ks && p.xmin < best.xmin)) best = p;
        }
    if (!isfinite(best.ks))
        return cn_error_set(err, CN_ERR_ARG, "no x_min gives a finite MLE of alpha (constant values?)");
    finish(out, w, &best, nc);
    return CN_OK;
}

static int check_opts(const cn_powerlaw_opts *o, cn_error *err)
{
    if (!(o->xmin >= 0) || !isfinite(o->xmin)) return cn_error_set(err, CN_ERR_ARG, "x_min %g: must be >= 0", o->xmin);
    if (o->discrete && o->xmin > 0 && (o->xmin != floor(o->xmin)))
        return cn_error_set(err, CN_ERR_ARG, "x_min %g: a discrete fit needs an integer x_min", o->xmin);
    if (o->min_tail < 2) return cn_error_set(err, CN_ERR_ARG, "min_tail %d: must be >= 2", o->min_tail);
    if (o->max_candidates < 0 || o->max_candidates == 1)
        return cn_error_set(err, CN_ERR_ARG, "max_candidates %d: must be 0 (all) or >= 2", o->max_candidates);
    if (o->bootstrap < 0) return cn_error_set(err, CN_ERR_ARG, "bootstrap %d: must be >= 0", o->bootstrap);
    return CN_OK;
}

int cn_powerlaw_estimate(cn_powerlaw_fit *out, const double *x, int n, const cn_powerlaw_opts *o, cn_error *err)
{
    gsl_set_error_handler_off(); /* GSL's default handler aborts; zeta's underflows are reported as NaN */
    if (!out || !x || !o || n < 1) return cn_error_set(err, CN_ERR_ARG, "power-law fit: no data or no options");
    memset(out, 0, sizeof *out);
    out->p_value = NAN;
    int rc = check_opts(o, err);
    if (rc) return rc;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) return cn_error_set(err, CN_ERR_NONFINITE, "value %d is %g", i + 1, x[i]);
        if (!(x[i] > 0))
            return cn_error_set(err, CN_ERR_ARG, "value %d is %g: a power law needs positive values", i + 1, x[i]);
        if (o->discrete && x[i] != floor(x[i]))
            return cn_error_set(err, CN_ERR_ARG, "value %d is %g: a discrete fit needs integers", i + 1, x[i]);
    }
    pl_work w;
    if ((rc = pl_work_init(&w, n, o->discrete))) return cn_error_set(err, rc, "power-law fit: out of memory");
    memcpy(w.z, x, sizeof(double) * (size_t)n);
    gsl_sort(w.z, 1, (size_t)n);
    if (w.z[0] == w.z[n - 1]) {
        double v = w.z[0];
        pl_work_free(&w);
        return cn_error_set(err, CN_ERR_ARG, "all %d values are %g: no power law to fit", n, v);
    }
    for (int i = 0; i < n; i++) w.lz[i] = log(w.z[i]);
    pl_work_index(&w, n);
    rc = pl_fit_sorted(out, &w, o, err);
    if (!rc && o->bootstrap > 0) rc = pl_bootstrap(out, &w, o, err);
    pl_work_free(&w);
    return rc;
}

double cn_powerlaw_ccdf(const cn_powerlaw_fit *f, double x)
{
    if (!(x > f->xmin)) return 1;
    if (!f->discrete) return exp(-(f->alpha - 1) * log(x / f->xmin));
    return exp(pl_log_hzeta(f->alpha, ceil(x)) - pl_log_hzeta(f->alpha, f->xmin));
}
