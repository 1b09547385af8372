/* test_jacobian_f64.c: cn_jacobian_spectrum against the oracles of random matrix theory, in double.
 *   - Linear nets (identity activations, no biases), Gaussian weights of variance 1/n, depth L: the squared
 *     singular values of the product of L such n x n matrices have mean 1 and second moment L + 1 as n grows
 *     (the Fuss-Catalan moments); pooled over 12 draws of width 200 and depth 4, the bounds are 3% and 6%,
 *     several standard errors plus the O(L^2/n) finite-width correction wide (measured values are printed).
 *   - Orthogonal weights: every singular value is 1 (to 1e-9).
 *   - The Jacobian of a tanh net equals the one formed by central differences of the forward pass (1e-6).
 *   - Errors: no inputs, a NaN input, a Jacobian over the size limit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"

static cn_net *linear_net(int width, int depth, cn_init_kind kind, uint64_t seed)
{
    char spec[4096], line[128];
    snprintf(spec, sizeof spec, "input %d\n", width);
    for (int l = 0; l < depth; l++) {
        snprintf(line, sizeof line, "dense out=%d act=identity bias=0\n", width);
        strcat(spec, line);
    }
    strcat(spec, "dense out=10\n");
    cn_net *net = NULL;
    cn_error err = {0};
    CHECK_OK(cn_net_from_spec(&net, spec, &err));
    cn_init init = {.kind = kind, .sigma_w = 1};
    cn_rng *rng = cn_rng_new(seed);
    CHECK_OK(cn_net_init(net, &init, rng));
    cn_rng_free(rng);
    return net;
}

static void test_gaussian_moments(void)
{
    enum { WIDTH = 200, DEPTH = 4, DRAWS = 12 };
    double m2 = 0, m4 = 0;
    double x[WIDTH];
    for (int i = 0; i < WIDTH; i++) x[i] = sin(0.1 * i);
    for (int d = 0; d < DRAWS; d++) {
        cn_net *net = linear_net(WIDTH, DEPTH, CN_INIT_NORMAL, 100 + (uint64_t)d);
        cn_jacobian_result r;
        cn_error err = {0};
        int rc = cn_jacobian_spectrum(net, x, 1, 0, &r, &err);
        CHECK(rc == CN_OK && r.rank == WIDTH, "gaussian draw %d: %d %s", d, rc, err.msg);
        if (rc == CN_OK) {
            m2 += r.mean_s2 / DRAWS;
            m4 += r.mean_s4 / DRAWS;
            cn_jacobian_result_free(&r);
        }
        cn_net_free(net);
    }
    printf("linear Gaussian, width %d, depth %d, %d draws: mean s^2 %.4f (1), mean s^4 %.4f (%d)\n", WIDTH, DEPTH,
           DRAWS, m2, m4, DEPTH + 1);
    CHECK(fabs(m2 - 1) < 0.03, "mean of s^2 %.4f, want 1 within 3%%", m2);
    CHECK(fabs(m4 - (DEPTH + 1)) < 0.06 * (DEPTH + 1), "second moment of s^2 %.4f, want %d within 6%%", m4, DEPTH + 1);
}

static void test_orthogonal(void)
{
    enum { WIDTH = 64 };
    cn_net *net = linear_net(WIDTH, 5, CN_INIT_ORTHOGONAL, 7);
    double x[2 * WIDTH];
    for (int i = 0; i < 2 * WIDTH; i++) x[i] = cos(0.3 * i);
    cn_jacobian_result r;
    cn_error err = {0};
    int rc = cn_jacobian_spectrum(net, x, 2, 0, &r, &err);
    CHECK(rc == CN_OK, "orthogonal: %d %s", rc, err.msg);
    if (rc == CN_OK) {
        double worst = 0;
        for (int i = 0; i < r.inputs * r.rank; i++) worst = fmax(worst, fabs(r.s[i] - 1));
        printf("orthogonal, width %d, depth 5: max |s - 1| = %.2e, log10 condition %.2e\n", WIDTH, worst,
               r.mean_log10_cond);
        CHECK(worst < 1e-9, "orthogonal weights: a singular value is %.3e away from 1", worst);
        long in_hist = 0;
        for (int b = 0; b < 40; b++) in_hist += r.hist[b];
        CHECK(in_hist == (long)r.inputs * r.rank, "the histogram holds %ld of %d values", in_hist, r.inputs * r.rank);
        cn_jacobian_result_free(&r);
    }
    cn_net_free(net);
}

/* singular values of the Jacobian formed by central differences, against the library's */
static void test_against_differences(void)
{
    enum { IN = 12, H = 16 };
    cn_net *net = NULL;
    cn_error err = {0};
    CHECK_OK(cn_net_from_spec(&net, "input 12\ndense out=16 act=tanh\ndense out=16 act=tanh\ndense out=3\n", &err));
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1.5, .sigma_b = 0.1};
    cn_rng *rng = cn_rng_new(3);
    CHECK_OK(cn_net_init(net, &init, rng));
    cn_rng_free(rng);
    double x[IN], xp[IN], J[H * IN];
    for (int i = 0; i < IN; i++) x[i] = 0.5 * sin(1.7 * i);
    const int last = 1; /* the two tanh blocks; the readout is left out */
    CHECK_OK(cn_net_reserve(net, 1, 1));
    for (int i = 0; i < IN; i++) {
        double out[2][H];
        for (int sgn = 0; sgn < 2; sgn++) {
            memcpy(xp, x, sizeof xp);
            xp[i] += sgn ? -1e-6 : 1e-6;
            CHECK_OK(cn_net_forward(net, xp, 1, 0));
            memcpy(out[sgn], cn_net_layer_output(net, last), sizeof out[sgn]);
        }
        for (int r = 0; r < H; r++) J[i * H + r] = (out[0][r] - out[1][r]) / 2e-6;
    }
    cn_jacobian_result r;
    int rc = cn_jacobian_spectrum(net, x, 1, 0, &r, &err);
    CHECK(rc == CN_OK && r.n_out == H && r.n_in == IN, "tanh: %d %s", rc, err.msg);
    /* the reference's singular values: the eigenvalues of J^T J by Jacobi rotations would be more code than
     * the check needs; the sum of squares (Frobenius) and the largest (power iteration) pin the spectrum's
     * scale and top */
    double fro = 0;
    for (int k = 0; k < H * IN; k++) fro += J[k] * J[k];
    double v[IN], w[H], top = 0;
    for (int i = 0; i < IN; i++) v[i] = 1;
    for (int it = 0; it < 500; it++) {
        for (int rr = 0; rr < H; rr++) {
            w[rr] = 0;
            for (int i = 0; i < IN; i++) w[rr] += J[i * H + rr] * v[i];
        }
        double norm = 0;
        for (int i = 0; i < IN; i++) {
            v[i] = 0;
            for (int rr = 0; rr < H; rr++) v[i] += J[i * H + rr] * w[rr];
            norm += v[i] * v[i];
        }
        norm = sqrt(norm);
        for (int i = 0; i < IN; i++) v[i] /= norm;
        top = sqrt(norm);
    }
    if (rc == CN_OK) {
        double sum2 = 0;
        for (int k = 0; k < r.rank; k++) sum2 += r.s[k] * r.s[k];
        printf("tanh 12-16-16: sum s^2 %.9f vs %.9f, s_max %.9f vs %.9f\n", sum2, fro, r.s[0], top);
        CHECK(fabs(sum2 - fro) < 1e-6 * fro, "sum of s^2 %.12g, central differences %.12g", sum2, fro);
        CHECK(fabs(r.s[0] - top) < 1e-6 * top, "largest s %.12g, central differences %.12g", r.s[0], top);
        cn_jacobian_result_free(&r);
    }
    cn_net_free(net);
}

