/* meanfield.c: the mean-field prediction for random MLPs (Poole et al. 2016, Schoenholz et al. 2017):
 * the length map's fixed point q*, the slope chi1 there, xi_c and the predicted top exponent. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include "critnet.h"

/* Quadrature. Every expectation here is E_z[g(sqrt(q) z)], z ~ N(0,1), with g = phi^2 or phi'^2.
 *
 * Gauss-Hermite (what criticality-measures.md suggests) is not used, after measuring it: for an analytic
 * integrand it converges only like exp(-2 tau sqrt(2n)), tau being the distance of the nearest
 * singularity from the real axis, and tanh(sqrt(q) z) has poles at +-i pi / (2 sqrt q). With 101 nodes,
 * E[sech^4(sqrt(q) z)] is off by 2e-4 at q = 5 (tanh at sigma_w = 2.5) and by 2e-2 at q = 25; for the
 * piecewise-linear activations the node at z = 0 alone costs w_0 / sqrt(pi) ~ 0.08 in E[relu'^2].
 *
 * Instead: fold z onto [0, L] (g(x) + g(-x), so the kink of relu, leaky_relu and elu at 0 is an endpoint),
 * then composite Gauss-Legendre on panels graded geometrically towards 0 down to a width of 1/(4 sqrt q),
 * the scale on which tanh, sigmoid, gelu, silu and elu turn, and panels of width 1 on [1, L]. Each panel
 * keeps the nearest singularity at least its own width away, so 20 nodes per panel reach rounding
 * (checked against a trapezoid rule with h = 1e-5 for q from 1e-4 to 1e4). The mass beyond L = 12 is
 * below 1e-31. */
#define QUAD_NODES 20
#define QUAD_L 12
#define QUAD_MAX_GRADED 60 /* the innermost panel never narrower than 2^-60: its mass is then < 1e-18 */

#define INV_SQRT_2PI 0.39894228040143267794

/* The length map's iteration. */
#define FP_MAXIT 10000
#define FP_TOL 1e-12
#define FP_QMIN 1e-200 /* below this, q has decayed onto the fixed point q = 0 */
#define FP_QMAX 1e200  /* above this, q diverges */

typedef struct {
    gsl_integration_glfixed_table *gl;
    cn_act act;
    double sigma_w2, sigma_b2;
} mf_ctx;

enum { G_PHI2, G_DPHI2 };

static double g_eval(cn_act act, int which, double x)
{
    double v = which == G_PHI2 ? cn_act_value(act, x) : cn_act_deriv(act, x);
    return v * v;
}

/* sum over the Gauss-Legendre nodes of [a, b] of (g(s z) + g(-s z)) phi(z) */
static double panel(const mf_ctx *c, int which, double s, double a, double b)
{
    double sum = 0;
    for (size_t i = 0; i < QUAD_NODES; i++) {
        double z, w;
        gsl_integration_glfixed_point(a, b, i, &z, &w, c->gl);
        sum += w * (g_eval(c->act, which, s * z) + g_eval(c->act, which, -s * z)) * exp(-0.5 * z * z);
    }
    return sum;
}

/* E_z[g(sqrt(q) z)] */
static double expect(const mf_ctx *c, int which, double q)
{
    double s = sqrt(q);
    int k = (int)ceil(log2(4 * (s > 1 ? s : 1)));
    if (k < 2) k = 2;
    if (k > QUAD_MAX_GRADED) k = QUAD_MAX_GRADED;
    double sum = panel(c, which, s, 0, ldexp(1, -k));
    for (int j = k; j > 0; j--) sum += panel(c, which, s, ldexp(1, -j), ldexp(1, -j + 1));
    for (int j = 1; j < QUAD_L; j++) sum += panel(c, which, s, j, j + 1);
    return INV_SQRT_2PI * sum;
}

/* the length map F(q) = sigma_w^2 E[phi(sqrt q z)^2] + sigma_b^2 */
static double length_map(const mf_ctx *c, double q) { return c->sigma_w2 * expect(c, G_PHI2, q) + c->sigma_b2; }

static int sign(double x) { return (x > 0) - (x < 0); }

