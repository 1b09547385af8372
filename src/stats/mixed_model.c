/* mixed_model.c: a linear mixed model with one random intercept per group, fitted by REML or ML, giving the
 * numbers statsmodels' MixedLM gives at its optimum (statsmodels 0.13, Debian 12's python3-statsmodels).
 *
 * The model: y = X beta + Z u + e, u ~ N(0, tau2 I) one per group, e ~ N(0, s2 I), so V = s2 V0 with
 * V0 = I + gamma Z Z', gamma = tau2 / s2. V0 is block diagonal and each block I + gamma 1 1' has the inverse
 * I - gamma / (1 + gamma n_g) 1 1' and the determinant 1 + gamma n_g, so every quantity below is a sum over
 * groups of closed forms: no n x n matrix is formed. With xbar_g, ybar_g the group means, d_g = 1 / (1 + gamma
 * n_g) and W, Wy the within-group (group-mean-centred) cross products of X and y,
 *     A(gamma) = X' V0^-1 X = W + sum_g n_g d_g xbar_g xbar_g',   b = X' V0^-1 y = Wy + sum_g n_g d_g xbar_g ybar_g
 *     beta(gamma) = A^-1 b,   RSS(gamma) = r' V0^-1 r = sum_i ((y_i - ybar_g) - (x_i - xbar_g)' beta)^2
 *                                                       + sum_g n_g d_g rbar_g^2,   rbar_g = ybar_g - xbar_g' beta.
 * Every term is a sum of non-negative parts computed from centred data, so an offset in y or X (accuracies
 * near 0.9) does not cancel digits away, as c - b' A^-1 b would. The scale is profiled out too,
 * s2 = RSS / m with m = n - k (REML) or n (ML), which leaves the deviance (-2 llf up to a constant)
 *     D(gamma) = m ln RSS + sum_g ln(1 + gamma n_g) [+ ln det A under REML],
 * and its derivative (the envelope theorem drops beta's motion from RSS'):
 *     D'(gamma) = -m sum_g (n_g d_g rbar_g)^2 / RSS + sum_g n_g d_g [- sum_g n_g^2 d_g^2 xbar_g' A^-1 xbar_g].
 * Each evaluation costs O(n k + G k^2 + k^3); the setup O(n k^2).
 *
 * The search, over t = ln gamma so that one bracket serves variances of any ratio: D on a grid of t from
 * -28 to 23 (gamma from 7e-13 to 1e10) and at gamma = 0; around the lowest interior grid point, GSL's Brent
 * minimiser, to an interval 1e-6 wide in t; then a bracketing root of D' (GSL's Brent solver) inside that
 * interval (or the grid bracket, if D' does not change sign in it), to 1e-12 relative. A minimiser on a
 * function that is flat at its minimum resolves the location only to about sqrt(epsilon), 1e-8, and a
 * tighter interval may then miss the minimum altogether; the root of the analytic derivative is good to
 * rounding (1e-15 against statsmodels' score on the test data). When gamma = 0 scores lowest and D rises
 * from there (D'(0) >= 0), the estimate is tau2 = 0 exactly: the boundary.
 *
 * What statsmodels 0.13.5 does (statsmodels/regression/mixed_linear_model.py), and so what this file does:
 *  - loglike: ML: -sum ln(1 + gamma n_g)/2 - n/2 ln RSS - n/2 ln 2 pi + n/2 ln n - n/2; REML: the same with
 *    m = n - k for n, minus ln det(X' V0^-1 X) / 2 (no ln det X'X term). llf is that at the estimate.
 *  - fit() takes the standard errors from the inverse of minus its Hessian of that likelihood (scale
 *    profiled, fixed effects not) in (beta, gamma), evaluated at the GLS beta: the cross terms between beta
 *    and gamma are kept, so bse_fe is not sqrt(diag(s2 A^-1)) unless those vanish (balanced designs). The
 *    blocks, in the notation above with e~_g = n_g d_g rbar_g, x~_g = n_g d_g xbar_g, s_g = n_g d_g:
 *      -H_bb = A / s2,   -H_bg = sum_g x~_g e~_g / s2,
 *      H_gg = sum_g s_g^2 / 2 - m/2 (2 sum_g s_g e~_g^2 / RSS - (sum_g e~_g^2)^2 / RSS^2)
 *             [+ (tr(A^-1 M A^-1 M) - tr(A^-1 F)) / 2 under REML, M = sum_g x~_g x~_g', F = 2 sum_g s_g x~_g x~_g'].
 *  - tau2 = gamma s2 ("Group Var"), s2 is "scale"; z = beta / se and p = 2 Q(|z|) (normal, not t).
 * statsmodels' own optimiser (BFGS on sqrt(gamma)) stops where its gradient is small, which leaves tau2
 * 1e-6 to 1e-4 relative from the optimum; tests/stats_zoo_ref.py therefore locates statsmodels' optimum by a
 * root of statsmodels' own score and reads its numbers there (the test says more). */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_roots.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include "critnet.h"

