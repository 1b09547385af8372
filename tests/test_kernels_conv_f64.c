/* test_kernels_conv_f64.c: the shared convolution kernels (kernels/conv.h) in double precision, on 1-D, 2-D and
 * 3-D geometries that reach each path (pointwise, depthwise with and without a channel multiplier, im2col with
 * groups, strides, dilations, asymmetric pads): the fast forward and backward against their _naive twins, and
 * the naive backward against central differences of the naive forward, so that neither reference is trusted
 * on its own word. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "kernels/conv.h"

#define N 2 /* examples */

typedef struct {
    const char *name;
    int64_t c, m, groups;
    int64_t in[3], k[3], stride[3], dil[3], pad_begin[3], pad_end[3];
    const char *path; /* which path the geometry must take: "pointwise", "depthwise" or "im2col" */
} conv_case;

static const conv_case cases[] = {
    {"2-D 3x3 pad 1", 3, 4, 1, {1, 6, 5}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}, "im2col"},
    {"2-D strided, asymmetric pads", 2, 3, 1, {1, 7, 6}, {1, 3, 2}, {1, 2, 3}, {1, 1, 1}, {0, 0, 1}, {0, 2, 0}, "im2col"},
    {"2-D grouped, dilated", 4, 6, 2, {1, 8, 7}, {1, 3, 3}, {1, 1, 2}, {1, 2, 1}, {0, 2, 1}, {0, 2, 1}, "im2col"},
    {"2-D pointwise, grouped", 4, 6, 2, {1, 5, 4}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, "pointwise"},
    {"2-D 1x1 strided", 3, 2, 1, {1, 6, 6}, {1, 1, 1}, {1, 2, 2}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, "im2col"},
    {"2-D depthwise", 3, 3, 3, {1, 7, 6}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}, "depthwise"},
    {"2-D depthwise x2, strided", 2, 4, 2, {1, 9, 8}, {1, 3, 3}, {1, 2, 2}, {1, 1, 1}, {0, 1, 0}, {0, 0, 1}, "depthwise"},
    {"1-D", 3, 2, 1, {1, 1, 11}, {1, 1, 3}, {1, 1, 2}, {1, 1, 2}, {0, 0, 2}, {0, 0, 1}, "im2col"},
    {"1-D depthwise", 4, 4, 4, {1, 1, 9}, {1, 1, 5}, {1, 1, 1}, {1, 1, 1}, {0, 0, 2}, {0, 0, 2}, "depthwise"},
    {"3-D", 2, 3, 1, {4, 5, 4}, {2, 3, 2}, {1, 2, 1}, {1, 1, 1}, {1, 1, 0}, {0, 1, 1}, "im2col"},
    {"3-D grouped, dilated", 4, 4, 2, {5, 4, 4}, {3, 2, 2}, {2, 1, 1}, {2, 1, 2}, {2, 0, 1}, {1, 1, 1}, "im2col"},
    {"3-D depthwise", 2, 2, 2, {3, 4, 5}, {3, 3, 3}, {1, 1, 2}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, "depthwise"},
    {"3-D pointwise", 3, 2, 1, {2, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, "pointwise"},
};

static double uniform(unsigned *state) /* a fixed LCG: the test needs no RNG quality, only repeatability */
{
    *state = *state * 1103515245u + 12345u;
    return (double)(*state >> 8) / (double)(1u << 24) * 2 - 1;
}

static void fill(cn_real *v, size_t n, unsigned *state)
{
    for (size_t i = 0; i < n; i++) v[i] = (cn_real)uniform(state);
}

