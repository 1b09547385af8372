/* test_cascade.c: avalanches in a network (cn_cascade_run) and their statistics (cn_avalanche_analyse) on known
 * answers:
 * - a hand-made linear "binary tree" network, where unit j of a block feeds units 2j and 2j+1 (mod n) of the next
 *   with weight w: a perturbation eps of one unit changes exactly 2^l units by w^l eps after l blocks, so with a
 *   threshold the cascade's profile, size and duration are known exactly, in both modes, from the input and from
 *   a block, with an absolute and with a calibrated threshold;
 * - w I (ordered): one unit per block until w^l eps falls below the threshold;
 * - the counts do not depend on the batch size; finite and linear modes agree for a small perturbation;
 * - profiles built to collapse exactly, s_t = (2t+1)(2T-2t-1) = T^(gamma-1) F((t+1/2)/T) with gamma = 3 and
 *   F(u) = 4u(1-u): <S>(T) = (2T^3+T)/3 exactly, gamma_collapse = 3;
 * - a critical Galton-Watson process: gamma = 2 from <S>(T), the prediction and the collapse;
 * - bad arguments and every allocation failing in turn (no leak). */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"

enum { W = 64, DEPTH = 7 }; /* 6 hidden blocks and the readout */

/* the tree network: dense layers W (out, in) with w at (2j mod n, j) and (2j+1 mod n, j), no bias */
static cn_net *tree_net(double w, int tree)
{
    char spec[1024];
    int len = snprintf(spec, sizeof spec, "input %d\n", W);
    for (int l = 0; l < DEPTH; l++) len += snprintf(spec + len, sizeof spec - (size_t)len, "dense out=%d\n", W);
    cn_net *net = NULL;
    if (cn_net_from_spec(&net, spec, NULL)) return NULL;
    cn_real *p = cn_net_params(net);
    memset(p, 0, sizeof(cn_real) * cn_net_param_count(net));
    for (int l = 0; l < DEPTH; l++) {
        cn_real *Wl = p + (size_t)l * (W * W + W);
        for (int j = 0; j < W; j++) {
            if (tree) {
                Wl[(size_t)(2 * j % W) * W + j] = (cn_real)w;
                Wl[(size_t)((2 * j + 1) % W) * W + j] = (cn_real)w;
            } else {
                Wl[(size_t)j * W + j] = (cn_real)w;
            }
        }
    }
    return net;
}

static cn_real *gaussian(int n, int dim, uint64_t seed)
{
    cn_real *x = malloc(sizeof(cn_real) * (size_t)n * dim);
    cn_rng *r = cn_rng_new(seed);
    for (int i = 0; i < n * dim; i++) x[i] = (cn_real)cn_rng_normal(r);
    cn_rng_free(r);
    return x;
}

/* every cascade has the profile want[0..len) */
static void expect_profile(const char *what, const cn_cascade_result *r, const int *want, int len)
{
    CHECK(r->len == len, "%s: %d blocks, want %d", what, r->len, len);
    int bad = 0;
    for (int c = 0; c < r->cascades && r->len == len; c++)
        for (int l = 0; l < len; l++) bad += r->counts[(size_t)c * len + l] != want[l];
    CHECK(bad == 0, "%s: %d counts differ from the known profile", what, bad);
}

