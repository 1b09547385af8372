/* test_phase.c: the phase diagram's measures against mean-field theory (Poole et al. 2016, Schoenholz et al.
 * 2017), which critnet's measures do not use: for random tanh MLPs of width 500 and depth 50, the measured
 * lambda_0 crosses zero within 3% of the critical sigma_w at three sigma_b values, and the correlation length
 * xi matches xi_c = -1/ln chi1 within 10% in the ordered phase. Also the failure paths of the library calls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"

#define WIDTH 500
#define DEPTH 50

static void tanh_cfg(cn_phase_cfg *cfg, double sigma_w, double sigma_b)
{
    cn_phase_defaults(cfg);
    cfg->arch.width = WIDTH;
    cfg->arch.depth = DEPTH;
    cfg->arch.in_c = WIDTH;
    cfg->sigma_w = sigma_w;
    cfg->sigma_b = sigma_b;
    cfg->seed = 11;
    /* inputs on the length map's fixed point: the first layer's pre-activations then have q_1 = q*, and
     * every block is at the q* that the mean-field chi1 is computed at */
    cn_meanfield mf;
    if (cn_meanfield_compute(&mf, CN_ACT_TANH, sigma_w, sigma_b, 1) == CN_OK && mf.q_star > sigma_b * sigma_b)
        cfg->input_q = (mf.q_star - sigma_b * sigma_b) / (sigma_w * sigma_w);
}

static double lambda0_at(double sigma_w, double sigma_b)
{
    cn_phase_cfg cfg;
    tanh_cfg(&cfg, sigma_w, sigma_b);
    cfg.samples = 4;
    cfg.m.probes = 0;
    cfg.corr.pairs = 0;
    cn_phase_point p;
    cn_error err = {0};
    int rc = cn_phase_point_run(&p, &cfg, &err);
    CHECK(rc == CN_OK, "phase point (%g, %g): %s", sigma_w, sigma_b, err.msg);
    return rc ? NAN : p.lambda0;
}

/* The sigma_w where lambda_0 changes sign, by bisection on [0.85, 1.15] x the critical sigma_w: the weights
 * are one draw scaled by sigma_w (common random numbers), so lambda_0 is a smooth increasing function of it. */
static void lambda0_crossing(void)
{
    const double sbs[] = {0.05, 0.15, 0.3};
    for (int i = 0; i < 3; i++) {
        double crit;
        CHECK_OK(cn_meanfield_critical_sigma_w(&crit, CN_ACT_TANH, sbs[i], 0.1, 10));
        double lo = 0.85 * crit, hi = 1.15 * crit, flo = lambda0_at(lo, sbs[i]), fhi = lambda0_at(hi, sbs[i]);
        CHECK(flo < 0 && fhi > 0, "sigma_b %g: lambda_0 %g at %g, %g at %g: no sign change", sbs[i], flo, lo, fhi, hi);
        if (!(flo < 0 && fhi > 0)) continue;
        for (int it = 0; it < 8; it++) {
            double m = 0.5 * (lo + hi), fm = lambda0_at(m, sbs[i]);
            if (fm < 0) lo = m, flo = fm;
            else hi = m, fhi = fm;
        }
        double cross = lo + (hi - lo) * (-flo) / (fhi - flo); /* linear within the last bracket */
        double rel = cross / crit - 1;
        printf("tanh sigma_b %.2f: lambda_0 = 0 at sigma_w %.4f, mean field %.4f (%+.2f%%)\n", sbs[i], cross, crit,
               100 * rel);
        CHECK(fabs(rel) < 0.03, "sigma_b %g: crossing %g vs mean field %g", sbs[i], cross, crit);
    }
}

