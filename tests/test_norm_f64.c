/* test_norm_f64.c: batchnorm, layernorm, dropout and the activation layer in double: backward (inputs and
 * parameters) and whole-batch jvp against central differences, running statistics, printing, bad args, OOM. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_hook.h"
#include "check.h"
#include "layers/dropout.h"
#include "layers/layer.h"

#define FD_H 1e-6
#define TOL 1e-6
#define K_TAN 2

static cn_rng *g_rng; /* test data */

static void fill_normal(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = cn_rng_normal(g_rng);
}

/* args from NULL-terminated key, value pairs */
static void set_args(cn_args *a, va_list ap)
{
    memset(a, 0, sizeof *a);
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        snprintf(a->key[a->count], sizeof a->key[0], "%s", k);
        snprintf(a->val[a->count], sizeof a->val[0], "%s", va_arg(ap, const char *));
        a->count++;
    }
}

static int create(cn_layer **L, cn_layer_ctor ctor, cn_shape in, cn_error *err, ...)
{
    cn_args a;
    va_list ap;
    va_start(ap, err);
    set_args(&a, ap);
    va_end(ap);
    return ctor(L, &a, in, err);
}

/* the net's job done by hand: the layer's slices of the flat buffers, initialised by the layer */
static void attach(cn_layer *L)
{
    L->p = calloc(L->nparams + 1, sizeof(double));
    L->g = calloc(L->nparams + 1, sizeof(double));
    L->s = calloc(L->nstate + 1, sizeof(double));
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1};
    CHECK_OK(L->ops->init(L, &init, g_rng));
}

static void release(cn_layer *L)
{
    free(L->p);
    free(L->g);
    free(L->s);
    cn_layer_free(L);
}

/* dropout draws its mask from the rng: a fresh rng of one seed before each forward fixes the mask, so
 * that central differences see one smooth function */
static cn_rng *g_drop_rng;
static void fix_mask(cn_layer *L)
{
    cn_rng_free(g_drop_rng);
    g_drop_rng = cn_rng_new(1234);
    cn_dropout_set_rng(L, g_drop_rng);
}

typedef void (*prep_fn)(cn_layer *L);

static void fwd(cn_layer *L, prep_fn prep, const double *x, double *y, int B, int train)
{
    if (prep) prep(L);
    L->ops->forward(L, x, y, B, train);
}

static double loss(cn_layer *L, prep_fn prep, const double *x, double *y, const double *r, int B, int train)
{
    size_t n = (size_t)B * cn_shape_size(L->out);
    fwd(L, prep, x, y, B, train);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += y[i] * r[i];
    return s;
}

static double rel_err(double a, double b)
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) / (m > 1 ? m : 1);
}

