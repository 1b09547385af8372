/* test_kernels_softmax_f64.c: the row softmax kernels (kernels/softmax.h) in double precision: softmax and
 * log-softmax against their definitions (also with large logits, where a sum without the maximum overflows),
 * the jvp against the Jacobian written out, and against central differences. */
#include <math.h>
#include "check.h"
#include "kernels/softmax.h"

#define L 9

static double max_diff(const cn_real *a, const cn_real *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

int main(void)
{
    cn_real x[L], t[L], y[L], y_ref[L], ty[L], ty_ref[L], xp[L], xm[L], yp[L], ym[L];
    for (int big = 0; big < 2; big++)
        for (int log_out = 0; log_out < 2; log_out++) {
            for (int i = 0; i < L; i++) {
                x[i] = (cn_real)(2 * sin(1.7 * i) + (big ? 800 : 0)); /* exp(800) overflows a double */
                t[i] = (cn_real)cos(0.9 * i);
            }
            cn_softmax_row(L, x, y, log_out);
            cn_softmax_row_naive(L, x, y_ref, log_out);
            double e = max_diff(y, y_ref, L);
            CHECK(e < 1e-13 && isfinite(y[0]), "log %d big %d: forward off by %.3g", log_out, big, e);
            cn_softmax_row_jvp(L, y, t, ty, log_out);
            cn_softmax_row_jvp_naive(L, x, t, ty_ref, log_out);
            CHECK((e = max_diff(ty, ty_ref, L)) < 1e-13, "log %d big %d: jvp off the Jacobian by %.3g", log_out, big, e);
            const double h = 1e-6;
            for (int i = 0; i < L; i++) xp[i] = (cn_real)(x[i] + h * t[i]), xm[i] = (cn_real)(x[i] - h * t[i]);
            cn_softmax_row(L, xp, yp, log_out);
            cn_softmax_row(L, xm, ym, log_out);
            double ef = 0;
            for (int i = 0; i < L; i++) ef = fmax(ef, fabs((yp[i] - ym[i]) / (2 * h) - ty[i]));
            CHECK(ef < (big ? 1e-6 : 1e-8), "log %d big %d: jvp off its central difference by %.3g", log_out, big, ef);
        }
    return check_summary("test_kernels_softmax_f64");
}
