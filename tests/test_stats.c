/* test_stats.c: the experiment's statistics (src/stats/) against scipy.stats and numpy on the same numbers.
 * tests/stats_ref.py writes scipy's answers on fixed data sets (mean and sd, Wilcoxon, Pearson and
 * Spearman correlations), and for the bootstrap it is handed the very
 * resample indices critnet drew, so percentile and BCa intervals must agree to rounding; a second scipy run
 * with its own generator checks the intervals within Monte Carlo error. Missing python3 or scipy fails.
 *
 * Tolerances: statistics (W, mean, sd, z, interval ends) 1e-9 relative; p-values 1e-6 relative. The exact
 * p-values and rank sums are in fact exact in double on both sides; the slack covers erfc against scipy's
 * ndtr and the summation order of the means. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "critnet.h"
#include "ref_text.h"
#include "torch_ref_io.h"

#define STAT_REL 1e-9
#define P_REL 1e-6
#define MC_RESAMPLES 20000

/* a and b agree to rel relative to b (both NaN counts as agreement; abs_floor for values near 0) */
static int close_to(double a, double b, double rel, double abs_floor)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b || fabs(a - b) <= rel * fabs(b) || fabs(a - b) <= abs_floor;
}

/* ---------------------------------------------------------------- checks that need no reference */

static void test_mean_sd(void)
{
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    double m, s;
    CHECK_OK(cn_stats_mean_sd(x, 8, &m, &s));
    CHECK(m == 5 && close_to(s, sqrt(32.0 / 7), 1e-15, 0), "mean %.17g sd %.17g, want 5 and sqrt(32/7)", m, s);
    CHECK_OK(cn_stats_mean_sd(x, 1, &m, &s));
    CHECK(m == 2 && isnan(s), "n = 1: mean %g sd %g, want 2 and NaN", m, s);
    CHECK_OK(cn_stats_mean_sd(x, 8, &m, NULL));
    CHECK(cn_stats_mean_sd(x, 0, &m, &s) == CN_ERR_ARG, "n = 0 accepted");
    CHECK(cn_stats_mean_sd(NULL, 3, &m, &s) == CN_ERR_ARG, "NULL data accepted");
    CHECK(cn_stats_mean_sd(x, 3, NULL, NULL) == CN_ERR_ARG, "no output accepted");
    const double bad[] = {1, NAN, 3};
    CHECK(cn_stats_mean_sd(bad, 3, &m, &s) == CN_ERR_NONFINITE, "NaN accepted");
}

