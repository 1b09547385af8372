/* test_meanfield.c: the mean-field prediction against answers critnet does not produce: closed forms for
 * relu and identity, the tanh critical point at sigma_b = 0, and the length map and chi1 recomputed here by
 * a brute-force trapezoid rule with activations written out in this file. */
#include <math.h>
#include "check.h"
#include "critnet.h"

#define PI 3.14159265358979323846

/* the activations, written independently of src/layers/act.c */
static double tanh_v(double x) { return tanh(x); }
static double tanh_d(double x) { double t = tanh(x); return 1 - t * t; }
static double gelu_v(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double gelu_d(double x) { return 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * PI); }

/* E_z[f(sqrt(q) z)^2], z ~ N(0,1): trapezoid over [-12, 12] with 200001 points. The integrand is smooth and
 * decays like a Gaussian, so the rule is accurate far beyond the tolerances used here. */
#define BRUTE_N 200001
static double brute_w[BRUTE_N]; /* trapezoid weight times the Gaussian density, filled on first use */

static double brute_expect_sq(double (*f)(double), double q)
{
    const double a = -12, h = 24.0 / (BRUTE_N - 1), s = sqrt(q);
    if (brute_w[BRUTE_N / 2] == 0)
        for (int i = 0; i < BRUTE_N; i++) {
            double z = a + i * h;
            brute_w[i] = (i == 0 || i == BRUTE_N - 1 ? 0.5 : 1) * h * exp(-0.5 * z * z) / sqrt(2 * PI);
        }
    double sum = 0;
    for (int i = 0; i < BRUTE_N; i++) {
        double v = f(s * (a + i * h));
        sum += brute_w[i] * v * v;
    }
    return sum;
}

/* the length map iterated by brute force to its fixed point from q = 1, then chi1 there */
static void brute_meanfield(double (*f)(double), double (*df)(double), double sw, double sb, double *q_star,
                            double *chi1)
{
    double q = 1;
    for (int it = 0; it < 2000; it++) {
        double next = sw * sw * brute_expect_sq(f, q) + sb * sb;
        int done = fabs(next - q) <= 1e-15 * next;
        q = next;
        if (done) break;
    }
    *q_star = q;
    *chi1 = sw * sw * brute_expect_sq(df, q);
}

