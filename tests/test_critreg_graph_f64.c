/* test_critreg_graph_f64.c: the criticality regulariser on imported graphs (critreg_graph.c, jvp_vjp.c), in
 * the double build.
 *
 * 1. Against PyTorch's double backward (tests/torch_critreg_graph.py): a residual network with batch norm and
 *    tanh, and an MLP with layer norm, GELU, a sigmoid gate and softplus, in eval and training mode, sigma and
 *    lambda targets, the same probes: R and its gradient with respect to every parameter, by name.
 * 2. Against central differences, independently of torch: on those models along a random direction of the
 *    parameters, and on every model of tests/onnx_ops_ref.py (every operator in one of them) along a
 *    direction of the input, which exercises each operator's second-order rule on its own: the input's
 *    gradient is made only of the rules' shares carried back by the backward. Models with an operator that has
 *    no rule must be refused by cn_critreg_new with a message that names the node.
 * h = 1e-6 and the bound 1e-6, as in test_onnx_vjp_f64.c.
 *
 * Usage: test_critreg_graph_f64 [TORCH_DIR [OPS_DIR]] (default: run both scripts into temporary folders). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "onnx/onnx_net.h"
#include "torch_ref_io.h"
#include "train/critreg.h"

#define H 1e-6
#define RTOL 1e-6
/* the torch models run the exported graph's own constants in double, except GELU's sqrt(2), which the graph
 * holds in float (relative error 1.7e-8): R and its gradient may differ by a few times that */
#define TORCH_RTOL 1e-7

static const ref_format CNCRG1 = {"CNCRG1\0\0", 1, REF_MAX_TENSORS};
static const ref_format CNONNX1 = {"CNONNX1\0", 1, 8};

static double g_worst_torch = 0, g_worst_fd = 0;
static int g_torch_cases = 0, g_fd_models = 0, g_refused = 0;

static const ref_tensor *find(const ref_case *c, const char *name)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->t[i].name, name) == 0) return &c->t[i];
    return NULL;
}

static double uniform(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

typedef struct {
    cn_net *net;
    cn_critreg *reg;
    int B, train;
    cn_real *zeros; /* the task loss's cotangent: zero, so that only R's gradient flows */
} setup;

/* R at the net's current parameters and input x; with grads, also dR/dtheta in the net's grads and dR/dx into
 * dx (may be NULL) */
static double regulariser(setup *s, const double *x, int grads, double *dx)
{
    cn_net_zero_grad(s->net);
    int rc = cn_net_forward(s->net, x, s->B, s->train);
    CHECK(rc == CN_OK, "forward: %d", rc);
    double R = NAN;
    rc = cn_critreg_apply(s->reg, NULL, s->B, &R, NULL);
    cn_error err = {0};
    if (rc) cn_net_status(s->net, &err);
    CHECK(rc == CN_OK, "cn_critreg_apply: %d %s", rc, err.msg);
    if (grads) {
        rc = cn_net_backward(s->net, s->zeros, dx, s->B);
        CHECK(rc == CN_OK, "backward: %d", rc);
    }
    return R;
}

static double rel(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-12 ? fabs(b) : 1e-12); }

/* The analytic derivative against the central difference, relative to the difference plus 0.1 |R|: R itself
 * carries roundoff of about 1e-13 of its size after the thousands of operations of a jvp pass, which divided
 * by 2h is 5e-8 |R| in the difference; where the derivative is 1e-4 of R (a regulariser near its optimum) that
 * alone exceeds 1e-6 of it. */
static double fd_error(double analytic, double difference, double R)
{
    return fabs(analytic - difference) / (fabs(difference) + 0.1 * fabs(R) + 1e-300);
}

/* <dR/dtheta, p> against (R(theta + h p) - R(theta - h p)) / 2h */
static double fd_params(setup *s, const double *x, unsigned long long seed)
{
    const size_t n = cn_net_param_count(s->net);
    cn_real *theta = cn_net_params(s->net);
    double *p = malloc(n * sizeof *p), *saved = malloc(n * sizeof *saved);
    regulariser(s, x, 1, NULL);
    double analytic = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = uniform(&seed);
        saved[i] = theta[i];
        analytic += cn_net_grads(s->net)[i] * p[i];
    }
    for (size_t i = 0; i < n; i++) theta[i] = saved[i] + H * p[i];
    double up = regulariser(s, x, 0, NULL);
    for (size_t i = 0; i < n; i++) theta[i] = saved[i] - H * p[i];
    double down = regulariser(s, x, 0, NULL);
    memcpy(theta, saved, n * sizeof *theta);
    free(p);
    free(saved);
    return fd_error(analytic, (up - down) / (2 * H), up);
}

