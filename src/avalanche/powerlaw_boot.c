/* powerlaw_boot.c: draws from a power law (continuous by inversion, discrete by inversion of the zeta
 * survival function) and the semi-parametric bootstrap goodness-of-fit test of Clauset, Shalizi & Newman
 * (2009, section 4.1): each replicate takes every value, with probability n_tail/n, from the fitted power law
 * and otherwise from the data below x_min, is fitted the same way (x_min scan included), and the p-value is
 * the share of replicates whose KS distance is at least the data's.
 *
 * A replicate is drawn already sorted, in O(n): the tail from sorted uniforms (normalised sums of
 * exponentials) mapped through the inverse CDF, the part below x_min by counting draws per data value, so no
 * replicate is sorted. Replicate r uses its own MT19937 seeded from (seed, r), so the p-value is the same at
 * any thread count. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>
#include "avalanche/powerlaw.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define TABLE_SIZE 65536 /* discrete survival tabulated from x_min up; beyond it, zeta per draw */

/* The integer X >= xmin with S(X+1) < v <= S(X), S(x) = zeta(alpha, x) / zeta(alpha, xmin), given
 * lv = ln v and log_norm = ln zeta(alpha, xmin): CSN's approximate inverse (their eq. D.6), corrected. */
static double discrete_inverse(double lv, double alpha, double xmin, double log_norm)
{
    double x = floor((xmin - 0.5) * exp(-lv / (alpha - 1)) + 0.5);
    if (!(x >= xmin)) x = xmin;
    if (x > 1e15) return x; /* beyond double's integers; the approximation is all there is */
    while (x > xmin && pl_log_hzeta(alpha, x) - log_norm < lv) x--;
    while (pl_log_hzeta(alpha, x + 1) - log_norm >= lv) x++;
    return x;
}

static int check_law(double alpha, double xmin, int discrete)
{
    if (!(alpha > 1) || !isfinite(alpha) || !(xmin > 0) || !isfinite(xmin)) return CN_ERR_ARG;
    if (discrete && xmin != floor(xmin)) return CN_ERR_ARG;
    return CN_OK;
}

int cn_powerlaw_sample(double *out, int n, double alpha, double xmin, int discrete, cn_rng *rng)
{
    gsl_set_error_handler_off(); /* GSL's default handler aborts; we report through status codes */
    if (!out || !rng || n < 0 || check_law(alpha, xmin, discrete)) return CN_ERR_ARG;
    double log_norm = discrete ? pl_log_hzeta(alpha, xmin) : 0;
    if (discrete && isnan(log_norm)) return CN_ERR_ARG;
    for (int i = 0; i < n; i++) {
        double v = 1 - cn_rng_uniform(rng); /* (0, 1] */
        out[i] = discrete ? discrete_inverse(log(v), alpha, xmin, log_norm) : xmin * pow(v, -1 / (alpha - 1));
    }
    return CN_OK;
}

/* ---------------------------------------------------------------- sorted replicates */

typedef struct {
    const pl_work *data;
    double alpha, xmin, log_norm;
    int k;             /* data values below x_min */
    int m;             /* the data's tail size */
    int fixed;         /* x_min fixed: replicates are m tail values only */
    const double *lS;  /* (TABLE_SIZE + 1) discrete: ln S(xmin + t) */
} boot_model;

/* z[0..m), lz sorted ascending: m draws from the power law */
static void draw_tail(double *z, double *lz, int m, const boot_model *b, gsl_rng *g)
{
    if (m <= 0) return;
    double last = gsl_ran_exponential(g, 1.0), tot = last;
    for (int i = 0; i < m; i++) tot += lz[i] = gsl_ran_exponential(g, 1.0);
    /* the i-th order statistic of m uniforms is (E_1 + ... + E_i) / (E_1 + ... + E_{m+1}); 1 minus it, the
     * survival level v, is the sum of the later spacings, which descends as i rises */
    double s = last, lxmin = log(b->xmin);
    int t = 0;
    for (int i = m - 1; i >= 0; i--) {
        double e = lz[i];
        lz[i] = s / tot; /* v of order statistic i (ascending x: v descending in i, so fill back to front) */
        s += e;
    }
    for (int i = 0; i < m; i++) {
        double lv = log(lz[i]);
        if (!b->data->discrete) {
            lz[i] = lxmin - lv / (b->alpha - 1);
            z[i] = exp(lz[i]);
        } else {
            while (t < TABLE_SIZE && b->lS[t + 1] >= lv) t++;
            z[i] = t < TABLE_SIZE ? b->xmin + t : discrete_inverse(lv, b->alpha, b->xmin, b->log_norm);
            lz[i] = log(z[i]);
        }
    }
}

