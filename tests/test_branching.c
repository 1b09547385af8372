/* test_branching.c: the MR estimator (src/avalanche/branching.c) on known answers:
 * - a branching process with immigration, A_{t+1} ~ Poisson(m A_t + h), m = 0.98, of which each active unit
 *   is seen with probability 5% (a_t ~ Binomial(A_t, 0.05)): the conventional r_1 is biased far below m, the
 *   MR estimate is within 0.01 of m (Wilting & Priesemann 2018, fig. 2), and the bootstrap CI covers m;
 * - fully observed, r_1 and the MR estimate agree with m; an exact geometric r_k = 0.7 * 0.9^k is recovered;
 * - tau = -dt / ln m;
 * - the failure paths: NaN, a constant or too short series, bad options, every allocation failing in turn. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet_avalanche.h"

enum { T = 100000, BURN = 2000 };

/* the full activity into full[0..T) and its 5% subsample into sub */
static void branching_process(double *full, double *sub, double m, double h, double observed, unsigned long seed)
{
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, seed);
    double A = h / (1 - m);
    for (int t = -BURN; t < T; t++) {
        A = gsl_ran_poisson(g, m * A + h);
        if (t >= 0) {
            full[t] = A;
            sub[t] = gsl_ran_binomial(g, observed, (unsigned)A);
        }
    }
    gsl_rng_free(g);
}

static void test_subsampled(void)
{
    double *full = malloc(sizeof(double) * T), *sub = malloc(sizeof(double) * T);
    branching_process(full, sub, 0.98, 20, 0.05, 3);
    cn_branching_opts o;
    cn_branching_opts_default(&o);
    o.kmax = 100;
    o.bootstrap = 200;
    o.seed = 1;
    cn_branching_fit fs, ff;
    cn_error err = {0};
    CHECK_OK(cn_branching_estimate(&fs, sub, T, &o, &err));
    CHECK_OK(cn_branching_estimate(&ff, full, T, &o, &err));
    printf("m = 0.98, 5%% observed: naive r_1 %.4f, MR m %.4f (b %.3f) CI [%.4f, %.4f], tau %.1f steps (true %.1f)\n",
           fs.m_naive, fs.m, fs.b, fs.m_lo, fs.m_hi, fs.tau, -1 / log(0.98));
    printf("m = 0.98, fully observed: naive r_1 %.4f, MR m %.4f (b %.3f) CI [%.4f, %.4f]\n", ff.m_naive, ff.m, ff.b,
           ff.m_lo, ff.m_hi);
    CHECK(fabs(fs.m - 0.98) < 0.01, "subsampled: MR m %.4f, want 0.98 +- 0.01", fs.m);
    CHECK(fs.m_naive < 0.9, "subsampled: naive r_1 %.4f is not biased (want < 0.9)", fs.m_naive);
    CHECK(fs.m_lo <= 0.98 && 0.98 <= fs.m_hi && fs.m_lo < fs.m && fs.m < fs.m_hi, "subsampled CI [%.4f, %.4f] misses 0.98",
          fs.m_lo, fs.m_hi);
    CHECK(fabs(fs.tau + 1 / log(fs.m)) < 1e-9, "tau %.6f, want -1/ln m", fs.tau);
    CHECK(fabs(ff.m - 0.98) < 0.01 && fabs(ff.m_naive - 0.98) < 0.01, "full: m %.4f r_1 %.4f, want 0.98", ff.m,
          ff.m_naive);
    CHECK(fabs(ff.b - 1) < 0.05, "full observation: b %.3f, want 1", ff.b);
    cn_branching_fit_free(&fs);
    cn_branching_fit_free(&ff);

    /* the same seed gives the same interval */
    cn_branching_fit f1, f2;
    o.bootstrap = 50;
    CHECK_OK(cn_branching_estimate(&f1, sub, T, &o, &err));
    CHECK_OK(cn_branching_estimate(&f2, sub, T, &o, &err));
    CHECK(f1.m_lo == f2.m_lo && f1.m_hi == f2.m_hi, "same seed, different CI");
    cn_branching_fit_free(&f1);
    cn_branching_fit_free(&f2);
    free(full);
    free(sub);
}

