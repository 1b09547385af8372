/* test_powerlaw.c: critnet's power-law fits (src/avalanche/powerlaw*.c) against known answers:
 * - exact continuous and discrete power-law samples: x_min, alpha, the KS distance, sigma and the
 *   log-likelihood against tests/powerlaw_ref.py (numpy/scipy, the paper's full x_min scan; alpha to 1e-6,
 *   the issue asks 0.01), and the true alpha within 3 standard errors;
 * - a critical Galton-Watson process (Poisson(1) offspring): sizes P(s) ~ s^-3/2, durations P(T) ~ T^-2;
 * - log-normal samples, which the likelihood-ratio test must prefer over a power law, and power-law samples,
 *   which it must not reject; every test's R, llr and p against scipy's fits (continuous and integer data);
 * - the bootstrap p-value: the same at 1 and 2 threads, and roughly uniform under the null over many runs;
 * - the failure paths: NaN, non-positive and non-integer values, constant data, too few points above x_min,
 *   bad options, and every allocation failing in turn (tests/alloc_hook.h). */
#include <cjson/cJSON.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet_avalanche.h"

#define TMP_DIR "/tmp"

/* ---------------------------------------------------------------- the scipy reference */

static int write_values(const char *path, const double *x, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < n; i++) fprintf(f, "%.17g\n", x[i]);
    return fclose(f);
}

/* runs tests/powerlaw_ref.py on x; the parsed JSON (caller deletes) or NULL */
static cJSON *reference(const double *x, int n, int discrete, double xmin, const char *extra)
{
    char path[256], cmd[512];
    snprintf(path, sizeof path, TMP_DIR "/cn_pl_ref_%d.txt", (int)getpid());
    if (write_values(path, x, n)) return NULL;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/powerlaw_ref.py %s %s --xmin %.17g %s", path,
             discrete ? "--discrete" : "", xmin, extra);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    static char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, p);
    buf[len] = 0;
    int st = pclose(p);
    remove(path);
    return st == 0 ? cJSON_Parse(buf) : NULL;
}

static double num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void against_reference(const char *what, const double *x, int n, int discrete, double xmin_fixed,
                              double true_alpha)
{
    cn_powerlaw_opts o;
    cn_powerlaw_opts_default(&o);
    o.discrete = discrete;
    o.xmin = xmin_fixed;
    o.max_candidates = 0; /* the paper's full scan, as the reference does */
    cn_powerlaw_fit f;
    cn_error err = {0};
    CHECK_OK(cn_powerlaw_estimate(&f, x, n, &o, &err));
    cJSON *r = reference(x, n, discrete, xmin_fixed, "");
    CHECK(r != NULL, "%s: tests/powerlaw_ref.py failed (python3 with numpy and scipy needed)", what);
    if (!r) return;
    printf("%s: critnet x_min %g alpha %.8f ks %.6g sigma %.6g ll %.8g (%d candidates) | scipy x_min %g alpha %.8f "
           "ks %.6g sigma %.6g ll %.8g (%d)\n",
           what, f.xmin, f.alpha, f.ks, f.sigma, f.loglik, f.candidates, num(r, "xmin"), num(r, "alpha"), num(r, "ks"),
           num(r, "sigma"), num(r, "loglik"), (int)num(r, "candidates"));
    CHECK(f.xmin == num(r, "xmin"), "%s: x_min %g, scipy %g", what, f.xmin, num(r, "xmin"));
    CHECK(f.n_tail == (int)num(r, "n_tail"), "%s: tail %d, scipy %g", what, f.n_tail, num(r, "n_tail"));
    CHECK(fabs(f.alpha - num(r, "alpha")) < 1e-6, "%s: alpha %.10f, scipy %.10f", what, f.alpha, num(r, "alpha"));
    CHECK(fabs(f.ks - num(r, "ks")) < 1e-7, "%s: ks %.10g, scipy %.10g", what, f.ks, num(r, "ks"));
    CHECK(fabs(f.sigma - num(r, "sigma")) < 1e-4 * f.sigma, "%s: sigma %.8g, scipy %.8g", what, f.sigma, num(r, "sigma"));
    CHECK(fabs(f.loglik - num(r, "loglik")) < 1e-6 * fabs(f.loglik), "%s: loglik %.10g, scipy %.10g", what, f.loglik,
          num(r, "loglik"));
    CHECK(xmin_fixed > 0 || f.candidates == (int)num(r, "candidates"), "%s: %d candidates, scipy %g", what,
          f.candidates, num(r, "candidates"));
    CHECK(fabs(f.alpha - true_alpha) < 3 * f.sigma, "%s: alpha %.4f is more than 3 sigma (%.4f) from %.2f", what,
          f.alpha, f.sigma, true_alpha);
    cJSON_Delete(r);
}

