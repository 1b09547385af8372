/* test_control_init.c: the manipulation check of critical initialisation (issue 16): on a chaotic
 * (sigma_w = 2.5) and an ordered (sigma_w = 0.5) tanh MLP it brings the mean over blocks of |ln sigma_l|, as
 * cn_measure finds it on held-out inputs, below 0.05; the same for a CNN, a batch-norm ResNet and a layer-norm
 * MLP. Also what it must leave alone (biases), determinism, and bad settings of both control methods. */
#include "control_check.h"

static void check_critical_init(const cn_data *d, double sigma_w)
{
    cn_net *net = tanh_net(sigma_w, 0.05, 1);
    CHECK(net != NULL, "net");
    if (!net) return;
    double before = measured(net, d->test.x, 200);
    /* the biases of the first dense layer: W (128 x 128) then b (128) */
    cn_real bias[128];
    memcpy(bias, cn_net_params(net) + IN * 128, sizeof bias);
    cn_critical_init_cfg ic;
    cn_critical_init_defaults(&ic);
    cn_critical_init_report rep;
    cn_error err = {0};
    CHECK_OK(cn_init_critical(net, d->train.x, d->train.count, &ic, &rep, &err));
    double after = measured(net, d->test.x, 200);
    printf("critical init, tanh sigma_w = %.1f: mean |ln sigma_l| %.4f -> %.4f (its own estimate %.4f, %d not "
           "reached)\n", sigma_w, before, after, rep.mean_abs_after, rep.not_reached);
    CHECK(before > 0.15, "sigma_w = %g starts at %.4f: not far enough from critical to test anything", sigma_w,
          before);
    CHECK(after < TARGET, "sigma_w = %g: mean |ln sigma_l| %.4f after critical init (target < %g)", sigma_w, after,
          TARGET);
    CHECK(rep.not_reached == 0 && rep.mean_abs_after < ic.tol, "sigma_w = %g: %d blocks not reached, own %.4f",
          sigma_w, rep.not_reached, rep.mean_abs_after);
    CHECK(memcmp(bias, cn_net_params(net) + IN * 128, sizeof bias) == 0, "the biases changed");
    /* the same seed gives the same parameters, bit for bit */
    cn_net *again = tanh_net(sigma_w, 0.05, 1);
    cn_critical_init_report rep2;
    CHECK_OK(cn_init_critical(again, d->train.x, d->train.count, &ic, &rep2, &err));
    CHECK(memcmp(cn_net_params(net), cn_net_params(again), cn_net_param_count(net) * sizeof(cn_real)) == 0,
          "critical init is not deterministic");
    cn_critical_init_report_free(&rep);
    cn_critical_init_report_free(&rep2);
    cn_net_free(again);
    cn_net_free(net);
}

/* other architectures through the same API: conv, residual with batch norm (projection skips), layer norm */
static void check_architectures(void)
{
    cn_data_opts o = {.spec = "gaussian", .gaussian_dim = 144, .gaussian_count = 300, .seed = 5};
    cn_data d = {0};
    cn_error err = {0};
    CHECK_OK(cn_data_load(&d, &o, &err));
    const cn_arch archs[] = {
        {.arch = "cnn", .in_c = 1, .in_h = 12, .in_w = 12, .width = 8, .depth = 2, .classes = 10, .act = CN_ACT_RELU,
         .norm = "none"},
        {.arch = "resnet", .in_c = 1, .in_h = 12, .in_w = 12, .width = 4, .depth = 1, .classes = 10,
         .act = CN_ACT_RELU, .norm = "batch"},
        {.arch = "mlp", .in_c = 144, .in_h = 1, .in_w = 1, .width = 64, .depth = 4, .classes = 10, .act = CN_ACT_GELU,
         .norm = "layer"},
    };
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) {
        char *spec = NULL;
        cn_net *net = NULL;
        CHECK_OK(cn_arch_spec(&spec, &archs[i], &err));
        CHECK_OK(cn_net_from_spec(&net, spec, &err));
        cn_free(spec);
        if (!net) continue;
        cn_rng *rng = cn_rng_new(3);
        cn_init init = {.kind = CN_INIT_TORCH};
        CHECK_OK(cn_net_init(net, &init, rng));
        cn_rng_free(rng);
        double before = measured(net, d.test.x, 100);
        cn_critical_init_cfg ic;
        cn_critical_init_defaults(&ic);
        cn_critical_init_report rep;
        CHECK_OK(cn_init_critical(net, d.train.x, d.train.count, &ic, &rep, &err));
        double after = measured(net, d.test.x, 100);
        printf("critical init, %s norm=%s: mean |ln sigma_l| %.4f -> %.4f (%d blocks, %d not reached)\n",
               archs[i].arch, archs[i].norm, before, after, rep.nblocks, rep.not_reached);
        CHECK(after < TARGET, "%s norm=%s: %.4f after critical init", archs[i].arch, archs[i].norm, after);
        cn_critical_init_report_free(&rep);
        cn_net_free(net);
    }
    cn_data_free(&d);
}