static void test_geometric(void)
{
    /* an AR(1) with coefficient 0.9 plus white observation noise: r_k = b 0.9^k exactly in expectation */
    double *a = malloc(sizeof(double) * T);
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 9);
    double x = 0;
    for (int t = 0; t < T; t++) {
        x = 0.9 * x + gsl_ran_gaussian(g, 1);
        a[t] = x + gsl_ran_gaussian(g, 2);
    }
    gsl_rng_free(g);
    cn_branching_opts o;
    cn_branching_opts_default(&o);
    o.dt = 4; /* ms per step */
    cn_branching_fit f;
    CHECK_OK(cn_branching_estimate(&f, a, T, &o, NULL));
    /* var x = 1/(1 - 0.81) = 5.263; b = 5.263/(5.263 + 4) = 0.568 */
    printf("AR(1) 0.9 + noise: m %.4f b %.3f (want 0.9, 0.568), naive %.4f, tau %.2f ms (want %.2f)\n", f.m, f.b,
           f.m_naive, f.tau, -4 / log(0.9));
    CHECK(fabs(f.m - 0.9) < 0.01 && fabs(f.b - 0.568) < 0.03, "AR(1): m %.4f b %.3f", f.m, f.b);
    CHECK(fabs(f.tau + 4 / log(f.m)) < 1e-9, "tau %.4f, want -dt / ln m", f.tau);
    cn_branching_fit_free(&f);
    free(a);
}

static void test_errors(void)
{
    cn_branching_opts o;
    cn_branching_opts_default(&o);
    cn_branching_fit f;
    cn_error err = {0};
    enum { N = 2000 };
    double a[N];
    for (int i = 0; i < N; i++) a[i] = (i * 7919) % 13;
    a[5] = NAN;
    CHECK(cn_branching_estimate(&f, a, N, &o, &err) == CN_ERR_NONFINITE && strstr(err.msg, "time step 6"), "NaN: %s",
          err.msg);
    a[5] = 1;
    CHECK(cn_branching_estimate(&f, a, 45, &o, &err) == CN_ERR_ARG && strstr(err.msg, "45 time steps"), "short: %s",
          err.msg);
    double c[N];
    for (int i = 0; i < N; i++) c[i] = 4;
    CHECK(cn_branching_estimate(&f, c, N, &o, &err) == CN_ERR_ARG && strstr(err.msg, "constant"), "constant: %s", err.msg);
    o.kmax = 1;
    CHECK(cn_branching_estimate(&f, a, N, &o, &err) == CN_ERR_ARG, "kmax 1 accepted");
    cn_branching_opts_default(&o);
    o.dt = 0;
    CHECK(cn_branching_estimate(&f, a, N, &o, &err) == CN_ERR_ARG, "dt 0 accepted");
    cn_branching_opts_default(&o);
    o.bootstrap = 10;
    o.blocks = 50; /* 40 steps a block < 4 kmax */
    CHECK(cn_branching_estimate(&f, a, N, &o, &err) == CN_ERR_ARG && strstr(err.msg, "blocks"), "blocks: %s", err.msg);

    double *full = malloc(sizeof(double) * T), *sub = malloc(sizeof(double) * T);
    branching_process(full, sub, 0.9, 50, 0.5, 5);
    cn_branching_opts_default(&o);
    o.bootstrap = 5;
    o.blocks = 10;
    long fails = 0;
    for (long k = 1;; k++) {
        hook_install(k);
        int rc = cn_branching_estimate(&f, sub, 5000, &o, &err);
        if (rc == CN_OK) cn_branching_fit_free(&f);
        long failed = g_stats.failed, live = g_stats.live;
        cn_set_allocator(NULL);
        CHECK(live == 0, "allocation %ld failing: %ld blocks leaked", k, live);
        if (!failed) {
            CHECK(rc == CN_OK, "no failure, yet rc %d", rc);
            break;
        }
        fails++;
        CHECK(rc == CN_ERR_NOMEM, "allocation %ld failing: rc %d", k, rc);
    }
    CHECK(fails >= 3, "only %ld allocations tried", fails);
    free(full);
    free(sub);
}

int main(void)
{
    test_errors();
    test_geometric();
    test_subsampled();
    return check_summary("test_branching");
}