static void test_relu_identity(void)
{
    const double sws[] = {0.5, 1.0, 1.3, 2.0, 3.0};
    const double sbs[] = {0.0, 0.3};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 2; j++) {
            double sw = sws[i], sb = sbs[j];
            cn_meanfield m;
            CHECK_OK(cn_meanfield_compute(&m, CN_ACT_RELU, sw, sb, 1));
            CHECK(fabs(m.chi1 - sw * sw / 2) < 1e-9, "relu sigma_w %g sigma_b %g: chi1 %.15g, want %.15g", sw, sb,
                  m.chi1, sw * sw / 2);
            CHECK(fabs(m.lambda_pred - log(sw / sqrt(2.0))) < 1e-9, "relu lambda_pred %.15g", m.lambda_pred);
            CHECK_OK(cn_meanfield_compute(&m, CN_ACT_IDENTITY, sw, sb, 1));
            CHECK(fabs(m.chi1 - sw * sw) < 1e-9, "identity sigma_w %g: chi1 %.15g, want %.15g", sw, m.chi1, sw * sw);
            CHECK_OK(cn_meanfield_compute(&m, CN_ACT_LEAKY_RELU, sw, sb, 1));
            double want = sw * sw * (1 + 0.01 * 0.01) / 2;
            CHECK(fabs(m.chi1 - want) < 1e-9, "leaky_relu sigma_w %g: chi1 %.15g, want %.15g", sw, m.chi1, want);
        }

    /* relu with sigma_b > 0: q = (sigma_w^2/2) q + sigma_b^2, so q* = sigma_b^2 / (1 - sigma_w^2/2) */
    cn_meanfield m;
    CHECK_OK(cn_meanfield_compute(&m, CN_ACT_RELU, 1.0, 0.3, 1));
    CHECK(m.converged && fabs(m.q_star - 0.18) < 1e-9, "relu (1, 0.3): q* %.15g, want 0.18", m.q_star);
    /* identity, sigma_w = 0.8, sigma_b = 0.6: q* = 0.36 / (1 - 0.64) = 1 */
    CHECK_OK(cn_meanfield_compute(&m, CN_ACT_IDENTITY, 0.8, 0.6, 5));
    CHECK(m.converged && fabs(m.q_star - 1) < 1e-9, "identity (0.8, 0.6): q* %.15g, want 1", m.q_star);

    /* sigma_b = 0: the length map is geometric, q_l = (sigma_w^2/2)^l q0 */
    CHECK_OK(cn_meanfield_compute(&m, CN_ACT_RELU, 1.0, 0, 1));
    CHECK(m.converged && m.q_star == 0, "relu sigma_w 1: q* %g, want 0", m.q_star);
    CHECK_OK(cn_meanfield_compute(&m, CN_ACT_RELU, 2.0, 0, 1));
    CHECK(!m.converged && isinf(m.q_star), "relu sigma_w 2: q* %g, want inf (diverges)", m.q_star);
    CHECK_OK(cn_meanfield_compute(&m, CN_ACT_RELU, sqrt(2.0), 0, 3));
    CHECK(m.converged && fabs(m.q_star - 3) < 1e-12, "relu sigma_w sqrt 2: q* %g, want q0 = 3", m.q_star);
    CHECK(fabs(m.chi1 - 1) < 1e-12, "relu sigma_w sqrt 2: chi1 %.15g, want 1", m.chi1);
    CHECK(isinf(m.xi_c) || fabs(m.xi_c) > 1e10, "relu sigma_w sqrt 2: xi_c %g, want (near) infinity", m.xi_c);
    CHECK_OK(cn_meanfield_compute(&m, CN_ACT_RELU, 2.0, 0, 0)); /* q0 <= 0 means 1 */
    CHECK(fabs(m.chi1 - 2) < 1e-12, "relu sigma_w 2, q0 default: chi1 %g", m.chi1);

    double sc;
    CHECK_OK(cn_meanfield_critical_sigma_w(&sc, CN_ACT_RELU, 0.0, 0.1, 10));
    CHECK(fabs(sc - sqrt(2.0)) < 1e-9, "relu critical sigma_w %.15g, want sqrt 2", sc);
    CHECK_OK(cn_meanfield_critical_sigma_w(&sc, CN_ACT_RELU, 0.5, 0.1, 10));
    CHECK(fabs(sc - sqrt(2.0)) < 1e-9, "relu critical sigma_w at sigma_b 0.5: %.15g, want sqrt 2", sc);
}

static void test_tanh(void)
{
    /* sigma_b = 0: q = 0 is the fixed point for sigma_w < 1, where chi1 = sigma_w^2 tanh'(0)^2 = sigma_w^2 */
    const double sws[] = {0.3, 0.5, 0.9, 0.99};
    for (int i = 0; i < 4; i++) {
        cn_meanfield m;
        CHECK_OK(cn_meanfield_compute(&m, CN_ACT_TANH, sws[i], 0, 1));
        CHECK(m.converged && m.q_star < 1e-12, "tanh sigma_w %g: q* %g, want 0", sws[i], m.q_star);
        CHECK(fabs(m.chi1 - sws[i] * sws[i]) < 1e-10, "tanh sigma_w %g: chi1 %.15g, want %.15g", sws[i], m.chi1,
              sws[i] * sws[i]);
        CHECK(fabs(m.xi_c + 1 / log(sws[i] * sws[i])) < 1e-8 * fabs(m.xi_c), "tanh xi_c %g", m.xi_c);
        CHECK(fabs(m.lambda_pred - log(sws[i])) < 1e-10, "tanh lambda_pred %g, want %g", m.lambda_pred,
              log(sws[i]));
    }
    double sc;
    CHECK_OK(cn_meanfield_critical_sigma_w(&sc, CN_ACT_TANH, 0.0, 0.1, 10));
    CHECK(fabs(sc - 1) < 1e-6, "tanh critical sigma_w at sigma_b 0: %.12g, want 1", sc);

    /* the chaotic phase against the brute-force length map */
    struct { double sw, sb; } pts[] = {{2.5, 0}, {1.5, 0.3}, {1.2, 0.05}, {4.0, 1.0}};
    for (int i = 0; i < 4; i++) {
        cn_meanfield m;
        double q, chi1;
        CHECK_OK(cn_meanfield_compute(&m, CN_ACT_TANH, pts[i].sw, pts[i].sb, 1));
        brute_meanfield(tanh_v, tanh_d, pts[i].sw, pts[i].sb, &q, &chi1);
        printf("tanh sigma_w %g sigma_b %g: q* %.12g (brute %.12g), chi1 %.12g (brute %.12g)\n", pts[i].sw,
               pts[i].sb, m.q_star, q, m.chi1, chi1);
        CHECK(m.converged, "tanh (%g, %g) did not converge", pts[i].sw, pts[i].sb);
        CHECK(fabs(m.q_star - q) < 1e-8, "tanh (%g, %g): q* %.15g, brute force %.15g", pts[i].sw, pts[i].sb,
              m.q_star, q);
        CHECK(fabs(m.chi1 - chi1) < 1e-8, "tanh (%g, %g): chi1 %.15g, brute force %.15g", pts[i].sw, pts[i].sb,
              m.chi1, chi1);
    }

    /* sigma_b = 0.3: the critical point, checked by recomputing chi1 there by brute force. The phase
     * diagram of Poole et al. (2016) puts it near sigma_w = 1.4; only that rough location is asserted. */
    CHECK_OK(cn_meanfield_critical_sigma_w(&sc, CN_ACT_TANH, 0.3, 0.1, 10));
    double q, chi1;
    brute_meanfield(tanh_v, tanh_d, sc, 0.3, &q, &chi1);
    printf("tanh sigma_b 0.3: critical sigma_w %.12g, brute-force chi1 there %.12g (q* %.10g)\n", sc, chi1, q);
    CHECK(fabs(chi1 - 1) < 1e-8, "tanh sigma_b 0.3: chi1 %.15g at the critical sigma_w %.12g", chi1, sc);
    CHECK(sc > 1.3 && sc < 1.5, "tanh sigma_b 0.3: critical sigma_w %g", sc);
}