static void test_tree(void)
{
    cn_net *net = tree_net(0.8, 1);
    cn_real *x = gaussian(5, W, 1);
    cn_cascade_cfg cfg;
    cn_cascade_defaults(&cfg);
    cfg.eps = 1;
    cfg.threshold = 0.3; /* 0.8^5 = 0.328 > 0.3 > 0.8^6 = 0.262 */
    cfg.trials = 4;
    cn_cascade_result r;
    cn_error err = {0};
    const int want[6] = {2, 4, 8, 16, 32, 0};
    for (int mode = 0; mode < CN_CASCADE_MODE_COUNT; mode++) {
        cfg.mode = (cn_cascade_mode)mode;
        CHECK_OK(cn_cascade_run(&r, net, x, 5, &cfg, &err));
        CHECK(r.cascades == 20 && r.first_block == 0 && r.site_units == W, "%s: %d cascades", cn_cascade_mode_name(cfg.mode),
              r.cascades);
        expect_profile(cn_cascade_mode_name(cfg.mode), &r, want, 6);
        /* RMS change at block l: 2^l units of 0.8^l among 64 */
        double e = 0;
        for (int l = 0; l < r.len; l++) e = fmax(e, fabs(r.rms[l] - sqrt(pow(2 * 0.64, l + 1) / W)));
        CHECK(e < 1e-6, "%s: RMS per block off by %g", cn_cascade_mode_name(cfg.mode), e);
        cn_avalanche_opts ao;
        cn_avalanche_opts_default(&ao);
        cn_avalanche_stats st;
        CHECK_OK(cn_avalanche_analyse(&st, r.counts, r.cascades, r.len, &ao, &err));
        int ok = st.empty == 0 && st.truncated == 0;
        for (int c = 0; c < st.n; c++) ok &= st.size[c] == 62 && st.duration[c] == 5;
        CHECK(ok, "%s: every size 62 and duration 5", cn_cascade_mode_name(cfg.mode));
        cn_avalanche_stats_free(&st);
        cn_cascade_result_free(&r);
    }
    /* from a unit of block 1 (0-based): blocks 2..5 remain, with 2, 4, 8, 16 units above 0.3 */
    cfg.mode = CN_CASCADE_LINEAR;
    cfg.site = 1;
    CHECK_OK(cn_cascade_run(&r, net, x, 5, &cfg, &err));
    const int want_site[4] = {2, 4, 8, 16};
    CHECK(r.first_block == 2, "site 1: first block %d", r.first_block);
    expect_profile("site 1", &r, want_site, 4);
    cn_cascade_result_free(&r);
    /* a calibrated threshold: 2 x the RMS of block 0's change, 2 x 0.8 sqrt(2/64) = 0.283, the same profile */
    cfg.site = -1;
    cfg.threshold = 0;
    cfg.rel_threshold = 2;
    for (int mode = 0; mode < CN_CASCADE_MODE_COUNT; mode++) {
        cfg.mode = (cn_cascade_mode)mode;
        CHECK_OK(cn_cascade_run(&r, net, x, 5, &cfg, &err));
        CHECK(fabs(r.calib_rms - 0.8 * sqrt(2.0 / W)) < 1e-6 && fabs(r.threshold - 1.6 * sqrt(2.0 / W)) < 1e-6,
              "calibrated: RMS %g, threshold %g", r.calib_rms, r.threshold);
        expect_profile("calibrated", &r, want, 6);
        cn_cascade_result_free(&r);
    }
    /* the readout counts too with include_readout: 7 blocks. At the 7th, 2^7 > 64 paths meet two to a unit, which
     * changes by 2 x 0.8^7 = 0.42: all 64 count, but after the silent 6th block they are not in the avalanche */
    cfg.threshold = 0.3;
    cfg.include_readout = 1;
    CHECK_OK(cn_cascade_run(&r, net, x, 5, &cfg, &err));
    const int want7[7] = {2, 4, 8, 16, 32, 0, 64};
    expect_profile("with the readout", &r, want7, 7);
    cn_avalanche_opts ao;
    cn_avalanche_opts_default(&ao);
    cn_avalanche_stats st;
    CHECK_OK(cn_avalanche_analyse(&st, r.counts, r.cascades, r.len, &ao, &err));
    CHECK(st.size[0] == 62 && st.duration[0] == 5, "with the readout: size %d, duration %d", st.size[0], st.duration[0]);
    cn_avalanche_stats_free(&st);
    cn_cascade_result_free(&r);
    cn_net_free(net);

    /* 0.5 I: one unit per block while 0.5^l > 0.1 */
    net = tree_net(0.5, 0);
    cn_cascade_defaults(&cfg);
    cfg.eps = 1;
    cfg.threshold = 0.1;
    CHECK_OK(cn_cascade_run(&r, net, x, 5, &cfg, &err));
    const int want_diag[6] = {1, 1, 1, 0, 0, 0};
    expect_profile("0.5 I", &r, want_diag, 6);
    cn_cascade_result_free(&r);
    cn_net_free(net);
    free(x);
}