/* Ordered phase: xi against xi_c at 0.8 and 0.9 of the critical sigma_w (xi_c from 4 to 17 layers) */
static void xi_ordered(void)
{
    const double pts[][2] = {{0.8, 0.05}, {0.9, 0.05}, {0.8, 0.3}, {0.9, 0.3}}; /* fraction of critical, sigma_b */
    for (int i = 0; i < 4; i++) {
        double crit;
        CHECK_OK(cn_meanfield_critical_sigma_w(&crit, CN_ACT_TANH, pts[i][1], 0.1, 10));
        cn_phase_cfg cfg;
        tanh_cfg(&cfg, pts[i][0] * crit, pts[i][1]);
        cfg.samples = 4;
        cfg.m.probes = 0;
        cfg.corr.pairs = 16;
        /* four independent networks pooled: one draw at width 500 scatters xi by about 8% at xi_c = 10
         * (six seeds at 0.9 x critical, sigma_b 0.3: -9% to +14%), too much for a 10% check */
        cfg.draws = 4;
        cn_phase_point p;
        cn_error err = {0};
        CHECK_OK(cn_phase_point_run(&p, &cfg, &err));
        CHECK(p.has_mf && p.mf.chi1 < 1, "mean field expected in the ordered phase");
        printf("tanh sigma_w %.4f sigma_b %.2f: xi %.3f +- %.3f, xi_c %.3f (%+.1f%%), lambda_0 %.4f vs %.4f\n",
               cfg.sigma_w, cfg.sigma_b, p.xi, p.xi_se, p.mf.xi_c, 100 * (p.xi / p.mf.xi_c - 1), p.lambda0,
               p.mf.lambda_pred);
        CHECK(fabs(p.xi / p.mf.xi_c - 1) < 0.10, "xi %g vs xi_c %g", p.xi, p.mf.xi_c);
    }
}

/* bad arguments are refused with a message; a failed allocation anywhere returns CN_ERR_NOMEM, leaking nothing */
static void failure_paths(void)
{
    cn_phase_cfg cfg;
    cn_phase_point p;
    cn_error err = {0};
    cn_phase_defaults(&cfg);
    cfg.arch.width = cfg.arch.in_c = 16;
    cfg.arch.depth = 4;
    cfg.samples = 3;
    cfg.corr.pairs = 2;
    cfg.m.dynamic_range = 1;
    cfg.m.dr_points = 8;
    cfg.sigma_w = NAN;
    CHECK(cn_phase_point_run(&p, &cfg, &err) == CN_ERR_ARG && strstr(err.msg, "sigma_w"), "NaN sigma_w: %s", err.msg);
    cfg.sigma_w = 1;
    cfg.samples = 0;
    CHECK(cn_phase_point_run(&p, &cfg, &err) == CN_ERR_ARG, "no samples accepted");
    cfg.samples = 3;
    cfg.corr.c0 = 1;
    CHECK(cn_phase_point_run(&p, &cfg, &err) == CN_ERR_ARG && strstr(err.msg, "c0"), "c0 = 1: %s", err.msg);
    cfg.corr.c0 = 0.999;
    cfg.arch.arch = "transformer";
    CHECK(cn_phase_point_run(&p, &cfg, &err) == CN_ERR_ARG && strstr(err.msg, "transformer"), "arch: %s", err.msg);
    cfg.arch.arch = "mlp";
    CHECK(cn_corr_fit(&(cn_corr_result){0}, 1, 0) == CN_ERR_ARG, "fit of nothing accepted");
    CHECK_OK(cn_phase_point_run(&p, &cfg, &err));
    CHECK(p.has_dr && p.has_mf && p.nblocks == 4, "tiny point: dr %d mf %d blocks %d", p.has_dr, p.has_mf, p.nblocks);
    int clean = 0;
    for (int fail_at = 1; fail_at < 200; fail_at++) {
        hook_install(fail_at);
        int rc = cn_phase_point_run(&p, &cfg, &err);
        long attempted = g_stats.count;
        cn_set_allocator(NULL);
        CHECK(rc == CN_OK || rc == CN_ERR_NOMEM, "allocation %d failing: status %d (%s)", fail_at, rc, err.msg);
        CHECK(g_stats.live == 0, "allocation %d failing: %ld blocks leaked (%d: %s)", fail_at, g_stats.live, rc, err.msg);
        clean += rc == CN_ERR_NOMEM;
        if (attempted < fail_at) break; /* every allocation has been failed once */
    }
    CHECK(clean >= 10, "only %d of the allocations were exercised", clean);
}

/* Truncation of a response curve, on the Hill curve F = s / (1 + s) whose rise per decade is known exactly:
 * over [1e-4, 1e2] the first decade adds 0.09% of the rise (not cut) and the last 8% (not saturated); over
 * [1e-1, 1e3] the first decade adds 45% (cut at the low end) and the last 1% (saturated); over [1e-5, 1e4]
 * both ends are complete. */