#define KMAX CN_STATS_MIXED_MAX_K
#define T_LO (-28.0)
#define T_HI 23.0
#define T_STEP 1.0
#define MAX_ITER 200
/* a column of X whose part not explained by the columns before it holds less than this share of its sum
 * of squares counts as collinear: beta would carry fewer than 3 significant digits */
#define RANK_TOL 1e-13
#define PI 3.14159265358979323846 /* M_PI is not in strict C11 */

typedef struct {
    int n, k, G, m, reml;
    const double *y, *X;
    int *gi;       /* (n) group index of each observation, 0..G-1 in ascending label order */
    double *ng;    /* (G) group sizes */
    double *xbar;  /* (G, k) group means of X */
    double *ybar;  /* (G) group means of y */
    double *rbar;  /* (G) group means of the residuals, of the last evaluation */
    double W[KMAX * KMAX], Wy[KMAX];
    /* the last evaluation: k x k matrices are symmetric, stored column-major for LAPACK */
    double gamma, A[KMAX * KMAX], L[KMAX * KMAX], beta[KMAX], rss, logdet_a, dev;
    int ok; /* A(gamma) positive definite and RSS > 0 */
} mm;

/* D(gamma) and everything it needs into c's last-evaluation fields; +inf where A is not positive definite */
static double evaluate(mm *c, double gamma)
{
    int k = c->k;
    c->gamma = gamma;
    c->ok = 0;
    c->dev = HUGE_VAL;
    double b[KMAX];
    for (int i = 0; i < k * k; i++) c->A[i] = c->W[i];
    for (int j = 0; j < k; j++) b[j] = c->Wy[j];
    double logdet_v = 0;
    for (int g = 0; g < c->G; g++) {
        double w = c->ng[g] / (1 + gamma * c->ng[g]);
        const double *xg = c->xbar + (size_t)g * k;
        for (int a = 0; a < k; a++) {
            b[a] += w * xg[a] * c->ybar[g];
            for (int j = 0; j < k; j++) c->A[a + j * k] += w * xg[a] * xg[j];
        }
        logdet_v += log1p(gamma * c->ng[g]);
    }
    for (int i = 0; i < k * k; i++) c->L[i] = c->A[i];
    if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', k, c->L, k) != 0) return c->dev;
    for (int j = 0; j < k; j++) c->beta[j] = b[j];
    LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', k, 1, c->L, k, c->beta, k);
    c->logdet_a = 0;
    for (int j = 0; j < k; j++) c->logdet_a += 2 * log(c->L[j + j * k]);

    double rss = 0;
    for (int i = 0; i < c->n; i++) {
        int g = c->gi[i];
        const double *xi = c->X + (size_t)i * k, *xg = c->xbar + (size_t)g * k;
        double r = c->y[i] - c->ybar[g];
        for (int j = 0; j < k; j++) r -= (xi[j] - xg[j]) * c->beta[j];
        rss += r * r;
    }
    for (int g = 0; g < c->G; g++) {
        const double *xg = c->xbar + (size_t)g * k;
        double r = c->ybar[g];
        for (int j = 0; j < k; j++) r -= xg[j] * c->beta[j];
        c->rbar[g] = r;
        rss += c->ng[g] / (1 + gamma * c->ng[g]) * r * r;
    }
    c->rss = rss;
    if (!(rss > 0)) return c->dev;
    c->ok = 1;
    c->dev = c->m * log(rss) + logdet_v + (c->reml ? c->logdet_a : 0);
    return c->dev;
}