static void test_wilcoxon_known(void)
{
    /* scipy.stats.wilcoxon's docstring: the corn heights of Cheung & Klotz, against zero */
    const double d[] = {6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75};
    double zero[15] = {0};
    cn_stats_wilcoxon w;
    CHECK_OK(cn_stats_wilcoxon_signed_rank(&w, d, zero, 15, CN_STATS_ALT_TWO_SIDED));
    CHECK(w.statistic == 24 && w.p_value == 0.041259765625 && w.exact && w.n_used == 15,
          "corn two-sided: W %g p %.17g exact %d", w.statistic, w.p_value, w.exact);
    CHECK(w.w_plus == 96 && w.w_minus == 24, "corn: W+ %g W- %g", w.w_plus, w.w_minus);
    CHECK_OK(cn_stats_wilcoxon_signed_rank(&w, d, zero, 15, CN_STATS_ALT_GREATER));
    CHECK(w.statistic == 96 && w.p_value == 0.0206298828125, "corn greater: W %g p %.17g", w.statistic, w.p_value);

    /* 20 positive differences: P(W+ = 210) = 2^-20 exactly */
    double pos[20], z20[20] = {0};
    for (int i = 0; i < 20; i++) pos[i] = i + 1.5;
    CHECK_OK(cn_stats_wilcoxon_signed_rank(&w, pos, z20, 20, CN_STATS_ALT_GREATER));
    CHECK(w.p_value == ldexp(1, -20), "all positive, greater: p %.17g, want 2^-20", w.p_value);
    CHECK_OK(cn_stats_wilcoxon_signed_rank(&w, pos, z20, 20, CN_STATS_ALT_LESS));
    CHECK(w.p_value == 1, "all positive, less: p %.17g, want 1", w.p_value);

    /* the errors */
    CHECK(cn_stats_wilcoxon_signed_rank(&w, d, zero, 0, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG, "n = 0 accepted");
    CHECK(isnan(w.statistic) && isnan(w.p_value), "failed call left statistic %g p %g", w.statistic, w.p_value);
    CHECK(cn_stats_wilcoxon_signed_rank(NULL, d, zero, 15, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG, "NULL out accepted");
    CHECK(cn_stats_wilcoxon_signed_rank(&w, NULL, zero, 15, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG, "NULL x accepted");
    CHECK(cn_stats_wilcoxon_signed_rank(&w, d, NULL, 15, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG, "NULL y accepted");
    CHECK(cn_stats_wilcoxon_signed_rank(&w, d, zero, 15, CN_STATS_ALT_COUNT) == CN_ERR_ARG, "bad alternative accepted");
    CHECK(cn_stats_wilcoxon_signed_rank(&w, d, zero, 15, (cn_stats_alternative)-1) == CN_ERR_ARG,
          "alternative -1 accepted");
    CHECK(cn_stats_wilcoxon_signed_rank(&w, d, d, 15, CN_STATS_ALT_TWO_SIDED) == CN_ERR_ARG,
          "all-zero differences accepted");
    const double nan_x[] = {1, NAN, 3};
    CHECK(cn_stats_wilcoxon_signed_rank(&w, nan_x, zero, 3, CN_STATS_ALT_LESS) == CN_ERR_NONFINITE, "NaN accepted");
}

static void test_correlation_known(void)
{
    /* y = 2x + 1 and its reverse: r = rho = +-1 exactly, p = 0 */
    const double x[] = {1, 2, 3, 4, 5}, up[] = {3, 5, 7, 9, 11}, down[] = {9, 7, 5, 3, 1};
    cn_stats_correlation c;
    CHECK_OK(cn_stats_pearson(&c, x, up, 5));
    CHECK(c.r == 1 && c.p_value == 0 && c.n == 5, "linear: r %.17g p %g n %d", c.r, c.p_value, c.n);
    CHECK_OK(cn_stats_spearman(&c, x, down, 5));
    CHECK(c.r == -1 && c.p_value == 0, "reversed: rho %.17g p %g", c.r, c.p_value);
    /* monotone but not linear: rho = 1, r < 1 */
    const double cube[] = {1, 8, 27, 64, 125};
    CHECK_OK(cn_stats_spearman(&c, x, cube, 5));
    CHECK(c.r == 1, "cubes: rho %.17g, want 1", c.r);
    CHECK_OK(cn_stats_pearson(&c, x, cube, 5));
    CHECK(c.r < 1 && c.r > 0.9 && c.p_value > 0, "cubes: r %.17g p %g", c.r, c.p_value);
    /* n = 2: r = -1, p = 1 for both (scipy's spearmanr says NaN there) */
    CHECK_OK(cn_stats_pearson(&c, x, down, 2));
    CHECK(close_to(c.r, -1, 1e-15, 0) && c.p_value == 1, "n = 2: r %.17g p %g", c.r, c.p_value);
    CHECK_OK(cn_stats_spearman(&c, x, down, 2));
    CHECK(close_to(c.r, -1, 1e-15, 0) && c.p_value == 1, "n = 2: rho %.17g p %g", c.r, c.p_value);
    /* symmetric in x and y; unchanged by a positive affine map of x */
    const double y[] = {0.3, -1.2, 0.8, 2.5, 0.1, 1.7}, z[] = {1, 4, 2, 2, 6, 5};
    double zz[6];
    for (int i = 0; i < 6; i++) zz[i] = 3 * z[i] - 7;
    cn_stats_correlation a, b;
    CHECK_OK(cn_stats_pearson(&a, y, z, 6));
    CHECK_OK(cn_stats_pearson(&b, z, y, 6));
    CHECK(a.r == b.r && a.p_value == b.p_value, "pearson not symmetric: %.17g %.17g", a.r, b.r);
    CHECK_OK(cn_stats_pearson(&b, y, zz, 6));
    CHECK(close_to(a.r, b.r, 1e-14, 0), "pearson changed by 3z - 7: %.17g %.17g", a.r, b.r);
    CHECK_OK(cn_stats_spearman(&a, y, z, 6));
    CHECK_OK(cn_stats_spearman(&b, y, zz, 6));
    CHECK(a.r == b.r && a.p_value == b.p_value, "spearman changed by 3z - 7: %.17g %.17g", a.r, b.r);

    /* the errors: undefined (constant input, n < 2), bad arguments, NaN */
    const double same[] = {0.1, 0.1, 0.1, 0.1, 0.1};
    CHECK(cn_stats_pearson(&c, same, x, 5) == CN_ERR_ARG, "constant x accepted");
    CHECK(isnan(c.r) && isnan(c.p_value) && c.n == 0, "failed call left r %g p %g n %d", c.r, c.p_value, c.n);
    CHECK(cn_stats_spearman(&c, x, same, 5) == CN_ERR_ARG, "constant y accepted");
    CHECK(cn_stats_pearson(&c, x, up, 1) == CN_ERR_ARG, "n = 1 accepted");
    CHECK(cn_stats_spearman(&c, x, up, 0) == CN_ERR_ARG, "n = 0 accepted");
    CHECK(cn_stats_pearson(NULL, x, up, 5) == CN_ERR_ARG, "NULL out accepted");
    CHECK(cn_stats_pearson(&c, NULL, up, 5) == CN_ERR_ARG, "NULL x accepted");
    CHECK(cn_stats_spearman(&c, x, NULL, 5) == CN_ERR_ARG, "NULL y accepted");
    const double nan_y[] = {1, 2, NAN, 4, 5}, inf_x[] = {1, INFINITY, 3, 4, 5};
    CHECK(cn_stats_pearson(&c, x, nan_y, 5) == CN_ERR_NONFINITE, "NaN accepted");
    CHECK(cn_stats_spearman(&c, inf_x, up, 5) == CN_ERR_NONFINITE, "Inf accepted");
}

/* an allocator that refuses everything and counts what is live */
static int live;
static void *refuse(size_t size, void *user) { (void)size; (void)user; return NULL; }
static void release(void *p, void *user) { (void)user; live--; free(p); }

static void test_bootstrap_properties(void)
{
    double x[30];
    cn_rng *gen = cn_rng_new(3);
    for (int i = 0; i < 30; i++) x[i] = 0.85 + 0.02 * cn_rng_normal(gen);
    cn_rng_free(gen);
    double mean, sd;
    CHECK_OK(cn_stats_mean_sd(x, 30, &mean, &sd));

    double lo, hi, lo2, hi2, blo, bhi, wlo, whi;
    cn_rng *r = cn_rng_new(99);
    CHECK_OK(cn_stats_bootstrap_ci(&lo, &hi, x, 30, 2000, 0.95, r));
    cn_rng_free(r);
    CHECK(lo <= mean && mean <= hi && lo < hi, "percentile CI [%g, %g] around mean %g", lo, hi, mean);
    r = cn_rng_new(99);
    CHECK_OK(cn_stats_bootstrap_ci(&lo2, &hi2, x, 30, 2000, 0.95, r));
    CHECK(lo2 == lo && hi2 == hi, "same seed, different CI: [%.17g, %.17g] vs [%.17g, %.17g]", lo, hi, lo2, hi2);
    CHECK_OK(cn_stats_bootstrap_ci(&lo2, &hi2, x, 30, 2000, 0.95, r)); /* the stream has moved on */
    CHECK(lo2 != lo || hi2 != hi, "a second call on one generator repeated the resamples");
    cn_rng_free(r);
    r = cn_rng_new(99);
    CHECK_OK(cn_stats_bootstrap_ci(&wlo, &whi, x, 30, 2000, 0.99, r));
    cn_rng_free(r);
    CHECK(wlo <= lo && hi <= whi, "99%% CI [%g, %g] not around the 95%% one [%g, %g]", wlo, whi, lo, hi);
    r = cn_rng_new(99);
    CHECK_OK(cn_stats_bootstrap_ci_bca(&blo, &bhi, x, 30, 2000, 0.95, r));
    cn_rng_free(r);
    CHECK(blo <= mean && mean <= bhi, "BCa CI [%g, %g] around mean %g", blo, bhi, mean);
    /* width of a normal-theory interval, 2 * 1.96 sd / sqrt(n), within 20% */
    double width = 2 * 1.959964 * sd / sqrt(30.0);
    CHECK(fabs((hi - lo) / width - 1) < 0.2, "percentile CI width %g, normal theory %g", hi - lo, width);

    /* one value, constant data */
    r = cn_rng_new(1);
    CHECK_OK(cn_stats_bootstrap_ci(&lo, &hi, x, 1, 50, 0.9, r));
    CHECK(lo == x[0] && hi == x[0], "n = 1: [%g, %g]", lo, hi);
    const double same[] = {0.5, 0.5, 0.5, 0.5};
    CHECK_OK(cn_stats_bootstrap_ci(&lo, &hi, same, 4, 50, 0.9, r));
    CHECK(lo == 0.5 && hi == 0.5, "constant data: [%g, %g]", lo, hi);
    CHECK(cn_stats_bootstrap_ci_bca(&lo, &hi, same, 4, 50, 0.9, r) == CN_ERR_ARG, "BCa on constant data accepted");
    CHECK(cn_stats_bootstrap_ci_bca(&lo, &hi, x, 1, 50, 0.9, r) == CN_ERR_ARG, "BCa with n = 1 accepted");

    /* the errors */
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, x, 0, 50, 0.9, r) == CN_ERR_ARG, "n = 0 accepted");
    CHECK(isnan(lo) && isnan(hi), "failed call left [%g, %g]", lo, hi);
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, NULL, 5, 50, 0.9, r) == CN_ERR_ARG, "NULL x accepted");
    CHECK(cn_stats_bootstrap_ci(NULL, &hi, x, 5, 50, 0.9, r) == CN_ERR_ARG, "NULL lo accepted");
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, x, 5, 50, 0.9, NULL) == CN_ERR_ARG, "NULL rng accepted");
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, x, 5, 0, 0.9, r) == CN_ERR_ARG, "0 resamples accepted");
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, x, 5, 50, 1.0, r) == CN_ERR_ARG, "level 1 accepted");
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, x, 5, 50, 0.0, r) == CN_ERR_ARG, "level 0 accepted");
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, x, 5, 50, NAN, r) == CN_ERR_ARG, "level NaN accepted");
    const double inf_x[] = {1, INFINITY, 2};
    CHECK(cn_stats_bootstrap_ci(&lo, &hi, inf_x, 3, 50, 0.9, r) == CN_ERR_NONFINITE, "Inf accepted");

    /* out of memory: a status, nothing leaked */
    cn_allocator hook = {refuse, release, NULL};
    cn_stats_wilcoxon w;
    live = 0;
    cn_set_allocator(&hook);
    int rc1 = cn_stats_bootstrap_ci(&lo, &hi, x, 30, 100, 0.9, r);
    int rc2 = cn_stats_bootstrap_ci_bca(&lo, &hi, x, 30, 100, 0.9, r);
    int rc3 = cn_stats_wilcoxon_signed_rank(&w, x, same, 4, CN_STATS_ALT_TWO_SIDED);
    cn_stats_correlation corr;
    int rc4 = cn_stats_spearman(&corr, x, x + 1, 29);
    cn_set_allocator(NULL);
    CHECK(rc1 == CN_ERR_NOMEM && rc2 == CN_ERR_NOMEM && rc3 == CN_ERR_NOMEM && rc4 == CN_ERR_NOMEM,
          "out of memory: status %d %d %d %d", rc1, rc2, rc3, rc4);
    CHECK(live == 0, "out of memory: %d blocks released that were never handed out", -live);
    cn_rng_free(r);
}