static cn_net *random_tanh(int width, int depth, double sw, uint64_t seed)
{
    char spec[4096];
    int len = snprintf(spec, sizeof spec, "input %d\n", width);
    for (int l = 0; l < depth; l++) len += snprintf(spec + len, sizeof spec - (size_t)len, "dense out=%d act=tanh\n", width);
    snprintf(spec + len, sizeof spec - (size_t)len, "dense out=10\n");
    cn_net *net = NULL;
    cn_net_from_spec(&net, spec, NULL);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = sw, .sigma_b = 0.05};
    cn_rng *rng = cn_rng_new(seed);
    cn_net_init(net, &init, rng);
    cn_rng_free(rng);
    return net;
}

static void test_batch_and_modes(void)
{
    cn_net *net = random_tanh(64, 12, 1.1, 3);
    cn_real *x = gaussian(12, 64, 4);
    cn_cascade_cfg cfg;
    cn_cascade_defaults(&cfg);
    cfg.trials = 5;
    cfg.eps = 1e-3;
    cfg.rel_threshold = 1.5;
    cfg.calibration = 20; /* 4 inputs: more than one pass with batch 1 */
    cn_cascade_result a, b;
    CHECK_OK(cn_cascade_run(&a, net, x, 12, &cfg, NULL));
    cfg.batch = 1; /* one input per pass */
    CHECK_OK(cn_cascade_run(&b, net, x, 12, &cfg, NULL));
    long nd = 0;
    for (size_t i = 0; i < (size_t)a.cascades * a.len; i++) nd += a.counts[i] != b.counts[i];
    printf("batch 256 vs 1: thresholds %.9g and %.9g, %ld of %d counts differ\n", a.threshold, b.threshold, nd,
           a.cascades * a.len);
    /* the seeds are drawn up front, so they are the same; the float forward itself rounds differently at another
     * batch size (OpenBLAS picks other kernels), and a difference of two forwards at 1e-4 of their size keeps
     * that rounding at 1e-3 relative: a few units near the threshold flip */
    CHECK(!memcmp(a.unit, b.unit, sizeof(int) * (size_t)a.cascades) && !memcmp(a.sign, b.sign, (size_t)a.cascades),
          "the seeds depend on the batch size");
    CHECK(a.len == 12 && nd <= a.cascades * a.len / 100 && fabs(a.threshold / b.threshold - 1) < 1e-3,
          "the counts depend on the batch size beyond rounding");
    cn_cascade_result_free(&b);
    /* a small perturbation: the linear mode counts the same units, up to float rounding of the differences */
    cfg.mode = CN_CASCADE_LINEAR;
    cfg.batch = 256;
    CHECK_OK(cn_cascade_run(&b, net, x, 12, &cfg, NULL));
    long sa = 0, sb = 0, diff = 0;
    for (size_t i = 0; i < (size_t)a.cascades * a.len; i++)
        sa += a.counts[i], sb += b.counts[i], diff += labs((long)a.counts[i] - b.counts[i]);
    printf("finite vs linear (eps 1e-3): %ld and %ld units changed, %ld differ; threshold %.3g and %.3g\n", sa, sb, diff,
           a.threshold, b.threshold);
    CHECK(fabs(a.threshold / b.threshold - 1) < 0.01, "thresholds %g and %g", a.threshold, b.threshold);
    CHECK(diff < 0.02 * sb, "finite and linear differ in %ld of %ld units", diff, sb);
    cn_cascade_result_free(&a);
    cn_cascade_result_free(&b);
    cn_net_free(net);
    free(x);
}

/* ---------------------------------------------------------------- statistics on known profiles */

static void test_definitions(void)
{
    /* len 3: [3 0 5] T 1 S 3; [0 2 2] empty; [1 1 1] truncated; [2 4 0] T 2 S 6 */
    const int c[12] = {3, 0, 5, 0, 2, 2, 1, 1, 1, 2, 4, 0};
    cn_avalanche_opts o;
    cn_avalanche_opts_default(&o);
    o.min_count = 1;
    o.shape_tmin = 1;
    cn_avalanche_stats s;
    CHECK_OK(cn_avalanche_analyse(&s, c, 4, 3, &o, NULL));
    CHECK(s.size[0] == 3 && s.duration[0] == 1 && s.size[1] == 0 && s.duration[1] == 0 && s.size[2] == 3 &&
              s.duration[2] == 3 && s.size[3] == 6 && s.duration[3] == 2,
          "sizes and durations");
    CHECK(s.empty == 1 && s.truncated == 1, "empty %d, truncated %d", s.empty, s.truncated);
    CHECK(!s.has_size_fit && !s.has_duration_fit && strstr(s.size_msg, "50"), "no fit of 2 values: '%s'", s.size_msg);
    CHECK(s.nT == 2 && s.T[0] == 1 && s.mean_size[1] == 6 && isnan(s.gamma), "<S>(T) of two durations: no gamma");
    CHECK(s.nshapes == 2 && s.shape[3] == 2 && s.shape[4] == 4, "shapes");
    cn_avalanche_stats_free(&s);
}