/* Checks dx, dparams (of sum(y*r)) and jvp of the layer at x (B,n) against central differences. */
static void grad_check(const char *name, cn_layer *L, prep_fn prep, double *x, int B, int train)
{
    const size_t nin = (size_t)B * cn_shape_size(L->in), nout = (size_t)B * cn_shape_size(L->out);
    const size_t np = L->nparams;
    double *y = malloc(nout * sizeof *y), *r = malloc(nout * sizeof *r), *dx = malloc(nin * sizeof *dx);
    double *g = malloc((np + 1) * sizeof *g), *tx = malloc(K_TAN * nin * sizeof *tx);
    double *ty = malloc(K_TAN * nout * sizeof *ty), *yp = malloc(nout * sizeof *yp), *ym = malloc(nout * sizeof *ym);
    fill_normal(r, nout);
    fill_normal(tx, K_TAN * nin);
    /* exercise the growing path of reserve before the real size */
    CHECK_OK(L->ops->reserve(L, 1, 1));
    CHECK_OK(L->ops->reserve(L, B, K_TAN));

    /* analytic: gradients accumulate onto what is there, and a second pass without dx adds again */
    for (size_t j = 0; j < np; j++) L->g[j] = 0.25;
    fwd(L, prep, x, y, B, train);
    L->ops->backward(L, x, y, r, dx, B);
    for (size_t j = 0; j < np; j++) g[j] = L->g[j] - 0.25;
    L->ops->backward(L, x, y, r, NULL, B);
    double acc = 0;
    for (size_t j = 0; j < np; j++) acc = fmax(acc, rel_err(L->g[j] - 0.25, 2 * g[j]));
    CHECK(acc < 1e-12, "%s train=%d: second backward does not accumulate (%g)", name, train, acc);
    L->ops->jvp(L, tx, ty, B, K_TAN);

    double e = 0;
    for (size_t i = 0; i < nin; i++) {
        double x0 = x[i];
        x[i] = x0 + FD_H;
        double lp = loss(L, prep, x, y, r, B, train);
        x[i] = x0 - FD_H;
        double lm = loss(L, prep, x, y, r, B, train);
        x[i] = x0;
        e = fmax(e, rel_err(dx[i], (lp - lm) / (2 * FD_H)));
    }
    CHECK(e < TOL, "%s train=%d: dx max rel err %g", name, train, e);

    e = 0;
    for (size_t j = 0; j < np; j++) {
        double p0 = L->p[j];
        L->p[j] = p0 + FD_H;
        double lp = loss(L, prep, x, y, r, B, train);
        L->p[j] = p0 - FD_H;
        double lm = loss(L, prep, x, y, r, B, train);
        L->p[j] = p0;
        e = fmax(e, rel_err(g[j], (lp - lm) / (2 * FD_H)));
    }
    CHECK(e < TOL, "%s train=%d: dparams max rel err %g", name, train, e);

    /* jvp: tangent k moves the whole batch at once */
    e = 0;
    double *xs = malloc(nin * sizeof *xs);
    for (int k = 0; k < K_TAN; k++) {
        for (size_t i = 0; i < nin; i++) xs[i] = x[i] + FD_H * tx[k * nin + i];
        fwd(L, prep, xs, yp, B, train);
        for (size_t i = 0; i < nin; i++) xs[i] = x[i] - FD_H * tx[k * nin + i];
        fwd(L, prep, xs, ym, B, train);
        for (size_t i = 0; i < nout; i++) e = fmax(e, rel_err(ty[k * nout + i], (yp[i] - ym[i]) / (2 * FD_H)));
    }
    CHECK(e < TOL, "%s train=%d: jvp max rel err %g", name, train, e);

    /* jvp in place (ty == tx), as a net may run it, gives the same (nin == nout for these layers) */
    fwd(L, prep, x, y, B, train);
    double *txk = malloc(K_TAN * nin * sizeof *txk);
    memcpy(txk, tx, K_TAN * nin * sizeof *txk);
    L->ops->jvp(L, txk, txk, B, K_TAN);
    e = 0;
    for (size_t i = 0; i < K_TAN * nout; i++) e = fmax(e, fabs(txk[i] - ty[i]));
    CHECK(e < 1e-14, "%s train=%d: in-place jvp differs by %g", name, train, e);

    free(txk);
    free(xs);
    free(y), free(r), free(dx), free(g), free(tx), free(ty), free(yp), free(ym);
}

static void randomize_params(cn_layer *L)
{
    fill_normal(L->p, L->nparams);
    for (size_t j = 0; j < L->nparams / 2; j++) L->p[j] = 0.5 + 0.5 * fabs(L->p[j]); /* gamma away from 0 */
}

static void test_batchnorm_grads(void)
{
    const cn_shape shapes[2] = {{3, 4, 4}, {5, 1, 1}};
    const int batches[2] = {3, 6};
    const char *acts[3] = {"identity", "tanh", "gelu"};
    for (int s = 0; s < 2; s++)
        for (int a = 0; a < 3; a++) {
            cn_layer *L;
            char name[64];
            snprintf(name, sizeof name, "batchnorm (%d,%d,%d) act=%s", shapes[s].c, shapes[s].h, shapes[s].w,
                     acts[a]);
            CHECK_OK(create(&L, cn_batchnorm_create, shapes[s], NULL, "act", acts[a], NULL));
            attach(L);
            randomize_params(L);
            const int B = batches[s], C = shapes[s].c;
            const size_t n = (size_t)B * cn_shape_size(shapes[s]);
            double *x = malloc(n * sizeof *x);
            fill_normal(x, n);
            for (size_t i = 0; i < n; i++) x[i] = 2 * x[i] + 1; /* statistics far from (0,1) */
            grad_check(name, L, NULL, x, B, 1);
            for (int c = 0; c < C; c++) {
                L->s[c] = cn_rng_normal(g_rng);
                L->s[C + c] = 0.5 + cn_rng_uniform(g_rng);
            }
            grad_check(name, L, NULL, x, B, 0);
            free(x);
            release(L);
        }
}

