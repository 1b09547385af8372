/* test_grad_f64.c: whole-network gradient checks in double. Networks are built from model text, initialised,
 * and their parameters perturbed (so biases and norm shifts are non-zero); then d loss / d params and
 * d loss / d x from cn_net_backward, dlogits from cn_loss, and cn_net_jvp are compared with central
 * differences, and the VJP and JVP are checked against each other (<r, J t> = <J^T r, t>). */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"

#define FD_H 1e-4 /* base step of the extrapolated central differences (see central) */
#define TOL 1e-6
#define K_TAN 2
#define MAX_CHECKED 400 /* parameters checked per net: all of them, or this many at random */

static cn_rng *g_rng;

static void fill_normal(double *v, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) v[i] = scale * cn_rng_normal(g_rng);
}

/* error of an analytic derivative a against a finite difference f, relative to the larger of the two;
 * derivatives below `floor` in size are compared absolutely at that scale */
static double rel_err(double a, double f, double floor)
{
    double m = fmax(fabs(a), fabs(f));
    return fabs(a - f) / fmax(m, floor);
}

typedef struct {
    const char *name;
    cn_net *net;
    int B, nin, nout, train;
    cn_loss_kind loss;
    double *x;
    int32_t *y;
} problem;

static double loss_at(problem *p, const double *x)
{
    cn_net_forward(p->net, x, p->B, p->train);
    return cn_loss(p->loss, cn_net_output(p->net), p->y, p->B, p->nout, NULL, NULL);
}

/* The derivative of the loss along one coordinate *v by central differences, Richardson-extrapolated:
 * D(h) = (l(v+h) - l(v-h)) / 2h has error c h^2 + O(h^4), so (4 D(h/2) - D(h)) / 3 is accurate to O(h^4).
 * At h = 1e-4 that leaves rounding (about 1e-16 |l| / h) as the only error, some 1e-12: a plain central
 * difference at h = 1e-6 is 100 times noisier (1e-10), too coarse for 1e-6 relative on small entries.
 * With allow_kinks (nets with maxpool), a point where D(h) and D(h/2) disagree by far more than a smooth
 * function allows has a kink (a maxpool tie) within +-h: reported through *kink and not compared. */
static double central(problem *p, double *v, int allow_kinks, int *kink)
{
    double v0 = *v, l[4];
    const double steps[4] = {FD_H, -FD_H, FD_H / 2, -FD_H / 2};
    for (int s = 0; s < 4; s++) {
        *v = v0 + steps[s];
        l[s] = loss_at(p, p->x);
    }
    *v = v0;
    double d1 = (l[0] - l[1]) / (2 * FD_H), d2 = (l[2] - l[3]) / FD_H;
    /* smooth: d1 - d2 = (3/4) c h^2, about 1e-9 of the third derivative; crossing a kink, far more */
    *kink = allow_kinks && fabs(d1 - d2) > 1e-4 * fmax(fabs(d1), fabs(d2)) + 1e-7;
    return (4 * d2 - d1) / 3;
}

static const char *loss_label(cn_loss_kind k) { return k == CN_LOSS_MSE ? "mse" : "cross-entropy"; }

/* Compares analytic derivatives a[idx[c]] with finite differences along v[idx[c]], c < count. Entries below
 * 1e-4 of the largest analytic one (or 1e-8) are compared at that scale, where rounding would dominate. */
static void compare(problem *p, const char *what, const double *a, double *v, size_t n, size_t count,
                    int allow_kinks)
{
    double amax = 0;
    for (size_t j = 0; j < n; j++) amax = fmax(amax, fabs(a[j]));
    CHECK(amax > 1e-8, "%s: %s: all derivatives vanish (max %g)", p->name, what, amax);
    double floor = fmax(1e-4 * amax, 1e-8), e = 0;
    size_t worst = 0;
    int kinks = 0;
    for (size_t c = 0; c < count; c++) {
        size_t j = count == n ? c : (size_t)cn_rng_below(g_rng, n);
        int kink;
        double f = central(p, &v[j], allow_kinks, &kink);
        if (kink) {
            kinks++;
            continue;
        }
        double r = rel_err(a[j], f, floor);
        if (r > e) e = r, worst = j;
    }
    CHECK(e < TOL, "%s (%s, %s): %s max rel err %g at %zu of %zu (analytic %.10g)", p->name, loss_label(p->loss),
          p->train ? "train" : "eval", what, e, worst, n, a[worst]);
    CHECK(kinks <= (int)count / 50, "%s: %s: %d of %zu points on a kink", p->name, what, kinks, count);
    if (getenv("GRAD_VERBOSE"))
        printf("%-50s %-13s %-5s %-7s max rel err %.2e (%zu of %zu, %d kinks)\n", p->name, loss_label(p->loss),
               p->train ? "train" : "eval", what, e, count, n, kinks);
}

