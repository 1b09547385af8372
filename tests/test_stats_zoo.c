/* test_stats_zoo.c: the statistics of the model zoo (does accuracy track criticality across families of
 * models) against scipy.stats and statsmodels on the same numbers: the Mann-Whitney U test, the percentile
 * bootstrap interval of Spearman's rho, and the random-intercept mixed model (REML and ML).
 * tests/stats_zoo_ref.py writes scipy's and statsmodels' answers on fixed data sets; for the bootstrap it is
 * handed the very resample indices critnet drew, so the intervals must agree to rounding. For MixedLM it
 * records statsmodels' fit at statsmodels' optimum, located to rounding by a root of statsmodels' own score
 * (its default optimiser stops up to 1e-4 away in tau2; stats_zoo_ref.py says more), and statsmodels' default
 * fit as well, whose llf critnet's may not fall below. Missing python3, scipy or statsmodels fails.
 *
 * Tolerances, all relative to the reference (absolute only where a value is 0): Mann-Whitney U exact, p and
 * z 1e-9; the rho intervals 1e-12 (the same resamples; only the summation order in a correlation differs);
 * MixedLM tau2, s2, beta, se and z 1e-6 (issue 6's bound), llf 1e-9, p-values 1e-6 (issue 6 asks 1e-4). The
 * agreement measured is far closer, about 1e-15 for the tests and 1e-11 (p 1e-8) for MixedLM, and the worst
 * of each is printed at the end; the slack is for other BLAS and libm builds, not for a looser method. On the
 * boundary (tau2 = 0) critnet must give exactly 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "critnet.h"
#include "ref_text.h"
#include "torch_ref_io.h"

#define MWU_P_REL 1e-9
#define BOOT_REL 1e-12
#define MIXED_REL 1e-6
#define MIXED_LLF_REL 1e-9
#define MIXED_P_REL 1e-6

/* a and b agree to rel relative to b (both NaN counts as agreement; abs_floor for values near 0) */
static int close_to(double a, double b, double rel, double abs_floor)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b || fabs(a - b) <= rel * fabs(b) || fabs(a - b) <= abs_floor;
}

static double rel_diff(double a, double b)
{
    if (a == b) return 0;
    return fabs(a - b) / fabs(b);
}

/* the worst relative differences met, printed at the end for the record */
static struct {
    double mwu_p, mwu_z, boot, tau2, s2, llf, beta, se, z, p, default_tau2;
} worst;

static void track(double *w, double a, double b)
{
    double d = rel_diff(a, b);
    if (isfinite(d) && d > *w) *w = d;
}

/* an allocator that refuses everything and counts what is live */
static int live;
static void *refuse(size_t size, void *user) { (void)size; (void)user; return NULL; }
static void release(void *p, void *user) { (void)user; live--; free(p); }

/* ---------------------------------------------------------------- checks that need no reference */

