/* ops_resize.c: ONNX Resize (opsets 10 to 19) and the Upsample it replaced (opsets 7 to 9), in the modes that
 * torch.nn.Upsample and F.interpolate export: nearest and (bi/tri)linear, with their jvp and vjp.
 *
 * For fixed scales or sizes a resize is linear in X: each output element is a weighted sum of at most two input
 * elements along every resized axis. So each axis gets a table, for every output index, of its two input
 * indices and weights (nearest: one, weight 1), built from the attributes per call; the forward and the jvp
 * walk the tables gathering, the vjp walks them scattering, which is the exact transpose. The coordinate
 * arithmetic follows the ONNX definition (in double): an output index x maps to x_original by the
 * coordinate_transformation_mode, nearest rounds it by nearest_mode, linear clamps it to [0, in - 1] and
 * interpolates between floor and floor + 1 (which is what the definition's edge padding amounts to).
 * Resize-10 and Upsample use the asymmetric transform and, for nearest, floor: PyTorch's own rule, and the
 * one the backend data of Upsample follows. Cubic, tf_crop_and_resize, antialias and the aspect-ratio policies
 * of opset 18 are refused naming the node. */
#include <math.h>
#include <string.h>
#include "onnx/graph.h"

enum { MODE_NEAREST, MODE_LINEAR };
enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN,
       CT_HALF_PIXEL_SYMMETRIC };
enum { NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL };

/* one output index along an axis: input indices at[0..taps) with weights w */
typedef struct {
    int64_t at[2];
    double w[2];
    int taps;
} resize_tap;

typedef struct {
    int ndim;
    int64_t in[CN_ONNX_MAX_DIMS], out[CN_ONNX_MAX_DIMS];
    size_t in_stride[CN_ONNX_MAX_DIMS], out_stride[CN_ONNX_MAX_DIMS];
    resize_tap *tab[CN_ONNX_MAX_DIMS]; /* in the node's scratch */
} resize_plan;

typedef struct {
    int mode, ct, nearest;
} resize_attrs;

static int pick(const char *s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static int read_attrs(cn_graph *g, const cn_node *n, int legacy, resize_attrs *a)
{
    static const char *const modes[] = {"nearest", "linear"};
    static const char *const cts[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                      "tf_half_pixel_for_nn", "half_pixel_symmetric"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const char *mode = cn_attr_string(n, "mode", "nearest");
    a->mode = pick(mode, modes, 2);
    if (a->mode < 0 && strcmp(mode, "bilinear") == 0 && legacy) a->mode = MODE_LINEAR; /* Upsample of opset 1 */
    if (a->mode < 0)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "mode \"%s\" is not supported (nearest and linear are)", mode);
    if (legacy) { /* Resize-10 and Upsample: asymmetric, and floor for nearest (see the file's header) */
        a->ct = CT_ASYMMETRIC;
        a->nearest = NEAREST_FLOOR;
        return CN_OK;
    }
    const char *ct = cn_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    const char *nearest = cn_attr_string(n, "nearest_mode", "round_prefer_floor");
    if ((a->ct = pick(ct, cts, 6)) < 0)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "coordinate_transformation_mode \"%s\" is not supported", ct);
    if ((a->nearest = pick(nearest, nearests, 4)) < 0)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "nearest_mode \"%s\" is not one of ONNX's", nearest);
    if (cn_attr_int(n, "antialias", 0) && a->mode != MODE_NEAREST)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "antialias=1 is not supported");
    const char *policy = cn_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(policy, "stretch") != 0)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "keep_aspect_ratio_policy \"%s\" is not supported (stretch is)",
                            policy);
    return CN_OK;
}

