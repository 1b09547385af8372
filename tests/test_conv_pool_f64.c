/* test_conv_pool_f64.c: conv2d, maxpool, avgpool, gap and flatten in double precision: the fast
 * forward against direct loops, backward and jvp against central differences, and bad arguments. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "layers/conv2d.h"
#include "layers/layer.h"

#define EPS 1e-6 /* central-difference step */
#define TOL 1e-6 /* relative tolerance of a derivative against its central difference */
#define B 2      /* batch */
#define K 3      /* tangents of the batched jvp */

static cn_rng *rng;

typedef struct {
    const char *kind; /* conv, maxpool, avgpool, gap, flatten */
    cn_shape in;
    const char *args; /* "key=value ..." as on a model-format line */
    const char *print; /* the canonical line the layer must print */
} tcase;

static const tcase cases[] = {
    {"conv", {3, 8, 8}, "out=4 k=3 pad=1 act=relu", "conv out=4 k=3 stride=1 pad=1 act=relu"},
    {"conv", {4, 9, 9}, "out=6 k=3 stride=2 pad=1 act=tanh", "conv out=6 k=3 stride=2 pad=1 act=tanh"},
    {"conv", {4, 7, 7}, "out=6 groups=2 pad=1 act=gelu", "conv out=6 k=3 stride=1 pad=1 groups=2 act=gelu"},
    {"conv", {2, 10, 10}, "out=3 dilation=2 pad=1 bias=0", "conv out=3 k=3 stride=1 pad=1 dilation=2 act=identity bias=0"},
    {"conv", {4, 5, 5}, "out=3 k=1 act=silu", "conv out=3 k=1 stride=1 pad=0 act=silu"}, /* direct 1x1 path */
    {"conv", {4, 6, 6}, "out=4 k=1 stride=2 groups=2", "conv out=4 k=1 stride=2 pad=0 groups=2 act=identity"},
    {"conv", {3, 9, 8}, "out=5 k=4 stride=3 pad=2 act=leaky_relu", "conv out=5 k=4 stride=3 pad=2 act=leaky_relu"},
    {"conv", {4, 8, 8}, "out=8 k=3 stride=2 pad=2 groups=4 dilation=2 act=elu",
     "conv out=8 k=3 stride=2 pad=2 groups=4 dilation=2 act=elu"},
    /* depthwise: one input channel per group, the kernels' direct path; with and without a multiplier */
    {"conv", {3, 7, 6}, "out=3 groups=3 pad=1 act=tanh", "conv out=3 k=3 stride=1 pad=1 groups=3 act=tanh"},
    {"conv", {2, 9, 9}, "out=6 k=3 stride=2 groups=2 bias=0", "conv out=6 k=3 stride=2 pad=0 groups=2 act=identity bias=0"},
    {"conv", {2, 6, 6}, "out=3 k=2 stride=2 pad=1 groups=1 dilation=1 bias=1 act=sigmoid",
     "conv out=3 k=2 stride=2 pad=1 act=sigmoid"},
    {"maxpool", {3, 6, 6}, "k=2", "maxpool k=2 stride=2"},
    {"maxpool", {2, 7, 7}, "k=3 stride=2 pad=1", "maxpool k=3 stride=2 pad=1"},
    {"maxpool", {2, 5, 7}, "k=2 stride=1", "maxpool k=2 stride=1"},
    {"avgpool", {3, 6, 6}, "k=2", "avgpool k=2 stride=2"},
    {"avgpool", {2, 7, 7}, "k=3 stride=2 pad=1", "avgpool k=3 stride=2 pad=1"},
    {"avgpool", {2, 7, 5}, "k=3 stride=1", "avgpool k=3 stride=1"},
    {"gap", {3, 5, 4}, "", "gap"},
    {"flatten", {3, 4, 5}, "", "flatten"},
};

/* "out=4 k=3" -> args, as the model-format parser would fill them */
static void args_from(cn_args *a, const char *text)
{
    memset(a, 0, sizeof *a);
    const char *s = text;
    int n;
    while (a->count < 16 && sscanf(s, " %31[^= ]=%63s%n", a->key[a->count], a->val[a->count], &n) == 2) {
        a->count++;
        s += n;
    }
}

static int create(cn_layer **L, const char *kind, cn_shape in, const char *text, cn_error *err)
{
    cn_args a;
    args_from(&a, text);
    if (!strcmp(kind, "conv")) return cn_conv2d_create(L, &a, in, err);
    if (!strcmp(kind, "maxpool")) return cn_maxpool_create(L, &a, in, err);
    if (!strcmp(kind, "avgpool")) return cn_avgpool_create(L, &a, in, err);
    if (!strcmp(kind, "gap")) return cn_gap_create(L, &a, in, err);
    return cn_flatten_create(L, &a, in, err);
}