/* L^-1 v by forward substitution (L from the last evaluation) */
static void lower_solve(double *out, const mm *c, const double *v)
{
    int k = c->k;
    for (int a = 0; a < k; a++) {
        double s = v[a];
        for (int j = 0; j < a; j++) s -= c->L[a + j * k] * out[j];
        out[a] = s / c->L[a + a * k];
    }
}

/* D'(gamma) at the last evaluation */
static double derivative(const mm *c)
{
    double rss_term = 0, det_v = 0, det_a = 0;
    for (int g = 0; g < c->G; g++) {
        double d = 1 / (1 + c->gamma * c->ng[g]), nd = c->ng[g] * d, e = nd * c->rbar[g];
        rss_term += e * e;
        det_v += nd;
        if (c->reml) {
            double v[KMAX], q = 0;
            lower_solve(v, c, c->xbar + (size_t)g * c->k);
            for (int j = 0; j < c->k; j++) q += v[j] * v[j];
            det_a += nd * nd * q;
        }
    }
    return -c->m * rss_term / c->rss + det_v - det_a;
}

static double dev_of_t(double t, void *p) { return evaluate(p, exp(t)); }

static double slope_of_gamma(double gamma, void *p)
{
    mm *c = p;
    evaluate(c, gamma);
    return c->ok ? derivative(c) : NAN;
}

/* A root of D' in [lo, hi], where D'(lo) < 0 < D'(hi), into *gamma; 1 if the bracket closed to 1e-12 */
static int slope_root(double *gamma, mm *c, gsl_root_fsolver *s, double lo, double hi)
{
    gsl_function F = {slope_of_gamma, c};
    if (gsl_root_fsolver_set(s, &F, lo, hi) != GSL_SUCCESS) return 0;
    for (int it = 0; it < MAX_ITER; it++) {
        if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS) break;
        *gamma = gsl_root_fsolver_root(s);
        if (gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s), 0, 1e-12) ==
            GSL_SUCCESS)
            return 1;
    }
    return 0;
}