/* d loss / d params and d loss / d x against finite differences. */
static void check_grads(problem *p, int allow_kinks)
{
    cn_net *net = p->net;
    size_t np = cn_net_param_count(net), nx = (size_t)p->B * p->nin, ny = (size_t)p->B * p->nout;
    double *dlogits = malloc(ny * sizeof *dlogits), *dx = malloc(nx * sizeof *dx), *g = malloc(np * sizeof *g);
    cn_net_forward(net, p->x, p->B, p->train);
    double l0 = cn_loss(p->loss, cn_net_output(net), p->y, p->B, p->nout, dlogits, NULL);
    CHECK(isfinite(l0), "%s: loss %g", p->name, l0);
    cn_net_zero_grad(net);
    cn_net_backward(net, dlogits, dx, p->B);
    memcpy(g, cn_net_grads(net), np * sizeof *g);
    /* parameters: all, or a random subset; inputs: all */
    compare(p, "dparams", g, cn_net_params(net), np, np <= MAX_CHECKED ? np : MAX_CHECKED, allow_kinks);
    compare(p, "dx", dx, p->x, nx, nx, allow_kinks);
    free(dlogits), free(dx), free(g);
}

/* jvp of the whole net against central differences of its output, and the VJP/JVP adjoint identity. */
static void check_jvp(problem *p)
{
    cn_net *net = p->net;
    size_t nx = (size_t)p->B * p->nin, ny = (size_t)p->B * p->nout;
    double *tx = malloc(K_TAN * nx * sizeof *tx), *ty = malloc(K_TAN * ny * sizeof *ty);
    double *xs = malloc(nx * sizeof *xs), *r = malloc(ny * sizeof *r), *yk[4];
    for (int s = 0; s < 4; s++) yk[s] = malloc(ny * sizeof *yk[s]);
    double *jtr = malloc(nx * sizeof *jtr);
    fill_normal(tx, K_TAN * nx, 1);
    fill_normal(r, ny, 1);
    cn_net_forward(net, p->x, p->B, p->train);
    cn_net_jvp(net, tx, ty, p->B, K_TAN);

    double e = 0, tmax = 0;
    for (size_t i = 0; i < K_TAN * ny; i++) tmax = fmax(tmax, fabs(ty[i]));
    CHECK(tmax > 1e-6, "%s: jvp output vanishes", p->name);
    /* the same Richardson-extrapolated central difference as central(), along a whole-batch tangent */
    const double steps[4] = {FD_H, -FD_H, FD_H / 2, -FD_H / 2};
    for (int k = 0; k < K_TAN; k++) {
        for (int s = 0; s < 4; s++) {
            for (size_t i = 0; i < nx; i++) xs[i] = p->x[i] + steps[s] * tx[k * nx + i];
            cn_net_forward(net, xs, p->B, p->train);
            memcpy(yk[s], cn_net_output(net), ny * sizeof *yk[s]);
        }
        for (size_t i = 0; i < ny; i++) {
            double d1 = (yk[0][i] - yk[1][i]) / (2 * FD_H), d2 = (yk[2][i] - yk[3][i]) / FD_H;
            e = fmax(e, rel_err(ty[k * ny + i], (4 * d2 - d1) / 3, 1e-4 * tmax));
        }
    }
    CHECK(e < TOL, "%s (%s): jvp max rel err %g", p->name, p->train ? "train" : "eval", e);
    if (getenv("GRAD_VERBOSE")) printf("%-50s %-19s %-5s jvp     max rel err %.2e\n", p->name, "", p->train ? "train" : "eval", e);

    /* <r, J t_k> = <J^T r, t_k>, both from the one stored forward pass at x */
    cn_net_forward(net, p->x, p->B, p->train);
    cn_net_jvp(net, tx, ty, p->B, K_TAN);
    cn_net_zero_grad(net);
    cn_net_backward(net, r, jtr, p->B);
    for (int k = 0; k < K_TAN; k++) {
        double a = 0, b = 0, sa = 0, sb = 0;
        for (size_t i = 0; i < ny; i++) a += r[i] * ty[k * ny + i], sa += fabs(r[i] * ty[k * ny + i]);
        for (size_t i = 0; i < nx; i++) b += jtr[i] * tx[k * nx + i], sb += fabs(jtr[i] * tx[k * nx + i]);
        CHECK(fabs(a - b) <= 1e-11 * fmax(sa, sb), "%s (%s): <r, J t> = %.15g but <J^T r, t> = %.15g", p->name,
              p->train ? "train" : "eval", a, b);
    }
    free(tx), free(ty), free(xs), free(r), free(jtr);
    for (int s = 0; s < 4; s++) free(yk[s]);
}

