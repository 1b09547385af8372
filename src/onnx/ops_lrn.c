/* ops_lrn.c: LRN, the local response normalisation of AlexNet and GoogLeNet, across channels of (N, C, ...):
 *   y_c = x_c / D_c^beta,   D_c = bias + alpha / size * sum over i in [c - lo, c + hi] of x_i^2,
 * lo = floor((size - 1) / 2), hi = ceil((size - 1) / 2), the window cut at the ends (torch's
 * LocalResponseNorm). Its Jacobian couples the channels of one window:
 *   dy_c = t_c D_c^-beta - 2 beta alpha / size * x_c D_c^(-beta-1) * sum over i in win(c) of x_i t_i,
 * and the vjp is that transposed (channel i receives from every c whose window holds it). Sums in double;
 * D is recomputed in each pass rather than kept, the op being rare and small. */
#include <math.h>
#include "onnx/graph.h"

typedef struct {
    size_t outer, C, inner;
    int64_t lo, hi;
    double alpha, beta, bias, size;
} lrn_shape;

static int lrn_plan(cn_graph *g, cn_node *n, cn_tensor **x, cn_tensor **y, lrn_shape *s)
{
    *x = cn_node_in(g, n, 0);
    *y = cn_node_out(g, n, 0);
    if (!*x || !*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the input or the output is missing");
    if ((*x)->dtype != CN_T_FLOAT || (*x)->ndim < 2)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs a float tensor (N, C, ...)");
    const int64_t size = cn_attr_int(n, "size", 0);
    if (size < 1 || size > (1 << 20)) return cn_node_fail(g, n, CN_ERR_FORMAT, "size %lld", (long long)size);
    s->size = (double)size;
    s->lo = (size - 1) / 2;
    s->hi = size - 1 - s->lo;
    s->alpha = cn_attr_float(n, "alpha", 1e-4);
    s->beta = cn_attr_float(n, "beta", 0.75);
    s->bias = cn_attr_float(n, "bias", 1.0);
    s->outer = (size_t)(*x)->dims[0];
    s->C = (size_t)(*x)->dims[1];
    s->inner = 1;
    for (int j = 2; j < (*x)->ndim; j++) s->inner *= (size_t)(*x)->dims[j];
    return CN_OK;
}

/* D at channel c of the plane starting at x (channels inner apart) */
static double lrn_denominator(const lrn_shape *s, const cn_real *x, size_t c)
{
    const int64_t first = (int64_t)c - s->lo < 0 ? 0 : (int64_t)c - s->lo;
    const int64_t last = (int64_t)c + s->hi > (int64_t)s->C - 1 ? (int64_t)s->C - 1 : (int64_t)c + s->hi;
    double sum = 0;
    for (int64_t i = first; i <= last; i++) sum += (double)x[i * s->inner] * x[i * s->inner];
    return s->bias + s->alpha / s->size * sum;
}

static int lrn_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *x, *y;
    lrn_shape s;
    int rc = lrn_plan(g, n, &x, &y, &s);
    if (!rc) rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, x->ndim, x->dims);
    if (rc) return rc;
    const cn_real *xd = x->data;
    cn_real *yd = y->data;
    for (size_t o = 0; o < s.outer; o++)
        for (size_t k = 0; k < s.inner; k++) {
            const size_t base = o * s.C * s.inner + k;
            for (size_t c = 0; c < s.C; c++)
                yd[base + c * s.inner] = (cn_real)(xd[base + c * s.inner] * pow(lrn_denominator(&s, xd + base, c), -s.beta));
        }
    return CN_OK;
}

/* out = J v (transpose 0) or J^T v (transpose 1), for one (o, k) column of C channels; add: out += instead */
static void lrn_apply(const lrn_shape *s, const cn_real *x, const cn_real *v, cn_real *out, int transpose, int add)
{
    const size_t C = s->C, st = s->inner;
    const double k2 = 2 * s->beta * s->alpha / s->size;
    for (size_t c = 0; c < C; c++) {
        const double D = lrn_denominator(s, x, c), Db = pow(D, -s->beta);
        double r;
        if (!transpose) {
            const int64_t first = (int64_t)c - s->lo < 0 ? 0 : (int64_t)c - s->lo;
            const int64_t last = (int64_t)c + s->hi > (int64_t)C - 1 ? (int64_t)C - 1 : (int64_t)c + s->hi;
            double dot = 0;
            for (int64_t i = first; i <= last; i++) dot += (double)x[i * st] * v[i * st];
            r = v[c * st] * Db - k2 * x[c * st] * Db / D * dot;
        } else {
            /* channel c's share: its own term, and x_c times every window holding c */
            const int64_t first = (int64_t)c - s->hi < 0 ? 0 : (int64_t)c - s->hi;
            const int64_t last = (int64_t)c + s->lo > (int64_t)C - 1 ? (int64_t)C - 1 : (int64_t)c + s->lo;
            double sum = 0;
            for (int64_t j = first; j <= last; j++) {
                const double Dj = lrn_denominator(s, x, (size_t)j);
                sum += (double)v[j * st] * x[j * st] * pow(Dj, -s->beta) / Dj;
            }
            r = v[c * st] * Db - k2 * x[c * st] * sum;
        }
        out[c * st] = (cn_real)(add ? out[c * st] + r : r);
    }
}

static int lrn_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *x, *y;
    lrn_shape s;
    int rc = lrn_plan(g, n, &x, &y, &s);
    if (rc) return rc;
    const cn_real *t = cn_node_in_tan(g, n, 0);
    for (size_t o = 0; o < s.outer; o++)
        for (size_t k = 0; k < s.inner; k++) {
            const size_t base = o * s.C * s.inner + k;
            if (!t)
                for (size_t c = 0; c < s.C; c++) y->tan[base + c * s.inner] = 0;
            else lrn_apply(&s, (const cn_real *)x->data + base, t + base, y->tan + base, 0, 0);
        }
    return CN_OK;
}

static int lrn_vjp(cn_graph *g, cn_node *n)
{
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (!gx || !gy) return CN_OK;
    cn_tensor *x, *y;
    lrn_shape s;
    int rc = lrn_plan(g, n, &x, &y, &s);
    if (rc) return rc;
    for (size_t o = 0; o < s.outer; o++)
        for (size_t k = 0; k < s.inner; k++) {
            const size_t base = o * s.C * s.inner + k;
            lrn_apply(&s, (const cn_real *)x->data + base, gy + base, gx + base, 1, 1);
        }
    return CN_OK;
}

const cn_op cn_op_LRN = {.name = "LRN", .forward = lrn_forward, .jvp = lrn_jvp, .vjp = lrn_vjp};
