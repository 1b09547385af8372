/* test_critreg_f64.c: the criticality regulariser's gradient, a gradient of jvps, against central
 * differences in double of R(theta) with the probes held fixed; and its error paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "train/critreg.h"

static const char *const specs[] = {
    /* smooth activations everywhere, so that phi'' matters and no kink sits near a probe */
    "input 6\ndense out=7 act=tanh\ndense out=5 act=gelu\ndense out=6 act=sigmoid\ndense out=3\n",
    "input 1 6 6\nconv out=3 k=3 pad=1 act=tanh\navgpool k=2\nflatten\ndense out=8 act=silu\nact fn=tanh\n"
    "dense out=4 act=elu\ndense out=3\n",
    /* ReLU: phi'' = 0, only the tangent path; bias-free conv */
    "input 2 5 5\nconv out=3 k=3 pad=1 bias=0 act=relu\nflatten\ndense out=6 act=leaky_relu\ndense out=3\n",
};

static double objective(cn_net *net, cn_critreg *r, const double *x, int B, uint64_t seed)
{
    cn_net_forward(net, x, B, 1);
    cn_rng *rng = cn_rng_new(seed);
    double R = NAN;
    cn_critreg_apply(r, rng, B, &R, NULL);
    cn_rng_free(rng);
    return R;
}

static void check_gradient(const char *spec, cn_crit_target target, int probes, int include_readout, int crit_batch)
{
    cn_net *net = NULL;
    cn_error err = {0};
    CHECK_OK(cn_net_from_spec(&net, spec, &err));
    if (!net) return;
    cn_rng *rng = cn_rng_new(3);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1.4, .sigma_b = 0.2};
    CHECK_OK(cn_net_init(net, &init, rng));
    int B = 3, nin = cn_net_in_size(net);
    double *x = malloc(sizeof(double) * (size_t)B * nin);
    for (int i = 0; i < B * nin; i++) x[i] = cn_rng_normal(rng);
    cn_rng_free(rng);
    cn_critreg *r = NULL;
    cn_critreg_cfg rcfg = {1.0, target, probes, include_readout, crit_batch};
    CHECK_OK(cn_critreg_new(&r, net, &rcfg, B, &err));
    size_t np = cn_net_param_count(net);
    double *p = cn_net_params(net), *g = cn_net_grads(net);
    double *dlogits = calloc((size_t)B * cn_net_out_size(net), sizeof(double));
    /* analytic: the regulariser's own accumulation plus the primal cotangents carried back */
    cn_net_forward(net, x, B, 1);
    cn_net_zero_grad(net);
    cn_rng *probe = cn_rng_new(11);
    double R0;
    CHECK_OK(cn_critreg_apply(r, probe, B, &R0, NULL));
    cn_rng_free(probe);
    cn_critreg_backward(r, dlogits, B);
    double *analytic = malloc(np * sizeof(double));
    memcpy(analytic, g, np * sizeof(double));
    double worst = 0;
    int checked = 0;
    for (size_t i = 0; i < np; i++) {
        double keep = p[i], h = 1e-5;
        p[i] = keep + h;
        double fp = objective(net, r, x, B, 11);
        p[i] = keep - h;
        double fm = objective(net, r, x, B, 11);
        p[i] = keep + h / 2;
        double fp2 = objective(net, r, x, B, 11);
        p[i] = keep - h / 2;
        double fm2 = objective(net, r, x, B, 11);
        p[i] = keep;
        /* Richardson: the h^2 error of the central difference cancels */
        double d1 = (fp - fm) / (2 * h), d2 = (fp2 - fm2) / h, num = (4 * d2 - d1) / 3;
        double e = fabs(num - analytic[i]) / fmax(1e-3, fabs(num));
        worst = fmax(worst, e);
        checked++;
        if (e > 1e-5) CHECK(0, "dR/dtheta[%zu]: analytic %.10g, numeric %.10g", i, analytic[i], num);
    }
    CHECK(checked == (int)np && R0 > 0, "R = %g over %d parameters", R0, checked);
    printf("%-40.40s %s probes %d batch %d: R %.6f, %zu parameters, worst relative error %.2e\n", spec + 6,
           target == CN_CRIT_LAMBDA ? "lambda" : "sigma", probes, crit_batch, R0, np, worst);
    free(analytic);
    free(dlogits);
    free(x);
    cn_critreg_free(r);
    cn_net_free(net);
}

int main(void)
{
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        check_gradient(specs[s], CN_CRIT_SIGMA, s == 0 ? 3 : 1, s == 1, 0);
        /* lambda: one tangent through every block, renormalised at each block end */
        check_gradient(specs[s], CN_CRIT_LAMBDA, s == 0 ? 2 : 1, s == 1, 0);
    }
    /* the probes on the first 2 of the 3 examples only */
    check_gradient(specs[1], CN_CRIT_SIGMA, 1, 0, 2);
    check_gradient(specs[0], CN_CRIT_LAMBDA, 1, 1, 2);

    cn_net *net = NULL;
    cn_error err = {0};
    cn_critreg *r = NULL;
    CHECK_OK(cn_net_from_spec(&net, specs[0], &err));
    cn_critreg_cfg bad = {-1, CN_CRIT_SIGMA, 1, 0, 0};
    CHECK(cn_critreg_new(&r, net, &bad, 4, &err) == CN_ERR_ARG && strstr(err.msg, "crit-weight"), "beta < 0: %s", err.msg);
    bad = (cn_critreg_cfg){1, CN_CRIT_SIGMA, 0, 0, 0};
    CHECK(cn_critreg_new(&r, net, &bad, 4, &err) == CN_ERR_ARG && strstr(err.msg, "crit-probes"), "probes 0: %s", err.msg);
    bad = (cn_critreg_cfg){1, (cn_crit_target)7, 1, 0, 0};
    CHECK(cn_critreg_new(&r, net, &bad, 4, &err) == CN_ERR_ARG && strstr(err.msg, "target"), "target 7: %s", err.msg);
    bad = (cn_critreg_cfg){1, CN_CRIT_SIGMA, 1, 0, -3};
    CHECK(cn_critreg_new(&r, net, &bad, 4, &err) == CN_ERR_ARG && strstr(err.msg, "crit-batch"), "batch -3: %s", err.msg);
    cn_net_free(net);
    CHECK_OK(cn_net_from_spec(&net, "input 4\ndense out=4\nbatchnorm act=tanh\ndense out=2\n", &err));
    bad = (cn_critreg_cfg){1, CN_CRIT_SIGMA, 1, 0, 0};
    CHECK(cn_critreg_new(&r, net, &bad, 4, &err) == CN_ERR_UNSUPPORTED && strstr(err.msg, "batchnorm"),
          "unsupported layer: %s", err.msg);
    cn_net_free(net);
    return check_summary("critreg");
}