/* The estimate of gamma: *gamma, and whether the search converged and ended on the boundary. */
static int search(mm *c, double *gamma, int *converged, int *boundary)
{
    enum { NT = (int)((T_HI - T_LO) / T_STEP) + 1 };
    double dev[NT], d0 = evaluate(c, 0);
    int best = 0;
    for (int j = 0; j < NT; j++) {
        dev[j] = evaluate(c, exp(T_LO + j * T_STEP));
        if (dev[j] < dev[best]) best = j;
    }
    *converged = 0;
    *boundary = 0;
    gsl_min_fminimizer *mn = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
    gsl_root_fsolver *rt = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!mn || !rt) {
        gsl_min_fminimizer_free(mn);
        gsl_root_fsolver_free(rt);
        return CN_ERR_NOMEM;
    }
    *gamma = exp(T_LO + best * T_STEP);
    if (best > 0 && best < NT - 1 && dev[best] < d0) {
        double t = T_LO + best * T_STEP, a = t - T_STEP, b = t + T_STEP;
        if (dev[best] < dev[best - 1] && dev[best] < dev[best + 1]) {
            gsl_function F = {dev_of_t, c};
            if (gsl_min_fminimizer_set_with_values(mn, &F, t, dev[best], a, dev[best - 1], b, dev[best + 1]) ==
                GSL_SUCCESS) {
                for (int it = 0; it < MAX_ITER; it++) {
                    if (gsl_min_fminimizer_iterate(mn) != GSL_SUCCESS) break;
                    double lo = gsl_min_fminimizer_x_lower(mn), hi = gsl_min_fminimizer_x_upper(mn);
                    if (gsl_min_test_interval(lo, hi, 1e-6, 0) == GSL_SUCCESS) {
                        *converged = 1;
                        break;
                    }
                }
                t = gsl_min_fminimizer_x_minimum(mn);
                *gamma = exp(t);
                /* polish inside Brent's last interval, or the grid bracket if D' does not change sign there */
                double lo = gsl_min_fminimizer_x_lower(mn), hi = gsl_min_fminimizer_x_upper(mn);
                if (!(slope_of_gamma(exp(lo), c) < 0 && slope_of_gamma(exp(hi), c) > 0)) {
                    lo = a;
                    hi = b;
                }
                /* Near the minimum D is flat to rounding, so D(root) may come out a few ulps above D at Brent's
                 * point although the root is the better estimate; only a real rise rejects it. */
                double root, d_brent = evaluate(c, *gamma);
                if (slope_of_gamma(exp(lo), c) < 0 && slope_of_gamma(exp(hi), c) > 0 &&
                    slope_root(&root, c, rt, exp(lo), exp(hi)) &&
                    evaluate(c, root) <= d_brent + 1e-12 * (1 + fabs(d_brent))) {
                    *gamma = root;
                    *converged = 1;
                }
            }
        } else {
            /* a flat stretch of grid: straight to the root of D' across it */
            *converged = slope_of_gamma(exp(a), c) < 0 && slope_of_gamma(exp(b), c) > 0 &&
                         slope_root(gamma, c, rt, exp(a), exp(b));
        }
    } else if (best == NT - 1 && dev[best] < d0) {
        /* still falling at gamma = 1e10: the groups explain the data to rounding; report the top */
    } else {
        evaluate(c, 0);
        if (derivative(c) >= 0) {
            *gamma = 0;
            *boundary = 1;
            *converged = 1;
        } else {
            /* D falls from 0 but the grid saw no lower point: the minimum lies below the first grid point
             * past it (gamma < 1e-12 or so); the first grid point where D rises closes the bracket */
            for (int j = 0; j < NT; j++) {
                if (slope_of_gamma(exp(T_LO + j * T_STEP), c) > 0) {
                    double lo = j ? exp(T_LO + (j - 1) * T_STEP) : 0;
                    *converged = slope_root(gamma, c, rt, lo, exp(T_LO + j * T_STEP));
                    break;
                }
            }
        }
    }
    gsl_min_fminimizer_free(mn);
    gsl_root_fsolver_free(rt);
    return CN_OK;
}

/* Standard errors as statsmodels' fit: sqrt of the diagonal of (-H)^-1, H the Hessian in (beta, gamma) of
 * the scale-profiled log-likelihood (see the top of the file), at the last evaluation. NaN where -H is
 * singular or a variance comes out non-positive. */