static void truncation(void)
{
    const double ranges[][2] = {{1e-4, 1e2}, {1e-1, 1e3}, {1e-5, 1e4}};
    const int want_low[] = {0, 1, 0}, want_sat[] = {0, 1, 1};
    const char *want_class[] = {"truncated-high", "truncated-low", "ok"};
    for (int k = 0; k < 3; k++) {
        double s[61], F[61];
        for (int i = 0; i < 61; i++) {
            s[i] = exp(log(ranges[k][0]) + (log(ranges[k][1]) - log(ranges[k][0])) * i / 60);
            F[i] = s[i] / (1 + s[i]);
        }
        cn_dynrange d;
        CHECK_OK(cn_dynamic_range(&d, s, F, 61));
        CHECK(d.truncated_low == want_low[k] && d.saturated == want_sat[k], "[%g, %g]: truncated_low %d saturated %d",
              ranges[k][0], ranges[k][1], d.truncated_low, d.saturated);
        CHECK(!strcmp(cn_dynrange_class(&d), want_class[k]) && cn_dynrange_complete(&d) == (k == 2),
              "[%g, %g]: class %s, complete %d", ranges[k][0], ranges[k][1], cn_dynrange_class(&d),
              cn_dynrange_complete(&d));
    }
    /* cut at both ends: the Hill curve over [1e-1, 1e1] rises by half its total in each decade */
    {
        double s[21], F[21];
        for (int i = 0; i < 21; i++) s[i] = exp(log(1e-1) + log(100.0) * i / 20), F[i] = s[i] / (1 + s[i]);
        cn_dynrange d;
        CHECK_OK(cn_dynamic_range(&d, s, F, 21));
        CHECK(!strcmp(cn_dynrange_class(&d), "truncated-both") && !cn_dynrange_complete(&d), "[0.1, 10]: class %s",
              cn_dynrange_class(&d));
    }
    cn_response r;
    CHECK(cn_response_from_name("hidden-rel", &r) == CN_OK && r == CN_RESP_HIDDEN_REL, "hidden-rel");
    CHECK(cn_response_from_name("softmax", &r) == CN_ERR_ARG, "an unknown response accepted");
    CHECK(!strcmp(cn_response_name(CN_RESP_HIDDEN), "hidden"), "the name of hidden");
    CHECK(cn_response_from_name("driven", &r) == CN_OK && r == CN_RESP_DRIVEN, "driven");
}

/* The per-block distance (issue 14, part 5): an orthogonal linear network whose first block doubles every
 * vector and whose second halves it has sigma = 1 exactly (|ln sigma| = 0: the blocks cancel) but a mean
 * |ln sigma_l| of ln 2. */
static void per_block_distance(void)
{
    cn_net *net = NULL;
    cn_error err = {0};
    CHECK_OK(cn_net_from_spec(&net, "input 64\ndense out=64 act=identity bias=0\ndense out=64 act=identity bias=0\n"
                                    "dense out=10\n", &err));
    if (!net) return;
    cn_rng *rng = cn_rng_new(3);
    cn_init init = {.kind = CN_INIT_ORTHOGONAL, .sigma_w = 1};
    CHECK_OK(cn_net_init(net, &init, rng));
    cn_real *w = cn_net_params(net); /* the two hidden weight matrices first, (64, 64) each, no biases */
    for (int i = 0; i < 64 * 64; i++) w[i] *= 2, w[64 * 64 + i] *= 0.5f;
    cn_real x[5 * 64];
    for (int i = 0; i < 5 * 64; i++) x[i] = (cn_real)cn_rng_normal(rng);
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.seed = 5;
    cn_measure_result r;
    CHECK_OK(cn_measure(net, x, 5, &cfg, &r, &err));
    CHECK(r.nblocks == 2 && fabs(log(r.sigma)) < 1e-5, "|ln sigma| %g, want 0", fabs(log(r.sigma)));
    CHECK(fabs(r.mean_abs_ln_sigma_block - log(2.0)) < 1e-5, "mean |ln sigma_l| %.8f, want ln 2", r.mean_abs_ln_sigma_block);
    cn_measure_result_free(&r);
    cn_rng_free(rng);
    cn_net_free(net);
}

/* The driven response (Kinouchi & Copelli's drive, src/measure/driven.c) on an orthogonal linear network of L = 4
 * blocks: noise of RMS s enters every block's input and orthogonal layers keep every norm, so the RMS activity of
 * the last block is sqrt(1 + L s^2) for inputs of unit RMS, up to cross terms of order 1/sqrt(width). */