/* n_pl draws from the power law (alpha, xmin) after n_below uniform values in [lo, xmin) (integers when discrete) */
static double *mixture(int n_below, double lo, int n_pl, double alpha, double xmin, int discrete, uint64_t seed)
{
    double *x = malloc(sizeof(double) * (size_t)(n_below + n_pl));
    cn_rng *rng = cn_rng_new(seed);
    for (int i = 0; i < n_below; i++) {
        double u = lo + (xmin - lo) * cn_rng_uniform(rng);
        x[i] = discrete ? floor(u) : u;
    }
    CHECK_OK(cn_powerlaw_sample(x + n_below, n_pl, alpha, xmin, discrete, rng));
    cn_rng_free(rng);
    return x;
}

static void test_reference(void)
{
    double *x = mixture(0, 0, 3000, 2.5, 1, 0, 1);
    against_reference("continuous, alpha 2.5, x_min 1", x, 3000, 0, 0, 2.5);
    against_reference("continuous, fixed x_min 2", x, 3000, 0, 2, 2.5);
    free(x);
    x = mixture(1500, 0.5, 2500, 2.2, 5, 0, 2);
    against_reference("continuous, alpha 2.2 above 5, uniform below", x, 4000, 0, 0, 2.2);
    free(x);
    x = mixture(0, 0, 3000, 2.5, 1, 1, 3);
    against_reference("discrete, alpha 2.5, x_min 1", x, 3000, 1, 0, 2.5);
    free(x);
    x = mixture(1500, 1, 2500, 2.0, 4, 1, 4);
    against_reference("discrete, alpha 2.0 above 4, uniform 1..3 below", x, 4000, 1, 0, 2.0);
    against_reference("discrete, fixed x_min 6", x, 4000, 1, 6, 2.0);
    free(x);
}

/* ---------------------------------------------------------------- critical Galton-Watson */

static void test_galton_watson(void)
{
    /* Poisson(1) offspring: generation g+1 has Poisson(Z_g) units (a sum of Poisson(1)), so one draw per
     * generation; sizes follow the Borel law, P(s) ~ s^-3/2 / sqrt(2 pi), durations P(T >= t) ~ 2/t */
    enum { N = 100000 };
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 7);
    double *size = malloc(sizeof(double) * N), *dur = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++) {
        double z = 1, s = 1, t = 1;
        while (z > 0 && t < 1e7) {
            z = gsl_ran_poisson(g, z);
            s += z;
            t += z > 0;
        }
        size[i] = s, dur[i] = t;
    }
    gsl_rng_free(g);
    cn_powerlaw_opts o;
    cn_powerlaw_opts_default(&o);
    o.discrete = 1;
    cn_powerlaw_fit fs, fd;
    CHECK_OK(cn_powerlaw_estimate(&fs, size, N, &o, NULL));
    CHECK_OK(cn_powerlaw_estimate(&fd, dur, N, &o, NULL));
    printf("Galton-Watson sizes: alpha %.4f +- %.4f above %g (%d of %d); durations: alpha %.4f +- %.4f above %g (%d)\n",
           fs.alpha, fs.sigma, fs.xmin, fs.n_tail, N, fd.alpha, fd.sigma, fd.xmin, fd.n_tail);
    CHECK(fabs(fs.alpha - 1.5) < 0.05, "sizes: alpha %.4f, want 1.5 +- 0.05", fs.alpha);
    CHECK(fabs(fd.alpha - 2.0) < 0.05, "durations: alpha %.4f, want 2 +- 0.05", fd.alpha);
    free(size);
    free(dur);
}

/* ---------------------------------------------------------------- likelihood-ratio tests */