static void check_refusals(const cn_data *d)
{
    cn_net *net = tanh_net(1, 0, 1);
    cn_control *c = NULL;
    cn_error err = {0};
    cn_control_settings s;
    cn_control_defaults(&s);
    s.kind = CN_CONTROL_HOMEOSTATIC;
    s.rate = 0;
    CHECK(cn_control_new(&c, net, &s, 50, &err) == CN_ERR_ARG && strstr(err.msg, "rate"), "rate 0: %s", err.msg);
    s.rate = 0.5;
    s.every = 0;
    CHECK(cn_control_new(&c, net, &s, 50, &err) == CN_ERR_ARG && strstr(err.msg, "every"), "every 0: %s", err.msg);
    s.every = 10;
    s.band = -1;
    CHECK(cn_control_new(&c, net, &s, 50, &err) == CN_ERR_ARG && strstr(err.msg, "band"), "band -1: %s", err.msg);
    s.band = 0.02;
    /* a state from another network is refused, and so is a truncated one */
    CHECK_OK(cn_control_new(&c, net, &s, 50, &err));
    size_t size = cn_control_state_encode(c, NULL);
    unsigned char buf[256];
    CHECK(size <= sizeof buf, "state size %zu", size);
    cn_control_state_encode(c, buf);
    CHECK_OK(cn_control_state_decode(c, buf, size, &err));
    CHECK(cn_control_state_decode(c, buf, size - 8, &err) == CN_ERR_FORMAT, "truncated state accepted");
    buf[0] = 'X';
    CHECK(cn_control_state_decode(c, buf, size, &err) == CN_ERR_FORMAT, "bad magic accepted");
    cn_control_free(c);
    cn_critical_init_cfg ic;
    cn_critical_init_defaults(&ic);
    ic.tol = 0;
    CHECK(cn_init_critical(net, d->train.x, 10, &ic, NULL, &err) == CN_ERR_ARG, "tol 0 accepted");
    cn_critical_init_defaults(&ic);
    cn_real bad[IN] = {0};
    bad[3] = NAN;
    CHECK(cn_init_critical(net, bad, 1, &ic, NULL, &err) == CN_ERR_NONFINITE, "NaN input accepted");
    cn_net_free(net);
}

int main(void)
{
    cn_set_threads(1);
    cn_data_opts o = {.spec = "gaussian", .gaussian_dim = IN, .gaussian_count = 1000, .seed = 4};
    cn_data d = {0};
    cn_error err = {0};
    CHECK_OK(cn_data_load(&d, &o, &err));
    if (d.train.count) {
        check_critical_init(&d, 2.5);
        check_critical_init(&d, 0.5);
        check_architectures();
        check_refusals(&d);
    }
    cn_data_free(&d);
    return check_summary("test_control_init");
}