static void standard_errors(double *se, const mm *c)
{
    int k = c->k, K = k + 1;
    double scale = c->rss / c->m;
    double ai[KMAX * KMAX], negh[(KMAX + 1) * (KMAX + 1)], M[KMAX * KMAX] = {0}, F[KMAX * KMAX] = {0};
    double hbg[KMAX] = {0}, hgg = 0, b_sum = 0, d_sum = 0;
    for (int i = 0; i < k * k; i++) ai[i] = c->L[i];
    int inv_ok = LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'L', k, ai, k) == 0;
    for (int a = 0; a < k; a++)
        for (int j = a + 1; j < k; j++) ai[a + j * k] = ai[j + a * k];
    for (int g = 0; g < c->G; g++) {
        double d = 1 / (1 + c->gamma * c->ng[g]), s = c->ng[g] * d, e = s * c->rbar[g];
        const double *xg = c->xbar + (size_t)g * k;
        hgg += s * s / 2;
        b_sum += e * e;
        d_sum += 2 * s * e * e;
        for (int a = 0; a < k; a++) {
            hbg[a] += s * xg[a] * e;
            for (int j = 0; j < k; j++) {
                M[a + j * k] += s * s * xg[a] * xg[j];
                F[a + j * k] += 2 * s * s * s * xg[a] * xg[j];
            }
        }
    }
    hgg -= c->m / 2.0 * (d_sum / c->rss - b_sum * b_sum / (c->rss * c->rss));
    if (c->reml) {
        double am[KMAX * KMAX] = {0}, tr_amam = 0, tr_af = 0; /* A^-1 M */
        for (int a = 0; a < k; a++)
            for (int j = 0; j < k; j++)
                for (int l = 0; l < k; l++) am[a + j * k] += ai[a + l * k] * M[l + j * k];
        for (int a = 0; a < k; a++)
            for (int j = 0; j < k; j++) {
                tr_amam += am[a + j * k] * am[j + a * k];
                tr_af += ai[a + j * k] * F[j + a * k];
            }
        hgg += (tr_amam - tr_af) / 2;
    }
    for (int a = 0; a < k; a++) {
        for (int j = 0; j < k; j++) negh[a + j * K] = c->A[a + j * k] / scale;
        negh[a + k * K] = negh[k + a * K] = hbg[a] / scale;
    }
    negh[k + k * K] = -hgg;
    lapack_int ipiv[KMAX + 1];
    double work[(KMAX + 1) * 64];
    lapack_int lwork = (lapack_int)(sizeof work / sizeof *work);
    int ok = inv_ok && LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, K, K, negh, K, ipiv) == 0 &&
             LAPACKE_dgetri_work(LAPACK_COL_MAJOR, K, negh, K, ipiv, work, lwork) == 0;
    for (int a = 0; a < k; a++) {
        double v = negh[a + a * K];
        se[a] = ok && v > 0 ? sqrt(v) : NAN;
    }
}

typedef struct {
    int label, i;
} labelled;

static int by_label(const void *a, const void *b)
{
    int u = ((const labelled *)a)->label, v = ((const labelled *)b)->label;
    return (u > v) - (u < v);
}

/* gi, ng, the group means and the within-group cross products; CN_ERR_ARG where the design cannot be fit */
static int setup(mm *c, const int *group, labelled *work)
{
    int n = c->n, k = c->k;
    for (int i = 0; i < n; i++) work[i] = (labelled){group[i], i};
    qsort(work, (size_t)n, sizeof *work, by_label);
    int G = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && work[i].label != work[i - 1].label) G++;
        c->gi[work[i].i] = G;
    }
    c->G = G + 1;
    if (c->G < 2 || c->G >= n) return CN_ERR_ARG;

    for (int i = 0; i < n; i++) {
        int g = c->gi[i];
        c->ng[g] += 1;
        c->ybar[g] += c->y[i];
        for (int j = 0; j < k; j++) c->xbar[(size_t)g * k + j] += c->X[(size_t)i * k + j];
    }
    for (int g = 0; g < c->G; g++) {
        c->ybar[g] /= c->ng[g];
        for (int j = 0; j < k; j++) c->xbar[(size_t)g * k + j] /= c->ng[g];
    }
    for (int i = 0; i < n; i++) {
        int g = c->gi[i];
        double dx[KMAX], dy = c->y[i] - c->ybar[g];
        for (int j = 0; j < k; j++) dx[j] = c->X[(size_t)i * k + j] - c->xbar[(size_t)g * k + j];
        for (int a = 0; a < k; a++) {
            c->Wy[a] += dx[a] * dy;
            for (int j = 0; j < k; j++) c->W[a + j * k] += dx[a] * dx[j];
        }
    }

    /* rank: Cholesky of X'X = A(0) scaled to unit diagonal, whose pivots are 1 - R^2 of each column on the
     * ones before it */
    evaluate(c, 0);
    double s[KMAX], xs[KMAX * KMAX];
    for (int j = 0; j < k; j++) s[j] = c->A[j + j * k] > 0 ? 1 / sqrt(c->A[j + j * k]) : 0;
    for (int a = 0; a < k; a++)
        for (int j = 0; j < k; j++) xs[a + j * k] = c->A[a + j * k] * s[a] * s[j];
    if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', k, xs, k) != 0) return CN_ERR_ARG;
    for (int j = 0; j < k; j++)
        if (!(xs[j + j * k] * xs[j + j * k] > RANK_TOL)) return CN_ERR_ARG;
    /* y a combination of X's columns (a constant y, say) leaves an RSS of rounding error, not exactly 0, at
     * about 1e-32 of y'y; nothing is left to split between the variances */
    double yy = 0;
    for (int i = 0; i < c->n; i++) yy += c->y[i] * c->y[i];
    if (!c->ok || !(c->rss > 1e-24 * yy)) return CN_ERR_ARG;
    return CN_OK;
}