/* <dR/dx, t> against (R(x + h t) - R(x - h t)) / 2h */
static double fd_input(setup *s, const double *x, size_t nx, unsigned long long seed)
{
    double *dx = malloc(nx * sizeof *dx), *t = malloc(nx * sizeof *t), *xs = malloc(nx * sizeof *xs);
    regulariser(s, x, 1, dx);
    double analytic = 0;
    for (size_t i = 0; i < nx; i++) {
        t[i] = uniform(&seed);
        analytic += dx[i] * t[i];
    }
    for (size_t i = 0; i < nx; i++) xs[i] = x[i] + H * t[i];
    double up = regulariser(s, xs, 0, NULL);
    for (size_t i = 0; i < nx; i++) xs[i] = x[i] - H * t[i];
    double down = regulariser(s, xs, 0, NULL);
    free(dx);
    free(t);
    free(xs);
    return fd_error(analytic, (up - down) / (2 * H), up);
}

static int open_setup(setup *s, const char *path, const char *blocks, int target, int include_readout, int B,
                      int train, cn_error *err)
{
    *s = (setup){.B = B, .train = train};
    cn_onnx_opts opts = {.blocks = blocks};
    int rc = cn_net_from_onnx(&s->net, path, &opts, err);
    if (rc) return rc;
    cn_critreg_cfg cfg = {.beta = 1, .target = target, .probes = 2, .include_readout = include_readout};
    if ((rc = cn_critreg_new(&s->reg, s->net, &cfg, B, err))) return rc;
    s->zeros = calloc((size_t)B * cn_net_out_size(s->net), sizeof *s->zeros);
    return CN_OK;
}

static void close_setup(setup *s)
{
    cn_critreg_free(s->reg);
    cn_net_free(s->net);
    free(s->zeros);
}

/* ------------------------------------------------------------------ 1. PyTorch */

static void torch_case(const ref_case *c, const char *dir)
{
    char onnx[128], target[16], blocks[1024], path[2048];
    if (sscanf(c->text, "onnx %127s target %15s blocks %1023s", onnx, target, blocks) != 3) {
        CHECK(0, "%s: bad model text '%s'", c->name, c->text);
        return;
    }
    const int lambda = strcmp(target, "lambda") == 0;
    const ref_tensor *x = find(c, "x"), *u = find(c, "u"), *value = find(c, lambda ? "G" : "R");
    CHECK(x && u && value, "%s: x, u and R or G must be in the file", c->name);
    if (!x || !u || !value) return;
    snprintf(path, sizeof path, "%s/%s", dir, onnx);
    setup s;
    cn_error err = {0};
    int rc = open_setup(&s, path, blocks, lambda ? CN_CRIT_LAMBDA : CN_CRIT_SIGMA, 0, (int)c->batch, (int)c->train, &err);
    CHECK(rc == CN_OK, "%s: %s", c->name, err.msg);
    if (rc) {
        close_setup(&s);
        return;
    }
    cn_critreg_set_probes(s.reg, u->v);
    cn_block *blk = NULL;
    int L = 0;
    cn_net_blocks(s.net, 0, &blk, &L);
    cn_free(blk);
    CHECK(L == 3, "%s: %d blocks, the file's modules make 3", c->name, L);
    const double R = regulariser(&s, x->v, 1, NULL);
    /* lambda = G / L: R = lambda^2 and dR = 2 G dG / L^2 */
    const double R_ref = lambda ? value->v[0] * value->v[0] / ((double)L * L) : value->v[0];
    const double gscale = lambda ? 2 * value->v[0] / ((double)L * L) : 1;
    CHECK(rel(R, R_ref) < TORCH_RTOL, "%s: R %.12g, torch %.12g", c->name, R, R_ref);
    /* every parameter's gradient, by initializer name, relative to the largest entry of all */
    cn_graph *g = cn_net_graph(s.net);
    double worst = 0, largest = 0;
    int matched = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < g->nt; i++) {
            const cn_tensor *t = &g->t[i];
            if (t->role != CN_ROLE_PARAM) continue;
            char name[40];
            snprintf(name, sizeof name, "g:%s", t->name);
            const ref_tensor *ref = find(c, name);
            if (pass == 0) {
                CHECK(ref && ref->n == cn_tensor_numel(t), "%s: no torch gradient of size %zu for %s", c->name,
                      cn_tensor_numel(t), t->name);
                if (ref)
                    for (size_t j = 0; j < ref->n; j++) largest = fmax(largest, fabs(gscale * ref->v[j]));
                continue;
            }
            if (!ref || ref->n != cn_tensor_numel(t)) continue;
            matched++;
            for (size_t j = 0; j < ref->n; j++) worst = fmax(worst, fabs(t->grad[j] - gscale * ref->v[j]));
        }
    worst /= largest > 0 ? largest : 1;
    CHECK(matched >= 10 && largest > 0, "%s: %d parameters compared, largest gradient %g", c->name, matched, largest);
    CHECK(worst < TORCH_RTOL, "%s: gradient differs from torch's by %.2e of its largest entry", c->name, worst);
    g_worst_torch = fmax(g_worst_torch, worst);
    const double fd = fd_params(&s, x->v, 17);
    CHECK(fd < RTOL, "%s: parameter gradient against central differences: relative error %.2e", c->name, fd);
    g_worst_fd = fmax(g_worst_fd, fd);
    printf("%-26s R %.6f  torch gradient %.1e  central differences %.1e  (%d parameters)\n", c->name, R, worst, fd,
           matched);
    g_torch_cases++;
    close_setup(&s);
}