/* ---------------------------------------------------------------- the scipy reference */

/* The bootstrap cases handed to stats_ref.py: data, resamples, level, and the seed critnet draws with. */
typedef struct {
    const char *name;
    int n, resamples;
    double level;
    uint64_t seed;
    double x[32];
    double pct[2], bca[2];       /* critnet on `seed` */
    double mc_pct[2], mc_bca[2]; /* critnet with MC_RESAMPLES on seed + 1 */
} boot_case;

static boot_case boots[] = {
    {.name = "normal25", .n = 25, .resamples = 2000, .level = 0.95, .seed = 11},
    {.name = "skewed12", .n = 12, .resamples = 999, .level = 0.90, .seed = 12},
    /* small integers: many resample means equal the sample mean exactly, which BCa's z0 counts as half */
    {.name = "atoms6", .n = 6, .resamples = 1000, .level = 0.95, .seed = 13, .x = {1, 2, 2, 3, 5, 8}},
};
#define NBOOT ((int)(sizeof boots / sizeof boots[0]))

/* data, critnet's intervals, and the input file with the indices replayed from a fresh generator */
static int write_boot_input(const char *path)
{
    cn_rng *gen = cn_rng_new(2024);
    for (int c = 0; c < NBOOT; c++) {
        boot_case *b = &boots[c];
        if (c < 2)
            for (int i = 0; i < b->n; i++) /* normal around 10, or exponential (skewed, where BCa moves) */
                b->x[i] = c == 0 ? 10 + 2 * cn_rng_normal(gen) : -log(1 - cn_rng_uniform(gen));
    }
    cn_rng_free(gen);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int c = 0; c < NBOOT; c++) {
        boot_case *b = &boots[c];
        cn_rng *r = cn_rng_new(b->seed);
        CHECK_OK(cn_stats_bootstrap_ci(&b->pct[0], &b->pct[1], b->x, b->n, b->resamples, b->level, r));
        cn_rng_free(r);
        r = cn_rng_new(b->seed);
        CHECK_OK(cn_stats_bootstrap_ci_bca(&b->bca[0], &b->bca[1], b->x, b->n, b->resamples, b->level, r));
        cn_rng_free(r);
        r = cn_rng_new(b->seed + 1);
        CHECK_OK(cn_stats_bootstrap_ci(&b->mc_pct[0], &b->mc_pct[1], b->x, b->n, MC_RESAMPLES, b->level, r));
        cn_rng_free(r);
        r = cn_rng_new(b->seed + 1);
        CHECK_OK(cn_stats_bootstrap_ci_bca(&b->mc_bca[0], &b->mc_bca[1], b->x, b->n, MC_RESAMPLES, b->level, r));
        cn_rng_free(r);

        fprintf(f, "boot %s %d %d %.17g\n", b->name, b->n, b->resamples, b->level);
        for (int i = 0; i < b->n; i++) fprintf(f, "%.17g%c", b->x[i], i + 1 < b->n ? ' ' : '\n');
        r = cn_rng_new(b->seed); /* the draws cn_stats_bootstrap_ci documents */
        for (long k = 0; k < (long)b->resamples * b->n; k++)
            fprintf(f, "%llu%c", (unsigned long long)cn_rng_below(r, (uint64_t)b->n), (k + 1) % b->n ? ' ' : '\n');
        cn_rng_free(r);
    }
    return fclose(f) == 0 ? 0 : -1;
}