static void test_mann_whitney_known(void)
{
    /* scipy's docstring (Shier 2004): males against females, U = 17, exact p = 1/9 two-sided */
    const double males[] = {19, 22, 16, 29, 24}, females[] = {20, 11, 17, 12};
    cn_stats_mann_whitney r;
    CHECK_OK(cn_stats_mann_whitney_u(&r, males, 5, females, 4, CN_STATS_ALT_TWO_SIDED));
    CHECK(r.statistic == 17 && r.exact && r.nx == 5 && r.ny == 4, "ages: U %g exact %d", r.statistic, r.exact);
    CHECK(close_to(r.p_value, 1.0 / 9, 1e-15, 0), "ages: p %.17g, want 1/9", r.p_value);
    /* the reverse, one-sided: U = 3, p = P(U <= 3) = 7 of the C(9, 4) = 126 arrangements = 1/18 */
    CHECK_OK(cn_stats_mann_whitney_u(&r, females, 4, males, 5, CN_STATS_ALT_LESS));
    CHECK(r.statistic == 3 && close_to(r.p_value, 1.0 / 18, 1e-15, 0), "females less: U %g p %.17g, want 3, 1/18",
          r.statistic, r.p_value);
    /* U of x plus U of y is nx ny; the two-sided p does not care which sample comes first */
    cn_stats_mann_whitney s;
    CHECK_OK(cn_stats_mann_whitney_u(&s, males, 5, females, 4, CN_STATS_ALT_TWO_SIDED));
    CHECK_OK(cn_stats_mann_whitney_u(&r, females, 4, males, 5, CN_STATS_ALT_TWO_SIDED));
    CHECK(r.statistic + s.statistic == 20 && r.p_value == s.p_value, "swapped: U %g + %g, p %.17g vs %.17g",
          r.statistic, s.statistic, r.p_value, s.p_value);
    /* complete separation, 3 against 3: P(U = 9) = 1 / C(6, 3) = 1/20 exactly */
    const double lo3[] = {1, 2, 3}, hi3[] = {4, 5, 6};
    CHECK_OK(cn_stats_mann_whitney_u(&r, hi3, 3, lo3, 3, CN_STATS_ALT_GREATER));
    CHECK(r.statistic == 9 && r.p_value == 0.05, "separated: U %g p %.17g, want 9 and 1/20", r.statistic, r.p_value);
    /* a tie sends it to the normal approximation, even with tiny samples */
    const double tied[] = {3, 7, 8};
    CHECK_OK(cn_stats_mann_whitney_u(&r, tied, 3, lo3, 3, CN_STATS_ALT_TWO_SIDED));
    CHECK(!r.exact && r.statistic == 8.5, "tie: exact %d U %g, want 0 and 8.5", r.exact, r.statistic);

    /* the errors */
    CHECK(cn_stats_mann_whitney_u(&r, males, 0, females, 4, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG, "nx = 0 accepted");
    CHECK(isnan(r.statistic) && isnan(r.p_value), "failed call left U %g p %g", r.statistic, r.p_value);
    CHECK(cn_stats_mann_whitney_u(&r, males, 5, females, -1, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG, "ny = -1 accepted");
    CHECK(cn_stats_mann_whitney_u(NULL, males, 5, females, 4, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG,
          "NULL out accepted");
    CHECK(cn_stats_mann_whitney_u(&r, NULL, 5, females, 4, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG, "NULL x accepted");
    CHECK(cn_stats_mann_whitney_u(&r, males, 5, females, 4, CN_STATS_ALT_COUNT) == CN_ERR_ARG,
          "bad alternative accepted");
    const double nan_y[] = {1, NAN, 3}, inf_x[] = {INFINITY, 2};
    CHECK(cn_stats_mann_whitney_u(&r, males, 5, nan_y, 3, CN_STATS_ALT_LESS) == CN_ERR_NONFINITE, "NaN accepted");
    CHECK(cn_stats_mann_whitney_u(&r, inf_x, 2, females, 4, CN_STATS_ALT_LESS) == CN_ERR_NONFINITE, "Inf accepted");

    /* out of memory: a status, nothing leaked */
    cn_allocator hook = {refuse, release, NULL};
    live = 0;
    cn_set_allocator(&hook);
    int rc = cn_stats_mann_whitney_u(&r, males, 5, females, 4, CN_STATS_ALT_TWO_SIDED);
    cn_set_allocator(NULL);
    CHECK(rc == CN_ERR_NOMEM && live == 0, "out of memory: status %d, %d blocks off", rc, live);
}

static void test_rho_bootstrap_known(void)
{
    /* strictly increasing y in x: every resample with two distinct pairs has rho = 1 */
    const double x[] = {0.1, 0.4, 0.5, 0.9, 1.3, 2.0, 2.2, 3.1}, y[] = {1, 2, 4, 8, 16, 32, 64, 128};
    double lo, hi, lo2, hi2;
    int skipped = -1;
    cn_rng *r = cn_rng_new(5);
    CHECK_OK(cn_stats_spearman_bootstrap_ci(&lo, &hi, &skipped, x, y, 8, 500, 0.95, r));
    cn_rng_free(r);
    CHECK(lo == 1 && hi == 1 && skipped == 0, "monotone: [%.17g, %.17g], %d skipped", lo, hi, skipped);
    /* the same seed repeats the interval; a second call on one generator does not */
    const double yn[] = {0.3, -1.2, 0.8, 2.5, 0.1, 1.7, -0.4, 0.9};
    r = cn_rng_new(6);
    CHECK_OK(cn_stats_spearman_bootstrap_ci(&lo, &hi, NULL, x, yn, 8, 999, 0.9, r));
    cn_rng_free(r);
    r = cn_rng_new(6);
    CHECK_OK(cn_stats_spearman_bootstrap_ci(&lo2, &hi2, NULL, x, yn, 8, 999, 0.9, r));
    CHECK(lo2 == lo && hi2 == hi && lo < hi && lo >= -1 && hi <= 1, "same seed: [%g, %g] vs [%g, %g]", lo, hi, lo2,
          hi2);
    CHECK_OK(cn_stats_spearman_bootstrap_ci(&lo2, &hi2, NULL, x, yn, 8, 999, 0.9, r));
    CHECK(lo2 != lo || hi2 != hi, "a second call on one generator repeated the resamples");

    /* undefined resamples: a constant y skips all of them, two pairs half of them */
    const double same[] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, &skipped, x, same, 8, 200, 0.95, r) == CN_ERR_ARG,
          "constant y accepted");
    CHECK(skipped == 200 && isnan(lo) && isnan(hi), "constant y: %d of 200 skipped, [%g, %g]", skipped, lo, hi);
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, &skipped, x, y, 2, 2000, 0.95, r) == CN_ERR_ARG, "n = 2 accepted");
    CHECK(skipped > 800 && skipped < 1200, "n = 2: %d of 2000 skipped, want about half", skipped);

    /* the errors */
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, &skipped, x, y, 1, 100, 0.95, r) == CN_ERR_ARG, "n = 1 accepted");
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, NULL, x, NULL, 8, 100, 0.95, r) == CN_ERR_ARG, "NULL y accepted");
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, NULL, x, y, 8, 0, 0.95, r) == CN_ERR_ARG, "0 resamples accepted");
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, NULL, x, y, 8, 100, 1.5, r) == CN_ERR_ARG, "level 1.5 accepted");
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, NULL, x, y, 8, 100, 0.95, NULL) == CN_ERR_ARG, "NULL rng accepted");
    const double nan_y[] = {1, 2, 3, NAN, 5, 6, 7, 8};
    CHECK(cn_stats_spearman_bootstrap_ci(&lo, &hi, NULL, x, nan_y, 8, 100, 0.95, r) == CN_ERR_NONFINITE,
          "NaN accepted");
    CHECK(isnan(lo) && isnan(hi), "failed call left [%g, %g]", lo, hi);

    cn_allocator hook = {refuse, release, NULL};
    live = 0;
    cn_set_allocator(&hook);
    int rc = cn_stats_spearman_bootstrap_ci(&lo, &hi, NULL, x, yn, 8, 100, 0.95, r);
    cn_set_allocator(NULL);
    CHECK(rc == CN_ERR_NOMEM && live == 0, "out of memory: status %d, %d blocks off", rc, live);
    cn_rng_free(r);
}

