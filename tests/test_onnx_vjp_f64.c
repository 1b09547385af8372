/* test_onnx_vjp_f64.c: the backward of imported ONNX models against central differences, in the double
 * build, on the models of tests/onnx_ops_ref.py (every operator of the table occurs in one of them).
 *
 * For each model whose operators all have a backward, in eval mode and in training mode (batch norm on batch
 * statistics), with a random cotangent u of the output and the objective L = <u, f(x; theta)>:
 *   - the input gradient: <dL/dx, t> against (L(x + h t) - L(x - h t)) / 2h for the file's tangent t;
 *   - the parameter gradient: <dL/dtheta, p> against the same difference along a random direction p of the
 *     parameters (every trained initializer moves at once, so a missing or wrong share anywhere shows).
 * Models with an operator that has no backward yet (none of these today; tests/cli/train_onnx.sh has one)
 * must be refused by cn_net_trainable with a message that names the node. h = 1e-6 and the bound 1e-6 as in test_onnx_grad_f64.c, whose argument carries over.
 *
 * Usage: test_onnx_vjp_f64 [DIR], as test_onnx_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "torch_ref_io.h"

#define H 1e-6
#define RTOL 1e-6

static const ref_format CNONNX1 = {"CNONNX1\0", 1, 8};

static double g_worst = 0;
static int g_trained = 0, g_refused = 0;

static const ref_tensor *find(const ref_case *c, const char *name)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->t[i].name, name) == 0) return &c->t[i];
    CHECK(0, "%s: tensor %s missing from the reference file", c->name, name);
    return NULL;
}

/* a fixed pseudo-random value in [-1, 1) */
static double uniform(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* L = <u, f(x)> after a forward in the given mode */
static double objective(cn_net *net, const double *x, const double *u, int B, int train)
{
    int rc = cn_net_forward(net, x, B, train);
    CHECK(rc == CN_OK, "forward failed: %d", rc);
    return dot(cn_net_output(net), u, (size_t)B * cn_net_out_size(net));
}

static double rel(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-12 ? fabs(b) : 1e-12); }

static void check_mode(const ref_case *c, cn_net *net, const double *x, const double *t, int B, int train)
{
    const size_t nin = (size_t)B * cn_net_in_size(net), nout = (size_t)B * cn_net_out_size(net);
    const size_t np = cn_net_param_count(net);
    double *u = malloc(nout * sizeof *u), *dx = malloc(nin * sizeof *dx), *xs = malloc(nin * sizeof *xs);
    double *p = malloc((np ? np : 1) * sizeof *p), *theta = malloc((np ? np : 1) * sizeof *theta);
    double *grad = malloc((np ? np : 1) * sizeof *grad);
    CHECK(u && dx && xs && p && theta && grad, "out of memory");
    if (!(u && dx && xs && p && theta && grad)) goto done;
    unsigned long long seed = 12345;
    for (size_t i = 0; i < nout; i++) u[i] = uniform(&seed);
    for (size_t i = 0; i < np; i++) p[i] = uniform(&seed);

    objective(net, x, u, B, train);
    cn_net_zero_grad(net);
    int rc = cn_net_backward(net, u, dx, B);
    cn_error err = {0};
    CHECK(rc == CN_OK, "%s: backward: %d %s", c->name, rc, (cn_net_pass_error(net, rc, &err), err.msg));
    if (rc) goto done;
    memcpy(grad, cn_net_grads(net), np * sizeof *grad);

    for (size_t i = 0; i < nin; i++) xs[i] = x[i] + H * t[i];
    double lp = objective(net, xs, u, B, train);
    for (size_t i = 0; i < nin; i++) xs[i] = x[i] - H * t[i];
    double lm = objective(net, xs, u, B, train);
    double e_in = rel(dot(dx, t, nin), (lp - lm) / (2 * H));

    double e_p = 0;
    if (np) {
        double *params = cn_net_params(net);
        memcpy(theta, params, np * sizeof *theta);
        for (size_t i = 0; i < np; i++) params[i] = theta[i] + H * p[i];
        lp = objective(net, x, u, B, train);
        for (size_t i = 0; i < np; i++) params[i] = theta[i] - H * p[i];
        lm = objective(net, x, u, B, train);
        memcpy(params, theta, np * sizeof *theta);
        e_p = rel(dot(grad, p, np), (lp - lm) / (2 * H));
    }
    printf("%-16s %-5s %6zu params  input %.1e  params %.1e\n", c->name, train ? "train" : "eval", np, e_in, e_p);
    CHECK(e_in < RTOL, "%s (%s mode): input gradient vs central differences: relative error %.3e", c->name,
          train ? "train" : "eval", e_in);
    CHECK(e_p < RTOL, "%s (%s mode): parameter gradient vs central differences: relative error %.3e", c->name,
          train ? "train" : "eval", e_p);
    if (e_in > g_worst) g_worst = e_in;
    if (e_p > g_worst) g_worst = e_p;
done:
    free(u);
    free(dx);
    free(xs);
    free(p);
    free(theta);
    free(grad);
}

