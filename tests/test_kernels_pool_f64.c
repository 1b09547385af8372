/* test_kernels_pool_f64.c: the shared pooling kernels (kernels/pool.h) in double precision, on geometries that
 * reach every branch (the max pool's interior rows and border windows, dilations, asymmetric pads, windows of
 * padding only, 1-D, 3-D): forwards against their _naive twins, NaN and ties as PyTorch treats them, and each
 * backward against its forward by the adjoint identity <dy, J t> = <J^T dy, t> (exact for these piecewise
 * linear maps, so it holds to rounding). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "kernels/pool.h"

typedef struct {
    const char *name;
    int64_t planes, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ho, wo;
} pool_case;

/* ho/wo as the caller's rounding rule gives them; the last rows and columns of some reach into (or lie
 * wholly in) the end padding, as ceil_mode does */
static const pool_case cases[] = {
    {"2x2 stride 2", 3, 6, 6, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 3, 3},
    {"3x3 stride 2 pad 1", 2, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4, 4},
    {"3x3 stride 1, wide rows", 2, 5, 23, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5, 23},
    {"dilated, asymmetric pads", 2, 9, 8, 3, 2, 2, 1, 2, 3, 2, 0, 1, 3, 4, 8},
    {"end padding only windows", 1, 4, 4, 2, 2, 3, 3, 1, 1, 0, 0, 4, 4, 3, 3},
    {"1-D", 4, 1, 12, 1, 4, 1, 3, 1, 1, 0, 2, 0, 2, 1, 5},
};

static double uniform(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (double)(*state >> 8) / (double)(1u << 24) * 2 - 1;
}