typedef struct {
    int meansd, wilcoxon, exact, approx, half_integer_exact, errors, boot_same, boot_mc, ended;
    int pearson, spearman, corr_errors;
} tally;

static void check_meansd(reader *rd, tally *t)
{
    char name[64];
    snprintf(name, sizeof name, "%s", next_tok(rd));
    int n = (int)next_num(rd);
    double *x = next_nums(rd, n);
    double want_m = next_num(rd), want_s = next_num(rd), m, s;
    if (rd->bad || !x) goto done;
    CHECK_OK(cn_stats_mean_sd(x, n, &m, &s));
    CHECK(close_to(m, want_m, STAT_REL, 0), "meansd %s: mean %.17g, numpy %.17g", name, m, want_m);
    CHECK(close_to(s, want_s, STAT_REL, 0), "meansd %s: sd %.17g, numpy %.17g", name, s, want_s);
    t->meansd++;
done:
    free(x);
}

static void check_wilcoxon(reader *rd, tally *t, int error_case)
{
    char name[64];
    snprintf(name, sizeof name, "%s", next_tok(rd));
    int alt = alt_from_name(next_tok(rd));
    int n = (int)next_num(rd);
    double *x = next_nums(rd, n), *y = next_nums(rd, n);
    double stat = NAN, p = NAN, z = NAN;
    int exact = -2, nused = -1;
    if (!error_case) {
        stat = next_num(rd);
        p = next_num(rd);
        z = next_num(rd);
        exact = (int)next_num(rd);
        nused = (int)next_num(rd);
    }
    if (rd->bad || !x || !y || alt < 0) {
        rd->bad = 1;
        goto done;
    }
    cn_stats_wilcoxon w;
    int rc = cn_stats_wilcoxon_signed_rank(&w, x, y, n, (cn_stats_alternative)alt);
    if (error_case) {
        CHECK(rc == CN_ERR_ARG, "wilcoxon %s (%d): status %d where scipy raises, want CN_ERR_ARG", name, alt, rc);
        t->errors++;
        goto done;
    }
    CHECK(rc == CN_OK, "wilcoxon %s (%d): status %d", name, alt, rc);
    CHECK(close_to(w.statistic, stat, STAT_REL, 0), "wilcoxon %s (%d): statistic %.17g, scipy %.17g", name, alt,
          w.statistic, stat);
    CHECK(close_to(w.p_value, p, P_REL, 0), "wilcoxon %s (%d): p %.17g, scipy %.17g", name, alt, w.p_value, p);
    CHECK(close_to(w.z, z, STAT_REL, 1e-12), "wilcoxon %s (%d): z %.17g, scipy %.17g", name, alt, w.z, z);
    CHECK(exact == -1 || w.exact == exact, "wilcoxon %s (%d): exact %d, scipy's branch %d", name, alt, w.exact, exact);
    CHECK(w.n_used == nused, "wilcoxon %s (%d): %d differences used, scipy %d", name, alt, w.n_used, nused);
    t->wilcoxon++;
    t->exact += exact == 1;
    t->approx += exact == 0;
    t->half_integer_exact += exact == 1 && stat != floor(stat);
done:
    free(x);
    free(y);
}