static void test_gelu(void)
{
    /* a second smooth activation through the general fixed-point path */
    cn_meanfield m;
    double q, chi1;
    CHECK_OK(cn_meanfield_compute(&m, CN_ACT_GELU, 1.3, 0.3, 1));
    brute_meanfield(gelu_v, gelu_d, 1.3, 0.3, &q, &chi1);
    CHECK(m.converged && fabs(m.q_star - q) < 1e-8, "gelu: q* %.15g, brute force %.15g", m.q_star, q);
    CHECK(fabs(m.chi1 - chi1) < 1e-8, "gelu: chi1 %.15g, brute force %.15g", m.chi1, chi1);
}

static void test_errors(void)
{
    cn_meanfield m;
    double sc;
    CHECK(cn_meanfield_compute(&m, CN_ACT_TANH, -1, 0, 1) == CN_ERR_ARG, "negative sigma_w accepted");
    CHECK(cn_meanfield_compute(&m, CN_ACT_TANH, 1, -0.1, 1) == CN_ERR_ARG, "negative sigma_b accepted");
    CHECK(cn_meanfield_compute(&m, CN_ACT_TANH, NAN, 0, 1) == CN_ERR_ARG, "NaN sigma_w accepted");
    CHECK(cn_meanfield_compute(&m, CN_ACT_TANH, 1, INFINITY, 1) == CN_ERR_ARG, "infinite sigma_b accepted");
    CHECK(cn_meanfield_compute(&m, (cn_act)CN_ACT_COUNT, 1, 0, 1) == CN_ERR_ARG, "unknown activation accepted");
    CHECK(cn_meanfield_compute(NULL, CN_ACT_TANH, 1, 0, 1) == CN_ERR_ARG, "NULL out accepted");
    /* identity: chi1 = sigma_w^2 > 1 over all of [2, 3], so there is no crossing */
    CHECK(cn_meanfield_critical_sigma_w(&sc, CN_ACT_IDENTITY, 0, 2, 3) == CN_ERR_ARG, "no crossing, yet found");
    CHECK(cn_meanfield_critical_sigma_w(&sc, CN_ACT_TANH, 0, 3, 2) == CN_ERR_ARG, "lo > hi accepted");
    CHECK(cn_meanfield_critical_sigma_w(&sc, CN_ACT_TANH, -1, 0.1, 10) == CN_ERR_ARG, "negative sigma_b accepted");
    CHECK(cn_meanfield_critical_sigma_w(&sc, (cn_act)-1, 0, 0.1, 10) == CN_ERR_ARG, "unknown activation accepted");
}

int main(void)
{
    test_relu_identity();
    test_tanh();
    test_gelu();
    test_errors();
    return check_summary("meanfield");
}