/* ------------------------------------------------------------------ 2. every operator */

static void ops_case(const ref_case *c, const char *dir)
{
    char onnx[128] = "", path[2048];
    int opset = 0, blocks = -2;
    if (sscanf(c->text, "onnx %127s opset %d blocks %d", onnx, &opset, &blocks) != 3) {
        CHECK(0, "%s: bad model text '%s'", c->name, c->text);
        return;
    }
    const ref_tensor *x = find(c, "x");
    if (!x) return;
    snprintf(path, sizeof path, "%s/%s", dir, onnx);
    double worst = 0;
    int checked = 0;
    for (int train = 0; train < 2; train++)
        for (int target = 0; target < 2; target++) {
            setup s;
            cn_error err = {0};
            int rc = open_setup(&s, path, NULL, target ? CN_CRIT_LAMBDA : CN_CRIT_SIGMA, 1, 2, train, &err);
            if (rc == CN_ERR_UNSUPPORTED && strstr(err.msg, "no second-order rule")) {
                CHECK(strstr(err.msg, "node "), "%s: the refusal must name the node: %s", c->name, err.msg);
                if (train == 0 && target == 0) {
                    printf("%-16s refused: %s\n", c->name, err.msg);
                    g_refused++;
                }
                close_setup(&s);
                return;
            }
            if (rc == CN_ERR_UNSUPPORTED) { /* no backward at all (test_onnx_vjp_f64 covers the message) */
                close_setup(&s);
                return;
            }
            CHECK(rc == CN_OK, "%s: %s", c->name, err.msg);
            if (rc) {
                close_setup(&s);
                return;
            }
            /* m = 2 probes of B = 2 rows of the widest tensor a block can start from */
            size_t widest = (size_t)cn_net_in_size(s.net);
            for (int i = 0; i < cn_net_layer_count(s.net); i++)
                if ((size_t)cn_net_layer_out_size(s.net, i) > widest) widest = (size_t)cn_net_layer_out_size(s.net, i);
            unsigned long long seed = 99;
            cn_real *u = malloc(4 * widest * sizeof *u);
            for (size_t i = 0; i < 4 * widest; i++) u[i] = uniform(&seed);
            cn_critreg_set_probes(s.reg, u);
            const double e = fd_input(&s, x->v, x->n, 5 + (unsigned long long)(2 * train + target));
            CHECK(e < RTOL, "%s (%s, %s): input gradient against central differences: relative error %.2e",
                  c->name, train ? "train" : "eval", target ? "lambda" : "sigma", e);
            worst = fmax(worst, e);
            checked++;
            free(u);
            close_setup(&s);
        }
    g_worst_fd = fmax(g_worst_fd, worst);
    g_fd_models++;
}

static void run_dir(const char *script, const char *given, const ref_format *fmt,
                    void (*run)(const ref_case *, const char *))
{
    char dir[1024];
    int own = !given;
    if (own) {
        int rc = ref_make_dir(dir, sizeof dir, script);
        CHECK(rc == 0, "tests/%s.py must run: CI has torch and onnx, a missing reference is a failure", script);
        if (rc) return;
    } else {
        snprintf(dir, sizeof dir, "%s", given);
    }
    ref_list list;
    int listed = ref_list_open(&list, dir) == 0;
    CHECK(listed, "%s: cannot open the list of cases", list.path);
    for (const char *path; listed && (path = ref_list_next(&list));) {
        ref_case c;
        int rc = ref_load(&c, path, fmt);
        CHECK(rc == 0, "%s: unreadable reference file", path);
        if (rc) continue;
        run(&c, dir);
        ref_free(&c);
    }
    ref_list_close(&list);
    if (own) ref_remove_dir(dir);
}

int main(int argc, char **argv)
{
    run_dir("torch_critreg_graph", argc > 1 ? argv[1] : NULL, &CNCRG1, torch_case);
    run_dir("onnx_ops_ref", argc > 2 ? argv[2] : NULL, &CNONNX1, ops_case);
    CHECK(g_torch_cases == 8, "%d of the 8 torch cases ran", g_torch_cases);
    CHECK(g_fd_models >= 12, "only %d operator models checked (%d refused)", g_fd_models, g_refused);
    printf("torch: %d cases, worst gradient error %.1e (bound %.0e); central differences: %d operator models in "
           "both modes and targets, %d refused, worst relative error %.1e (bound %.0e)\n", g_torch_cases,
           g_worst_torch, TORCH_RTOL, g_fd_models, g_refused, g_worst_fd, RTOL);
    return check_summary("critreg_graph_f64");
}