/* corr KIND NAME N x... y... R P, or corr_error KIND NAME N x... y... */
static void check_corr(reader *rd, tally *t, int error_case)
{
    char kind[64], name[64];
    snprintf(kind, sizeof kind, "%s", next_tok(rd));
    snprintf(name, sizeof name, "%s", next_tok(rd));
    int n = (int)next_num(rd), spearman = !strcmp(kind, "spearman");
    double *x = next_nums(rd, n), *y = next_nums(rd, n);
    double want_r = error_case ? NAN : next_num(rd), want_p = error_case ? NAN : next_num(rd);
    if (rd->bad || !x || !y || (!spearman && strcmp(kind, "pearson"))) {
        rd->bad = 1;
        goto done;
    }
    cn_stats_correlation c;
    int rc = spearman ? cn_stats_spearman(&c, x, y, n) : cn_stats_pearson(&c, x, y, n);
    if (error_case) {
        CHECK(rc == CN_ERR_ARG, "%s %s: status %d where scipy gives NaN, want CN_ERR_ARG", kind, name, rc);
        t->corr_errors++;
        goto done;
    }
    CHECK(rc == CN_OK && c.n == n, "%s %s: status %d, n %d", kind, name, rc, c.n);
    CHECK(close_to(c.r, want_r, STAT_REL, 1e-15), "%s %s: r %.17g, scipy %.17g", kind, name, c.r, want_r);
    /* where |r| is 1 to rounding, scipy's beta tail rounds to 0 and the t tail to some 1e-30: both nothing */
    if (n > 2 && fabs(want_r) > 1 - 1e-12)
        CHECK(c.p_value < 1e-20, "%s %s: p %.17g at |r| = 1, want about 0", kind, name, c.p_value);
    else
        CHECK(close_to(c.p_value, want_p, P_REL, 0), "%s %s: p %.17g, scipy %.17g", kind, name, c.p_value, want_p);
    if (spearman) t->spearman++;
    else t->pearson++;
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

static void check_boot_same(reader *rd, tally *t)
{
    boot_case *b = find_boot(next_tok(rd));
    double want[4];
    for (int i = 0; i < 4; i++) want[i] = next_num(rd);
    if (rd->bad || !b) {
        rd->bad = 1;
        return;
    }
    const double got[4] = {b->pct[0], b->pct[1], b->bca[0], b->bca[1]};
    const char *what[4] = {"percentile lo", "percentile hi", "BCa lo", "BCa hi"};
    for (int i = 0; i < 4; i++)
        CHECK(close_to(got[i], want[i], STAT_REL, 0), "bootstrap %s, same resamples: %s %.17g, scipy %.17g",
              b->name, what[i], got[i], want[i]);
    /* BCa must have moved off the percentile ends, or the comparison above could not tell them apart */
    CHECK(fabs(b->bca[0] - b->pct[0]) > 1e-3 * fabs(b->pct[0]), "bootstrap %s: BCa lo %.17g = percentile lo",
          b->name, b->bca[0]);
    t->boot_same++;
}

/* Different generators: the interval ends differ by Monte Carlo error only. With 20000 resamples on each
 * side a 5%/95% or 2.5%/97.5% quantile of the resample means moves by about 0.03 standard errors of the
 * mean (sd/sqrt(n)); the tolerance is 0.15 of them, BCa 0.25 (its adjusted levels move with z0 too). */
static void check_boot_mc(reader *rd, tally *t)
{
    boot_case *b = find_boot(next_tok(rd));
    int resamples = (int)next_num(rd);
    double want[4];
    for (int i = 0; i < 4; i++) want[i] = next_num(rd);
    if (rd->bad || !b || resamples != MC_RESAMPLES) {
        rd->bad = 1;
        return;
    }
    double mean, sd;
    CHECK_OK(cn_stats_mean_sd(b->x, b->n, &mean, &sd));
    double se = sd / sqrt((double)b->n);
    /* on a lattice of means 1/6 apart (0.16 se) two generators' quantiles may land on neighbouring atoms */
    if (b == &boots[2]) {
        t->boot_mc++;
        return;
    }
    const double got[4] = {b->mc_pct[0], b->mc_pct[1], b->mc_bca[0], b->mc_bca[1]};
    const char *what[4] = {"percentile lo", "percentile hi", "BCa lo", "BCa hi"};
    for (int i = 0; i < 4; i++) {
        double tol = (i < 2 ? 0.15 : 0.25) * se;
        CHECK(fabs(got[i] - want[i]) <= tol, "bootstrap %s, own generators: %s %.10g, scipy %.10g (%.3f se apart)",
              b->name, what[i], got[i], want[i], fabs(got[i] - want[i]) / se);
    }
    t->boot_mc++;
}

static void test_against_scipy(void)
{
    const char *src = getenv("CRITNET_SRC"), *py = getenv("CRITNET_PYTHON"), *tmp = getenv("TMPDIR");
    if (!src || !*src) src = ".";
    if (!py || !*py) py = "/usr/bin/python3";
    char dir[1024], out[1100], in[1100], cmd[4096];
    snprintf(dir, sizeof dir, "%s/critnet_stats_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp %s failed", dir);
        return;
    }
    snprintf(out, sizeof out, "%s/ref.txt", dir);
    snprintf(in, sizeof in, "%s/boot.txt", dir);
    CHECK(write_boot_input(in) == 0, "could not write %s", in);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/stats_ref.py' '%s' '%s'", py, src, out, in);
    printf("running: %s\n", cmd);
    fflush(stdout);
    int st = system(cmd);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the scipy reference script failed (status %d): %s\n(it needs /usr/bin/python3 with scipy, e.g. Debian's "
          "python3-scipy)", st, cmd);

    tally t = {0};
    reader rd = {fopen(out, "r"), 0};
    CHECK(rd.f != NULL, "no reference file %s", out);
    if (rd.f) {
        const char *magic = next_tok(&rd);
        CHECK(!strcmp(magic, "CNSTATS1"), "%s: magic %s, want CNSTATS1", out, magic);
        char line[256] = "";
        if (fgets(line, sizeof line, rd.f)) printf("reference:%s", line); /* the scipy and numpy versions */
        int records = 0;
        while (!rd.bad) {
            char kind[64];
            snprintf(kind, sizeof kind, "%s", next_tok(&rd));
            if (rd.bad) break;
            if (!strcmp(kind, "meansd")) check_meansd(&rd, &t);
            else if (!strcmp(kind, "wilcoxon")) check_wilcoxon(&rd, &t, 0);
            else if (!strcmp(kind, "wilcoxon_error")) check_wilcoxon(&rd, &t, 1);
            else if (!strcmp(kind, "corr")) check_corr(&rd, &t, 0);
            else if (!strcmp(kind, "corr_error")) check_corr(&rd, &t, 1);
            else if (!strcmp(kind, "boot_same")) check_boot_same(&rd, &t);
            else if (!strcmp(kind, "boot_mc")) check_boot_mc(&rd, &t);
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
    CHECK(t.meansd == 4, "%d meansd records, want 4", t.meansd);
    CHECK(t.wilcoxon == 36, "%d wilcoxon records, want 36", t.wilcoxon);
    CHECK(t.exact >= 20 && t.approx >= 6, "exact %d, approximate %d wilcoxon cases", t.exact, t.approx);
    CHECK(t.half_integer_exact >= 1, "no exact case with tied ranks (scipy 1.10's truncation)");
    CHECK(t.errors == 6, "%d all-zero error cases, want 6", t.errors);
    CHECK(t.pearson == 11 && t.spearman == 10 && t.corr_errors == 4, "correlation records: %d pearson, %d spearman, "
          "%d constant-input errors, want 11, 10 and 4", t.pearson, t.spearman, t.corr_errors);
    CHECK(t.boot_same == NBOOT && t.boot_mc == NBOOT, "bootstrap records: %d same, %d mc, want %d each", t.boot_same,
          t.boot_mc, NBOOT);
    ref_remove_dir(dir);
}

int main(void)
{
    test_mean_sd();
    test_wilcoxon_known();
    test_correlation_known();
    test_bootstrap_properties();
    test_against_scipy();
    return check_summary("stats");
}