/* A balanced one-way layout, intercept only: REML has the ANOVA closed form where MSB > MSW,
 * s2 = MSW, tau2 = (MSB - MSW) / b, and se(intercept) = sqrt(MSB / (a b)); ML has s2 = MSW and
 * tau2 = ((a - 1) / a MSB - MSW) / b. Plus the invariances any correct fit has, and the errors. */
static void test_mixed_known(void)
{
    enum { A = 5, B = 4, N = A * B };
    double y[N], ones[N], X2[N * 2], y2[N];
    int g[N], g2[N];
    cn_rng *r = cn_rng_new(77);
    for (int a = 0; a < A; a++) {
        double u = 1.5 * cn_rng_normal(r);
        for (int b = 0; b < B; b++) {
            int i = a * B + b;
            y[i] = 3 + u + cn_rng_normal(r);
            ones[i] = 1;
            g[i] = a;
            X2[2 * i] = 1;
            X2[2 * i + 1] = cn_rng_normal(r);
        }
    }
    double grand = 0, ssb = 0, ssw = 0, mean[A] = {0};
    for (int i = 0; i < N; i++) {
        grand += y[i] / N;
        mean[g[i]] += y[i] / B;
    }
    for (int i = 0; i < N; i++) ssw += (y[i] - mean[g[i]]) * (y[i] - mean[g[i]]);
    for (int a = 0; a < A; a++) ssb += B * (mean[a] - grand) * (mean[a] - grand);
    double msb = ssb / (A - 1), msw = ssw / (N - A);
    CHECK(msb > 2 * msw, "the seed gave MSB %g, MSW %g: no interior estimate to test", msb, msw);

    cn_stats_mixed_fit f, h;
    CHECK_OK(cn_stats_mixed_intercept(&f, y, ones, N, 1, g, 1));
    CHECK(close_to(f.s2, msw, 1e-9, 0) && close_to(f.tau2, (msb - msw) / B, 1e-9, 0),
          "REML balanced: s2 %.15g tau2 %.15g, ANOVA %.15g %.15g", f.s2, f.tau2, msw, (msb - msw) / B);
    CHECK(close_to(f.beta[0], grand, 1e-12, 0) && close_to(f.se[0], sqrt(msb / N), 1e-9, 0),
          "REML balanced: beta %.15g se %.15g, want %.15g %.15g", f.beta[0], f.se[0], grand, sqrt(msb / N));
    CHECK(f.converged && !f.boundary && f.n == N && f.k == 1 && f.n_groups == A && f.reml == 1,
          "REML balanced: converged %d boundary %d n %d k %d groups %d", f.converged, f.boundary, f.n, f.k,
          f.n_groups);
    CHECK(close_to(f.z[0], f.beta[0] / f.se[0], 1e-15, 0) && f.p[0] >= 0 && f.p[0] < 0.05, "z %g p %g", f.z[0], f.p[0]);
    CHECK_OK(cn_stats_mixed_intercept(&f, y, ones, N, 1, g, 0));
    double ml_tau2 = ((A - 1.0) / A * msb - msw) / B;
    CHECK(close_to(f.s2, msw, 1e-9, 0) && close_to(f.tau2, ml_tau2, 1e-9, 0) && f.reml == 0,
          "ML balanced: s2 %.15g tau2 %.15g, want %.15g %.15g", f.s2, f.tau2, msw, ml_tau2);

    /* invariances: y + c moves the intercept only; c y scales the variances by c^2, beta and se by c and
     * the llf by -m ln c; group labels are names only, rows in any order */
    CHECK_OK(cn_stats_mixed_intercept(&f, y, X2, N, 2, g, 1));
    for (int i = 0; i < N; i++) y2[i] = y[i] + 100;
    CHECK_OK(cn_stats_mixed_intercept(&h, y2, X2, N, 2, g, 1));
    CHECK(close_to(h.beta[0], f.beta[0] + 100, 1e-12, 0) && close_to(h.beta[1], f.beta[1], 1e-9, 1e-12) &&
              close_to(h.tau2, f.tau2, 1e-9, 0) && close_to(h.llf, f.llf, 1e-11, 0) &&
              close_to(h.se[1], f.se[1], 1e-9, 0),
          "y + 100: beta %g %g tau2 %g llf %g, was %g %g %g %g", h.beta[0], h.beta[1], h.tau2, h.llf, f.beta[0],
          f.beta[1], f.tau2, f.llf);
    for (int i = 0; i < N; i++) y2[i] = 1e-3 * y[i];
    CHECK_OK(cn_stats_mixed_intercept(&h, y2, X2, N, 2, g, 1));
    CHECK(close_to(h.tau2, 1e-6 * f.tau2, 1e-9, 0) && close_to(h.s2, 1e-6 * f.s2, 1e-9, 0) &&
              close_to(h.se[1], 1e-3 * f.se[1], 1e-9, 0) && close_to(h.llf, f.llf - (N - 2) * log(1e-3), 1e-11, 0),
          "1e-3 y: tau2 %g s2 %g se %g llf %.15g", h.tau2, h.s2, h.se[1], h.llf);
    double yp[N], Xp[N * 2];
    for (int i = 0; i < N; i++) { /* rows reversed, labels 1000 - 7 a */
        int j = N - 1 - i;
        yp[i] = y[j];
        Xp[2 * i] = X2[2 * j];
        Xp[2 * i + 1] = X2[2 * j + 1];
        g2[i] = 1000 - 7 * g[j];
    }
    CHECK_OK(cn_stats_mixed_intercept(&h, yp, Xp, N, 2, g2, 1));
    CHECK(close_to(h.tau2, f.tau2, 1e-9, 0) && close_to(h.beta[1], f.beta[1], 1e-9, 0) &&
              close_to(h.llf, f.llf, 1e-12, 0),
          "relabelled, reordered: tau2 %.15g beta %.15g llf %.15g, was %.15g %.15g %.15g", h.tau2, h.beta[1], h.llf,
          f.tau2, f.beta[1], f.llf);

    /* y constant within each group: the groups explain everything, the likelihood grows without end as
     * gamma = tau2 / s2 does, and the search stops at its top unconverged */
    for (int i = 0; i < N; i++) y2[i] = mean[g[i]];
    CHECK_OK(cn_stats_mixed_intercept(&h, y2, ones, N, 1, g, 1));
    CHECK(!h.converged && !h.boundary && h.tau2 > 1e9 * h.s2, "y = group means: converged %d, tau2 %g s2 %g",
          h.converged, h.tau2, h.s2);

    /* the errors */
    double big[N * 17];
    for (int i = 0; i < N * 17; i++) big[i] = cn_rng_normal(r);
    CHECK(cn_stats_mixed_intercept(&f, y, big, N, 17, g, 1) == CN_ERR_ARG, "k = 17 accepted");
    CHECK(isnan(f.tau2) && isnan(f.beta[0]) && isnan(f.llf), "failed call left tau2 %g beta %g", f.tau2, f.beta[0]);
    CHECK(cn_stats_mixed_intercept(&f, y, X2, N, 0, g, 1) == CN_ERR_ARG, "k = 0 accepted");
    CHECK(cn_stats_mixed_intercept(&f, y, X2, 2, 2, g, 1) == CN_ERR_ARG, "n = k under REML accepted");
    CHECK(cn_stats_mixed_intercept(NULL, y, X2, N, 2, g, 1) == CN_ERR_ARG, "NULL out accepted");
    CHECK(cn_stats_mixed_intercept(&f, y, X2, N, 2, NULL, 1) == CN_ERR_ARG, "NULL group accepted");
    int one[N] = {0}, each[N];
    for (int i = 0; i < N; i++) each[i] = i;
    CHECK(cn_stats_mixed_intercept(&f, y, X2, N, 2, one, 1) == CN_ERR_ARG, "one group accepted");
    CHECK(cn_stats_mixed_intercept(&f, y, X2, N, 2, each, 1) == CN_ERR_ARG, "only singleton groups accepted");
    double coll[N * 2];
    for (int i = 0; i < N; i++) coll[2 * i] = 1, coll[2 * i + 1] = 2;
    CHECK(cn_stats_mixed_intercept(&f, y, coll, N, 2, g, 1) == CN_ERR_ARG, "collinear X accepted");
    CHECK(cn_stats_mixed_intercept(&f, ones, ones, N, 1, g, 1) == CN_ERR_ARG, "y fitted exactly accepted");
    /* the same up to rounding: a constant y and a line in x, against an intercept and x */
    for (int i = 0; i < N; i++) y2[i] = 0.5;
    CHECK(cn_stats_mixed_intercept(&f, y2, X2, N, 2, g, 1) == CN_ERR_ARG, "constant y accepted");
    for (int i = 0; i < N; i++) y2[i] = 0.3 + 0.7 * X2[2 * i + 1];
    CHECK(cn_stats_mixed_intercept(&f, y2, X2, N, 2, g, 0) == CN_ERR_ARG, "y on a line in x accepted");
    y2[3] = NAN;
    CHECK(cn_stats_mixed_intercept(&f, y2, X2, N, 2, g, 0) == CN_ERR_NONFINITE, "NaN in y accepted");
    memcpy(Xp, X2, sizeof Xp);
    Xp[7] = INFINITY;
    CHECK(cn_stats_mixed_intercept(&f, y, Xp, N, 2, g, 0) == CN_ERR_NONFINITE, "Inf in X accepted");

    cn_allocator hook = {refuse, release, NULL};
    live = 0;
    cn_set_allocator(&hook);
    int rc = cn_stats_mixed_intercept(&f, y, X2, N, 2, g, 1);
    cn_set_allocator(NULL);
    CHECK(rc == CN_ERR_NOMEM && live == 0, "out of memory: status %d, %d blocks off", rc, live);
    cn_rng_free(r);
}