static void driven_response(void)
{
    const int n = 512, L = 4, B = 8, P = 9;
    cn_net *net = NULL;
    cn_error err = {0};
    char spec[512];
    int len = snprintf(spec, sizeof spec, "input %d\n", n);
    for (int l = 0; l < L; l++) len += snprintf(spec + len, sizeof spec - len, "dense out=%d act=identity bias=0\n", n);
    snprintf(spec + len, sizeof spec - len, "dense out=10\n");
    CHECK_OK(cn_net_from_spec(&net, spec, &err));
    if (!net) return;
    cn_rng *rng = cn_rng_new(4);
    cn_init init = {.kind = CN_INIT_ORTHOGONAL, .sigma_w = 1};
    CHECK_OK(cn_net_init(net, &init, rng));
    cn_real *x = malloc(sizeof(cn_real) * (size_t)B * n);
    for (int b = 0; b < B; b++) {
        double ss = 0;
        for (int i = 0; i < n; i++) x[b * n + i] = (cn_real)cn_rng_normal(rng), ss += (double)x[b * n + i] * x[b * n + i];
        for (int i = 0; i < n; i++) x[b * n + i] = (cn_real)(x[b * n + i] / sqrt(ss / n));
    }
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.seed = 6, cfg.probes = 0, cfg.spectrum = 0, cfg.dynamic_range = 1, cfg.dr_response = CN_RESP_DRIVEN;
    cfg.dr_points = P, cfg.dr_smin = 1e-2, cfg.dr_smax = 1e2;
    cn_measure_result r = {0}, r2 = {0};
    CHECK_OK(cn_measure(net, x, B, &cfg, &r, &err));
    CHECK_OK(cn_measure(net, x, B, &cfg, &r2, &err));
    double worst = 0;
    for (int i = 0; i < r.dr_n && r.dr_n == P; i++) {
        double want = sqrt(1 + L * r.dr_s[i] * r.dr_s[i]), off = fabs(r.dr_F[i] / want - 1);
        worst = off > worst ? off : worst;
        CHECK(r.dr_F[i] == r2.dr_F[i], "level %d: a rerun gave %.17g, not %.17g", i, r2.dr_F[i], r.dr_F[i]);
    }
    CHECK(r.dr_n == P && worst < 0.05, "driven F(s) off sqrt(1 + L s^2) by %.3f (want < 0.05)", worst);
    cn_measure_result_free(&r);
    cn_measure_result_free(&r2);
    free(x);
    cn_rng_free(rng);
    cn_net_free(net);
}

/* The pooling convention (docs/criticality-measures.md): a pool opens the block after it, so a 2x2 average pool's
 * gain of 1/2 on uncorrelated probes lands in that block's sigma_l. Two 1x1 convolutions of weight 1 (identity
 * maps) around a 2x2 average pool: sigma_1 = 1 exactly, sigma_2 = 1/2 up to the probes' sampling error. */
static void pooling_convention(void)
{
    cn_net *net = NULL;
    cn_error err = {0};
    CHECK_OK(cn_net_from_spec(&net, "input 1 16 16\nconv out=1 k=1 bias=0\navgpool k=2\nconv out=1 k=1 bias=0\n"
                                    "flatten\ndense out=10\n", &err));
    if (!net) return;
    cn_rng *rng = cn_rng_new(8);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1};
    CHECK_OK(cn_net_init(net, &init, rng));
    cn_real *w = cn_net_params(net); /* the two 1x1 weights first (no biases) */
    w[0] = w[1] = 1;
    cn_real x[16 * 256];
    for (int i = 0; i < 16 * 256; i++) x[i] = (cn_real)cn_rng_normal(rng);
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.seed = 9, cfg.probes = 64;
    cn_measure_result r;
    CHECK_OK(cn_measure(net, x, 16, &cfg, &r, &err));
    CHECK(r.nblocks == 2 && fabs(r.sigma_block[0] - 1) < 1e-5 && fabs(r.sigma_block[1] - 0.5) < 0.02,
          "blocks %d: sigma_1 %.6f (want 1), sigma_2 %.6f (want 1/2)", r.nblocks, r.sigma_block[0], r.sigma_block[1]);
    CHECK(fabs(r.mean_abs_ln_sigma_block - 0.5 * log(2.0)) < 0.02, "mean |ln sigma_l| %.4f, want ln 2 / 2",
          r.mean_abs_ln_sigma_block);
    cn_measure_result_free(&r);
    cn_rng_free(rng);
    cn_net_free(net);
}

int main(void)
{
    per_block_distance();
    driven_response();
    pooling_convention();
    truncation();
    cn_set_threads(1);
    failure_paths();
    lambda0_crossing();
    xi_ordered();
    return check_summary("test_phase");
}