/* R, llr and p of every alternative against tests/powerlaw_ref.py --lr on the same tail */
static void compare_lr(const char *what, const double *x, int n, const cn_powerlaw_fit *f)
{
    cJSON *r = reference(x, n, f->discrete, f->xmin, "--lr");
    const cJSON *ref_lr = cJSON_GetObjectItemCaseSensitive(r, "lr");
    CHECK(ref_lr != NULL, "%s: tests/powerlaw_ref.py --lr failed", what);
    for (int a = 0; ref_lr && a < CN_PL_ALT_COUNT; a++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(ref_lr, cn_powerlaw_alt_name(a));
        cn_powerlaw_lr lr;
        cn_error err = {0};
        CHECK_OK(cn_powerlaw_compare(&lr, x, n, f, (cn_powerlaw_alt)a, &err));
        double R = num(t, "R"), llr = num(t, "llr"), p = num(t, "p_value");
        printf("  %s, %-22s critnet R %.6f llr %.6f p %.6f | scipy R %.6f llr %.6f p %.6f\n", what,
               cn_powerlaw_alt_name(a), lr.R, lr.llr, lr.p_value, R, llr, p);
        CHECK(fabs(lr.R - R) < 1e-3 && fabs(lr.llr - llr) < 1e-3 && fabs(lr.p_value - p) < 1e-3,
              "%s, %s: R %.6f llr %.6f p %.6f, scipy %.6f %.6f %.6f", what, cn_powerlaw_alt_name(a), lr.R, lr.llr,
              lr.p_value, R, llr, p);
    }
    cJSON_Delete(r);
}

static void test_lr(void)
{
    enum { N = 5000 };
    double *x = malloc(sizeof(double) * N);
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 11);
    for (int i = 0; i < N; i++) x[i] = gsl_ran_lognormal(g, 2, 1.2);
    /* With x_min at the median, the tail holds the log-normal's curvature and the test must prefer it (it did in
     * 10 of 10 samples of 20000 tried by hand). With x_min searched, the scan keeps the upper tail, where the two
     * laws look alike, and the test has little power (significant in 2 of 10 samples of 5000, 3 of 10 of 20000;
     * docs/avalanches.md): that case is printed and compared with scipy below, not required to be significant. */
    cn_powerlaw_opts o;
    cn_powerlaw_opts_default(&o);
    o.xmin = exp(2);
    cn_powerlaw_fit f;
    CHECK_OK(cn_powerlaw_estimate(&f, x, N, &o, NULL));
    cn_powerlaw_lr lr;
    cn_error err = {0};
    CHECK_OK(cn_powerlaw_compare(&lr, x, N, &f, CN_PL_LOGNORMAL, &err));
    printf("log-normal(2, 1.2) samples, x_min e^2 (%d values): vs log-normal R %.3f p %.3g (mu %.3f s %.3f)\n", f.n_tail,
           lr.R, lr.p_value, lr.param[0], lr.param[1]);
    CHECK(lr.R < 0 && lr.p_value < 0.01, "log-normal data: R %.3f p %.3g, want R < 0 with p < 0.01", lr.R, lr.p_value);
    CHECK(fabs(lr.param[0] - 2) < 0.2 && fabs(lr.param[1] - 1.2) < 0.1, "log-normal fit mu %.3f s %.3f, want 2, 1.2",
          lr.param[0], lr.param[1]);
    CHECK_OK(cn_powerlaw_compare(&lr, x, N, &f, CN_PL_TRUNCATED, &err));
    printf("  vs truncated power law: llr %.3f p %.3g\n", lr.llr, lr.p_value);
    CHECK(lr.llr < 0 && lr.p_value < 0.01, "log-normal data: truncated power law llr %.3f p %.3g", lr.llr, lr.p_value);
    o.xmin = 0;
    CHECK_OK(cn_powerlaw_estimate(&f, x, N, &o, NULL));
    printf("the same, x_min searched: alpha %.3f above %.3g (%d values)\n", f.alpha, f.xmin, f.n_tail);

    /* every alternative's R, llr and p against scipy's fits of the same tail (tests/powerlaw_ref.py --lr:
     * Nelder-Mead from two starts, the truncated power law normalised by quadrature); then the same for integer
     * data, floor(log-normal) + 1 above a fixed x_min of 5, where the reference rounds the continuous laws down
     * and sums the discrete truncated power law's normaliser directly */
    compare_lr("continuous, x_min searched", x, N, &f);
    for (int i = 0; i < N; i++) x[i] = floor(gsl_ran_lognormal(g, 2, 1.2)) + 1;
    o.discrete = 1;
    o.xmin = 5;
    CHECK_OK(cn_powerlaw_estimate(&f, x, N, &o, NULL));
    CHECK_OK(cn_powerlaw_compare(&lr, x, N, &f, CN_PL_LOGNORMAL, &err));
    CHECK(lr.R < 0 && lr.p_value < 0.01, "integer log-normal data: R %.3f p %.3g, want R < 0 with p < 0.01", lr.R,
          lr.p_value);
    compare_lr("discrete, x_min 5", x, N, &f);
    o.discrete = 0;
    o.xmin = 0;

    /* power-law samples: no alternative is significantly better; the exponential is significantly worse */
    for (int discrete = 0; discrete < 2; discrete++) {
        cn_rng *rng = cn_rng_new(13 + discrete);
        CHECK_OK(cn_powerlaw_sample(x, N, 2.5, discrete ? 2 : 1, discrete, rng));
        cn_rng_free(rng);
        o.discrete = discrete;
        CHECK_OK(cn_powerlaw_estimate(&f, x, N, &o, NULL));
        for (int a = 0; a < CN_PL_ALT_COUNT; a++) {
            int rc = cn_powerlaw_compare(&lr, x, N, &f, (cn_powerlaw_alt)a, &err);
            CHECK(rc == CN_OK, "%s vs %s: %s", discrete ? "discrete" : "continuous", cn_powerlaw_alt_name(a), err.msg);
            printf("power law (%s) vs %s: R %.3f llr %.3f p %.3g (params %.4g %.4g)\n", discrete ? "discrete" : "continuous",
                   cn_powerlaw_alt_name(a), lr.R, lr.llr, lr.p_value, lr.param[0], lr.param[1]);
            CHECK(!(lr.R < 0 && lr.p_value < 0.05), "power-law data: %s preferred (R %.3f p %.3g)", cn_powerlaw_alt_name(a),
                  lr.R, lr.p_value);
            if (a == CN_PL_EXPONENTIAL)
                CHECK(lr.R > 0 && lr.p_value < 0.01, "power-law data vs exponential: R %.3f p %.3g", lr.R, lr.p_value);
        }
    }
    gsl_rng_free(g);
    free(x);
}