/* ---------------------------------------------------------------- the scipy and statsmodels reference */

/* The bootstrap cases handed to stats_zoo_ref.py: data, resamples, level, the seed critnet draws with. */
typedef struct {
    const char *name;
    int n, resamples;
    double level;
    uint64_t seed;
    double x[40], y[40];
    int rc, skipped;
    double lo, hi;
} boot_case;

static boot_case boots[] = {
    {.name = "zoo30", .n = 30, .resamples = 2000, .level = 0.95, .seed = 21},
    {.name = "ties40", .n = 40, .resamples = 1500, .level = 0.90, .seed = 22},
    /* five distinct pairs: about 1 resample in 625 has one index five times, and is skipped */
    {.name = "small5", .n = 5, .resamples = 4000, .level = 0.95, .seed = 23, .x = {0.3, 0.1, 0.7, 0.2, 0.5},
     .y = {0.86, 0.84, 0.88, 0.87, 0.85}},
    /* x = 1, 1, 2: a third of the resamples have a constant x, past the 10% critnet accepts */
    {.name = "skipmany3", .n = 3, .resamples = 600, .level = 0.95, .seed = 24, .x = {1, 1, 2}, .y = {0.1, 0.5, 0.3}},
};
#define NBOOT ((int)(sizeof boots / sizeof boots[0]))

