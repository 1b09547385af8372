/* test_lower_f64.c: a native network written as ONNX (lower.c, the layers' `lower` ops) and read back by the
 * graph engine computes the same function, in the double build.
 *
 * For an MLP with layer norm, batch norm and every activation, a CNN with both pools, grouped convolution,
 * batch and layer norm, residual CNNs with identity and projection skips (a strided 1x1 conv with batch norm),
 * a residual MLP with a dense projection and an MLP with dropout (the same mask from RNGs of one seed): the
 * lowered net must have the native net's
 * parameters and state in the same flat order (so checkpoints carry over), and, in eval and in training mode,
 * the same logits, the same input and parameter gradients for a random cotangent, and (training mode) the same
 * running statistics after the step. The native weights are rounded to float first, as the ONNX file stores
 * them; the bound 1e-10 relative is then far below any real disagreement (a wrong layout or attribute shows
 * at 1e-2) and above double rounding through a few hundred operations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "net/net_internal.h"
#include "onnx/lower.h"

#define B 3
/* GELU is written as torch.onnx.export writes it, x (erf(x / sqrt 2) + 1) / 2, and the file holds sqrt 2 as a
 * float (relative error 1.7e-8), as it holds dropout's ratio (0.3 is 0.30000001): a net with GELU or dropout
 * agrees to a few times that */
#define RTOL 1e-10
#define RTOL_GELU 1e-7
/* batch norm's momentum is a float attribute in ONNX (0.9 is 0.899999976): the running statistics after a
 * training forward agree to that */
#define RTOL_MOMENTUM 1e-7

static double g_worst = 0, g_bound = RTOL;