/* The scales (or sizes) of every axis of X from the node's attribute or inputs; *by_sizes says which. */
static int read_targets(cn_graph *g, const cn_node *n, const cn_tensor *x, int legacy, double *scale,
                        int64_t *size, int *by_sizes)
{
    const int r = x->ndim;
    int64_t axes[CN_ONNX_MAX_DIMS];
    int naxes = 0, st;
    for (int i = 0; i < r; i++) scale[i] = 1, size[i] = x->dims[i];
    *by_sizes = 0;
    if (legacy && g->opset < 9 && strcmp(n->op_type, "Upsample") == 0) {
        const cn_attr *s = cn_attr_find(n, "scales");
        if (!s || s->type != CN_ATTR_FLOATS || s->n != r)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "the scales attribute must hold %d floats", r);
        for (int i = 0; i < r; i++) scale[i] = s->floats[i];
        return CN_OK;
    }
    if ((st = cn_attr_ints(g, n, "axes", axes, CN_ONNX_MAX_DIMS, &naxes))) return st;
    for (int i = 0; i < naxes; i++) {
        if (axes[i] < -r || axes[i] >= r) return cn_node_fail(g, n, CN_ERR_FORMAT, "axes[%d] is out of range", i);
        if (axes[i] < 0) axes[i] += r;
    }
    if (naxes == 0) {
        naxes = r;
        for (int i = 0; i < r; i++) axes[i] = i;
    }
    const cn_tensor *sc = cn_node_in(g, n, legacy ? 1 : 2);
    int64_t sizes[CN_ONNX_MAX_DIMS];
    int nsizes = -1;
    if (!legacy && (st = cn_input_ints(g, n, 3, sizes, CN_ONNX_MAX_DIMS, &nsizes))) return st;
    const size_t nscales = sc ? cn_tensor_numel(sc) : 0;
    if (nscales && nsizes > 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "both scales and sizes are given");
    if (nsizes > 0) {
        if (nsizes != naxes)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "sizes has %d entries for %d axes", nsizes, naxes);
        for (int i = 0; i < naxes; i++) {
            if (sizes[i] < 1) return cn_node_fail(g, n, CN_ERR_FORMAT, "sizes[%d] = %lld", i, (long long)sizes[i]);
            size[axes[i]] = sizes[i];
            scale[axes[i]] = (double)sizes[i] / (double)x->dims[axes[i]];
        }
        *by_sizes = 1;
        return CN_OK;
    }
    if (!nscales) return cn_node_fail(g, n, CN_ERR_FORMAT, "neither scales nor sizes is given");
    if (sc->dtype != CN_T_FLOAT || !sc->data) return cn_node_fail(g, n, CN_ERR_FORMAT, "scales must be floats");
    if (nscales != (size_t)naxes)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "scales has %zu entries for %d axes", nscales, naxes);
    for (int i = 0; i < naxes; i++) scale[axes[i]] = ((const cn_real *)sc->data)[i];
    return CN_OK;
}

/* x_original of output index xr along an axis, by the coordinate transformation */
static double original(int ct, double xr, double scale, int64_t in, int64_t out)
{
    switch (ct) {
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? (xr + 0.5) / scale - 0.5 : 0;
    case CT_ALIGN_CORNERS: return out > 1 ? xr * (double)(in - 1) / (double)(out - 1) : 0;
    case CT_ASYMMETRIC: return xr / scale;
    case CT_TF_HALF_PIXEL_FOR_NN: return (xr + 0.5) / scale;
    case CT_HALF_PIXEL_SYMMETRIC: {
        const double adjust = (double)out / (scale * (double)in), center = (double)in / 2;
        return center * (1 - adjust) + (xr + 0.5) / scale - 0.5;
    }
    default: return (xr + 0.5) / scale - 0.5; /* half_pixel */
    }
}

static int64_t nearest_index(int rule, double x)
{
    const double f = floor(x);
    switch (rule) {
    case NEAREST_FLOOR: return (int64_t)f;
    case NEAREST_CEIL: return (int64_t)ceil(x);
    case NEAREST_ROUND_PREFER_CEIL: return (int64_t)(x - f >= 0.5 ? f + 1 : f);
    default: return (int64_t)(x - f > 0.5 ? f + 1 : f); /* round_prefer_floor */
    }
}

static void axis_table(const resize_attrs *a, double scale, int64_t in, int64_t out, resize_tap *tab)
{
    for (int64_t o = 0; o < out; o++) {
        double x = original(a->ct, (double)o, scale, in, out);
        resize_tap *t = &tab[o];
        if (a->mode == MODE_NEAREST) {
            int64_t i = nearest_index(a->nearest, x);
            t->at[0] = i < 0 ? 0 : i >= in ? in - 1 : i;
            t->w[0] = 1;
            t->taps = 1;
            continue;
        }
        x = x < 0 ? 0 : x > (double)(in - 1) ? (double)(in - 1) : x;
        const int64_t i0 = (int64_t)floor(x);
        const double frac = x - (double)i0;
        t->at[0] = i0;
        t->w[0] = 1 - frac;
        t->at[1] = i0 + 1 < in ? i0 + 1 : in - 1;
        t->w[1] = frac;
        t->taps = frac > 0 ? 2 : 1;
    }
}