/* A root of G(q) = F(q) - q between a and b, where G changes sign (or vanishes at one end): bisection. */
static double bracket_solve(const mf_ctx *c, double a, double b, int *evals)
{
    double ga = length_map(c, a) - a;
    (*evals)++;
    if (ga == 0) return a;
    for (int i = 0; i < 200 && fabs(b - a) > 1e-15 * fmax(fabs(a), fabs(b)); i++) {
        double m = 0.5 * (a + b), gm = length_map(c, m) - m;
        (*evals)++;
        if (gm == 0) return m;
        if (sign(gm) == sign(ga)) {
            a = m;
            ga = gm;
        } else {
            b = m;
        }
    }
    return 0.5 * (a + b);
}

/* Iterates q_l = F(q_{l-1}) from q0 and reports the limit. F is increasing for these activations, so the
 * iterates move monotonically to the nearest fixed point in their direction. Near a bifurcation (sigma_w
 * close to critical) plain iteration contracts at a rate close to 1, so each step also tries an Aitken
 * extrapolation and accepts it only after checking the sign of F(q) - q there: a sign change brackets the
 * fixed point, which bisection then finds to rounding. A jump towards 0 scans down by decades instead,
 * which settles whether the iterates decay onto q = 0 (sigma_b = 0, phi(0) = 0) or stop above it. */
static void fixed_point(const mf_ctx *c, double q0, cn_meanfield *out)
{
    double q = q0, qp = 0;
    int have_prev = 0, evals = 0;
    out->converged = 0;
    while (evals < FP_MAXIT) {
        double f = length_map(c, q);
        evals++;
        if (!(f <= FP_QMAX)) { /* also NaN */
            out->q_star = INFINITY;
            goto done;
        }
        int d = sign(f - q);
        double r = have_prev && sign(q - qp) == d && d != 0 ? (f - q) / (q - qp) : -1;
        /* with a contraction rate r the distance to the fixed point is about |step| r / (1 - r) */
        double slack = r > 0 && r < 1 ? r / (1 - r) : 1;
        if (d == 0 || fabs(f - q) * slack <= FP_TOL * f) {
            out->q_star = f;
            out->converged = 1;
            goto done;
        }
        if (f < FP_QMIN) {
            out->q_star = 0;
            out->converged = 1;
            goto done;
        }
        if (r > 0 && r < 1) {
            double step = (f - q) * r / (1 - r), qa = f + step, qb = qa + 0.25 * step;
            if (d < 0 && qb < 1e-3 * f) {
                /* scan down by decades for a sign change of F(q) - q */
                double hi = f;
                for (;;) {
                    double lo = hi * 0.1;
                    if (lo < FP_QMIN) {
                        out->q_star = 0;
                        out->converged = 1;
                        goto done;
                    }
                    double g = length_map(c, lo) - lo;
                    evals++;
                    if (g >= 0) {
                        out->q_star = bracket_solve(c, lo, hi, &evals);
                        out->converged = 1;
                        goto done;
                    }
                    hi = lo;
                }
            }
            if (qb <= FP_QMAX) {
                double ga = length_map(c, qa) - qa;
                evals++;
                if (sign(ga) != d) {
                    out->q_star = bracket_solve(c, f, qa, &evals);
                    out->converged = 1;
                    goto done;
                }
                double gb = length_map(c, qb) - qb;
                evals++;
                if (sign(gb) != d) {
                    out->q_star = bracket_solve(c, qa, qb, &evals);
                    out->converged = 1;
                    goto done;
                }
                q = qb; /* still short of the fixed point: continue from the farthest probe */
                have_prev = 0;
                continue;
            }
        }
        qp = q;
        q = f;
        have_prev = 1;
    }
    out->q_star = q; /* not converged: the last iterate */
done:
    out->iterations = evals;
}

static int is_homogeneous(cn_act a) { return a == CN_ACT_RELU || a == CN_ACT_LEAKY_RELU || a == CN_ACT_IDENTITY; }

