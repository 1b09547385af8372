/* test_oracles_lyapunov.c: the known answers of docs/criticality-measures.md for sigma and the Lyapunov
 * spectrum on random networks: mean-field theory for ReLU and tanh MLPs, the exact spectrum of products
 * of Gaussian matrices (Newman 1986), and orthogonal linear networks. None of them comes from critnet. */
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"

/* An MLP of `depth` hidden layers of `width` units on Gaussian inputs of the same width, plus a readout
 * (left out of the measures by default). */
static cn_net *random_mlp(int width, int depth, const char *act, cn_init_kind kind, double sigma_w, double sigma_b,
                          uint64_t seed)
{
    char line[128];
    size_t cap = (size_t)(depth + 3) * 64;
    char *spec = malloc(cap);
    snprintf(spec, cap, "input %d\n", width);
    for (int l = 0; l < depth; l++) {
        snprintf(line, sizeof line, "dense out=%d act=%s\n", width, act);
        strcat(spec, line);
    }
    strcat(spec, "dense out=10\n");
    cn_net *net = NULL;
    cn_error err = {0};
    if (cn_net_from_spec(&net, spec, &err)) {
        fprintf(stderr, "spec: %s\n", err.msg);
        free(spec);
        return NULL;
    }
    free(spec);
    cn_rng *rng = cn_rng_new(seed);
    cn_init init = {.kind = kind, .sigma_w = sigma_w, .sigma_b = sigma_b};
    cn_net_init(net, &init, rng);
    cn_rng_free(rng);
    return net;
}

static cn_real *gaussian_inputs(int n, int dim, uint64_t seed)
{
    cn_real *x = malloc((size_t)n * dim * sizeof *x);
    cn_rng *rng = cn_rng_new(seed);
    for (size_t i = 0; i < (size_t)n * dim; i++) x[i] = (cn_real)cn_rng_normal(rng);
    cn_rng_free(rng);
    return x;
}

static int measure(cn_net *net, const cn_real *x, int n, int k, int probes, cn_measure_result *r)
{
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.spectrum = k;
    cfg.probes = probes;
    cfg.batch = n < 50 ? n : 50;
    cfg.seed = 7;
    cn_error err = {0};
    int rc = cn_measure(net, x, n, &cfg, r, &err);
    if (rc) fprintf(stderr, "measure: %s\n", err.msg);
    return rc;
}

/* ReLU, width >= 500, depth >= 30, sigma_b = 0: lambda_0 = ln(sigma_w / sqrt 2) +- 0.03, and ln sigma too */
static void relu_oracle(void)
{
    const double sws[] = {1.0, 1.5, 2.0};
    int width = 500, depth = 30, n = 60;
    cn_real *x = gaussian_inputs(n, width, 1);
    for (int i = 0; i < 3; i++) {
        cn_net *net = random_mlp(width, depth, "relu", CN_INIT_NORMAL, sws[i], 0, 100 + i);
        cn_measure_result r;
        CHECK_OK(measure(net, x, n, 1, 4, &r));
        double want = log(sws[i] / sqrt(2.0));
        printf("relu sigma_w=%.2f: lambda_0 %.4f  ln sigma %.4f  theory %.4f\n", sws[i], r.lambda_max, log(r.sigma),
               want);
        CHECK(fabs(r.lambda_max - want) <= 0.03, "relu sigma_w=%g: lambda_0 %g vs %g", sws[i], r.lambda_max, want);
        CHECK(fabs(log(r.sigma) - want) <= 0.03, "relu sigma_w=%g: ln sigma %g vs %g", sws[i], log(r.sigma), want);
        CHECK(r.nblocks == depth, "readout left out: %d blocks", r.nblocks);
        cn_measure_result_free(&r);
        cn_net_free(net);
    }
    free(x);
}