/* ---------------------------------------------------------------- bootstrap */

static void test_bootstrap(void)
{
    /* one data set at 1 and 2 threads: the same p-value, bit for bit */
    enum { N = 2000 };
    double *x = mixture(0, 0, N, 2.5, 1, 0, 21);
    cn_powerlaw_opts o;
    cn_powerlaw_opts_default(&o);
    o.bootstrap = 200;
    o.seed = 5;
    cn_powerlaw_fit f1, f2;
    cn_set_threads(1);
    CHECK_OK(cn_powerlaw_estimate(&f1, x, N, &o, NULL));
    cn_set_threads(2);
    CHECK_OK(cn_powerlaw_estimate(&f2, x, N, &o, NULL));
    cn_set_threads(1);
    printf("bootstrap, 200 replicates: p %.3f at 1 thread, %.3f at 2\n", f1.p_value, f2.p_value);
    CHECK(f1.p_value == f2.p_value && f1.replicates == 200, "p %.17g at 1 thread, %.17g at 2", f1.p_value, f2.p_value);
    free(x);
    double *d = mixture(0, 0, N, 2.5, 1, 1, 22);
    o.discrete = 1;
    o.bootstrap = 50;
    CHECK_OK(cn_powerlaw_estimate(&f1, d, N, &o, NULL));
    printf("discrete bootstrap, 50 replicates: p %.3f\n", f1.p_value);
    CHECK(f1.p_value > 0.01, "discrete power-law data rejected: p %.3f", f1.p_value);
    free(d);

    /* under the null (power-law samples, x_min searched) the p-values of many small runs are roughly uniform:
     * their KS distance to U(0,1) below the 1% critical value 1.63/sqrt(runs) */
    enum { RUNS = 100, SMALL = 300 };
    double p[RUNS];
    o.discrete = 0;
    o.bootstrap = 100;
    for (int r = 0; r < RUNS; r++) {
        double *y = mixture(0, 0, SMALL, 2.0, 1, 0, 1000 + (uint64_t)r);
        o.seed = (uint64_t)r;
        CHECK_OK(cn_powerlaw_estimate(&f1, y, SMALL, &o, NULL));
        p[r] = f1.p_value;
        free(y);
    }
    double ks = 0, mean = 0;
    for (int i = 0; i < RUNS; i++) mean += p[i] / RUNS;
    for (int i = 0; i < RUNS; i++) {
        int le = 0, lt = 0;
        for (int j = 0; j < RUNS; j++) le += p[j] <= p[i], lt += p[j] < p[i];
        ks = fmax(ks, fmax(fabs((double)le / RUNS - p[i]), fabs((double)lt / RUNS - p[i])));
    }
    printf("null p-values over %d runs: mean %.3f, KS distance to uniform %.3f (1%% critical %.3f)\n", RUNS, mean, ks,
           1.63 / sqrt(RUNS));
    CHECK(ks < 1.63 / sqrt(RUNS), "null p-values not uniform: KS %.3f", ks);
}