/* dlogits of cn_loss against central differences of cn_loss itself */
static void check_loss_grads(cn_loss_kind kind)
{
    const int B = 4, C = 5;
    double z[20], dz[20];
    int32_t y[4];
    fill_normal(z, 20, 2);
    for (int i = 0; i < B; i++) y[i] = (int32_t)cn_rng_below(g_rng, C);
    double l0 = cn_loss(kind, z, y, B, C, dz, NULL), e = 0;
    CHECK(isfinite(l0) && l0 > 0, "%s: loss %g", loss_label(kind), l0);
    for (int i = 0; i < B * C; i++) {
        double z0 = z[i], l[4];
        const double steps[4] = {FD_H, -FD_H, FD_H / 2, -FD_H / 2};
        for (int s = 0; s < 4; s++) {
            z[i] = z0 + steps[s];
            l[s] = cn_loss(kind, z, y, B, C, NULL, NULL);
        }
        z[i] = z0;
        double d1 = (l[0] - l[1]) / (2 * FD_H), d2 = (l[2] - l[3]) / FD_H;
        e = fmax(e, rel_err(dz[i], (4 * d2 - d1) / 3, 1e-3));
    }
    CHECK(e < TOL, "%s: dlogits max rel err %g", loss_label(kind), e);
    /* the loss is the mean over the batch: duplicating the batch leaves it unchanged */
    double z2[40], dz2[40];
    int32_t y2[8];
    memcpy(z2, z, sizeof z), memcpy(z2 + 20, z, sizeof z);
    memcpy(y2, y, sizeof y), memcpy(y2 + 4, y, sizeof y);
    double l2 = cn_loss(kind, z2, y2, 2 * B, C, dz2, NULL);
    CHECK(fabs(l2 - l0) < 1e-12, "%s: mean over a doubled batch %g vs %g", loss_label(kind), l2, l0);
}