static void test_exact_collapse(void)
{
    enum { LEN = 20, REP = 10 };
    int *c = calloc((size_t)10 * REP * LEN, sizeof *c), n = 0;
    for (int T = 3; T <= 12; T++)
        for (int r = 0; r < REP; r++, n++)
            for (int t = 0; t < T; t++) c[n * LEN + t] = (2 * t + 1) * (2 * T - 2 * t - 1);
    cn_avalanche_opts o;
    cn_avalanche_opts_default(&o);
    cn_avalanche_stats s;
    CHECK_OK(cn_avalanche_analyse(&s, c, n, LEN, &o, NULL));
    int ok = s.nT == 10;
    double lx[10], ly[10], mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int k = 0; k < s.nT && ok; k++) {
        ok &= s.mean_size[k] == (2.0 * pow(s.T[k], 3) + s.T[k]) / 3;
        lx[k] = log(s.T[k]), ly[k] = log((2.0 * pow(s.T[k], 3) + s.T[k]) / 3);
        mx += lx[k] / 10, my += ly[k] / 10;
    }
    for (int k = 0; k < 10; k++) sxy += (lx[k] - mx) * (ly[k] - my), sxx += (lx[k] - mx) * (lx[k] - mx);
    CHECK(ok, "<S>(T) = (2T^3 + T)/3");
    CHECK(fabs(s.gamma - sxy / sxx) < 1e-12, "gamma %.6f, the OLS slope is %.6f", s.gamma, sxy / sxx);
    printf("exact collapse: gamma from <S>(T) %.4f, collapse %.4f (error %.2g), want 3\n", s.gamma, s.gamma_collapse,
           s.collapse_err);
    CHECK(fabs(s.gamma_collapse - 3) < 0.002, "collapse gamma %.4f, want 3", s.gamma_collapse);
    cn_avalanche_stats_free(&s);
    free(c);
}

/* E[S | T = t] of the Poisson(1) Galton-Watson process, exactly: with G_t(x) = E[x^S; T <= t], G_{t+1}(x) =
 * x exp(G_t(x) - 1), so q_t = P(T <= t) and m_t = E[S; T <= t] follow q_{t+1} = exp(q_t - 1), m_{t+1} =
 * q_{t+1} (1 + m_t), and E[S | T = t] = (m_t - m_{t-1}) / (q_t - q_{t-1}). It tends to a t^2, with a correction
 * linear in t that keeps the slope of short durations below 2. */
static double gw_mean_size(int T)
{
    double q = 0, m = 0, qp = 0, mp = 0;
    for (int t = 1; t <= T; t++) {
        qp = q, mp = m;
        q = exp(q - 1);
        m = q * (1 + m);
    }
    return (m - mp) / (q - qp);
}

static double slope(const double *x, const double *y, int n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int k = 0; k < n; k++) mx += x[k] / n, my += y[k] / n;
    for (int k = 0; k < n; k++) sxy += (x[k] - mx) * (y[k] - my), sxx += (x[k] - mx) * (x[k] - mx);
    return sxy / sxx;
}