static int arg_int(const char *text, const char *key, int def)
{
    cn_args a;
    int v;
    args_from(&a, text);
    cn_args_int(&a, key, def, &v, NULL);
    return v;
}

static cn_act arg_act(const char *text)
{
    cn_args a;
    cn_act v;
    args_from(&a, text);
    cn_args_act(&a, "act", CN_ACT_IDENTITY, &v, NULL);
    return v;
}

/* ---------------------------------------------------------------- references, written from the definitions */

/* y = the layer's output by direct loops. pattern (n_out per example, or NULL) records the branch taken
 * by every piecewise-linear part (ReLU side, argmax): a central difference whose two ends differ in it
 * straddles a kink and is skipped. */
static void ref_forward(const tcase *tc, const cn_layer *L, const cn_real *x, cn_real *y, int *pattern)
{
    const cn_shape in = tc->in, out = L->out;
    const size_t nin = (size_t)cn_shape_size(in), nout = (size_t)cn_shape_size(out);
    if (!strcmp(tc->kind, "conv")) {
        int k = arg_int(tc->args, "k", 3);
        cn_conv2d_geom g = {in.c, in.h, in.w, arg_int(tc->args, "out", 0), k, arg_int(tc->args, "stride", 1),
                            arg_int(tc->args, "pad", 0), arg_int(tc->args, "dilation", 1),
                            arg_int(tc->args, "groups", 1)};
        int bias = arg_int(tc->args, "bias", 1);
        cn_act act = arg_act(tc->args);
        const cn_real *W = L->p, *b = bias ? L->p + (size_t)g.cout * (g.cin / g.groups) * k * k : NULL;
        cn_conv_geom kg;
        cn_conv2d_kernel_geom(&g, &kg);
        cn_conv_forward_naive(&kg, y, x, W, b, B);
        for (size_t i = 0; i < B * nout; i++) {
            if (pattern) pattern[i] = y[i] > 0;
            y[i] = (cn_real)cn_act_value(act, y[i]);
        }
    } else if (!strcmp(tc->kind, "maxpool") || !strcmp(tc->kind, "avgpool")) {
        int k = arg_int(tc->args, "k", 2), s = arg_int(tc->args, "stride", k), p = arg_int(tc->args, "pad", 0);
        int is_max = !strcmp(tc->kind, "maxpool");
        for (int n = 0; n < B; n++)
            for (int c = 0; c < out.c; c++)
                for (int oh = 0; oh < out.h; oh++)
                    for (int ow = 0; ow < out.w; ow++) {
                        double acc = is_max ? -INFINITY : 0;
                        int best = -1;
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) {
                                int ih = oh * s - p + i, iw = ow * s - p + j;
                                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue; /* zero or -inf */
                                double v = x[n * nin + ((size_t)c * in.h + ih) * in.w + iw];
                                if (!is_max) acc += v;
                                else if (v > acc) acc = v, best = ih * in.w + iw;
                            }
                        size_t o = n * nout + ((size_t)c * out.h + oh) * out.w + ow;
                        y[o] = (cn_real)(is_max ? acc : acc / (k * k)); /* count_include_pad */
                        if (pattern) pattern[o] = best;
                    }
    } else if (!strcmp(tc->kind, "gap")) {
        size_t hw = (size_t)in.h * in.w;
        for (size_t m = 0; m < (size_t)B * in.c; m++) {
            double acc = 0;
            for (size_t j = 0; j < hw; j++) acc += x[m * hw + j];
            y[m] = (cn_real)(acc / hw);
        }
    } else {
        memcpy(y, x, B * nin * sizeof *y);
    }
    if (pattern && (!strcmp(tc->kind, "gap") || !strcmp(tc->kind, "flatten")))
        memset(pattern, 0, B * nout * sizeof *pattern);
}

/* ---------------------------------------------------------------- helpers */

typedef struct {
    const tcase *tc;
    cn_layer *L;
    size_t nin, nout;
    cn_real *yb, *yref;     /* (B, n_out) scratch outputs of the layer and of the reference */
    int *pat_p, *pat_m;     /* (B, n_out) kink patterns at the two ends of a difference */
} fixture;

static void fill_normal(cn_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = (cn_real)cn_rng_normal(rng);
}