static double max_abs_diff(const cn_real *a, const cn_real *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static double dot(const cn_real *a, const cn_real *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void run_case(const conv_case *tc, unsigned seed)
{
    cn_conv_geom g = {.c = tc->c, .m = tc->m, .groups = tc->groups};
    for (int a = 0; a < 3; a++) {
        g.in[a] = tc->in[a];
        g.k[a] = tc->k[a];
        g.stride[a] = tc->stride[a];
        g.dil[a] = tc->dil[a];
        g.pad[a] = tc->pad_begin[a];
        g.out[a] = cn_conv_out_len(tc->in[a], tc->k[a], tc->stride[a], tc->pad_begin[a], tc->pad_end[a], tc->dil[a]);
    }
    const char *path = cn_conv_is_pointwise(&g) ? "pointwise" : cn_conv_is_depthwise(&g) ? "depthwise" : "im2col";
    CHECK(!strcmp(path, tc->path), "%s: takes the %s path, expected %s", tc->name, path, tc->path);
    CHECK((cn_conv_col_size(&g) == 0) == (strcmp(path, "im2col") != 0), "%s: column scratch only for im2col",
          tc->name);

    const size_t nx = (size_t)(N * g.c * g.in[0] * g.in[1] * g.in[2]);
    const size_t ny = (size_t)(N * g.m * g.out[0] * g.out[1] * g.out[2]);
    const size_t nw = (size_t)(g.m * (g.c / g.groups) * g.k[0] * g.k[1] * g.k[2]), nb = (size_t)g.m;
    const size_t ncol = cn_conv_col_size(&g);
    cn_real *x = malloc(nx * sizeof *x), *W = malloc(nw * sizeof *W), *b = malloc(nb * sizeof *b);
    cn_real *y = malloc(ny * sizeof *y), *y_ref = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    cn_real *dx = malloc(nx * sizeof *dx), *dx_ref = malloc(nx * sizeof *dx);
    cn_real *dW = calloc(nw, sizeof *dW), *dW_ref = calloc(nw, sizeof *dW);
    cn_real *db = calloc(nb, sizeof *db), *db_ref = calloc(nb, sizeof *db);
    cn_real *col = ncol ? malloc(ncol * sizeof *col) : NULL;
    CHECK(x && W && b && y && y_ref && dy && dx && dx_ref && dW && dW_ref && db && db_ref && (col || !ncol),
          "allocation");
    fill(x, nx, &seed);
    fill(W, nw, &seed);
    fill(b, nb, &seed);
    fill(dy, ny, &seed);

    cn_conv_forward(&g, y, x, W, b, N, col);
    cn_conv_forward_naive(&g, y_ref, x, W, b, N);
    double e = max_abs_diff(y, y_ref, ny);
    CHECK(e < 1e-12, "%s: forward differs from the naive twin by %.3g", tc->name, e);
    cn_conv_forward(&g, y, x, W, NULL, N, col);
    cn_conv_forward_naive(&g, y_ref, x, W, NULL, N);
    CHECK((e = max_abs_diff(y, y_ref, ny)) < 1e-12, "%s: forward without bias differs by %.3g", tc->name, e);

    /* dW and db are accumulated: start both from the same non-zero values */
    for (size_t i = 0; i < nw; i++) dW[i] = dW_ref[i] = 0.5;
    for (size_t i = 0; i < nb; i++) db[i] = db_ref[i] = -0.25;
    cn_conv_backward(&g, dx, dW, db, dy, x, W, N, col);
    cn_conv_backward_naive(&g, dx_ref, dW_ref, db_ref, dy, x, W, N);
    CHECK((e = max_abs_diff(dx, dx_ref, nx)) < 1e-12, "%s: dx differs from the naive twin by %.3g", tc->name, e);
    CHECK((e = max_abs_diff(dW, dW_ref, nw)) < 1e-12, "%s: dW differs from the naive twin by %.3g", tc->name, e);
    CHECK((e = max_abs_diff(db, db_ref, nb)) < 1e-12, "%s: db differs from the naive twin by %.3g", tc->name, e);
    /* the parts one may leave out: the others are unchanged by it */
    cn_conv_backward(&g, NULL, dW, NULL, dy, x, W, N, col);
    for (size_t i = 0; i < nw; i++) dW_ref[i] += dW_ref[i] - 0.5;
    CHECK((e = max_abs_diff(dW, dW_ref, nw)) < 1e-12, "%s: dW alone (dx, db NULL) off by %.3g", tc->name, e);

    /* the naive backward against central differences of the naive forward: L = <dy, conv(x)> */
    const double h = 1e-6;
    cn_real *gW = calloc(nw, sizeof *gW); /* the weight gradient alone, not accumulated onto anything */
    CHECK(gW, "allocation");
    cn_conv_backward_naive(&g, NULL, gW, NULL, dy, x, W, N);
    for (size_t probe = 0; probe < 6; probe++) {
        size_t i = (probe * 7919 + 13) % nx;
        cn_real keep = x[i];
        x[i] = keep + (cn_real)h;
        cn_conv_forward_naive(&g, y_ref, x, W, b, N);
        double up = dot(dy, y_ref, ny);
        x[i] = keep - (cn_real)h;
        cn_conv_forward_naive(&g, y_ref, x, W, b, N);
        double down = dot(dy, y_ref, ny);
        x[i] = keep;
        double fd = (up - down) / (2 * h);
        CHECK(fabs(fd - dx_ref[i]) <= 1e-6 * (1 + fabs(fd)), "%s: dx[%zu] = %.9g, central difference %.9g",
              tc->name, i, (double)dx_ref[i], fd);
        size_t j = (i * 31 + probe) % nw;
        keep = W[j];
        W[j] = keep + (cn_real)h;
        cn_conv_forward_naive(&g, y_ref, x, W, b, N);
        up = dot(dy, y_ref, ny);
        W[j] = keep - (cn_real)h;
        cn_conv_forward_naive(&g, y_ref, x, W, b, N);
        down = dot(dy, y_ref, ny);
        W[j] = keep;
        fd = (up - down) / (2 * h);
        CHECK(fabs(fd - gW[j]) <= 1e-6 * (1 + fabs(fd)), "%s: dW[%zu] = %.9g, central difference %.9g", tc->name,
              j, (double)gW[j], fd);
    }
    free(gW);
    free(x), free(W), free(b), free(y), free(y_ref), free(dy), free(dx), free(dx_ref);
    free(dW), free(dW_ref), free(db), free(db_ref), free(col);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i], 1234u + (unsigned)i);
    CHECK(cn_conv_out_len(5, 3, 1, 0, 0, 1) == 3 && cn_conv_out_len(5, 3, 2, 1, 1, 1) == 3 &&
              cn_conv_out_len(2, 3, 1, 0, 0, 2) == 0,
          "output lengths");
    return check_summary("test_kernels_conv_f64");
}