static void test_galton_watson(void)
{
    /* Poisson(1) offspring: P(S) ~ S^-3/2, P(T) ~ T^-2, <S>(T) ~ T^2 for long avalanches, parabolic shapes */
    enum { N = 20000, LEN = 400 };
    int *c = calloc((size_t)N * LEN, sizeof *c);
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 11);
    for (int i = 0; i < N; i++) {
        unsigned z = 1;
        for (int t = 0; t < LEN && z > 0; t++) {
            c[(size_t)i * LEN + t] = (int)z;
            z = gsl_ran_poisson(g, z);
        }
    }
    gsl_rng_free(g);
    cn_avalanche_opts o;
    cn_avalanche_opts_default(&o);
    o.tmin = 4;
    cn_avalanche_stats s;
    CHECK_OK(cn_avalanche_analyse(&s, c, N, LEN, &o, NULL));
    /* the exact slope over the same durations, and the exact means against the measured ones */
    double lx[LEN], ly[LEN], worst = 0;
    for (int k = 0; k < s.nT; k++) {
        double want = gw_mean_size(s.T[k]);
        lx[k] = log(s.T[k]), ly[k] = log(want);
        /* the standard error of a mean of n sizes: their sd is about the mean for this process */
        worst = fmax(worst, fabs(s.mean_size[k] - want) / (want / sqrt(s.T_count[k])));
    }
    double exact = slope(lx, ly, s.nT), far = log(gw_mean_size(4000) / gw_mean_size(2000)) / log(2);
    printf("Galton-Watson, %d avalanches: alpha_S %.3f (x_min %g), alpha_T %.3f (x_min %g); gamma %.3f +- %.3f over T "
           "%d..%d (exact %.3f; 2000..4000: %.3f), predicted %.3f, collapse %.3f (%d shapes, error %.2g); %d truncated\n",
           N, s.size_fit.alpha, s.size_fit.xmin, s.duration_fit.alpha, s.duration_fit.xmin, s.gamma, s.gamma_se, s.T[0],
           s.T[s.nT - 1], exact, far, s.gamma_pred, s.gamma_collapse, s.nshapes, s.collapse_err, s.truncated);
    CHECK(s.has_size_fit && fabs(s.size_fit.alpha - 1.5) < 0.05, "alpha_S %.3f", s.size_fit.alpha);
    CHECK(fabs(s.gamma - exact) < 3 * s.gamma_se + 0.01, "gamma %.3f, the exact slope %.3f", s.gamma, exact);
    CHECK(worst < 4, "<S>(T) off the exact mean by %.1f standard errors", worst);
    CHECK(fabs(far - 2) < 0.01, "the exact slope of long avalanches %.4f, want 2", far);
    CHECK(fabs(s.gamma_collapse - exact) < 0.1, "collapse gamma %.3f, the exact slope %.3f", s.gamma_collapse, exact);
    cn_avalanche_stats_free(&s);
    free(c);
}

/* ---------------------------------------------------------------- failure paths */

static void test_errors(void)
{
    cn_net *net = tree_net(0.8, 1);
    cn_real *x = gaussian(2, W, 1);
    cn_cascade_cfg cfg;
    cn_cascade_result r;
    cn_error err = {0};
    struct {
        const char *what, *msg;
        void (*set)(cn_cascade_cfg *);
    } cases[] = {
        {"eps 0", "eps", NULL}, {"eps NaN", "eps", NULL}, {"threshold < 0", "threshold", NULL},
        {"rel threshold 0", "relative threshold", NULL}, {"trials 0", "trials", NULL},
        {"site in finite mode", "linear mode", NULL}, {"site past the last block", "a block after its site", NULL},
        {"site -2", "site", NULL}, {"mode 7", "mode", NULL}};
    for (int i = 0; i < (int)(sizeof cases / sizeof *cases); i++) {
        cn_cascade_defaults(&cfg);
        switch (i) {
        case 0: cfg.eps = 0; break;
        case 1: cfg.eps = NAN; break;
        case 2: cfg.threshold = -1; break;
        case 3: cfg.rel_threshold = 0; break;
        case 4: cfg.trials = 0; break;
        case 5: cfg.site = 0; break;
        case 6: cfg.site = 5, cfg.mode = CN_CASCADE_LINEAR; break;
        case 7: cfg.site = -2; break;
        case 8: cfg.mode = (cn_cascade_mode)7; break;
        }
        err.msg[0] = 0;
        int rc = cn_cascade_run(&r, net, x, 2, &cfg, &err);
        CHECK(rc == CN_ERR_ARG && strstr(err.msg, cases[i].msg), "%s: rc %d, '%s'", cases[i].what, rc, err.msg);
        CHECK(r.counts == NULL, "%s: a result left allocated", cases[i].what);
    }
    cn_cascade_defaults(&cfg);
    CHECK(cn_cascade_run(&r, net, x, 0, &cfg, &err) == CN_ERR_ARG, "no inputs");
    x[70] = NAN;
    CHECK(cn_cascade_run(&r, net, x, 2, &cfg, &err) == CN_ERR_NONFINITE && strstr(err.msg, "input 1"), "NaN input: '%s'",
          err.msg);
    x[70] = 0;
    /* a network that passes nothing on: the relative threshold would be 0 */
    memset(cn_net_params(net), 0, sizeof(cn_real) * cn_net_param_count(net));
    CHECK(cn_cascade_run(&r, net, x, 2, &cfg, &err) == CN_ERR_ARG && strstr(err.msg, "absolute"), "dead network: '%s'",
          err.msg);
    cn_cascade_mode m;
    CHECK(cn_cascade_mode_from_name("linear", &m) == CN_OK && m == CN_CASCADE_LINEAR &&
              cn_cascade_mode_from_name("exact", &m) == CN_ERR_ARG,
          "mode names");
    const int neg[3] = {1, -1, 0};
    cn_avalanche_opts o;
    cn_avalanche_opts_default(&o);
    cn_avalanche_stats s;
    CHECK(cn_avalanche_analyse(&s, neg, 1, 3, &o, &err) == CN_ERR_ARG && strstr(err.msg, "negative"), "negative count");
    CHECK(cn_avalanche_analyse(&s, neg, 0, 3, &o, &err) == CN_ERR_ARG, "no avalanches");
    o.shape_points = 1;
    CHECK(cn_avalanche_analyse(&s, neg, 1, 3, &o, &err) == CN_ERR_ARG, "one shape point");
    cn_net_free(net);
    free(x);
}