/* ---------------------------------------------------------------- failure paths */

static void test_errors(void)
{
    cn_powerlaw_opts o;
    cn_powerlaw_opts_default(&o);
    cn_powerlaw_fit f;
    cn_error err = {0};
    double x[100];
    for (int i = 0; i < 100; i++) x[i] = 1 + i;
    x[7] = NAN;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_NONFINITE && strstr(err.msg, "value 8"), "NaN: %s", err.msg);
    x[7] = -1;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG && strstr(err.msg, "positive"), "negative: %s", err.msg);
    x[7] = 0;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG, "zero accepted");
    x[7] = 8.5;
    o.discrete = 1;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG && strstr(err.msg, "integers"), "non-integer: %s",
          err.msg);
    o.discrete = 0;
    for (int i = 0; i < 100; i++) x[i] = 3;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG && strstr(err.msg, "all 100 values"), "constant: %s",
          err.msg);
    for (int i = 0; i < 100; i++) x[i] = 1 + i;
    CHECK(cn_powerlaw_estimate(&f, x, 40, &o, &err) == CN_ERR_ARG && strstr(err.msg, "at least 50"), "40 values: %s",
          err.msg);
    o.xmin = 80;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG && strstr(err.msg, "21 values"), "x_min 80: %s",
          err.msg);
    o.xmin = -1;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG, "x_min -1 accepted");
    o.xmin = 2.5, o.discrete = 1;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG, "discrete x_min 2.5 accepted");
    cn_powerlaw_opts_default(&o);
    o.bootstrap = -1;
    CHECK(cn_powerlaw_estimate(&f, x, 100, &o, &err) == CN_ERR_ARG, "bootstrap -1 accepted");
    cn_rng *rng = cn_rng_new(1);
    CHECK(cn_powerlaw_sample(x, 10, 1.0, 1, 0, rng) == CN_ERR_ARG, "alpha 1 accepted");
    CHECK(cn_powerlaw_sample(x, 10, 2.0, 1.5, 1, rng) == CN_ERR_ARG, "discrete x_min 1.5 accepted");
    cn_rng_free(rng);

    /* every allocation failing in turn: CN_ERR_NOMEM and no leak */
    double *y = mixture(0, 0, 500, 2.5, 1, 1, 31);
    o.discrete = 1;
    o.bootstrap = 3;
    cn_set_threads(2);
    long fails = 0;
    for (long k = 1;; k++) {
        hook_install(k);
        int rc = cn_powerlaw_estimate(&f, y, 500, &o, &err);
        cn_powerlaw_lr lr;
        int rc2 = rc ? rc : cn_powerlaw_compare(&lr, y, 500, &f, CN_PL_LOGNORMAL, &err);
        long failed = g_stats.failed, live = g_stats.live;
        cn_set_allocator(NULL);
        CHECK(live == 0, "allocation %ld failing: %ld blocks leaked", k, live);
        if (!failed) {
            CHECK(rc == CN_OK && rc2 == CN_OK, "no failure, yet rc %d %d", rc, rc2);
            break;
        }
        fails++;
        CHECK(rc2 == CN_ERR_NOMEM, "allocation %ld failing: rc %d, want CN_ERR_NOMEM", k, rc2);
    }
    cn_set_threads(1);
    CHECK(fails >= 5, "only %ld allocations tried", fails);
    free(y);
}

int main(void)
{
    test_errors();
    test_reference();
    test_galton_watson();
    test_lr();
    test_bootstrap();
    return check_summary("test_powerlaw");
}
