/* test_kernels_norm_f64.c: the row normalisation kernels (kernels/norm.h) in double precision: statistics and
 * xhat against the textbook formulas (also for a row with a large mean, where a one-pass variance fails), the
 * Jacobian product against the matrix written out and against central differences of the normalisation, its
 * symmetry (the same kernel serves as backward), and the periodic affine map. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "kernels/norm.h"

#define D 24
#define EPS 1e-5

static double max_diff(const cn_real *a, const cn_real *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

int main(void)
{
    cn_real x[D], xh[D], xh_ref[D], t[D], pre[D], u[D], u_ref[D], v[D], w[D];
    for (int offset = 0; offset < 2; offset++) {
        for (int j = 0; j < D; j++) {
            x[j] = (cn_real)(sin(1.3 * j) + (offset ? 1e6 : 0)); /* a large mean: the two-pass variance holds */
            t[j] = (cn_real)cos(0.7 * j + 0.2);
            pre[j] = (cn_real)(0.5 + 0.1 * j);
        }
        cn_norm_stats s = cn_norm_row(x, xh, D, EPS), r = cn_norm_row_naive(x, xh_ref, D, EPS);
        CHECK(fabs(s.mean - r.mean) <= 1e-12 * fabs(r.mean) + 1e-15 && fabs(s.inv_std - r.inv_std) <= 1e-9 * r.inv_std,
              "offset %d: stats %.17g %.17g vs %.17g %.17g", offset, s.mean, s.inv_std, r.mean, r.inv_std);
        cn_norm_row_xhat(x, s, v, D);
        CHECK(max_diff(v, xh, D) == 0, "offset %d: xhat rebuilt from the statistics differs from the forward's", offset);
        double e = max_diff(xh, xh_ref, D);
        CHECK(e < (offset ? 1e-9 : 1e-13), "offset %d: xhat off by %.3g", offset, e);
        for (int with_pre = 0; with_pre < 2; with_pre++) {
            cn_norm_row_project(xh, s.inv_std, t, with_pre ? pre : NULL, u, D);
            cn_norm_row_project_naive(xh, s.inv_std, t, with_pre ? pre : NULL, u_ref, D);
            e = max_diff(u, u_ref, D);
            CHECK(e < 1e-9 * s.inv_std, "offset %d, pre %d: project off the written-out Jacobian by %.3g", offset,
                  with_pre, e);
        }
        /* in place */
        memcpy(v, t, sizeof v);
        cn_norm_row_project(xh, s.inv_std, v, NULL, v, D);
        cn_norm_row_project(xh, s.inv_std, t, NULL, u, D);
        CHECK(max_diff(u, v, D) == 0, "offset %d: project in place differs", offset);
        if (offset) continue;
        /* against central differences of the normalisation itself */
        const double h = 1e-6;
        cn_real xp[D], xm[D], hp[D], hm[D];
        for (int j = 0; j < D; j++) {
            xp[j] = (cn_real)(x[j] + h * t[j]);
            xm[j] = (cn_real)(x[j] - h * t[j]);
        }
        cn_norm_row(xp, hp, D, EPS);
        cn_norm_row(xm, hm, D, EPS);
        double ef = 0;
        for (int j = 0; j < D; j++) ef = fmax(ef, fabs((hp[j] - hm[j]) / (2 * h) - u[j]));
        CHECK(ef < 1e-7, "the Jacobian product is off its central difference by %.3g", ef);
        /* symmetric: <w, J t> = <J w, t>, so the backward is the same kernel */
        for (int j = 0; j < D; j++) w[j] = (cn_real)sin(0.31 * j * j);
        cn_norm_row_project(xh, s.inv_std, w, NULL, v, D);
        double lhs = 0, rhs = 0;
        for (int j = 0; j < D; j++) lhs += w[j] * u[j], rhs += v[j] * t[j];
        CHECK(fabs(lhs - rhs) < 1e-12, "not symmetric: %.17g vs %.17g", lhs, rhs);
    }
    /* spans: batch norm's channel 1 of x (B=3, C=4, HW=5), moments against the naive twin, and the train-mode
     * Jacobian (sums + combine) against central differences of moments + apply */
    enum { SB = 3, SC = 4, SHW = 5, SN = SB * SC * SHW };
    cn_real bx[SN], bt[SN], bh[SN], by[SN], bu[SN], bp[SN], bm[SN];
    for (int i = 0; i < SN; i++) bx[i] = (cn_real)(2 + sin(0.37 * i * i)), bt[i] = (cn_real)cos(0.11 * i);
    const cn_norm_span span = {SB, SHW, SC * SHW};
    const size_t at = 1 * SHW, m = SB * SHW;
    double mu, var, mu_ref, var_ref;
    cn_norm_span_moments(bx + at, span, &mu, &var);
    cn_norm_span_moments_naive(bx + at, span, &mu_ref, &var_ref);
    CHECK(fabs(mu - mu_ref) < 1e-14 && fabs(var - var_ref) < 1e-14, "span moments %.17g %.17g vs %.17g %.17g", mu,
          var, mu_ref, var_ref);
    const double is = 1 / sqrt(var + EPS), gamma = 1.7, beta = -0.3;
    memcpy(by, bx, sizeof by);
    cn_norm_span_apply(bx + at, span, mu, is, gamma, beta, bh + at, by + at);
    double st, stx;
    cn_norm_span_sums(bt + at, bh + at, span, &st, &stx);
    memcpy(bu, bt, sizeof bu);
    cn_norm_span_combine(bt + at, bh + at, span, gamma * is, st / m, stx / m, bu + at);
    const double h = 1e-6;
    double worst = 0;
    for (int sign = -1; sign <= 1; sign += 2) {
        cn_real xs[SN];
        for (int i = 0; i < SN; i++) xs[i] = (cn_real)(bx[i] + sign * h * bt[i]);
        double mu2, var2;
        cn_norm_span_moments(xs + at, span, &mu2, &var2);
        memcpy(sign < 0 ? bm : bp, xs, sizeof xs);
        cn_norm_span_apply(xs + at, span, mu2, 1 / sqrt(var2 + EPS), gamma, beta, NULL, (sign < 0 ? bm : bp) + at);
    }
    for (size_t b = 0; b < SB; b++)
        for (size_t i = 0; i < SHW; i++) {
            size_t o = at + b * SC * SHW + i;
            worst = fmax(worst, fabs((bp[o] - bm[o]) / (2 * h) - bu[o]));
        }
    CHECK(worst < 1e-7, "span Jacobian off its central difference by %.3g", worst);
    /* the other channels are left alone */
    int touched = 0;
    for (int i = 0; i < SN; i++)
        if ((size_t)(i % (SC * SHW)) / SHW != 1) touched += by[i] != bx[i] || bu[i] != bt[i];
    CHECK(touched == 0, "the span kernels wrote %d values of other channels", touched);

    /* periodic affine: period 1 (instance norm), a period dividing D, and D (layer norm) */
    cn_real scale[D], bias[D], y[D];
    for (int j = 0; j < D; j++) scale[j] = (cn_real)(1 + j), bias[j] = (cn_real)(-j);
    size_t periods[3] = {1, 6, D};
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < D; j++) y[j] = (cn_real)j;
        cn_norm_affine_periodic(y, y, D, scale, k ? bias : NULL, periods[k]);
        int bad = 0;
        for (int j = 0; j < D; j++) {
            size_t p = (size_t)j % periods[k];
            bad += y[j] != (cn_real)j * scale[p] + (k ? bias[p] : 0);
        }
        CHECK(bad == 0, "affine with period %zu: %d entries wrong", periods[k], bad);
    }
    return check_summary("test_kernels_norm_f64");
}