/* The plan of node n (Resize or Upsample) at X's current shape; sets Y's shape when y is not NULL. */
static int prepare(cn_graph *g, cn_node *n, const cn_tensor **px, cn_tensor *y, resize_plan *p)
{
    const int legacy = strcmp(n->op_type, "Upsample") == 0 || g->opset < 11;
    const cn_tensor *x = *px = cn_node_in(g, n, 0);
    if (!x || x->dtype != CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "input X must be a float tensor");
    if (x->ndim < 1) return cn_node_fail(g, n, CN_ERR_FORMAT, "input X is a scalar");
    resize_attrs a = {.mode = MODE_NEAREST, .ct = CT_HALF_PIXEL, .nearest = NEAREST_ROUND_PREFER_FLOOR};
    double scale[CN_ONNX_MAX_DIMS];
    int by_sizes, st;
    if ((st = read_attrs(g, n, legacy, &a)) ||
        (st = read_targets(g, n, x, legacy, scale, p->out, &by_sizes)))
        return st;
    if (a.ct == CT_TF_HALF_PIXEL_FOR_NN && a.mode != MODE_NEAREST)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "tf_half_pixel_for_nn is defined for nearest only");
    p->ndim = x->ndim;
    size_t entries = 0;
    for (int i = 0; i < x->ndim; i++) {
        p->in[i] = x->dims[i];
        if (!(scale[i] > 0) || scale[i] > 1e6)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "the scale of axis %d is %g", i, scale[i]);
        if (!by_sizes) p->out[i] = (int64_t)floor((double)x->dims[i] * scale[i]);
        if (p->out[i] < 1 && x->dims[i] > 0)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %d of %lld would be resized to nothing", i,
                                (long long)x->dims[i]);
        entries += (size_t)p->out[i];
    }
    if (p->out[0] != p->in[0] || scale[0] != 1)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "it resizes the first (batch) axis, from %lld to %lld",
                            (long long)p->in[0], (long long)p->out[0]);
    if (y && (st = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, x->ndim, p->out))) return st;
    resize_tap *tab = cn_node_scratch(g, n, (entries ? entries : 1) * sizeof *tab);
    if (!tab) return CN_ERR_NOMEM;
    p->in_stride[x->ndim - 1] = p->out_stride[x->ndim - 1] = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        if (i < x->ndim - 1) {
            p->in_stride[i] = p->in_stride[i + 1] * (size_t)p->in[i + 1];
            p->out_stride[i] = p->out_stride[i + 1] * (size_t)p->out[i + 1];
        }
    }
    for (int i = 0; i < x->ndim; i++) {
        p->tab[i] = tab;
        axis_table(&a, scale[i], p->in[i], p->out[i], tab);
        tab += p->out[i];
    }
    return CN_OK;
}

/* Axis a onwards of the output block at yo, reading the input block at xo with weight w: gathers
 * y += w Σ x (adjoint 0) or scatters dx += w dy (adjoint 1). */
static void walk(const resize_plan *p, int a, size_t yo, size_t xo, double w, int adjoint, cn_real *out,
                 const cn_real *in)
{
    for (int64_t o = 0; o < p->out[a]; o++) {
        const resize_tap *t = &p->tab[a][o];
        const size_t y_at = yo + (size_t)o * p->out_stride[a];
        for (int k = 0; k < t->taps; k++) {
            const size_t x_at = xo + (size_t)t->at[k] * p->in_stride[a];
            const double wk = w * t->w[k];
            if (a + 1 < p->ndim) walk(p, a + 1, y_at, x_at, wk, adjoint, out, in);
            else if (adjoint) out[x_at] += (cn_real)(wk * in[y_at]);
            else out[y_at] += (cn_real)(wk * in[x_at]);
        }
    }
}

static void resize_apply(const resize_plan *p, size_t count, cn_real *y, const cn_real *x)
{
    memset(y, 0, count * sizeof *y);
    walk(p, 0, 0, 0, 1.0, 0, y, x);
}

static int resize_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x;
    cn_tensor *y = cn_node_out(g, n, 0);
    resize_plan p;
    if (!y) return cn_node_fail(g, n, CN_ERR_FORMAT, "output Y is missing");
    int st = prepare(g, n, &x, y, &p);
    if (st) return st;
    resize_apply(&p, cn_tensor_numel(y), y->data, x->data);
    return CN_OK;
}

static int resize_jvp_one(cn_graph *g, cn_node *n)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    if (!tx) {
        memset(y->tan, 0, cn_tensor_numel(y) * sizeof *y->tan);
        return CN_OK;
    }
    const cn_tensor *x;
    resize_plan p;
    int st = prepare(g, n, &x, NULL, &p);
    if (st) return st;
    resize_apply(&p, cn_tensor_numel(y), y->tan, tx);
    return CN_OK;
}

static int resize_vjp(cn_graph *g, cn_node *n)
{
    const cn_real *dy = cn_node_out_grad(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0);
    if (!dy || !gx) return CN_OK;
    const cn_tensor *x;
    resize_plan p;
    int st = prepare(g, n, &x, NULL, &p);
    if (st) return st;
    walk(&p, 0, 0, 0, 1.0, 1, gx, dy);
    return CN_OK;
}

/* roi, scales: never trained (a float Constant of several values would otherwise be a parameter) */
const cn_op cn_op_Resize = {.name = "Resize", .forward = resize_forward, .jvp = resize_jvp_one,
                            .vjp = resize_vjp, .frozen_in = (1u << 1) | (1u << 2),
                            .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Upsample = {.name = "Upsample", .forward = resize_forward, .jvp = resize_jvp_one,
                              .vjp = resize_vjp, .frozen_in = 1u << 1, .tangent_rule = CN_TANGENT_LINEAR};
