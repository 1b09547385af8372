/* test_robustness.c: accuracy under noise, FGSM and PGD on a small MLP trained here on separable clusters in
 * [0,1]^8: size 0 gives the clean accuracy exactly; FGSM accuracy falls with eps and PGD is no weaker than
 * FGSM; the FGSM step of a linear model equals eps sign(W^T (p - onehot)) worked out by hand; PGD stays in
 * the eps-ball and the data range; the parameters are bit-identical afterwards; bad arguments are refused;
 * and every allocation failing in turn gives CN_ERR_NOMEM without a leak. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"

#define DIM 8
#define CLASSES 3

/* Three clusters with centres in [0.2, 0.8]^8 and spread 0.06, clamped to [0, 1]. */
static void make_data(cn_data *d, int ntrain, int ntest, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    cn_rng *r = cn_rng_new(seed);
    double mu[CLASSES][DIM];
    for (int c = 0; c < CLASSES; c++)
        for (int j = 0; j < DIM; j++) mu[c][j] = 0.2 + 0.6 * cn_rng_uniform(r);
    cn_dataset *sets[2] = {&d->train, &d->test};
    int counts[2] = {ntrain, ntest};
    for (int s = 0; s < 2; s++) {
        cn_dataset *ds = sets[s];
        ds->count = counts[s];
        ds->c = DIM;
        ds->h = ds->w = 1;
        ds->classes = CLASSES;
        ds->x = cn_malloc((size_t)counts[s] * DIM * sizeof *ds->x);
        ds->y = cn_malloc((size_t)counts[s] * sizeof *ds->y);
        for (int i = 0; i < counts[s]; i++) {
            int y = (int)cn_rng_below(r, CLASSES);
            ds->y[i] = y;
            for (int j = 0; j < DIM; j++) {
                double v = mu[y][j] + 0.06 * cn_rng_normal(r);
                ds->x[(size_t)i * DIM + j] = (cn_real)(v < 0 ? 0 : v > 1 ? 1 : v);
            }
        }
    }
    snprintf(d->name, sizeof d->name, "clusters01");
    cn_rng_free(r);
}

static cn_net *make_net(const char *spec, uint64_t seed)
{
    cn_net *net = NULL;
    cn_error err = {0};
    int rc = cn_net_from_spec(&net, spec, &err);
    CHECK(rc == CN_OK, "spec: %s", err.msg);
    if (rc) return NULL;
    cn_rng *r = cn_rng_new(seed);
    cn_init init = {.kind = CN_INIT_TORCH};
    CHECK_OK(cn_net_init(net, &init, r));
    cn_rng_free(r);
    return net;
}

static void train(cn_net *net, const cn_data *data, int epochs)
{
    cn_optim_cfg oc = {.kind = CN_OPT_SGD, .lr = 0.1, .momentum = 0.9};
    cn_train_cfg cfg = {.epochs = epochs, .batch = 16, .seed = 1, .loss = CN_LOSS_CROSS_ENTROPY, .optim = oc};
    cn_optim *opt;
    CHECK_OK(cn_optim_new(&opt, &oc, cn_net_param_count(net)));
    cn_rng *rng = cn_rng_new(2);
    cn_train_result res;
    cn_error err = {0};
    int rc = cn_train(net, data, &cfg, opt, rng, 0, &res, &err);
    CHECK(rc == CN_OK, "train: %d %s", rc, err.msg);
    cn_optim_free(opt);
    cn_rng_free(rng);
}

static int all_zero(const cn_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0) return 0;
    return 1;
}