/* running statistics and outputs against a computation by hand, momentum given and default */
static void test_batchnorm_stats(void)
{
    const cn_shape shapes[2] = {{3, 4, 4}, {5, 1, 1}};
    const int batches[2] = {3, 4};
    for (int s = 0; s < 2; s++)
        for (int mm = 0; mm < 2; mm++) {
            cn_layer *L;
            const double mom = mm ? 0.3 : 0.1;
            if (mm) CHECK_OK(create(&L, cn_batchnorm_create, shapes[s], NULL, "momentum", "0.3", NULL));
            else CHECK_OK(create(&L, cn_batchnorm_create, shapes[s], NULL, NULL));
            attach(L);
            const int B = batches[s], C = shapes[s].c, HW = shapes[s].h * shapes[s].w;
            const size_t n = (size_t)B * C * HW, m = (size_t)B * HW;
            CHECK(L->nparams == 2 * (size_t)C && L->nstate == 2 * (size_t)C, "sizes %zu %zu", L->nparams, L->nstate);
            int init_ok = 1;
            for (int c = 0; c < C; c++)
                init_ok &= L->p[c] == 1 && L->p[C + c] == 0 && L->s[c] == 0 && L->s[C + c] == 1;
            CHECK(init_ok, "batchnorm init is not gamma=1 beta=0 mean=0 var=1");
            randomize_params(L);
            CHECK_OK(L->ops->reserve(L, B, 1));
            double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            double rm[8], rv[8];
            for (int c = 0; c < C; c++) rm[c] = 0, rv[c] = 1;
            double e_out = 0, e_stat = 0;
            for (int step = 0; step < 3; step++) {
                fill_normal(x, n);
                for (size_t i = 0; i < n; i++) x[i] = 3 * x[i] - 2;
                L->ops->forward(L, x, y, B, 1);
                for (int c = 0; c < C; c++) {
                    double mean = 0, var = 0;
                    for (int b = 0; b < B; b++)
                        for (int i = 0; i < HW; i++) mean += x[((size_t)b * C + c) * HW + i];
                    mean /= m;
                    for (int b = 0; b < B; b++)
                        for (int i = 0; i < HW; i++) {
                            double u = x[((size_t)b * C + c) * HW + i] - mean;
                            var += u * u;
                        }
                    var /= m;
                    for (int b = 0; b < B; b++)
                        for (int i = 0; i < HW; i++) {
                            size_t o = ((size_t)b * C + c) * HW + i;
                            double want = L->p[c] * (x[o] - mean) / sqrt(var + 1e-5) + L->p[C + c];
                            e_out = fmax(e_out, fabs(y[o] - want));
                        }
                    rm[c] = (1 - mom) * rm[c] + mom * mean;
                    rv[c] = (1 - mom) * rv[c] + mom * var * m / (m - 1);
                    e_stat = fmax(e_stat, fmax(fabs(L->s[c] - rm[c]), fabs(L->s[C + c] - rv[c])));
                }
            }
            CHECK(e_out < 1e-12, "batchnorm train output err %g", e_out);
            CHECK(e_stat < 1e-12, "batchnorm running stats err %g (momentum %g)", e_stat, mom);
            /* eval uses the running statistics and leaves them alone (bit for bit: compared with a copy) */
            double kept[16];
            for (int c = 0; c < 2 * C; c++) kept[c] = L->s[c];
            fill_normal(x, n);
            L->ops->forward(L, x, y, B, 0);
            double e_eval = 0, e_keep = 0;
            for (int c = 0; c < C; c++) {
                e_keep = fmax(e_keep, fmax(fabs(L->s[c] - kept[c]), fabs(L->s[C + c] - kept[C + c])));
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < HW; i++) {
                        size_t o = ((size_t)b * C + c) * HW + i;
                        double want = L->p[c] * (x[o] - rm[c]) / sqrt(rv[c] + 1e-5) + L->p[C + c];
                        e_eval = fmax(e_eval, fabs(y[o] - want));
                    }
            }
            CHECK(e_eval < 1e-12, "batchnorm eval output err %g", e_eval);
            CHECK(e_keep == 0, "batchnorm eval changed the running stats");
            free(x);
            free(y);
            release(L);
        }

    /* a single value per channel: torch refuses it in training; we keep the running variance and stay finite */
    cn_layer *L;
    CHECK_OK(create(&L, cn_batchnorm_create, (cn_shape){2, 1, 1}, NULL, NULL));
    attach(L);
    CHECK_OK(L->ops->reserve(L, 1, 1));
    double x[2] = {3, -1}, y[2];
    L->ops->forward(L, x, y, 1, 1);
    CHECK(y[0] == 0 && y[1] == 0 && L->s[2] == 1 && L->s[3] == 1, "B=1 train: y %g %g var %g", y[0], y[1], L->s[2]);
    CHECK(fabs(L->s[0] - 0.3) < 1e-15 && fabs(L->s[1] + 0.1) < 1e-15, "B=1 train: mean %g %g", L->s[0], L->s[1]);
    release(L);
}