static double dot(const cn_real *a, const cn_real *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* sum(y * r) by the layer at x; the kink pattern there comes from the reference */
static double loss_at(fixture *f, const cn_real *x, const cn_real *r, int *pattern)
{
    f->L->ops->forward(f->L, x, f->yb, B, 1);
    if (pattern) ref_forward(f->tc, f->L, x, f->yref, pattern);
    return dot(f->yb, r, B * f->nout);
}

/* Compares analytic derivatives d[i] of sum(y*r) with respect to v[i] (v is x or the parameters, which
 * the forward reads in place) with central differences; returns the number of kinks skipped. */
static int check_grad(fixture *f, const char *what, cn_real *v, size_t n, const cn_real *d, const cn_real *x,
                      const cn_real *r)
{
    double worst = 0;
    size_t worst_i = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        cn_real keep = v[i];
        v[i] = keep + EPS;
        double fp = loss_at(f, x, r, f->pat_p);
        v[i] = keep - EPS;
        double fm = loss_at(f, x, r, f->pat_m);
        v[i] = keep;
        if (memcmp(f->pat_p, f->pat_m, B * f->nout * sizeof *f->pat_p)) {
            skipped++;
            continue;
        }
        double num = (fp - fm) / (2 * EPS);
        double e = fabs(num - d[i]) / (1 + fabs(d[i]));
        if (e > worst) worst = e, worst_i = i;
    }
    CHECK(worst < TOL, "%s %s: d%s[%zu] worst relative error %.3g", f->tc->kind, f->tc->args, what, worst_i, worst);
    CHECK(skipped * 20 <= n, "%s %s: %zu of %zu points of d%s sit on a kink", f->tc->kind, f->tc->args, skipped, n,
          what);
    return (int)skipped;
}

static double max_rel_diff(const cn_real *a, const cn_real *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1 + fabs((double)b[i]));
        if (e > m || isnan(e)) m = isnan(e) ? INFINITY : e;
    }
    return m;
}

/* ---------------------------------------------------------------- one layer, all checks */