/* On the trained MLP: exact clean accuracy at size 0, the shape of the curves, untouched parameters. */
static void test_trained(void)
{
    cn_data data;
    make_data(&data, 600, 400, 7);
    cn_net *net = make_net("input 8\ndense out=16 act=tanh\ndense out=3\n", 3);
    if (!net) return;
    train(net, &data, 6);
    const cn_dataset *d = &data.test;
    cn_error err = {0};
    cn_robust_cfg cfg;
    cn_robust_defaults(&cfg);
    cfg.seed = 5;
    double loss, clean, acc;
    CHECK_OK(cn_evaluate(net, d, CN_LOSS_CROSS_ENTROPY, cfg.batch, 0, &loss, &clean, &err));
    CHECK(clean > 0.9, "the trained net should separate the clusters: clean accuracy %.3f", clean);

    size_t np = cn_net_param_count(net), ns = cn_net_state_count(net);
    cn_real *p0 = malloc(np * sizeof *p0), *s0 = malloc((ns ? ns : 1) * sizeof *s0);
    memcpy(p0, cn_net_params(net), np * sizeof *p0);
    memcpy(s0, cn_net_state(net), ns * sizeof *s0);

    CHECK_OK(cn_robustness_noise(net, d, 0, 0, &cfg, &acc, &err));
    CHECK(acc == clean, "noise 0: %.6f, clean %.6f", acc, clean);
    CHECK_OK(cn_attack_fgsm(net, d, 0, 0, &cfg, &acc, &err));
    CHECK(acc == clean, "FGSM eps 0: %.6f, clean %.6f", acc, clean);
    CHECK_OK(cn_attack_pgd(net, d, 0, 0, &cfg, &acc, &err));
    CHECK(acc == clean, "PGD eps 0: %.6f, clean %.6f", acc, clean);
    cfg.clip = 0;
    CHECK_OK(cn_attack_pgd(net, d, 0, 0, &cfg, &acc, &err));
    CHECK(acc == clean, "PGD eps 0 without clipping: %.6f, clean %.6f", acc, clean);
    cfg.clip = 1;

    static const double eps[] = {0, 0.02, 0.05, 0.1, 0.2, 0.3};
    int ne = (int)(sizeof eps / sizeof *eps);
    double fgsm[6], pgd[6], noise[6];
    for (int i = 0; i < ne; i++) {
        CHECK_OK(cn_attack_fgsm(net, d, 0, eps[i], &cfg, &fgsm[i], &err));
        CHECK_OK(cn_attack_pgd(net, d, 0, eps[i], &cfg, &pgd[i], &err));
        CHECK_OK(cn_robustness_noise(net, d, 0, eps[i], &cfg, &noise[i], &err));
        printf("  eps %.2f: noise %.4f  fgsm %.4f  pgd %.4f\n", eps[i], noise[i], fgsm[i], pgd[i]);
    }
    for (int i = 1; i < ne; i++) {
        CHECK(fgsm[i] <= fgsm[i - 1] + 0.01, "FGSM accuracy rises from %.4f (eps %g) to %.4f (eps %g)", fgsm[i - 1],
              eps[i - 1], fgsm[i], eps[i]);
        CHECK(pgd[i] <= pgd[i - 1] + 1e-12, "PGD accuracy rises from %.4f (eps %g) to %.4f (eps %g)", pgd[i - 1],
              eps[i - 1], pgd[i], eps[i]);
        CHECK(pgd[i] <= fgsm[i] + 0.01, "eps %g: PGD %.4f weaker than FGSM %.4f", eps[i], pgd[i], fgsm[i]);
        CHECK(pgd[i] <= clean, "eps %g: PGD %.4f above clean %.4f", eps[i], pgd[i], clean);
    }
    CHECK(pgd[ne - 1] < clean - 0.3 && fgsm[ne - 1] < clean - 0.2, "eps 0.3 barely hurts: FGSM %.4f PGD %.4f clean %.4f",
          fgsm[ne - 1], pgd[ne - 1], clean);
    CHECK(noise[ne - 1] > fgsm[ne - 1], "noise of std 0.3 (%.4f) should hurt less than FGSM 0.3 (%.4f)",
          noise[ne - 1], fgsm[ne - 1]);

    /* the same seed, the same numbers; a limit uses only the first examples */
    double again;
    CHECK_OK(cn_attack_pgd(net, d, 0, 0.1, &cfg, &again, &err));
    CHECK(again == pgd[3], "PGD rerun %.6f vs %.6f", again, pgd[3]);
    CHECK_OK(cn_robustness_noise(net, d, 0, 0.3, &cfg, &again, &err));
    CHECK(again == noise[ne - 1], "noise rerun %.6f vs %.6f", again, noise[ne - 1]);
    CHECK_OK(cn_attack_fgsm(net, d, 50, 0.1, &cfg, &acc, &err));
    CHECK(acc * 50 == floor(acc * 50 + 0.5), "a limit of 50: accuracy %.6f is not a count over 50", acc);

    CHECK(memcmp(p0, cn_net_params(net), np * sizeof *p0) == 0, "parameters changed by the attacks");
    CHECK(memcmp(s0, cn_net_state(net), ns * sizeof *s0) == 0, "state changed by the attacks");
    CHECK(all_zero(cn_net_grads(net), np), "parameter gradients not left zero");

    /* PGD examples stay in the eps-ball and in [0, 1] */
    int B = 40;
    cn_real *xadv = malloc((size_t)B * DIM * sizeof *xadv);
    cn_rng *rng = cn_rng_new(9);
    CHECK_OK(cn_attack_pgd_batch(net, xadv, d->x, d->y, B, 0.1, &cfg, rng, &err));
    double worst = 0;
    int out = 0;
    for (int i = 0; i < B * DIM; i++) {
        worst = fmax(worst, fabs((double)xadv[i] - d->x[i]));
        out += xadv[i] < 0 || xadv[i] > 1;
    }
    CHECK(worst <= 0.1 + 1e-6 && worst > 0.05, "PGD moved inputs by up to %g for eps 0.1", worst);
    CHECK(out == 0, "%d PGD inputs outside [0, 1]", out);
    CHECK(memcmp(p0, cn_net_params(net), np * sizeof *p0) == 0, "parameters changed by the batch attack");
    CHECK(all_zero(cn_net_grads(net), np), "parameter gradients not left zero by the batch attack");
    cn_rng_free(rng);

    /* bad arguments */
    int rc = cn_attack_fgsm(net, d, 0, -0.1, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "eps"), "FGSM eps -0.1: %d '%s'", rc, err.msg);
    rc = cn_attack_pgd(net, d, 0, -1e-9, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "eps"), "PGD eps < 0: %d '%s'", rc, err.msg);
    rc = cn_robustness_noise(net, d, 0, -0.05, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "noise"), "noise std < 0: %d '%s'", rc, err.msg);
    rc = cn_attack_fgsm(net, d, 0, NAN, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG, "FGSM eps NaN: %d", rc);
    rc = cn_attack_pgd(net, d, 0, INFINITY, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG, "PGD eps Inf: %d", rc);
    rc = cn_attack_fgsm_batch(net, xadv, d->x, d->y, B, -0.1, &cfg, &err);
    CHECK(rc == CN_ERR_ARG, "FGSM batch eps < 0: %d", rc);
    cfg.steps = 0;
    rc = cn_attack_pgd(net, d, 0, 0.1, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "steps"), "PGD steps 0: %d '%s'", rc, err.msg);
    cfg.steps = 10;
    cn_real keep = d->x[5];
    d->x[5] = (cn_real)1.5;
    rc = cn_attack_fgsm(net, d, 0, 0.1, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "clip"), "data outside the clip range: %d '%s'", rc, err.msg);
    cfg.clip = 0;
    CHECK_OK(cn_attack_fgsm(net, d, 0, 0.1, &cfg, &acc, &err));
    d->x[5] = NAN;
    rc = cn_attack_pgd(net, d, 0, 0.1, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_NONFINITE, "NaN input: %d '%s'", rc, err.msg);
    d->x[5] = keep;
    cfg.clip = 1;
    cn_net *wrong = make_net("input 5\ndense out=3\n", 1);
    rc = cn_attack_pgd(wrong, d, 0, 0.1, &cfg, &acc, &err);
    CHECK(rc == CN_ERR_ARG && strstr(err.msg, "inputs"), "wrong input size: %d '%s'", rc, err.msg);
    cn_net_free(wrong);

    free(xadv);
    free(p0);
    free(s0);
    cn_net_free(net);
    cn_data_free(&data);
}