static double uniform(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

/* max |a - b| over max |b| */
static double differ(const cn_real *a, const cn_real *b, size_t n)
{
    double d = 0, m = 1e-300;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / m;
}

static void round_to_float(cn_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = (cn_real)(float)v[i];
}

static void compare_mode(const char *name, cn_net *native, cn_net *graph, int train)
{
    const size_t nin = (size_t)B * cn_net_in_size(native), nout = (size_t)B * cn_net_out_size(native);
    const size_t np = cn_net_param_count(native), ns = cn_net_state_count(native);
    cn_real *x = malloc(nin * sizeof *x), *dy = malloc(nout * sizeof *dy);
    cn_real *dx_n = malloc(nin * sizeof *dx_n), *dx_g = malloc(nin * sizeof *dx_g);
    unsigned long long seed = 7 + (unsigned)train;
    for (size_t i = 0; i < nin; i++) x[i] = (cn_real)uniform(&seed);
    for (size_t i = 0; i < nout; i++) dy[i] = (cn_real)uniform(&seed);
    const char *mode = train ? "train" : "eval";
    int rc = cn_net_forward(native, x, B, train) | cn_net_forward(graph, x, B, train);
    CHECK(rc == CN_OK, "%s (%s): forward failed", name, mode);
    double e = differ(cn_net_output(graph), cn_net_output(native), nout);
    CHECK(e < g_bound, "%s (%s): logits differ by %.2e", name, mode, e);
    g_worst = fmax(g_worst, e);
    if (ns) {
        e = differ(cn_net_state(graph), cn_net_state(native), ns);
        CHECK(e < RTOL_MOMENTUM, "%s (%s): running statistics differ by %.2e after the forward", name, mode, e);
    }
    cn_net_zero_grad(native);
    cn_net_zero_grad(graph);
    rc = cn_net_backward(native, dy, dx_n, B) | cn_net_backward(graph, dy, dx_g, B);
    CHECK(rc == CN_OK, "%s (%s): backward failed", name, mode);
    e = differ(dx_g, dx_n, nin);
    CHECK(e < g_bound, "%s (%s): input gradients differ by %.2e", name, mode, e);
    g_worst = fmax(g_worst, e);
    e = differ(cn_net_grads(graph), cn_net_grads(native), np);
    CHECK(e < g_bound, "%s (%s): parameter gradients differ by %.2e", name, mode, e);
    g_worst = fmax(g_worst, e);
    free(x);
    free(dy);
    free(dx_n);
    free(dx_g);
}

static void check_spec(const char *name, const char *spec, int train_too)
{
    g_bound = strstr(spec, "gelu") || strstr(spec, "dropout") ? RTOL_GELU : RTOL;
    cn_error err = {0};
    cn_net *native = NULL, *graph = NULL;
    int rc = cn_net_from_spec(&native, spec, &err);
    CHECK(rc == CN_OK, "%s: %s", name, err.msg);
    if (rc) return;
    cn_rng *rng = cn_rng_new(11);
    cn_init init = {.kind = CN_INIT_TORCH};
    cn_net_init(native, &init, rng);
    cn_rng_free(rng);
    /* batch-norm statistics away from 0 and 1, so that eval mode tests them */
    cn_real *state = cn_net_state(native);
    unsigned long long seed = 3;
    for (size_t i = 0; i < cn_net_state_count(native); i++) state[i] += (cn_real)(0.3 * fabs(uniform(&seed)));
    round_to_float(cn_net_params(native), cn_net_param_count(native));
    round_to_float(state, cn_net_state_count(native));
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = cn_net_lower_onnx(native, &bytes, &len, &err);
    CHECK(rc == CN_OK, "%s: lowering failed: %s", name, err.msg);
    if (!rc) rc = cn_net_from_onnx_buffer(&graph, bytes, len, name, NULL, &err);
    CHECK(rc == CN_OK, "%s: the lowered graph does not load: %s", name, err.msg);
    cn_free(bytes);
    if (rc) {
        cn_net_free(native);
        return;
    }
    CHECK(cn_net_param_count(graph) == cn_net_param_count(native) && cn_net_state_count(graph) == cn_net_state_count(native),
          "%s: %zu parameters and %zu state values lowered, %zu and %zu native", name, cn_net_param_count(graph),
          cn_net_state_count(graph), cn_net_param_count(native), cn_net_state_count(native));
    if (cn_net_param_count(graph) == cn_net_param_count(native) && cn_net_state_count(graph) == cn_net_state_count(native)) {
        CHECK(differ(cn_net_params(graph), cn_net_params(native), cn_net_param_count(native)) == 0,
              "%s: the lowered parameters are not in the native order", name);
        CHECK(differ(cn_net_state(graph), cn_net_state(native), cn_net_state_count(native)) == 0,
              "%s: the lowered state is not in the native order", name);
        rc = cn_net_reserve(native, B, 1) | cn_net_reserve(graph, B, 1);
        CHECK(rc == CN_OK, "%s: reserve failed", name);
        /* two RNGs of one seed: dropout must draw the same mask in both engines */
        cn_rng *ra = cn_rng_new(5), *rb = cn_rng_new(5);
        cn_net_set_dropout_rng(native, ra);
        cn_net_set_dropout_rng(graph, rb);
        compare_mode(name, native, graph, 0);
        if (train_too) compare_mode(name, native, graph, 1);
        cn_net_set_dropout_rng(native, NULL);
        cn_net_set_dropout_rng(graph, NULL);
        cn_rng_free(ra);
        cn_rng_free(rb);
    }
    printf("%-14s %zu parameters, %zu state values, %zu bytes of ONNX: same logits and gradients\n", name,
           cn_net_param_count(native), cn_net_state_count(native), len);
    cn_net_free(native);
    cn_net_free(graph);
}

int main(void)
{
    check_spec("mlp", "input 20\ndense out=16 act=tanh\nlayernorm act=gelu\ndense out=12 act=silu\n"
                      "batchnorm act=elu\ndense out=10 act=leaky_relu\ndense out=5 act=sigmoid\ndense out=4\n", 1);
    check_spec("cnn", "input 2 8 8\nconv out=4 k=3 pad=1 act=relu\nbatchnorm act=leaky_relu\nmaxpool k=2\n"
                      "conv out=6 k=3 pad=2 dilation=2 groups=2 act=tanh bias=0\navgpool k=2 stride=2 pad=1\n"
                      "layernorm\ngap\nflatten\ndense out=3\n", 1);
    check_spec("resnet", "input 2 8 8\nconv out=4 k=3 pad=1 act=tanh\nresidual act=relu\n"
                         "conv out=4 k=3 pad=1 act=tanh\nbatchnorm\nconv out=4 k=3 pad=1\nbatchnorm\nend\n"
                         "residual act=tanh\nconv out=8 k=3 stride=2 pad=1 bias=0\nbatchnorm act=relu\nend\n"
                         "gap\ndense out=3\n", 1);
    check_spec("residual_mlp", "input 10\nresidual act=tanh\ndense out=12 act=tanh\ndense out=12\nend\n"
                               "residual\ndense out=12 act=gelu\nend\ndense out=4\n", 1);
    /* dropout: the same mask from the same RNG in both engines (layers/dropout.c, the graph's Dropout) */
    check_spec("dropout", "input 10\ndense out=8 act=relu\ndropout p=0.3\ndense out=6 act=tanh\ndropout p=0.5\n"
                          "dense out=3\n", 1);
    printf("worst relative difference %.1e (bound %.0e, %.0e with GELU)\n", g_worst, RTOL, RTOL_GELU);
    return check_summary("lower_f64");
}