static int write_boot_input(const char *path)
{
    cn_rng *gen = cn_rng_new(2025);
    for (int i = 0; i < boots[0].n; i++) { /* |lambda_0| and an accuracy that falls with it, 4 decimals */
        boots[0].x[i] = fabs(0.25 * cn_rng_normal(gen));
        boots[0].y[i] = round(1e4 * (0.88 - 0.05 * boots[0].x[i] + 0.01 * cn_rng_normal(gen))) / 1e4;
    }
    for (int i = 0; i < boots[1].n; i++) { /* 4 depth levels against accuracies to 2 decimals: ties */
        boots[1].x[i] = (double)cn_rng_below(gen, 4);
        boots[1].y[i] = round(100 * (0.8 + 0.02 * boots[1].x[i] + 0.03 * cn_rng_normal(gen))) / 100;
    }
    cn_rng_free(gen);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int c = 0; c < NBOOT; c++) {
        boot_case *b = &boots[c];
        cn_rng *r = cn_rng_new(b->seed);
        b->rc = cn_stats_spearman_bootstrap_ci(&b->lo, &b->hi, &b->skipped, b->x, b->y, b->n, b->resamples, b->level,
                                               r);
        cn_rng_free(r);
        fprintf(f, "rhoboot %s %d %d %.17g\n", b->name, b->n, b->resamples, b->level);
        for (int i = 0; i < b->n; i++) fprintf(f, "%.17g%c", b->x[i], i + 1 < b->n ? ' ' : '\n');
        for (int i = 0; i < b->n; i++) fprintf(f, "%.17g%c", b->y[i], i + 1 < b->n ? ' ' : '\n');
        r = cn_rng_new(b->seed); /* the draws cn_stats_spearman_bootstrap_ci documents */
        for (long k = 0; k < (long)b->resamples * b->n; k++)
            fprintf(f, "%llu%c", (unsigned long long)cn_rng_below(r, (uint64_t)b->n), (k + 1) % b->n ? ' ' : '\n');
        cn_rng_free(r);
    }
    return fclose(f) == 0 ? 0 : -1;
}