static void test_errors(void)
{
    cn_net *net = linear_net(8, 2, CN_INIT_NORMAL, 1);
    double x[8] = {0};
    cn_jacobian_result r;
    cn_error err = {0};
    int rc = cn_jacobian_spectrum(net, x, 0, 0, &r, &err);
    CHECK(rc == CN_ERR_ARG, "no inputs: %d", rc);
    x[3] = NAN;
    rc = cn_jacobian_spectrum(net, x, 1, 0, &r, &err);
    CHECK(rc == CN_ERR_NONFINITE && strstr(err.msg, "input 0"), "NaN input: %d '%s'", rc, err.msg);
    CHECK(r.s == NULL, "a failed call leaves no result");
    cn_net_free(net);
    cn_net *big = NULL;
    CHECK_OK(cn_net_from_spec(&big, "input 5000\ndense out=4 act=tanh\ndense out=2\n", &err));
    double *xb = calloc(5000, sizeof *xb);
    rc = cn_jacobian_spectrum(big, xb, 1, 0, &r, &err);
    CHECK(rc == CN_ERR_UNSUPPORTED && strstr(err.msg, "4096"), "a 4 x 5000 Jacobian: %d '%s'", rc, err.msg);
    free(xb);
    cn_net_free(big);
}

int main(void)
{
    test_gaussian_moments();
    test_orthogonal();
    test_against_differences();
    test_errors();
    return check_summary("jacobian_f64");
}