/* Builds the net, initialises and perturbs it, then runs every check for both losses. */
static void run_net(const char *name, const char *spec, int B, int allow_kinks, int eval_too)
{
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_spec(&net, spec, &err);
    CHECK(rc == CN_OK, "%s: cn_net_from_spec: %s", name, err.msg);
    if (rc) return;
    cn_init init = {.kind = CN_INIT_TORCH};
    CHECK_OK(cn_net_init(net, &init, g_rng));
    CHECK_OK(cn_net_reserve(net, B, K_TAN));
    size_t np = cn_net_param_count(net);
    double *params = cn_net_params(net);
    for (size_t j = 0; j < np; j++) params[j] += 0.2 * cn_rng_normal(g_rng);
    problem p = {name, net, B, cn_net_in_size(net), cn_net_out_size(net), 1, CN_LOSS_CROSS_ENTROPY, NULL, NULL};
    p.x = malloc((size_t)B * p.nin * sizeof *p.x);
    p.y = malloc((size_t)B * sizeof *p.y);
    fill_normal(p.x, (size_t)B * p.nin, 1);
    for (int i = 0; i < B; i++) p.y[i] = (int32_t)cn_rng_below(g_rng, (uint64_t)p.nout);
    for (int mode = 0; mode < (eval_too ? 2 : 1); mode++) {
        p.train = mode == 0;
        if (!p.train) {
            /* eval mode uses the running statistics: let training passes on another batch set them, so that
             * they are realistic but differ from the statistics of the checked batch */
            double *x2 = malloc((size_t)B * p.nin * sizeof *x2);
            fill_normal(x2, (size_t)B * p.nin, 1.5);
            for (int it = 0; it < 40; it++) cn_net_forward(net, x2, B, 1);
            free(x2);
        }
        for (int l = 0; l < 2; l++) {
            p.loss = l ? CN_LOSS_MSE : CN_LOSS_CROSS_ENTROPY;
            check_grads(&p, allow_kinks);
        }
        check_jvp(&p);
    }
    free(p.x), free(p.y);
    cn_net_free(net);
}

int main(void)
{
    g_rng = cn_rng_new(20240601);
    check_loss_grads(CN_LOSS_CROSS_ENTROPY);
    check_loss_grads(CN_LOSS_MSE);

    run_net("mlp tanh/gelu",
            "input 6\n"
            "dense out=8 act=tanh\n"
            "dense out=7 act=gelu\n"
            "dense out=4\n",
            5, 0, 0);
    run_net("mlp batchnorm+layernorm",
            "input 6\n"
            "dense out=8\n"
            "batchnorm act=tanh\n"
            "dense out=7 act=silu\n"
            "layernorm act=gelu\n"
            "dense out=4\n",
            6, 0, 1);
    run_net("cnn conv/maxpool/avgpool",
            "input 2 8 8\n"
            "conv out=3 k=3 pad=1 act=tanh\n"
            "maxpool k=2\n"
            "conv out=4 k=3 pad=1 act=gelu\n"
            "avgpool k=2\n"
            "flatten\n"
            "dense out=5 act=tanh\n"
            "dense out=3\n",
            3, 1, 0);
    run_net("residual mlp, identity skip",
            "input 6\n"
            "dense out=8 act=tanh\n"
            "residual act=tanh skip=identity\n"
            "  dense out=8 act=gelu\n"
            "  dense out=8\n"
            "end\n"
            "dense out=3\n",
            4, 0, 0);
    run_net("residual mlp, projection skip (same shape)",
            "input 6\n"
            "residual act=tanh skip=projection\n"
            "  dense out=6 act=gelu\n"
            "  dense out=6\n"
            "end\n"
            "dense out=3\n",
            4, 0, 0);
    run_net("residual mlp, projection skip (auto, shape change)",
            "input 6\n"
            "residual act=gelu\n"
            "  dense out=8 act=tanh\n"
            "  dense out=5\n"
            "end\n"
            "dense out=3\n",
            4, 0, 0);
    run_net("resnet block, conv+batchnorm+projection",
            "input 2 6 6\n"
            "conv out=4 k=3 pad=1\n"
            "batchnorm act=tanh\n"
            "residual act=tanh\n"
            "  conv out=6 k=3 stride=2 pad=1\n"
            "  batchnorm act=tanh\n"
            "  conv out=6 k=3 pad=1\n"
            "  batchnorm\n"
            "end\n"
            "gap\n"
            "flatten\n"
            "dense out=3\n",
            3, 0, 1);

    /* a whole small resnet from the architecture flags (more parameters than are checked: a random subset) */
    cn_arch a = {.arch = "resnet", .in_c = 1, .in_h = 8, .in_w = 8, .width = 3, .depth = 1, .classes = 3,
                 .act = CN_ACT_GELU, .norm = "batch"};
    char *spec = NULL;
    cn_error err = {0};
    CHECK_OK(cn_arch_spec(&spec, &a, &err));
    if (spec) run_net("resnet from cn_arch_spec (norm batch, gelu)", spec, 3, 0, 1);
    cn_free(spec);

    cn_rng_free(g_rng);
    return check_summary("test_grad_f64");
}