static void check_case(const tcase *tc)
{
    cn_error err = {0};
    cn_layer *L = NULL;
    int rc = create(&L, tc->kind, tc->in, tc->args, &err);
    CHECK(rc == CN_OK, "%s %s: create failed: %s", tc->kind, tc->args, err.msg);
    if (rc != CN_OK) return;
    char line[256];
    L->ops->print(L, line, sizeof line);
    CHECK(!strcmp(line, tc->print), "print gave '%s', expected '%s'", line, tc->print);
    CHECK(!strcmp(L->ops->kind, tc->kind), "kind %s, expected %s", L->ops->kind, tc->kind);
    CHECK(L->in.c == tc->in.c && L->in.h == tc->in.h && L->in.w == tc->in.w, "%s: L->in not set", tc->kind);
    CHECK(L->nstate == 0 && L->ops->bind == NULL, "%s: no state and no bind expected", tc->kind);

    fixture f = {tc, L, (size_t)cn_shape_size(tc->in), (size_t)cn_shape_size(L->out), NULL, NULL, NULL, NULL};
    const size_t nin = f.nin, nout = f.nout, np = L->nparams;
    cn_real *p = calloc(np + 1, sizeof *p), *g = calloc(np + 1, sizeof *g), *g1 = calloc(np + 1, sizeof *g1);
    cn_real *x = malloc(B * nin * sizeof *x), *y = malloc(B * nout * sizeof *y), *yr = malloc(B * nout * sizeof *yr);
    cn_real *r = malloc(B * nout * sizeof *r), *dx = malloc(B * nin * sizeof *dx);
    cn_real *t = malloc(K * B * nin * sizeof *t), *ty = malloc(K * B * nout * sizeof *ty);
    cn_real *ty1 = malloc(B * nout * sizeof *ty1), *yp = malloc(B * nout * sizeof *yp), *ym = malloc(B * nout * sizeof *ym);
    cn_real *xp = malloc(B * nin * sizeof *xp);
    f.yb = malloc(B * nout * sizeof *f.yb);
    f.yref = malloc(B * nout * sizeof *f.yref);
    f.pat_p = malloc(B * nout * sizeof *f.pat_p);
    f.pat_m = malloc(B * nout * sizeof *f.pat_m);
    L->p = p;
    L->g = g;
    cn_init init = {.kind = CN_INIT_TORCH}; /* torch init draws non-zero biases, so they are exercised */
    CHECK_OK(L->ops->init(L, &init, rng));
    CHECK_OK(L->ops->reserve(L, B, K));
    fill_normal(x, B * nin);
    fill_normal(r, B * nout);

    /* (a) fast forward against the direct loops */
    L->ops->forward(L, x, y, B, 1);
    ref_forward(tc, L, x, yr, NULL);
    double e = max_rel_diff(y, yr, B * nout);
    CHECK(e < 1e-12, "%s %s: forward differs from the naive reference by %.3g", tc->kind, tc->args, e);

    /* (b) backward: dx and the parameter gradients against central differences of sum(y*r) */
    memset(g, 0, np * sizeof *g);
    L->ops->backward(L, x, y, r, dx, B);
    memcpy(g1, g, np * sizeof *g);
    check_grad(&f, "x", x, B * nin, dx, x, r);
    if (np) check_grad(&f, "theta", p, np, g1, x, r);

    /* gradients accumulate, and dx = NULL leaves them unchanged */
    L->ops->forward(L, x, y, B, 1);
    L->ops->backward(L, x, y, r, NULL, B);
    for (size_t i = 0; i < np; i++) g1[i] *= 2;
    e = max_rel_diff(g, g1, np);
    CHECK(e < 1e-12, "%s %s: second backward (dx NULL) did not accumulate: %.3g", tc->kind, tc->args, e);

    /* (c) jvp against the directional central difference; a tangent that crosses a kink is redrawn */
    int tries = 0, same = 0;
    while (!same && tries++ < 5) {
        fill_normal(t, B * nin);
        for (size_t i = 0; i < B * nin; i++) xp[i] = x[i] + EPS * t[i];
        loss_at(&f, xp, r, f.pat_p);
        memcpy(yp, f.yb, B * nout * sizeof *yp);
        for (size_t i = 0; i < B * nin; i++) xp[i] = x[i] - EPS * t[i];
        loss_at(&f, xp, r, f.pat_m);
        memcpy(ym, f.yb, B * nout * sizeof *ym);
        same = !memcmp(f.pat_p, f.pat_m, B * nout * sizeof *f.pat_p);
    }
    CHECK(same, "%s %s: every tangent crossed a kink", tc->kind, tc->args);
    L->ops->forward(L, x, y, B, 1);
    L->ops->jvp(L, t, ty1, B, 1);
    for (size_t i = 0; i < B * nout; i++) yp[i] = (yp[i] - ym[i]) / (2 * EPS);
    e = max_rel_diff(ty1, yp, B * nout);
    CHECK(e < TOL, "%s %s: jvp differs from the central difference by %.3g", tc->kind, tc->args, e);

    /* jvp is the adjoint of backward: <r, J t> = <J^T r, t> */
    L->ops->backward(L, x, y, r, dx, B);
    double lhs = dot(r, ty1, B * nout), rhs = dot(dx, t, B * nin);
    CHECK(fabs(lhs - rhs) <= 1e-12 * (1 + fabs(lhs)), "%s %s: <r,Jt> = %.17g but <J^T r,t> = %.17g", tc->kind,
          tc->args, lhs, rhs);

    /* K tangents at once equal K single ones */
    fill_normal(t, K * B * nin);
    L->ops->jvp(L, t, ty, B, K);
    double worst = 0;
    for (int k = 0; k < K; k++) {
        L->ops->jvp(L, t + k * B * nin, ty1, B, 1);
        e = max_rel_diff(ty + k * B * nout, ty1, B * nout);
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-13, "%s %s: jvp with K=%d differs from K=1 by %.3g", tc->kind, tc->args, K, worst);

    cn_layer_free(L);
    free(p), free(g), free(g1), free(x), free(y), free(yr), free(r), free(dx), free(t), free(ty), free(ty1);
    free(yp), free(ym), free(xp), free(f.yb), free(f.yref), free(f.pat_p), free(f.pat_m);
}

/* ---------------------------------------------------------------- semantics PyTorch pins down */