static void test_layernorm(void)
{
    const cn_shape shapes[2] = {{3, 4, 4}, {7, 1, 1}};
    const char *acts[3] = {"identity", "silu", "elu"};
    for (int s = 0; s < 2; s++)
        for (int a = 0; a < 3; a++) {
            cn_layer *L;
            char name[64];
            snprintf(name, sizeof name, "layernorm (%d,%d,%d) act=%s", shapes[s].c, shapes[s].h, shapes[s].w,
                     acts[a]);
            CHECK_OK(create(&L, cn_layernorm_create, shapes[s], NULL, "act", acts[a], NULL));
            attach(L);
            const int nf = cn_shape_size(shapes[s]), B = 3;
            CHECK(L->nparams == 2 * (size_t)nf && L->nstate == 0, "layernorm sizes");
            int init_ok = 1;
            for (int j = 0; j < nf; j++) init_ok &= L->p[j] == 1 && L->p[nf + j] == 0;
            CHECK(init_ok, "layernorm init is not gamma=1 beta=0");
            randomize_params(L);
            double *x = malloc((size_t)B * nf * sizeof *x), *y = malloc((size_t)B * nf * sizeof *y);
            fill_normal(x, (size_t)B * nf);
            for (int i = 0; i < B * nf; i++) x[i] = 2 * x[i] + 0.5;
            grad_check(name, L, NULL, x, B, 1);
            grad_check(name, L, NULL, x, B, 0);
            /* the forward by hand, per example */
            L->ops->forward(L, x, y, B, 1);
            double e = 0;
            for (int b = 0; b < B; b++) {
                const double *xr = x + (size_t)b * nf;
                double mean = 0, var = 0;
                for (int j = 0; j < nf; j++) mean += xr[j];
                mean /= nf;
                for (int j = 0; j < nf; j++) var += (xr[j] - mean) * (xr[j] - mean);
                var /= nf;
                for (int j = 0; j < nf; j++) {
                    double z = L->p[j] * (xr[j] - mean) / sqrt(var + 1e-5) + L->p[nf + j];
                    e = fmax(e, fabs(y[(size_t)b * nf + j] - cn_act_value(L->act, z)));
                }
            }
            CHECK(e < 1e-12, "%s: forward err %g", name, e);
            free(x);
            free(y);
            release(L);
        }
}

static void test_act_layer(void)
{
    const cn_shape in = {2, 3, 3};
    const int B = 4, nf = cn_shape_size(in);
    for (int a = 0; a < CN_ACT_COUNT; a++) {
        cn_layer *L;
        CHECK_OK(create(&L, cn_act_layer_create, in, NULL, "fn", cn_act_name((cn_act)a), NULL));
        attach(L);
        CHECK(L->act == (cn_act)a && L->nparams == 0 && L->nstate == 0, "act layer fields");
        double *x = malloc((size_t)B * nf * sizeof *x), *y = malloc((size_t)B * nf * sizeof *y);
        fill_normal(x, (size_t)B * nf);
        /* keep away from the kinks of relu, leaky_relu and elu at 0 */
        for (int i = 0; i < B * nf; i++) x[i] += x[i] >= 0 ? 0.05 : -0.05;
        char name[64];
        snprintf(name, sizeof name, "act fn=%s", cn_act_name((cn_act)a));
        grad_check(name, L, NULL, x, B, 1);
        /* the forward copies its input: overwriting x afterwards must not change backward */
        CHECK_OK(L->ops->reserve(L, B, 1));
        L->ops->forward(L, x, y, B, 0);
        double e = 0;
        for (int i = 0; i < B * nf; i++) e = fmax(e, fabs(y[i] - cn_act_value((cn_act)a, x[i])));
        CHECK(e == 0, "%s: forward differs from cn_act_value by %g", name, e);
        double *dy = malloc(nf * sizeof *dy), *dx = malloc(nf * sizeof *dx); /* one example */
        for (int i = 0; i < nf; i++) dy[i] = 1;
        const double x0 = x[0];
        x[0] = 1e3;
        L->ops->backward(L, x, y, dy, dx, 1);
        CHECK(dx[0] == cn_act_deriv((cn_act)a, x0), "%s: backward read x instead of its copy", name);
        free(dy);
        free(dx);
        free(x);
        free(y);
        release(L);
    }
}