typedef struct {
    int mwu, exact, approx, big_exact, rhoboot, rho_skips, rho_refused, scipy_boot, mixed, boundary, reml,
        ended;
} tally;

/* mwu NAME ALT NX NY x... y... U P Z EXACT */
static void check_mwu(reader *rd, tally *t)
{
    char name[64];
    snprintf(name, sizeof name, "%s", next_tok(rd));
    int alt = alt_from_name(next_tok(rd));
    int nx = (int)next_num(rd), ny = (int)next_num(rd);
    double *x = next_nums(rd, nx), *y = next_nums(rd, ny);
    double u = next_num(rd), p = next_num(rd), z = next_num(rd);
    int exact = (int)next_num(rd);
    if (rd->bad || !x || !y || alt < 0) {
        rd->bad = 1;
        goto done;
    }
    cn_stats_mann_whitney r;
    int rc = cn_stats_mann_whitney_u(&r, x, nx, y, ny, (cn_stats_alternative)alt);
    CHECK(rc == CN_OK, "mwu %s (%d): status %d", name, alt, rc);
    CHECK(r.statistic == u, "mwu %s (%d): U %.17g, scipy %.17g", name, alt, r.statistic, u);
    CHECK(close_to(r.p_value, p, MWU_P_REL, 0), "mwu %s (%d): p %.17g, scipy %.17g", name, alt, r.p_value, p);
    CHECK(close_to(r.z, z, MWU_P_REL, 1e-14), "mwu %s (%d): z %.17g, scipy %.17g", name, alt, r.z, z);
    CHECK(exact == -1 || r.exact == exact, "mwu %s (%d): exact %d, scipy's branch %d", name, alt, r.exact, exact);
    track(&worst.mwu_p, r.p_value, p);
    track(&worst.mwu_z, r.z, z);
    t->mwu++;
    t->exact += exact == 1;
    t->approx += exact == 0;
    t->big_exact += exact == 1 && (nx > 300 || ny > 300);
done:
    free(x);
    free(y);
}

static boot_case *find_boot(const char *name)
{
    for (int c = 0; c < NBOOT; c++)
        if (!strcmp(boots[c].name, name)) return &boots[c];
    return NULL;
}

