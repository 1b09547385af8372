/* avstats.c: what avalanche profiles say about criticality: sizes and durations with their power-law fits,
 * the crackling-noise relation <S>(T) ~ T^gamma (measured, and predicted from the two exponents), and the
 * average shapes with their collapse (Sethna, Dahmen & Myers 2001; Friedman et al. 2012). */
#include <math.h>
#include <string.h>
#include "critnet_avalanche.h"

void cn_avalanche_opts_default(cn_avalanche_opts *o)
{
    memset(o, 0, sizeof *o);
    cn_powerlaw_opts_default(&o->fit);
    o->fit.discrete = 1;
    o->min_count = 10;
    o->tmin = 1;
    o->shape_tmin = 3;
    o->shape_points = 20;
    o->gamma_lo = 0.5;
    o->gamma_hi = 4;
}

void cn_avalanche_stats_free(cn_avalanche_stats *s)
{
    cn_free(s->size);
    cn_free(s->duration);
    cn_free(s->T);
    cn_free(s->T_count);
    cn_free(s->mean_size);
    cn_free(s->shape_T);
    cn_free(s->shape);
    memset(s, 0, sizeof *s);
}

/* The fit of one of the two samples; an impossible fit (too few values, constant) is recorded, not failed. */
static int fit_one(cn_powerlaw_fit *f, int *has, char *msg, size_t cap, const double *v, int m,
                   const cn_powerlaw_opts *po)
{
    cn_error e = {0};
    int rc = m > 0 ? cn_powerlaw_estimate(f, v, m, po, &e) : cn_error_set(&e, CN_ERR_ARG, "no completed avalanches");
    *has = rc == CN_OK;
    if (rc == CN_ERR_ARG) snprintf(msg, cap, "%s", e.msg);
    return rc == CN_ERR_ARG ? CN_OK : rc;
}

/* slope of y on x by least squares, with its standard error (NaN with fewer than 3 points) */
static void ols(const double *x, const double *y, int n, double *slope, double *se)
{
    *slope = *se = NAN;
    if (n < 3) return;
    double mx = 0, my = 0, sxx = 0, sxy = 0, ssr = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n, my /= n;
    for (int i = 0; i < n; i++) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
    if (!(sxx > 0)) return;
    *slope = sxy / sxx;
    for (int i = 0; i < n; i++) {
        double r = y[i] - my - *slope * (x[i] - mx);
        ssr += r * r;
    }
    *se = sqrt(ssr / (n - 2) / sxx);
}

/* A shape at u from its points ((t + 1/2)/T, s_t): the parabola through the three nearest points, so that
 * smooth shapes (a parabola exactly) compare without the bias a straight line between points would give the
 * short ones; linear for T = 2. u lies inside the points by construction. */
static double shape_at(const double *s, int T, double u)
{
    double p = u * T - 0.5;
    if (T == 1) return s[0];
    if (T == 2) return s[0] + (p < 0 ? 0 : p > 1 ? 1 : p) * (s[1] - s[0]);
    int t0 = (int)floor(p + 0.5) - 1;
    if (t0 < 0) t0 = 0;
    if (t0 > T - 3) t0 = T - 3;
    double a = p - t0, b = a - 1, c = a - 2;
    return s[t0] * b * c / 2 - s[t0 + 1] * a * c + s[t0 + 2] * a * b / 2;
}

/* mean over the grid of the relative variance across shapes of T^(1-gamma) s(u T) (v: (nshapes, G) values) */
static double collapse_err(const double *v, const int *T, int ns, int G, double gamma)
{
    double err = 0;
    for (int g = 0; g < G; g++) {
        double sum = 0, sq = 0;
        for (int k = 0; k < ns; k++) {
            double w = pow(T[k], 1 - gamma) * v[(size_t)k * G + g];
            sum += w, sq += w * w;
        }
        double mean = sum / ns, var = sq / ns - mean * mean;
        err += mean > 0 ? (var > 0 ? var : 0) / (mean * mean) : 0;
    }
    return err / G;
}

static int collapse(cn_avalanche_stats *s, const cn_avalanche_opts *o)
{
    s->gamma_collapse = s->collapse_err = NAN;
    int ns = s->nshapes, G = o->shape_points, tmin = s->len;
    if (ns < 2) return CN_OK;
    for (int k = 0; k < ns; k++)
        if (s->shape_T[k] < tmin) tmin = s->shape_T[k];
    double *v = cn_malloc(sizeof(double) * (size_t)ns * G);
    if (!v) return CN_ERR_NOMEM;
    /* the grid spans the points of the shortest shape, so every shape is interpolated, never extrapolated */
    double lo = 0.5 / tmin, hi = 1 - 0.5 / tmin;
    for (int k = 0; k < ns; k++)
        for (int g = 0; g < G; g++)
            v[(size_t)k * G + g] = shape_at(s->shape + (size_t)k * s->len, s->shape_T[k], lo + (hi - lo) * g / (G - 1));
    /* a scan, then a finer one around its best point: the error is smooth but need not be convex in gamma */
    double best = o->gamma_lo, best_err = INFINITY, step = (o->gamma_hi - o->gamma_lo) / 500;
    for (int pass = 0; pass < 2; pass++) {
        double a = pass ? best - step : o->gamma_lo, b = pass ? best + step : o->gamma_hi, h = pass ? step / 100 : step;
        for (double g = a; g <= b + 1e-12; g += h) {
            double e = collapse_err(v, s->shape_T, ns, G, g);
            if (e < best_err) best_err = e, best = g;
        }
    }
    cn_free(v);
    s->gamma_collapse = best;
    s->collapse_err = best_err;
    return CN_OK;
}