static double dot(const cn_real *a, const cn_real *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* equal as numbers, or both NaN */
static int same(double a, double b) { return (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-12 * (1 + fabs(b)); }

static void run_case(const pool_case *c, unsigned seed)
{
    cn_pool_geom q = {c->planes, c->h, c->w, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw,
                      c->pt, c->pl, c->pb, c->pr, c->ho, c->wo};
    const size_t nx = (size_t)(q.planes * q.h * q.w), ny = (size_t)(q.planes * q.ho * q.wo);
    cn_pool_window *rows = malloc((size_t)(q.ho + q.wo) * sizeof *rows), *cols = rows + q.ho;
    cn_real *x = malloc(nx * sizeof *x), *t = malloc(nx * sizeof *t), *dx = malloc(nx * sizeof *dx);
    cn_real *y = malloc(ny * sizeof *y), *y_ref = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    cn_real *ty = malloc(ny * sizeof *ty);
    int32_t *arg = malloc(ny * sizeof *arg);
    CHECK(rows && x && t && dx && y && y_ref && dy && ty && arg, "allocation");
    cn_pool_windows(&q, rows, cols);
    for (size_t i = 0; i < nx; i++) {
        x[i] = (cn_real)uniform(&seed);
        t[i] = (cn_real)uniform(&seed);
    }
    for (size_t i = 0; i < ny; i++) dy[i] = (cn_real)uniform(&seed);
    x[nx / 3] = x[nx / 3 + 1]; /* a tie */

    for (int nan_round = 0; nan_round < 2; nan_round++) {
        if (nan_round) x[nx / 2] = NAN; /* the row holding it must leave the fast path, and the NaN win */
        cn_pool_max_forward(&q, rows, cols, y, arg, x);
        cn_pool_max_forward_naive(&q, y_ref, x);
        int bad = 0;
        for (size_t i = 0; i < ny; i++) bad += !same(y[i], y_ref[i]);
        CHECK(bad == 0, "%s: max forward differs from the naive twin at %d outputs (NaN %d)", c->name, bad, nan_round);
        for (size_t i = 0; i < ny; i++) {
            int64_t p = (int64_t)i / (q.ho * q.wo);
            CHECK(arg[i] < 0 ? y[i] == -DBL_MAX /* a window of padding only: the lowest finite value */
                             : same(y[i], x[p * q.h * q.w + arg[i]]),
                  "%s: output %zu is not the recorded element", c->name, i);
        }
    }
    x[nx / 2] = 0.25;
    cn_pool_max_forward(&q, rows, cols, y, arg, x);
    cn_pool_max_jvp(q.planes, q.h * q.w, q.ho * q.wo, arg, 1, ty, t);
    cn_pool_max_backward(q.planes, q.h * q.w, q.ho * q.wo, arg, dx, dy);
    double lhs = dot(dy, ty, ny), rhs = dot(dx, t, nx);
    CHECK(fabs(lhs - rhs) <= 1e-12 * (1 + fabs(lhs)), "%s: max backward is not the jvp's adjoint (%.17g vs %.17g)",
          c->name, lhs, rhs);

    for (int include_pad = 0; include_pad < 2; include_pad++) {
        cn_pool_avg_forward(&q, rows, cols, include_pad, y, x);
        cn_pool_avg_forward_naive(&q, include_pad, y_ref, x);
        int bad = 0;
        for (size_t i = 0; i < ny; i++) bad += !same(y[i], y_ref[i]);
        CHECK(bad == 0, "%s: average (include_pad %d) differs from the naive twin at %d outputs", c->name,
              include_pad, bad);
        cn_pool_avg_forward(&q, rows, cols, include_pad, ty, t);
        cn_pool_avg_backward(&q, rows, cols, include_pad, dx, dy);
        lhs = dot(dy, ty, ny);
        rhs = dot(dx, t, nx);
        CHECK(fabs(lhs - rhs) <= 1e-12 * (1 + fabs(lhs)), "%s: average backward is not the adjoint (%.17g vs %.17g)",
              c->name, lhs, rhs);
    }
    free(rows), free(x), free(t), free(dx), free(y), free(y_ref), free(dy), free(ty), free(arg);
}

/* 3-D: depth geometry (d, kd, sd, dd, pad_front, pad_back, dout) over a 2-D case's height and width */
typedef struct {
    const char *name;
    int hw_case;
    int64_t d, kd, sd, dd, pf, pb, dout;
} pool3_case;

static const pool3_case cases3[] = {
    {"3-D 2x2x2 stride 2", 0, 4, 2, 2, 1, 0, 0, 2},
    {"3-D padded, dilated depth", 1, 7, 3, 2, 2, 2, 1, 4},
    {"3-D depth of padding only", 4, 3, 2, 3, 1, 0, 3, 2},
};

static void run_case3(const pool3_case *c, unsigned seed)
{
    const pool_case *h = &cases[c->hw_case];
    cn_pool3_geom q = {.hw = {.planes = h->planes, .h = h->h, .w = h->w, .kh = h->kh, .kw = h->kw, .sh = h->sh,
                              .sw = h->sw, .dh = h->dh, .dw = h->dw, .pad_top = h->pt, .pad_left = h->pl,
                              .pad_bottom = h->pb, .pad_right = h->pr, .ho = h->ho, .wo = h->wo},
                       .d = c->d, .kd = c->kd, .sd = c->sd, .dd = c->dd, .pad_front = c->pf, .pad_back = c->pb,
                       .dout = c->dout};
    const int64_t in_plane = q.d * q.hw.h * q.hw.w, out_plane = q.dout * q.hw.ho * q.hw.wo;
    const size_t nx = (size_t)(q.hw.planes * in_plane), ny = (size_t)(q.hw.planes * out_plane);
    cn_pool_window *depths = malloc((size_t)(q.dout + q.hw.ho + q.hw.wo) * sizeof *depths);
    cn_pool_window *rows = depths + q.dout, *cols = rows + q.hw.ho;
    cn_real *x = malloc(nx * sizeof *x), *t = malloc(nx * sizeof *t), *dx = malloc(nx * sizeof *dx);
    cn_real *y = malloc(ny * sizeof *y), *y_ref = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    cn_real *ty = malloc(ny * sizeof *ty);
    int32_t *arg = malloc(ny * sizeof *arg);
    CHECK(depths && x && t && dx && y && y_ref && dy && ty && arg, "allocation");
    cn_pool3_windows(&q, depths, rows, cols);
    for (size_t i = 0; i < nx; i++) {
        x[i] = (cn_real)uniform(&seed);
        t[i] = (cn_real)uniform(&seed);
    }
    for (size_t i = 0; i < ny; i++) dy[i] = (cn_real)uniform(&seed);
    x[nx / 3] = x[nx / 3 + 1]; /* a tie */
    for (int nan_round = 0; nan_round < 2; nan_round++) {
        if (nan_round) x[nx / 2] = NAN;
        cn_pool3_max_forward(&q, depths, rows, cols, y, arg, x);
        cn_pool3_max_forward_naive(&q, y_ref, x);
        int bad = 0;
        for (size_t i = 0; i < ny; i++) bad += !same(y[i], y_ref[i]);
        CHECK(bad == 0, "%s: max forward differs from the naive twin at %d outputs (NaN %d)", c->name, bad, nan_round);
        for (size_t i = 0; i < ny; i++)
            CHECK(arg[i] < 0 ? y[i] == -DBL_MAX : same(y[i], x[(int64_t)i / out_plane * in_plane + arg[i]]),
                  "%s: output %zu is not the recorded element", c->name, i);
    }
    x[nx / 2] = 0.25;
    cn_pool3_max_forward(&q, depths, rows, cols, y, arg, x);
    cn_pool_max_jvp(q.hw.planes, in_plane, out_plane, arg, 1, ty, t);
    cn_pool_max_backward(q.hw.planes, in_plane, out_plane, arg, dx, dy);
    double lhs = dot(dy, ty, ny), rhs = dot(dx, t, nx);
    CHECK(fabs(lhs - rhs) <= 1e-12 * (1 + fabs(lhs)), "%s: max backward is not the jvp's adjoint (%.17g vs %.17g)",
          c->name, lhs, rhs);
    for (int include_pad = 0; include_pad < 2; include_pad++) {
        cn_pool3_avg_forward(&q, depths, rows, cols, include_pad, y, x);
        cn_pool3_avg_forward_naive(&q, include_pad, y_ref, x);
        int bad = 0;
        for (size_t i = 0; i < ny; i++) bad += !same(y[i], y_ref[i]);
        CHECK(bad == 0, "%s: average (include_pad %d) differs from the naive twin at %d outputs", c->name,
              include_pad, bad);
        cn_pool3_avg_forward(&q, depths, rows, cols, include_pad, ty, t);
        cn_pool3_avg_backward(&q, depths, rows, cols, include_pad, dx, dy);
        lhs = dot(dy, ty, ny);
        rhs = dot(dx, t, nx);
        CHECK(fabs(lhs - rhs) <= 1e-12 * (1 + fabs(lhs)), "%s: average backward is not the adjoint (%.17g vs %.17g)",
              c->name, lhs, rhs);
    }
    free(depths), free(x), free(t), free(dx), free(y), free(y_ref), free(dy), free(ty), free(arg);
}

static void whole_planes(void)
{
    enum { P = 3, S = 7 };
    cn_real x[P * S], y[P], dx[P * S], dy[P] = {1, -2, 0.5};
    int32_t arg[P];
    unsigned seed = 99;
    for (int i = 0; i < P * S; i++) x[i] = (cn_real)uniform(&seed);
    x[S + 2] = x[S + 5] = 3; /* a tie: the first wins */
    x[2 * S + 4] = NAN;      /* NaN wins */
    cn_pool_plane_max(P, S, y, arg, x);
    CHECK(arg[1] == 2 && y[1] == 3, "plane max: first of a tie (arg %d)", arg[1]);
    CHECK(arg[2] == 4 && isnan(y[2]), "plane max: NaN wins (arg %d)", arg[2]);
    cn_pool_plane_mean(P, S, y, x);
    double m0 = 0;
    for (int i = 0; i < S; i++) m0 += x[i];
    CHECK(fabs(y[0] - m0 / S) < 1e-15, "plane mean %.17g vs %.17g", (double)y[0], m0 / S);
    cn_pool_plane_mean_backward(P, S, dx, dy);
    CHECK(dx[0] == 1.0 / S && dx[S + 6] == -2.0 / S, "plane mean backward spreads dy / size");
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 77u + (unsigned)i);
    for (size_t i = 0; i < sizeof cases3 / sizeof *cases3; i++) run_case3(&cases3[i], 177u + (unsigned)i);
    /* the case meant to have windows of padding only has them */
    cn_pool_geom q = {1, 4, 4, 2, 2, 3, 3, 1, 1, 0, 0, 4, 4, 3, 3};
    cn_pool_window rows[3], cols[3];
    cn_pool_windows(&q, rows, cols);
    CHECK(rows[2].lo == rows[2].hi && cols[2].lo == cols[2].hi, "window 2 lies in the end padding");
    whole_planes();
    return check_summary("test_kernels_pool_f64");
}