/* rhoboot NAME LO HI SKIPPED SCIPY_LO SCIPY_HI */
static void check_rhoboot(reader *rd, tally *t)
{
    boot_case *b = find_boot(next_tok(rd));
    double lo = next_num(rd), hi = next_num(rd);
    int skipped = (int)next_num(rd);
    double s_lo = next_num(rd), s_hi = next_num(rd);
    if (rd->bad || !b) {
        rd->bad = 1;
        return;
    }
    CHECK(b->skipped == skipped, "rho bootstrap %s: %d resamples skipped, python %d", b->name, b->skipped, skipped);
    if (skipped > 0.1 * b->resamples) {
        CHECK(b->rc == CN_ERR_ARG && isnan(b->lo), "rho bootstrap %s: %d of %d skipped, status %d, want CN_ERR_ARG",
              b->name, skipped, b->resamples, b->rc);
        t->rho_refused++;
    } else {
        CHECK(b->rc == CN_OK, "rho bootstrap %s: status %d", b->name, b->rc);
        CHECK(close_to(b->lo, lo, BOOT_REL, 1e-15) && close_to(b->hi, hi, BOOT_REL, 1e-15),
              "rho bootstrap %s: [%.17g, %.17g], spearmanr + percentile [%.17g, %.17g]", b->name, b->lo, b->hi, lo, hi);
        track(&worst.boot, b->lo, lo);
        track(&worst.boot, b->hi, hi);
        if (skipped == 0) { /* scipy.stats.bootstrap itself, on the same indices */
            CHECK(close_to(b->lo, s_lo, BOOT_REL, 1e-15) && close_to(b->hi, s_hi, BOOT_REL, 1e-15),
                  "rho bootstrap %s: [%.17g, %.17g], scipy.stats.bootstrap [%.17g, %.17g]", b->name, b->lo, b->hi,
                  s_lo, s_hi);
            track(&worst.boot, b->lo, s_lo);
            track(&worst.boot, b->hi, s_hi);
            t->scipy_boot++;
        }
        CHECK(b->lo < b->hi, "rho bootstrap %s: empty interval [%g, %g]", b->name, b->lo, b->hi);
        t->rho_skips += skipped > 0;
    }
    t->rhoboot++;
}

/* mixed NAME REML N K y... X... g... TAU2 S2 LLF BOUNDARY beta... se... z... p... DEF_TAU2 DEF_LLF DEF_CONV */
static void check_mixed(reader *rd, tally *t)
{
    char name[64];
    snprintf(name, sizeof name, "%s", next_tok(rd));
    int reml = (int)next_num(rd), n = (int)next_num(rd), k = (int)next_num(rd);
    if (rd->bad || n < 1 || k < 1 || k > CN_STATS_MIXED_MAX_K) {
        rd->bad = 1;
        return;
    }
    double *y = next_nums(rd, n), *X = next_nums(rd, n * k), *gd = next_nums(rd, n);
    int *g = calloc((size_t)n, sizeof *g);
    double tau2 = next_num(rd), s2 = next_num(rd), llf = next_num(rd);
    int boundary = (int)next_num(rd);
    double *want = next_nums(rd, 4 * k); /* beta, se, z, p */
    double def_tau2 = next_num(rd), def_llf = next_num(rd);
    int def_conv = (int)next_num(rd);
    if (rd->bad || !y || !X || !gd || !g || !want) {
        rd->bad = 1;
        goto done;
    }
    for (int i = 0; i < n; i++) g[i] = (int)gd[i];
    const char *how = reml ? "REML" : "ML";
    cn_stats_mixed_fit f;
    int rc = cn_stats_mixed_intercept(&f, y, X, n, k, g, reml);
    CHECK(rc == CN_OK && f.converged, "mixed %s %s: status %d converged %d", name, how, rc, f.converged);
    CHECK(f.boundary == boundary, "mixed %s %s: boundary %d, statsmodels' optimum %s", name, how, f.boundary,
          boundary ? "at tau2 = 0" : "inside");
    if (boundary)
        CHECK(f.tau2 == 0, "mixed %s %s: tau2 %.17g on the boundary", name, how, f.tau2);
    else
        CHECK(close_to(f.tau2, tau2, MIXED_REL, 0), "mixed %s %s: tau2 %.17g, statsmodels %.17g", name, how, f.tau2,
              tau2);
    CHECK(close_to(f.s2, s2, MIXED_REL, 0), "mixed %s %s: s2 %.17g, statsmodels %.17g", name, how, f.s2, s2);
    CHECK(close_to(f.llf, llf, MIXED_LLF_REL, 0), "mixed %s %s: llf %.17g, statsmodels %.17g", name, how, f.llf, llf);
    /* statsmodels' own default fit stops short of the optimum: never above critnet's llf, and near its tau2 */
    CHECK(f.llf >= def_llf - 1e-9, "mixed %s %s: llf %.17g below statsmodels' default fit's %.17g", name, how, f.llf,
          def_llf);
    if (!boundary && def_conv) {
        CHECK(close_to(def_tau2, f.tau2, 1e-3, 0), "mixed %s %s: statsmodels' default fit tau2 %.17g, critnet %.17g",
              name, how, def_tau2, f.tau2);
        track(&worst.default_tau2, def_tau2, f.tau2);
    }
    if (!boundary) track(&worst.tau2, f.tau2, tau2);
    track(&worst.s2, f.s2, s2);
    track(&worst.llf, f.llf, llf);
    const char *what[4] = {"beta", "se", "z", "p"};
    for (int j = 0; j < k; j++) {
        const double got[4] = {f.beta[j], f.se[j], f.z[j], f.p[j]};
        double *w[4] = {&worst.beta, &worst.se, &worst.z, &worst.p};
        for (int q = 0; q < 4; q++) {
            double ref = want[q * k + j];
            CHECK(close_to(got[q], ref, q == 3 ? MIXED_P_REL : MIXED_REL, 0),
                  "mixed %s %s: %s[%d] %.17g, statsmodels %.17g", name, how, what[q], j, got[q], ref);
            track(w[q], got[q], ref);
        }
    }
    t->mixed++;
    t->boundary += boundary;
    t->reml += reml;
done:
    free(y);
    free(X);
    free(gd);
    free(g);
    free(want);
}