/* A linear model z = W x + b: d CE / dx = W^T (softmax(z) - onehot(y)) / B, so FGSM moves each input by
 * eps times the sign of that, which is worked out here in double. */
static void test_linear_fgsm(void)
{
    cn_net *net = make_net("input 8\ndense out=3 act=identity\n", 11);
    if (!net) return;
    enum { B = 6 };
    cn_real x[B * DIM], xadv[B * DIM];
    int32_t y[B];
    cn_rng *r = cn_rng_new(12);
    for (int i = 0; i < B * DIM; i++) x[i] = (cn_real)cn_rng_uniform(r);
    for (int b = 0; b < B; b++) y[b] = (int32_t)cn_rng_below(r, CLASSES);
    cn_rng_free(r);
    const cn_real *W = cn_net_params(net), *bias = W + CLASSES * DIM; /* W (out, in), then b (out) */
    cn_robust_cfg cfg;
    cn_robust_defaults(&cfg);
    cfg.clip = 0;
    double eps = 0.03;
    cn_error err = {0};
    CHECK_OK(cn_attack_fgsm_batch(net, xadv, x, y, B, eps, &cfg, &err));
    int checked = 0, wrong = 0;
    double worst = 0;
    for (int b = 0; b < B; b++) {
        double z[CLASSES], zmax = -INFINITY, sum = 0;
        for (int o = 0; o < CLASSES; o++) {
            z[o] = bias[o];
            for (int j = 0; j < DIM; j++) z[o] += (double)W[o * DIM + j] * x[b * DIM + j];
            zmax = fmax(zmax, z[o]);
        }
        for (int o = 0; o < CLASSES; o++) sum += exp(z[o] - zmax);
        for (int j = 0; j < DIM; j++) {
            double g = 0;
            for (int o = 0; o < CLASSES; o++) g += (double)W[o * DIM + j] * (exp(z[o] - zmax) / sum - (o == y[b]));
            if (fabs(g) < 1e-5) continue; /* sign decided by rounding */
            double want = eps * (g > 0 ? 1 : -1), got = (double)xadv[b * DIM + j] - x[b * DIM + j];
            worst = fmax(worst, fabs(got - want));
            wrong += fabs(got - want) > 1e-6;
            checked++;
        }
    }
    CHECK(checked > B * DIM / 2, "only %d of %d components had a clear sign", checked, B * DIM);
    CHECK(wrong == 0, "%d of %d FGSM components differ from eps sign(W^T (p - onehot)); worst %g", wrong, checked,
          worst);
    /* with clipping on, the same step then clipped to [0, 1] */
    cfg.clip = 1;
    cn_real xclip[B * DIM];
    CHECK_OK(cn_attack_fgsm_batch(net, xclip, x, y, B, 0.5, &cfg, &err));
    int bad = 0;
    for (int i = 0; i < B * DIM; i++) bad += xclip[i] < 0 || xclip[i] > 1;
    CHECK(bad == 0, "%d clipped FGSM inputs outside [0, 1]", bad);
    CHECK(all_zero(cn_net_grads(net), cn_net_param_count(net)), "parameter gradients not left zero");
    cn_net_free(net);
}

