/* test_kernels_act_f64.c: the activation kernels (kernels/act.h) in double precision: every array kernel
 * (forward, backward from z and from y, derivs, the K-tangent jvp) against the scalar definitions, and the
 * scalar phi' and phi'' against central differences of phi and phi' away from the kinks. */
#include <math.h>
#include <stdlib.h>
#include "check.h"
#include "kernels/act.h"

#define N 257
#define K 3

static int kinked(cn_act a) { return a == CN_ACT_RELU || a == CN_ACT_LEAKY_RELU || a == CN_ACT_ELU; }

int main(void)
{
    cn_real z[N], y[N], dy[N], dz[N], dz2[N], d1[N], d2[N], t[K * N];
    for (int i = 0; i < N; i++) {
        z[i] = (cn_real)(-4.0 + 8.0 * i / (N - 1) + 1e-3 * sin(7.0 * i)); /* not on a grid point */
        dy[i] = (cn_real)cos(0.3 * i);
    }
    z[N / 2] = 0; /* a kink: the kernels must follow the scalar rule there too */
    for (int a = 0; a < CN_ACT_COUNT; a++) {
        cn_act act = (cn_act)a;
        const char *name = cn_act_name(act);
        cn_act_forward(act, z, y, N);
        double e = 0;
        for (int i = 0; i < N; i++) e = fmax(e, fabs(y[i] - cn_act_value(act, z[i])));
        CHECK(e < 1e-14, "%s: forward off the scalar definition by %.3g", name, e);
        cn_act_backward(act, z, NULL, dy, dz, N);
        cn_act_backward(act, z, y, dy, dz2, N);
        cn_act_derivs(act, z, y, d1, d2, N);
        double eb = 0, eby = 0, e1 = 0, e2 = 0;
        for (int i = 0; i < N; i++) {
            double g = cn_act_deriv(act, z[i]);
            eb = fmax(eb, fabs(dz[i] - dy[i] * g));
            eby = fmax(eby, fabs(dz2[i] - dy[i] * g));
            e1 = fmax(e1, fabs(d1[i] - g));
            e2 = fmax(e2, fabs(d2[i] - cn_act_deriv2(act, z[i])));
        }
        CHECK(eb < 1e-14 && eby < 1e-14, "%s: backward off by %.3g (from z) / %.3g (from y)", name, eb, eby);
        CHECK(e1 < 1e-14 && e2 < 1e-13, "%s: derivs off by %.3g / %.3g", name, e1, e2);
        for (int k = 0; k < K; k++)
            for (int i = 0; i < N; i++) t[k * N + i] = (cn_real)(k + 1 - 0.5 * dy[i]);
        cn_act_jvp(act, z, t, N, K);
        double ej = 0;
        for (int k = 0; k < K; k++)
            for (int i = 0; i < N; i++) ej = fmax(ej, fabs(t[k * N + i] - (k + 1 - 0.5 * dy[i]) * cn_act_deriv(act, z[i])));
        CHECK(ej < 1e-13, "%s: jvp of %d tangents off by %.3g", name, K, ej);
        /* the scalar definitions themselves, by central differences */
        const double h = 1e-5;
        double ed = 0, ed2 = 0;
        for (int i = 0; i < N; i++) {
            if (kinked(act) && fabs(z[i]) < 10 * h) continue;
            double fd = (cn_act_value(act, z[i] + h) - cn_act_value(act, z[i] - h)) / (2 * h);
            double fd2 = (cn_act_deriv(act, z[i] + h) - cn_act_deriv(act, z[i] - h)) / (2 * h);
            ed = fmax(ed, fabs(fd - cn_act_deriv(act, z[i])));
            ed2 = fmax(ed2, fabs(fd2 - cn_act_deriv2(act, z[i])));
        }
        CHECK(ed < 1e-8 && ed2 < 1e-8, "%s: phi' / phi'' off their central differences by %.3g / %.3g", name, ed, ed2);
    }
    return check_summary("test_kernels_act_f64");
}
