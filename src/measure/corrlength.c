/* corrlength.c: the correlation length xi of a network: how fast the correlation between the hidden states
 * of two inputs approaches its fixed point c* with depth, |c_l - c*| ~ exp(-l / xi) (Schoenholz et al. 2017,
 * whose mean-field value is xi_c = -1/ln chi_c; chi_c = chi1 in the ordered phase, where c* = 1). */
#include <math.h>
#include <string.h>
#include "critnet.h"

#define CORR_FLOOR 1e-10 /* below this |c - 1| is rounding of the float activations, not signal */
#define CORR_BATCH 64    /* pairs per forward pass */

void cn_corr_defaults(cn_corr_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->pairs = 8;
    cfg->c0 = 0.999;
    cfg->skip = 2;
    cfg->c_star = NAN;
}

void cn_corr_result_free(cn_corr_result *r)
{
    cn_free(r->c);
    cn_free(r->omc);
    cn_free(r->dist);
    cn_free(r->lnd);
    memset(r, 0, sizeof *r);
}

/* 1 - cos(a, b) as |a/|a| - b/|b||^2 / 2: no cancellation when the two are nearly parallel */
static double one_minus_cos(const cn_real *a, const cn_real *b, int n)
{
    double na = 0, nb = 0;
    for (int i = 0; i < n; i++) {
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (!(na > 0) || !(nb > 0)) return NAN;
    na = 1 / sqrt(na);
    nb = 1 / sqrt(nb);
    double d = 0;
    for (int i = 0; i < n; i++) {
        double t = a[i] * na - b[i] * nb;
        d += t * t;
    }
    return 0.5 * d;
}

/* x_b = c0 x_a + sqrt(1 - c0^2) u, u Gaussian, made orthogonal to x_a and of its length: the pair has the
 * same length and cosine c0 to rounding */
static void make_partner(cn_real *xb, const cn_real *xa, int n, double c0, cn_rng *rng, double *u)
{
    double aa = 0, au = 0, uu = 0;
    for (int i = 0; i < n; i++) {
        u[i] = cn_rng_normal(rng);
        aa += (double)xa[i] * xa[i];
        au += (double)xa[i] * u[i];
    }
    for (int i = 0; i < n; i++) {
        u[i] -= au / aa * xa[i];
        uu += u[i] * u[i];
    }
    double s = sqrt(aa / uu) * sqrt(1 - c0 * c0);
    for (int i = 0; i < n; i++) xb[i] = (cn_real)(c0 * xa[i] + s * u[i]);
}

/* OLS of y on l over [first, last], slope and its standard error */
static void fit_line(const double *y, int first, int last, double *slope, double *se)
{
    int m = last - first + 1;
    double ml = 0, my = 0, sll = 0, sly = 0, rss = 0;
    for (int l = first; l <= last; l++) ml += l, my += y[l];
    ml /= m;
    my /= m;
    for (int l = first; l <= last; l++) {
        sll += (l - ml) * (l - ml);
        sly += (l - ml) * (y[l] - my);
    }
    *slope = sly / sll;
    for (int l = first; l <= last; l++) {
        double r = y[l] - my - *slope * (l - ml);
        rss += r * r;
    }
    *se = m > 2 ? sqrt(rss / (m - 2) / sll) : NAN;
}

/* The fit: ln d_l = ln |c_l - c*| against l over the window that starts `skip` blocks in (the length q_l is
 * still settling there) and ends before d_l first falls to the floor, which is rounding (1e-10) when c* = 1
 * and, when c* is estimated from the tail, three standard deviations of the tail's c_l about it (there the
 * window also starts only once d_l has halved, see below). d_l is computed as |(1 - c*) - (1 - c_l)| from
 * the stored 1 - c_l, which keeps its digits when c* = 1. */
int cn_corr_fit(cn_corr_result *r, double c_star, int skip)
{
    int L = r->nblocks;
    if (!r->omc || L < 1 || skip < 0) return CN_ERR_ARG;
    r->xi = r->xi_se = NAN;
    r->fit_first = r->fit_last = -1;
    double floor = CORR_FLOOR;
    int estimated = !isfinite(c_star);
    for (int l = 0; l <= L; l++) r->c[l] = 1 - r->omc[l];
    if (estimated) {
        /* c* from the last quarter of the blocks (at least 2) */
        int t0 = L - (L + 1) / 4 < L - 1 ? L - (L + 1) / 4 : L - 1;
        if (t0 < 1) t0 = 1;
        double m = 0, v = 0;
        for (int l = t0; l <= L; l++) m += r->c[l];
        m /= L - t0 + 1;
        for (int l = t0; l <= L; l++) v += (r->c[l] - m) * (r->c[l] - m);
        v = L - t0 > 0 ? v / (L - t0) : 0;
        c_star = m;
        floor = fmax(floor, 3 * sqrt(v));
    }
    r->c_star = c_star;
    for (int l = 0; l <= L; l++) r->dist[l] = fabs((1 - c_star) - r->omc[l]);
    int first = skip < L ? skip : L, last = first - 1;
    if (estimated) {
        /* from c0 near 1, c_l first stays near 1 (the chaotic phase spreads the pair at the rate chi1), then
         * approaches c*: the fit starts once d_l has fallen below half its largest value */
        double dmax = 0;
        for (int l = first; l <= L; l++) dmax = fmax(dmax, r->dist[l]);
        while (first < L && r->dist[first] > 0.5 * dmax) first++;
        last = first - 1;
    }
    while (last + 1 <= L && r->dist[last + 1] > floor && isfinite(r->dist[last + 1])) last++;
    r->fit_first = first;
    r->fit_last = last;
    if (last - first + 1 < 3) return CN_OK;
    for (int l = first; l <= last; l++) r->lnd[l] = log(r->dist[l]);
    double slope, se;
    fit_line(r->lnd, first, last, &slope, &se);
    if (!(slope < 0)) return CN_OK; /* no decay: xi undefined */
    r->xi = -1 / slope;
    r->xi_se = se / (slope * slope);
    return CN_OK;
}

int cn_corr_alloc(cn_corr_result *r, int nblocks)
{
    memset(r, 0, sizeof *r);
    r->nblocks = nblocks;
    r->c = cn_calloc((size_t)nblocks + 1, sizeof *r->c);
    r->omc = cn_calloc((size_t)nblocks + 1, sizeof *r->omc);
    r->dist = cn_calloc((size_t)nblocks + 1, sizeof *r->dist);
    r->lnd = cn_calloc((size_t)nblocks + 1, sizeof *r->lnd);
    if (r->c && r->omc && r->dist && r->lnd) return CN_OK;
    cn_corr_result_free(r);
    return CN_ERR_NOMEM;
}

int cn_corr_length(cn_net *net, const cn_real *x, int npairs, const cn_corr_cfg *cfg, cn_corr_result *res,
                   cn_error *err)
{
    memset(res, 0, sizeof *res);
    if (!net || !x || !cfg || npairs < 1) return cn_error_set(err, CN_ERR_ARG, "correlation length: no input pairs");
    if (!(cfg->c0 > -1) || !(cfg->c0 < 1))
        return cn_error_set(err, CN_ERR_ARG, "correlation length: c0 %g must lie in (-1, 1)", cfg->c0);
    if (cfg->skip < 0) return cn_error_set(err, CN_ERR_ARG, "correlation length: skip %d must be >= 0", cfg->skip);
    cn_block *blocks = NULL;
    int L, n0 = cn_net_in_size(net), rc = cn_net_blocks(net, 0, &blocks, &L);
    if (rc) return cn_error_set(err, rc, "out of memory");
    int B = npairs < CORR_BATCH ? npairs : CORR_BATCH;
    if (cn_net_batch_limit(net) && 2 * B > cn_net_batch_limit(net)) {
        cn_free(blocks);
        return cn_error_set(err, CN_ERR_ARG, "correlation length: the model runs batches of %d, pairs need 2",
                            cn_net_batch_limit(net));
    }
    cn_real *xx = cn_malloc((size_t)2 * B * n0 * sizeof *xx);
    double *u = cn_malloc((size_t)n0 * sizeof *u);
    cn_rng *rng = cn_rng_new(cfg->seed);
    if (!xx || !u || !rng || (rc = cn_corr_alloc(res, L)) || (rc = cn_net_reserve(net, 2 * B, 1))) {
        rc = cn_error_set(err, rc ? rc : CN_ERR_NOMEM, "out of memory for %d input pairs", B);
        goto done;
    }
    for (int start = 0; start < npairs; start += B) {
        int b = npairs - start < B ? npairs - start : B;
        /* the batch: the b first inputs, then their partners */
        memcpy(xx, x + (size_t)start * n0, (size_t)b * n0 * sizeof *xx);
        for (int i = 0; i < b; i++) make_partner(xx + (size_t)(b + i) * n0, xx + (size_t)i * n0, n0, cfg->c0, rng, u);
        for (int i = 0; i < b; i++) res->omc[0] += one_minus_cos(xx + (size_t)i * n0, xx + (size_t)(b + i) * n0, n0);
        cn_net_forward(net, xx, 2 * b, 0);
        for (int l = 0; l < L; l++) {
            const cn_real *h = cn_net_layer_output(net, blocks[l].last);
            int n = blocks[l].n_out;
            for (int i = 0; i < b; i++) res->omc[l + 1] += one_minus_cos(h + (size_t)i * n, h + (size_t)(b + i) * n, n);
        }
        if ((rc = cn_net_status(net, err))) goto done;
    }
    for (int l = 0; l <= L; l++) {
        res->omc[l] /= npairs; /* the mean over pairs of 1 - c_l */
        if (!isfinite(res->omc[l])) {
            rc = cn_error_set(err, CN_ERR_NONFINITE, "correlation length: block %d's outputs are NaN, Inf or zero", l);
            goto done;
        }
    }
    cn_corr_fit(res, cfg->c_star, cfg->skip);
done:
    cn_free(blocks);
    cn_free(xx);
    cn_free(u);
    cn_rng_free(rng);
    if (rc) cn_corr_result_free(res);
    return rc;
}