int cn_stats_mixed_intercept(cn_stats_mixed_fit *out, const double *y, const double *X, int n, int k,
                             const int *group, int reml)
{
    if (!out) return CN_ERR_ARG;
    *out = (cn_stats_mixed_fit){.tau2 = NAN, .s2 = NAN, .llf = NAN};
    for (int j = 0; j < CN_STATS_MIXED_MAX_K; j++) out->beta[j] = out->se[j] = out->z[j] = out->p[j] = NAN;
    reml = reml != 0;
    if (!y || !X || !group || k < 1 || k > CN_STATS_MIXED_MAX_K || n < 1 || n <= (reml ? k : 0)) return CN_ERR_ARG;
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) return CN_ERR_NONFINITE;
        for (int j = 0; j < k; j++)
            if (!isfinite(X[(size_t)i * k + j])) return CN_ERR_NONFINITE;
    }
    gsl_set_error_handler_off(); /* GSL's default handler aborts; we report through status codes */

    mm c = {.n = n, .k = k, .m = reml ? n - k : n, .reml = reml, .y = y, .X = X};
    /* one block: gi (n ints), ng, ybar, rbar (G <= n each), xbar (G k), and the label sort's work */
    size_t nd = (size_t)n * (3 + (size_t)k);
    char *block = cn_calloc(1, (size_t)n * sizeof(int) + nd * sizeof(double) + (size_t)n * sizeof(labelled));
    if (!block) return CN_ERR_NOMEM;
    double *d = (double *)block;
    c.ng = d;
    c.ybar = d + n;
    c.rbar = d + 2 * (size_t)n;
    c.xbar = d + 3 * (size_t)n;
    c.gi = (int *)(d + nd);
    labelled *work = (labelled *)(c.gi + n);

    int rc = setup(&c, group, work);
    double gamma = 0;
    int converged = 0, boundary = 0;
    if (!rc) rc = search(&c, &gamma, &converged, &boundary);
    if (!rc) {
        evaluate(&c, gamma);
        if (!c.ok) rc = CN_ERR_ARG;
        else if (!isfinite(c.dev)) rc = CN_ERR_NONFINITE; /* finite data whose squares overflow (|y| ~ 1e154) */
    }
    if (!rc) {
        double m = c.m, s2 = c.rss / m;
        out->s2 = s2;
        out->tau2 = gamma * s2;
        out->llf = -c.dev / 2 - m / 2 * log(2 * PI) + m / 2 * log(m) - m / 2;
        for (int j = 0; j < k; j++) out->beta[j] = c.beta[j];
        standard_errors(out->se, &c);
        for (int j = 0; j < k; j++) {
            out->z[j] = out->beta[j] / out->se[j];
            out->p[j] = 2 * gsl_cdf_ugaussian_Q(fabs(out->z[j]));
        }
        out->n = n;
        out->k = k;
        out->n_groups = c.G;
        out->reml = reml;
        out->boundary = boundary;
        out->converged = converged;
    }
    cn_free(block);
    return rc;
}