static void run_case(const ref_case *c, const char *dir)
{
    char onnx[128] = "", path[2048];
    int opset = 0, blocks = -2;
    if (sscanf(c->text, "onnx %127s opset %d blocks %d", onnx, &opset, &blocks) != 3) {
        CHECK(0, "%s: bad model text '%s'", c->name, c->text);
        return;
    }
    const ref_tensor *x = find(c, "x"), *t = find(c, "t");
    if (!x || !t) return;
    snprintf(path, sizeof path, "%s/%s", dir, onnx);
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_onnx(&net, path, NULL, &err);
    CHECK(rc == CN_OK, "%s: cn_net_from_onnx: %d %s", c->name, rc, err.msg);
    if (rc) return;
    const int B = 2;
    if ((rc = cn_net_trainable(net, &err)) != CN_OK) {
        printf("%-16s refused: %s\n", c->name, err.msg);
        CHECK(rc == CN_ERR_UNSUPPORTED && strstr(err.msg, "node ") && strstr(err.msg, "no backward"),
              "%s: an untrainable graph must say which node lacks a backward: %d %s", c->name, rc, err.msg);
        g_refused++;
    } else if (x->n == (size_t)B * cn_net_in_size(net) && cn_net_reserve(net, B, 1) == CN_OK) {
        check_mode(c, net, x->v, t->v, B, 0);
        check_mode(c, net, x->v, t->v, B, 1);
        g_trained++;
    } else {
        CHECK(0, "%s: the reference input does not fit the model", c->name);
    }
    cn_net_free(net);
}

int main(int argc, char **argv)
{
    char dir[1024];
    int own_dir = argc < 2;
    if (own_dir) {
        int rc = ref_make_dir(dir, sizeof dir, "onnx_ops_ref");
        CHECK(rc == 0, "tests/onnx_ops_ref.py must run: CI has torch and onnx, a missing reference is a failure");
        if (rc) return check_summary("onnx_vjp_f64");
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    ref_list list;
    int listed = ref_list_open(&list, dir) == 0;
    CHECK(listed, "%s: cannot open the list of cases", list.path);
    for (const char *path; listed && (path = ref_list_next(&list));) {
        ref_case c;
        int rc = ref_load(&c, path, &CNONNX1);
        CHECK(rc == 0, "%s: unreadable reference file", path);
        if (rc) continue;
        run_case(&c, dir);
        ref_free(&c);
    }
    ref_list_close(&list);
    CHECK(g_trained >= 16, "only %d models trained (%d refused)", g_trained, g_refused);
    printf("%d models checked in both modes, %d refused; worst relative error %.2e (bound %.0e)\n", g_trained,
           g_refused, g_worst, RTOL);
    if (own_dir) ref_remove_dir(dir);
    return check_summary("onnx_vjp_f64");
}