static void test_alloc_failures(void)
{
    cn_net *net = random_tanh(16, 4, 1.0, 5);
    cn_real *x = gaussian(6, 16, 6);
    enum { LEN = 12 };
    int *c = calloc(200 * LEN, sizeof *c);
    for (int i = 0; i < 200; i++)
        for (int t = 0; t < 1 + i % 7; t++) c[i * LEN + t] = 1 + (i * 7 + t) % 13;
    for (int mode = 0; mode < CN_CASCADE_MODE_COUNT; mode++) {
        int done = 0, leaks = 0;
        cn_cascade_cfg cfg;
        cn_cascade_defaults(&cfg);
        cfg.mode = (cn_cascade_mode)mode;
        cfg.trials = 3;
        cfg.batch = 6;
        cn_cascade_result r;
        /* once unhooked, so that the network's own buffers are reserved outside the count */
        CHECK_OK(cn_cascade_run(&r, net, x, 6, &cfg, NULL));
        cn_cascade_result_free(&r);
        for (long k = 1; !done && k < 500; k++) {
            hook_install(k);
            int rc = cn_cascade_run(&r, net, x, 6, &cfg, NULL);
            if (rc == CN_OK) cn_cascade_result_free(&r);
            done = g_stats.failed == 0;
            cn_set_allocator(NULL);
            leaks += g_stats.live != 0;
            CHECK(rc == CN_OK || rc == CN_ERR_NOMEM, "allocation %ld: rc %d", k, rc);
        }
        CHECK(done && !leaks, "%s: cascades under failing allocations: %d leaks", cn_cascade_mode_name(mode), leaks);
    }
    int done = 0, leaks = 0;
    for (long k = 1; !done && k < 500; k++) {
        cn_avalanche_opts o;
        cn_avalanche_opts_default(&o);
        o.fit.min_tail = 10;
        cn_avalanche_stats s;
        hook_install(k);
        int rc = cn_avalanche_analyse(&s, c, 200, LEN, &o, NULL);
        if (rc == CN_OK) cn_avalanche_stats_free(&s);
        done = g_stats.failed == 0;
        cn_set_allocator(NULL);
        leaks += g_stats.live != 0;
        CHECK(rc == CN_OK || rc == CN_ERR_NOMEM, "analyse, allocation %ld: rc %d", k, rc);
    }
    CHECK(done && !leaks, "analyse under failing allocations: %d leaks", leaks);
    free(c);
    cn_net_free(net);
    free(x);
}

int main(void)
{
    test_tree();
    test_batch_and_modes();
    test_definitions();
    test_exact_collapse();
    test_galton_watson();
    test_errors();
    test_alloc_failures();
    return check_summary("test_cascade");
}