static void test_against_reference(void)
{
    const char *src = getenv("CRITNET_SRC"), *py = getenv("CRITNET_PYTHON"), *tmp = getenv("TMPDIR");
    if (!src || !*src) src = ".";
    if (!py || !*py) py = "/usr/bin/python3";
    char dir[1024], out[1100], in[1100], cmd[4096];
    snprintf(dir, sizeof dir, "%s/critnet_zoo_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp %s failed", dir);
        return;
    }
    snprintf(out, sizeof out, "%s/ref.txt", dir);
    snprintf(in, sizeof in, "%s/boot.txt", dir);
    CHECK(write_boot_input(in) == 0, "could not write %s", in);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/stats_zoo_ref.py' '%s' '%s'", py, src, out, in);
    printf("running: %s\n", cmd);
    fflush(stdout);
    int st = system(cmd);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the reference script failed (status %d): %s\n(it needs /usr/bin/python3 with scipy, pandas and statsmodels, "
          "e.g. Debian's python3-scipy and python3-statsmodels)", st, cmd);

    tally t = {0};
    reader rd = {fopen(out, "r"), 0};
    CHECK(rd.f != NULL, "no reference file %s", out);
    if (rd.f) {
        const char *magic = next_tok(&rd);
        CHECK(!strcmp(magic, "CNZOO1"), "%s: magic %s, want CNZOO1", out, magic);
        char line[256] = "";
        if (fgets(line, sizeof line, rd.f)) printf("reference:%s", line); /* the library versions */
        int records = 0;
        while (!rd.bad) {
            char kind[64];
            snprintf(kind, sizeof kind, "%s", next_tok(&rd));
            if (rd.bad) break;
            if (!strcmp(kind, "mwu")) check_mwu(&rd, &t);
            else if (!strcmp(kind, "rhoboot")) check_rhoboot(&rd, &t);
            else if (!strcmp(kind, "mixed")) check_mixed(&rd, &t);
            else if (!strcmp(kind, "end")) {
                int count = (int)next_num(&rd);
                CHECK(count == records, "%s: end says %d records, read %d", out, count, records);
                t.ended = 1;
                break;
            } else {
                CHECK(0, "%s: unknown record %s", out, kind);
                break;
            }
            records++;
        }
        CHECK(!rd.bad, "%s: a record is truncated or malformed (after %d records)", out, records);
        fclose(rd.f);
    }
    /* the reference must have covered every branch, so a script that quietly writes less fails here */
    CHECK(t.ended, "the reference file has no end record");
    CHECK(t.mwu == 36 && t.exact >= 15 && t.approx >= 15 && t.big_exact >= 3,
          "%d mwu records (want 36): %d exact, %d approximate, %d exact with a sample over 300", t.mwu, t.exact,
          t.approx, t.big_exact);
    CHECK(t.rhoboot == NBOOT && t.rho_skips >= 1 && t.rho_refused == 1 && t.scipy_boot >= 2,
          "rho bootstrap records: %d (want %d), %d with skipped resamples, %d refused, %d checked against "
          "scipy.stats.bootstrap", t.rhoboot, NBOOT, t.rho_skips, t.rho_refused, t.scipy_boot);
    CHECK(t.mixed == 14 && t.reml == 7 && t.boundary >= 2, "%d mixed records (want 14), %d REML, %d on the boundary",
          t.mixed, t.reml, t.boundary);
    printf("worst relative differences: Mann-Whitney p %.2g z %.2g; rho interval %.2g; MixedLM tau2 %.2g s2 %.2g "
           "llf %.2g beta %.2g se %.2g z %.2g p %.2g (statsmodels' default fit's tau2 %.2g)\n",
           worst.mwu_p, worst.mwu_z, worst.boot, worst.tau2, worst.s2, worst.llf, worst.beta, worst.se, worst.z,
           worst.p, worst.default_tau2);
    ref_remove_dir(dir);
}

int main(void)
{
    test_mann_whitney_known();
    test_rho_bootstrap_known();
    test_mixed_known();
    test_against_reference();
    return check_summary("stats_zoo");
}