/* One replicate into w, sorted and indexed. count: scratch of b->k ints. */
static void draw_replicate(pl_work *w, int *count, const boot_model *b, gsl_rng *g)
{
    const pl_work *d = b->data;
    int n = b->fixed ? b->m : d->n;
    int m = b->fixed ? b->m : (int)gsl_ran_binomial(g, (double)b->m / d->n, (unsigned)d->n);
    int below = n - m;
    if (below > 0) {
        memset(count, 0, sizeof(int) * (size_t)b->k);
        for (int i = 0; i < below; i++) count[gsl_rng_uniform_int(g, (unsigned long)b->k)]++;
        int o = 0;
        for (int j = 0; j < b->k; j++)
            for (int c = 0; c < count[j]; c++, o++) w->z[o] = d->z[j], w->lz[o] = d->lz[j];
    }
    draw_tail(w->z + below, w->lz + below, m, b, g);
    pl_work_index(w, n);
}

static unsigned long replicate_seed(uint64_t seed, int r)
{
    /* splitmix64 of (seed, r): well-separated streams for neighbouring replicates */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (uint64_t)(r + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (unsigned long)((z ^ (z >> 32)) & 0xffffffffu);
}

int pl_bootstrap(cn_powerlaw_fit *fit, const pl_work *data, const cn_powerlaw_opts *o, cn_error *err)
{
    int R = o->bootstrap, nt = cn_get_threads();
    if (nt > R) nt = R;
    if (nt < 1) nt = 1;
    boot_model b = {.data = data, .alpha = fit->alpha, .xmin = fit->xmin, .m = fit->n_tail, .fixed = o->xmin > 0};
    b.k = data->n - fit->n_tail;
    cn_powerlaw_opts ro = *o;
    ro.bootstrap = 0;

    pl_work *ws = cn_calloc((size_t)nt, sizeof *ws);
    gsl_rng **g = cn_calloc((size_t)nt, sizeof *g);
    int **count = cn_calloc((size_t)nt, sizeof *count);
    double *ks = cn_malloc(sizeof(double) * (size_t)R);
    double *lS = data->discrete ? cn_malloc(sizeof(double) * (TABLE_SIZE + 1)) : NULL;
    int rc = ws && g && count && ks && (lS || !data->discrete) ? CN_OK : CN_ERR_NOMEM;
    for (int t = 0; t < nt && !rc; t++) {
        if ((rc = pl_work_init(&ws[t], data->n, data->discrete))) break;
        count[t] = cn_malloc(sizeof(int) * (size_t)(b.k > 0 ? b.k : 1));
        g[t] = gsl_rng_alloc(gsl_rng_mt19937);
        if (!count[t] || !g[t]) rc = CN_ERR_NOMEM;
    }
    if (!rc && data->discrete) {
        /* ln S(xmin + t) by the recurrence zeta(a, x+1) = zeta(a, x) - x^-a, restarted from GSL's zeta every
         * 256 steps so that rounding cannot pile up */
        b.log_norm = pl_log_hzeta(b.alpha, b.xmin);
        double zeta = 0;
        for (int t = 0; t <= TABLE_SIZE; t++) {
            double x = b.xmin + t;
            zeta = t % 256 == 0 ? exp(pl_log_hzeta(b.alpha, x) - b.log_norm) : zeta - exp(-b.alpha * log(x - 1) - b.log_norm);
            lS[t] = zeta > 0 ? log(zeta) : -INFINITY;
        }
        b.lS = lS;
    }
    if (rc) {
        cn_error_set(err, rc, "power-law bootstrap: out of memory");
    } else {
#pragma omp parallel for schedule(dynamic) num_threads(nt)
        for (int r = 0; r < R; r++) {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            gsl_rng_set(g[t], replicate_seed(o->seed, r));
            draw_replicate(&ws[t], count[t], &b, g[t]);
            cn_powerlaw_fit rf;
            ks[r] = pl_fit_sorted(&rf, &ws[t], &ro, NULL) == CN_OK ? rf.ks : NAN;
        }
        int ge = 0, failed = 0;
        for (int r = 0; r < R; r++) {
            if (isnan(ks[r])) failed++;
            else ge += ks[r] >= fit->ks;
        }
        if (failed) {
            rc = cn_error_set(err, CN_ERR_ARG, "power-law bootstrap: %d of %d replicates could not be fitted", failed, R);
        } else {
            fit->p_value = (double)ge / R;
            fit->replicates = R;
        }
    }
    for (int t = 0; ws && t < nt; t++) pl_work_free(&ws[t]);
    for (int t = 0; g && t < nt; t++)
        if (g[t]) gsl_rng_free(g[t]);
    for (int t = 0; count && t < nt; t++) cn_free(count[t]);
    cn_free(ws);
    cn_free(g);
    cn_free(count);
    cn_free(ks);
    cn_free(lS);
    return rc;
}