int cn_avalanche_analyse(cn_avalanche_stats *out, const int *counts, int n, int len, const cn_avalanche_opts *o,
                         cn_error *err)
{
    memset(out, 0, sizeof *out);
    out->gamma = out->gamma_se = out->gamma_pred = out->gamma_collapse = out->collapse_err = NAN;
    if (!o || !counts || n < 1 || len < 1)
        return cn_error_set(err, CN_ERR_ARG, "avalanches: need at least one avalanche of at least one step");
    if (o->min_count < 1 || o->tmin < 1 || o->shape_tmin < 1 || o->shape_points < 2 ||
        !(o->gamma_lo < o->gamma_hi) || !isfinite(o->gamma_lo) || !isfinite(o->gamma_hi))
        return cn_error_set(err, CN_ERR_ARG, "avalanches: need min_count >= 1, tmin >= 1, shape_tmin >= 1, "
                                             "shape_points >= 2 and gamma_lo < gamma_hi");
    for (size_t i = 0; i < (size_t)n * len; i++)
        if (counts[i] < 0)
            return cn_error_set(err, CN_ERR_ARG, "avalanches: avalanche %zu has a negative count at step %zu",
                                i / len, i % len);
    out->n = n, out->len = len;
    int rc = CN_ERR_NOMEM;
    double *S = NULL, *Tv = NULL, *sum = NULL;
    long *cnt = NULL;
    out->size = cn_malloc(sizeof(int) * (size_t)n);
    out->duration = cn_malloc(sizeof(int) * (size_t)n);
    S = cn_malloc(sizeof(double) * (size_t)n);
    Tv = cn_malloc(sizeof(double) * (size_t)n);
    sum = cn_calloc((size_t)len + 1, sizeof *sum);
    cnt = cn_calloc((size_t)len + 1, sizeof *cnt);
    if (!out->size || !out->duration || !S || !Tv || !sum || !cnt) goto done;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const int *c = counts + (size_t)i * len;
        int T = 0, size = 0;
        while (T < len && c[T] > 0) size += c[T++];
        out->size[i] = size, out->duration[i] = T;
        out->empty += T == 0;
        out->truncated += T == len;
        if (T == 0 || T == len) continue;
        S[m] = size, Tv[m++] = T;
        sum[T] += size, cnt[T]++;
    }
    cn_powerlaw_opts po = o->fit;
    po.discrete = 1;
    if ((rc = fit_one(&out->size_fit, &out->has_size_fit, out->size_msg, sizeof out->size_msg, S, m, &po))) goto done;
    if ((rc = fit_one(&out->duration_fit, &out->has_duration_fit, out->duration_msg, sizeof out->duration_msg, Tv, m,
                      &po)))
        goto done;
    if (out->has_size_fit && out->has_duration_fit)
        out->gamma_pred = (out->duration_fit.alpha - 1) / (out->size_fit.alpha - 1);

    /* <S>(T) and the shapes, over the durations seen often enough */
    rc = CN_ERR_NOMEM;
    int nT = 0, ns = 0;
    for (int T = o->tmin; T < len; T++) nT += cnt[T] >= o->min_count;
    for (int T = o->shape_tmin; T < len; T++) ns += cnt[T] >= o->min_count;
    out->T = cn_malloc(sizeof(int) * (size_t)(nT + 1));
    out->T_count = cn_malloc(sizeof(int) * (size_t)(nT + 1));
    out->mean_size = cn_malloc(sizeof(double) * (size_t)(nT + 1));
    out->shape_T = cn_malloc(sizeof(int) * (size_t)(ns + 1));
    out->shape = cn_calloc((size_t)(ns + 1) * len, sizeof(double));
    if (!out->T || !out->T_count || !out->mean_size || !out->shape_T || !out->shape) goto done;
    for (int T = o->tmin; T < len; T++)
        if (cnt[T] >= o->min_count) {
            out->T[out->nT] = T;
            out->T_count[out->nT] = (int)cnt[T];
            out->mean_size[out->nT++] = sum[T] / cnt[T];
        }
    /* S and Tv are free again: the log-log points of the fit */
    for (int k = 0; k < out->nT; k++) S[k] = log(out->T[k]), Tv[k] = log(out->mean_size[k]);
    ols(S, Tv, out->nT, &out->gamma, &out->gamma_se);
    for (int T = o->shape_tmin; T < len; T++)
        if (cnt[T] >= o->min_count) out->shape_T[out->nshapes++] = T;
    for (int i = 0; i < n; i++) {
        int T = out->duration[i], k = 0;
        if (T < o->shape_tmin || T >= len || cnt[T] < o->min_count) continue;
        while (out->shape_T[k] != T) k++;
        for (int t = 0; t < T; t++) out->shape[(size_t)k * len + t] += counts[(size_t)i * len + t];
    }
    for (int k = 0; k < out->nshapes; k++)
        for (int t = 0; t < out->shape_T[k]; t++) out->shape[(size_t)k * len + t] /= cnt[out->shape_T[k]];
    rc = collapse(out, o);
done:
    cn_free(S);
    cn_free(Tv);
    cn_free(sum);
    cn_free(cnt);
    if (rc) {
        cn_avalanche_stats_free(out);
        out->gamma = out->gamma_se = out->gamma_pred = out->gamma_collapse = out->collapse_err = NAN;
        if (rc == CN_ERR_NOMEM) cn_error_set(err, rc, "avalanches: out of memory for %d avalanches of %d steps", n, len);
    }
    return rc;
}
