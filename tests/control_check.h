/* control_check.h: what the control methods' tests share (issue 16's manipulation checks): the tanh MLP of
 * the checks, and the independent measurement, cn_measure's mean over blocks of |ln sigma_l| on held-out inputs
 * with its own probes. */
#ifndef CN_CONTROL_CHECK_H
#define CN_CONTROL_CHECK_H
#include <math.h>
#include <string.h>
#include "check.h"
#include "critnet.h"

#define TARGET 0.05 /* the bound on the mean over blocks of |ln sigma_l| */
#define IN 128

static const char *tanh_mlp = "input 128\n"
                              "dense out=128 act=tanh\ndense out=128 act=tanh\ndense out=128 act=tanh\n"
                              "dense out=128 act=tanh\ndense out=128 act=tanh\ndense out=128 act=tanh\n"
                              "dense out=128 act=tanh\ndense out=128 act=tanh\ndense out=10\n";

/* mean over blocks of |ln sigma_l|, as `critnet measure` reports it, on the first n of x */
static double measured(cn_net *net, const cn_real *x, int n)
{
    cn_measure_cfg m;
    cn_measure_defaults(&m);
    m.spectrum = 0;
    m.seed = 777;
    cn_measure_result r;
    cn_error err = {0};
    if (cn_measure(net, x, n, &m, &r, &err) != CN_OK) {
        fprintf(stderr, "measure: %s\n", err.msg);
        return NAN;
    }
    double v = r.mean_abs_ln_sigma_block;
    cn_measure_result_free(&r);
    return v;
}

static cn_net *tanh_net(double sigma_w, double sigma_b, uint64_t seed)
{
    cn_net *net = NULL;
    cn_error err = {0};
    if (cn_net_from_spec(&net, tanh_mlp, &err)) return NULL;
    cn_rng *rng = cn_rng_new(seed);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = sigma_w, .sigma_b = sigma_b};
    cn_net_init(net, &init, rng);
    cn_rng_free(rng);
    return net;
}

#endif
