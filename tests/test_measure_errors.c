/* test_measure_errors.c: cn_measure on bad input (NaN inputs, too many exponents, no probes, a bad
 * stimulus grid) and under failed allocations: a status and a message, never a crash or a leak. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"

static cn_net *small_net(void)
{
    cn_net *net = NULL;
    cn_error err = {0};
    if (cn_net_from_spec(&net, "input 6\ndense out=5 act=tanh\ndense out=4 act=tanh\ndense out=3\n", &err)) return NULL;
    cn_rng *rng = cn_rng_new(1);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1.2, .sigma_b = 0.1};
    cn_net_init(net, &init, rng);
    cn_rng_free(rng);
    return net;
}

int main(void)
{
    cn_net *net = small_net();
    CHECK(net != NULL, "network");
    float x[10 * 6];
    for (int i = 0; i < 60; i++) x[i] = (float)sin(i);
    cn_measure_cfg cfg;
    cn_measure_result r;
    cn_error err = {0};

    cn_measure_defaults(&cfg);
    cfg.spectrum = 3;
    cfg.dynamic_range = 1;
    cfg.dr_points = 10;
    CHECK_OK(cn_measure(net, x, 10, &cfg, &r, &err));
    CHECK(r.nblocks == 2 && r.k == 3 && r.has_dr, "blocks %d k %d", r.nblocks, r.k);
    cn_measure_result_free(&r);

    x[13] = NAN;
    int rc = cn_measure(net, x, 10, &cfg, &r, &err);
    CHECK(rc == CN_ERR_NONFINITE && strstr(err.msg, "input 2"), "NaN input: %d '%s'", rc, err.msg);
    x[13] = INFINITY;
    rc = cn_measure(net, x, 10, &cfg, &r, &err);
    CHECK(rc == CN_ERR_NONFINITE, "Inf input: %d", rc);
    x[13] = 0.5f;

    cfg.spectrum = 5; /* the narrowest block has 4 units */
    rc = cn_measure(net, x, 10, &cfg, &r, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "narrowest"), "spectrum too large: %d '%s'", rc, err.msg);
    cfg.spectrum = 1;
    cfg.probes = -1;
    rc = cn_measure(net, x, 10, &cfg, &r, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "probes"), "probes -1: %d '%s'", rc, err.msg);
    /* no probes: lambda_0 alone, sigma not measured (NaN) */
    cfg.probes = 0;
    rc = cn_measure(net, x, 10, &cfg, &r, &err);
    CHECK(rc == CN_OK && isnan(r.sigma) && isfinite(r.lambda_max), "probes 0: %d sigma %g lambda %g", rc, r.sigma,
          r.lambda_max);
    if (rc == CN_OK) cn_measure_result_free(&r);
    cfg.probes = 2;
    cfg.dr_smin = 1;
    cfg.dr_smax = 0.5;
    rc = cn_measure(net, x, 10, &cfg, &r, &err);
    CHECK(rc == CN_ERR_ARG, "bad stimulus grid: %d '%s'", rc, err.msg);
    cfg.dr_smin = 1e-3;
    cfg.dr_smax = 10;
    rc = cn_measure(net, x, 0, &cfg, &r, &err);
    CHECK(rc == CN_ERR_ARG, "no inputs: %d", rc);

    /* every allocation inside cn_measure fails in turn; the net's own buffers are reserved first */
    CHECK_OK(cn_net_reserve(net, 10, 8));
    int clean = 0;
    for (int fail_at = 1; fail_at <= 60; fail_at++) {
        hook_install(fail_at);
        rc = cn_measure(net, x, 10, &cfg, &r, &err);
        if (rc == CN_OK) cn_measure_result_free(&r);
        cn_set_allocator(NULL);
        CHECK(rc == CN_OK || rc == CN_ERR_NOMEM, "allocation %d failing: status %d", fail_at, rc);
        CHECK(g_stats.live == 0, "allocation %d failing: %ld blocks leaked", fail_at, g_stats.live);
        clean += rc == CN_ERR_NOMEM;
    }
    CHECK(clean >= 10, "only %d of the allocations were exercised", clean);
    cn_net_free(net);
    return check_summary("measure_errors");
}