static int compute(cn_meanfield *out, const mf_ctx *c, double q0)
{
    if (is_homogeneous(c->act)) {
        /* phi(a z) = a phi(z) for a > 0, so the length map is affine, q_l = ratio q_{l-1} + sigma_b^2, and chi1
         * does not depend on q at all. With sigma_b = 0 the limit is 0, q0 or infinity. */
        double ratio = c->sigma_w2 * expect(c, G_PHI2, 1);
        out->iterations = 0;
        if (c->sigma_b2 == 0 && fabs(ratio - 1) <= FP_TOL) {
            out->q_star = q0;
            out->converged = 1;
        } else if (ratio < 1 && fabs(ratio - 1) > FP_TOL) {
            out->q_star = c->sigma_b2 / (1 - ratio);
            out->converged = 1;
        } else {
            out->q_star = INFINITY;
            out->converged = 0;
        }
        out->chi1 = c->sigma_w2 * expect(c, G_DPHI2, 1);
    } else {
        fixed_point(c, q0, out);
        /* a diverged q: chi1 at the largest q we trust, which is its limit to rounding */
        double q = isfinite(out->q_star) ? out->q_star : FP_QMAX;
        out->chi1 = c->sigma_w2 * expect(c, G_DPHI2, q);
    }
    double l = log(out->chi1);
    out->xi_c = l == 0 ? INFINITY : -1 / l;
    out->lambda_pred = 0.5 * l;
    return CN_OK;
}

static int ctx_init(mf_ctx *c, cn_act act, double sigma_w, double sigma_b)
{
    if ((unsigned)act >= CN_ACT_COUNT || !(sigma_w >= 0) || !(sigma_b >= 0) || !isfinite(sigma_w) ||
        !isfinite(sigma_b))
        return CN_ERR_ARG;
    c->act = act;
    c->sigma_w2 = sigma_w * sigma_w;
    c->sigma_b2 = sigma_b * sigma_b;
    gsl_set_error_handler_off(); /* GSL's default handler aborts (on a failed allocation here) */
    c->gl = gsl_integration_glfixed_table_alloc(QUAD_NODES);
    return c->gl ? CN_OK : CN_ERR_NOMEM;
}

int cn_meanfield_compute(cn_meanfield *out, cn_act act, double sigma_w, double sigma_b, double q0)
{
    if (!out || isnan(q0) || isinf(q0)) return CN_ERR_ARG;
    mf_ctx c;
    int rc = ctx_init(&c, act, sigma_w, sigma_b);
    if (rc) return rc;
    rc = compute(out, &c, q0 > 0 ? q0 : 1);
    gsl_integration_glfixed_table_free(c.gl);
    return rc;
}

/* ln chi1 at sigma_w, the fixed point reached from q0 = 1 */
static double log_chi1(mf_ctx *c, double sigma_w)
{
    cn_meanfield m;
    c->sigma_w2 = sigma_w * sigma_w;
    compute(&m, c, 1);
    return log(m.chi1);
}

int cn_meanfield_critical_sigma_w(double *out, cn_act act, double sigma_b, double lo, double hi)
{
    if (!out || !(lo >= 0) || !(hi > lo) || !isfinite(hi)) return CN_ERR_ARG;
    mf_ctx c;
    int rc = ctx_init(&c, act, lo, sigma_b);
    if (rc) return rc;
    double flo = log_chi1(&c, lo), fhi = log_chi1(&c, hi);
    if (flo == 0 || fhi == 0) {
        *out = flo == 0 ? lo : hi;
    } else if (sign(flo) == sign(fhi) || isnan(flo) || isnan(fhi)) {
        rc = CN_ERR_ARG; /* no crossing of chi1 = 1 in [lo, hi] */
    } else {
        for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
            double m = 0.5 * (lo + hi), fm = log_chi1(&c, m);
            if (fm == 0) {
                lo = hi = m;
                flo = fhi = 0;
                break;
            }
            if (sign(fm) == sign(flo)) {
                lo = m;
                flo = fm;
            } else {
                hi = m;
                fhi = fm;
            }
        }
        /* Where the length map is bistable (gelu, silu with small sigma_b: q* = 0 or a runaway q, chosen by
         * q0) chi1 jumps across 1 instead of crossing it; that is no critical point. */
        if (fmin(fabs(flo), fabs(fhi)) > 1e-6)
            rc = CN_ERR_ARG;
        else
            *out = 0.5 * (lo + hi);
    }
    gsl_integration_glfixed_table_free(c.gl);
    return rc;
}