static void check_pool_details(void)
{
    cn_error err = {0};
    cn_layer *L;
    cn_real x[16], y[9], dy[9], dx[16];

    /* a tie goes to the first maximum in the window, and a NaN propagates */
    CHECK_OK(create(&L, "maxpool", (cn_shape){1, 4, 4}, "k=2", &err));
    CHECK_OK(L->ops->reserve(L, 1, 1));
    for (int i = 0; i < 16; i++) x[i] = 1;
    x[10] = NAN;
    L->ops->forward(L, x, y, 1, 0);
    for (int i = 0; i < 4; i++) dy[i] = 1;
    L->ops->backward(L, x, y, dy, dx, 1);
    CHECK(dx[0] == 1 && dx[1] == 0 && dx[4] == 0 && dx[5] == 0, "tie: dx %g %g %g %g", dx[0], dx[1], dx[4], dx[5]);
    CHECK(dx[2] == 1 && dx[8] == 1 && dx[10] == 1 && dx[11] == 0, "tie or NaN routed wrong");
    CHECK(isnan(y[3]) && y[0] == 1, "NaN did not propagate: %g", y[3]);
    cn_layer_free(L);

    /* count_include_pad: the corner window of a 3x3 input padded by 1 averages 4 ones over 9 */
    CHECK_OK(create(&L, "avgpool", (cn_shape){1, 3, 3}, "k=3 stride=1 pad=1", &err));
    CHECK(L->out.h == 3 && L->out.w == 3, "avgpool out %dx%d", L->out.h, L->out.w);
    for (int i = 0; i < 9; i++) x[i] = 1;
    L->ops->forward(L, x, y, 1, 0);
    CHECK(fabs(y[0] - 4.0 / 9) < 1e-15 && fabs(y[1] - 6.0 / 9) < 1e-15 && y[4] == 1, "avgpool %g %g %g", y[0], y[1],
          y[4]);
    cn_layer_free(L);

    /* shapes: torch floor mode */
    CHECK_OK(create(&L, "maxpool", (cn_shape){8, 28, 28}, "k=3 stride=2 pad=1", &err));
    CHECK(L->out.c == 8 && L->out.h == 14 && L->out.w == 14, "maxpool out %dx%dx%d", L->out.c, L->out.h, L->out.w);
    cn_layer_free(L);
    CHECK_OK(create(&L, "conv", (cn_shape){1, 28, 28}, "out=32 k=5 stride=2 pad=2 dilation=1", &err));
    CHECK(L->out.c == 32 && L->out.h == 14 && L->out.w == 14, "conv out %dx%dx%d", L->out.c, L->out.h, L->out.w);
    CHECK(L->nparams == 32 * 25 + 32, "conv nparams %zu", L->nparams);
    cn_layer_free(L);
    CHECK_OK(create(&L, "conv", (cn_shape){4, 28, 28}, "out=8 k=3 dilation=3 groups=2 bias=0", &err));
    CHECK(L->out.h == 22 && L->out.w == 22 && L->nparams == 8 * 2 * 9, "conv out %dx%d, %zu params", L->out.h,
          L->out.w, L->nparams);
    cn_layer_free(L);
    CHECK_OK(create(&L, "flatten", (cn_shape){3, 4, 5}, "", &err));
    CHECK(L->out.c == 60 && L->out.h == 1 && L->out.w == 1 && L->nparams == 0, "flatten out");
    cn_layer_free(L);
    CHECK_OK(create(&L, "gap", (cn_shape){7, 4, 5}, "", &err));
    CHECK(L->out.c == 7 && L->out.h == 1 && L->out.w == 1 && L->nparams == 0, "gap out");
    cn_layer_free(L);
}

static void check_bad_args(void)
{
    static const struct {
        const char *kind;
        cn_shape in;
        const char *args;
    } bad[] = {
        {"conv", {3, 8, 8}, "k=3"},           {"conv", {3, 8, 8}, "out=0"},
        {"conv", {3, 8, 8}, "out=4 k=0"},     {"conv", {3, 8, 8}, "out=4 stride=0"},
        {"conv", {3, 8, 8}, "out=4 pad=-1"},  {"conv", {3, 8, 8}, "out=4 dilation=0"},
        {"conv", {3, 8, 8}, "out=4 groups=2"}, {"conv", {4, 8, 8}, "out=3 groups=2"},
        {"conv", {4, 8, 8}, "out=4 groups=0"}, {"conv", {3, 8, 8}, "out=4 k=9"},
        {"conv", {3, 8, 8}, "out=4 dilation=4"}, {"conv", {16, 1, 1}, "out=4"},
        {"conv", {3, 8, 8}, "out=4 act=nope"}, {"conv", {3, 8, 8}, "out=four"},
        {"maxpool", {3, 8, 8}, "k=2 pad=2"},  {"maxpool", {3, 8, 8}, "k=9"},
        {"maxpool", {3, 8, 8}, "stride=0"},   {"maxpool", {3, 8, 8}, "k=0"},
        {"avgpool", {3, 8, 8}, "pad=-1"},     {"avgpool", {16, 1, 1}, "k=2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_error err = {0};
        cn_layer *L = NULL;
        int rc = create(&L, bad[i].kind, bad[i].in, bad[i].args, &err);
        CHECK(rc == CN_ERR_FORMAT && err.status == CN_ERR_FORMAT && err.msg[0], "%s %s: rc %d (%s)", bad[i].kind,
              bad[i].args, rc, err.msg);
        if (rc == CN_OK) cn_layer_free(L);
    }
}

int main(void)
{
    rng = cn_rng_new(20240601);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
    check_pool_details();
    check_bad_args();
    cn_rng_free(rng);
    return check_summary("conv_pool");
}