/* tanh, both phases, depth >= 50: lambda_0 = 0.5 ln chi1 of the mean-field recursion +- 0.03 */
static void tanh_oracle(void)
{
    const double sws[] = {0.5, 2.5};
    int width = 500, depth = 50, n = 40;
    cn_real *x = gaussian_inputs(n, width, 2);
    for (int i = 0; i < 2; i++) {
        cn_meanfield mf;
        CHECK_OK(cn_meanfield_compute(&mf, CN_ACT_TANH, sws[i], 0, 1));
        cn_net *net = random_mlp(width, depth, "tanh", CN_INIT_NORMAL, sws[i], 0, 200 + i);
        cn_measure_result r;
        CHECK_OK(measure(net, x, n, 1, 4, &r));
        printf("tanh sigma_w=%.2f: lambda_0 %.4f  mean field %.4f (chi1 %.4f)\n", sws[i], r.lambda_max,
               mf.lambda_pred, mf.chi1);
        CHECK(fabs(r.lambda_max - mf.lambda_pred) <= 0.03, "tanh sigma_w=%g: lambda_0 %g vs %g", sws[i],
              r.lambda_max, mf.lambda_pred);
        cn_measure_result_free(&r);
        cn_net_free(net);
    }
    free(x);
}

/* Linear Gaussian network of square width n: lambda_i = 0.5 ln(2 sigma_w^2 / n) + 0.5 psi((n-i+1)/2).
 * One network's estimate at depth 400 fluctuates by about 0.01 for n = 16, so the mean over several
 * independent networks is compared (their standard error is printed). */
static void linear_gaussian_oracle(void)
{
    int n = 16, depth = 400, k = 6, nets = 8;
    double sw = 1.3, mean[6] = {0};
    cn_real *x = gaussian_inputs(1, n, 3);
    for (int s = 0; s < nets; s++) {
        cn_net *net = random_mlp(n, depth, "identity", CN_INIT_NORMAL, sw, 0, 300 + s);
        cn_measure_result r;
        CHECK_OK(measure(net, x, 1, k, 2, &r));
        for (int i = 0; i < k; i++) mean[i] += r.spectrum[i] / nets;
        cn_measure_result_free(&r);
        cn_net_free(net);
    }
    for (int i = 0; i < k; i++) {
        double want = 0.5 * log(2 * sw * sw / n) + 0.5 * gsl_sf_psi((n - (i + 1) + 1) / 2.0);
        printf("linear n=%d: lambda_%d %.4f  exact %.4f\n", n, i + 1, mean[i], want);
        CHECK(fabs(mean[i] - want) <= 0.01, "linear lambda_%d %g vs exact %g", i + 1, mean[i], want);
    }
    free(x);
}

/* Orthogonal weights, linear activation: every exponent 0 and sigma = 1 (to rounding) */
static void orthogonal_oracle(void)
{
    int n = 64, depth = 20, k = 8;
    cn_net *net = random_mlp(n, depth, "identity", CN_INIT_ORTHOGONAL, 1, 0, 400);
    cn_real *x = gaussian_inputs(5, n, 4);
    cn_measure_result r;
    CHECK_OK(measure(net, x, 5, k, 4, &r));
    for (int i = 0; i < k; i++) CHECK(fabs(r.spectrum[i]) < 1e-4, "orthogonal lambda_%d = %g", i + 1, r.spectrum[i]);
    CHECK(fabs(r.sigma - 1) < 1e-4, "orthogonal sigma = %.8f", r.sigma);
    printf("orthogonal linear: sigma %.6f lambda_1 %.2e lambda_%d %.2e\n", r.sigma, r.spectrum[0], k,
           r.spectrum[k - 1]);
    cn_measure_result_free(&r);
    cn_net_free(net);
    free(x);
}

int main(void)
{
    cn_set_threads(1);
    relu_oracle();
    tanh_oracle();
    linear_gaussian_oracle();
    orthogonal_oracle();
    return check_summary("oracles_lyapunov");
}