static void test_dropout(void)
{
    const cn_shape in = {3, 2, 2};
    const int B = 5, nf = cn_shape_size(in);
    const size_t n = (size_t)B * nf;
    cn_layer *L;
    CHECK_OK(create(&L, cn_dropout_create, in, NULL, NULL));
    attach(L);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *dy = malloc(n * sizeof *dy);
    double *dx = malloc(n * sizeof *dx), *t = malloc(2 * n * sizeof *t), *ty = malloc(2 * n * sizeof *ty);
    fill_normal(x, n);
    fill_normal(dy, n);
    fill_normal(t, 2 * n);

    /* with a fixed mask the train-mode layer is linear: differences, backward and jvp agree */
    grad_check("dropout p=0.5", L, fix_mask, x, B, 1);
    fix_mask(L);
    L->ops->forward(L, x, y, B, 1);
    L->ops->backward(L, x, y, dy, dx, B);
    L->ops->jvp(L, t, ty, B, 2);
    int ok = 1, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        int kept = y[i] != 0;
        dropped += !kept;
        ok &= kept ? y[i] == 2 * x[i] && dx[i] == 2 * dy[i] && ty[i] == 2 * t[i] && ty[n + i] == 2 * t[n + i]
                   : dx[i] == 0 && ty[i] == 0 && ty[n + i] == 0;
    }
    CHECK(ok, "dropout: forward, backward and jvp do not share one mask scaled by 2");
    CHECK(dropped > 0 && dropped < (int)n, "dropout: dropped %d of %zu", dropped, n);

    /* eval mode, and train mode without an rng, are the identity */
    for (int mode = 0; mode < 2; mode++) {
        if (mode) cn_dropout_set_rng(L, NULL);
        L->ops->forward(L, x, y, B, mode);
        L->ops->backward(L, x, y, dy, dx, B);
        L->ops->jvp(L, t, ty, B, 2);
        CHECK(!memcmp(x, y, n * sizeof *x) && !memcmp(dy, dx, n * sizeof *dx) && !memcmp(t, ty, 2 * n * sizeof *t),
              "dropout: %s is not the identity", mode ? "train without rng" : "eval");
    }
    char buf[64];
    L->ops->print(L, buf, sizeof buf);
    CHECK(!strcmp(buf, "dropout p=0.5"), "print: %s", buf);
    release(L);

    /* p = 0 is the identity even in train mode */
    CHECK_OK(create(&L, cn_dropout_create, in, NULL, "p", "0", NULL));
    attach(L);
    CHECK_OK(L->ops->reserve(L, B, 1));
    fix_mask(L);
    L->ops->forward(L, x, y, B, 1);
    CHECK(!memcmp(x, y, n * sizeof *x), "dropout p=0 train is not the identity");
    release(L);

    /* inverted scaling keeps the mean: over 1e5 ones, mean(y) = 1 and the dropped share = p within 4 sigma */
    const int bigB = 100, bign = 1000;
    const double p = 0.3;
    CHECK_OK(create(&L, cn_dropout_create, (cn_shape){bign, 1, 1}, NULL, "p", "0.3", NULL));
    attach(L);
    CHECK_OK(L->ops->reserve(L, bigB, 1));
    fix_mask(L);
    double *ones = malloc((size_t)bigB * bign * sizeof *ones), *out = malloc((size_t)bigB * bign * sizeof *out);
    for (int i = 0; i < bigB * bign; i++) ones[i] = 1;
    L->ops->forward(L, ones, out, bigB, 1);
    double mean = 0, share = 0, N = (double)bigB * bign;
    for (int i = 0; i < bigB * bign; i++) mean += out[i], share += out[i] == 0;
    mean /= N;
    share /= N;
    const double sd_share = sqrt(p * (1 - p) / N), sd_mean = sd_share / (1 - p);
    CHECK(fabs(mean - 1) < 4 * sd_mean, "dropout mean %g", mean);
    CHECK(fabs(share - p) < 4 * sd_share, "dropout share %g", share);
    L->ops->print(L, buf, sizeof buf);
    CHECK(!strcmp(buf, "dropout p=0.3"), "print: %s", buf);
    free(ones);
    free(out);
    release(L);

    free(x), free(y), free(dy), free(dx), free(t), free(ty);
}