static void test_alloc_failures(void)
{
    cn_data data;
    make_data(&data, 10, 50, 3);
    cn_net *net = make_net("input 8\ndense out=6 act=relu\ndense out=3\n", 4);
    if (!net) return;
    cn_robust_cfg cfg;
    cn_robust_defaults(&cfg);
    cfg.batch = 20;
    cn_error err = {0};
    double acc;
    CHECK_OK(cn_net_reserve(net, 20, 1));
    int nomem = 0;
    for (int kind = 0; kind < 3; kind++)
        for (int fail_at = 1; fail_at <= 12; fail_at++) {
            hook_install(fail_at);
            int rc = kind == 0   ? cn_robustness_noise(net, &data.test, 0, 0.1, &cfg, &acc, &err)
                     : kind == 1 ? cn_attack_fgsm(net, &data.test, 0, 0.1, &cfg, &acc, &err)
                                 : cn_attack_pgd(net, &data.test, 0, 0.1, &cfg, &acc, &err);
            cn_set_allocator(NULL);
            CHECK(rc == CN_OK || rc == CN_ERR_NOMEM, "kind %d, allocation %d failing: status %d", kind, fail_at, rc);
            CHECK(g_stats.live == 0, "kind %d, allocation %d failing: %ld blocks leaked", kind, fail_at, g_stats.live);
            nomem += rc == CN_ERR_NOMEM;
        }
    CHECK(nomem >= 15, "only %d allocation failures were met", nomem);
    cn_net_free(net);
    cn_data_free(&data);
}

int main(void)
{
    test_trained();
    test_linear_fgsm();
    test_alloc_failures();
    return check_summary("robustness");
}