static void test_print_and_args(void)
{
    const cn_shape in = {3, 4, 4};
    struct {
        cn_layer_ctor ctor;
        const char *k1, *v1, *k2, *v2, *want;
    } cases[] = {
        {cn_batchnorm_create, NULL, NULL, NULL, NULL, "batchnorm"},
        {cn_batchnorm_create, "act", "relu", NULL, NULL, "batchnorm act=relu"},
        {cn_batchnorm_create, "momentum", "0.01", "eps", "0.001", "batchnorm eps=0.001 momentum=0.01"},
        {cn_batchnorm_create, "act", "identity", "eps", "1e-5", "batchnorm"},
        {cn_layernorm_create, NULL, NULL, NULL, NULL, "layernorm"},
        {cn_layernorm_create, "act", "tanh", NULL, NULL, "layernorm act=tanh"},
        {cn_act_layer_create, "fn", "relu", NULL, NULL, "act fn=relu"},
        {cn_act_layer_create, "fn", "gelu", NULL, NULL, "act fn=gelu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_layer *L = NULL;
        cn_error err = {0};
        CHECK_OK(create(&L, cases[i].ctor, in, &err, cases[i].k1, cases[i].v1, cases[i].k2, cases[i].v2, NULL));
        if (!L) continue;
        char buf[128];
        int len = L->ops->print(L, buf, sizeof buf);
        CHECK(!strcmp(buf, cases[i].want) && len == (int)strlen(buf), "print '%s', want '%s'", buf, cases[i].want);
        CHECK(L->in.c == in.c && L->out.c == in.c && L->out.h == in.h && L->out.w == in.w && !L->ops->bind,
              "%s: shapes or bind", cases[i].want);
        cn_layer_free(L);
    }

    struct {
        cn_layer_ctor ctor;
        const char *k, *v;
    } bad[] = {
        {cn_dropout_create, "p", "1"},        {cn_dropout_create, "p", "-0.1"},
        {cn_dropout_create, "p", "nan"},      {cn_dropout_create, "p", "half"},
        {cn_act_layer_create, NULL, NULL},    {cn_act_layer_create, "fn", "swish"},
        {cn_batchnorm_create, "eps", "0"},    {cn_batchnorm_create, "momentum", "1.5"},
        {cn_layernorm_create, "eps", "-1"},   {cn_layernorm_create, "act", "bogus"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_layer *L = NULL;
        cn_error err = {0};
        int rc = create(&L, bad[i].ctor, in, &err, bad[i].k, bad[i].v, NULL);
        CHECK(rc == CN_ERR_FORMAT && err.status == CN_ERR_FORMAT && err.msg[0] && !L, "bad %s=%s: rc %d",
              bad[i].k ? bad[i].k : "(none)", bad[i].v ? bad[i].v : "", rc);
        if (L) cn_layer_free(L);
    }
}

static void test_oom(void)
{
    const cn_layer_ctor ctors[4] = {cn_batchnorm_create, cn_layernorm_create, cn_dropout_create, cn_act_layer_create};
    const char *keys[4] = {"act", "act", "p", "fn"}, *vals[4] = {"relu", "tanh", "0.2", "silu"};
    for (int c = 0; c < 4; c++) {
        int done = 0;
        for (long fail = 1; fail <= 20 && !done; fail++) {
            hook_install(fail);
            cn_layer *L = NULL;
            int rc = create(&L, ctors[c], (cn_shape){2, 3, 3}, NULL, keys[c], vals[c], NULL);
            if (rc == CN_OK) {
                rc = L->ops->reserve(L, 4, 2);
                if (rc == CN_OK) rc = L->ops->reserve(L, 8, 2);
                if (rc == CN_OK) done = 1;
                cn_layer_free(L);
            }
            cn_set_allocator(NULL);
            CHECK(done || rc == CN_ERR_NOMEM, "%s: allocation %ld failing gave rc %d", keys[c], fail, rc);
            CHECK(g_stats.live == 0, "%s: allocation %ld failing leaked %ld blocks", keys[c], fail, g_stats.live);
        }
        CHECK(done, "ctor %d never succeeded", c);
    }
}

int main(void)
{
    g_rng = cn_rng_new(7);
    test_batchnorm_grads();
    test_batchnorm_stats();
    test_layernorm();
    test_act_layer();
    test_dropout();
    test_print_and_args();
    test_oom();
    cn_rng_free(g_drop_rng);
    cn_rng_free(g_rng);
    return check_summary("norm");
}
